//! The int8 population layer and a dense chain of them, with their low-rank int8 noise.

use eggroll_core::noise::{block_key, fill_block_i8, param_id};
use eggroll_core::{Pairing, Result};
use rayon::prelude::*;

use super::bad;
use super::gemm::{PackedI8, gemm};

/// Rows per parallel task.
const CHUNK: usize = 64;

/// The largest shift: `≫ 31` already maps every i32 to 0 or −1.
pub const MAX_SHIFT: u32 = 31;

/// One int8 layer `(m, n)`: `y = clamp(((x·Wᵀ + noise) ≫ shift) + b, −127, 127)`.
///
/// The bias is not perturbed (nano-egg's biases are not either).
#[derive(Debug, Clone)]
pub struct Int8Linear {
    name: String,
    id: u64,
    w: PackedI8,
    bias: Option<Vec<i8>>,
    shift: u32,
}

/// The right shift that keeps `n` products of int8 values of magnitude ~18 (the noise
/// distribution's RMS) near that magnitude: `4 + ⌈log₂ n⌉/2` (8 for n = 256).
pub fn default_shift(n: usize) -> u32 {
    4 + (n.max(1).next_power_of_two().trailing_zeros()).div_ceil(2)
}

impl Int8Linear {
    /// A layer named `name` (its noise stream is keyed by the name, as for f32 parameters) from
    /// row-major weights `(m, n)`, an optional bias and the output shift. Errors name the layer.
    pub fn new(
        name: &str,
        w: &[i8],
        m: usize,
        n: usize,
        bias: Option<Vec<i8>>,
        shift: u32,
    ) -> Result<Self> {
        let wp = PackedI8::new(name, w, m, n)?;
        if shift > MAX_SHIFT {
            return Err(bad(
                name,
                format!("shift {shift} is out of range 0..={MAX_SHIFT}"),
            ));
        }
        if let Some(b) = &bias
            && b.len() != m
        {
            return Err(bad(name, format!("{} biases for {m} outputs", b.len())));
        }
        Ok(Self {
            name: name.into(),
            id: param_id(name),
            w: wp,
            bias,
            shift,
        })
    }

    /// A layer with weights drawn from the int8 noise stream of `(seed, name)` (nano-egg
    /// initialises its weights with its noise generator), no bias and [`default_shift`].
    pub fn init(name: &str, m: usize, n: usize, seed: u64) -> Result<Self> {
        let mut w = vec![0i8; m * n];
        fill_block_i8(block_key(seed, param_id(name), u64::MAX, 0), 0, &mut w);
        Self::new(name, &w, m, n, None, default_shift(n))
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Outputs.
    pub fn m(&self) -> usize {
        self.w.m()
    }

    /// Inputs.
    pub fn n(&self) -> usize {
        self.w.n()
    }

    /// The packed weights.
    pub fn weights(&self) -> &PackedI8 {
        &self.w
    }

    /// The output shift.
    pub fn shift(&self) -> u32 {
        self.shift
    }
}

/// One layer's int8 low-rank noise for a generation: `A (K, m, r)` and `B (K, n, r)`.
#[derive(Debug, Clone)]
pub struct Int8Noise {
    /// Rank.
    pub rank: usize,
    /// `(K, m, r)` row-major.
    pub a: Vec<i8>,
    /// `(K, n, r)` row-major.
    pub b: Vec<i8>,
    /// Rank > 1: `A` and `B` transposed per block, `(K, r, m)` and `(K, r, n)`, so the kernel's
    /// products run over contiguous rows (empty at rank 1, where they equal `a` and `b`).
    at: Vec<i8>,
    bt: Vec<i8>,
}

/// `(K, len, r)` → `(K, r, len)`.
fn transpose_blocks(v: &[i8], len: usize, r: usize) -> Vec<i8> {
    let mut out = vec![0i8; v.len()];
    for (o, blk) in out.chunks_exact_mut(len * r).zip(v.chunks_exact(len * r)) {
        for (j, row) in blk.chunks_exact(r).enumerate() {
            for (q, &x) in row.iter().enumerate() {
                o[q * len + j] = x;
            }
        }
    }
    out
}

impl Int8Noise {
    /// Noise of rank `rank` from `a` `(K, m, r)` and `b` `(K, n, r)`, row-major.
    pub fn new(rank: usize, m: usize, n: usize, a: Vec<i8>, b: Vec<i8>) -> Self {
        let (at, bt) = if rank > 1 {
            (transpose_blocks(&a, m, rank), transpose_blocks(&b, n, rank))
        } else {
            (vec![], vec![])
        };
        Self { rank, a, b, at, bt }
    }

