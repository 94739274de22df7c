//! EGG: nano-egg's integer minGRU language model, with int8 weights and activations, i32 sums,
//! power-of-two scales and no floating point in its forward pass.
//!
//! Per byte: `x = emb[byte]`; per layer `x += GRU(LN₁(x))` (an integer minGRU: `f = clip(W_f x +
//! U_f h + b_f)`, `h̃ = clip(W_h x + U_h ((f+127)·h ≫ 8) + b_h)`, `h ← clip(h + (f+127)·(h̃−h) ≫
//! 8)`), then `x += MLP(LN₂(x))` (width `4w`, a ReLU between its two matrices); the logits are
//! `head · LN_out(x)`, read as log₂-probabilities in 1/16 bit: `p(i) ∝ 2^(lᵢ/16)`. `LN` divides by
//! the mean `|x|`; every matrix product is shifted right by `4 + ⌈log₂ n⌉/2` (nano-egg divides
//! by `16·√n`) and clipped to `±127`; additions are clipped. The training loss is nano-egg's
//! integer log-likelihood (`EXP2`/`LOG2` tables in 1/16 bit).
//!
//! A member's perturbation (strategy `egg`, [`eggroll_core::strategy::egg`]): int8 low-rank
//! noise for every matrix — the embedding's row `t` gets `(s·A[t]·Bᵀ) ≫ (4 + σs)`, a matrix
//! product `(s·(x·B)·Aᵀ) ≫ (4 + σs)` before its shift — and `(s·e₁e₂) ≫ (4 + σs)` on every
//! norm weight and bias. The population forward batches every member and every position
//! through the int8 GEMM except the recurrence `U·h`, which runs once per position over the
//! members of a chunk.

use std::ops::Range;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use eggroll_core::noise::{block_key, fill_block_i8, mix64, param_id};
use eggroll_core::population::HostData;
use eggroll_core::strategy::egg::{check_int8_params, sigma_shift};
use eggroll_core::{Error, Evaluator, Noise, Pairing, Params, Population, Result};
use rayon::prelude::*;

use crate::int8::linear::default_shift;
use crate::int8::{Int8Linear, Int8Noise, Perturbation, RowBuffers};

/// Byte vocabulary.
pub const VOCAB: usize = 256;

/// nano-egg's fixed point: 4 fractional bits.
const FIXED_POINT: u32 = 4;

/// Rows per block of the batched (non-recurrent) products, so their buffers stay in cache.
const BLOCK_ROWS: usize = 256;

/// The EGG model's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EggSpec {
    /// Width `w` (the MLP is `4w` wide).
    pub width: usize,
    /// minGRU blocks.
    pub layers: usize,
}

/// Typed error naming `what`.
fn bad(what: &str, reason: impl Into<String>) -> Error {
    Error::Param {
        name: what.into(),
        reason: reason.into(),
    }
}

impl EggSpec {
    /// Checks the sizes: width `4..=2048`, a multiple of 4; `1..=32` layers.
    pub fn check(&self) -> Result<()> {
        if !(4..=2048).contains(&self.width) || !self.width.is_multiple_of(4) {
            return Err(bad(
                "policy.hidden",
                format!(
                    "EGG width {} must be a multiple of 4 in 4..=2048",
                    self.width
                ),
            ));
        }
        if !(1..=32).contains(&self.layers) {
            return Err(bad(
                "policy.hidden",
                format!("EGG has 1..=32 layers, not {}", self.layers),
            ));
        }
        Ok(())
    }

