//! The population forward on any candle [`Device`] — the path `--device cuda` runs.
//!
//! Per layer: the shared product `Y = H Wᵀ` is candle's matmul (cuBLAS on a GPU), then ONE
//! custom op, [`FinishOp`], adds every row's low-rank correction `(σ s_i/√r)(h_i B_i) A_iᵀ`,
//! the bias with its noise, and the activation, in place. `FinishOp` has a CPU body (Rust,
//! parallel over rows) and a CUDA body (`kernels/lowrank.cu`, one block per row); everything
//! else is the same code on every device. `W + σE` is never formed.
//!
//! The alternative [`LowRankPath::Ops`] composes candle's generic ops instead (gathered
//! batched matmuls); it also handles full-rank noise (SimpleES), and `eggroll bench forward`
//! reports both so the faster one can be chosen by measurement.
//!
//! The generation's noise is drawn on the host by `eggroll-core` (the same counters as the
//! CPU path) and lives on the device for the whole generation: it is uploaded once, when the
//! population is created on the parameters' device. Per call, only the input rows, the rows'
//! member ids and the outputs move.
//!
//! On the CPU, [`crate::PopulationForward`] stays the training path: it fuses all layers per
//! row chunk while they are in cache and its results do not depend on the batch composition.

use candle_core::{CpuStorage, DType, Device, Layout, Tensor};
use eggroll_core::population::HostData;
use eggroll_core::{Error, Noise, Pairing, Params, Population, Result};
use rayon::prelude::*;

use crate::mlp::{Activation, MlpConfig};

/// How the per-row low-rank correction is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LowRankPath {
    /// One fused custom op per layer ([`FinishOp`]).
    #[default]
    Fused,
    /// candle's generic ops: gather the rows' factors, two batched matmuls, broadcast adds.
    Ops,
}

struct DeviceLayer {
    /// `(m, n)`.
    w: Tensor,
    bias: Option<Tensor>,
    /// Low-rank factors `(K, m, r)`, `(K, n, r)` and `r`.
    lowrank: Option<(Tensor, Tensor, usize)>,
    /// Full noise `(K, m·n)`.
    full: Option<Tensor>,
    /// Bias noise `(K, m)`.
    bias_eps: Option<Tensor>,
    m: usize,
    n: usize,
}

/// A population forward whose weights and noise live on a candle device. Build once per
/// generation; call [`forward`](DeviceForward::forward) at every environment step.
///
/// ```
/// use candle_core::Device;
/// use eggroll_core::{Eggroll, EsConfig, Strategy};
/// use eggroll_policies::{Activation, DeviceForward, MlpConfig};
///
/// let cfg = MlpConfig { sizes: vec![4, 8, 2], activation: Activation::Tanh, bias: true };
/// // With the `cuda` feature: `let device = Device::new_cuda(0)?;`
/// let device = Device::Cpu;
/// let params = cfg.init(0, &Device::Cpu)?.to_device(&device)?;
/// let es = EsConfig { population_size: 6, ..EsConfig::default() };
/// let population = Eggroll::new(es, &params)?.ask(&params, 0)?;
/// let fwd = DeviceForward::new(&cfg, &params, Some(&population), &device)?;
/// let mut actions = vec![0.0f32; 6 * 2];
/// fwd.forward(&[0.1f32; 6 * 4], None, &mut actions)?; // row i is member i
/// # Ok::<(), eggroll_core::Error>(())
/// ```
pub struct DeviceForward {
    config: MlpConfig,
    layers: Vec<DeviceLayer>,
    sigma: f32,
    pairing: Pairing,
    perturbed: bool,
    /// Members of the population (None: plain inference).
    size: Option<usize>,
    device: Device,
    path: LowRankPath,
}

/// Per-row data of one call: the noise block, `σ·sign/√r` per layer rank, and `σ·sign`.
struct Rows {
    blk: Tensor,
    blk_host: Vec<u32>,
    sig: Vec<f32>,
    sig_t: Tensor,
}

fn on(t: &Tensor, device: &Device) -> Result<Tensor> {
    Ok(t.to_device(device)?.contiguous()?)
}

