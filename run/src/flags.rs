//! The flags of `eggroll train` that each set one config key — also the keywords of Python's
//! `eggroll.train` — in one table, and their typed values as config overrides.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Flag (without `--`, `-` as `_`) → the config key it sets.
pub const FLAG_KEYS: [(&str, &str); 12] = [
    ("seed", "es.seed"),
    ("generations", "stop.generations"),
    ("population", "es.population_size"),
    ("rank", "es.rank"),
    ("sigma", "es.sigma"),
    ("lr", "es.learning_rate"),
    ("threads", "threads"),
    ("episodes", "evaluation.episodes"),
    ("batch", "data.batch"),
    ("model", "policy.model"),
    ("data_dir", "data.dir"),
    ("time_budget", "stop.time_budget_s"),
];

/// The config key `flag` sets (`None` for other names).
///
/// ```
/// assert_eq!(eggroll_run::flags::flag_key("lr"), Some("es.learning_rate"));
/// ```
pub fn flag_key(flag: &str) -> Option<&'static str> {
    FLAG_KEYS.iter().find(|(f, _)| *f == flag).map(|(_, k)| *k)
}

/// The typed values of those flags, as a command line gives them.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)] // each field is the flag of the same name in FLAG_KEYS
pub struct Flags {
    pub seed: Option<u64>,
    pub generations: Option<u64>,
    pub population: Option<usize>,
    pub rank: Option<usize>,
    pub sigma: Option<f32>,
    pub lr: Option<f32>,
    pub threads: Option<usize>,
    pub episodes: Option<usize>,
    pub batch: Option<usize>,
    pub model: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub time_budget: Option<f64>,
}

impl Flags {
    /// The overrides `(config key, value)` of the flags given, for [`crate::Start`].
    pub fn overrides(&self) -> Result<Vec<(&'static str, toml::Value)>> {
        use toml::Value;
        // Values beyond i64 saturate (and are then refused by validation or the memory check).
        let int = |v: u64| Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));
        let count = |v: Option<usize>| v.map(|v| int(v as u64));
        if let Some(v) = self.seed
            && v > i64::MAX as u64
        {
            // TOML integers are signed 64-bit: larger seeds cannot be stored in config.toml.
            return Err(Error::Input {
                what: format!("--seed {v}"),
                reason: format!(
                    "must be ≤ {} (a config file holds signed 64-bit integers)",
                    i64::MAX
                ),
            });
        }
        let values = [
            self.seed.map(int),
            self.generations.map(int),
            count(self.population),
            count(self.rank),
            self.sigma.map(|v| Value::Float(f64::from(v))),
            self.lr.map(|v| Value::Float(f64::from(v))),
            count(self.threads),
            count(self.episodes),
            count(self.batch),
            self.model.clone().map(Value::String),
            self.data_dir
                .as_ref()
                .map(|d| Value::String(d.display().to_string())),
            self.time_budget.map(Value::Float),
        ];
        Ok(FLAG_KEYS
            .iter()
            .zip(values)
            .filter_map(|((_, key), v)| v.map(|v| (*key, v)))
            .collect())
    }
}
