//! Population layers: any network whose weights are matrices runs its whole population in one
//! batched pass, never forming `W + σE`.
//!
//! Every row of an activation ([`Act`]) belongs to a member (`Ctx::members`). A layer computes
//! its output for all rows with the generation's noise applied per member: matrices (a
//! [`Linear`] weight, a [`Conv2d`] kernel seen as `out × (in·kh·kw)`, an [`Embedding`] table)
//! get the shared product plus each member's low-rank correction `σ s (x B) Aᵀ / √r`; vectors
//! (biases, norm gains) get their full noise. With no population it is plain inference.
//!
//! On any candle device the same layers also run as candle ops ([`Module::forward_tensor`]
//! reading parameters and noise through [`TensorParams`]; [`population_forward`]): the shared
//! products are candle matmuls and convolutions, each member's low-rank correction two batched
//! matmuls (a grouped convolution for kernels). [`Model::forward`] and
//! [`Model::forward_shared`] take that path whenever the parameters live off the CPU
//! (`--device cuda`).
//!
//! The layers live in `eggroll-policies` (not a crate of their own) because they share its
//! deterministic row-independent GEMM and fused low-rank row kernel with the MLP forward: a
//! row's bits never depend on which other rows are in the batch.
//!
//! Models are built like candle-nn's: a [`Vb`] hands out parameters by nested,
//! PyTorch-compatible names (`vb.pp("blocks").pp(0).pp("conv")` → `blocks.0.conv.weight`),
//! layers compose through the [`Module`] trait, and [`Model`] checks every shape before any
//! training. PyTorch layouts are kept: a `Conv2d` weight is `out × in × kh × kw`.
//!
//! ```
//! use eggroll_policies::nn::{Model, Vb, conv2d, linear, relu, flatten, seq};
//! let vb = Vb::new();
//! let net = seq()
//!     .add(conv2d(&vb.pp("conv"), 1, 4, 3, 1, 1, true).unwrap())
//!     .add(relu())
//!     .add(flatten())
//!     .add(linear(&vb.pp("fc"), 4 * 6 * 6, 10, true).unwrap());
//! let model = Model::new(net, &vb, &[1, 6, 6]).unwrap();
//! assert_eq!(model.output_shape(), &[10]);
//! let params = model.init(0, &candle_core::Device::Cpu).unwrap();
//! assert_eq!(params.get("conv.weight").unwrap().dims(), &[4, 1, 3, 3]);
//! let y = model.forward(&params, None, &vec![0.5; 2 * 36], None).unwrap();
//! assert_eq!(y.len(), 2 * 10);
//! ```

mod builder;
mod containers;
mod conv;
mod elementwise;
mod embedding;
pub mod fused;
mod linear;
mod norm;
mod sequence;
mod tensor;

pub use builder::{Decl, Init, ParamRef, Vb};
pub use containers::{Residual, Sequential, residual, seq};
pub use conv::{Conv2d, MAX_KERNEL, conv2d};
pub use elementwise::{
    ActKind, Activation, Flatten, Pool2d, PoolKind, avg_pool2d, flatten, gelu, max_pool2d, relu,
    tanh,
};
pub use embedding::{Embedding, embedding};
pub use linear::{Linear, linear};
pub use norm::{Norm, layer_norm, rms_norm};
pub use sequence::{
    CausalSelfAttention, MinGru, PosEmbedding, causal_self_attention, min_gru, pos_embedding,
};
pub use tensor::{TensorParams, population_forward};

use candle_core::{Device, Tensor};
use eggroll_core::population::HostData;
use eggroll_core::{Error, Noise, Params, Population, Result};

/// Activations of a batch: `rows` rows, each of shape `shape`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Act {
    /// `rows × shape.product()` values.
    pub data: Vec<f32>,
    /// Rows (each belongs to one member).
    pub rows: usize,
    /// The shape of one row (e.g. `[C, H, W]`, `[T, d]`, `[d]`).
    pub shape: Vec<usize>,
}

