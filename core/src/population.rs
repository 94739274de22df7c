//! A generation's population: base parameters plus, per parameter, the noise of every pair.

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::kernels;
use crate::noise;
use crate::params::{ParamKind, Params};

/// How members map to noise blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairing {
    /// Members `2k` and `2k + 1` share noise block `k` with signs `+1` and `−1`.
    Antithetic,
    /// Member `i` uses noise block `i` with sign `+1`.
    Independent,
}

impl Pairing {
    /// Member → (noise block, sign).
    #[inline]
    pub fn block_and_sign(self, member: usize) -> (usize, f32) {
        match self {
            Pairing::Antithetic => (member / 2, if member % 2 == 1 { -1.0 } else { 1.0 }),
            Pairing::Independent => (member, 1.0),
        }
    }
}

/// The noise of one parameter for a whole population.
#[derive(Debug, Clone)]
pub enum Noise {
    /// Not perturbed (frozen).
    None,
    /// Low-rank noise `E_k = A_k B_kᵀ / √r`; `a` is `(K, m, r)`, `b` is `(K, n, r)`.
    LowRank {
        /// Rank `r`.
        rank: usize,
        /// `A` factors, `(K, m, r)`.
        a: Tensor,
        /// `B` factors, `(K, n, r)`.
        b: Tensor,
    },
    /// Full Gaussian noise `ε_k` with the parameter's shape, stored `(K, numel)`.
    Full {
        /// The noise, `(K, numel)`.
        eps: Tensor,
    },
}

/// What noise a strategy asks for, per parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseSpec {
    /// No noise (frozen parameter).
    None,
    /// Low-rank noise of the given rank (matrices only).
    LowRank(usize),
    /// Full-shape Gaussian noise.
    Full,
}

/// Everything an evaluator needs to evaluate one generation: member `i`'s parameters are
/// `θ + σ · sign(i) · E_{noise_index(i)}` for every perturbed parameter.
#[derive(Debug, Clone)]
pub struct Population {
    /// Generation number.
    pub generation: u64,
    /// Noise epoch the noise was drawn for (generation / noise_reuse).
    pub epoch: u64,
    /// Seed of the noise.
    pub seed: u64,
    /// Number of members.
    pub size: usize,
    /// Noise scale σ of this generation.
    pub sigma: f32,
    /// Member → noise block mapping.
    pub pairing: Pairing,
    /// One entry per parameter, in the order of the [`Params`].
    pub noise: Vec<Noise>,
}

/// Host access to the f32 data of a tensor: CPU storage is borrowed (no copy) for as long as
/// this value lives; other devices are copied to the host once.
pub enum HostData<'t> {
    /// Borrowed CPU storage and the tensor's contiguous range in it.
    Borrowed(candle_core::StorageRef<'t>, usize, usize),
    /// A host copy.
    Owned(Vec<f32>),
}

impl<'t> HostData<'t> {
    /// Borrow or copy `t` (any layout; non-contiguous tensors are copied).
    pub fn new(t: &'t Tensor) -> Result<Self> {
        let (storage, layout) = t.storage_and_layout();
        if let candle_core::Storage::Cpu(cpu) = &*storage
            && let Some((start, end)) = layout.contiguous_offsets()
        {
            cpu.as_slice::<f32>()?;
            return Ok(HostData::Borrowed(storage, start, end));
        }
        drop(storage);
        Ok(HostData::Owned(t.flatten_all()?.to_vec1::<f32>()?))
    }

    /// The data.
    pub fn as_slice(&self) -> &[f32] {
        match self {
            HostData::Borrowed(storage, start, end) => match &**storage {
                candle_core::Storage::Cpu(cpu) => {
                    &cpu.as_slice::<f32>().expect("checked f32 at construction")[*start..*end]
                }
                _ => unreachable!("borrowed only from CPU storage"),
            },
            HostData::Owned(v) => v,
        }
    }
}