impl DeviceForward {
    /// Prepare the forward of `config` with `params` on `device` (`population` = None is plain
    /// inference). Tensors not already on `device` are copied there once.
    pub fn new(
        config: &MlpConfig,
        params: &Params,
        population: Option<&Population>,
        device: &Device,
    ) -> Result<Self> {
        let mut layers = Vec::with_capacity(config.num_layers());
        for src in crate::mlp::layer_sources(config, params, population)? {
            let (mut lowrank, mut full) = (None, None);
            match src.noise {
                Some(Noise::LowRank { rank, a, b }) => {
                    lowrank = Some((on(a, device)?, on(b, device)?, *rank));
                }
                Some(Noise::Full { eps }) => full = Some(on(eps, device)?),
                _ => {}
            }
            layers.push(DeviceLayer {
                w: on(src.w, device)?,
                bias: src.bias.map(|b| on(b, device)).transpose()?,
                lowrank,
                full,
                bias_eps: src.bias_noise.map(|e| on(e, device)).transpose()?,
                m: src.m,
                n: src.n,
            });
        }
        Ok(Self {
            config: config.clone(),
            layers,
            sigma: population.map_or(0.0, |p| p.sigma),
            pairing: population.map_or(Pairing::Antithetic, |p| p.pairing),
            perturbed: population.is_some(),
            size: population.map(|p| p.size),
            device: device.clone(),
            path: LowRankPath::default(),
        })
    }

    /// Use `path` for the low-rank correction.
    pub fn with_path(mut self, path: LowRankPath) -> Self {
        self.path = path;
        self
    }

