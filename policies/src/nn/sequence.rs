//! Sequence layers over rows of shape `[T, d]`: causal multi-head self-attention (Q/K/V/O as
//! population [`Linear`]s), a minGRU scanned over time, and a learned positional embedding.

use candle_core::Tensor;
use eggroll_core::Result;
use rayon::prelude::*;

use super::embedding::TableNoise;
use super::{Act, Ctx, Init, Linear, Module, ParamRef, TensorParams, Vb, linear, shape_err};

/// Causal multi-head self-attention (`q_proj`, `k_proj`, `v_proj`, `out_proj`, each `d × d`
/// with bias): position `i` attends to positions `≤ i`, optionally with ALiBi's fixed linear
/// recency bias ([`CausalSelfAttention::with_alibi`]).
pub struct CausalSelfAttention {
    name: String,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    dim: usize,
    heads: usize,
    /// Per head: the score of key `j` for query `i` gets `−slope·(i − j)` (empty: no bias).
    slopes: Vec<f32>,
}

/// Causal self-attention of width `dim` with `heads` heads (`dim` divisible by `heads`).
pub fn causal_self_attention(vb: &Vb, dim: usize, heads: usize) -> Result<CausalSelfAttention> {
    if heads == 0 || !dim.is_multiple_of(heads) {
        return Err(shape_err(
            &format!("attention {}", vb.prefix()),
            format!("{heads} heads do not divide the width {dim}"),
        ));
    }
    Ok(CausalSelfAttention {
        name: vb.prefix().to_string(),
        q: linear(&vb.pp("q_proj"), dim, dim, true)?,
        k: linear(&vb.pp("k_proj"), dim, dim, true)?,
        v: linear(&vb.pp("v_proj"), dim, dim, true)?,
        o: linear(&vb.pp("out_proj"), dim, dim, true)?,
        dim,
        heads,
        slopes: Vec::new(),
    })
}

impl CausalSelfAttention {
    /// ALiBi (Press, Smith & Lewis 2022): head `k` of `h` adds `−2^(−base·(k+1)/h)·(i − j)` to
    /// the score of key `j` for query `i`, a fixed recency bias with no parameters (each head
    /// prefers recent keys at its own rate). `base` 8 gives the paper's slopes (1/16 … for long
    /// contexts); 0 gives every head slope 1, which suits byte-level text (charlm's default).
    pub fn with_alibi(mut self, base: f32) -> Self {
        let h = self.heads as f32;
        self.slopes = (0..self.heads)
            .map(|k| 2f32.powf(-base * (k as f32 + 1.0) / h))
            .collect();
        self
    }
}