/// Run `f` on the contiguous host data of an f32 tensor, borrowing CPU storage without a copy.
pub fn with_host<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    {
        let (storage, layout) = t.storage_and_layout();
        if let candle_core::Storage::Cpu(cpu) = &*storage
            && let Some((start, end)) = layout.contiguous_offsets()
        {
            let s = cpu.as_slice::<f32>()?;
            return Ok(f(&s[start..end]));
        }
    }
    let v = t.flatten_all()?.to_vec1::<f32>()?;
    Ok(f(&v))
}

fn round_even(x: usize) -> usize {
    x + (x & 1)
}

impl Population {
    /// Draw the noise of generation `generation` for `params`.
    ///
    /// The block of pair `k` of a parameter has key
    /// [`noise::block_key`]`(seed, param id, epoch, k)`. For a low-rank matrix `(m × n)` the
    /// block holds `A` (`m·r` numbers, row-major `(m, r)`) from position 0 and `B` (`n·r`
    /// numbers) from position `m·r` rounded up to even.
    #[allow(clippy::too_many_arguments)]
    pub fn generate(
        params: &Params,
        specs: &[NoiseSpec],
        size: usize,
        pairing: Pairing,
        seed: u64,
        generation: u64,
        epoch: u64,
        sigma: f32,
    ) -> Result<Population> {
        assert_eq!(specs.len(), params.len());
        let blocks = match pairing {
            Pairing::Antithetic => size / 2,
            Pairing::Independent => size,
        };
        let device = params.device();
        let mut noise = Vec::with_capacity(params.len());
        for (p, spec) in params.iter().zip(specs) {
            noise.push(match (*spec, p.kind()) {
                (NoiseSpec::None, _) => Noise::None,
                (NoiseSpec::LowRank(r), ParamKind::Matrix { rows, cols }) => {
                    let (a, b) = draw_lowrank(seed, p.id(), epoch, blocks, rows, cols, r);
                    Noise::LowRank {
                        rank: r,
                        a: Tensor::from_vec(a, (blocks, rows, r), &device)?,
                        b: Tensor::from_vec(b, (blocks, cols, r), &device)?,
                    }
                }
                (NoiseSpec::LowRank(_), ParamKind::Other) | (NoiseSpec::Full, _) => {
                    let len = p.numel();
                    let mut eps = vec![0.0f32; blocks * len];
                    noise::fill_pairs(seed, p.id(), epoch, 0, len, &mut eps);
                    Noise::Full {
                        eps: Tensor::from_vec(eps, (blocks, len), &device)?,
                    }
                }
            });
        }
        Ok(Population {
            generation,
            epoch,
            seed,
            size,
            sigma,
            pairing,
            noise,
        })
    }

    /// The sign `s_i` of member `i` (`+1` or `−1`).
    pub fn sign(&self, member: usize) -> f32 {
        self.pairing.block_and_sign(member).1
    }

    /// The noise block used by member `i`.
    pub fn noise_index(&self, member: usize) -> usize {
        self.pairing.block_and_sign(member).0
    }

    /// Number of noise blocks (pairs for antithetic sampling).
    pub fn num_blocks(&self) -> usize {
        match self.pairing {
            Pairing::Antithetic => self.size / 2,
            Pairing::Independent => self.size,
        }
    }

    /// Member `member`'s perturbation direction for parameter `param` (index in `params`),
    /// dense in the parameter's row-major layout, sign included and σ NOT applied:
    /// `s·A_k B_kᵀ/√r` (low rank), `s·ε_k` (full noise), zeros (frozen). Member `member`'s
    /// value of the parameter is `θ + σ · member_noise(..)`; the dashboard draws it as E.
    pub fn member_noise(&self, params: &Params, param: usize, member: usize) -> Result<Vec<f32>> {
        let p = params.iter().nth(param).ok_or_else(|| Error::Param {
            name: format!("#{param}"),
            reason: format!("no such parameter (there are {})", params.len()),
        })?;
        if member >= self.size {
            return Err(Error::Param {
                name: p.name().to_string(),
                reason: format!("member {member} of a population of {}", self.size),
            });
        }
        let mut out = vec![0.0f32; p.numel()];
        add_noise(
            &self.noise[param],
            p.dims(),
            self.noise_index(member),
            self.sign(member),
            &mut out,
        )?;
        Ok(out)
    }

