//! MLP policy definitions: layer sizes, activation, biases, action heads, parameters.

use candle_core::{Device, Tensor};
use eggroll_core::{Params, Result};
use serde::{Deserialize, Serialize};

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
