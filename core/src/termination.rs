//! Why a run stopped: ONE type for [`Trainer::run`](crate::Trainer::run), the run layer's
//! `Session`, `compare` and [`minimize`](crate::minimize()), and ONE "go on or stop"
//! answer ([`Control`]) for observers and the command controller.

use serde::{Deserialize, Serialize};

use crate::cmaes::CmaStop;

/// Why a run stopped.
///
/// ```
/// use eggroll_core::{CmaStop, StopReason};
/// assert_eq!(StopReason::TimeBudget.label(), "time_budget");
/// assert_eq!(StopReason::Converged(CmaStop::TolFun).label(), "tol_fun");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The generation limit was reached.
    Generations,
    /// A fitness or value target was reached.
    Target,
    /// The time budget is spent.
    TimeBudget,
    /// An observer or a stop command asked to stop.
    Observer,
    /// The evaluation budget is spent ([`minimize`](crate::minimize())).
    MaxEvals,
    /// CMA-ES met a local criterion and no restart was left (or restarts are off).
    Converged(CmaStop),
}

impl StopReason {
    /// The name in JSON output and reports: `generations`, `target`, `time_budget`,
    /// `observer`, `max_evals` or the criterion's [`CmaStop::label`].
    pub fn label(self) -> &'static str {
        match self {
            StopReason::Generations => "generations",
            StopReason::Target => "target",
            StopReason::TimeBudget => "time_budget",
            StopReason::Observer => "observer",
            StopReason::MaxEvals => "max_evals",
            StopReason::Converged(s) => s.label(),
        }
    }
}

/// Go on or stop: what an [`Observer`](crate::Observer) answers after a generation and what
/// the [`Controller`](crate::Controller) decides before one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop (after this generation, or before the next).
    Stop,
}
