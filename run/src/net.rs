//! The one description of a run's model: [`Net`]. A task's build returns it, the session
//! carries it, an exported policy stores it in its metadata (one key per kind) and `eval`,
//! `policy forward`, `sample` and the dashboard rebuild the network from it.

use std::collections::HashMap;

use eggroll_core::Params;
use eggroll_policies::MlpConfig;
use eggroll_policies::charlm::LmSpec;
use eggroll_policies::egg::{EggModel, EggSpec};
use eggroll_policies::mnist::CnnSpec;
use eggroll_policies::nn::Model;

/// A run's model. Benchmarks (sphere, rastrigin) have none: their parameters are the point.
#[derive(Debug, Clone, PartialEq)]
pub enum Net {
    /// An MLP (control tasks, `mnist --model mlp`; policy metadata `policy`).
    Mlp(MlpConfig),
    /// A `--model cnn` network of population layers (metadata `cnn`).
    Cnn(CnnSpec),
    /// A charlm model of population layers: transformer or minGRU (metadata `lm`).
    Lm(LmSpec),
    /// charlm's int8 EGG model (metadata `egg`; an int8 model of its own, [`EggModel`]).
    Egg(EggSpec),
}

/// The metadata keys of the kinds of [`Net`], in the order they are looked for.
const KEYS: [&str; 4] = ["egg", "cnn", "lm", "policy"];

impl Net {
    /// The population-layer model of a CNN or language model (the others are not built from
    /// population layers: an error naming the kind).
    pub fn build(&self) -> eggroll_core::Result<Model> {
        match self {
            Net::Cnn(c) => c.build(),
            Net::Lm(l) => l.build(),
            Net::Mlp(_) | Net::Egg(_) => Err(eggroll_core::Error::Param {
                name: self.name(),
                reason: "is not a model of population layers".into(),
            }),
        }
    }

    /// The `model` of the run's JSON: `mlp`, `cnn`, `transformer`, `mingru` or `egg`.
    pub fn name(&self) -> String {
        match self {
            Net::Mlp(_) => "mlp".into(),
            Net::Cnn(_) => "cnn".into(),
            Net::Egg(_) => "egg".into(),
            Net::Lm(l) => serde_json::to_value(l.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        }
    }

    /// Values per input row: observation size, pixels or context length (1 for EGG, whose
    /// inputs are tokens one at a time).
    pub fn inputs(&self) -> usize {
        match self {
            Net::Mlp(p) => p.sizes[0],
            Net::Cnn(c) => c.rows * c.cols,
            Net::Lm(l) => l.context,
            Net::Egg(_) => 1,
        }
    }

    /// The policy-file metadata entry that stores it: `(key, JSON)`.
    pub fn to_metadata(&self) -> (String, String) {
        let json = match self {
            Net::Mlp(p) => serde_json::to_string(p),
            Net::Cnn(c) => serde_json::to_string(c),
            Net::Lm(l) => serde_json::to_string(l),
            Net::Egg(e) => serde_json::to_string(e),
        };
        (
            self.metadata_key().to_string(),
            json.expect("a model description serialises"),
        )
    }

    /// Its metadata key.
    pub fn metadata_key(&self) -> &'static str {
        match self {
            Net::Mlp(_) => "policy",
            Net::Cnn(_) => "cnn",
            Net::Lm(_) => "lm",
            Net::Egg(_) => "egg",
        }
    }

    /// Whether policy-file metadata holds a model description.
    pub fn in_metadata(meta: &HashMap<String, String>) -> bool {
        KEYS.iter().any(|k| meta.contains_key(*k))
    }

    /// Read the model back from policy-file metadata; the error says what is wrong with
    /// which key.
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<Net, String> {
        fn parse<T: serde::de::DeserializeOwned>(
            meta: &HashMap<String, String>,
            key: &str,
        ) -> Result<T, String> {
            serde_json::from_str(meta.get(key).map_or("", |s| s))
                .map_err(|e| format!("missing or invalid `{key}` metadata: {e}"))
        }
        let key = KEYS.iter().find(|k| meta.contains_key(**k)).copied();
        Ok(match key {
            Some("egg") => Net::Egg(parse(meta, "egg")?),
            Some("cnn") => Net::Cnn(parse(meta, "cnn")?),
            Some("lm") => Net::Lm(parse(meta, "lm")?),
            _ => {
                let p: MlpConfig = parse(meta, "policy")?;
                p.validate().map_err(|_| {
                    format!(
                        "metadata `policy`: sizes {:?} need an input and an output size, all ≥ 1",
                        p.sizes
                    )
                })?;
                Net::Mlp(p)
            }
        })
    }

    /// The parameter names in the model's declaration order (`None` for an MLP, whose
    /// parameters keep the order they are stored in).
    pub fn param_names(&self) -> eggroll_core::Result<Option<Vec<String>>> {
        Ok(match self {
            Net::Mlp(_) => None,
            Net::Egg(e) => {
                e.check()?;
                Some(e.shapes().into_iter().map(|(n, _)| n).collect())
            }
            Net::Cnn(_) | Net::Lm(_) => Some(
                self.build()?
                    .decls()
                    .iter()
                    .map(|d| d.name.clone())
                    .collect(),
            ),
        })
    }

    /// Fail unless `params` are this model's parameters (names, shapes, values in range).
    pub fn check_params(&self, params: &Params) -> eggroll_core::Result<()> {
        match self {
            Net::Mlp(p) => p.check_params(params),
            Net::Egg(e) => EggModel::new(*e, params).map(|_| ()),
            Net::Cnn(_) | Net::Lm(_) => self.build()?.check_params(params),
        }
    }

    /// The MLP, where the model is one.
    pub fn mlp(&self) -> Option<&MlpConfig> {
        match self {
            Net::Mlp(p) => Some(p),
            _ => None,
        }
    }
}