    /// The device the forward runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.config.sizes[0]
    }

    /// Output width.
    pub fn out_dim(&self) -> usize {
        *self.config.sizes.last().expect("validated")
    }

    fn rows(&self, rows: usize, members: Option<&[u32]>) -> Result<Rows> {
        if let Some(m) = members
            && m.len() != rows
        {
            return Err(Error::Param {
                name: "members".into(),
                reason: format!("{} member ids for {rows} rows", m.len()),
            });
        }
        // Host-side bounds check: the kernels index noise blocks by these ids unchecked.
        crate::nn::fused::check_members(members, rows, self.size)?;
        let mut blk = Vec::with_capacity(rows);
        let mut sig = Vec::with_capacity(rows);
        for i in 0..rows {
            let member = members.map_or(i, |m| m[i] as usize);
            let (b, s) = self.pairing.block_and_sign(member);
            blk.push(b as u32);
            sig.push(self.sigma * s);
        }
        Ok(Rows {
            blk: Tensor::from_slice(&blk, rows, &self.device)?,
            blk_host: blk,
            sig_t: Tensor::from_slice(&sig, rows, &self.device)?,
            sig,
        })
    }

    /// Forward `x` (`(rows, in_dim)` on this forward's device); row `i` belongs to member
    /// `members[i]` (or `i`). Returns the pre-head outputs `(rows, out_dim)` on the device.
    pub fn forward_tensor(&self, x: &Tensor, members: Option<&[u32]>) -> Result<Tensor> {
        let dims = x.dims();
        if dims.len() != 2 || dims[1] != self.in_dim() || x.dtype() != DType::F32 {
            return Err(Error::Param {
                name: "input".into(),
                reason: format!(
                    "shape {dims:?} ({:?}); expected (rows, {}) f32",
                    x.dtype(),
                    self.in_dim()
                ),
            });
        }
        let rows = dims[0];
        let info = self.rows(rows, members)?;
        // σ·sign/√r per row for the CUDA body: once per distinct rank, not per layer.
        let mut coefs: Vec<(usize, Tensor)> = Vec::new();
        if self.perturbed && self.path == LowRankPath::Fused && self.device.is_cuda() {
            for (_, _, r) in self.layers.iter().filter_map(|l| l.lowrank.as_ref()) {
                if !coefs.iter().any(|(q, _)| q == r) {
                    coefs.push((*r, info.sig_t.affine(1.0 / (*r as f64).sqrt(), 0.0)?));
                }
            }
        }
        let nl = self.layers.len();
        let mut h = x.contiguous()?;
        for (l, layer) in self.layers.iter().enumerate() {
            let act = if l + 1 == nl {
                None
            } else {
                Some(self.config.activation)
            };
            let y = h.matmul(&layer.w.t()?)?.contiguous()?;
            h = match (self.path, &layer.full, self.perturbed) {
                (_, Some(_), true) | (LowRankPath::Ops, _, _) => {
                    self.finish_ops(layer, &h, y, &info, act)?
                }
                (LowRankPath::Fused, _, _) => {
                    let lowrank = layer
                        .lowrank
                        .as_ref()
                        .filter(|_| self.perturbed)
                        .map(|(a, b, r)| (a, b, *r));
                    let op = FinishOp {
                        lowrank,
                        bias: layer.bias.as_ref(),
                        bias_eps: layer.bias_eps.as_ref().filter(|_| self.perturbed),
                        rows: &info,
                        coef_t: lowrank.and_then(|(_, _, r)| {
                            coefs.iter().find(|(q, _)| *q == r).map(|(_, t)| t)
                        }),
                        n: layer.n,
                        m: layer.m,
                        act,
                    };
                    y.inplace_op2(&h, &op)?;
                    y
                }
            };
        }
        Ok(h)
    }

    /// The low-rank correction, bias and activation from candle's generic ops.
    fn finish_ops(
        &self,
        layer: &DeviceLayer,
        h: &Tensor,
        mut y: Tensor,
        info: &Rows,
        act: Option<Activation>,
    ) -> Result<Tensor> {
        let rows = h.dims()[0];
        let (m, n) = (layer.m, layer.n);
        let sig = info.sig_t.reshape((rows, 1))?;
        if self.perturbed {
            if let Some((a, b, r)) = &layer.lowrank {
                let bs = b.index_select(&info.blk, 0)?; // (rows, n, r)
                let t = h.unsqueeze(1)?.matmul(&bs)?; // (rows, 1, r)
                let t = t
                    .broadcast_mul(&sig.reshape((rows, 1, 1))?)?
                    .affine(1.0 / (*r as f64).sqrt(), 0.0)?
                    .transpose(1, 2)?
                    .contiguous()?; // (rows, r, 1)
                let as_ = a.index_select(&info.blk, 0)?; // (rows, m, r)
                y = (y + as_.matmul(&t)?.reshape((rows, m))?)?;
            }
            if let Some(eps) = &layer.full {
                let es = eps.index_select(&info.blk, 0)?.reshape((rows, m, n))?;
                let c = es.matmul(&h.unsqueeze(2)?)?.reshape((rows, m))?;
                y = (y + c.broadcast_mul(&sig)?)?;
            }
        }
        if let Some(b) = &layer.bias {
            y = y.broadcast_add(b)?;
        }
        if let (Some(eps), true) = (&layer.bias_eps, self.perturbed) {
            y = (y + eps.index_select(&info.blk, 0)?.broadcast_mul(&sig)?)?;
        }
        Ok(match act {
            Some(a) => a.tensor(&y)?,
            None => y,
        })
    }

    /// Host convenience with the signature of [`crate::PopulationForward::forward`]: uploads
    /// `x`, runs [`forward_tensor`](Self::forward_tensor), downloads into `out`.
    pub fn forward(&self, x: &[f32], members: Option<&[u32]>, out: &mut [f32]) -> Result<()> {
        let (din, dout) = (self.in_dim(), self.out_dim());
        if !x.len().is_multiple_of(din) {
            return Err(Error::Param {
                name: "input".into(),
                reason: format!("{} values is not a whole number of rows of {din}", x.len()),
            });
        }
        let rows = x.len() / din;
        if out.len() != rows * dout {
            return Err(Error::Param {
                name: "output".into(),
                reason: format!("buffer holds {} values, need {rows}×{dout}", out.len()),
            });
        }
        if rows == 0 {
            return Ok(());
        }
        let xt = Tensor::from_slice(x, (rows, din), &self.device)?;
        let y = self.forward_tensor(&xt, members)?;
        HostDataCopy::copy_into(&y, out)
    }

    /// The shared-input forward (every member on the same `batch × in_dim` inputs), with the
    /// output layout of [`crate::PopulationForward::forward_shared`]. On a device the inputs
    /// are tiled per member and go through [`forward_tensor`](Self::forward_tensor).
    pub fn forward_shared(
        &self,
        x: &[f32],
        members: std::ops::Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        let din = self.in_dim();
        if x.is_empty() || !x.len().is_multiple_of(din) {
            return Err(Error::Param {
                name: "input".into(),
                reason: format!("{} values is not a whole number of rows of {din}", x.len()),
            });
        }
        crate::nn::fused::check_member_range(&members, self.size)?;
        let batch = x.len() / din;
        let count = members.len();
        let xt = Tensor::from_slice(x, (1, batch, din), &self.device)?
            .broadcast_as((count, batch, din))?
            .reshape((count * batch, din))?;
        let ids: Vec<u32> = members
            .flat_map(|m| std::iter::repeat_n(m as u32, batch))
            .collect();
        if out.len() != count * batch * self.out_dim() {
            return Err(Error::Param {
                name: "output".into(),
                reason: format!(
                    "buffer holds {} values, need {count}×{batch}×{}",
                    out.len(),
                    self.out_dim()
                ),
            });
        }
        let y = self.forward_tensor(&xt, Some(&ids))?;
        HostDataCopy::copy_into(&y, out)
    }
}