    /// Draw `blocks` blocks for `layer`: block `k` has key `block_key(seed, id, epoch, k)` and
    /// holds `A` from position 0 and `B` from position `m·r` rounded up to even, the layout of
    /// the f32 low-rank noise.
    pub fn draw(layer: &Int8Linear, seed: u64, epoch: u64, blocks: usize, rank: usize) -> Self {
        let (m, n) = (layer.m(), layer.n());
        let mut a = vec![0i8; blocks * m * rank];
        let mut b = vec![0i8; blocks * n * rank];
        let b_off = ((m * rank).div_ceil(2) * 2) as u64;
        a.par_chunks_mut(m * rank)
            .zip(b.par_chunks_mut(n * rank))
            .enumerate()
            .for_each(|(k, (ak, bk))| {
                let key = block_key(seed, layer.id, epoch, k as u64);
                fill_block_i8(key, 0, ak);
                fill_block_i8(key, b_off, bk);
            });
        Self::new(rank, m, n, a, b)
    }
}

/// One layer's perturbation for a generation: how members map to noise blocks and signs, the
/// noise scale and the noise.
#[derive(Debug, Clone, Copy)]
pub struct Perturbation<'a> {
    /// Member → (block, sign).
    pub pairing: Pairing,
    /// The noise term is shifted right by this.
    pub sigma_shift: u32,
    /// The layer's noise.
    pub noise: &'a Int8Noise,
}

/// Scratch space of [`Int8Linear::forward_rows`], reused between calls.
#[derive(Debug, Default)]
pub struct RowBuffers {
    acc: Vec<i32>,
    scratch: Vec<u8>,
}

impl Int8Linear {
    /// `y` (rows × m) for `x` (rows × n), row `i` perturbed as member `members[i]` when
    /// `perturb` is given (else plain inference; `members` is then ignored). Single-threaded.
    ///
    /// # Panics
    /// When the buffers do not match the layer or a member's block is not in the noise
    /// (callers check once per generation, as [`Int8Chain::forward`] does).
    pub fn forward_rows(
        &self,
        x: &[i8],
        members: &[u32],
        perturb: Option<Perturbation<'_>>,
        buf: &mut RowBuffers,
        y: &mut [i8],
    ) {
        let rows = x.len() / self.n();
        assert!(x.len() == rows * self.n() && y.len() == rows * self.m());
        assert!(perturb.is_none() || members.len() >= rows);
        buf.acc.resize(rows * self.m(), 0);
        gemm(x, rows, &self.w, &mut buf.acc, &mut buf.scratch);
        finish(self, x, &buf.acc, members, perturb, y);
    }
}

/// A generation of an int8 population: its size, pairing, noise scale and every layer's noise.
#[derive(Debug, Clone)]
pub struct Int8Population {
    /// Members.
    pub size: usize,
    /// Antithetic (members `2k`, `2k+1` share block `k` with signs `+`, `−`) or independent.
    pub pairing: Pairing,
    /// The noise term is `(s · (x·B)·Aᵀ) ≫ sigma_shift`: σ as a power of two.
    pub sigma_shift: u32,
    /// One entry per layer.
    pub noise: Vec<Int8Noise>,
}

/// A dense chain of int8 layers whose whole population runs in one batched pass.
#[derive(Debug, Clone)]
pub struct Int8Chain {
    layers: Vec<Int8Linear>,
}