    /// Write member `i`'s parameters `θ + σ s_i E_i` into `out` (one vector per parameter),
    /// given the host values `base` of the base parameters.
    pub fn materialize_into(
        &self,
        params: &Params,
        base: &[Vec<f32>],
        member: usize,
        out: &mut [Vec<f32>],
    ) -> Result<()> {
        let k = self.noise_index(member);
        let s = self.sign(member) * self.sigma;
        for ((p, noise), (b, o)) in params
            .iter()
            .zip(&self.noise)
            .zip(base.iter().zip(out.iter_mut()))
        {
            o.clear();
            o.extend_from_slice(b);
            add_noise(noise, p.dims(), k, s, o)?;
        }
        Ok(())
    }

    /// Member `i`'s parameters as host vectors.
    pub fn materialize(
        &self,
        params: &Params,
        base: &[Vec<f32>],
        member: usize,
    ) -> Result<Vec<Vec<f32>>> {
        let mut out = vec![Vec::new(); params.len()];
        self.materialize_into(params, base, member, &mut out)?;
        Ok(out)
    }

    /// Per-block weights `w_k = Σ_{i uses block k} f̃_i s_i`.
    pub fn block_weights(&self, shaped: &[f32]) -> Vec<f32> {
        let mut w = vec![0.0f32; self.num_blocks()];
        for (i, f) in shaped.iter().enumerate() {
            w[self.noise_index(i)] += f * self.sign(i);
        }
        w
    }

    /// `coef · Σ_i f̃_i s_i E_i` for every perturbed parameter (`None` for frozen ones).
    ///
    /// Low-rank parameters use one GEMM `(diag(w) A_stack)ᵀ B_stack` (scaled by `coef/√r`);
    /// full-noise parameters one weighted sum of rows.
    ///
    /// CPU parameters use the deterministic host kernels ([`kernels::lowrank_update`]); other
    /// devices (CUDA) the same products as candle ops on the device (cuBLAS), see
    /// [`weighted_noise_sum_ops`](Self::weighted_noise_sum_ops).
    pub fn weighted_noise_sum(
        &self,
        params: &Params,
        shaped: &[f32],
        coef: f32,
    ) -> Result<Vec<Option<Tensor>>> {
        let host = matches!(params.device(), Device::Cpu);
        self.weighted_noise_sum_on(params, shaped, coef, host)
    }

    /// [`weighted_noise_sum`](Self::weighted_noise_sum) through candle ops on the parameters'
    /// device, whatever it is: the path GPU parameters take, callable on the CPU for testing.
    pub fn weighted_noise_sum_ops(
        &self,
        params: &Params,
        shaped: &[f32],
        coef: f32,
    ) -> Result<Vec<Option<Tensor>>> {
        self.weighted_noise_sum_on(params, shaped, coef, false)
    }