struct HostDataCopy;

impl HostDataCopy {
    fn copy_into(t: &Tensor, out: &mut [f32]) -> Result<()> {
        let h = HostData::new(t)?;
        out.copy_from_slice(h.as_slice());
        Ok(())
    }
}

/// One layer's finish, in place on `y = H Wᵀ`: per row `i` (noise block `k`, sign `s`),
/// `y_i ← act(y_i + (σ s/√r)(h_i B_k) A_kᵀ + b + σ s ε_k)`. The CPU body is below; the CUDA
/// body is `kernels/lowrank.cu`. The second operand of the op is `H`.
pub struct FinishOp<'r> {
    lowrank: Option<(&'r Tensor, &'r Tensor, usize)>,
    bias: Option<&'r Tensor>,
    bias_eps: Option<&'r Tensor>,
    /// The rows' noise blocks and `σ·sign`, on the host and on the device.
    rows: &'r Rows,
    /// `σ·sign/√r` per row on the device (CUDA body only; None on the CPU).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    coef_t: Option<&'r Tensor>,
    n: usize,
    m: usize,
    act: Option<Activation>,
}

fn host(t: &Tensor) -> candle_core::Result<HostData<'_>> {
    HostData::new(t).map_err(|e| candle_core::Error::Msg(e.to_string()))
}

fn cpu_f32<'s>(s: &'s CpuStorage, l: &Layout) -> candle_core::Result<&'s [f32]> {
    let (start, end) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("finish op: non-contiguous operand".into()))?;
    Ok(&s.as_slice::<f32>()?[start..end])
}

