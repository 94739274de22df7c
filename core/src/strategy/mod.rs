//! Strategies: the `ask`/`tell` interface ([`Strategy`]), the one catalogue of built-in
//! strategies ([`StrategyKind`]), EGGROLL and SimpleES ([`es`]) and CMA-ES ([`cmaes`]).

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{Result, config_err};
use crate::params::Params;
use crate::population::Population;

pub mod cmaes;
pub mod egg;
pub mod es;
mod kind;

pub use es::{Eggroll, EsConfig, MAX_RANK, Scaling, SimpleEs};
pub use kind::{StrategyKind, by_name};

/// What [`Strategy::tell`] reports about the update it applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TellReport {
    /// ‖Δθ‖₂ of the update.
    pub update_norm: f32,
    /// σ used by the generation.
    pub sigma: f32,
    /// Learning rate used by the update.
    pub lr: f32,
}

/// Serializable strategy state for checkpoints: JSON scalars plus named tensors.
#[derive(Debug, Clone, Default)]
pub struct StrategyState {
    /// Scalar state (step counts, live overrides, ...).
    pub json: serde_json::Value,
    /// Tensor state (optimiser moments, ...).
    pub tensors: Vec<(String, Tensor)>,
}

/// An evolution strategy: proposes a population (`ask`) and updates the parameters from its
/// fitness (`tell`).
///
/// Implement this trait to plug in your own strategy; the [`crate::Trainer`], evaluators and
/// observers work with any implementation. See `examples/src/bin/custom_strategy.rs`.
pub trait Strategy: Send {
    /// Short name for logs ("eggroll", "simple_es", ...).
    fn name(&self) -> &str;
    /// Number of members per generation.
    fn population_size(&self) -> usize;
    /// σ at `generation`.
    fn sigma(&self, generation: u64) -> f32;
    /// Learning rate at `generation`.
    fn learning_rate(&self, generation: u64) -> f32;
    /// Propose the population of `generation` around `params`.
    fn ask(&mut self, params: &Params, generation: u64) -> Result<Population>;
    /// Update `params` from the (finite) fitness of every member of `population`.
    fn tell(
        &mut self,
        params: &mut Params,
        population: &Population,
        fitness: &[f32],
    ) -> Result<TellReport>;
    /// Set the base σ from the next generation on (live control).
    fn set_sigma(&mut self, _sigma: f32) -> Result<()> {
        Err(config_err(
            "sigma",
            "this strategy does not support live changes",
        ))
    }
    /// The run's length in generations, for schedules that follow it
    /// ([`crate::Schedule::Budget`]); kept in the strategy's checkpoint state. Default:
    /// ignored.
    fn set_horizon(&mut self, _generations: u64) -> Result<()> {
        Ok(())
    }
    /// The horizon set by [`Strategy::set_horizon`] (or restored from a checkpoint), if any.
    fn horizon(&self) -> Option<u64> {
        None
    }
    /// Set the base learning rate from the next generation on (live control).
    fn set_learning_rate(&mut self, _lr: f32) -> Result<()> {
        Err(config_err(
            "learning_rate",
            "this strategy does not support live changes",
        ))
    }
    /// State to store in a checkpoint.
    fn state(&self) -> Result<StrategyState> {
        Ok(StrategyState::default())
    }
    /// Restore a state produced by [`Strategy::state`]. All or nothing: on error the strategy
    /// must be left exactly as it was (validate everything before changing anything).
    fn load_state(&mut self, _state: StrategyState, _params: &Params) -> Result<()> {
        Ok(())
    }
}