impl Act {
    /// Values per row.
    pub fn width(&self) -> usize {
        self.shape.iter().product()
    }
}

/// What a layer's forward sees besides its input: the parameters, the generation's noise
/// (None: plain inference), the member of each input row and the call's weight cache.
pub struct Ctx<'a> {
    /// The model's parameters.
    pub params: &'a Params,
    /// The population (None: plain inference).
    pub population: Option<&'a Population>,
    /// The member of each row.
    pub members: &'a [u32],
    /// Transposed weights, made once per forward call and shared by its row chunks.
    pub cache: &'a WeightCache,
}

/// Host copies of transposed weights by parameter index, each made at most once per forward
/// call (the row chunks of one call share them).
#[derive(Debug, Default)]
pub struct WeightCache {
    slots: Vec<std::sync::OnceLock<Vec<f32>>>,
}

impl WeightCache {
    /// A cache for `n` parameters.
    pub fn new(n: usize) -> Self {
        Self {
            slots: (0..n).map(|_| std::sync::OnceLock::new()).collect(),
        }
    }

    /// The cached value of parameter `index`, made by `make` the first time (uncached when
    /// `index` is beyond the cache).
    pub fn get_or_make(
        &self,
        index: usize,
        make: impl FnOnce() -> Result<Vec<f32>>,
    ) -> Result<std::borrow::Cow<'_, [f32]>> {
        match self.slots.get(index) {
            Some(slot) => {
                if let Some(v) = slot.get() {
                    return Ok(std::borrow::Cow::Borrowed(v));
                }
                let v = make()?;
                Ok(std::borrow::Cow::Borrowed(slot.get_or_init(|| v)))
            }
            None => Ok(std::borrow::Cow::Owned(make()?)),
        }
    }
}

impl<'a> Ctx<'a> {
    /// The noise of parameter `p` (None: plain inference or frozen).
    pub fn noise(&self, p: &ParamRef) -> Option<&'a Noise> {
        self.population
            .map(|pop| &pop.noise[p.index])
            .filter(|n| !matches!(n, Noise::None))
    }

    /// Host view of parameter `p`'s value (borrowed on the CPU).
    pub(crate) fn host(&self, p: &ParamRef) -> Result<HostData<'a>> {
        let params: &'a Params = self.params;
        let t = params.iter().nth(p.index).ok_or_else(|| Error::Param {
            name: p.name.clone(),
            reason: "missing from the parameters".into(),
        })?;
        HostData::new(t.tensor())
    }

    /// The full noise `(K, len)` of the vector parameter `p` (a bias, a norm gain); None for
    /// plain inference or a frozen parameter; low-rank noise on a vector is an error.
    pub(crate) fn vector_noise(&self, p: &ParamRef, len: usize) -> Result<Option<HostData<'a>>> {
        match self.noise(p) {
            None => Ok(None),
            Some(Noise::Full { eps }) => {
                check_noise(self, &p.name, eps, &[len])?;
                Ok(Some(HostData::new(eps)?))
            }
            Some(_) => Err(Error::Param {
                name: p.name.clone(),
                reason: "a vector parameter takes full noise, not low-rank".into(),
            }),
        }
    }

    /// `member`'s noise block and signed σ (`(0, 0.0)` for plain inference).
    pub(crate) fn block_scale(&self, member: u32) -> (usize, f32) {
        self.population.map_or((0, 0.0), |p| {
            let (blk, sign) = p.pairing.block_and_sign(member as usize);
            (blk, p.sigma * sign)
        })
    }
}