impl candle_core::InplaceOp2 for FinishOp<'_> {
    fn name(&self) -> &'static str {
        "eggroll-lowrank-finish"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let (m, n) = (self.m, self.n);
        let x = cpu_f32(s2, l2)?;
        let (start, end) = l1
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("finish op: non-contiguous output".into()))?;
        let y = match s1 {
            CpuStorage::F32(v) => &mut v[start..end],
            _ => return Err(candle_core::Error::Msg("finish op: f32 only".into())),
        };
        let (blk, sig) = (&self.rows.blk_host, &self.rows.sig);
        let lr = match self.lowrank {
            Some((a, b, r)) => Some((host(a)?, host(b)?, r)),
            None => None,
        };
        let bias = self.bias.map(host).transpose()?;
        let beps = self.bias_eps.map(host).transpose()?;
        y.par_chunks_mut(m)
            .zip(x.par_chunks(n))
            .enumerate()
            .for_each(|(i, (yi, xi))| {
                let k = blk[i] as usize;
                if let Some((a, b, r)) = &lr {
                    let c = sig[i] / (*r as f32).sqrt();
                    let (a, b) = (a.as_slice(), b.as_slice());
                    let ak = &a[k * m * r..(k + 1) * m * r];
                    let bk = &b[k * n * r..(k + 1) * n * r];
                    for q in 0..*r {
                        let t: f32 = xi.iter().enumerate().map(|(j, v)| v * bk[j * r + q]).sum();
                        let t = c * t;
                        for (kk, yv) in yi.iter_mut().enumerate() {
                            *yv += t * ak[kk * r + q];
                        }
                    }
                }
                if let Some(b) = &bias {
                    for (yv, bv) in yi.iter_mut().zip(b.as_slice()) {
                        *yv += bv;
                    }
                }
                if let Some(e) = &beps {
                    let ek = &e.as_slice()[k * m..(k + 1) * m];
                    for (yv, ev) in yi.iter_mut().zip(ek) {
                        *yv += sig[i] * ev;
                    }
                }
                if let Some(act) = self.act {
                    for v in yi.iter_mut() {
                        *v = act.apply(*v);
                    }
                }
            });
        Ok(())
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &mut candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        cuda::finish(self, s1, l1, s2, l2)
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    //! The CUDA body of [`FinishOp`]: `kernels/lowrank.cu`, compiled to PTX by `build.rs`.

    use super::FinishOp;
    use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
    use candle_core::{CudaStorage, Layout, Storage, Tensor};

    const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/lowrank.ptx"));

    fn err(e: impl std::fmt::Display) -> candle_core::Error {
        candle_core::Error::Cuda(format!("eggroll lowrank kernel: {e}").into())
    }

    fn offset(l: &Layout) -> candle_core::Result<usize> {
        l.contiguous_offsets()
            .map(|(s, _)| s)
            .ok_or_else(|| err("non-contiguous operand"))
    }

    /// Run `f` with the device slice of `t`.
    fn with_slice<T: candle_core::cuda_backend::CudaDType, R>(
        t: &Tensor,
        f: impl FnOnce(
            candle_core::cuda_backend::cudarc::driver::CudaView<'_, T>,
        ) -> candle_core::Result<R>,
    ) -> candle_core::Result<R> {
        let (guard, layout) = t.storage_and_layout();
        let off = offset(layout)?;
        match &*guard {
            Storage::Cuda(cs) => f(cs.as_cuda_slice::<T>()?.slice(off..)),
            _ => Err(err("operand is not on the CUDA device")),
        }
    }

    pub(super) fn finish(
        op: &FinishOp<'_>,
        s1: &mut CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let dev = s1.device.clone();
        let (m, n) = (op.m, op.n);
        let rows = l1.shape().elem_count() / m.max(1);
        if rows == 0 {
            return Ok(());
        }
        let r = op.lowrank.as_ref().map_or(0, |(_, _, r)| *r);
        let width = m.max(n).div_ceil(32) * 32;
        let block = width.clamp(32, 256);
        if r > block {
            return Err(err(format!("rank {r} > {block} threads per block")));
        }
        let func =
            dev.get_or_load_custom_func("eggroll_lowrank_finish", "eggroll_policies", PTX)?;
        // Absent operands get a placeholder the kernel never reads (its flag is off).
        let unused = &op.rows.sig_t;
        let flags: i32 = i32::from(op.lowrank.is_some())
            | (i32::from(op.bias.is_some()) << 1)
            | (i32::from(op.bias_eps.is_some()) << 2);
        let act: i32 = match op.act {
            None => 0,
            Some(crate::Activation::Tanh) => 1,
            Some(crate::Activation::Relu) => 2,
            Some(crate::Activation::Gelu) => 3,
        };
        let (a, b) = match op.lowrank {
            Some((a, b, _)) => (Some(a), Some(b)),
            None => (None, None),
        };
        if op.lowrank.is_some() && op.coef_t.is_none() {
            return Err(err("low-rank term without per-row coefficients"));
        }
        let cfg = LaunchConfig {
            grid_dim: (rows as u32, 1, 1),
            block_dim: (block as u32, 1, 1),
            shared_mem_bytes: ((r + (block / 32) * r) * 4) as u32,
        };
        let y_off = offset(l1)?;
        let x_off = offset(l2)?;
        let x = s2.as_cuda_slice::<f32>()?.slice(x_off..);
        let mut y = s1.as_cuda_slice_mut::<f32>()?.slice_mut(y_off..);
        let (n32, m32, r32) = (n as i32, m as i32, r as i32);
        with_slice::<f32, _>(a.unwrap_or(unused), |a| {
            with_slice::<f32, _>(b.unwrap_or(unused), |b| {
                with_slice::<u32, _>(&op.rows.blk, |blk| {
                    with_slice::<f32, _>(&op.rows.sig_t, |sig| {
                        with_slice::<f32, _>(op.bias.unwrap_or(unused), |bias| {
                            with_slice::<f32, _>(op.bias_eps.unwrap_or(unused), |beps| {
                                with_slice::<f32, _>(op.coef_t.unwrap_or(unused), |coef| {
                                    let mut builder = func.builder();
                                    builder.arg(&x);
                                    builder.arg(&a);
                                    builder.arg(&b);
                                    builder.arg(&blk);
                                    builder.arg(&coef);
                                    builder.arg(&sig);
                                    builder.arg(&bias);
                                    builder.arg(&beps);
                                    builder.arg(&mut y);
                                    builder.arg(&n32);
                                    builder.arg(&m32);
                                    builder.arg(&r32);
                                    builder.arg(&act);
                                    builder.arg(&flags);
                                    // SAFETY: the arguments match the kernel's signature; every
                                    // pointer covers the extent the kernel indexes (checked
                                    // shapes: x rows×n, y rows×m, a K×m×r, b K×n×r, per-row
                                    // vectors of `rows`, bias m, bias noise K×m).
                                    unsafe { builder.launch(cfg) }.map_err(err)?;
                                    Ok(())
                                })
                            })
                        })
                    })
                })
            })
        })
    }
}