impl Int8Chain {
    /// Chain `layers` (each one's inputs the previous one's outputs).
    pub fn new(layers: Vec<Int8Linear>) -> Result<Self> {
        if layers.is_empty() {
            return Err(bad("int8 chain", "has no layers".into()));
        }
        for w in layers.windows(2) {
            if w[1].n() != w[0].m() {
                return Err(bad(
                    w[1].name(),
                    format!(
                        "takes {} inputs but `{}` gives {}",
                        w[1].n(),
                        w[0].name(),
                        w[0].m()
                    ),
                ));
            }
        }
        Ok(Self { layers })
    }

    /// `layer0`, `layer1`, … initialised by [`Int8Linear::init`] for the widths `sizes`.
    pub fn init(sizes: &[usize], seed: u64) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(bad(
                "layers",
                "needs at least an input and an output width".into(),
            ));
        }
        Self::new(
            sizes
                .windows(2)
                .enumerate()
                .map(|(l, w)| Int8Linear::init(&format!("layer{l}"), w[1], w[0], seed))
                .collect::<Result<_>>()?,
        )
    }

    /// The layers.
    pub fn layers(&self) -> &[Int8Linear] {
        &self.layers
    }

    /// Inputs of the first layer.
    pub fn inputs(&self) -> usize {
        self.layers[0].n()
    }

    /// Outputs of the last layer.
    pub fn outputs(&self) -> usize {
        self.layers.last().expect("non-empty").m()
    }

    /// Generation `generation`'s population of `size` members (noise epoch = generation).
    pub fn population(
        &self,
        size: usize,
        pairing: Pairing,
        seed: u64,
        generation: u64,
        rank: usize,
        sigma_shift: u32,
    ) -> Result<Int8Population> {
        if size == 0 || (pairing == Pairing::Antithetic && !size.is_multiple_of(2)) {
            return Err(bad(
                "population",
                format!("{size} members: needs ≥ 1 (an even number when antithetic)"),
            ));
        }
        if rank == 0 || rank > 64 {
            return Err(bad("rank", format!("{rank} is out of range 1..=64")));
        }
        if sigma_shift > MAX_SHIFT {
            return Err(bad(
                "sigma_shift",
                format!("{sigma_shift} is out of range 0..={MAX_SHIFT}"),
            ));
        }
        let blocks = pairing.block_and_sign(size - 1).0 + 1;
        Ok(Int8Population {
            size,
            pairing,
            sigma_shift,
            noise: self
                .layers
                .iter()
                .map(|l| Int8Noise::draw(l, seed, generation, blocks, rank))
                .collect(),
        })
    }

    /// The forward pass of `x` (rows × inputs) into `out` (rows × outputs): plain inference
    /// when `pop` is `None`, else row `i` is member `i` of `pop` (rows = its size).
    pub fn forward(&self, x: &[i8], pop: Option<&Int8Population>, out: &mut [i8]) -> Result<()> {
        let (din, dout) = (self.inputs(), self.outputs());
        if din == 0 || !x.len().is_multiple_of(din) {
            return Err(bad(
                "input",
                format!("{} values is not rows × {din}", x.len()),
            ));
        }
        let rows = x.len() / din;
        if out.len() != rows * dout {
            return Err(bad(
                "output",
                format!("{} values for {rows} rows × {dout}", out.len()),
            ));
        }
        if let Some(p) = pop {
            self.check_population(p, rows)?;
        }
        let widest = self.layers.iter().map(|l| l.m()).max().expect("non-empty");
        x.par_chunks(CHUNK * din)
            .zip(out.par_chunks_mut(CHUNK * dout))
            .enumerate()
            .for_each_init(
                || Buffers::new(CHUNK, widest),
                |buf, (c, (xc, oc))| self.chunk(xc, c * CHUNK, pop, oc, buf),
            );
        Ok(())
    }

    fn check_population(&self, p: &Int8Population, rows: usize) -> Result<()> {
        if p.size != rows {
            return Err(bad(
                "population",
                format!("{} members for {rows} input rows", p.size),
            ));
        }
        if p.noise.len() != self.layers.len() {
            return Err(bad(
                "population.noise",
                format!("{} entries for {} layers", p.noise.len(), self.layers.len()),
            ));
        }
        let blocks = p.pairing.block_and_sign(p.size - 1).0 + 1;
        for (l, nz) in self.layers.iter().zip(&p.noise) {
            let r = nz.rank;
            if r == 0 || nz.a.len() < blocks * l.m() * r || nz.b.len() < blocks * l.n() * r {
                return Err(bad(
                    l.name(),
                    format!("noise of rank {r} holds fewer than {blocks} blocks"),
                ));
            }
        }
        Ok(())
    }

    fn chunk(
        &self,
        x: &[i8],
        first: usize,
        pop: Option<&Int8Population>,
        out: &mut [i8],
        buf: &mut Buffers,
    ) {
        let rows = x.len() / self.inputs();
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let (m, n) = (layer.m(), layer.n());
            let input: &[i8] = if l == 0 { x } else { &buf.act[..rows * n] };
            let acc = &mut buf.acc[..rows * m];
            gemm(input, rows, &layer.w, acc, &mut buf.scratch);
            let dst: &mut [i8] = if l == last {
                out
            } else {
                &mut buf.next[..rows * m]
            };
            let noise = pop.map(|p| Perturbation {
                pairing: p.pairing,
                sigma_shift: p.sigma_shift,
                noise: &p.noise[l],
            });
            buf.ids.clear();
            buf.ids.extend((first..first + rows).map(|i| i as u32));
            finish(layer, input, acc, &buf.ids, noise, dst);
            if l != last {
                std::mem::swap(&mut buf.act, &mut buf.next);
            }
        }
    }
}

