//! Parameter declarations by nested name (candle-nn's `VarBuilder` naming).

use std::sync::{Arc, Mutex};

use candle_core::{Device, Tensor};
use eggroll_core::noise::mix64;
use eggroll_core::{Error, Params, Result};

/// How a parameter starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Uniform in `[-bound, bound]` (PyTorch's default for `Linear` and `Conv2d`:
    /// `bound = 1/√fan_in`).
    Uniform(f32),
    /// Standard normal times the scale (PyTorch's `Embedding`: 1).
    Normal(f32),
    /// Every value the same (norm gains 1, their biases 0).
    Const(f32),
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    /// Full dotted name (`blocks.0.attn.qkv.weight`).
    pub name: String,
    /// Shape (PyTorch layout).
    pub shape: Vec<usize>,
    /// Initialisation.
    pub init: Init,
}

/// A handle on one declared parameter: its position in the model's [`Params`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRef {
    /// Index in the parameter list.
    pub index: usize,
    /// Full name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
}

/// Hands out parameters under a name prefix; clones share one declaration list.
#[derive(Debug, Clone, Default)]
pub struct Vb {
    prefix: String,
    decls: Arc<Mutex<Vec<Decl>>>,
}

impl Vb {
    /// An empty builder at the root.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder for the sub-module `name` (`vb.pp("blocks").pp(0)` → `blocks.0.`).
    pub fn pp(&self, name: impl ToString) -> Vb {
        let name = name.to_string();
        Vb {
            prefix: if self.prefix.is_empty() {
                name
            } else {
                format!("{}.{name}", self.prefix)
            },
            decls: Arc::clone(&self.decls),
        }
    }

    /// This builder's prefix (the module's name).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Declare `name` under this prefix. A name already declared, an empty name or a zero
    /// dimension is a typed error naming the parameter.
    pub fn param(&self, name: &str, shape: &[usize], init: Init) -> Result<ParamRef> {
        let full = if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        };
        let bad = |reason: String| Error::Param {
            name: full.clone(),
            reason,
        };
        if name.is_empty() || full.split('.').any(str::is_empty) {
            return Err(bad("an empty name component".into()));
        }
        if shape.is_empty() || shape.contains(&0) {
            return Err(bad(format!("shape {shape:?} has no elements")));
        }
        let mut decls = self.decls.lock().expect("not poisoned");
        if decls.iter().any(|d| d.name == full) {
            return Err(bad(
                "declared twice: two layers share this name (give each its own `pp`)".into(),
            ));
        }
        decls.push(Decl {
            name: full.clone(),
            shape: shape.to_vec(),
            init,
        });
        Ok(ParamRef {
            index: decls.len() - 1,
            name: full,
            shape: shape.to_vec(),
        })
    }

    /// Every declaration so far, in order.
    pub fn decls(&self) -> Vec<Decl> {
        self.decls.lock().expect("not poisoned").clone()
    }
}

/// Draw the declared parameters: each from its own stream (seed, name), so adding a layer
/// does not change the others' initial values.
pub(crate) fn init_params(decls: &[Decl], seed: u64, device: &Device) -> Result<Params> {
    let mut params = Params::new();
    for d in decls {
        let n: usize = d.shape.iter().product();
        let key = mix64(seed ^ eggroll_core::noise::param_id(&d.name));
        let values: Vec<f32> = match d.init {
            Init::Const(c) => vec![c; n],
            Init::Uniform(bound) => (0..n as u64)
                .map(|i| {
                    let u = (mix64(key ^ mix64(i)) >> 40) as f32 / (1u64 << 24) as f32;
                    (2.0 * u - 1.0) * bound
                })
                .collect(),
            Init::Normal(scale) => {
                let mut v = vec![0.0f32; n];
                eggroll_core::noise::fill_block(key, 0, &mut v);
                v.iter_mut().for_each(|x| *x *= scale);
                v
            }
        };
        params.push(
            d.name.clone(),
            Tensor::from_vec(values, d.shape.as_slice(), device)?,
        )?;
    }
    Ok(params)
}