/// What the fused dense-chain kernel (the MLP's [`crate::PopulationForward`]) runs inside a
/// [`Sequential`]: a [`Linear`] over vector rows, or an activation its row pass applies.
/// Modules return None by default.
#[derive(Debug, Clone, Copy)]
pub enum DensePart<'a> {
    /// A linear layer: weight `(outputs, inputs)`, optional bias.
    Linear {
        /// The weight.
        weight: &'a ParamRef,
        /// The bias.
        bias: Option<&'a ParamRef>,
        /// Inputs.
        inputs: usize,
        /// Outputs.
        outputs: usize,
    },
    /// An activation the fused row pass applies (tanh, relu).
    Act(crate::Activation),
}

/// A layer or block of layers with a population forward.
pub trait Module: Send + Sync {
    /// A short description for errors (e.g. `conv2d conv1`).
    fn label(&self) -> String;
    /// The shape of an output row for an input row of shape `input`; a typed error naming
    /// the layer when the shapes do not fit.
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>>;
    /// The output of every row, each with its member's perturbed parameters.
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act>;
    /// The forward as candle ops on a batch `x` of shape `[batch, …row shape]`, on any
    /// device, reading its parameters through `p` ([`TensorParams`]): plain (every op has a
    /// backward, so candle's autograd trains the very same model definition,
    /// [`Model::forward_tensor`]) or, with a population, batch row `i` perturbed as its
    /// member (the device path, [`population_forward`]). The default is an error: a user
    /// module without it can be trained neither by backprop nor on a device.
    fn forward_tensor(&self, _x: &Tensor, _p: &TensorParams<'_>) -> Result<Tensor> {
        Err(Error::Param {
            name: self.label(),
            reason: "this module has no candle-ops forward (Module::forward_tensor)".into(),
        })
    }
    /// Whether (and as what) the fused dense chain can run this module (see [`DensePart`]).
    fn dense_part(&self) -> Option<DensePart<'_>> {
        None
    }
    /// When this whole module is a dense chain on rows of shape `input` (a [`Sequential`] of
    /// `Linear`s and tanh/relu, like [`crate::MlpConfig::model`]), its layers; None otherwise.
    #[doc(hidden)]
    fn dense_chain(&self, _input: &[usize]) -> Option<Vec<containers::ChainLayer<'_>>> {
        None
    }
    /// The output of every member in `members` on the same rows `x` (member-major: rows
    /// `i·x.rows ..` belong to `members[i]`); `ctx.members` is not used. Layers whose input
    /// product can be shared across members (`Linear`, `Conv2d`) compute it once.
    fn forward_shared(&self, x: &Act, members: &[u32], ctx: &Ctx<'_>) -> Result<Act> {
        let data = x.data.repeat(members.len());
        let ids = linear::expand_ids(members, x.rows);
        let each = Ctx {
            params: ctx.params,
            population: ctx.population,
            members: &ids,
            cache: ctx.cache,
        };
        self.forward(
            &Act {
                data,
                rows: x.rows * members.len(),
                shape: x.shape.clone(),
            },
            &each,
        )
    }
}

impl Module for Box<dyn Module> {
    fn label(&self) -> String {
        (**self).label()
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        (**self).out_shape(input)
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        (**self).forward(x, ctx)
    }
    fn forward_tensor(&self, x: &Tensor, p: &TensorParams<'_>) -> Result<Tensor> {
        (**self).forward_tensor(x, p)
    }
    fn forward_shared(&self, x: &Act, members: &[u32], ctx: &Ctx<'_>) -> Result<Act> {
        (**self).forward_shared(x, members, ctx)
    }
    fn dense_part(&self) -> Option<DensePart<'_>> {
        (**self).dense_part()
    }
    fn dense_chain(&self, input: &[usize]) -> Option<Vec<containers::ChainLayer<'_>>> {
        (**self).dense_chain(input)
    }
}

