//! The one catalogue of built-in strategies: kind, names and aliases, parsing, building from
//! parameters and an [`EsConfig`], and the memory each needs. The run configuration, the
//! `Session`, [`minimize`](crate::minimize), the Python bindings and `compare` all read it; a
//! new built-in strategy is its file plus one line here.

use serde::{Deserialize, Serialize};

use super::{EsConfig, Strategy};
use crate::cmaes::{CmaConfig, CmaStrategy, Covariance, Restarts};
use crate::error::{Result, config_err};
use crate::params::Params;
use crate::{Eggroll, SimpleEs};

/// A built-in strategy. Config files are written in snake case (`eggroll`, `simple_es`,
/// `cmaes`, `sep_cmaes`) and read every name [`StrategyKind::parse`] takes (the CLI's and
/// Python's names too: `sep-cmaes` in a TOML file is what `--strategy sep-cmaes` is).
///
/// ```
/// use eggroll_core::StrategyKind;
/// let k = StrategyKind::parse("sep-cmaes", "strategy").unwrap();
/// assert_eq!((k, k.name(), k.is_cma()), (StrategyKind::SepCmaes, "sep-cmaes", true));
/// assert!(StrategyKind::parse("nope", "strategy").unwrap_err().to_string().contains("cmaes"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Low-rank EGGROLL.
    #[default]
    Eggroll,
    /// Full-rank OpenAI-ES.
    SimpleEs,
    /// CMA-ES (full covariance; λ = `population_size`, σ₀ = `sigma`, seed = `seed`).
    Cmaes,
    /// sep-CMA-ES (diagonal covariance, for many parameters).
    SepCmaes,
    /// nano-egg's integer vote update for int8 models (`charlm --model egg`): parameters are
    /// integers, σ a power of two, the learning rate the vote test's level α.
    Egg,
}

/// One catalogue line: the kind, its canonical name, the other names it is known by.
struct Entry {
    kind: StrategyKind,
    name: &'static str,
    aliases: &'static [&'static str],
}

const CATALOGUE: [Entry; 5] = [
    Entry {
        kind: StrategyKind::Eggroll,
        name: "eggroll",
        aliases: &[],
    },
    Entry {
        kind: StrategyKind::SimpleEs,
        name: "simplees",
        aliases: &["simple_es", "simple-es"],
    },
    Entry {
        kind: StrategyKind::Cmaes,
        name: "cmaes",
        aliases: &["cma-es", "cma"],
    },
    Entry {
        kind: StrategyKind::SepCmaes,
        name: "sep-cmaes",
        aliases: &["sep_cmaes", "sepcmaes"],
    },
    Entry {
        kind: StrategyKind::Egg,
        name: "egg",
        aliases: &["int8"],
    },
];

/// Config files take every name [`StrategyKind::parse`] takes (one catalogue: a name the CLI
/// accepts is never refused in a TOML file).
impl<'de> Deserialize<'de> for StrategyKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        by_name::deserialize(d)
    }
}

