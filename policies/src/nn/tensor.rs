//! The candle-ops forward of the layers, with or without a population: what
//! [`Module::forward_tensor`](super::Module::forward_tensor) reads its parameters through.
//!
//! Without a population ([`TensorParams::plain`]) every helper is the plain, differentiable op
//! (backprop trains the same model). With one ([`TensorParams::population`]) row `i` of the
//! batch is member `members[i]`, and every helper adds that member's noise the EGGROLL way,
//! as batched candle ops on whatever device the tensors live (CPU, CUDA): a matrix's low-rank
//! correction `σ s (x B) Aᵀ / √r` as two batched matmuls, a vector's full noise as a broadcast
//! add. `W + σE` is never formed. The layers' code is the same for both; only these helpers
//! look at the noise.

use candle_core::{Device, Tensor};
use eggroll_core::{Error, Noise, Params, Population, Result};

use super::ParamRef;

/// One parameter's noise gathered per batch row, scales folded in.
#[derive(Debug, Clone)]
enum RowNoise {
    /// Frozen or plain.
    None,
    /// `a` `(rows, m, r)` times `σ s_i/√r`, `b` `(rows, n, r)`.
    LowRank { a: Tensor, b: Tensor },
    /// `(rows, numel)` times `σ s_i`.
    Full { eps: Tensor },
}

/// The parameters (declaration order) and, for a population forward, every parameter's noise
/// per batch row.
#[derive(Debug, Clone)]
pub struct TensorParams<'a> {
    params: &'a [Tensor],
    noise: Option<Vec<RowNoise>>,
}

impl<'a> TensorParams<'a> {
    /// The plain forward's parameters.
    pub fn plain(params: &'a [Tensor]) -> Self {
        Self {
            params,
            noise: None,
        }
    }

    /// The population forward: batch row `i` is member `members[i]` of `population`. The
    /// noise is gathered onto `params`' device once here (its blocks and signs per row).
    pub fn population(
        params: &'a [Tensor],
        population: &Population,
        members: &[u32],
    ) -> Result<Self> {
        crate::nn::fused::check_population_size(params.len(), population)?;
        crate::nn::fused::check_members(Some(members), members.len(), Some(population.size))?;
        let device = params.first().map_or(Device::Cpu, |p| p.device().clone());
        let rows = members.len();
        let (mut blk, mut sig) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        for &m in members {
            let (b, s) = population.pairing.block_and_sign(m as usize);
            blk.push(b as u32);
            sig.push(population.sigma * s);
        }
        let blk = Tensor::from_vec(blk, rows, &device)?;
        let sig = Tensor::from_vec(sig, rows, &device)?;
        let mut noise = Vec::with_capacity(params.len());
        for (i, (p, n)) in params.iter().zip(&population.noise).enumerate() {
            noise.push(match n {
                Noise::None => RowNoise::None,
                Noise::Full { eps } => {
                    let e = eps.to_device(&device)?.index_select(&blk, 0)?;
                    RowNoise::Full {
                        eps: e.broadcast_mul(&sig.unsqueeze(1)?)?,
                    }
                }
                Noise::LowRank { rank, a, b } => {
                    let m = p.dims()[0];
                    let a = a.to_device(&device)?.index_select(&blk, 0)?;
                    let b = b.to_device(&device)?.index_select(&blk, 0)?;
                    let n = p.elem_count() / m.max(1);
                    if a.dims() != [rows, m, *rank] || b.dims() != [rows, n, *rank] {
                        return Err(Error::Param {
                            name: format!("population.noise[{i}]"),
                            reason: format!(
                                "low-rank factors {:?}, {:?} for a {m}×{n} parameter",
                                a.dims(),
                                b.dims()
                            ),
                        });
                    }
                    let scale = sig.affine(1.0 / (*rank as f64).sqrt(), 0.0)?;
                    RowNoise::LowRank {
                        a: a.broadcast_mul(&scale.reshape((rows, 1, 1))?)?,
                        b,
                    }
                }
            });
        }
        Ok(Self {
            params,
            noise: Some(noise),
        })
    }

