//! `Embedding` (PyTorch's `nn.Embedding`, table `V × d`): token `t` of a member reads row `t`
//! of `table + σ s A Bᵀ / √r`, i.e. `table[t] + σ s (A[t] · Bᵀ) / √r` — `r·d` work per token.

use candle_core::Tensor;
use eggroll_core::population::HostData;
use eggroll_core::{Noise, Result};
use rayon::prelude::*;

use super::{Act, Ctx, Init, Module, ParamRef, TensorParams, Vb, check_noise, shape_err};

/// A lookup table over rows of token ids (stored as exact integers in f32).
#[derive(Debug, Clone)]
pub struct Embedding {
    name: String,
    weight: ParamRef,
    vocab: usize,
    dim: usize,
}

/// An `Embedding` of `vocab` tokens into `dim` values, named by `vb` (`<prefix>.weight`).
pub fn embedding(vb: &Vb, vocab: usize, dim: usize) -> Result<Embedding> {
    if vocab > 1 << 24 {
        return Err(shape_err(
            &format!("embedding {}", vb.prefix()),
            format!("vocabulary {vocab} is above 2^24 (ids are exact f32 integers)"),
        ));
    }
    Ok(Embedding {
        name: vb.prefix().to_string(),
        weight: vb.param("weight", &[vocab, dim], Init::Normal(1.0))?,
        vocab,
        dim,
    })
}

impl Module for Embedding {
    fn forward_tensor(&self, x: &Tensor, p: &TensorParams<'_>) -> Result<Tensor> {
        // Token ids arrive as f32 (the layers' inputs).
        p.table_rows(&self.weight, &x.to_dtype(candle_core::DType::U32)?)
    }
    fn label(&self) -> String {
        format!("embedding {}", self.name)
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match input {
            &[t] => Ok(vec![t, self.dim]),
            _ => Err(shape_err(
                &self.label(),
                format!("takes rows of token ids of shape [T], got {input:?}"),
            )),
        }
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let shape = self.out_shape(&x.shape)?;
        let (v, d) = (self.vocab, self.dim);
        if let Some(bad) = x
            .data
            .iter()
            .find(|&&t| !(t >= 0.0 && t.fract() == 0.0 && (t as usize) < v))
        {
            return Err(shape_err(
                &self.label(),
                format!("token id {bad} is not an integer in 0..{v}"),
            ));
        }
        let table = ctx.host(&self.weight)?;
        let table = table.as_slice();
        let noise = TableNoise::new(ctx, &self.weight, v, d)?;
        let t_len = x.shape[0];
        let mut out = vec![0.0f32; x.rows * t_len * d];
        out.par_chunks_mut(t_len * d)
            .zip(x.data.par_chunks(t_len))
            .zip(ctx.members.par_iter())
            .for_each(|((o, toks), &member)| {
                let (blk, ss) = ctx.block_scale(member);
                for (dst, &tok) in o.chunks_mut(d).zip(toks) {
                    let t = tok as usize;
                    dst.copy_from_slice(&table[t * d..(t + 1) * d]);
                    noise.add_row(dst, t, blk, ss);
                }
            });
        Ok(Act {
            data: out,
            rows: x.rows,
            shape,
        })
    }
}

/// The noise of a `rows × d` table read row by row (an [`Embedding`], a positional
/// embedding): row `t` of noise block `k` is `A_k[t]·B_kᵀ/√r` (low rank, `r·d` work) or
/// `ε_k[t]` (full).
pub(crate) struct TableNoise<'a> {
    lowrank: Option<(HostData<'a>, HostData<'a>, usize)>,
    full: Option<HostData<'a>>,
    rows: usize,
    d: usize,
}

impl<'a> TableNoise<'a> {
    /// The noise of table parameter `p` (`rows × d`) in `ctx`, shapes checked.
    pub(crate) fn new(ctx: &Ctx<'a>, p: &ParamRef, rows: usize, d: usize) -> Result<Self> {
        let (mut lowrank, mut full) = (None, None);
        match ctx.noise(p) {
            Some(Noise::LowRank { rank, a, b }) => {
                check_noise(ctx, &p.name, a, &[rows, *rank])?;
                check_noise(ctx, &p.name, b, &[d, *rank])?;
                lowrank = Some((HostData::new(a)?, HostData::new(b)?, *rank));
            }
            Some(Noise::Full { eps }) => {
                check_noise(ctx, &p.name, eps, &[rows * d])?;
                full = Some(HostData::new(eps)?);
            }
            _ => {}
        }
        Ok(Self {
            lowrank,
            full,
            rows,
            d,
        })
    }

    /// Add noise block `blk`'s row `t`, times `ss` (σ · sign), to `dst` (`d` values).
    pub(crate) fn add_row(&self, dst: &mut [f32], t: usize, blk: usize, ss: f32) {
        let (v, d) = (self.rows, self.d);
        if let Some((a, b, r)) = &self.lowrank {
            let r = *r;
            let c = ss / (r as f32).sqrt();
            let at = &a.as_slice()[(blk * v + t) * r..(blk * v + t + 1) * r];
            let bk = &b.as_slice()[blk * d * r..(blk + 1) * d * r];
            for (j, y) in dst.iter_mut().enumerate() {
                let mut s = 0.0f32;
                for q in 0..r {
                    s += at[q] * bk[j * r + q];
                }
                *y += c * s;
            }
        } else if let Some(e) = &self.full {
            let ek = &e.as_slice()[(blk * v + t) * d..(blk * v + t + 1) * d];
            for (y, ev) in dst.iter_mut().zip(ek) {
                *y += ss * ev;
            }
        }
    }
}
