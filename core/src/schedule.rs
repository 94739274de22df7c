//! Schedules for the learning rate and σ.

use serde::{Deserialize, Serialize};

use crate::error::{Result, config_err};

/// A per-generation multiplier applied to a base value.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The base value every generation.
    #[default]
    Constant,
    /// `base · decay^generation`.
    Exponential {
        /// Multiplier per generation, in (0, 1].
        decay: f64,
    },
    /// Linear from `base` at generation 0 to `base · floor` at `generations`, then constant.
    Linear {
        /// Final fraction of the base value, in [0, 1].
        floor: f64,
        /// Generations to reach the floor (≥ 1).
        generations: u64,
    },
    /// Linear from `base` to `base · floor` over the run's horizon: the generations its time
    /// budget allows (a run measures its speed from its first generation's end to at least
    /// 5 % of the budget, then fixes the horizon and saves it in its checkpoints), or
    /// `stop.generations` without a budget.
    /// So one config decays fully on a fast machine and on a slow one. Until the horizon is
    /// known the value is `base`.
    Budget {
        /// Final fraction of the base value, in [0, 1].
        floor: f64,
    },
}

impl Schedule {
    /// The value at `generation` for base value `base`; `horizon` is the run's length in
    /// generations where known (only [`Schedule::Budget`] reads it).
    pub fn value(&self, base: f32, generation: u64, horizon: Option<u64>) -> f32 {
        let linear = |floor: f64, generations: u64| {
            let t = (generation as f64 / generations.max(1) as f64).min(1.0);
            1.0 + (floor - 1.0) * t
        };
        let f = match *self {
            Schedule::Constant => 1.0,
            Schedule::Exponential { decay } => decay.powf(generation as f64),
            Schedule::Linear { floor, generations } => linear(floor, generations),
            Schedule::Budget { floor } => horizon.map_or(1.0, |h| linear(floor, h)),
        };
        (base as f64 * f) as f32
    }

    /// Whether the schedule follows the run's horizon ([`Schedule::Budget`]).
    pub fn needs_horizon(&self) -> bool {
        matches!(self, Schedule::Budget { .. })
    }

    /// Check the schedule's own parameters; `field` names it in errors.
    pub fn validate(&self, field: &str) -> Result<()> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Exponential { decay } if !(decay > 0.0 && decay <= 1.0) => Err(config_err(
                format!("{field}.decay"),
                format!("is {decay}; allowed range (0, 1]"),
            )),
            Schedule::Linear { floor, .. } | Schedule::Budget { floor }
                if !(0.0..=1.0).contains(&floor) =>
            {
                Err(config_err(
                    format!("{field}.floor"),
                    format!("is {floor}; allowed range [0, 1]"),
                ))
            }
            Schedule::Linear { generations: 0, .. } => Err(config_err(
                format!("{field}.generations"),
                "is 0; must be ≥ 1",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn values() {
        assert_eq!(Schedule::Constant.value(0.5, 100, None), 0.5);
        let e = Schedule::Exponential { decay: 0.5 };
        assert_eq!(e.value(1.0, 3, Some(7)), 0.125);
        let l = Schedule::Linear {
            floor: 0.1,
            generations: 10,
        };
        assert!((l.value(1.0, 5, None) - 0.55).abs() < 1e-6);
        assert!((l.value(1.0, 50, Some(1000)) - 0.1).abs() < 1e-6);
        // The budget schedule is the linear one over the horizon, and constant before it.
        let b = Schedule::Budget { floor: 0.1 };
        assert_eq!(b.value(1.0, 5, None), 1.0);
        assert_eq!(b.value(1.0, 5, Some(10)), l.value(1.0, 5, None));
        assert!((b.value(1.0, 50, Some(10)) - 0.1).abs() < 1e-6);
        assert!(b.validate("lr_schedule").is_ok());
        let e = Schedule::Budget { floor: 2.0 }
            .validate("lr_schedule")
            .unwrap_err();
        assert!(e.to_string().contains("lr_schedule.floor"), "{e}");
    }
}