/// Check a noise tensor of parameter `name`: `(K ≥ blocks of the population, want…)`.
pub(crate) fn check_noise(
    ctx: &Ctx<'_>,
    name: &str,
    t: &candle_core::Tensor,
    want: &[usize],
) -> Result<()> {
    let blocks = ctx
        .population
        .map(|p| p.pairing.block_and_sign(p.size.max(1) - 1).0 + 1)
        .unwrap_or(0);
    let d = t.dims();
    if d.len() != want.len() + 1 || d[1..] != *want || d[0] < blocks {
        return Err(Error::Param {
            name: name.to_string(),
            reason: format!("noise of shape {d:?}; expected (K ≥ {blocks}, {want:?})"),
        });
    }
    Ok(())
}

/// `log softmax(y)[label]`: the log-likelihood of a class under logits (MNIST's
/// `log_likelihood` fitness, charlm's bits per byte). `Σ exp(y − max)` is summed in f32 with
/// [`eggroll_core::simd::exp`] over 16 lanes (vectorised: charlm takes it over 256 logits for
/// every member and position), the logarithm in f64. Relative error ≲ 1e-6.
pub fn log_softmax_at(y: &[f32], label: usize) -> f64 {
    let mut parts = (0.0f32, 0.0f32);
    max_and_exp_sum(y, &mut parts);
    let (max, sum) = parts;
    y[label] as f64 - (sum as f64).ln() - max as f64
}

eggroll_core::multiversion! {
    /// `(max y, Σ exp(y − max))`, each over 16 lanes then reduced in a fixed order.
    fn max_and_exp_sum(y: &[f32], out: &mut (f32, f32)) {
        let mut mx = [f32::NEG_INFINITY; 16];
        for c in y.chunks(16) {
            for (m, &v) in mx.iter_mut().zip(c) {
                *m = m.max(v);
            }
        }
        let max = mx.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut acc = [0.0f32; 16];
        for c in y.chunks(16) {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += eggroll_core::simd::exp(v - max);
            }
        }
        *out = (max, eggroll_core::simd::sum16(&acc));
    }
}

pub(crate) fn shape_err(layer: &str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        field: layer.to_string(),
        reason: reason.into(),
    }
}

/// A checked model: a root [`Module`], its parameter declarations and its row shapes.
pub struct Model {
    root: Box<dyn Module>,
    decls: Vec<Decl>,
    input: Vec<usize>,
    output: Vec<usize>,
}

impl Model {
    /// Check `root` on input rows of shape `input` (every layer's shapes, before any training)
    /// with the parameters declared through `vb`.
    pub fn new(root: impl Module + 'static, vb: &Vb, input: &[usize]) -> Result<Self> {
        let output = root.out_shape(input)?;
        Ok(Self {
            root: Box::new(root),
            decls: vb.decls(),
            input: input.to_vec(),
            output,
        })
    }

    /// The shape of one input row.
    pub fn input_shape(&self) -> &[usize] {
        &self.input
    }

    /// The shape of one output row.
    pub fn output_shape(&self) -> &[usize] {
        &self.output
    }

    /// The declared parameters, in order.
    pub fn decls(&self) -> &[Decl] {
        &self.decls
    }

