//! `Embedding` (PyTorch's `nn.Embedding`, table `V × d`): token `t` of a member reads row `t`
//! of `table + σ s A Bᵀ / √r`, i.e. `table[t] + σ s (A[t] · Bᵀ) / √r` — `r·d` work per token.

use eggroll_core::population::HostData;
use eggroll_core::{Error, Noise, Result};
use rayon::prelude::*;

use super::{Act, Ctx, Init, Module, ParamRef, Vb, check_noise, shape_err};

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
        let table = ctx
            .params
            .iter()
            .nth(self.weight.index)
            .map(|p| HostData::new(p.tensor()))
            .transpose()?
            .ok_or_else(|| Error::Param {
                name: self.weight.name.clone(),
                reason: "missing from the parameters".into(),
            })?;
        let table = table.as_slice();
        let pop = ctx.population;
        let noise = ctx.noise(&self.weight);
        let name = &self.weight.name;
        let (a, b, e, r) = match noise {
            Some(Noise::LowRank { rank, a, b }) => {
                check_noise(ctx, name, a, &[v, *rank])?;
                check_noise(ctx, name, b, &[d, *rank])?;
                (
                    Some(HostData::new(a)?),
                    Some(HostData::new(b)?),
                    None,
                    *rank,
                )
            }
            Some(Noise::Full { eps }) => {
                check_noise(ctx, name, eps, &[v * d])?;
                (None, None, Some(HostData::new(eps)?), 0)
            }
            _ => (None, None, None, 0),
        };
        let t_len = x.shape[0];
        let mut out = vec![0.0f32; x.rows * t_len * d];
        out.par_chunks_mut(t_len * d)
            .zip(x.data.par_chunks(t_len))
            .zip(ctx.members.par_iter())
            .for_each(|((o, toks), &member)| {
                let (blk, sign) =
                    pop.map_or((0, 0.0), |p| p.pairing.block_and_sign(member as usize));
                let ss = pop.map_or(0.0, |p| p.sigma) * sign;
                for (ti, &tok) in toks.iter().enumerate() {
                    let t = tok as usize;
                    let dst = &mut o[ti * d..(ti + 1) * d];
                    dst.copy_from_slice(&table[t * d..(t + 1) * d]);
                    if let (Some(a), Some(b)) = (&a, &b) {
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
                    } else if let Some(e) = &e {
                        let ek = &e.as_slice()[blk * v * d + t * d..blk * v * d + (t + 1) * d];
                        for (y, ev) in dst.iter_mut().zip(ek) {
                            *y += ss * ev;
                        }
                    }
                }
            });
        Ok(Act {
            data: out,
            rows: x.rows,
            shape,
        })
    }
}
