//! MLP policy definitions: layer sizes, activation, biases, action heads, parameters.

use candle_core::{Device, Tensor};
use eggroll_core::{Error, Noise, Params, Population, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::nn::fused::{
    LayerSource, PopulationForward, check_layer_noise, check_members, check_population_size,
};

pub use crate::activation::Activation;

/// How outputs become actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Head {
    /// Discrete actions: argmax of the outputs (one output per action).
    Argmax,
    /// Discrete actions sampled from softmax(outputs / temperature), with counter-based
    /// randomness keyed by (seed, generation, row, time step): reproducible on any thread count.
    Sample {
        /// Softmax temperature (> 0).
        temperature: f32,
    },
    /// Continuous actions: `low + (tanh(y) + 1)/2 · (high − low)` per output.
    TanhScaled {
        /// Lower bounds.
        low: Vec<f32>,
        /// Upper bounds.
        high: Vec<f32>,
    },
}

/// An MLP: `sizes[0]` inputs, hidden layers, `sizes.last()` outputs. Layer `l` has weight
/// `layers.l.weight` (out × in, PyTorch `nn.Linear` layout) and bias `layers.l.bias`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Layer widths including input and output, e.g. `[4, 32, 2]`.
    pub sizes: Vec<usize>,
    /// Hidden activation (the output layer is linear; the head applies its own squashing).
    pub activation: Activation,
    /// Whether layers have biases.
    pub bias: bool,
}

impl MlpConfig {
    /// Number of linear layers.
    pub fn num_layers(&self) -> usize {
        self.sizes.len().saturating_sub(1)
    }

    /// Check the sizes (≥ 2 entries, all ≥ 1).
    pub fn validate(&self) -> Result<()> {
        if self.sizes.len() < 2 || self.sizes.contains(&0) {
            return Err(eggroll_core::Error::InvalidConfig {
                field: "policy.sizes".into(),
                reason: format!(
                    "is {:?}; needs at least an input and an output size, all ≥ 1",
                    self.sizes
                ),
            });
        }
        Ok(())
    }

    /// Parameter names of layer `l`.
    pub fn names(l: usize) -> (String, String) {
        (format!("layers.{l}.weight"), format!("layers.{l}.bias"))
    }

    /// The same network built from the population layers ([`crate::nn`]): `linear` layers
    /// named `layers.<l>` with the hidden activation between them. Its parameters have the
    /// MLP's names, shapes and order, so [`MlpConfig::init`]'s parameters (and checkpoints,
    /// exports) fit it, and its forward gives the same bits as [`crate::PopulationForward`].
    pub fn model(&self) -> Result<crate::nn::Model> {
        use crate::nn::{Vb, linear, seq};
        self.validate()?;
        let vb = Vb::new();
        let mut net = seq();
        for l in 0..self.num_layers() {
            let layer = linear(
                &vb.pp("layers").pp(l),
                self.sizes[l],
                self.sizes[l + 1],
                self.bias,
            )?;
            net = net.add(layer);
            if l + 1 < self.num_layers() {
                net = net.add(crate::nn::Activation(self.activation));
            }
        }
        crate::nn::Model::new(net, &vb, &[self.sizes[0]])
    }

    /// Initial parameters: PyTorch's `nn.Linear` default, U(−1/√in, 1/√in) for weights and
    /// biases, drawn from a counter-based stream of `seed` (deterministic everywhere).
    pub fn init(&self, seed: u64, device: &Device) -> Result<Params> {
        self.validate()?;
        let mut params = Params::new();
        for l in 0..self.num_layers() {
            let (n, m) = (self.sizes[l], self.sizes[l + 1]);
            let bound = 1.0 / (n as f32).sqrt();
            let (wn, bn) = Self::names(l);
            let w = uniform(seed, 2 * l as u64, m * n, bound);
            params.push(wn, Tensor::from_vec(w, (m, n), device)?)?;
            if self.bias {
                let b = uniform(seed, 2 * l as u64 + 1, m, bound);
                params.push(bn, Tensor::from_vec(b, m, device)?)?;
            }
        }
        Ok(params)
    }