    /// Parameter names and shapes, in the order of the model's [`Params`].
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let w = self.width;
        let mut v = vec![("emb".to_string(), vec![VOCAB, w])];
        for l in 0..self.layers {
            for (name, shape) in [
                ("ln1", vec![w]),
                ("wf", vec![w, w]),
                ("uf", vec![w, w]),
                ("bf", vec![w]),
                ("wh", vec![w, w]),
                ("uh", vec![w, w]),
                ("bh", vec![w]),
                ("ln2", vec![w]),
                ("mlp0", vec![4 * w, w]),
                ("mlp1", vec![w, 4 * w]),
            ] {
                v.push((format!("l{l}.{name}"), shape));
            }
        }
        v.push(("ln_out".into(), vec![w]));
        v.push(("head".into(), vec![VOCAB, w]));
        v
    }

    /// Parameter count.
    pub fn num_params(&self) -> usize {
        self.shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// Initial parameters (f32 tensors holding the int8 values): matrices from the int8 noise
    /// stream of `(seed, name)` (magnitudes `0..=31`, nano-egg draws `N(0, 16²)`), norm weights
    /// 16 (1.0 in the fixed point), biases 0.
    pub fn init(&self, seed: u64) -> Result<Params> {
        self.check()?;
        let mut params = Params::new();
        for (name, shape) in self.shapes() {
            let len: usize = shape.iter().product();
            let values: Vec<f32> = if shape.len() == 2 {
                let mut v = vec![0i8; len];
                fill_block_i8(block_key(seed, param_id(&name), u64::MAX, 0), 0, &mut v);
                v.into_iter().map(f32::from).collect()
            } else if name.contains("ln") {
                vec![16.0; len]
            } else {
                vec![0.0; len]
            };
            params.push(name, Tensor::from_vec(values, shape, &Device::Cpu)?)?;
        }
        Ok(params)
    }
}

/// One minGRU block.
struct Block {
    ln1: Vec<i8>,
    wf: Int8Linear,
    uf: Int8Linear,
    bf: Vec<i8>,
    wh: Int8Linear,
    uh: Int8Linear,
    bh: Vec<i8>,
    ln2: Vec<i8>,
    mlp0: Int8Linear,
    mlp1: Int8Linear,
}

/// The EGG model built from [`Params`] (integers in `−127..=127`).
pub struct EggModel {
    spec: EggSpec,
    emb: Vec<i8>,
    blocks: Vec<Block>,
    ln_out: Vec<i8>,
    head: Int8Linear,
}

/// A generation's noise, one entry per parameter in [`EggSpec::shapes`] order.
pub enum EggNoise {
    /// A matrix's low-rank noise.
    LowRank(Int8Noise),
    /// A vector's `e₁·e₂` products, `(K, len)`.
    Full(Vec<i16>),
}

/// The generation's noise of a population, with its scale.
pub struct EggPopulation {
    /// One entry per parameter.
    pub noise: Vec<EggNoise>,
    /// `4 + s` for `σ = 2⁻ˢ`.
    pub shift: u32,
    /// Blocks drawn.
    pub blocks: usize,
}

impl EggPopulation {
    /// Converts `pop` (strategy `egg`'s population for `spec`'s parameters) to integers; errors
    /// when its shapes or values are not those of an int8 population.
    pub fn new(spec: &EggSpec, pop: &Population) -> Result<Self> {
        let shapes = spec.shapes();
        if pop.noise.len() != shapes.len() || pop.pairing != Pairing::Antithetic {
            return Err(bad(
                "population",
                "is not strategy egg's population for this model (use strategy = \"egg\")",
            ));
        }
        let blocks = pop.size / 2;
        let int = |t: &Tensor, what: &str| -> Result<Vec<f32>> {
            let v = HostData::new(t)?.as_slice().to_vec();
            if v.iter().any(|x| x.fract() != 0.0 || x.abs() > 961.0) {
                return Err(bad(what, "noise is not integer (use strategy = \"egg\")"));
            }
            Ok(v)
        };
        let mut noise = Vec::with_capacity(shapes.len());
        for ((name, shape), n) in shapes.iter().zip(&pop.noise) {
            noise.push(match (n, shape.len()) {
                (Noise::LowRank { rank, a, b }, 2) => {
                    let (a, b) = (int(a, name)?, int(b, name)?);
                    if a.len() < blocks * shape[0] * rank || b.len() < blocks * shape[1] * rank {
                        return Err(bad(name, "noise has too few blocks"));
                    }
                    EggNoise::LowRank(Int8Noise::new(
                        *rank,
                        shape[0],
                        shape[1],
                        a.iter().map(|&v| v as i8).collect(),
                        b.iter().map(|&v| v as i8).collect(),
                    ))
                }
                (Noise::Full { eps }, 1) => {
                    let e = int(eps, name)?;
                    if e.len() < blocks * shape[0] {
                        return Err(bad(name, "noise has too few blocks"));
                    }
                    EggNoise::Full(e.iter().map(|&v| v as i16).collect())
                }
                _ => {
                    return Err(bad(
                        name,
                        "noise of the wrong kind (use strategy = \"egg\")",
                    ));
                }
            });
        }
        Ok(Self {
            noise,
            shift: FIXED_POINT + sigma_shift(pop.sigma)?,
            blocks,
        })
    }
}

