//! The named parts of [`Session`]'s loop: the stop rules before a generation, the generation
//! and what follows it directly, the periodic evaluation, and the end of the run.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use eggroll_core::checkpoint::write_atomic;
use eggroll_core::{Control, StopReason, Trainer};
use eggroll_policies::{ObsNorm, ObsTransform};

use super::validation::Every;
use super::{Outcome, RunReport, Session, device_name, obs_norm, save_checkpoint, writers_value};
use crate::artifacts;
use crate::config::RunConfig;
use crate::error::Result;

/// A run's clock: when it started, its time budget, and whether a budget
/// schedule needs the horizon.
pub(super) struct Clock {
    pub(super) start: Instant,
    /// A budget beyond `Duration`'s range (about 5.8e11 years) is no limit at all.
    pub(super) budget: Option<Duration>,
    pub(super) needs_horizon: bool,
    /// When this run's first generation ended, and its number: a budget schedule's pace is
    /// measured from there, so the first generation's one-off costs (allocations, thread
    /// start-up, cold caches) do not shorten the horizon.
    pub(super) warm: Cell<Option<(Instant, u64)>>,
}

impl Clock {
    pub(super) fn new(config: &RunConfig) -> Self {
        Self {
            start: Instant::now(),
            budget: config
                .stop
                .time_budget_s
                .and_then(|s| Duration::try_from_secs_f64(s).ok()),
            needs_horizon: config.es.lr_schedule.needs_horizon()
                || config.es.sigma_schedule.needs_horizon(),
            warm: Cell::new(None),
        }
    }
}

/// How the loop ended, beyond its [`StopReason`].
#[derive(Default)]
pub(super) struct Ended {
    /// The generation whose validation reached `stop.early_stop_at`.
    pub(super) solved_early: Option<u64>,
    /// Ctrl-C or SIGTERM.
    pub(super) interrupted: bool,
}

impl Session {
    /// The rules checked before a generation: its count, the time budget (rank 0's clock in
    /// distributed runs), the controller.
    pub(super) fn stop_before_generation(&mut self, clock: &Clock) -> Result<Option<StopReason>> {
        if self.trainer.generation() >= self.config.stop.generations {
            return Ok(Some(StopReason::Generations));
        }
        // Clock decisions are rank 0's in distributed runs (each rank has its own clock).
        if let Some(b) = clock.budget
            && writers_value(
                self.evaluator.as_mut(),
                u64::from(clock.start.elapsed() >= b),
            ) == 1
        {
            return Ok(Some(StopReason::TimeBudget));
        }
        let interrupt = self.interrupt.clone();
        if let Some(c) = &mut self.controller
            && c.before_generation(&mut self.trainer, &|| interrupt.load(Ordering::SeqCst))?
                == Control::Stop
        {
            return Ok(Some(StopReason::Observer));
        }
        Ok(None)
    }

    /// One generation and what follows it directly: the budget horizon once it can be
    /// measured, the best member's observation transform, the snapshot, the lockstep check.
    /// Returns the generation's mean fitness, its observers' verdict and the observation
    /// transform in force after it.
    pub(super) fn generation(
        &mut self,
        clock: &Clock,
    ) -> Result<(f32, Control, Option<ObsTransform>)> {
        let trainer = &mut self.trainer;
        if self.fault_lr_at == Some(trainer.generation()) {
            let lr = trainer.strategy().learning_rate(trainer.generation());
            trainer.strategy_mut().set_learning_rate(lr * 2.0)?;
        }
        // The transform this generation's members are scored with (frozen within it).
        let scored_with = obs_norm(self.evaluator.as_ref()).map(ObsNorm::transform);
        let before = trainer.generation();
        let (stats, control) = trainer.step(self.evaluator.as_mut())?;
        let g = trainer.generation();
        if let Some(b) = clock.budget
            && clock.needs_horizon
            && trainer.strategy().horizon().is_none()
        {
            let (spent, total) = (clock.start.elapsed().as_secs_f64(), b.as_secs_f64());
            let (t0, g0) = clock.warm.get().unwrap_or((Instant::now(), g));
            clock.warm.set(Some((t0, g0)));
            let mine = if spent >= 0.05 * total && g > g0 {
                // The pace after the first generation, over at least 5 % of the budget.
                let pace = (g - g0) as f64 / t0.elapsed().as_secs_f64().max(1e-9);
                let horizon = g + (pace * (total - spent).max(0.0)) as u64;
                horizon.min(self.config.stop.generations).max(1)
            } else {
                0 // not measured yet
            };
            let horizon = writers_value(self.evaluator.as_mut(), mine);
            if horizon > 0 {
                trainer.strategy_mut().set_horizon(horizon)?;
            }
        }
        if trainer.best().is_some_and(|b| b.generation == before) {
            self.best_obs = scored_with;
        }
        let now = obs_norm(self.evaluator.as_ref()).map(ObsNorm::transform);
        if let Some(f) = &mut self.snapshot {
            f(g, trainer.params().to_host()?, now.clone());
        }
        if Every(self.config.checkpoints.lockstep_every).due(g)
            && let Some(ranks) = self.evaluator.ranks()
        {
            ranks.check_lockstep(trainer.params(), g)?;
        }
        Ok((stats.mean, control, now))
    }

