//! EGGROLL (low-rank noise) and SimpleES (full noise): one shared core, [`EsConfig`].

use serde::{Deserialize, Serialize};

use super::{Strategy, StrategyState, TellReport};
use crate::error::{Error, Result, check_positive, config_err};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::params::{ParamKind, Params};
use crate::population::{NoiseSpec, Pairing, Population};
use crate::schedule::Schedule;
use crate::shaping::{Shaping, shape, shape_top_pairs};

/// How the gradient estimate is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// The textbook estimator `1/(Nσ) Σ f̃_i s_i E_i`.
    #[default]
    Textbook,
    /// HyperscaleES's `σ/√N · Σ f̃_i s_i E_i`, so its published hyperparameters carry over
    /// (official = σ²√N · textbook).
    Official,
}

/// Deserialise an f32 config value, refusing numbers beyond f32's range (they would silently
/// become ±inf and then read as "sigma is inf").
fn f32_in_range<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f32, D::Error> {
    let v = <f64 as Deserialize>::deserialize(d)?;
    if v.is_finite() && v.abs() > f64::from(f32::MAX) {
        return Err(serde::de::Error::custom(format!(
            "{v:e} is out of range for a 32-bit float (magnitude at most 3.4e38)"
        )));
    }
    Ok(v as f32)
}

/// The largest accepted `rank`: a guard against a typo allocating the whole memory (full rank of
/// a 4096-wide layer; beyond it low-rank noise costs more than full noise).
pub const MAX_RANK: usize = 4096;

/// Configuration shared by [`Eggroll`] and [`SimpleEs`] (names follow the seed package).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsConfig {
    /// Members per generation; even (antithetic pairs).
    pub population_size: usize,
    /// Noise scale σ > 0.
    #[serde(deserialize_with = "f32_in_range")]
    pub sigma: f32,
    /// Base learning rate > 0.
    #[serde(deserialize_with = "f32_in_range")]
    pub learning_rate: f32,
    /// Low-rank rank r ≥ 1 (EGGROLL only). Any r is valid for every matrix, also r > min(m, n)
    /// (A is m×r, B is n×r, scaled by 1/√r), as in the official implementation.
    pub rank: usize,
    /// Seed of the noise.
    pub seed: u64,
    /// Use the same noise for this many consecutive generations (1 = fresh noise every
    /// generation). 0 is rejected: in the official code it meant "one noise set forever".
    pub noise_reuse: u64,
    /// 0 = global shaping; g > 0 = subtract each group's mean (global std). Must divide the
    /// population.
    pub group_size: usize,
    /// Perturb and update only matrix parameters.
    pub freeze_nonlora: bool,
    /// Fitness shaping.
    pub shaping: Shaping,
    /// ARS's top-b directions (Mania et al. 2018, "V2-t"): 0 = every antithetic pair moves θ;
    /// b > 0 = only the `b` pairs whose better member scored highest, their 2b fitness values
    /// shaped together (see [`crate::shaping::shape_top_pairs`]); b at or above the number of
    /// pairs keeps them all (so a smaller `population_size` never makes a default invalid).
    /// Needs antithetic pairing and `group_size = 0`; EGGROLL and SimpleES only.
    pub top_pairs: usize,
    /// Gradient scaling convention.
    pub scaling: Scaling,
    /// Optimiser.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub lr_schedule: Schedule,
    /// σ schedule.
    pub sigma_schedule: Schedule,
    /// Restarts of CMA-ES (`cmaes`, `sep_cmaes` only): none, ipop or bipop.
    pub restarts: crate::cmaes::Restarts,
    /// CMA-ES's learning rate of the mean `c_m` in `(0, 1]` (`cmaes`, `sep_cmaes` only;
    /// pycma's `CMA_cmean`): the mean moves by `c_m·σ·⟨y⟩_w`. 1 is the standard; below 1 the
    /// mean averages the selected steps of several generations, for noisy fitness (Hansen's
    /// tutorial, §B.4).
    #[serde(skip_serializing_if = "is_one")]
    pub cmean: f64,
    /// How members share noise: `antithetic` (the default: members `2k`, `2k + 1` are
    /// `θ ± σE_k`; the population must be even) or `independent` (member `i` is `θ + σE_i`,
    /// the seed package's `noise_reuse = 0`).
    #[serde(skip_serializing_if = "is_antithetic")]
    pub pairing: Pairing,
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

fn is_antithetic(p: &Pairing) -> bool {
    *p == Pairing::Antithetic
}

impl Default for EsConfig {
    fn default() -> Self {
        Self {
            population_size: 256,
            sigma: 0.1,
            learning_rate: 0.01,
            rank: 1,
            seed: 0,
            noise_reuse: 1,
            group_size: 0,
            freeze_nonlora: false,
            shaping: Shaping::ZScore,
            top_pairs: 0,
            scaling: Scaling::Textbook,
            optimizer: OptimizerConfig::default(),
            lr_schedule: Schedule::Constant,
            sigma_schedule: Schedule::Constant,
            restarts: crate::cmaes::Restarts::None,
            cmean: 1.0,
            pairing: Pairing::Antithetic,
        }
    }
}

