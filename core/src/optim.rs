//! Optimisers applied to the ES gradient estimate (gradient *ascent*).

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, config_err};
use crate::params::Params;

/// Which optimiser, with its constants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// `v ← μ v + g; θ ← θ + lr · v`.
    Sgd {
        /// Momentum μ in [0, 1).
        #[serde(default)]
        momentum: f32,
    },
    /// Adam on `−g`.
    Adam {
        /// First-moment decay.
        #[serde(default = "beta1")]
        beta1: f32,
        /// Second-moment decay.
        #[serde(default = "beta2")]
        beta2: f32,
        /// Denominator constant.
        #[serde(default = "eps")]
        eps: f32,
    },
    /// Adam with decoupled weight decay: `θ ← θ − lr · wd · θ` before the Adam step.
    #[serde(rename = "adamw")]
    AdamW {
        /// First-moment decay.
        #[serde(default = "beta1")]
        beta1: f32,
        /// Second-moment decay.
        #[serde(default = "beta2")]
        beta2: f32,
        /// Denominator constant.
        #[serde(default = "eps")]
        eps: f32,
        /// Decoupled weight decay.
        #[serde(default = "wd")]
        weight_decay: f32,
    },
}

fn beta1() -> f32 {
    0.9
}
fn beta2() -> f32 {
    0.999
}
fn eps() -> f32 {
    1e-8
}
fn wd() -> f32 {
    0.01
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Adam {
            beta1: beta1(),
            beta2: beta2(),
            eps: eps(),
        }
    }
}

