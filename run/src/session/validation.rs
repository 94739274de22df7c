//! Validation with keep-best and early stop, and the frequency rule the loop's periodic parts
//! share: small types the session's loop asks "is it due?" and "what now?".

use eggroll_core::Params;
use eggroll_policies::ObsTransform;

use crate::artifacts::Validation;
use crate::config::RunConfig;
use crate::error::Result;
use crate::task::TaskEvaluator;

/// Every `n` generations (0: never): checkpoints, lockstep checks and validations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Every(pub(super) u64);

impl Every {
    /// Whether generation `g` (generations completed) is one of them.
    pub(super) fn due(self, g: u64) -> bool {
        self.0 > 0 && g.is_multiple_of(self.0)
    }
}

/// What a validation decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Verdict {
    /// The score is the best so far and is kept (`evaluation.keep_best_eval`): save it.
    pub(super) new_best: bool,
    /// The score reached `stop.early_stop_at`: stop.
    pub(super) reached: bool,
}

/// Scores the mean parameters every `evaluation.eval_every` generations on the same
/// validation episodes, keeps the best (with the observation transform it was scored with)
/// and stops the run at `stop.early_stop_at`.
pub(super) struct Validator {
    every: Every,
    episodes: usize,
    seed: u64,
    keep_best: bool,
    early_stop_at: Option<f32>,
    best: Option<Validation>,
}

impl Validator {
    /// The config's rules, starting from `best` (a resumed run's saved best).
    pub(super) fn new(config: &RunConfig, best: Option<Validation>) -> Self {
        Self {
            every: Every(config.evaluation.eval_every),
            episodes: config.evaluation.eval_episodes,
            // The same validation episodes every time, so scores of different generations
            // are paired (the final evaluation uses other seeds).
            seed: config.es.seed,
            keep_best: config.evaluation.keep_best_eval,
            early_stop_at: config.stop.early_stop_at,
            best,
        }
    }

    /// Whether generation `g` is validated.
    pub(super) fn due(&self, g: u64) -> bool {
        self.every.due(g)
    }

    /// The validation score of `params`.
    pub(super) fn score(&self, evaluator: &mut dyn TaskEvaluator, params: &Params) -> Result<f64> {
        Ok(evaluator.final_score(params, self.episodes, self.seed)?.0)
    }

    /// Record `score` of `params` (scored with `obs`).
    pub(super) fn record(
        &mut self,
        score: f64,
        params: &Params,
        obs: Option<ObsTransform>,
    ) -> Verdict {
        let new_best = self.keep_best && self.best.as_ref().is_none_or(|(b, _, _)| score > *b);
        if new_best {
            self.best = Some((score, params.clone(), obs));
        }
        Verdict {
            new_best,
            reached: self.early_stop_at.is_some_and(|t| score >= t as f64),
        }
    }

    /// The best kept validation: score, parameters and transform.
    pub(super) fn best(&self) -> Option<&Validation> {
        self.best.as_ref()
    }
}
