//! `Linear`: `y = x Wᵀ + b` (PyTorch's `nn.Linear`, weight `out × in`), and the population
//! matrix product that [`super::Conv2d`] shares.

use candle_core::Tensor;
use eggroll_core::population::HostData;
use eggroll_core::{Error, Noise, Pairing, Result};
use rayon::prelude::*;

use super::{Act, Ctx, Init, Module, ParamRef, TensorParams, Vb, check_noise, shape_err};
use crate::nn::fused::{RowCtx, RowNoise, finish_rows, shared_gemm};

/// Rows per parallel task.
const CHUNK: usize = 64;

/// A fully connected layer over the last dimension of its input rows.
#[derive(Debug, Clone)]
pub struct Linear {
    name: String,
    weight: ParamRef,
    bias: Option<ParamRef>,
    inputs: usize,
    outputs: usize,
}

/// A `Linear` named by `vb` (`<prefix>.weight` `out × in`, `<prefix>.bias`).
pub fn linear(vb: &Vb, inputs: usize, outputs: usize, bias: bool) -> Result<Linear> {
    let bound = 1.0 / (inputs.max(1) as f32).sqrt();
    Ok(Linear {
        name: vb.prefix().to_string(),
        weight: vb.param("weight", &[outputs, inputs], Init::Uniform(bound))?,
        bias: if bias {
            Some(vb.param("bias", &[outputs], Init::Uniform(bound))?)
        } else {
            None
        },
        inputs,
        outputs,
    })
}

impl Module for Linear {
    fn forward_tensor(&self, x: &Tensor, p: &TensorParams<'_>) -> Result<Tensor> {
        let y = p.matmul_t(x, &self.weight)?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(&p.vector(b, x.rank())?)?,
            None => y,
        })
    }
    fn label(&self) -> String {
        format!("linear {}", self.name)
    }
    fn dense_part(&self) -> Option<super::DensePart<'_>> {
        Some(super::DensePart::Linear {
            weight: &self.weight,
            bias: self.bias.as_ref(),
            inputs: self.inputs,
            outputs: self.outputs,
        })
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match input.split_last() {
            Some((&last, rest)) if last == self.inputs => {
                let mut out = rest.to_vec();
                out.push(self.outputs);
                Ok(out)
            }
            _ => Err(shape_err(
                &self.label(),
                format!(
                    "takes rows whose last dimension is {}, got shape {input:?}",
                    self.inputs
                ),
            )),
        }
    }
    fn forward_shared(&self, x: &Act, members: &[u32], ctx: &Ctx<'_>) -> Result<Act> {
        let shape = self.out_shape(&x.shape)?;
        let rows = x.rows * (x.width() / self.inputs);
        let y = shared_matmul(
            &x.data,
            rows,
            self.inputs,
            self.outputs,
            &self.weight,
            self.bias.as_ref(),
            ctx,
            members,
        )?;
        Ok(Act {
            data: y,
            rows: x.rows * members.len(),
            shape,
        })
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let shape = self.out_shape(&x.shape)?;
        // Every vector of the last dimension is one GEMM row of the row's member.
        let per_row = x.width() / self.inputs;
        let ids = expand_ids(ctx.members, per_row);
        let y = population_matmul(
            &x.data,
            &ids,
            self.inputs,
            self.outputs,
            &self.weight,
            self.bias.as_ref(),
            ctx,
        )?;
        Ok(Act {
            data: y,
            rows: x.rows,
            shape,
        })
    }
}

/// Each member id repeated `k` times (the GEMM rows of one activation row).
pub(crate) fn expand_ids(members: &[u32], k: usize) -> Vec<u32> {
    members
        .iter()
        .flat_map(|&m| std::iter::repeat_n(m, k))
        .collect()
}

/// `y (rows × m) = x (rows × n) · Wᵀ + b` with every row's member noise: the shared GEMM,
/// then the fused low-rank (or full) correction and the bias with its noise, in parallel
/// chunks of rows. `weight` is any tensor of `m` rows and `n` values per row.
pub(crate) fn population_matmul(
    x: &[f32],
    ids: &[u32],
    n: usize,
    m: usize,
    weight: &ParamRef,
    bias: Option<&ParamRef>,
    ctx: &Ctx<'_>,
) -> Result<Vec<f32>> {
    let rows = ids.len();
    debug_assert_eq!(x.len(), rows * n);
    let wt = ctx.cache.get_or_make(weight.index, || {
        let w = ctx.host(weight)?;
        let ws = w.as_slice();
        if ws.len() != m * n {
            return Err(Error::Param {
                name: weight.name.clone(),
                reason: format!("{} values, expected {m}×{n}", ws.len()),
            });
        }
        let mut wt = vec![0.0f32; m * n];
        for (k, row) in ws.chunks(n).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                wt[j * m + k] = v;
            }
        }
        Ok(wt)
    })?;
    let b = bias.map(|p| ctx.host(p)).transpose()?;
    let check =
        |name: &str, t: &candle_core::Tensor, want: &[usize]| check_noise(ctx, name, t, want);
    let (mut a_h, mut b_h, mut e_h, mut rank) = (None, None, None, 0);
    match ctx.noise(weight) {
        None | Some(Noise::None) => {}
        Some(Noise::LowRank { rank: r, a, b }) => {
            check(&weight.name, a, &[m, *r])?;
            check(&weight.name, b, &[n, *r])?;
            a_h = Some(HostData::new(a)?);
            b_h = Some(HostData::new(b)?);
            rank = *r;
        }
        Some(Noise::Full { eps }) => {
            check(&weight.name, eps, &[m * n])?;
            e_h = Some(HostData::new(eps)?);
        }
    }
    let bias_noise = match bias {
        Some(p) => ctx.vector_noise(p, m)?,
        None => None,
    };
    let noise = match (&a_h, &b_h, &e_h) {
        (Some(a), Some(b), _) => RowNoise::LowRank {
            a: a.as_slice(),
            b: b.as_slice(),
            r: rank,
        },
        (_, _, Some(e)) => RowNoise::Full(e.as_slice()),
        _ => RowNoise::None,
    };
    let row_ctx = RowCtx {
        sigma: ctx.population.map_or(0.0, |p| p.sigma),
        pairing: ctx.population.map_or(Pairing::Antithetic, |p| p.pairing),
        perturbed: ctx.population.is_some(),
        m,
        n,
        bias: b.as_ref().map(HostData::as_slice),
        bias_noise: bias_noise.as_ref().map(HostData::as_slice),
        noise,
        act: None,
    };
    let mut y = vec![0.0f32; rows * m];
    x.par_chunks(CHUNK * n)
        .zip(y.par_chunks_mut(CHUNK * m))
        .zip(ids.par_chunks(CHUNK))
        .for_each(|((xc, yc), ic)| {
            shared_gemm(xc, &wt, ic.len(), n, m, yc);
            finish_rows(xc, ic, yc, &row_ctx);
        });
    Ok(y)
}