    fn weighted_noise_sum_on(
        &self,
        params: &Params,
        shaped: &[f32],
        coef: f32,
        host: bool,
    ) -> Result<Vec<Option<Tensor>>> {
        let w = self.block_weights(shaped);
        let device = params.device();
        let mut out = Vec::with_capacity(params.len());
        for (p, noise) in params.iter().zip(&self.noise) {
            out.push(match noise {
                Noise::None => None,
                Noise::LowRank { rank, a, b } => {
                    let (m, r) = (p.dims()[0], *rank);
                    let n = p.numel() / m.max(1);
                    let c = coef / (r as f32).sqrt();
                    Some(match host {
                        true => {
                            let wc: Vec<f32> = w.iter().map(|x| x * c).collect();
                            let g = with_host(a, |a| {
                                with_host(b, |b| kernels::lowrank_update(a, b, &wc, m, n, r))
                            })??;
                            Tensor::from_vec(g, p.dims(), &device)?
                        }
                        false => {
                            let kk = w.len();
                            let wt = Tensor::from_slice(&w, (kk, 1, 1), &device)?;
                            let aw = a
                                .broadcast_mul(&wt)?
                                .permute((1, 0, 2))?
                                .reshape((m, kk * r))?;
                            let bs = b.permute((1, 0, 2))?.reshape((n, kk * r))?;
                            aw.matmul(&bs.t()?)?
                                .affine(c as f64, 0.0)?
                                .reshape(p.dims())?
                        }
                    })
                }
                Noise::Full { eps } => {
                    let len = p.numel();
                    Some(match host {
                        true => {
                            let wc: Vec<f32> = w.iter().map(|x| x * coef).collect();
                            let g = with_host(eps, |e| kernels::full_update(e, &wc, len))?;
                            Tensor::from_vec(g, p.dims(), &device)?
                        }
                        false => {
                            let wt = Tensor::from_slice(&w, (1, w.len()), &device)?;
                            wt.matmul(eps)?
                                .affine(coef as f64, 0.0)?
                                .reshape(p.dims())?
                        }
                    })
                }
            });
        }
        Ok(out)
    }
}

/// `out += scale · E_k` for one parameter of shape `dims` and its noise (block `k`): the one
/// place a member's perturbation is formed densely (materialising members, the dashboard's E).
fn add_noise(noise: &Noise, dims: &[usize], k: usize, scale: f32, out: &mut [f32]) -> Result<()> {
    match noise {
        Noise::None => {}
        Noise::Full { eps } => {
            let len = out.len();
            with_host(eps, |e| {
                for (x, e) in out.iter_mut().zip(&e[k * len..(k + 1) * len]) {
                    *x += scale * *e;
                }
            })?;
        }
        Noise::LowRank { rank, a, b } => {
            let (m, r) = (dims[0], *rank);
            let n = dims[1..].iter().product::<usize>();
            let c = scale / (r as f32).sqrt();
            with_host(a, |a| {
                with_host(b, |bb| {
                    let ak = &a[k * m * r..(k + 1) * m * r];
                    let bk = &bb[k * n * r..(k + 1) * n * r];
                    for i in 0..m {
                        let row = &mut out[i * n..(i + 1) * n];
                        for q in 0..r {
                            let ca = c * ak[i * r + q];
                            for (j, x) in row.iter_mut().enumerate() {
                                *x += ca * bk[j * r + q];
                            }
                        }
                    }
                })
            })??;
        }
    }
    Ok(())
}

/// Draw the low-rank factors of `blocks` pairs for an `(m × n)` matrix at rank `r`.
pub fn draw_lowrank(
    seed: u64,
    param_id: u64,
    epoch: u64,
    blocks: usize,
    m: usize,
    n: usize,
    r: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut a = vec![0.0f32; blocks * m * r];
    let mut b = vec![0.0f32; blocks * n * r];
    let b_start = round_even(m * r) as u64;
    let per_task = (4096 / ((m + n) * r)).max(1);
    a.par_chunks_mut(m * r * per_task)
        .zip(b.par_chunks_mut(n * r * per_task))
        .enumerate()
        .for_each(|(t, (ac, bc))| {
            for (i, (ak, bk)) in ac.chunks_mut(m * r).zip(bc.chunks_mut(n * r)).enumerate() {
                let key = noise::block_key(seed, param_id, epoch, (t * per_task + i) as u64);
                noise::fill_block(key, 0, ak);
                noise::fill_block(key, b_start, bk);
            }
        });
    (a, b)
}
