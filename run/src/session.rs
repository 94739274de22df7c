//! ONE run loop for every front end: the CLI, `--gui`, compare mode, MPI workers and library
//! users drive a [`Session`]. It owns the stop rules, validation and early stop, checkpoints,
//! the dashboard's commands and snapshots, the export of policies and plots, and the final
//! evaluation; front ends only choose how it starts and what to print.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::Device;
use eggroll_core::checkpoint::{CALLER_STATE_KEY, read_caller_state, write_atomic};
use eggroll_core::{
    ChannelObserver, Control, Controller, GenStats, Observer, Params, StopReason, Strategy, Trainer,
};
use eggroll_envs::mnist::Dataset;
use eggroll_policies::{MlpConfig, ObsNorm, ObsTransform};

use crate::artifacts::{self, Net};
use crate::config::{CheckpointConfig, RunConfig, StopConfig};
use crate::dir::{RunDir, default_dir};
use crate::error::{Error, Result};
use crate::layout::{CHECKPOINT, CONFIG, EVALS, METRICS, POLICY, POLICY_BEST, VALIDATION};
use crate::observers::{MetricsFile, Progress};
use crate::resolve::{resolve_saved, resolve_with};
use crate::task::{self, TaskEvaluator};

mod run_loop;
mod validation;
use run_loop::{Clock, Ended};
use validation::{Every, Validator};

/// Config keys `--resume` may change: none of them changes the bits of a generation.
pub const RESUME_KEYS: &[&str] = &[
    "stop.generations",
    "threads",
    "data.dir",
    "stop.time_budget_s",
];

/// Config keys `--resume` refuses: they would change every later generation's fitness.
pub const RESUME_REFUSED: &[&str] = &["evaluation.episodes", "data.batch"];

/// How a session starts.
pub enum Start {
    /// A new run of `task`: defaults ← `file` ← `sets` (`key=value`) ← `overrides`, in `out`
    /// (default `runs/<task>-<timestamp>`); `force` moves a non-empty `out` aside first.
    New {
        /// Task name (see [`task::registry`]).
        task: String,
        /// A TOML config file.
        file: Option<PathBuf>,
        /// `key=value` overrides.
        sets: Vec<String>,
        /// Typed overrides by dotted key (from flags).
        overrides: Vec<(&'static str, toml::Value)>,
        /// The run directory.
        out: Option<PathBuf>,
        /// Move a non-empty `out` aside instead of refusing it.
        force: bool,
    },
    /// Continue the run in `dir` from its last checkpoint with its saved config; `overrides`
    /// may only touch [`RESUME_KEYS`].
    Resume {
        /// The run directory.
        dir: PathBuf,
        /// If given, must match the run's task.
        task: Option<String>,
        /// Typed overrides by dotted key.
        overrides: Vec<(&'static str, toml::Value)>,
    },
}

/// A function that wraps the task's evaluator (e.g. to split the population across MPI
/// ranks).
pub type WrapEvaluator =
    Box<dyn FnOnce(Box<dyn TaskEvaluator>) -> Result<Box<dyn TaskEvaluator>> + Send>;

/// How a session runs, beyond its config.
pub struct Options {
    /// Where parameters, noise and the forward live.
    pub device: Device,
    /// Show progress on stderr (the writer process only).
    pub progress: bool,
    /// Set from outside (Ctrl-C, SIGTERM, a window closing): the session finishes the
    /// generation in flight, saves everything and returns [`Outcome::Interrupted`].
    pub interrupt: Arc<AtomicBool>,
    /// Wraps the task's evaluator before the run starts.
    pub wrap_evaluator: Option<WrapEvaluator>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            progress: false,
            interrupt: Arc::new(AtomicBool::new(false)),
            wrap_evaluator: None,
        }
    }
}

/// A callback that receives the mean parameters after every generation, and the observation
/// transform to use with them (runs that normalise observations).
pub type SnapshotFn = Box<dyn FnMut(u64, Vec<Vec<f32>>, Option<ObsTransform>) + Send>;

/// What a checkpoint holds beyond the trainer's state (metadata key
/// [`CALLER_STATE_KEY`](eggroll_core::checkpoint::CALLER_STATE_KEY)).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct RunState {
    /// The observation normaliser's running state.
    obs_norm: Option<ObsNorm>,
    /// The transform the trainer's best member was evaluated with.
    best_obs: Option<ObsTransform>,
}