    /// Check that `params` has this network's names and shapes.
    pub fn check_params(&self, params: &Params) -> Result<()> {
        self.validate()?;
        let expected = self.num_layers() * if self.bias { 2 } else { 1 };
        if params.len() != expected {
            return Err(eggroll_core::Error::Param {
                name: "*".into(),
                reason: format!(
                    "the policy {:?} (bias: {}) has {expected} tensors, got {}",
                    self.sizes,
                    self.bias,
                    params.len()
                ),
            });
        }
        for l in 0..self.num_layers() {
            let (n, m) = (self.sizes[l], self.sizes[l + 1]);
            let (wn, bn) = Self::names(l);
            let check = |name: &str, dims: &[usize]| match params.get(name) {
                Some(p) if p.dims() == dims => Ok(()),
                Some(p) => Err(eggroll_core::Error::Param {
                    name: name.into(),
                    reason: format!("shape {:?}, expected {dims:?}", p.dims()),
                }),
                None => Err(eggroll_core::Error::Param {
                    name: name.into(),
                    reason: "missing".into(),
                }),
            };
            check(&wn, &[m, n])?;
            if self.bias {
                check(&bn, &[m])?;
            }
        }
        Ok(())
    }
}

fn uniform(seed: u64, stream: u64, len: usize, bound: f32) -> Vec<f32> {
    use eggroll_core::noise::mix64;
    (0..len as u64)
        .map(|i| {
            let h = mix64(mix64(seed ^ 0x1417_a11c) ^ mix64((stream.wrapping_add(1) << 32) | i));
            let u = (h >> 40) as f32 / (1u64 << 24) as f32; // [0, 1)
            (2.0 * u - 1.0) * bound
        })
        .collect()
}

impl Head {
    /// Number of action values per member this head writes (1 for argmax).
    pub fn action_dim(&self) -> usize {
        match self {
            Head::Argmax | Head::Sample { .. } => 1,
            Head::TanhScaled { low, .. } => low.len(),
        }
    }

    /// Discrete action of one output row.
    #[inline]
    pub fn argmax(y: &[f32]) -> i64 {
        let mut best = 0;
        for (i, v) in y.iter().enumerate() {
            if *v > y[best] {
                best = i;
            }
        }
        best as i64
    }

    /// Sample a discrete action from softmax(y / temperature) with the uniform `u ∈ [0, 1)`.
    #[inline]
    pub fn sample(y: &[f32], temperature: f32, u: f32) -> i64 {
        let max = y.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let w: Vec<f32> = y.iter().map(|v| ((v - max) / temperature).exp()).collect();
        let total: f32 = w.iter().sum();
        let mut acc = 0.0;
        for (i, wi) in w.iter().enumerate() {
            acc += wi / total;
            if u < acc {
                return i as i64;
            }
        }
        (y.len() - 1) as i64
    }

    /// Continuous actions of one output row into `out`.
    #[inline]
    pub fn scale(low: &[f32], high: &[f32], y: &[f32], out: &mut [f32]) {
        for (((o, &v), &lo), &hi) in out.iter_mut().zip(y).zip(low).zip(high) {
            *o = lo + (eggroll_core::simd::tanh(v) + 1.0) * 0.5 * (hi - lo);
        }
    }
}

/// The layers of `config` in `params`, with `population`'s noise: shared by the CPU and the
/// device forward. Checks the parameters and rejects low-rank noise on a bias.
pub(crate) fn layer_sources<'a>(
    config: &MlpConfig,
    params: &'a Params,
    population: Option<&'a Population>,
) -> Result<Vec<LayerSource<'a>>> {
    config.check_params(params)?;
    if let Some(p) = population {
        check_population_shapes(config, params, p)?;
    }
    let tensor = |i: usize| params.iter().nth(i).expect("index").tensor();
    (0..config.num_layers())
        .map(|l| {
            let (wn, bn) = MlpConfig::names(l);
            let wi = params.index_of(&wn).expect("checked");
            let (bias, bias_noise) = if config.bias {
                let bi = params.index_of(&bn).expect("checked");
                let eps = match population.map(|p| &p.noise[bi]) {
                    Some(Noise::Full { eps }) => Some(eps),
                    Some(Noise::LowRank { .. }) => {
                        return Err(Error::Param {
                            name: bn,
                            reason: "a bias cannot have low-rank noise".into(),
                        });
                    }
                    _ => None,
                };
                (Some(tensor(bi)), eps)
            } else {
                (None, None)
            };
            Ok(LayerSource {
                w: tensor(wi),
                noise: population.map(|p| &p.noise[wi]),
                bias,
                bias_noise,
                m: config.sizes[l + 1],
                n: config.sizes[l],
            })
        })
        .collect()
}