impl Module for CausalSelfAttention {
    fn forward_tensor(&self, x: &Tensor, params: &TensorParams<'_>) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let (h, dh) = (self.heads, self.dim / self.heads);
        let split = |y: Tensor| -> Result<Tensor> {
            Ok(y.reshape((b, t, h, dh))?.transpose(1, 2)?.contiguous()?)
        };
        let q = split(self.q.forward_tensor(x, params)?)?;
        let k = split(self.k.forward_tensor(x, params)?)?;
        let v = split(self.v.forward_tensor(x, params)?)?;
        let scores = (q.matmul(&k.t()?)? * (1.0 / (dh as f64).sqrt()))?;
        // (h, t, t): −∞ above the diagonal, ALiBi's −slope·(i − j) on and below it.
        let mask: Vec<f32> = (0..h * t * t)
            .map(|e| {
                let (head, i, j) = (e / (t * t), e / t % t, e % t);
                if j > i {
                    f32::NEG_INFINITY
                } else {
                    self.slopes.get(head).map_or(0.0, |s| -(s * (i - j) as f32))
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (h, t, t), x.device())?.to_dtype(scores.dtype())?;
        let scores = scores.broadcast_add(&mask)?;
        let max = scores.max_keepdim(3)?;
        let e = scores.broadcast_sub(&max)?.exp()?;
        let p = e.broadcast_div(&e.sum_keepdim(3)?)?;
        let mixed = p.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.o.forward_tensor(&mixed, params)
    }
    fn label(&self) -> String {
        format!("attention {}", self.name)
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match input {
            &[_, d] if d == self.dim => Ok(input.to_vec()),
            _ => Err(shape_err(
                &self.label(),
                format!("takes rows [T, {}], got {input:?}", self.dim),
            )),
        }
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let shape = self.out_shape(&x.shape)?;
        let (t, d, h) = (x.shape[0], self.dim, self.heads);
        let dh = d / h;
        let (q, k, v) = (
            self.q.forward(x, ctx)?,
            self.k.forward(x, ctx)?,
            self.v.forward(x, ctx)?,
        );
        let scale = 1.0 / (dh as f32).sqrt();
        let mut mixed = vec![0.0f32; x.rows * t * d];
        mixed.par_chunks_mut(t * d).enumerate().for_each_init(
            || (vec![0.0f32; dh * t], vec![0.0f32; t]),
            |(kt, w), (row, out)| {
                let span = row * t * d..(row + 1) * t * d;
                let (qr, kr) = (&q.data[span.clone()], &k.data[span.clone()]);
                attend(qr, kr, &v.data[span], out, t, h, &self.slopes, scale, kt, w);
            },
        );
        self.o.forward(
            &Act {
                data: mixed,
                rows: x.rows,
                shape,
            },
            ctx,
        )
    }
}

eggroll_core::multiversion! {
    /// Causal softmax attention of one sequence (`t` positions, `h` heads over the rows' `d`
    /// channels): `out = softmax(q kᵀ·scale − slope·(i − j)) v` per head (`slopes` empty: no
    /// bias, else one per head). `kt` (`d/h × t`) and `w` (`t`) are scratch. Each score sums
    /// the head's channels in order, vectorised over key positions.
    #[allow(clippy::too_many_arguments)]
    fn attend(
        qr: &[f32],
        kr: &[f32],
        vr: &[f32],
        out: &mut [f32],
        t: usize,
        h: usize,
        slopes: &[f32],
        scale: f32,
        kt: &mut [f32],
        w: &mut [f32],
    ) {
        let d = qr.len() / t;
        let dh = d / h;
        // Per head: Kᵀ (dh × t), so each query's scores are a vector over the key
        // positions, summed over the head's channels in order.
        for head in 0..h {
            let off = head * dh;
            for j in 0..t {
                for c in 0..dh {
                    kt[c * t + j] = kr[j * d + off + c];
                }
            }
            for i in 0..t {
                let qi = &qr[i * d + off..i * d + off + dh];
                // Scores over whole 16-lane blocks of keys (the ones past i are not used).
                let len = (i + 1).next_multiple_of(16).min(t);
                let wl = &mut w[..len];
                wl.fill(0.0);
                for (c, &qc) in qi.iter().enumerate() {
                    for (s, &kv) in wl.iter_mut().zip(&kt[c * t..c * t + len]) {
                        *s += qc * kv;
                    }
                }
                let wi = &mut w[..=i];
                match slopes.get(head) {
                    Some(&slope) => {
                        for (j, s) in wi.iter_mut().enumerate() {
                            *s = *s * scale - slope * (i - j) as f32;
                        }
                    }
                    None => wi.iter_mut().for_each(|s| *s *= scale),
                }
                let max = wi.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                // exp vectorised, then summed in order.
                for wj in wi.iter_mut() {
                    *wj = eggroll_core::simd::exp(*wj - max);
                }
                let z = wi.iter().fold(0.0f32, |z, &e| z + e);
                for wj in wi.iter_mut() {
                    *wj /= z;
                }
                // Σ_j p_j v_j over blocks of 16 channels, each block in registers.
                let oi = &mut out[i * d + off..i * d + off + dh];
                let mut c0 = 0;
                while c0 + 16 <= dh {
                    let mut acc = [0.0f32; 16];
                    for (j, &p) in wi.iter().enumerate() {
                        let vj = &vr[j * d + off + c0..j * d + off + c0 + 16];
                        for (o, vv) in acc.iter_mut().zip(vj) {
                            *o += p * vv;
                        }
                    }
                    oi[c0..c0 + 16].copy_from_slice(&acc);
                    c0 += 16;
                }
                if c0 < dh {
                    let tail = &mut oi[c0..];
                    tail.fill(0.0);
                    for (j, &p) in wi.iter().enumerate() {
                        let vj = &vr[j * d + off + c0..j * d + off + dh];
                        for (o, vv) in tail.iter_mut().zip(vj) {
                            *o += p * vv;
                        }
                    }
                }
            }
        }
    }
}

/// minGRU (Feng et al. 2024, the cell nano-egg uses): `z_t = σ(W_z x_t + b_z)`,
/// `h̃_t = W_h x_t + b_h`, `h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t`, `h_0 = 0`; the gates do
/// not read `h`, so both projections are population `Linear`s over all positions at once and
/// only the scan is sequential.
pub struct MinGru {
    name: String,
    z: Linear,
    h: Linear,
    inputs: usize,
    hidden: usize,
}

/// A minGRU from `inputs` to `hidden` (`<prefix>.z`, `<prefix>.h`).
pub fn min_gru(vb: &Vb, inputs: usize, hidden: usize) -> Result<MinGru> {
    Ok(MinGru {
        name: vb.prefix().to_string(),
        z: linear(&vb.pp("z"), inputs, hidden, true)?,
        h: linear(&vb.pp("h"), inputs, hidden, true)?,
        inputs,
        hidden,
    })
}

impl Module for MinGru {
    fn forward_tensor(&self, x: &Tensor, params: &TensorParams<'_>) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let zl = self.z.forward_tensor(x, params)?;
        let z = (zl.neg()?.exp()? + 1.0)?.recip()?;
        let c = self.h.forward_tensor(x, params)?;
        let mut h = Tensor::zeros((b, self.hidden), x.dtype(), x.device())?;
        let mut out = Vec::with_capacity(t);
        for step in 0..t {
            let g = z.narrow(1, step, 1)?.squeeze(1)?;
            let cs = c.narrow(1, step, 1)?.squeeze(1)?;
            h = ((g.affine(-1.0, 1.0)? * &h)? + (g * cs)?)?;
            out.push(h.clone());
        }
        Ok(Tensor::stack(&out, 1)?)
    }
    fn label(&self) -> String {
        format!("min_gru {}", self.name)
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match input {
            &[t, d] if d == self.inputs => Ok(vec![t, self.hidden]),
            _ => Err(shape_err(
                &self.label(),
                format!("takes rows [T, {}], got {input:?}", self.inputs),
            )),
        }
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let shape = self.out_shape(&x.shape)?;
        let (t, hd) = (x.shape[0], self.hidden);
        let mut z = self.z.forward(x, ctx)?.data;
        let cand = self.h.forward(x, ctx)?.data;
        z.par_chunks_mut(t * hd)
            .zip(cand.par_chunks(t * hd))
            .for_each(|(zr, cr)| {
                let mut h = vec![0.0f32; hd];
                for step in 0..t {
                    for j in 0..hd {
                        let g = 1.0 / (1.0 + eggroll_core::simd::exp(-zr[step * hd + j]));
                        h[j] = (1.0 - g) * h[j] + g * cr[step * hd + j];
                        zr[step * hd + j] = h[j];
                    }
                }
            });
        Ok(Act {
            data: z,
            rows: x.rows,
            shape,
        })
    }
}

/// A learned positional embedding (`<prefix>.weight`, `T_max × d`, low-rank noise like
/// [`super::Embedding`]): position `t` of every row gets `table[t]` added.
pub struct PosEmbedding {
    name: String,
    weight: ParamRef,
    max_len: usize,
    dim: usize,
}

/// A positional embedding for sequences of at most `max_len` positions of width `dim`.
pub fn pos_embedding(vb: &Vb, max_len: usize, dim: usize) -> Result<PosEmbedding> {
    Ok(PosEmbedding {
        name: vb.prefix().to_string(),
        weight: vb.param("weight", &[max_len, dim], Init::Normal(0.02))?,
        max_len,
        dim,
    })
}

impl Module for PosEmbedding {
    fn forward_tensor(&self, x: &Tensor, p: &TensorParams<'_>) -> Result<Tensor> {
        Ok(x.broadcast_add(&p.table_prefix(&self.weight, x.dim(1)?)?)?)
    }
    fn label(&self) -> String {
        format!("pos_embedding {}", self.name)
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match input {
            &[t, d] if d == self.dim && t <= self.max_len => Ok(input.to_vec()),
            _ => Err(shape_err(
                &self.label(),
                format!(
                    "takes rows [T ≤ {}, {}], got {input:?}",
                    self.max_len, self.dim
                ),
            )),
        }
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let shape = self.out_shape(&x.shape)?;
        let (t, d) = (x.shape[0], self.dim);
        let table = ctx.host(&self.weight)?;
        let table = table.as_slice();
        let noise = TableNoise::new(ctx, &self.weight, self.max_len, d)?;
        let mut out = x.data.clone();
        out.par_chunks_mut(t * d)
            .zip(ctx.members.par_iter())
            .for_each(|(o, &member)| {
                let (blk, ss) = ctx.block_scale(member);
                for (pos, dst) in o.chunks_mut(d).enumerate() {
                    for (y, tv) in dst.iter_mut().zip(&table[pos * d..(pos + 1) * d]) {
                        *y += tv;
                    }
                    noise.add_row(dst, pos, blk, ss);
                }
            });
        Ok(Act {
            data: out,
            rows: x.rows,
            shape,
        })
    }
}