/// `nano-egg`'s `EXP2` table: `⌊2^(i/16)·16⌋`.
fn exp2_table() -> &'static [i32; 256] {
    use std::sync::OnceLock;
    static T: OnceLock<[i32; 256]> = OnceLock::new();
    T.get_or_init(|| std::array::from_fn(|i| ((i as f64 / 16.0).exp2() * 16.0) as i32))
}

/// nano-egg's integer log-likelihood of `target` in 1/16 bit (≤ 0 up to table rounding):
/// `(l_t + 128) − ⌊16·log₂(Σᵢ EXP2[lᵢ + 128] / 16)⌋`.
pub fn int_log_likelihood(logits: &[i8], target: u8) -> i32 {
    let t = exp2_table();
    let sum: i32 = logits
        .iter()
        .map(|&l| t[(i32::from(l) + 128) as usize])
        .sum();
    let log = ((f64::from(sum) / 16.0).log2() * 16.0).floor() as i32;
    (i32::from(logits[usize::from(target)]) + 128) - log
}

/// The exact bits of `target` under `p(i) ∝ 2^(lᵢ/16)`.
pub fn bits(logits: &[i8], target: u8) -> f64 {
    let max = f64::from(*logits.iter().max().expect("vocab")) / 16.0;
    let s: f64 = logits
        .iter()
        .map(|&l| (f64::from(l) / 16.0 - max).exp2())
        .sum();
    s.log2() + max - f64::from(logits[usize::from(target)]) / 16.0
}

/// `clamp(v, −127, 127)`.
#[inline(always)]
fn clip(v: i32) -> i8 {
    v.clamp(-127, 127) as i8
}

eggroll_core::multiversion! {
    /// `LN` of every row of `x` (`w` wide; row `r` with member `r % pc`'s weights in `wv`):
    /// `⌊x·w / mean|x|⌋` (floor division, as nano-egg's), `mean = max(⌊Σ|x| / w⌋, 1)`. The
    /// quotient is taken in f32, exact here: `|x·w| ≤ 127²` and `mean ≤ 127`, so a
    /// non-integer quotient is ≥ 1/127 from an integer, far beyond f32's rounding.
    fn norm_rows(x: &[i8], wv: &[i8], pc: usize, w: usize, y: &mut [i8]) {
        for (r, (xr, yr)) in x.chunks_exact(w).zip(y.chunks_exact_mut(w)).enumerate() {
            let wr = &wv[(r % pc) * w..(r % pc + 1) * w];
            let sum: i32 = xr.iter().map(|&v| i32::from(v).abs()).sum();
            let mean = (sum / w as i32).max(1) as f32;
            for ((yv, &xv), &ww) in yr.iter_mut().zip(xr).zip(wr) {
                let q = ((i32::from(xv) * i32::from(ww)) as f32 / mean).floor();
                // SAFETY: |q| ≤ 127² is finite and fits i32.
                *yv = clip(unsafe { q.to_int_unchecked::<i32>() });
            }
        }
    }
}

eggroll_core::multiversion! {
    /// The minGRU gate of one position: `f = clip(Wx + Uh + b)`, `g = (f + 127)·h ≫ 8`.
    fn gru_gate(fx: &[i8], uf: &[i8], bf: &[i8], h: &[i8], ft: &mut [i8], gated: &mut [i8]) {
        for i in 0..ft.len() {
            let f = clip(i32::from(fx[i]) + i32::from(uf[i]) + i32::from(bf[i]));
            ft[i] = f;
            gated[i] = (((i32::from(f) + 127) * i32::from(h[i])) >> 8) as i8;
        }
    }
}