    /// Every `evaluation.eval_every` generations: score the parameters on the validation
    /// episodes, log it, keep the best if asked (with `now`, the observation transform they
    /// were scored with), and stop early at `stop.early_stop_at`.
    pub(super) fn periodic_evaluation(
        &mut self,
        g: u64,
        clock: &Clock,
        now: Option<ObsTransform>,
        ended: &mut Ended,
    ) -> Result<Option<StopReason>> {
        if !self.validation.due(g) {
            return Ok(None);
        }
        let params = self.trainer.params();
        let score = self.validation.score(self.evaluator.as_mut(), params)?;
        if self.files {
            let mut line = serde_json::Map::new();
            line.insert("generation".into(), g.into());
            line.insert("train_s".into(), clock.start.elapsed().as_secs_f64().into());
            line.extend(self.evaluator.score_fields(score));
            artifacts::append_eval(&self.dir, &line)?;
        }
        let verdict = self.validation.record(score, params, now);
        if verdict.new_best
            && self.files
            && let Some(best) = self.validation.best()
        {
            artifacts::save_validation(&self.dir, best)?;
        }
        if verdict.reached {
            ended.solved_early = Some(g);
            return Ok(Some(StopReason::Target));
        }
        Ok(None)
    }

    /// After the loop: the last checkpoint, the parameters to report (the last ones or the
    /// best validated), the policy files (also when interrupted), the final evaluation on
    /// fresh seeds, the extra files, the plot and the run's JSON.
    pub(super) fn finish(
        mut self,
        reason: StopReason,
        clock: &Clock,
        ended: Ended,
    ) -> Result<(Outcome, Trainer)> {
        let config = self.config.clone();
        let dir = self.dir.clone();
        let train_s = clock.start.elapsed().as_secs_f64();
        let summary = self.trainer.finish(reason);
        self.history.extend(self.history_rx.try_iter());
        if self.files {
            save_checkpoint(&self.trainer, self.evaluator.as_ref(), &self.best_obs, &dir)?;
        }
        // The parameters to report: the last ones, or the best on validation episodes (with
        // the observation transform they were validated with).
        let current_obs = obs_norm(self.evaluator.as_ref()).map(ObsNorm::transform);
        let (final_params, final_obs) = match (self.validation.best(), ended.solved_early) {
            (Some((_, p, obs)), None) => (p.clone(), obs.clone()),
            _ => (self.trainer.params().clone(), current_obs),
        };
        if let Some(t) = &final_obs
            && let Some(n) = self.evaluator.normaliser_mut()
        {
            n.use_obs_transform(t.clone())?;
        }
        if ended.interrupted {
            // The policy files too (atomically), then stop without the final evaluation.
            if self.files {
                self.save_policies(&final_params, final_obs.as_ref())?;
                crate::plot::fitness(&dir, &config.task, &self.history)?;
            }
            let outcome = Outcome::Interrupted {
                generation: self.trainer.generation(),
                dir,
            };
            return Ok((outcome, self.trainer));
        }
        // Final evaluation on fresh seeds (never those used for validation).
        let (final_score, report) = self.evaluator.final_score(
            &final_params,
            config.evaluation.eval_episodes,
            config.es.seed ^ 0x5eed_f1a1,
        )?;
        let evals_by_rank = self.evaluator.ranks().map(|r| r.evals_by_rank());
        if !self.writer {
            return Ok((Outcome::Worker, self.trainer));
        }
        if self.files {
            self.save_policies(&final_params, final_obs.as_ref())?;
            for (name, bytes) in self.evaluator.extra_files(&final_params)? {
                write_atomic(&dir.join(name), &bytes)?;
            }
            // The plot last: a failure here (e.g. a full disk) is reported, the policies exist.
            crate::plot::fitness(&dir, &config.task, &self.history)?;
        }
        let solved = final_score >= config.evaluation.solved_at as f64;
        let mut json = serde_json::json!({
            "task": config.task,
            "strategy": self.trainer.strategy().name(),
            "seed": config.es.seed,
            "generations": summary.generations,
            "population": self.trainer.strategy().population_size(),
            "rank": config.es.rank,
            "wall_s": summary.wall_s,
            "train_s": train_s,
            "evals": summary.evals,
            "evals_per_s": summary.evals as f64 / summary.wall_s.max(1e-12),
            "best_fitness": summary.best_fitness,
            "final_fitness": final_score,
            "solved": solved,
            "stop_reason": summary.stop_reason,
            "device": device_name(&self.device),
            "params": self.trainer.params().numel(),
            "out": dir.display().to_string(),
        });
        if clock.needs_horizon {
            json["schedule_horizon"] = serde_json::json!(self.trainer.strategy().horizon());
        }
        json[self.evaluator.score_name()] = serde_json::json!(final_score);
        if let Some(n) = &self.net {
            json["model"] = serde_json::json!(n.name());
        }
        if !self.files {
            // A session over caller-built parts has no config of its own to report.
            for key in ["seed", "rank", "out", "solved"] {
                json[key] = serde_json::Value::Null;
            }
        }
        for (k, v) in self.evaluator.report(train_s)? {
            json[k] = v;
        }
        if let Some(counts) = evals_by_rank {
            json["evals_by_rank"] = serde_json::json!(counts);
        }
        if let Some(r) = &report {
            json["eval_mean"] = serde_json::json!(r.mean);
            json["eval_std"] = serde_json::json!(r.std);
            json["eval_episodes"] = serde_json::json!(r.episodes);
            json["env_steps"] = serde_json::json!(self.evaluator.env_steps());
            json["solved_at_generation"] = serde_json::json!(ended.solved_early);
            json["best_validation"] = serde_json::json!(self.validation.best().map(|(s, _, _)| *s));
        }
        Ok((
            Outcome::Finished(Box::new(RunReport { json })),
            self.trainer,
        ))
    }
}
