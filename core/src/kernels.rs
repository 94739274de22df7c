//! Deterministic CPU kernels for the ES update.
//!
//! Each output element is a sum over the population in ascending order, computed with
//! separate multiplications and additions: the bits do not depend on the thread count, the
//! SIMD level or the machine.

use rayon::prelude::*;

const ROW_BLOCK: usize = 4;
const COL_TILE: usize = 512;

/// Columns per register tile of [`gemm_rows`].
const STRIP: usize = 16;

/// Rows per task of [`gemm_rows`]: the tiles of these rows reuse a packed strip of `B` from L1.
const ROW_GROUP: usize = 8 * ROW_BLOCK;

crate::multiversion! {
    /// `out[r, j] = Σ_c aw[i0 + r, c] · B[c, j]` for the `out.len() / n` rows of one row
    /// group (≤ ROW_GROUP). `B` comes packed: `bp` holds its full STRIPs of columns, strip
    /// `s` as `c_dim` contiguous rows of STRIP (`bp[(s·c_dim + c)·STRIP + l] = B[c, s·STRIP
    /// + l]`), `tail` its last `n % STRIP` columns row-major. Each sum starts at 0 and adds its
    /// terms in ascending `c`, one multiplication and one addition each, whatever the tiling:
    /// every full ROW_BLOCK of rows keeps a ROW_BLOCK × STRIP tile of sums in registers across
    /// `c`, reading its strip sequentially (it stays in the L1 cache from one block to the
    /// next); the remaining rows and the tail columns take plain loops, in the same order.
    fn gemm_rows(
        aw: &[f32],
        bp: &[f32],
        tail: &[f32],
        c_dim: usize,
        n: usize,
        i0: usize,
        out: &mut [f32],
    ) {
        let rows = out.len() / n;
        let full = rows / ROW_BLOCK * ROW_BLOCK;
        let strips = n / STRIP;
        let nt = n - strips * STRIP;
        let a_row = |r: usize| &aw[(i0 + r) * c_dim..(i0 + r + 1) * c_dim];
        for (s, strip) in bp.chunks_exact(c_dim * STRIP).enumerate() {
            let j0 = s * STRIP;
            for r0 in (0..full).step_by(ROW_BLOCK) {
                let a: [&[f32]; ROW_BLOCK] = std::array::from_fn(|r| a_row(r0 + r));
                let mut acc = [[0.0f32; STRIP]; ROW_BLOCK];
                for (c, b) in strip.chunks_exact(STRIP).enumerate() {
                    let b: &[f32; STRIP] = b.try_into().expect("a strip of STRIP columns");
                    for (acc, a) in acc.iter_mut().zip(&a) {
                        let a = a[c];
                        for (s, b) in acc.iter_mut().zip(b) {
                            *s += a * *b;
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    let o = (r0 + r) * n + j0;
                    out[o..o + STRIP].copy_from_slice(acc);
                }
            }
            for r in full..rows {
                plain_row(a_row(r), strip, &mut out[r * n + j0..r * n + j0 + STRIP]);
            }
        }
        if nt > 0 {
            for r in 0..rows {
                plain_row(a_row(r), tail, &mut out[r * n + strips * STRIP..(r + 1) * n]);
            }
        }
    }
}

/// `o[j] += Σ_c a[c] · b[c, j]` over `c` ascending, `b` row-major with `o.len()` columns.
#[inline(always)]
fn plain_row(a: &[f32], b: &[f32], o: &mut [f32]) {
    for (a, b) in a.iter().zip(b.chunks_exact(o.len())) {
        for (o, b) in o.iter_mut().zip(b) {
            *o += *a * *b;
        }
    }
}

/// The low-rank update `G = Σ_k w_k A_k B_kᵀ` as one GEMM `(diag(w) A_stack)ᵀ B_stack`.
///
/// `a` holds `K` blocks of shape `(m, r)`, `b` holds `K` blocks of shape `(n, r)`, `w` has `K`
/// entries; the result is `m × n`, row-major. Sum order: over `c = k·r + q` ascending.
pub fn lowrank_update(a: &[f32], b: &[f32], w: &[f32], m: usize, n: usize, r: usize) -> Vec<f32> {
    let k_dim = w.len();
    assert_eq!(a.len(), k_dim * m * r);
    assert_eq!(b.len(), k_dim * n * r);
    let c_dim = k_dim * r;
    // aw: (m × C) with aw[i, k r + q] = w_k a[k, i, q]; B: (C × n) with B[k r + q, j] =
    // b[k, j, q], packed by strips of columns (see `gemm_rows`).
    let mut aw = vec![0.0f32; m * c_dim];
    aw.par_chunks_mut(c_dim).enumerate().for_each(|(i, row)| {
        for k in 0..k_dim {
            for q in 0..r {
                row[k * r + q] = w[k] * a[(k * m + i) * r + q];
            }
        }
    });
    // B[c, j0 + t] for t in 0..len, into `row` (b is read with stride r).
    let b_row = |c: usize, j0: usize, row: &mut [f32]| {
        let base = (c / r) * n * r + c % r;
        for (v, x) in row.iter_mut().zip(b[base + j0 * r..].iter().step_by(r)) {
            *v = *x;
        }
    };
    let strips = n / STRIP;
    let nt = n - strips * STRIP;
    let mut bp = vec![0.0f32; strips * c_dim * STRIP];
    if strips > 0 {
        bp.par_chunks_mut(c_dim * STRIP)
            .enumerate()
            .for_each(|(s, strip)| {
                for (c, row) in strip.chunks_exact_mut(STRIP).enumerate() {
                    b_row(c, s * STRIP, row);
                }
            });
    }
    let mut tail = vec![0.0f32; c_dim * nt];
    if nt > 0 {
        tail.par_chunks_mut(nt)
            .enumerate()
            .for_each(|(c, row)| b_row(c, strips * STRIP, row));
    }
    let mut out = vec![0.0f32; m * n];
    out.par_chunks_mut(ROW_GROUP * n)
        .enumerate()
        .for_each(|(g, chunk)| gemm_rows(&aw, &bp, &tail, c_dim, n, g * ROW_GROUP, chunk));
    out
}

crate::multiversion! {
    fn axpy_rows(eps: &[f32], w: &[f32], len: usize, j0: usize, out: &mut [f32]) {
        for (k, wk) in w.iter().enumerate() {
            let row = &eps[k * len + j0..k * len + j0 + out.len()];
            for (o, e) in out.iter_mut().zip(row) {
                *o += *wk * *e;
            }
        }
    }
}

/// The full-noise update `g = Σ_k w_k ε_k` (`eps` holds `K` rows of length `len`).
pub fn full_update(eps: &[f32], w: &[f32], len: usize) -> Vec<f32> {
    assert_eq!(eps.len(), w.len() * len);
    let mut out = vec![0.0f32; len];
    out.par_chunks_mut(COL_TILE)
        .enumerate()
        .for_each(|(t, chunk)| axpy_rows(eps, w, len, t * COL_TILE, chunk));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lowrank_update` on deterministic inputs of `K = k_dim` blocks, checked element by
    /// element against the plain f32 sum over c ascending (`w·a` first; bit for bit) and
    /// the f64 sum (1e-4). Returns the weights.
    fn check_lowrank(k_dim: usize, m: usize, n: usize, r: usize) -> Vec<f32> {
        let a: Vec<f32> = (0..k_dim * m * r)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let b: Vec<f32> = (0..k_dim * n * r)
            .map(|i| (i as f32 * 0.11).cos())
            .collect();
        let w: Vec<f32> = (0..k_dim).map(|k| 0.3 * k as f32 - 0.8).collect();
        let g = lowrank_update(&a, &b, &w, m, n, r);
        for i in 0..m {
            for j in 0..n {
                let (mut s32, mut s64) = (0.0f32, 0.0f64);
                for k in 0..k_dim {
                    for q in 0..r {
                        let (ak, bk) = (a[(k * m + i) * r + q], b[(k * n + j) * r + q]);
                        s32 += (w[k] * ak) * bk;
                        s64 += w[k] as f64 * ak as f64 * bk as f64;
                    }
                }
                assert_eq!(g[i * n + j].to_bits(), s32.to_bits(), "{i},{j}");
                assert!((g[i * n + j] as f64 - s64).abs() < 1e-4, "{i},{j}");
            }
        }
        w
    }

    #[test]
    fn lowrank_matches_naive_sum() {
        // Full row blocks and strips, a short last block and leftover columns; several row
        // groups with a short last group.
        check_lowrank(6, 9, 37, 2);
        check_lowrank(3, 2 * ROW_GROUP + 6, 2 * STRIP + 3, 1);
        let k_dim = 5;
        let w = check_lowrank(k_dim, 7, 9, 3);
        let e: Vec<f32> = (0..k_dim * 11).map(|i| (i as f32).sqrt()).collect();
        let f = full_update(&e, &w, 11);
        for j in 0..11 {
            let s: f32 = (0..k_dim).map(|k| w[k] * e[k * 11 + j]).sum();
            assert!((f[j] - s).abs() < 1e-4);
        }
    }
}