eggroll_core::multiversion! {
    /// The minGRU update of one position: `h̃ = clip(Wx + U g + b)`,
    /// `h ← clip(h + (f + 127)·(h̃ − h) ≫ 8)`, then the residual `x ← clip(x + h)`.
    fn gru_update(hx: &[i8], uh: &[i8], bh: &[i8], ft: &[i8], h: &mut [i8], xs: &mut [i8]) {
        for i in 0..h.len() {
            let ht = i32::from(clip(i32::from(hx[i]) + i32::from(uh[i]) + i32::from(bh[i])));
            let hv = i32::from(h[i]);
            let hn = clip(hv + (((i32::from(ft[i]) + 127) * (ht - hv)) >> 8));
            h[i] = hn;
            xs[i] = clip(i32::from(xs[i]) + i32::from(hn));
        }
    }
}

eggroll_core::multiversion! {
    /// `x ← clip(x + o)`.
    fn add_clip(x: &mut [i8], o: &[i8]) {
        for (xv, &ov) in x.iter_mut().zip(o) {
            *xv = clip(i32::from(*xv) + i32::from(ov));
        }
    }
}

/// One member's copy of a perturbed vector: `clip(v + (s·e) ≫ shift)`.
fn perturb_vec(v: &[i8], e: &[i16], sign: i32, shift: u32, out: &mut [i8]) {
    for ((o, &x), &ev) in out.iter_mut().zip(v).zip(e) {
        *o = clip(i32::from(x) + ((sign * i32::from(ev)) >> shift));
    }
}

/// What the model scores at every position of a chunk.
pub trait Scorer: Sync {
    /// Score the logits of one member-position.
    fn score(&self, logits: &[i8], target: u8) -> f64;
}

/// nano-egg's integer log-likelihood, in bits (≤ 0): the training fitness.
pub struct IntLikelihood;

impl Scorer for IntLikelihood {
    fn score(&self, logits: &[i8], target: u8) -> f64 {
        f64::from(int_log_likelihood(logits, target)) / 16.0
    }
}

/// The exact cross-entropy in bits (≥ 0): held-out evaluation.
pub struct ExactBits;

impl Scorer for ExactBits {
    fn score(&self, logits: &[i8], target: u8) -> f64 {
        bits(logits, target)
    }
}

/// Per-chunk buffers.
#[derive(Default)]
struct Work {
    rows: RowBuffers,
    x: Vec<i8>,
    xn: Vec<i8>,
    fx: Vec<i8>,
    hx: Vec<i8>,
    mid: Vec<i8>,
    out: Vec<i8>,
    ids: Vec<u32>,
    vecs: Vec<i8>,
}

impl EggModel {
    /// The model of `params` (checked: names, shapes, integers in `−127..=127`).
    pub fn new(spec: EggSpec, params: &Params) -> Result<Self> {
        spec.check()?;
        let shapes = spec.shapes();
        if params.len() != shapes.len() {
            return Err(bad(
                "policy",
                format!(
                    "{} parameters, the EGG model of width {} × {} layers has {}",
                    params.len(),
                    spec.width,
                    spec.layers,
                    shapes.len()
                ),
            ));
        }
        for (p, (name, shape)) in params.iter().zip(&shapes) {
            if p.name() != name || p.dims() != shape.as_slice() {
                return Err(bad(
                    p.name(),
                    format!("expected `{name}` of shape {shape:?}, found {:?}", p.dims()),
                ));
            }
        }
        check_int8_params(params)?;
        let host = params.to_host()?;
        let v8 = |i: usize| -> Vec<i8> { host[i].iter().map(|&v| v as i8).collect() };
        let mat = |i: usize| -> Result<Int8Linear> {
            let (name, shape) = &shapes[i];
            Int8Linear::new(
                name,
                &v8(i),
                shape[0],
                shape[1],
                None,
                default_shift(shape[1]),
            )
        };
        let mut blocks = Vec::with_capacity(spec.layers);
        for l in 0..spec.layers {
            let b = 1 + 10 * l;
            blocks.push(Block {
                ln1: v8(b),
                wf: mat(b + 1)?,
                uf: mat(b + 2)?,
                bf: v8(b + 3),
                wh: mat(b + 4)?,
                uh: mat(b + 5)?,
                bh: v8(b + 6),
                ln2: v8(b + 7),
                mlp0: mat(b + 8)?,
                mlp1: mat(b + 9)?,
            });
        }
        let n = shapes.len();
        Ok(Self {
            spec,
            emb: v8(0),
            blocks,
            ln_out: v8(n - 2),
            head: mat(n - 1)?,
        })
    }

    /// The sizes.
    pub fn spec(&self) -> EggSpec {
        self.spec
    }

