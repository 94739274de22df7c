//! What a run asks of its evaluator beyond fitness: [`TaskEvaluator`] (the final score and
//! the task's report), with two optional sets of hooks of their own — [`ObsNormHooks`] (an
//! evaluator that normalises observations: its state for checkpoints, resume and the final
//! evaluation) and [`Ranks`] (the processes of a distributed run: who writes, rank 0's clock,
//! the lockstep check).

use eggroll_core::{Evaluator, FnEvaluator, ParamView, Params};
use eggroll_policies::{EvalReport, ObsNorm, ObsStats, ObsTransform, RolloutEvaluator};

use crate::error::Result;

/// An evaluator that can also score the unperturbed parameters.
///
/// ```
/// use eggroll_core::{Evaluator, Params, Population};
/// use eggroll_policies::EvalReport;
/// use eggroll_run::task::TaskEvaluator;
///
/// /// A flat landscape (`examples/src/bin/residual_cnn.rs` has a real one).
/// struct Flat;
/// impl Evaluator for Flat {
///     fn evaluate_members(
///         &mut self,
///         _: &Params,
///         _: &Population,
///         members: std::ops::Range<usize>,
///     ) -> eggroll_core::Result<Vec<f32>> {
///         Ok(vec![0.0; members.len()])
///     }
/// }
/// impl TaskEvaluator for Flat {
///     fn final_score(
///         &mut self,
///         _: &Params,
///         _episodes: usize,
///         _seed: u64,
///     ) -> eggroll_run::Result<(f64, Option<EvalReport>)> {
///         Ok((0.0, None))
///     }
/// }
/// assert!(Flat.normaliser().is_none());
/// ```
pub trait TaskEvaluator: Evaluator {
    /// Final score of the mean parameters (fitness, mean return or test accuracy) and the
    /// report of control tasks.
    fn final_score(
        &mut self,
        params: &Params,
        episodes: usize,
        seed: u64,
    ) -> Result<(f64, Option<EvalReport>)>;
    /// The JSON key of the final score.
    fn score_name(&self) -> &'static str {
        "final_fitness"
    }
    /// The fields a periodic evaluation writes to `evals.jsonl` for a `final_score` of
    /// `score`: `{score_name: score}` unless the task says better (charlm: `test_bpb`).
    fn score_fields(&self, score: f64) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert(self.score_name().into(), score.into());
        m
    }
    /// Environment steps taken (control tasks).
    fn env_steps(&self) -> u64 {
        0
    }
    /// Task-specific fields for the run's JSON report (e.g. charlm's `test_bpb`), given the
    /// training seconds.
    fn report(&mut self, _train_s: f64) -> Result<serde_json::Map<String, serde_json::Value>> {
        Ok(serde_json::Map::new())
    }
    /// Extra files for the run directory, written (atomically) by the writer process after
    /// the final evaluation, given the final parameters: `(file name, bytes)`.
    fn extra_files(&mut self, _params: &Params) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(Vec::new())
    }
    /// The observation-normalisation hooks, where this evaluator can normalise.
    fn normaliser(&self) -> Option<&dyn ObsNormHooks> {
        None
    }
    /// [`TaskEvaluator::normaliser`], mutable.
    fn normaliser_mut(&mut self) -> Option<&mut dyn ObsNormHooks> {
        None
    }
    /// The ranks of a distributed run; `None` for a single process.
    fn ranks(&mut self) -> Option<&mut dyn Ranks> {
        None
    }
}