/// The materialised baseline on a device: every row's weights `W + σ s_i A_i B_iᵀ/√r` formed
/// explicitly (a `(rows, m, n)` tensor per layer), then a batched matrix-vector product. For
/// benchmarks and tests only; `x` is `(rows, in)` with row `i` member `i`.
pub fn materialized_forward_tensor(
    config: &MlpConfig,
    params: &Params,
    population: &Population,
    x: &Tensor,
) -> Result<Tensor> {
    config.check_params(params)?;
    let dev = x.device().clone();
    let rows = x.dims()[0];
    let f = DeviceForward::new(config, params, Some(population), &dev)?;
    let info = f.rows(rows, None)?;
    let sig = info.sig_t.reshape((rows, 1, 1))?;
    let nl = f.layers.len();
    let mut h = x.contiguous()?;
    for (l, layer) in f.layers.iter().enumerate() {
        let (m, n) = (layer.m, layer.n);
        let mut w = layer
            .w
            .unsqueeze(0)?
            .broadcast_as((rows, m, n))?
            .contiguous()?;
        if let Some((a, b, r)) = &layer.lowrank {
            let ai = a.index_select(&info.blk, 0)?;
            let bi = b.index_select(&info.blk, 0)?;
            let e = ai.matmul(&bi.transpose(1, 2)?.contiguous()?)?;
            w = (w + e
                .broadcast_mul(&sig)?
                .affine(1.0 / (*r as f64).sqrt(), 0.0)?)?;
        }
        if let Some(eps) = &layer.full {
            let e = eps.index_select(&info.blk, 0)?.reshape((rows, m, n))?;
            w = (w + e.broadcast_mul(&sig)?)?;
        }
        let mut y = w.matmul(&h.unsqueeze(2)?)?.reshape((rows, m))?;
        if let Some(b) = &layer.bias {
            y = y.broadcast_add(b)?;
        }
        if let Some(eps) = &layer.bias_eps {
            y = (y + eps
                .index_select(&info.blk, 0)?
                .broadcast_mul(&info.sig_t.reshape((rows, 1))?)?)?;
        }
        h = match (l + 1 < nl).then_some(config.activation) {
            Some(a) => a.tensor(&y)?,
            None => y,
        };
    }
    Ok(h)
}

/// The population forward for wherever the parameters live: [`crate::PopulationForward`]
/// when they are on the CPU, [`DeviceForward`] on any other device. Rollouts and the MNIST
/// evaluator call this, so `--device cuda` needs no other change to them.
pub enum Forward<'a> {
    /// The fused CPU path.
    Host(crate::PopulationForward<'a>),
    /// The device path.
    Device(DeviceForward),
}

impl<'a> Forward<'a> {
    /// Prepare the forward on `params.device()`.
    pub fn new(
        config: &'a MlpConfig,
        params: &'a Params,
        population: Option<&'a Population>,
    ) -> Result<Self> {
        Self::with_device_path(config, params, population, false)
    }