    /// Runs `members` (row `p` of `windows` is member `members[p]`'s bytes; every window has
    /// the same length `T + 1`) over `T` positions from the zero state, scoring the logits of
    /// position `t` against byte `t + 1`; returns each member's summed score. `pop` perturbs
    /// the members (None: the model itself).
    pub fn score_windows(
        &self,
        windows: &[&[u8]],
        members: &[u32],
        pop: Option<&EggPopulation>,
        scorer: &dyn Scorer,
    ) -> Vec<f64> {
        thread_local! {
            /// A worker's buffers, reused from chunk to chunk and generation to generation.
            static WORK: std::cell::RefCell<(Work, Vec<i8>, Vec<i8>)> = Default::default();
        }
        WORK.with_borrow_mut(|(work, state, logits)| {
            self.score_with(windows, members, pop, scorer, work, state, logits)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn score_with(
        &self,
        windows: &[&[u8]],
        members: &[u32],
        pop: Option<&EggPopulation>,
        scorer: &dyn Scorer,
        work: &mut Work,
        state: &mut Vec<i8>,
        logits: &mut Vec<i8>,
    ) -> Vec<f64> {
        state.clear();
        state.resize(self.spec.layers * windows.len() * self.spec.width, 0);
        let t = windows.first().map_or(0, |w| w.len().saturating_sub(1));
        let inputs: Vec<&[u8]> = windows.iter().map(|w| &w[..t]).collect();
        self.run(&inputs, members, pop, state, work, logits);
        let pc = windows.len();
        (0..pc)
            .map(|p| {
                (0..t)
                    .map(|s| {
                        let row = s * pc + p;
                        scorer.score(&logits[row * VOCAB..(row + 1) * VOCAB], windows[p][s + 1])
                    })
                    .sum()
            })
            .collect()
    }

    /// The forward pass over `inputs` (one byte sequence per member, equal lengths) from
    /// `state` (layers × members × width, updated in place): `logits` gets `(T·members) × 256`,
    /// row `t·members + p`.
    fn run(
        &self,
        inputs: &[&[u8]],
        members: &[u32],
        pop: Option<&EggPopulation>,
        state: &mut [i8],
        wk: &mut Work,
        logits: &mut Vec<i8>,
    ) {
        let (pc, w) = (inputs.len(), self.spec.width);
        let t_len = inputs.first().map_or(0, |s| s.len());
        let rows = t_len * pc;
        wk.ids.clear();
        wk.ids.extend((0..rows).map(|r| members[r % pc]));
        let sign = |p: usize| -> (usize, i32) {
            let (blk, s) = Pairing::Antithetic.block_and_sign(members[p] as usize);
            (blk, if s > 0.0 { 1 } else { -1 })
        };
        let shift = pop.map_or(0, |p| p.shift);
        let pert = |i: usize| -> Option<Perturbation<'_>> {
            pop.map(|p| match &p.noise[i] {
                EggNoise::LowRank(n) => Perturbation {
                    pairing: Pairing::Antithetic,
                    sigma_shift: p.shift,
                    noise: n,
                },
                EggNoise::Full(_) => unreachable!("a matrix has low-rank noise"),
            })
        };
        // Each member's copy of vector parameter `i` (its norm weights and biases).
        let member_vecs = |i: usize, v: &[i8], out: &mut Vec<i8>| {
            out.clear();
            out.resize(pc * w, 0);
            for p in 0..pc {
                let o = &mut out[p * w..(p + 1) * w];
                match pop.map(|q| &q.noise[i]) {
                    Some(EggNoise::Full(e)) => {
                        let (blk, s) = sign(p);
                        perturb_vec(v, &e[blk * w..(blk + 1) * w], s, shift, o);
                    }
                    _ => o.copy_from_slice(v),
                }
            }
        };
        // Embedding.
        wk.x.clear();
        wk.x.resize(rows * w, 0);
        for (r, xr) in wk.x.chunks_exact_mut(w).enumerate() {
            let (p, s) = (r % pc, r / pc);
            let tok = usize::from(inputs[p][s]);
            let e = &self.emb[tok * w..(tok + 1) * w];
            match pop.map(|q| &q.noise[0]) {
                Some(EggNoise::LowRank(n)) => {
                    let (blk, sg) = sign(p);
                    let rk = n.rank;
                    let a = &n.a[(blk * VOCAB + tok) * rk..(blk * VOCAB + tok + 1) * rk];
                    let b = &n.b[blk * w * rk..(blk + 1) * w * rk];
                    for ((xv, &ev), bj) in xr.iter_mut().zip(e).zip(b.chunks_exact(rk)) {
                        let d: i32 = a
                            .iter()
                            .zip(bj)
                            .map(|(&x, &y)| i32::from(x) * i32::from(y))
                            .sum();
                        *xv = clip(i32::from(ev) + ((sg * d) >> shift));
                    }
                }
                _ => xr.copy_from_slice(e),
            }
        }
        for (l, blk) in self.blocks.iter().enumerate() {
            let base = 1 + 10 * l;
            // x += GRU(LN₁(x)).
            member_vecs(base, &blk.ln1, &mut wk.vecs);
            wk.xn.resize(rows * w, 0);
            norm_rows(&wk.x, &wk.vecs, pc, w, &mut wk.xn);
            wk.fx.resize(rows * w, 0);
            wk.hx.resize(rows * w, 0);
            batched(
                &blk.wf,
                &wk.xn,
                &wk.ids,
                pert(base + 1),
                &mut wk.rows,
                &mut wk.fx,
            );
            batched(
                &blk.wh,
                &wk.xn,
                &wk.ids,
                pert(base + 4),
                &mut wk.rows,
                &mut wk.hx,
            );
            let mut bf = vec![];
            member_vecs(base + 3, &blk.bf, &mut bf);
            let mut bh = vec![];
            member_vecs(base + 6, &blk.bh, &mut bh);
            let h = &mut state[l * pc * w..(l + 1) * pc * w];
            let (mut uf, mut ft, mut gated, mut uh) = (
                vec![0i8; pc * w],
                vec![0i8; pc * w],
                vec![0i8; pc * w],
                vec![0i8; pc * w],
            );
            for s in 0..t_len {
                let ids = &wk.ids[s * pc..(s + 1) * pc];
                blk.uf
                    .forward_rows(h, ids, pert(base + 2), &mut wk.rows, &mut uf);
                let fx = &wk.fx[s * pc * w..(s + 1) * pc * w];
                gru_gate(fx, &uf, &bf, h, &mut ft, &mut gated);
                blk.uh
                    .forward_rows(&gated, ids, pert(base + 5), &mut wk.rows, &mut uh);
                let hx = &wk.hx[s * pc * w..(s + 1) * pc * w];
                let xs = &mut wk.x[s * pc * w..(s + 1) * pc * w];
                gru_update(hx, &uh, &bh, &ft, h, xs);
            }
            // x += MLP(LN₂(x)).
            member_vecs(base + 7, &blk.ln2, &mut wk.vecs);
            norm_rows(&wk.x, &wk.vecs, pc, w, &mut wk.xn);
            wk.mid.resize(BLOCK_ROWS * 4 * w, 0);
            wk.out.resize(BLOCK_ROWS * w, 0);
            for r0 in (0..rows).step_by(BLOCK_ROWS) {
                let rb = BLOCK_ROWS.min(rows - r0);
                let ids = &wk.ids[r0..r0 + rb];
                let mid = &mut wk.mid[..rb * 4 * w];
                blk.mlp0.forward_rows(
                    &wk.xn[r0 * w..(r0 + rb) * w],
                    ids,
                    pert(base + 8),
                    &mut wk.rows,
                    mid,
                );
                for v in mid.iter_mut() {
                    *v = (*v).max(0);
                }
                let out = &mut wk.out[..rb * w];
                blk.mlp1
                    .forward_rows(mid, ids, pert(base + 9), &mut wk.rows, out);
                add_clip(&mut wk.x[r0 * w..(r0 + rb) * w], out);
            }
        }
        // Logits.
        let n = self.blocks.len() * 10 + 1;
        member_vecs(n, &self.ln_out, &mut wk.vecs);
        norm_rows(&wk.x, &wk.vecs, pc, w, &mut wk.xn);
        logits.resize(rows * VOCAB, 0);
        batched(
            &self.head,
            &wk.xn,
            &wk.ids,
            pert(n + 1),
            &mut wk.rows,
            logits,
        );
    }

    /// `len` bytes after `prompt`, sampled from `p(i) ∝ 2^(lᵢ/(16·temperature))` with a
    /// seeded generator (temperature 0: the most likely byte). An empty prompt starts from a
    /// newline (the model has no start symbol).
    pub fn sample(&self, prompt: &[u8], len: usize, seed: u64, temperature: f64) -> Vec<u8> {
        let prompt: &[u8] = if prompt.is_empty() { b"\n" } else { prompt };
        let mut state = vec![0i8; self.spec.layers * self.spec.width];
        let mut work = Work::default();
        let mut logits = vec![];
        let mut out = Vec::with_capacity(len);
        let mut tok = 0u8;
        for (i, &b) in prompt.iter().enumerate() {
            self.run(&[&[b]], &[0], None, &mut state, &mut work, &mut logits);
            if i + 1 == prompt.len() {
                tok = draw(&logits, seed, 0, temperature);
            }
        }
        for k in 0..len {
            out.push(tok);
            self.run(&[&[tok]], &[0], None, &mut state, &mut work, &mut logits);
            tok = draw(&logits, seed, k as u64 + 1, temperature);
        }
        out
    }
}

/// A sample from `p(i) ∝ 2^(lᵢ/(16·T))` with the `k`-th uniform of `seed`.
fn draw(logits: &[i8], seed: u64, k: u64, temperature: f64) -> u8 {
    let t = temperature.max(1e-6);
    let max = f64::from(*logits.iter().max().expect("vocab"));
    let w: Vec<f64> = logits
        .iter()
        .map(|&l| ((f64::from(l) - max) / (16.0 * t)).exp2())
        .collect();
    let u = (mix64(seed ^ mix64(k)) >> 11) as f64 / (1u64 << 53) as f64 * w.iter().sum::<f64>();
    let mut acc = 0.0;
    for (i, wv) in w.iter().enumerate() {
        acc += wv;
        if u < acc {
            return i as u8;
        }
    }
    255
}

/// `layer` over every row of `x` in blocks of [`BLOCK_ROWS`].
fn batched(
    layer: &Int8Linear,
    x: &[i8],
    ids: &[u32],
    pert: Option<Perturbation<'_>>,
    buf: &mut RowBuffers,
    y: &mut [i8],
) {
    let (n, m) = (layer.n(), layer.m());
    for ((xb, yb), ib) in x
        .chunks(BLOCK_ROWS * n)
        .zip(y.chunks_mut(BLOCK_ROWS * m))
        .zip(ids.chunks(BLOCK_ROWS))
    {
        layer.forward_rows(xb, ib, pert, buf, yb);
    }
}

/// Scores a whole population in parallel: member `members[i]` reads `windows[i]`; chunks of
/// whole antithetic pairs, about one per thread and at most 32 members, run on the rayon pool.
/// The scores do not depend on the chunking (each member's rows are its own).
pub fn score_population(
    model: &EggModel,
    windows: &[&[u8]],
    members: &[u32],
    pop: Option<&EggPopulation>,
    scorer: &dyn Scorer,
) -> Vec<f64> {
    let threads = rayon::current_num_threads().max(1);
    let per = members.len().div_ceil(threads).div_ceil(2).clamp(1, 16) * 2;
    windows
        .par_chunks(per)
        .zip(members.par_chunks(per))
        .flat_map_iter(|(w, ids)| model.score_windows(w, ids, pop, scorer))
        .collect()
}

/// The training evaluator of `charlm --model egg`: each antithetic pair reads its own window of
/// `context + 1` bytes of the training text (drawn from the seed and generation), both members
/// of a pair the same one; fitness = the integer log-likelihood per byte, in bits (≤ 0).
pub struct EggEvaluator {
    spec: EggSpec,
    text: Arc<Vec<u8>>,
    context: usize,
    seed: u64,
    cache: Option<(u64, Arc<EggModel>, Arc<EggPopulation>)>,
    member_tokens: u64,
}

impl EggEvaluator {
    /// Checks the sizes and that the text holds a window.
    pub fn new(spec: EggSpec, text: Arc<Vec<u8>>, context: usize, seed: u64) -> Result<Self> {
        spec.check()?;
        if context == 0 || text.len() < context + 2 {
            return Err(bad(
                "data.context",
                format!("{context}: needs 1.. and a training text longer than it"),
            ));
        }
        Ok(Self {
            spec,
            text,
            context,
            seed,
            cache: None,
            member_tokens: 0,
        })
    }

    /// The first byte of pair `k`'s window in `generation`.
    fn window(&self, generation: u64, k: usize) -> usize {
        let span = (self.text.len() - self.context - 1) as u64;
        (mix64(
            mix64(self.seed ^ 0x05ee_de66)
                ^ generation.wrapping_mul(0x9e37_79b9)
                ^ ((k as u64) << 40),
        ) % span) as usize
    }

    /// Member-positions evaluated so far.
    pub fn member_tokens(&self) -> u64 {
        self.member_tokens
    }
}

impl Evaluator for EggEvaluator {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: Range<usize>,
    ) -> Result<Vec<f32>> {
        let g = population.generation;
        if self.cache.as_ref().is_none_or(|c| c.0 != g) {
            let model = Arc::new(EggModel::new(self.spec, params)?);
            let pop = Arc::new(EggPopulation::new(&self.spec, population)?);
            self.cache = Some((g, model, pop));
        }
        let (_, model, pop) = self.cache.clone().expect("just set");
        let ids: Vec<u32> = members.clone().map(|m| m as u32).collect();
        let ctx = self.context;
        let windows: Vec<&[u8]> = ids
            .iter()
            .map(|&m| {
                let s = self.window(g, m as usize / 2);
                &self.text[s..s + ctx + 1]
            })
            .collect();
        let scores = score_population(&model, &windows, &ids, Some(&pop), &IntLikelihood);
        self.member_tokens += (ids.len() * ctx) as u64;
        Ok(scores.iter().map(|s| (s / ctx as f64) as f32).collect())
    }
}

/// Held-out bits per byte of `params` on the positions the f32 models and the n-gram
/// baselines are scored on ([`crate::charlm::bpb`], [`crate::charlm::ngram_bpb`]): windows
/// `w·context .. (w+1)·context` of `text` for `w < min((len − 1)/context, max_windows)`, each
/// from the zero state, every position scored exactly under `p(i) ∝ 2^(lᵢ/16)`.
pub fn test_bpb(
    spec: EggSpec,
    params: &Params,
    text: &[u8],
    context: usize,
    max_windows: usize,
) -> Result<f64> {
    let model = EggModel::new(spec, params)?;
    let windows = (text.len().saturating_sub(1) / context.max(1)).min(max_windows);
    if windows == 0 {
        return Err(bad(
            "data",
            format!(
                "the held-out text has {} bytes; it needs more than the context {context}",
                text.len()
            ),
        ));
    }
    let starts: Vec<usize> = (0..windows).map(|w| w * context).collect();
    let total: f64 = starts
        .par_chunks(16)
        .map(|chunk| {
            let ws: Vec<&[u8]> = chunk.iter().map(|&s| &text[s..s + context + 1]).collect();
            let ids: Vec<u32> = (0..ws.len() as u32).collect();
            model
                .score_windows(&ws, &ids, None, &ExactBits)
                .iter()
                .sum::<f64>()
        })
        .sum();
    Ok(total / (windows * context) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_f32_floor_division_of_layer_norm_is_exact() {
        // Every product of two int8 values (weights and activations in −127..=127) and every
        // mean the norm can have.
        for mean in 1..=127i32 {
            for v in -(127 * 127)..=127 * 127 {
                let q = ((v as f32) / mean as f32).floor() as i32;
                assert_eq!(q, i32::div_euclid(v, mean), "{v} / {mean}");
            }
        }
    }

    #[test]
    fn the_integer_likelihood_tracks_the_exact_bits() {
        let mut logits = [0i8; VOCAB];
        for (i, l) in logits.iter_mut().enumerate() {
            *l = ((i * 37 % 255) as i32 - 127) as i8;
        }
        for t in [0u8, 17, 200, 255] {
            let exact = bits(&logits, t);
            let int = -f64::from(int_log_likelihood(&logits, t)) / 16.0;
            // The tables floor 2^(i/16)·16 and the log: within a few 1/16 bits.
            assert!(
                (exact - int).abs() < 0.2,
                "{t}: exact {exact} vs integer {int}"
            );
        }
    }
}