/// A prepared run.
pub struct Session {
    config: RunConfig,
    dir: PathBuf,
    resuming: bool,
    writer: bool,
    /// Whether the session writes a run directory (false for [`Session::from_parts`]).
    files: bool,
    /// The run directory's lock (writer only); a new run that fails early discards it.
    held: Option<RunDir>,
    trainer: Trainer,
    evaluator: Box<dyn TaskEvaluator>,
    net: Option<Net>,
    images: Option<Arc<Dataset>>,
    history: Vec<GenStats>,
    history_rx: std::sync::mpsc::Receiver<GenStats>,
    validation: Validator,
    /// The transform the trainer's best member was evaluated with.
    best_obs: Option<ObsTransform>,
    controller: Option<Controller>,
    snapshot: Option<SnapshotFn>,
    interrupt: Arc<AtomicBool>,
    device: Device,
    notices: Vec<String>,
    fault_lr_at: Option<u64>,
}

/// How a session ended.
pub enum Outcome {
    /// The run finished (generations, budget, target, a stop command): its report.
    Finished(Box<RunReport>),
    /// Interrupted: checkpoint, metrics, policies and plots are saved; `--resume` continues.
    Interrupted {
        /// Generations completed.
        generation: u64,
        /// The run directory.
        dir: PathBuf,
    },
    /// A worker process of a distributed run (rank > 0): rank 0 reports.
    Worker,
}

/// The result of a finished run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Everything the CLI prints with `--json` (task, seed, generations, wall_s, evals,
    /// best_fitness, final_fitness, solved, out, device, … and the task's score key).
    pub json: serde_json::Value,
}

impl RunReport {
    /// One human-readable line.
    pub fn summary_line(&self) -> String {
        let j = &self.json;
        let score_key = if j.get("eval_mean").is_some() {
            "eval_mean"
        } else if j.get("test_accuracy").is_some() {
            "test_accuracy"
        } else {
            "final_fitness"
        };
        format!(
            "{}: {} generations, {} evals in {:.2}s; final {} {:.4} (best member {:.4}); solved: {}; run directory {}",
            j["task"].as_str().unwrap_or(""),
            j["generations"],
            j["evals"],
            j["train_s"].as_f64().unwrap_or(0.0),
            score_key,
            j[score_key].as_f64().unwrap_or(f64::NAN),
            j["best_fitness"].as_f64().unwrap_or(f64::NAN),
            j["solved"],
            j["out"].as_str().unwrap_or("")
        )
    }
}

/// Build the strategy named by the config.
pub fn build_strategy(config: &RunConfig, params: &Params) -> Result<Box<dyn Strategy>> {
    Ok(config.strategy.build(&config.es, params)?)
}

/// The name of a device as reported in JSON output: `cpu` or `cuda:N`.
pub fn device_name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