/// A worker's buffers for one chunk of rows.
struct Buffers {
    acc: Vec<i32>,
    act: Vec<i8>,
    next: Vec<i8>,
    scratch: Vec<u8>,
    ids: Vec<u32>,
}

impl Buffers {
    fn new(rows: usize, widest: usize) -> Self {
        Self {
            acc: vec![0; rows * widest],
            act: vec![0; rows * widest],
            next: vec![0; rows * widest],
            scratch: Vec::new(),
            ids: Vec::with_capacity(rows),
        }
    }
}

/// Whether `n` inputs at rank `r` keep the whole pre-shift sum in i32: `|x·W| ≤ 128·127·n`
/// and `|(x·B)·Aᵀ| ≤ 128·31·31·n·r`.
fn fits_i32(n: usize, r: usize) -> bool {
    (n as u64) * (128 * 127 + 128 * 31 * 31 * r as u64) < i32::MAX as u64
}

eggroll_core::multiversion! {
    /// Per row: the member's correction, the shift, the bias and the clamp (vectorised at the
    /// CPU's level; integer arithmetic, so the same values at every level).
    fn finish(
        layer: &Int8Linear,
        x: &[i8],
        acc: &[i32],
        members: &[u32],
        noise: Option<Perturbation<'_>>,
        y: &mut [i8],
    ) {
        finish_body(layer, x, acc, members, noise, y)
    }
}