    /// As [`new`](Self::new); with `device_path`, [`DeviceForward`] even for CPU parameters
    /// (the code a GPU runs, with the CPU bodies of its kernels).
    pub fn with_device_path(
        config: &'a MlpConfig,
        params: &'a Params,
        population: Option<&'a Population>,
        device_path: bool,
    ) -> Result<Self> {
        Ok(match params.device() {
            Device::Cpu if !device_path => {
                Forward::Host(crate::PopulationForward::new(config, params, population)?)
            }
            d => Forward::Device(DeviceForward::new(config, params, population, &d)?),
        })
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        match self {
            Forward::Host(f) => f.in_dim(),
            Forward::Device(f) => f.in_dim(),
        }
    }

    /// Output width.
    pub fn out_dim(&self) -> usize {
        match self {
            Forward::Host(f) => f.out_dim(),
            Forward::Device(f) => f.out_dim(),
        }
    }

    /// See [`crate::PopulationForward::forward`].
    pub fn forward(&self, x: &[f32], members: Option<&[u32]>, out: &mut [f32]) -> Result<()> {
        match self {
            Forward::Host(f) => f.forward(x, members, out),
            Forward::Device(f) => f.forward(x, members, out),
        }
    }

    /// See [`crate::PopulationForward::forward_shared`].
    pub fn forward_shared(
        &self,
        x: &[f32],
        members: std::ops::Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        match self {
            Forward::Host(f) => f.forward_shared(x, members, out),
            Forward::Device(f) => f.forward_shared(x, members, out),
        }
    }
}

/// `--device`: open `auto` (the default: GPU 0 when this build has CUDA support and a usable
/// GPU, else the CPU), `cpu`, `cuda` (GPU 0) or `cuda:N`. A build with the `cuda` feature opens
/// the CUDA libraries at run time (candle's cudarc with `dynamic-loading`), so it starts and
/// runs on the CPU on a machine without a GPU; errors say what is missing.
pub fn open(spec: Option<&str>) -> Result<Device, String> {
    let spec = spec.unwrap_or("auto");
    match spec {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(if cfg!(feature = "cuda") {
            open_cuda(0).unwrap_or(Device::Cpu)
        } else {
            Device::Cpu
        }),
        s if s == "cuda" || s.starts_with("cuda:") => {
            let ordinal = match s.strip_prefix("cuda:") {
                Some(n) => n
                    .parse::<usize>()
                    .map_err(|e| format!("--device {s}: `{n}` is not a GPU index: {e}"))?,
                None => 0,
            };
            if !cfg!(feature = "cuda") {
                return Err(format!(
                    "--device {s}: this eggroll was built without CUDA support; rebuild with \
                     scripts/build-cuda.sh (README, section CUDA), or use --device auto"
                ));
            }
            open_cuda(ordinal).map_err(|e| format!("--device {s}: {e}"))
        }
        other => Err(format!(
            "--device: unknown device `{other}` (expected auto, cpu, cuda or cuda:N)"
        )),
    }
}

/// Open GPU `ordinal`. cudarc loads the driver and libraries on first use and panics when
/// they are missing; that panic becomes an error ("no CUDA driver found: …") here.
fn open_cuda(ordinal: usize) -> std::result::Result<Device, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(|| Device::new_cuda(ordinal));
    std::panic::set_hook(previous);
    match opened {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => {
            // The driver's message, without a captured backtrace.
            let e = match e {
                candle_core::Error::WithBacktrace { inner, .. } => *inner,
                e => e,
            };
            let e = e.to_string();
            Err(if e.contains("CUDA_ERROR_STUB_LIBRARY") {
                format!("no CUDA driver found: {e}")
            } else if e.contains("CUDA_ERROR_NO_DEVICE") {
                format!("no CUDA device found: {e}")
            } else {
                format!("opening GPU {ordinal}: {e}")
            })
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "CUDA initialisation failed".into());
            // cudarc lists every file name it tried; the first sentence says what is missing.
            let msg = msg.split(" - searched").next().unwrap_or(&msg).to_string();
            Err(format!(
                "no CUDA driver found: {msg} (libcuda.so.1 comes with the NVIDIA driver; \
                 put its folder on LD_LIBRARY_PATH)"
            ))
        }
    }
}