impl EsConfig {
    /// Check every field; errors name the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        let n = self.population_size;
        if n < 2 {
            return Err(config_err(
                "population_size",
                format!("is {n}; must be ≥ 2"),
            ));
        }
        if self.pairing == Pairing::Antithetic && !n.is_multiple_of(2) {
            return Err(config_err(
                "population_size",
                format!("is {n}; antithetic sampling needs an even population"),
            ));
        }
        check_positive("sigma", self.sigma)?;
        check_positive("learning_rate", self.learning_rate)?;
        if !(self.cmean > 0.0 && self.cmean <= 1.0) {
            return Err(config_err(
                "cmean",
                format!("is {}; must be in (0, 1]", self.cmean),
            ));
        }
        if self.rank == 0 {
            return Err(config_err("rank", "is 0; must be ≥ 1"));
        }
        if self.rank > MAX_RANK {
            return Err(config_err(
                "rank",
                format!(
                    "is {}; must be ≤ {MAX_RANK} (the noise of one generation holds \
                     population/2 × (m + n) × rank numbers per matrix)",
                    self.rank
                ),
            ));
        }
        if self.noise_reuse == 0 {
            return Err(config_err(
                "noise_reuse",
                "is 0; must be ≥ 1 (1 = fresh noise every generation, k = reuse for k generations)",
            ));
        }
        if self.group_size != 0 && !n.is_multiple_of(self.group_size) {
            return Err(config_err(
                "group_size",
                format!(
                    "is {}; must be 0 (global) or divide population_size {n}",
                    self.group_size
                ),
            ));
        }
        if self.top_pairs > 0 {
            let why = if self.pairing != Pairing::Antithetic {
                Some("selects antithetic pairs; it needs pairing = \"antithetic\"")
            } else if self.group_size != 0 {
                Some("shapes the selected pairs together; it needs group_size = 0")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(config_err(
                    "top_pairs",
                    format!("is {}; {why}", self.top_pairs),
                ));
            }
        }
        self.optimizer.validate()?;
        self.lr_schedule.validate("lr_schedule")?;
        self.sigma_schedule.validate("sigma_schedule")?;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoiseFamily {
    LowRank,
    Full,
}

/// The shared machinery of the two built-in strategies.
#[derive(Debug, Clone)]
struct EsCore {
    config: EsConfig,
    specs: Vec<NoiseSpec>,
    optimizer: Optimizer,
    /// The run's length in generations, for [`Schedule::Budget`] (set by the run).
    horizon: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct CoreJson {
    optimizer_steps: u64,
    sigma_base: f32,
    lr_base: f32,
    /// Absent in checkpoints written before budget schedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    horizon: Option<u64>,
}

impl EsCore {
    fn new(config: EsConfig, params: &Params, family: NoiseFamily) -> Result<Self> {
        config.validate()?;
        if params.is_empty() {
            return Err(config_err("params", "the parameter set is empty"));
        }
        let mut specs = Vec::with_capacity(params.len());
        for p in params.iter() {
            specs.push(match (family, p.kind()) {
                // Any r ≥ 1 is valid for every matrix, as in the official implementation: A is
                // m×r and B is n×r, scaled by 1/√r (Cov(vec E) = I for every r, even when
                // r > min(m, n)).
                (NoiseFamily::LowRank, ParamKind::Matrix { .. }) => NoiseSpec::LowRank(config.rank),
                (NoiseFamily::Full, ParamKind::Matrix { .. }) => NoiseSpec::Full,
                (_, ParamKind::Other) if config.freeze_nonlora => NoiseSpec::None,
                (_, ParamKind::Other) => NoiseSpec::Full,
            });
        }
        Ok(Self {
            optimizer: Optimizer::new(config.optimizer, params.len()),
            specs,
            config,
            horizon: None,
        })
    }

    fn sigma(&self, generation: u64) -> f32 {
        self.config
            .sigma_schedule
            .value(self.config.sigma, generation, self.horizon)
    }

    fn lr(&self, generation: u64) -> f32 {
        self.config
            .lr_schedule
            .value(self.config.learning_rate, generation, self.horizon)
    }

    fn ask(&self, params: &Params, generation: u64) -> Result<Population> {
        if params.len() != self.specs.len() {
            return Err(config_err(
                "params",
                format!(
                    "the strategy was built for {} parameters, got {}",
                    self.specs.len(),
                    params.len()
                ),
            ));
        }
        Population::generate(
            params,
            &self.specs,
            self.config.population_size,
            self.config.pairing,
            self.config.seed,
            generation,
            generation / self.config.noise_reuse,
            self.sigma(generation),
        )
    }