impl StrategyKind {
    /// Every built-in strategy, in catalogue order.
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::Eggroll,
        StrategyKind::SimpleEs,
        StrategyKind::Cmaes,
        StrategyKind::SepCmaes,
        StrategyKind::Egg,
    ];

    fn entry(self) -> &'static Entry {
        CATALOGUE
            .iter()
            .find(|e| e.kind == self)
            .expect("every kind has a catalogue line")
    }

    /// The canonical name (CLI flags, Python, reports): `eggroll`, `simplees`, `cmaes`,
    /// `sep-cmaes`.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// The kind named `name` (canonical name or alias); the error names `field` and lists
    /// the valid names.
    pub fn parse(name: &str, field: &str) -> Result<Self> {
        Self::lookup(name).map_err(|reason| config_err(field, reason))
    }

    /// The kind named `name`, or the reason it is refused (listing the valid names).
    fn lookup(name: &str) -> std::result::Result<Self, String> {
        CATALOGUE
            .iter()
            .find(|e| e.name == name || e.aliases.contains(&name))
            .map(|e| e.kind)
            .ok_or_else(|| {
                let valid: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
                format!("`{name}` is unknown; valid: {}", valid.join(", "))
            })
    }

    /// CMA-ES or sep-CMA-ES.
    pub fn is_cma(self) -> bool {
        matches!(self, StrategyKind::Cmaes | StrategyKind::SepCmaes)
    }

    /// The covariance model of the CMA kinds (`None` for the others).
    pub fn covariance(self) -> Option<Covariance> {
        match self {
            StrategyKind::Cmaes => Some(Covariance::Full),
            StrategyKind::SepCmaes => Some(Covariance::Diagonal),
            _ => None,
        }
    }

    /// Whether `es.top_pairs` (ARS's top-b antithetic pairs) applies: EGGROLL and SimpleES.
    pub fn takes_top_pairs(self) -> bool {
        matches!(self, StrategyKind::Eggroll | StrategyKind::SimpleEs)
    }

    /// Build the strategy for `params` from `es`. The CMA kinds take λ, σ₀ and the seed from
    /// it, `es.cmean` and `es.restarts` (λ grows at most 8-fold over restarts); the other
    /// kinds refuse `es.restarts` and an `es.cmean` other than 1, naming the key.
    pub fn build(self, es: &EsConfig, params: &Params) -> Result<Box<dyn Strategy>> {
        if !self.is_cma() && es.restarts != Restarts::None {
            return Err(config_err(
                "es.restarts",
                "applies to strategy = \"cmaes\" or \"sep_cmaes\" only",
            ));
        }
        if !self.is_cma() && es.cmean != 1.0 {
            return Err(config_err(
                "es.cmean",
                "applies to strategy = \"cmaes\" or \"sep_cmaes\" only",
            ));
        }
        if !self.takes_top_pairs() && es.top_pairs != 0 {
            return Err(config_err(
                "es.top_pairs",
                "applies to strategy = \"eggroll\" or \"simple_es\" only",
            ));
        }
        Ok(match (self, self.covariance()) {
            (StrategyKind::Eggroll, _) => Box::new(Eggroll::new(es.clone(), params)?),
            (StrategyKind::SimpleEs, _) => Box::new(SimpleEs::new(es.clone(), params)?),
            (StrategyKind::Egg, _) => Box::new(super::egg::IntVote::new(es.clone(), params)?),
            (_, Some(covariance)) => {
                if es.population_size < 2 {
                    return Err(config_err(
                        "population_size",
                        format!("is {}; must be ≥ 2", es.population_size),
                    ));
                }
                Box::new(
                    CmaStrategy::new(
                        CmaConfig {
                            population_size: es.population_size,
                            sigma0: f64::from(es.sigma),
                            seed: es.seed,
                            covariance,
                            cmean: es.cmean,
                            ..CmaConfig::default()
                        },
                        params,
                    )?
                    .with_restarts(es.restarts, 8 * es.population_size),
                )
            }
            (_, None) => unreachable!("only the CMA kinds have a covariance"),
        })
    }

    /// What a generation holds beyond the parameters, per `(rows, cols)` matrix of the
    /// model (vectors as `(1, len)`): labelled dimension lists whose products are counts of
    /// 4-byte numbers, for the memory check before a run. `total` is the parameter count.
    pub fn memory_terms(
        self,
        es: &EsConfig,
        mats: &[(usize, usize)],
        total: usize,
    ) -> Vec<(&'static str, Vec<usize>)> {
        let n = es.population_size;
        let blocks = n.div_ceil(2);
        let mut out = Vec::new();
        for &(m, c) in mats {
            out.push(match self {
                StrategyKind::Eggroll | StrategyKind::Egg => {
                    ("noise", vec![blocks, m.saturating_add(c), es.rank])
                }
                StrategyKind::SimpleEs => ("noise", vec![blocks, m, c]),
                // Every sample in f64 and f32.
                StrategyKind::Cmaes | StrategyKind::SepCmaes => {
                    ("CMA-ES samples", vec![3, n, m, c])
                }
            });
        }
        if self == StrategyKind::Cmaes {
            // C and its eigenvectors, n×n in f64 each.
            out.push((
                "CMA-ES covariance matrix and eigenvectors",
                vec![4, total, total],
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for k in StrategyKind::ALL {
            assert_eq!(StrategyKind::parse(k.name(), "strategy").unwrap(), k);
            for a in k.entry().aliases {
                assert_eq!(StrategyKind::parse(a, "strategy").unwrap(), k);
            }
            // The config spelling (serde) parses too, and serde reads every name.
            let toml_name = serde_json::to_value(k).unwrap();
            let s = toml_name.as_str().unwrap();
            assert_eq!(StrategyKind::parse(s, "strategy").unwrap(), k, "{s}");
            for name in std::iter::once(&k.name()).chain(k.entry().aliases) {
                let read: StrategyKind = serde_json::from_value(name.to_string().into()).unwrap();
                assert_eq!(read, k, "{name}");
            }
        }
        let e = serde_json::from_value::<StrategyKind>("nope".into()).unwrap_err();
        assert!(e.to_string().contains("sep-cmaes"), "{e}");
        let e = StrategyKind::parse("nope", "es.kind")
            .unwrap_err()
            .to_string();
        assert!(e.contains("es.kind") && e.contains("sep-cmaes"), "{e}");
    }
}

/// Serde writing the canonical name (`eggroll`, `simplees`, `cmaes`, `sep-cmaes`) instead of
/// the config spelling (both read every name):
/// `#[serde(with = "eggroll_core::strategy::by_name")]` on a [`StrategyKind`] field
/// (bbob suite files and [`MinimizeOptions`](crate::minimize::MinimizeOptions) use it).
pub mod by_name {
    use super::StrategyKind;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write the canonical name.
    pub fn serialize<S: Serializer>(k: &StrategyKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.name())
    }

    /// Read any name [`StrategyKind::parse`] accepts.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StrategyKind, D::Error> {
        let name = String::deserialize(d)?;
        StrategyKind::lookup(&name).map_err(serde::de::Error::custom)
    }
}