/// [`population_matmul`] for members that all see the same `rows` rows `x`: the shared
/// product `X Wᵀ + b` once, the low-rank corrections of all noise blocks as one product
/// `X · [B_1 … B_K]`, then per member only `r·m` work per row. Returns `members.len() × rows ×
/// m`, member-major. Full-rank weight noise (SimpleES) takes the per-row path.
#[allow(clippy::too_many_arguments)]
pub(crate) fn shared_matmul(
    x: &[f32],
    rows: usize,
    n: usize,
    m: usize,
    weight: &ParamRef,
    bias: Option<&ParamRef>,
    ctx: &Ctx<'_>,
    members: &[u32],
) -> Result<Vec<f32>> {
    let lowrank = match ctx.noise(weight) {
        None => None,
        Some(Noise::LowRank { rank, a, b }) => Some((*rank, a, b)),
        Some(_) => {
            let xx = x.repeat(members.len());
            let ids = expand_ids(members, rows);
            return population_matmul(&xx, &ids, n, m, weight, bias, ctx);
        }
    };
    let plain = Ctx {
        params: ctx.params,
        population: None,
        members: ctx.members,
        cache: ctx.cache,
    };
    let zeros = vec![0u32; rows];
    let y0 = population_matmul(x, &zeros, n, m, weight, bias, &plain)?;
    let bias_noise = match bias {
        Some(p) => ctx.vector_noise(p, m)?,
        None => None,
    };
    // T = X · [B_1 … B_K] (rows × K·r), column (k, q).
    let t_and_a = match lowrank {
        Some((r, a, b)) => {
            check_noise(ctx, &weight.name, a, &[m, r])?;
            check_noise(ctx, &weight.name, b, &[n, r])?;
            let (ah, bh) = (HostData::new(a)?, HostData::new(b)?);
            let bs = bh.as_slice();
            let k = bs.len() / (n * r);
            let kr = k * r;
            let mut bt = vec![0.0f32; n * kr];
            for kk in 0..k {
                for j in 0..n {
                    for q in 0..r {
                        bt[j * kr + kk * r + q] = bs[(kk * n + j) * r + q];
                    }
                }
            }
            let mut t = vec![0.0f32; rows * kr];
            t.par_chunks_mut(CHUNK * kr)
                .zip(x.par_chunks(CHUNK * n))
                .for_each(|(tc, xc)| shared_gemm(xc, &bt, xc.len() / n, n, kr, tc));
            Some((t, ah, r, kr))
        }
        None => None,
    };
    let mut out = vec![0.0f32; members.len() * rows * m];
    out.par_chunks_mut(rows * m)
        .zip(members.par_iter())
        .for_each(|(o, &member)| {
            o.copy_from_slice(&y0);
            if ctx.population.is_none() {
                return;
            }
            let (blk, ss) = ctx.block_scale(member);
            if let Some((t, a, r, kr)) = &t_and_a {
                let c = ss / (*r as f32).sqrt();
                let ak = &a.as_slice()[blk * m * r..(blk + 1) * m * r];
                for (row, orow) in o.chunks_mut(m).enumerate() {
                    let tk = &t[row * kr + blk * r..row * kr + (blk + 1) * r];
                    for (kk, y) in orow.iter_mut().enumerate() {
                        let mut s = 0.0f32;
                        for q in 0..*r {
                            s += tk[q] * ak[kk * r + q];
                        }
                        *y += c * s;
                    }
                }
            }
            if let Some(e) = &bias_noise {
                let ek = &e.as_slice()[blk * m..(blk + 1) * m];
                for orow in o.chunks_mut(m) {
                    for (y, ev) in orow.iter_mut().zip(ek) {
                        *y += ss * ev;
                    }
                }
            }
        });
    Ok(out)
}
