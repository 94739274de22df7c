//! `LayerNorm` and `RMSNorm` over the last dimension (PyTorch's `nn.LayerNorm` with
//! `weight`/`bias`, `nn.RMSNorm` with `weight`); their gains and biases are vectors and get
//! full noise per member.

use candle_core::Tensor;
use eggroll_core::Result;
use rayon::prelude::*;

use super::{Act, Ctx, Init, Module, ParamRef, TensorParams, Vb, shape_err};

/// A normalisation over the last dimension of every row.
#[derive(Debug, Clone)]
pub struct Norm {
    name: String,
    rms: bool,
    weight: ParamRef,
    bias: Option<ParamRef>,
    dim: usize,
    eps: f32,
}

/// `LayerNorm(dim)` with gain and bias (eps 1e-5), named by `vb`.
pub fn layer_norm(vb: &Vb, dim: usize) -> Result<Norm> {
    Ok(Norm {
        name: vb.prefix().to_string(),
        rms: false,
        weight: vb.param("weight", &[dim], Init::Const(1.0))?,
        bias: Some(vb.param("bias", &[dim], Init::Const(0.0))?),
        dim,
        eps: 1e-5,
    })
}

/// `RMSNorm(dim)` with a gain (eps 1e-6), named by `vb`.
pub fn rms_norm(vb: &Vb, dim: usize) -> Result<Norm> {
    Ok(Norm {
        name: vb.prefix().to_string(),
        rms: true,
        weight: vb.param("weight", &[dim], Init::Const(1.0))?,
        bias: None,
        dim,
        eps: 1e-6,
    })
}

impl Module for Norm {
    fn forward_tensor(&self, x: &Tensor, p: &TensorParams<'_>) -> Result<Tensor> {
        let last = x.rank() - 1;
        let eps = f64::from(self.eps);
        let n = if self.rms {
            let ms = x.sqr()?.mean_keepdim(last)?;
            x.broadcast_div(&(ms + eps)?.sqrt()?)?
        } else {
            let c = x.broadcast_sub(&x.mean_keepdim(last)?)?;
            let var = c.sqr()?.mean_keepdim(last)?;
            c.broadcast_div(&(var + eps)?.sqrt()?)?
        };
        let y = n.broadcast_mul(&p.vector(&self.weight, x.rank())?)?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(&p.vector(b, x.rank())?)?,
            None => y,
        })
    }
    fn label(&self) -> String {
        format!(
            "{} {}",
            if self.rms { "rms_norm" } else { "layer_norm" },
            self.name
        )
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.last() == Some(&self.dim) {
            Ok(input.to_vec())
        } else {
            Err(shape_err(
                &self.label(),
                format!(
                    "normalises a last dimension of {}, got shape {input:?}",
                    self.dim
                ),
            ))
        }
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let shape = self.out_shape(&x.shape)?;
        let d = self.dim;
        let (g, b) = (
            ctx.host(&self.weight)?,
            self.bias.as_ref().map(|p| ctx.host(p)).transpose()?,
        );
        let gn = ctx.vector_noise(&self.weight, d)?;
        let bn = match &self.bias {
            Some(p) => ctx.vector_noise(p, d)?,
            None => None,
        };
        let (g, b) = (g.as_slice(), b.as_ref().map(|b| b.as_slice()));
        let (gn, bn) = (
            gn.as_ref().map(|e| e.as_slice()),
            bn.as_ref().map(|e| e.as_slice()),
        );
        let width = x.width();
        let mut out = x.data.clone();
        out.par_chunks_mut(width)
            .zip(ctx.members.par_iter())
            .for_each_init(
                || (vec![0.0f32; d], vec![0.0f32; d]),
                |(gain, shift), (row, &member)| {
                    let (blk, ss) = ctx.block_scale(member);
                    // This member's gain and shift, formed once per row.
                    for (j, (gv, sv)) in gain.iter_mut().zip(shift.iter_mut()).enumerate() {
                        *gv = g[j] + gn.map_or(0.0, |e| ss * e[blk * d + j]);
                        *sv = b.map_or(0.0, |b| b[j]) + bn.map_or(0.0, |e| ss * e[blk * d + j]);
                    }
                    for v in row.chunks_mut(d) {
                        let n = d as f32;
                        let (mean, denom) = if self.rms {
                            let ms = v.iter().map(|a| a * a).sum::<f32>() / n;
                            (0.0, (ms + self.eps).sqrt())
                        } else {
                            let mean = v.iter().sum::<f32>() / n;
                            let var = v.iter().map(|a| (a - mean) * (a - mean)).sum::<f32>() / n;
                            (mean, (var + self.eps).sqrt())
                        };
                        for ((a, &gv), &sv) in v.iter_mut().zip(gain.iter()).zip(shift.iter()) {
                            *a = (*a - mean) / denom * gv + sv;
                        }
                    }
                },
            );
        Ok(Act {
            data: out,
            rows: x.rows,
            shape,
        })
    }
}