fn resolve_start(
    start: Start,
    custom: Option<&dyn task::Task>,
) -> Result<(RunConfig, PathBuf, bool, bool)> {
    let lookup = |name: &str| -> Result<&dyn task::Task> {
        match custom {
            Some(t) if t.name() == name => Ok(t),
            _ => task::find(name),
        }
    };
    match start {
        Start::Resume {
            dir,
            task,
            overrides,
        } => {
            let refused: Vec<String> = overrides
                .iter()
                .map(|(k, _)| crate::resolve::canonical_key(k).into_owned())
                .filter(|k| !RESUME_KEYS.contains(&k.as_str()))
                .collect();
            if !refused.is_empty() {
                let why = if refused.iter().all(|k| RESUME_REFUSED.contains(&k.as_str())) {
                    "would change every later generation's fitness, so the resumed run would no \
                     longer match an uninterrupted one; start a new run instead"
                } else {
                    "cannot change when resuming (the run keeps its saved config)"
                };
                return Err(Error::Input {
                    what: "--resume".into(),
                    reason: format!(
                        "{} {why}",
                        refused
                            .iter()
                            .map(|k| {
                                let flag = k.rsplit('.').next().unwrap_or(k).replace('_', "-");
                                format!("`{k}` (--{flag})")
                            })
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                });
            }
            let saved = dir.join(CONFIG);
            let text = std::fs::read_to_string(&saved).map_err(|source| Error::NotARun {
                path: dir.clone(),
                reason: format!("cannot read {}: {source}", saved.display()),
            })?;
            let table: toml::Table = text.parse().map_err(|e| Error::Input {
                what: saved.display().to_string(),
                reason: format!("not valid TOML: {e}"),
            })?;
            let name = table
                .get("task")
                .and_then(|t| t.as_str())
                .ok_or_else(|| Error::Input {
                    what: saved.display().to_string(),
                    reason: "no `task`".into(),
                })?
                .to_string();
            if task.as_ref().is_some_and(|t| *t != name) {
                return Err(Error::Input {
                    what: "--resume".into(),
                    reason: format!("{} is a `{name}` run", dir.display()),
                });
            }
            let config = resolve_saved(lookup(&name)?, &saved, &overrides)?;
            Ok((config, dir, true, false))
        }
        Start::New {
            task,
            file,
            sets,
            overrides,
            out,
            force,
        } => {
            let config = resolve_with(lookup(&task)?, file.as_deref(), &sets, &overrides)?;
            let dir = out
                .or_else(|| config.output.dir.as_ref().map(PathBuf::from))
                .unwrap_or_else(|| default_dir(&config.task));
            Ok((config, dir, false, force))
        }
    }
}

impl Session {
    /// Resolve the config, build the task, the strategy and the evaluator, take the run
    /// directory (rank 0 only; see [`RunDir`]) and, when resuming, load the checkpoint.
    pub fn start(start: Start, options: Options) -> Result<Session> {
        Self::start_inner(start, options, None)
    }

    /// [`start`](Self::start) with a task that is not in the registry (`start` names it by
    /// [`Task::name`](task::Task::name)): a custom task gets the same loop, run directory,
    /// checkpoints, resume and report as the built-in ones.
    pub fn start_with(task: &dyn task::Task, start: Start, options: Options) -> Result<Session> {
        Self::start_inner(start, options, Some(task))
    }

    fn start_inner(
        start: Start,
        options: Options,
        custom: Option<&dyn task::Task>,
    ) -> Result<Session> {
        let (config, dir, resuming, force) = resolve_start(start, custom)?;
        let mut notices = Vec::new();
        let (threads, warning) = crate::limits::cap_threads(config.threads);
        notices.extend(warning);
        if threads > 0 {
            // A second run in this process (compare mode) shares the pool the first built.
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build_global();
        }
        let built = match custom {
            Some(t) if t.name() == config.task => t.build(&config)?,
            _ => task::find(&config.task)?.build(&config)?,
        };
        let params = built.params.to_device(&options.device)?;
        let strategy = build_strategy(&config, &params)?;
        let mut evaluator = match options.wrap_evaluator {
            Some(wrap) => wrap(built.evaluator)?,
            None => built.evaluator,
        };
        // Rank 0 alone writes the run directory and prints; every rank trains in lockstep.
        let writer = evaluator.ranks().is_none_or(|r| r.is_writer());
        let mut trainer =
            Trainer::from_boxed(strategy, params).with_nonfinite(config.evaluation.nonfinite);
        // Fault injection for the MPI divergence test: a worker changes its learning rate.
        let fault_lr_at = if writer {
            None
        } else {
            std::env::var("EGGROLL_FAULT_DIVERGE_AT")
                .ok()
                .and_then(|v| v.parse().ok())
        };
        // Rank 0 holds the run directory (an exclusive lock) for the whole run.
        let held = if !writer {
            None
        } else if resuming {
            Some(RunDir::open(&dir)?)
        } else {
            let (held, moved) = RunDir::create(&dir, force)?;
            if let Some(old) = moved {
                notices.push(format!(
                    "--force: the earlier contents of {} were moved to {}",
                    dir.display(),
                    old.display()
                ));
            }
            Some(held)
        };
        let mut history = Vec::new();
        let mut best_eval = None;
        let mut best_obs = None;
        if resuming {
            let path = dir.join(CHECKPOINT);
            if !path.exists() {
                return Err(Error::NotARun {
                    path: dir.clone(),
                    reason: format!(
                        "it has no {CHECKPOINT}: the run stopped before its first checkpoint, so \
                         there is nothing to resume; start it again without --resume (--force \
                         moves this directory's files aside)"
                    ),
                });
            }
            let state: RunState = match read_caller_state(&path)? {
                None => RunState::default(),
                Some(text) => serde_json::from_str(&text).map_err(|e| Error::Input {
                    what: path.display().to_string(),
                    reason: format!("metadata `{CALLER_STATE_KEY}`: {e}"),
                })?,
            };
            let normalises = obs_norm(evaluator.as_ref()).is_some();
            match (state.obs_norm, evaluator.normaliser_mut()) {
                (Some(norm), Some(n)) if normalises => n.set_obs_norm(norm)?,
                (None, _) if !normalises => {}
                (saved, _) => {
                    return Err(Error::Input {
                        what: path.display().to_string(),
                        reason: format!(
                            "the checkpoint {} an observation normaliser, the config (policy.\
                             obs_norm = {}) {}",
                            if saved.is_some() { "holds" } else { "has no" },
                            saved.is_none(),
                            if saved.is_some() {
                                "does not use one"
                            } else {
                                "needs one"
                            }
                        ),
                    });
                }
            }
            best_obs = state.best_obs;
            trainer.load_checkpoint(&path)?;
            if trainer.generation() > config.stop.generations {
                return Err(Error::Input {
                    what: format!("--resume {}", dir.display()),
                    reason: format!(
                        "the run is already at generation {}; --generations {} would not \
                         continue it (give a total above {})",
                        trainer.generation(),
                        config.stop.generations,
                        trainer.generation()
                    ),
                });
            }
            history = artifacts::read_metrics(&dir, trainer.generation())?;
            // Evaluations after the checkpoint are redone by the resumed run.
            crate::dir::truncate_jsonl(&dir, EVALS, trainer.generation() + 1)?;
            best_eval = artifacts::load_validation(&dir, trainer.params())?;
        } else if writer {
            let text = toml::to_string_pretty(&config).expect("the config serialises");
            write_atomic(&dir.join(CONFIG), text.as_bytes())?;
        }
        if writer {
            let path = dir.join(METRICS);
            let metrics = MetricsFile::append(path.clone()).map_err(crate::error::io(&path))?;
            trainer.add_observer(metrics);
        }
        let (history_obs, history_rx) = ChannelObserver::new(1 << 20);
        trainer.add_observer(history_obs);
        if writer && options.progress {
            trainer.add_observer(Progress::new(config.stop.generations, trainer.generation()));
        }
        Ok(Session {
            validation: Validator::new(&config, best_eval),
            config,
            dir,
            resuming,
            writer,
            files: writer,
            held,
            trainer,
            evaluator,
            net: built.net,
            images: built.images,
            history,
            history_rx,
            best_obs,
            controller: None,
            snapshot: None,
            interrupt: options.interrupt,
            device: options.device,
            notices,
            fault_lr_at,
        })
    }

    /// A session over a trainer and an evaluator built by the caller, for `generations`
    /// generations, writing no files (library users; the dashboard's `spawn_run`). The stop
    /// rules, commands and snapshots are those of every other session.
    pub fn from_parts(
        trainer: Trainer,
        evaluator: Box<dyn TaskEvaluator>,
        generations: u64,
    ) -> Session {
        let mut trainer = trainer;
        let (history_obs, history_rx) = ChannelObserver::new(1);
        trainer.add_observer(history_obs);
        let config = RunConfig {
            task: "custom".into(),
            stop: StopConfig {
                generations,
                ..StopConfig::default()
            },
            checkpoints: CheckpointConfig {
                every: 0,
                lockstep_every: 0,
            },
            ..RunConfig::default()
        };
        Session {
            validation: Validator::new(&config, None),
            config,
            dir: PathBuf::new(),
            resuming: false,
            writer: true,
            files: false,
            held: None,
            trainer,
            evaluator,
            net: None,
            images: None,
            history: Vec::new(),
            history_rx,
            best_obs: None,
            controller: None,
            snapshot: None,
            interrupt: Arc::new(AtomicBool::new(false)),
            device: Device::Cpu,
            notices: Vec::new(),
            fault_lr_at: None,
        }
    }

    /// The resolved config.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this session continues an earlier run.
    pub fn is_resumed(&self) -> bool {
        self.resuming
    }

    /// The trainer (parameters, strategy, generation).
    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    /// The task's MLP, where its model is one.
    pub fn policy(&self) -> Option<&MlpConfig> {
        self.net.as_ref().and_then(Net::mlp)
    }

    /// The run's model (None for benchmarks).
    pub fn net(&self) -> Option<&Net> {
        self.net.as_ref()
    }

    /// MNIST test images (mnist runs), for the dashboard.
    pub fn images(&self) -> Option<&Arc<Dataset>> {
        self.images.as_ref()
    }

    /// Things the front end should tell the user (a capped thread count, a moved directory).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Add an observer of every generation (e.g. a dashboard channel).
    pub fn add_observer(&mut self, observer: impl Observer + 'static) {
        self.trainer.add_observer(observer);
    }

    /// Obey `controller`'s commands (pause, step, σ / lr changes, checkpoint, stop) before
    /// every generation.
    pub fn set_controller(&mut self, controller: Controller) {
        self.controller = Some(controller);
    }

    /// Receive the mean parameters after every generation.
    pub fn on_snapshot(
        &mut self,
        f: impl FnMut(u64, Vec<Vec<f32>>, Option<ObsTransform>) + Send + 'static,
    ) {
        self.snapshot = Some(Box::new(f));
    }

    /// Run until the generations, the time budget, a target, a stop command or an interrupt.
    pub fn run(self) -> Result<Outcome> {
        self.run_and_keep().map(|(outcome, _)| outcome)
    }

    /// [`run`](Self::run), also returning the trainer (its final parameters and state).
    ///
    /// A new run that fails before its first checkpoint removes what it wrote (and the
    /// directory, if it made it), so the same command can be run again.
    pub fn run_and_keep(mut self) -> Result<(Outcome, Trainer)> {
        let held = if self.resuming {
            None
        } else {
            self.held.take()
        };
        let dir = self.dir.clone();
        let result = self.run_inner();
        if let Some(held) = held {
            if result.is_err() && !dir.join(CHECKPOINT).exists() {
                held.discard(&[CONFIG, METRICS, EVALS, VALIDATION]);
            } else {
                drop(held);
            }
        }
        result
    }

    /// The loop: the stop rules before a generation, the generation, its periodic evaluation
    /// and checkpoint, the stop rules after it; then [`Session::finish`].
    fn run_inner(mut self) -> Result<(Outcome, Trainer)> {
        let clock = Clock::new(&self.config);
        // Budget schedules decay over the run's horizon: `stop.generations` without a time
        // budget; with one, the generations that fit, paced from the end of the first generation
        // to at least 5 % of the budget (fixed then, and kept in checkpoints).
        if clock.needs_horizon
            && clock.budget.is_none()
            && self.trainer.strategy().horizon().is_none()
        {
            let generations = self.config.stop.generations;
            self.trainer.strategy_mut().set_horizon(generations)?;
        }
        let mut ended = Ended::default();
        let reason = loop {
            if let Some(r) = self.stop_before_generation(&clock)? {
                break r;
            }
            let (mean, control, now) = self.generation(&clock)?;
            let g = self.trainer.generation();
            if let Some(r) = self.periodic_evaluation(g, &clock, now, &mut ended)? {
                break r;
            }
            if self.files && Every(self.config.checkpoints.every).due(g) {
                save_checkpoint(
                    &self.trainer,
                    self.evaluator.as_ref(),
                    &self.best_obs,
                    &self.dir,
                )?;
            }
            if self.config.stop.target_fitness.is_some_and(|t| mean >= t) {
                break StopReason::Target;
            }
            if self.interrupt.load(Ordering::SeqCst) {
                ended.interrupted = true;
                break StopReason::Observer;
            }
            if control == Control::Stop {
                break StopReason::Observer;
            }
        };
        self.finish(reason, &clock, ended)
    }

    /// Write `policy.safetensors` (`final_params`, scored with `obs`) and
    /// `policy_best.safetensors` (the best evaluated member), each atomically.
    fn save_policies(&self, final_params: &Params, obs: Option<&ObsTransform>) -> Result<()> {
        let (task, net) = (&self.config.task, self.net.as_ref());
        artifacts::save_policy(&self.dir.join(POLICY), final_params, task, net, obs)?;
        if let Some(best) = self.trainer.best() {
            let best_params = self.trainer.params().from_host_like(&best.values)?;
            let best_obs = self.best_obs.as_ref();
            artifacts::save_policy(
                &self.dir.join(POLICY_BEST),
                &best_params,
                task,
                net,
                best_obs,
            )?;
        }
        Ok(())
    }
}

/// The normaliser's state of `evaluator`, where it normalises observations.
pub(super) fn obs_norm(evaluator: &dyn TaskEvaluator) -> Option<&ObsNorm> {
    evaluator.normaliser()?.obs_norm()
}

/// Rank 0's `value` on every rank of a distributed run; `value` in a single process.
pub(super) fn writers_value(evaluator: &mut dyn TaskEvaluator, value: u64) -> u64 {
    evaluator.ranks().map_or(value, |r| r.writers_value(value))
}

/// The trainer's checkpoint with the run's own state (the normaliser) in its metadata.
fn save_checkpoint(
    trainer: &Trainer,
    evaluator: &dyn TaskEvaluator,
    best_obs: &Option<ObsTransform>,
    dir: &Path,
) -> Result<()> {
    let state = RunState {
        obs_norm: obs_norm(evaluator).cloned(),
        best_obs: best_obs.clone(),
    };
    let caller = (state.obs_norm.is_some() || state.best_obs.is_some())
        .then(|| serde_json::to_string(&state).expect("the run state serialises"));
    Ok(trainer.save_checkpoint_with(&dir.join(CHECKPOINT), caller)?)
}