/// Checks `population` against the network before any kernel indexes its noise (the public
/// fields of a [`Population`] can describe anything): one noise entry per parameter, and for
/// every layer noise tensors of shape `(K, m, r)` / `(K, n, r)` (low rank), `(K, m·n)` (full)
/// or `(K, m)` (bias) with enough blocks `K` for every member of the population.
fn check_population_shapes(config: &MlpConfig, params: &Params, p: &Population) -> Result<()> {
    check_population_size(params.len(), p)?;
    for l in 0..config.num_layers() {
        let (m, n) = (config.sizes[l + 1], config.sizes[l]);
        let (wn, bn) = MlpConfig::names(l);
        let index = |name: &str| params.index_of(name).expect("checked");
        let bias = config.bias.then(|| (bn.as_str(), index(&bn)));
        check_layer_noise(p, (&wn, index(&wn)), bias, m, n)?;
    }
    Ok(())
}

impl<'a> PopulationForward<'a> {
    /// Prepare the forward of `config` with `params`; `population` = None is plain inference
    /// (every row uses the unperturbed weights).
    pub fn new(
        config: &MlpConfig,
        params: &'a Params,
        population: Option<&'a Population>,
    ) -> Result<Self> {
        // The MLP is a model of population layers (`linear`, tanh/relu): its dense chain
        // prepares this kernel, the same one any `nn::Sequential` of such layers runs.
        config.model()?.dense_forward(params, population)
    }
}

/// The reference: materialise each row's member weights `θ + σ s_i E_i` and run a plain
/// per-row forward (a GEMV per layer). For tests and as the benchmark's baseline only.
pub fn materialized_forward(
    config: &MlpConfig,
    params: &Params,
    population: &Population,
    x: &[f32],
    members: Option<&[u32]>,
    out: &mut [f32],
) -> Result<()> {
    config.check_params(params)?;
    check_population_shapes(config, params, population)?;
    let base = params.to_host()?;
    let (din, dout) = (config.sizes[0], *config.sizes.last().expect("validated"));
    let rows = x.len() / din;
    if !x.len().is_multiple_of(din) || out.len() != rows * dout {
        return Err(Error::Param {
            name: "input".into(),
            reason: format!(
                "{} input values and {} output slots are not rows of {din} → {dout}",
                x.len(),
                out.len()
            ),
        });
    }
    if members.is_some_and(|m| m.len() != rows) {
        return Err(Error::Param {
            name: "members".into(),
            reason: format!(
                "{} member ids for {rows} rows",
                members.map_or(0, <[u32]>::len)
            ),
        });
    }
    check_members(members, rows, Some(population.size))?;
    out.par_chunks_mut(dout)
        .zip(x.par_chunks(din))
        .enumerate()
        .try_for_each_init(
            || vec![Vec::new(); params.len()],
            |buf, (i, (o, xi))| -> Result<()> {
                let member = members.map_or(i, |m| m[i] as usize);
                population.materialize_into(params, &base, member, buf)?;
                plain_row_forward(config, params, buf, xi, o);
                Ok(())
            },
        )?;
    debug_assert_eq!(rows * dout, out.len());
    Ok(())
}

/// Forward one input row through explicit host weights (one vector per parameter, in the
/// order of `params`), writing the pre-head outputs.
pub fn plain_row_forward(
    config: &MlpConfig,
    params: &Params,
    values: &[Vec<f32>],
    x: &[f32],
    out: &mut [f32],
) {
    let mut cur = x.to_vec();
    for l in 0..config.num_layers() {
        let (n, m) = (config.sizes[l], config.sizes[l + 1]);
        let (wn, bn) = MlpConfig::names(l);
        let w = &values[params.index_of(&wn).expect("checked")];
        let mut next = vec![0.0f32; m];
        for (k, y) in next.iter_mut().enumerate() {
            *y = eggroll_core::simd::dot(&w[k * n..(k + 1) * n], &cur);
        }
        if config.bias {
            let b = &values[params.index_of(&bn).expect("checked")];
            for (y, bv) in next.iter_mut().zip(b) {
                *y += bv;
            }
        }
        if l + 1 < config.num_layers() {
            for y in next.iter_mut() {
                *y = config.activation.apply(*y);
            }
        }
        cur = next;
    }
    out.copy_from_slice(&cur);
}

/// The population forward on tensors: `x` is `(rows, in)`, row `i` member `i`; returns
/// `(rows, out)` on `x`'s device. A convenience over [`PopulationForward`].
pub fn population_forward_tensor(
    config: &MlpConfig,
    params: &Params,
    population: Option<&Population>,
    x: &Tensor,
) -> Result<Tensor> {
    let fwd = PopulationForward::new(config, params, population)?;
    let rows = x.dims().first().copied().unwrap_or(0);
    let xv = x.flatten_all()?.to_vec1::<f32>()?;
    let mut out = vec![0.0f32; rows * fwd.out_dim()];
    fwd.forward(&xv, None, &mut out)?;
    Ok(Tensor::from_vec(out, (rows, fwd.out_dim()), x.device())?)
}