impl OptimizerConfig {
    /// Check the constants.
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, v: f32| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(config_err(
                    format!("optimizer.{name}"),
                    format!("is {v}; allowed range [0, 1)"),
                ))
            }
        };
        match *self {
            OptimizerConfig::Sgd { momentum } => unit("momentum", momentum),
            OptimizerConfig::Adam { beta1, beta2, eps }
            | OptimizerConfig::AdamW {
                beta1, beta2, eps, ..
            } => {
                unit("beta1", beta1)?;
                unit("beta2", beta2)?;
                if !(eps > 0.0 && eps.is_finite()) {
                    return Err(config_err(
                        "optimizer.eps",
                        format!("is {eps}; must be > 0"),
                    ));
                }
                if let OptimizerConfig::AdamW { weight_decay, .. } = *self
                    && !(weight_decay >= 0.0 && weight_decay.is_finite())
                {
                    return Err(config_err(
                        "optimizer.weight_decay",
                        format!("is {weight_decay}; must be ≥ 0"),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Optimiser state: step count and per-parameter moment tensors.
#[derive(Debug, Clone)]
pub struct Optimizer {
    config: OptimizerConfig,
    step: u64,
    m: Vec<Option<Tensor>>,
    v: Vec<Option<Tensor>>,
}

impl Optimizer {
    /// A fresh optimiser for `n_params` parameters.
    pub fn new(config: OptimizerConfig, n_params: usize) -> Self {
        Self {
            config,
            step: 0,
            m: vec![None; n_params],
            v: vec![None; n_params],
        }
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Apply one ascent step with gradient estimates `grads` (None = not updated) and learning
    /// rate `lr`. Returns ‖Δθ‖₂.
    pub fn step(&mut self, params: &mut Params, grads: &[Option<Tensor>], lr: f32) -> Result<f32> {
        self.step += 1;
        let t = self.step as i32;
        let lr = lr as f64;
        let mut sq = 0.0f64;
        for (i, g) in grads.iter().enumerate() {
            let Some(g) = g else { continue };
            let theta = params
                .iter()
                .nth(i)
                .expect("index in range")
                .tensor()
                .clone();
            let delta = match self.config {
                OptimizerConfig::Sgd { momentum } => {
                    let v = match (&self.m[i], momentum > 0.0) {
                        (Some(v), true) => (v.affine(momentum as f64, 0.0)? + g)?,
                        _ => g.clone(),
                    };
                    if momentum > 0.0 {
                        self.m[i] = Some(v.clone());
                    }
                    v.affine(lr, 0.0)?
                }
                OptimizerConfig::Adam { beta1, beta2, eps }
                | OptimizerConfig::AdamW {
                    beta1, beta2, eps, ..
                } => {
                    let (b1, b2) = (beta1 as f64, beta2 as f64);
                    let m = match &self.m[i] {
                        Some(m) => (m.affine(b1, 0.0)? + g.affine(1.0 - b1, 0.0)?)?,
                        None => g.affine(1.0 - b1, 0.0)?,
                    };
                    let g2 = g.sqr()?;
                    let v = match &self.v[i] {
                        Some(v) => (v.affine(b2, 0.0)? + g2.affine(1.0 - b2, 0.0)?)?,
                        None => g2.affine(1.0 - b2, 0.0)?,
                    };
                    let mhat = m.affine(1.0 / (1.0 - b1.powi(t)), 0.0)?;
                    let vhat = v.affine(1.0 / (1.0 - b2.powi(t)), 0.0)?;
                    let step = (mhat / vhat.sqrt()?.affine(1.0, eps as f64)?)?;
                    self.m[i] = Some(m);
                    self.v[i] = Some(v);
                    let mut d = step.affine(lr, 0.0)?;
                    if let OptimizerConfig::AdamW { weight_decay, .. } = self.config {
                        d = (d - theta.affine(lr * weight_decay as f64, 0.0)?)?;
                    }
                    d
                }
            };
            sq += delta.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            params.set(i, (theta + delta)?)?;
        }
        Ok(sq.sqrt() as f32)
    }

    /// The state tensors, named `m.<i>` / `v.<i>`, and the step count.
    pub fn state(&self) -> (u64, Vec<(String, Tensor)>) {
        let mut out = Vec::new();
        for (i, t) in self.m.iter().enumerate() {
            if let Some(t) = t {
                out.push((format!("m.{i}"), t.clone()));
            }
        }
        for (i, t) in self.v.iter().enumerate() {
            if let Some(t) = t {
                out.push((format!("v.{i}"), t.clone()));
            }
        }
        (self.step, out)
    }

    /// Restore the state written by [`Optimizer::state`]; shapes are checked against `params`.
    pub fn load_state(
        &mut self,
        step: u64,
        tensors: Vec<(String, Tensor)>,
        params: &Params,
    ) -> Result<()> {
        // All or nothing: build the new state aside, assign it only once every tensor checks.
        let mut m = vec![None; params.len()];
        let mut v = vec![None; params.len()];
        for (name, t) in tensors {
            let bad = |reason: String| Error::Param {
                name: format!("optimizer.{name}"),
                reason,
            };
            let (kind, idx) = name
                .split_once('.')
                .ok_or_else(|| bad("unrecognised state tensor".into()))?;
            let idx: usize = idx
                .parse()
                .map_err(|_| bad("unrecognised state tensor".into()))?;
            let p = params
                .iter()
                .nth(idx)
                .ok_or_else(|| bad("refers to a parameter that does not exist".into()))?;
            if p.dims() != t.dims() {
                return Err(bad(format!(
                    "shape {:?} does not match parameter `{}` {:?}",
                    t.dims(),
                    p.name(),
                    p.dims()
                )));
            }
            let t = t.to_device(&params.device())?;
            if !t
                .flatten_all()?
                .to_vec1::<f32>()?
                .iter()
                .all(|x| x.is_finite())
            {
                return Err(bad("holds a non-finite value".into()));
            }
            match kind {
                "m" => m[idx] = Some(t),
                "v" => v[idx] = Some(t),
                _ => return Err(bad("unrecognised state tensor".into())),
            }
        }
        self.step = step;
        self.m = m;
        self.v = v;
        Ok(())
    }
}