    /// The value of `p`.
    pub fn get(&self, p: &ParamRef) -> &'a Tensor {
        &self.params[p.index]
    }

    fn noise(&self, p: &ParamRef) -> &RowNoise {
        match &self.noise {
            Some(n) => &n[p.index],
            None => &RowNoise::None,
        }
    }

    /// `x Wᵀ` over the last dimension of `x` (`[rows, …, n]`) for the `(m, n)` matrix `w`
    /// (any parameter of ≥ 2 dims, seen as `(dims[0], rest)`), plus each row's noise.
    pub fn matmul_t(&self, x: &Tensor, w: &ParamRef) -> Result<Tensor> {
        let wt = self.get(w);
        let m = wt.dims()[0];
        let n = wt.elem_count() / m.max(1);
        let y = x.broadcast_matmul(&wt.reshape((m, n))?.t()?)?;
        let dims = x.dims().to_vec();
        let rows = dims[0];
        let per_row = x.elem_count() / (rows * n).max(1);
        let xs = || x.reshape((rows, per_row, n));
        let mut out_dims = dims.clone();
        *out_dims.last_mut().expect("rank ≥ 1") = m;
        Ok(match self.noise(w) {
            RowNoise::None => y,
            RowNoise::LowRank { a, b } => {
                let c = xs()?.matmul(b)?.matmul(&a.t()?)?;
                (y + c.reshape(out_dims)?)?
            }
            RowNoise::Full { eps } => {
                let c = xs()?.matmul(&eps.reshape((rows, m, n))?.t()?)?;
                (y + c.reshape(out_dims)?)?
            }
        })
    }

    /// The vector `p` (a bias, a norm gain) to broadcast against a tensor of rank `rank`
    /// whose last dimension it spans: `(len)` without noise, `(rows, 1, …, 1, len)` with it.
    pub fn vector(&self, p: &ParamRef, rank: usize) -> Result<Tensor> {
        let v = self.get(p);
        Ok(match self.noise(p) {
            RowNoise::None => v.clone(),
            RowNoise::Full { eps } => {
                let rows = eps.dims()[0];
                let mut shape = vec![rows];
                shape.extend(std::iter::repeat_n(1, rank.saturating_sub(2)));
                shape.push(v.elem_count());
                eps.broadcast_add(&v.unsqueeze(0)?)?.reshape(shape)?
            }
            RowNoise::LowRank { .. } => {
                return Err(Error::Param {
                    name: p.name.clone(),
                    reason: "a vector parameter takes full noise, not low-rank".into(),
                });
            }
        })
    }

    /// Rows of the `(V, d)` table `p` at token ids `ids` (`(rows, T)`, u32): `(rows, T, d)`,
    /// each row's tokens read from its member's table.
    pub fn table_rows(&self, p: &ParamRef, ids: &Tensor) -> Result<Tensor> {
        let table = self.get(p);
        let (v, d) = table.dims2()?;
        let (rows, t) = ids.dims2()?;
        let plain = table
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((rows, t, d))?;
        let gather = |src: &Tensor, width: usize| -> Result<Tensor> {
            let idx = ids
                .unsqueeze(2)?
                .broadcast_as((rows, t, width))?
                .contiguous()?;
            Ok(src.contiguous()?.gather(&idx, 1)?)
        };
        Ok(match self.noise(p) {
            RowNoise::None => plain,
            RowNoise::LowRank { a, b } => {
                let r = a.dims()[2];
                (plain + gather(a, r)?.matmul(&b.t()?)?)?
            }
            RowNoise::Full { eps } => (plain + gather(&eps.reshape((rows, v, d))?, d)?)?,
        })
    }

    /// The first `t` rows of the `(L, d)` table `p`: `(1, t, d)`, or `(rows, t, d)` with
    /// each row's noise.
    pub fn table_prefix(&self, p: &ParamRef, t: usize) -> Result<Tensor> {
        let table = self.get(p);
        let (l, d) = table.dims2()?;
        let plain = table.narrow(0, 0, t)?.unsqueeze(0)?;
        Ok(match self.noise(p) {
            RowNoise::None => plain,
            RowNoise::LowRank { a, b } => {
                plain.broadcast_add(&a.narrow(1, 0, t)?.contiguous()?.matmul(&b.t()?)?)?
            }
            RowNoise::Full { eps } => {
                let rows = eps.dims()[0];
                plain.broadcast_add(&eps.reshape((rows, l, d))?.narrow(1, 0, t)?)?
            }
        })
    }

    /// `conv2d(x, w)` for `x` `(rows, cin, H, W)` and the `(cout, cin, k, k)` kernel `w`, plus
    /// each row's noise: the kernel's `(cout, cin·k·k)` matrix gets `σ s A Bᵀ/√r`, applied as
    /// a grouped convolution with each row's `r` kernels `Bᵀ` and a batched matmul with `A`.
    pub fn conv2d(
        &self,
        x: &Tensor,
        w: &ParamRef,
        padding: usize,
        stride: usize,
    ) -> Result<Tensor> {
        let kernel = self.get(w);
        let (cout, cin, kh, kw) = kernel.dims4()?;
        let y = x.conv2d(kernel, padding, stride, 1, 1)?;
        let (rows, _, ho, wo) = y.dims4()?;
        let (_, _, h, wd) = x.dims4()?;
        let grouped = |k: &Tensor, per_row: usize| -> Result<Tensor> {
            // k: (rows·per_row, cin, kh, kw) → (rows, per_row, Ho·Wo).
            let xg = x.reshape((1, rows * cin, h, wd))?;
            Ok(xg
                .conv2d(k, padding, stride, 1, rows)?
                .reshape((rows, per_row, ho * wo))?)
        };
        Ok(match self.noise(w) {
            RowNoise::None => y,
            RowNoise::LowRank { a, b } => {
                let r = a.dims()[2];
                let k = b.t()?.contiguous()?.reshape((rows * r, cin, kh, kw))?;
                let c = a.matmul(&grouped(&k, r)?)?; // (rows, cout, Ho·Wo)
                (y + c.reshape((rows, cout, ho, wo))?)?
            }
            RowNoise::Full { eps } => {
                let k = eps.reshape((rows * cout, cin, kh, kw))?;
                (y + grouped(&k, cout)?.reshape((rows, cout, ho, wo))?)?
            }
        })
    }
}

/// The population forward of `model` as candle ops on the parameters' device: `x` is
/// `[rows, …input shape]` on that device, row `i` is member `members[i]` (member `i` when
/// None). Equals [`super::Model::forward`] (the CPU fused path) to float rounding.
pub fn population_forward(
    model: &super::Model,
    params: &Params,
    population: &Population,
    x: &Tensor,
    members: Option<&[u32]>,
) -> Result<Tensor> {
    model.check_params(params)?;
    let rows = x.dim(0)?;
    let implicit: Vec<u32>;
    let ids = match members {
        Some(m) => m,
        None => {
            implicit = (0..rows as u32).collect();
            &implicit
        }
    };
    if ids.len() != rows {
        return Err(Error::Param {
            name: "members".into(),
            reason: format!("{} member ids for {rows} rows", ids.len()),
        });
    }
    let tensors: Vec<Tensor> = params.iter().map(|p| p.tensor().clone()).collect();
    let tp = TensorParams::population(&tensors, population, ids)?;
    model.forward_with(x, &tp)
}