#[inline(always)]
fn finish_body(
    layer: &Int8Linear,
    x: &[i8],
    acc: &[i32],
    members: &[u32],
    noise: Option<Perturbation<'_>>,
    y: &mut [i8],
) {
    let (m, n, sh) = (layer.m(), layer.n(), layer.shift);
    // No bias: zeros, without an allocation per call for the usual widths.
    static ZEROS: [i8; 8192] = [0; 8192];
    let wide_zeros;
    let bias = match layer.bias.as_deref() {
        Some(b) => b,
        None if m <= ZEROS.len() => &ZEROS[..m],
        None => {
            wide_zeros = vec![0i8; m];
            &wide_zeros
        }
    };
    let rows = acc.chunks_exact(m).zip(y.chunks_exact_mut(m));
    let Some(p) = noise else {
        for (a, yr) in rows {
            for ((yv, &av), &bv) in yr.iter_mut().zip(a).zip(bias) {
                *yv = ((av >> sh) + i32::from(bv)).clamp(-127, 127) as i8;
            }
        }
        return;
    };
    let (nz, r, ss) = (p.noise, p.noise.rank, p.sigma_shift);
    let wide = !fits_i32(n, r);
    let mut t = vec![0i32; r];
    let mut nzr: Vec<i32> = Vec::new();
    for (i, (a, yr)) in rows.enumerate() {
        let (blk, sign) = p.pairing.block_and_sign(members[i] as usize);
        let s: i32 = if sign > 0.0 { 1 } else { -1 };
        let xi = &x[i * n..(i + 1) * n];
        let bk = &nz.b[blk * n * r..(blk + 1) * n * r];
        let ak = &nz.a[blk * m * r..(blk + 1) * m * r];
        if r == 1 {
            t[0] = s * xi
                .iter()
                .zip(bk)
                .map(|(&xv, &bv)| i32::from(xv) * i32::from(bv))
                .sum::<i32>();
        } else {
            let bt = &nz.bt[blk * n * r..(blk + 1) * n * r];
            for (tq, bq) in t.iter_mut().zip(bt.chunks_exact(n)) {
                *tq = s * xi
                    .iter()
                    .zip(bq)
                    .map(|(&xv, &bv)| i32::from(xv) * i32::from(bv))
                    .sum::<i32>();
            }
        }
        if wide {
            row_i64(a, ak, &t, bias, ss, sh, yr);
        } else if r == 1 {
            let t0 = t[0];
            for (((yv, &av), &aa), &bv) in yr.iter_mut().zip(a).zip(ak).zip(bias) {
                let v = (av + ((t0 * i32::from(aa)) >> ss)) >> sh;
                *yv = (v + i32::from(bv)).clamp(-127, 127) as i8;
            }
        } else {
            // Σ_q t_q·A[c][q] over contiguous rows of the transposed A, in q order.
            let at = &nz.at[blk * m * r..(blk + 1) * m * r];
            nzr.clear();
            nzr.resize(m, 0);
            for (&tq, aq) in t.iter().zip(at.chunks_exact(m)) {
                for (z, &q) in nzr.iter_mut().zip(aq) {
                    *z += tq * i32::from(q);
                }
            }
            for (((yv, &av), &nzv), &bv) in yr.iter_mut().zip(a).zip(nzr.iter()).zip(bias) {
                let v = (av + (nzv >> ss)) >> sh;
                *yv = (v + i32::from(bv)).clamp(-127, 127) as i8;
            }
        }
    }
}

/// A row whose noise term may not fit i32 (very wide layers at high rank): the same
/// arithmetic in i64, so the same values.
#[inline(always)]
fn row_i64(a: &[i32], ak: &[i8], t: &[i32], bias: &[i8], ss: u32, sh: u32, yr: &mut [i8]) {
    let r = t.len();
    for (((yv, &av), aq), &bv) in yr.iter_mut().zip(a).zip(ak.chunks_exact(r)).zip(bias) {
        let nzv: i64 = t
            .iter()
            .zip(aq)
            .map(|(&tq, &q)| i64::from(tq) * i64::from(q))
            .sum();
        let v = (i64::from(av) + (nzv >> ss)) >> sh;
        *yv = (v + i64::from(bv)).clamp(-127, 127) as i8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shift_grows_with_the_square_root_of_the_width() {
        assert_eq!(default_shift(256), 8);
        assert_eq!(default_shift(1024), 9);
        assert_eq!(default_shift(1), 4);
        assert!(crate::int8::MAX_INPUTS.is_power_of_two());
    }

    #[test]
    fn the_i64_row_equals_the_i32_row_where_both_fit() {
        let a = [12_345, -999, 0, 77];
        let ak = [3i8, -31, 31, 0];
        let bias = [1i8, -2, 127, -127];
        let t = [-40_000i32];
        let mut y64 = [0i8; 4];
        row_i64(&a, &ak, &t, &bias, 8, 6, &mut y64);
        let y32: Vec<i8> = (0..4)
            .map(|c| {
                let v = (a[c] + ((t[0] * i32::from(ak[c])) >> 8)) >> 6;
                (v + i32::from(bias[c])).clamp(-127, 127) as i8
            })
            .collect();
        assert_eq!(&y64[..], &y32[..]);
    }
}