    fn tell(
        &mut self,
        params: &mut Params,
        population: &Population,
        fitness: &[f32],
    ) -> Result<TellReport> {
        if fitness.len() != population.size {
            return Err(Error::FitnessLength {
                expected: population.size,
                got: fitness.len(),
            });
        }
        let shaped = match self.config.top_pairs {
            0 => shape(fitness, self.config.shaping, self.config.group_size),
            b => shape_top_pairs(fitness, self.config.shaping, b),
        };
        let n = population.size as f32;
        let sigma = population.sigma;
        let coef = match self.config.scaling {
            Scaling::Textbook => 1.0 / (n * sigma),
            Scaling::Official => sigma / n.sqrt(),
        };
        let grads = population.weighted_noise_sum(params, &shaped, coef)?;
        let lr = self.lr(population.generation);
        let update_norm = self.optimizer.step(params, &grads, lr)?;
        Ok(TellReport {
            update_norm,
            sigma,
            lr,
        })
    }

    fn state(&self) -> Result<StrategyState> {
        let (steps, tensors) = self.optimizer.state();
        let json = serde_json::to_value(CoreJson {
            optimizer_steps: steps,
            sigma_base: self.config.sigma,
            lr_base: self.config.learning_rate,
            horizon: self.horizon,
        })
        .expect("plain struct serialises");
        Ok(StrategyState { json, tensors })
    }

    fn load_state(&mut self, state: StrategyState, params: &Params) -> Result<()> {
        let j: CoreJson = serde_json::from_value(state.json).map_err(|e| Error::Param {
            name: "strategy state".into(),
            reason: e.to_string(),
        })?;
        // All or nothing: validate everything on a copy, then apply.
        let mut next = self.clone();
        next.set_sigma(j.sigma_base)?;
        next.set_lr(j.lr_base)?;
        next.optimizer
            .load_state(j.optimizer_steps, state.tensors, params)?;
        next.horizon = j.horizon;
        *self = next;
        Ok(())
    }

    fn set_sigma(&mut self, sigma: f32) -> Result<()> {
        check_positive("sigma", sigma)?;
        // One value: `config()` shows the σ in force, also after a live change.
        self.config.sigma = sigma;
        Ok(())
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        check_positive("learning_rate", lr)?;
        self.config.learning_rate = lr;
        Ok(())
    }
}

macro_rules! delegate_strategy {
    ($ty:ty, $name:expr) => {
        impl Strategy for $ty {
            fn name(&self) -> &str {
                $name
            }
            fn population_size(&self) -> usize {
                self.core.config.population_size
            }
            fn sigma(&self, generation: u64) -> f32 {
                self.core.sigma(generation)
            }
            fn learning_rate(&self, generation: u64) -> f32 {
                self.core.lr(generation)
            }
            fn ask(&mut self, params: &Params, generation: u64) -> Result<Population> {
                self.core.ask(params, generation)
            }
            fn tell(
                &mut self,
                params: &mut Params,
                population: &Population,
                fitness: &[f32],
            ) -> Result<TellReport> {
                self.core.tell(params, population, fitness)
            }
            fn set_sigma(&mut self, sigma: f32) -> Result<()> {
                self.core.set_sigma(sigma)
            }
            fn set_horizon(&mut self, generations: u64) -> Result<()> {
                self.core.horizon = Some(generations.max(1));
                Ok(())
            }
            fn horizon(&self) -> Option<u64> {
                self.core.horizon
            }
            fn set_learning_rate(&mut self, lr: f32) -> Result<()> {
                self.core.set_lr(lr)
            }
            fn state(&self) -> Result<StrategyState> {
                self.core.state()
            }
            fn load_state(&mut self, state: StrategyState, params: &Params) -> Result<()> {
                self.core.load_state(state, params)
            }
        }
    };
}

/// EGGROLL: low-rank noise `A Bᵀ/√r` for matrices, full noise for other parameters.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use eggroll_core::{Eggroll, EsConfig, Params, Strategy};
/// let params = Params::new()
///     .with("w", Tensor::zeros((8, 8), DType::F32, &Device::Cpu).unwrap())
///     .unwrap();
/// let mut es = Eggroll::new(EsConfig { rank: 2, ..EsConfig::default() }, &params).unwrap();
/// let pop = es.ask(&params, 0).unwrap();
/// assert_eq!(pop.size, 256);
/// ```
#[derive(Debug, Clone)]
pub struct Eggroll {
    core: EsCore,
}

impl Eggroll {
    /// Build for `params`; validates the config against the parameter shapes.
    pub fn new(config: EsConfig, params: &Params) -> Result<Self> {
        Ok(Self {
            core: EsCore::new(config, params, NoiseFamily::LowRank)?,
        })
    }
    /// The configuration.
    pub fn config(&self) -> &EsConfig {
        &self.core.config
    }
}
delegate_strategy!(Eggroll, "eggroll");

/// SimpleES (OpenAI-ES): full-rank Gaussian noise for every parameter, antithetic sampling.
/// `rank` is ignored.
#[derive(Debug, Clone)]
pub struct SimpleEs {
    core: EsCore,
}

impl SimpleEs {
    /// Build for `params`.
    pub fn new(config: EsConfig, params: &Params) -> Result<Self> {
        let core = EsCore::new(EsConfig { rank: 1, ..config }, params, NoiseFamily::Full)?;
        Ok(Self { core })
    }
    /// The configuration.
    pub fn config(&self) -> &EsConfig {
        &self.core.config
    }
}
delegate_strategy!(SimpleEs, "simple_es");
