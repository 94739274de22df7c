//! Errors of the ES engine.

use std::path::PathBuf;

/// Everything that can go wrong in `eggroll-core`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid config: `{field}` {reason}")]
    InvalidConfig {
        /// The offending field, as named in config files.
        field: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A parameter set is malformed (duplicate name, wrong dtype, shape mismatch).
    #[error("parameter `{name}`: {reason}")]
    Param {
        /// The parameter's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// An evaluator returned NaN or ±inf and the policy is to fail.
    #[error(
        "fitness of member {member} in generation {generation} is {value} (set nonfinite = \"worst\" to treat it as the worst fitness)"
    )]
    NonFiniteFitness {
        /// Member index in the population.
        member: usize,
        /// Generation number.
        generation: u64,
        /// The value returned.
        value: f32,
    },
    /// An evaluator returned a fitness vector of the wrong length.
    #[error("evaluator returned {got} fitness values for a population of {expected}")]
    FitnessLength {
        /// Population size.
        expected: usize,
        /// Values returned.
        got: usize,
    },
    /// An evaluator failed.
    #[error("evaluation failed: {0}")]
    Eval(String),
    /// The search ran away: its parameters would leave the range of the numbers that hold
    /// them.
    #[error(
        "{strategy} diverged in generation {generation}: {reason}; lower σ, bound the \
         problem, or let CMA-ES restart (es.restarts = \"ipop\" or \"bipop\")"
    )]
    Diverged {
        /// The strategy's name.
        strategy: String,
        /// Generation number.
        generation: u64,
        /// What left its range.
        reason: String,
    },
    /// A checkpoint could not be read, or does not match the run.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An I/O operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `value` must be finite and > 0, else an error naming `field`.
pub(crate) fn check_positive(field: &str, value: f32) -> Result<()> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(config_err(
            field,
            format!("is {value}; must be finite and > 0"),
        ))
    }
}

pub(crate) fn config_err(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        field: field.into(),
        reason: reason.into(),
    }
}