    /// Number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.decls
            .iter()
            .map(|d| d.shape.iter().product::<usize>())
            .sum()
    }

    /// The plain forward of a batch `x` (`[batch, …input shape]`) as candle ops, with
    /// `params` in declaration order (e.g. `Var`s as tensors): differentiable, for training
    /// the same model by backprop. Equals [`Model::forward`] without a population.
    ///
    /// ```
    /// use candle_core::{Device, Tensor, Var};
    /// use eggroll_policies::nn::{Model, Vb, linear, relu, seq};
    /// let vb = Vb::new();
    /// let net = seq().add(linear(&vb.pp("fc1"), 3, 8, true).unwrap()).add(relu())
    ///     .add(linear(&vb.pp("fc2"), 8, 2, true).unwrap());
    /// let model = Model::new(net, &vb, &[3]).unwrap();
    /// let vars: Vec<Var> = model.init(0, &Device::Cpu).unwrap().iter()
    ///     .map(|p| Var::from_tensor(p.tensor()).unwrap()).collect();
    /// let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    /// let x = Tensor::ones((4, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    /// let loss = model.forward_tensor(&x, &ts).unwrap().sqr().unwrap().sum_all().unwrap();
    /// let grads = loss.backward().unwrap();
    /// assert!(grads.get(&vars[0]).is_some());
    /// ```
    pub fn forward_tensor(&self, x: &Tensor, params: &[Tensor]) -> Result<Tensor> {
        self.check_count(params.len())?;
        self.forward_with(x, &TensorParams::plain(params))
    }

    /// [`Model::forward_tensor`] with the parameters (and any population) read through `p`.
    pub fn forward_with(&self, x: &Tensor, p: &TensorParams<'_>) -> Result<Tensor> {
        let mut want = vec![x.dim(0)?];
        want.extend(&self.input);
        if x.dims() != want.as_slice() {
            return Err(shape_err(
                &self.root.label(),
                format!("takes a batch of shape {want:?}, got {:?}", x.dims()),
            ));
        }
        self.root.forward_tensor(x, p)
    }

    /// The prepared fused forward of a model that is one dense chain (`Linear`s with tanh or
    /// relu between them, like [`crate::MlpConfig::model`]): the MLP kernel, built from the
    /// layers' parameters by name (what [`crate::device::Forward`] runs on the CPU for the
    /// MLP policies, rollouts and MNIST). An error naming the model otherwise.
    pub fn dense_forward<'p>(
        &self,
        params: &'p Params,
        population: Option<&'p Population>,
    ) -> Result<crate::PopulationForward<'p>> {
        // By name: a policy file lists its tensors in its own (sorted) order.
        self.check_count(params.len())?;
        if let Some(p) = population {
            crate::nn::fused::check_population_size(params.len(), p)?;
        }
        let chain = self.root.dense_chain(&self.input).ok_or_else(|| {
            shape_err(
                &self.root.label(),
                "is not a chain of linear layers with tanh or relu between them",
            )
        })?;
        containers::Sequential::chain_forward(&chain, params, population)
    }

    /// Initial parameters (PyTorch's default initialisations, drawn from `seed`).
    pub fn init(&self, seed: u64, device: &Device) -> Result<Params> {
        builder::init_params(&self.decls, seed, device)
    }

    /// `got` parameters (or tensors) against the declared count.
    fn check_count(&self, got: usize) -> Result<()> {
        if got != self.decls.len() {
            return Err(Error::Param {
                name: "params".into(),
                reason: format!("{got} parameters, the model declares {}", self.decls.len()),
            });
        }
        Ok(())
    }

    /// Check that `params` has this model's names and shapes, in order.
    pub fn check_params(&self, params: &Params) -> Result<()> {
        self.check_count(params.len())?;
        for (p, d) in params.iter().zip(&self.decls) {
            if p.name() != d.name || p.dims() != d.shape.as_slice() {
                return Err(Error::Param {
                    name: d.name.clone(),
                    reason: format!(
                        "expected {} {:?}, got {} {:?}",
                        d.name,
                        d.shape,
                        p.name(),
                        p.dims()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Every member of `members` on the same rows `x` (e.g. one batch of images): returns
    /// `members.len() × rows × output` values, member-major. The first layer's product with
    /// `x` is shared by all members (see [`Module::forward_shared`]).
    pub fn forward_shared(
        &self,
        params: &Params,
        population: &Population,
        x: &[f32],
        members: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        self.check_params(params)?;
        let width: usize = self.input.iter().product();
        if x.is_empty() || !x.len().is_multiple_of(width) {
            return Err(Error::Param {
                name: "input".into(),
                reason: format!(
                    "{} values is not a whole number of rows of {width}",
                    x.len()
                ),
            });
        }
        crate::nn::fused::check_population_size(params.len(), population)?;
        crate::nn::fused::check_member_range(&members, Some(population.size))?;
        let ids: Vec<u32> = members.map(|m| m as u32).collect();
        if !params.device().is_cpu() {
            // The device path: the rows tiled once per member.
            let rows = x.len() / width;
            let tiled = x.repeat(ids.len());
            let row_ids: Vec<u32> = ids
                .iter()
                .flat_map(|&m| std::iter::repeat_n(m, rows))
                .collect();
            return self.forward_candle(params, Some(population), &tiled, &row_ids);
        }
        let cache = WeightCache::new(params.len());
        let ctx = Ctx {
            params,
            population: Some(population),
            members: &[],
            cache: &cache,
        };
        let act = Act {
            data: x.to_vec(),
            rows: x.len() / width,
            shape: self.input.clone(),
        };
        Ok(self.root.forward_shared(&act, &ids, &ctx)?.data)
    }

    /// Forward `x` (rows of the input shape). Row `i` belongs to member `members[i]` (member
    /// `i` when None); `population` None is plain inference.
    pub fn forward(
        &self,
        params: &Params,
        population: Option<&Population>,
        x: &[f32],
        members: Option<&[u32]>,
    ) -> Result<Vec<f32>> {
        self.check_params(params)?;
        let width: usize = self.input.iter().product();
        if width == 0 || !x.len().is_multiple_of(width) {
            return Err(Error::Param {
                name: "input".into(),
                reason: format!(
                    "{} values is not a whole number of rows of {width}",
                    x.len()
                ),
            });
        }
        let rows = x.len() / width;
        let implicit: Vec<u32>;
        let ids = match members {
            Some(m) if m.len() == rows => m,
            Some(m) => {
                return Err(Error::Param {
                    name: "members".into(),
                    reason: format!("{} member ids for {rows} rows", m.len()),
                });
            }
            None => {
                implicit = (0..rows as u32).collect();
                &implicit
            }
        };
        if let Some(p) = population {
            crate::nn::fused::check_population_size(params.len(), p)?;
            crate::nn::fused::check_members(Some(ids), rows, Some(p.size))?;
        }
        if !params.device().is_cpu() {
            return self.forward_candle(params, population, x, ids);
        }
        if let Some(chain) = self.root.dense_chain(&self.input) {
            // A dense chain (an MLP): its fused kernel straight on the caller's rows.
            let fwd = containers::Sequential::chain_forward(&chain, params, population)?;
            let mut out = vec![0.0f32; rows * fwd.out_dim()];
            fwd.forward(x, Some(ids), &mut out)?;
            return Ok(out);
        }
        let cache = WeightCache::new(params.len());
        let ctx = Ctx {
            params,
            population,
            members: ids,
            cache: &cache,
        };
        let act = Act {
            data: x.to_vec(),
            rows,
            shape: self.input.clone(),
        };
        Ok(self.root.forward(&act, &ctx)?.data)
    }

    /// [`Model::forward`] through the candle-ops path ([`population_forward`]) on the
    /// parameters' device, whatever it is: the rows are uploaded once and the outputs copied
    /// back. `forward` and `forward_shared` take it for parameters off the CPU.
    pub fn forward_candle(
        &self,
        params: &Params,
        population: Option<&Population>,
        x: &[f32],
        ids: &[u32],
    ) -> Result<Vec<f32>> {
        let width: usize = self.input.iter().product();
        if x.len() != ids.len() * width {
            return Err(Error::Param {
                name: "input".into(),
                reason: format!("{} values for {} rows of {width}", x.len(), ids.len()),
            });
        }
        let mut shape = vec![ids.len()];
        shape.extend(&self.input);
        let xt = Tensor::from_slice(x, shape, &params.device())?;
        let y = match population {
            Some(pop) => population_forward(self, params, pop, &xt, Some(ids))?,
            None => {
                let tensors: Vec<Tensor> = params.iter().map(|p| p.tensor().clone()).collect();
                self.forward_tensor(&xt, &tensors)?
            }
        };
        Ok(y.flatten_all()?.to_vec1::<f32>()?)
    }
}
