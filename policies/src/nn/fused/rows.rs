//! The row kernels of the fused population forward: the shared GEMM every member's rows go
//! through, then per row the low-rank (or full) correction, bias and activation, in a fixed
//! order so a row's bits never depend on its batch.

use super::*;

/// `y (rows × m) = x (rows × n) · Wᵀ`, with the weights given transposed (`wt` is `n × m`).
///
/// Every output element is `fma`-accumulated over `j = 0..n` in order, so a row's result does
/// not depend on the other rows of the batch, the tiling, the SIMD level or the machine — what
/// makes rollouts bit-identical when members are split across threads or processes, or when
/// finished episodes leave the batch. Single-threaded: callers parallelise over row chunks.
pub fn shared_gemm(x: &[f32], wt: &[f32], rows: usize, n: usize, m: usize, y: &mut [f32]) {
    assert!(x.len() >= rows * n && wt.len() == m * n && y.len() >= rows * m);
    gemm_kernel(x, wt, rows, n, m, y);
}

const TILE_R: usize = 8;
const TILE_C: usize = 32;

/// Rows per block of the narrow-column path (rows are the SIMD lanes there).
const TILE_RN: usize = 16;

eggroll_core::multiversion! {
    fn gemm_kernel(x: &[f32], wt: &[f32], rows: usize, n: usize, m: usize, y: &mut [f32]) {
        // Narrow column edges (m % TILE_C, e.g. a 1-output layer): rows are the lanes. A block
        // of TILE_RN rows is transposed once, then every edge column is TILE_RN independent
        // in-order fma chains — the same per-element order as below, so the same bits.
        let edge0 = m - m % TILE_C;
        let narrow_rows = if edge0 < m { rows - rows % TILE_RN } else { 0 };
        if narrow_rows > 0 {
            let mut xt = vec![0.0f32; n * TILE_RN];
            for i in (0..narrow_rows).step_by(TILE_RN) {
                for r in 0..TILE_RN {
                    for j in 0..n {
                        xt[j * TILE_RN + r] = x[(i + r) * n + j];
                    }
                }
                for c in edge0..m {
                    let mut acc = [0.0f32; TILE_RN];
                    for j in 0..n {
                        let w = wt[j * m + c];
                        let xj: &[f32; TILE_RN] =
                            xt[j * TILE_RN..(j + 1) * TILE_RN].try_into().expect("block");
                        for (a, xv) in acc.iter_mut().zip(xj) {
                            *a = xv.mul_add(w, *a);
                        }
                    }
                    for (r, a) in acc.iter().enumerate() {
                        y[(i + r) * m + c] = *a;
                    }
                }
            }
        }
        let mut i = 0;
        while i < rows {
            let rb = TILE_R.min(rows - i);
            let mut c = 0;
            while c < m {
                let cb = TILE_C.min(m - c);
                if c >= edge0 && i + rb <= narrow_rows {
                    // Done by the narrow path above.
                } else if rb == TILE_R && cb == TILE_C {
                    let mut acc = [[0.0f32; TILE_C]; TILE_R];
                    for j in 0..n {
                        let w: &[f32; TILE_C] = wt[j * m + c..j * m + c + TILE_C].try_into().expect("tile");
                        for (r, a) in acc.iter_mut().enumerate() {
                            let xv = x[(i + r) * n + j];
                            for (av, wv) in a.iter_mut().zip(w) {
                                *av = xv.mul_add(*wv, *av);
                            }
                        }
                    }
                    for (r, a) in acc.iter().enumerate() {
                        y[(i + r) * m + c..(i + r) * m + c + TILE_C].copy_from_slice(a);
                    }
                } else {
                    // Edge tiles: the same per-element order, one row at a time.
                    for r in 0..rb {
                        let mut acc = [0.0f32; TILE_C];
                        for j in 0..n {
                            let xv = x[(i + r) * n + j];
                            for (av, wv) in acc[..cb].iter_mut().zip(&wt[j * m + c..j * m + c + cb]) {
                                *av = xv.mul_add(*wv, *av);
                            }
                        }
                        y[(i + r) * m + c..(i + r) * m + c + cb].copy_from_slice(&acc[..cb]);
                    }
                }
                c += cb;
            }
            i += rb;
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum RowNoise<'s> {
    None,
    LowRank {
        a: &'s [f32],
        b: &'s [f32],
        r: usize,
    },
    Full(&'s [f32]),
}

#[derive(Clone)]
pub(crate) struct RowCtx<'s> {
    pub(crate) sigma: f32,
    pub(crate) pairing: Pairing,
    pub(crate) perturbed: bool,
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) bias: Option<&'s [f32]>,
    pub(crate) bias_noise: Option<&'s [f32]>,
    pub(crate) noise: RowNoise<'s>,
    pub(crate) act: Option<Activation>,
}

eggroll_core::multiversion! {
    /// Per row: low-rank (or full) correction, bias (+ its noise), activation.
    pub(crate) fn finish_rows(x: &[f32], ids: &[u32], y: &mut [f32], ctx: &RowCtx<'_>) {
        match ctx.act {
            Some(Activation::Tanh) => finish_with(x, ids, y, ctx, eggroll_core::simd::tanh),
            Some(Activation::Relu) => finish_with(x, ids, y, ctx, |v: f32| v.max(0.0)),
            Some(Activation::Gelu) => finish_with(x, ids, y, ctx, |v| Activation::Gelu.apply(v)),
            None => finish_with(x, ids, y, ctx, |v: f32| v),
        }
    }
}

/// Rows per block of the rank-1 fast path: their corrections' dot products are computed first,
/// as independent chains, then the rows are finished in one pass each.
const DOT_BLOCK: usize = 64;

/// [`finish_rows`] with the activation fixed. The fast path (rank-1 or no weight noise) runs the
/// correction, bias (+ noise) and activation in ONE pass over each row, with the same operations
/// in the same order as [`general_row`], so the same bits.
#[inline(always)]
fn finish_with(
    x: &[f32],
    ids: &[u32],
    y: &mut [f32],
    ctx: &RowCtx<'_>,
    act: impl Fn(f32) -> f32 + Copy,
) {
    let (m, n) = (ctx.m, ctx.n);
    let rank1 = match ctx.noise {
        RowNoise::LowRank { a, b, r: 1 } if ctx.perturbed => Some((a, b)),
        RowNoise::None => None,
        _ if !ctx.perturbed => None,
        _ => {
            for (i, &member) in ids.iter().enumerate() {
                let (blk, sign) = ctx.pairing.block_and_sign(member as usize);
                let (xi, yi) = (&x[i * n..(i + 1) * n], &mut y[i * m..(i + 1) * m]);
                general_row(xi, yi, blk, ctx.sigma * sign, ctx);
            }
            return;
        }
    };
    let bias_noise = ctx.bias_noise.filter(|_| ctx.perturbed);
    let mut cts = [0.0f32; DOT_BLOCK];
    for (r0, block) in (0..ids.len()).step_by(DOT_BLOCK).zip(ids.chunks(DOT_BLOCK)) {
        if let Some((_, b)) = rank1 {
            for (i, (ct, &member)) in cts.iter_mut().zip(block).enumerate() {
                let (blk, sign) = ctx.pairing.block_and_sign(member as usize);
                let xi = &x[(r0 + i) * n..(r0 + i + 1) * n];
                *ct = ctx.sigma * sign * eggroll_core::simd::dot(xi, &b[blk * n..(blk + 1) * n]);
            }
        }
        let rows = y[r0 * m..(r0 + block.len()) * m].chunks_exact_mut(m);
        let row = |member: u32| ctx.pairing.block_and_sign(member as usize);
        match (rank1, ctx.bias, bias_noise) {
            (Some((a, _)), Some(bv), Some(e)) => {
                let ys = &mut y[r0 * m..(r0 + block.len()) * m];
                let mut i = 0;
                while i < block.len() {
                    let (blk, sign) = row(block[i]);
                    let (ak, ek) = (&a[blk * m..(blk + 1) * m], &e[blk * m..(blk + 1) * m]);
                    if i + 1 < block.len() && row(block[i + 1]) == (blk, -sign) {
                        // An antithetic pair: one pass over the shared noise for both rows. The
                        // minus row's `(−σ)·e` is `−(σ·e)` exactly, so the bits are unchanged.
                        let (y0, y1) = ys[i * m..(i + 2) * m].split_at_mut(m);
                        let ((yp, ctp), (ym, ctm)) = if sign > 0.0 {
                            ((y0, cts[i]), (y1, cts[i + 1]))
                        } else {
                            ((y1, cts[i + 1]), (y0, cts[i]))
                        };
                        for ((((vp, vm), &av), &bb), &ev) in yp
                            .iter_mut()
                            .zip(ym.iter_mut())
                            .zip(ak)
                            .zip(&bv[..m])
                            .zip(ek)
                        {
                            let p = ctx.sigma * ev;
                            *vp = act((*vp + ctp * av) + (bb + p));
                            *vm = act((*vm + ctm * av) + (bb - p));
                        }
                        i += 2;
                        continue;
                    }
                    let (yi, ct, ss) = (&mut ys[i * m..(i + 1) * m], cts[i], ctx.sigma * sign);
                    for (((yv, &av), &bb), &ev) in yi.iter_mut().zip(ak).zip(&bv[..m]).zip(ek) {
                        *yv = act((*yv + ct * av) + (bb + ss * ev));
                    }
                    i += 1;
                }
            }
            (Some((a, _)), Some(bv), None) => {
                for ((yi, &member), &ct) in rows.zip(block).zip(&cts) {
                    let ak = &a[row(member).0 * m..(row(member).0 + 1) * m];
                    for ((yv, &av), &bb) in yi.iter_mut().zip(ak).zip(&bv[..m]) {
                        *yv = act((*yv + ct * av) + bb);
                    }
                }
            }
            (Some((a, _)), None, _) => {
                for ((yi, &member), &ct) in rows.zip(block).zip(&cts) {
                    let ak = &a[row(member).0 * m..(row(member).0 + 1) * m];
                    for (yv, &av) in yi.iter_mut().zip(ak) {
                        *yv = act(*yv + ct * av);
                    }
                }
            }
            (None, Some(bv), Some(e)) => {
                for (yi, &member) in rows.zip(block) {
                    let (blk, sign) = row(member);
                    let ss = ctx.sigma * sign;
                    let ek = &e[blk * m..(blk + 1) * m];
                    for ((yv, &bb), &ev) in yi.iter_mut().zip(&bv[..m]).zip(ek) {
                        *yv = act(*yv + (bb + ss * ev));
                    }
                }
            }
            (None, Some(bv), None) => {
                let ys = &mut y[r0 * m..(r0 + block.len()) * m];
                let mut pairs = ys.chunks_exact_mut(2 * m);
                for yy in &mut pairs {
                    let (y0, y1) = yy.split_at_mut(m);
                    for ((v0, v1), &bb) in y0.iter_mut().zip(y1.iter_mut()).zip(&bv[..m]) {
                        *v0 = act(*v0 + bb);
                        *v1 = act(*v1 + bb);
                    }
                }
                for yi in pairs.into_remainder().chunks_exact_mut(m) {
                    for (yv, &bb) in yi.iter_mut().zip(&bv[..m]) {
                        *yv = act(*yv + bb);
                    }
                }
            }
            (None, None, _) => {
                for yv in y[r0 * m..(r0 + block.len()) * m].iter_mut() {
                    *yv = act(*yv);
                }
            }
        }
    }
}

/// The general row: rank > 1 or full noise, then bias (+ noise) and activation.
#[inline(always)]
fn general_row(xi: &[f32], yi: &mut [f32], blk: usize, ss: f32, ctx: &RowCtx<'_>) {
    let (m, n) = (ctx.m, ctx.n);
    {
        {
            if ctx.perturbed {
                match ctx.noise {
                    RowNoise::None => {}
                    RowNoise::LowRank { a, b, r } => {
                        let c = ss / (r as f32).sqrt();
                        let ak = &a[blk * m * r..(blk + 1) * m * r];
                        let bk = &b[blk * n * r..(blk + 1) * n * r];
                        if r == 1 {
                            let ct = c * eggroll_core::simd::dot(xi, bk);
                            for (yv, av) in yi.iter_mut().zip(ak) {
                                *yv += ct * av;
                            }
                        } else {
                            let mut t = [0.0f32; 16];
                            let mut tv = vec![0.0f32; if r > 16 { r } else { 0 }];
                            let t: &mut [f32] = if r <= 16 { &mut t[..r] } else { &mut tv };
                            for (j, xv) in xi.iter().enumerate() {
                                for q in 0..r {
                                    t[q] += xv * bk[j * r + q];
                                }
                            }
                            for v in t.iter_mut() {
                                *v *= c;
                            }
                            for (kk, yv) in yi.iter_mut().enumerate() {
                                let mut s = 0.0f32;
                                for q in 0..r {
                                    s += t[q] * ak[kk * r + q];
                                }
                                *yv += s;
                            }
                        }
                    }
                    RowNoise::Full(e) => {
                        let ek = &e[blk * m * n..(blk + 1) * m * n];
                        for (kk, yv) in yi.iter_mut().enumerate() {
                            *yv += ss * eggroll_core::simd::dot(&ek[kk * n..(kk + 1) * n], xi);
                        }
                    }
                }
            }
            match (ctx.bias, ctx.bias_noise.filter(|_| ctx.perturbed)) {
                (Some(b), Some(eps)) => {
                    let ek = &eps[blk * m..(blk + 1) * m];
                    for ((yv, bv), ev) in yi.iter_mut().zip(b).zip(ek) {
                        *yv += bv + ss * ev;
                    }
                }
                (Some(b), None) => {
                    for (yv, bv) in yi.iter_mut().zip(b) {
                        *yv += bv;
                    }
                }
                _ => {}
            }
            match ctx.act {
                Some(Activation::Tanh) => {
                    for v in yi.iter_mut() {
                        *v = eggroll_core::simd::tanh(*v);
                    }
                }
                Some(Activation::Relu) => {
                    for v in yi.iter_mut() {
                        *v = v.max(0.0);
                    }
                }
                Some(Activation::Gelu) => {
                    for v in yi.iter_mut() {
                        *v = Activation::Gelu.apply(*v);
                    }
                }
                None => {}
            }
        }
    }
}