/// An evaluator that normalises observations with a running [`ObsNorm`]: the state a
/// checkpoint keeps and a resume restores, and the transform the final evaluation uses.
pub trait ObsNormHooks {
    /// The normaliser's running state (`None` where normalisation is off).
    fn obs_norm(&self) -> Option<&ObsNorm>;
    /// Restore the normaliser's state (resume); validated first, nothing changes on error.
    fn set_obs_norm(&mut self, norm: ObsNorm) -> Result<()>;
    /// Score with `transform` from now on instead of the normaliser's own (the final
    /// evaluation of best-validated parameters uses the transform they were validated with).
    fn use_obs_transform(&mut self, transform: ObsTransform) -> Result<()>;
    /// Distributed runs: the statistics of the members this process evaluated since the last
    /// commit, in member order, removed.
    fn take_member_stats(&mut self) -> Vec<ObsStats>;
    /// Distributed runs: fold every member's statistics (member order) into the normaliser.
    fn commit_member_stats(&mut self, members: &[ObsStats]) -> Result<()>;
}

/// The processes of a distributed run (`--distributed mpi`). Every method but
/// [`Ranks::is_writer`] is a collective call: every rank makes it, in the same generations.
pub trait Ranks {
    /// Whether this process writes the run directory and prints results (rank 0).
    fn is_writer(&self) -> bool;
    /// The writer's (rank 0's) `value` on every rank, so decisions taken from a clock (the
    /// time budget, the schedule horizon it implies) are the same on all ranks.
    fn writers_value(&mut self, value: u64) -> u64;
    /// Fail unless every rank holds the same parameters.
    fn check_lockstep(&mut self, params: &Params, generation: u64) -> Result<()>;
    /// The member evaluations each rank computed.
    fn evals_by_rank(&mut self) -> Vec<u64>;
}

impl<F: Fn(&ParamView) -> f32 + Send + Sync> TaskEvaluator for FnEvaluator<F> {
    fn final_score(
        &mut self,
        params: &Params,
        _: usize,
        _: u64,
    ) -> Result<(f64, Option<EvalReport>)> {
        Ok((self.call(params, &params.to_host()?) as f64, None))
    }
}

impl TaskEvaluator for RolloutEvaluator {
    fn final_score(
        &mut self,
        params: &Params,
        episodes: usize,
        seed: u64,
    ) -> Result<(f64, Option<EvalReport>)> {
        let r = self.evaluate_plain(params, episodes, seed)?;
        Ok((r.mean, Some(r)))
    }
    fn env_steps(&self) -> u64 {
        RolloutEvaluator::env_steps(self)
    }
    fn normaliser(&self) -> Option<&dyn ObsNormHooks> {
        Some(self)
    }
    fn normaliser_mut(&mut self) -> Option<&mut dyn ObsNormHooks> {
        Some(self)
    }
}

impl ObsNormHooks for RolloutEvaluator {
    fn obs_norm(&self) -> Option<&ObsNorm> {
        RolloutEvaluator::obs_norm(self)
    }
    fn set_obs_norm(&mut self, norm: ObsNorm) -> Result<()> {
        Ok(RolloutEvaluator::set_obs_norm(self, norm)?)
    }
    fn use_obs_transform(&mut self, transform: ObsTransform) -> Result<()> {
        Ok(self.set_obs_transform(transform)?)
    }
    fn take_member_stats(&mut self) -> Vec<ObsStats> {
        RolloutEvaluator::take_member_stats(self)
    }
    fn commit_member_stats(&mut self, members: &[ObsStats]) -> Result<()> {
        Ok(RolloutEvaluator::commit_member_stats(self, members)?)
    }
}

/// A plain [`Evaluator`] as a [`TaskEvaluator`] whose final score is unknown (NaN): for
/// sessions over evaluators that cannot score the unperturbed parameters.
pub struct Unscored(pub Box<dyn Evaluator>);

impl Evaluator for Unscored {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &eggroll_core::Population,
        members: std::ops::Range<usize>,
    ) -> eggroll_core::Result<Vec<f32>> {
        self.0.evaluate_members(params, population, members)
    }
}

impl TaskEvaluator for Unscored {
    fn final_score(&mut self, _: &Params, _: usize, _: u64) -> Result<(f64, Option<EvalReport>)> {
        Ok((f64::NAN, None))
    }
}
