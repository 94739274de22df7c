//! The training loop: ask → evaluate → tell → observers, with checkpoints.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{load_safetensors, save_safetensors};
use crate::error::{Error, Result};
use crate::eval::Evaluator;
use crate::params::Params;
use crate::population::Population;
use crate::strategy::{Strategy, StrategyState};
use crate::termination::{Control, StopReason};

/// What to do with NaN or infinite fitness values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonFinitePolicy {
    /// Fail with [`Error::NonFiniteFitness`] naming the member and generation.
    #[default]
    Error,
    /// Replace with the worst finite fitness of the generation.
    Worst,
}

/// When [`Trainer::run`] stops (whichever comes first; all `None` runs forever).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StopCondition {
    /// Stop after this generation count (counted from 0, including resumed ones).
    pub max_generations: Option<u64>,
    /// Stop once the population's mean fitness reaches this value.
    pub target_fitness: Option<f32>,
    /// Stop once this much wall time has been spent in this call.
    pub time_budget: Option<Duration>,
}

/// Statistics of one generation, sent to every observer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenStats {
    /// Generation number (0-based).
    pub generation: u64,
    /// Mean fitness of the population.
    pub mean: f32,
    /// Minimum fitness.
    pub min: f32,
    /// Maximum fitness.
    pub max: f32,
    /// Standard deviation of the fitness.
    pub std: f32,
    /// Best fitness seen so far in the run.
    pub best_ever: f32,
    /// σ of this generation.
    pub sigma: f32,
    /// Learning rate of this generation's update.
    pub lr: f32,
    /// ‖Δθ‖₂ of the update.
    pub update_norm: f32,
    /// Non-finite fitness values replaced (policy `worst`).
    pub nonfinite: usize,
    /// Member evaluations so far.
    pub evals: u64,
    /// Evaluations per second in this generation.
    pub evals_per_s: f64,
    /// Seconds this generation took.
    pub gen_s: f64,
    /// Seconds of training so far (across resumes).
    pub wall_s: f64,
    /// The raw fitness of every member (not written to metrics files).
    #[serde(skip)]
    pub fitness: Arc<Vec<f32>>,
}

/// The best member seen: its own perturbed parameters, not the post-update mean.
#[derive(Debug, Clone)]
pub struct Best {
    /// Its fitness.
    pub fitness: f32,
    /// The generation it was evaluated in.
    pub generation: u64,
    /// Its index in that generation.
    pub member: usize,
    /// Its parameters (host values, one vector per parameter).
    pub values: Vec<Vec<f32>>,
}

/// Receives per-generation statistics (CLI progress, GUI, metrics files).
pub trait Observer: Send {
    /// Called after every generation.
    fn on_generation(&mut self, stats: &GenStats) -> Control;
    /// Called once when [`Trainer::run`] ends (normally or by a stop).
    fn on_finish(&mut self, _summary: &RunSummary) {}
}

impl<F: FnMut(&GenStats) -> Control + Send> Observer for F {
    fn on_generation(&mut self, stats: &GenStats) -> Control {
        self(stats)
    }
}

/// An observer that forwards statistics over a bounded channel and never blocks: when the
/// receiver is slow, new statistics are dropped (the receiver sees the latest it can).
pub struct ChannelObserver {
    tx: SyncSender<GenStats>,
    dropped: u64,
}

impl ChannelObserver {
    /// A channel observer with room for `capacity` pending messages, and its receiver.
    pub fn new(capacity: usize) -> (Self, Receiver<GenStats>) {
        let (tx, rx) = sync_channel(capacity.max(1));
        (Self { tx, dropped: 0 }, rx)
    }
    /// Messages dropped because the receiver was slow.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Observer for ChannelObserver {
    fn on_generation(&mut self, stats: &GenStats) -> Control {
        match self.tx.try_send(stats.clone()) {
            Ok(()) => Control::Continue,
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                Control::Continue
            }
            // Nobody listens any more: training goes on.
            Err(TrySendError::Disconnected(_)) => Control::Continue,
        }
    }
}

/// The outcome of [`Trainer::run`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunSummary {
    /// Generations completed in total.
    pub generations: u64,
    /// Member evaluations in total.
    pub evals: u64,
    /// Seconds of training in total.
    pub wall_s: f64,
    /// Best member fitness ever seen.
    pub best_fitness: f32,
    /// Mean fitness of the last generation.
    pub last_mean: f32,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

/// Runs generations of a [`Strategy`] over an [`Evaluator`].
pub struct Trainer {
    strategy: Box<dyn Strategy>,
    params: Params,
    generation: u64,
    evals: u64,
    wall_s: f64,
    best: Option<Best>,
    last_mean: f32,
    nonfinite: NonFinitePolicy,
    observers: Vec<Box<dyn Observer>>,
    asked_at: Option<Instant>,
}

const CHECKPOINT_FORMAT: &str = "eggroll-checkpoint";
/// Version of the checkpoint format written by this build.
pub const CHECKPOINT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct CheckpointJson {
    generation: u64,
    evals: u64,
    wall_s: f64,
    last_mean: f32,
    strategy: String,
    strategy_state: serde_json::Value,
    best: Option<(f32, u64, usize)>,
}

impl Trainer {
    /// A trainer at generation 0.
    pub fn new(strategy: impl Strategy + 'static, params: Params) -> Self {
        Self::from_boxed(Box::new(strategy), params)
    }

    /// A trainer from a boxed strategy.
    pub fn from_boxed(strategy: Box<dyn Strategy>, params: Params) -> Self {
        Self {
            strategy,
            params,
            generation: 0,
            evals: 0,
            wall_s: 0.0,
            best: None,
            last_mean: f32::NAN,
            nonfinite: NonFinitePolicy::Error,
            observers: Vec::new(),
            asked_at: None,
        }
    }

    /// Set the non-finite fitness policy.
    pub fn with_nonfinite(mut self, policy: NonFinitePolicy) -> Self {
        self.nonfinite = policy;
        self
    }

    /// Subscribe an observer.
    pub fn add_observer(&mut self, observer: impl Observer + 'static) {
        self.observers.push(Box::new(observer));
    }

    /// Subscribe a boxed observer.
    pub fn add_boxed_observer(&mut self, observer: Box<dyn Observer>) {
        self.observers.push(observer);
    }

    /// Current (mean) parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// Next generation to run (= generations completed).
    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// Evaluations so far.
    pub fn evals(&self) -> u64 {
        self.evals
    }
    /// The best member seen so far.
    pub fn best(&self) -> Option<&Best> {
        self.best.as_ref()
    }
    /// The strategy (for live control of σ and the learning rate).
    pub fn strategy_mut(&mut self) -> &mut dyn Strategy {
        self.strategy.as_mut()
    }
    /// The strategy.
    pub fn strategy(&self) -> &dyn Strategy {
        self.strategy.as_ref()
    }

    /// Run one generation and notify observers. Returns its statistics and the observers'
    /// verdict.
    pub fn step(&mut self, evaluator: &mut dyn Evaluator) -> Result<(GenStats, Control)> {
        let population = self.ask()?;
        let fitness = evaluator.evaluate(&self.params, &population)?;
        self.tell(&population, fitness)
    }

    /// Ask/tell for your own loop: the population of the next generation. Evaluate its members
    /// (e.g. [`Population::materialize`]) and hand their fitness to [`Trainer::tell`]; asking
    /// again before telling returns the same population.
    pub fn ask(&mut self) -> Result<Population> {
        self.asked_at = Some(Instant::now());
        self.strategy.ask(&self.params, self.generation)
    }

    /// Ask/tell: apply the fitness (higher is better) of the population from
    /// [`Trainer::ask`], with the non-finite policy, best-member tracking and observers of
    /// [`Trainer::step`] (which is `ask`, evaluate, `tell`).
    pub fn tell(
        &mut self,
        population: &Population,
        mut fitness: Vec<f32>,
    ) -> Result<(GenStats, Control)> {
        let start = self.asked_at.unwrap_or_else(Instant::now);
        let g = self.generation;
        if population.generation != g {
            return Err(Error::Eval(format!(
                "the population is of generation {}, the trainer is at generation {g} (ask \
                 again)",
                population.generation
            )));
        }
        if fitness.len() != population.size {
            return Err(Error::FitnessLength {
                expected: population.size,
                got: fitness.len(),
            });
        }
        let nonfinite = fitness.iter().filter(|f| !f.is_finite()).count();
        if nonfinite > 0 {
            match self.nonfinite {
                NonFinitePolicy::Error => {
                    let (member, &value) = fitness
                        .iter()
                        .enumerate()
                        .find(|(_, f)| !f.is_finite())
                        .expect("counted above");
                    return Err(Error::NonFiniteFitness {
                        member,
                        generation: g,
                        value,
                    });
                }
                NonFinitePolicy::Worst => {
                    let worst = fitness
                        .iter()
                        .copied()
                        .filter(|f| f.is_finite())
                        .fold(f32::INFINITY, f32::min);
                    if !worst.is_finite() {
                        return Err(Error::NonFiniteFitness {
                            member: 0,
                            generation: g,
                            value: fitness[0],
                        });
                    }
                    for f in fitness.iter_mut().filter(|f| !f.is_finite()) {
                        *f = worst;
                    }
                }
            }
        }
        // Track the true best member before the update moves the mean.
        let (arg, &max) = fitness
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .expect("population is not empty");
        if self.best.as_ref().is_none_or(|b| max > b.fitness) {
            let base = self.params.to_host()?;
            self.best = Some(Best {
                fitness: max,
                generation: g,
                member: arg,
                values: population.materialize(&self.params, &base, arg)?,
            });
        }
        let report = self.strategy.tell(&mut self.params, population, &fitness)?;
        self.asked_at = None;
        let n = fitness.len() as f64;
        let mean = fitness.iter().map(|&f| f as f64).sum::<f64>() / n;
        let var = fitness
            .iter()
            .map(|&f| (f as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let gen_s = start.elapsed().as_secs_f64();
        self.generation += 1;
        self.evals += population.size as u64;
        self.wall_s += gen_s;
        self.last_mean = mean as f32;
        let stats = GenStats {
            generation: g,
            mean: mean as f32,
            min: fitness.iter().copied().fold(f32::INFINITY, f32::min),
            max,
            std: var.sqrt() as f32,
            best_ever: self.best.as_ref().map_or(max, |b| b.fitness),
            sigma: report.sigma,
            lr: report.lr,
            update_norm: report.update_norm,
            nonfinite,
            evals: self.evals,
            evals_per_s: population.size as f64 / gen_s.max(1e-12),
            gen_s,
            wall_s: self.wall_s,
            fitness: Arc::new(fitness),
        };
        let mut control = Control::Continue;
        for o in &mut self.observers {
            if o.on_generation(&stats) == Control::Stop {
                control = Control::Stop;
            }
        }
        Ok((stats, control))
    }

    /// Run generations until `stop` is met or an observer stops the run.
    pub fn run(
        &mut self,
        evaluator: &mut dyn Evaluator,
        stop: &StopCondition,
    ) -> Result<RunSummary> {
        let start = Instant::now();
        let reason = loop {
            if stop.max_generations.is_some_and(|m| self.generation >= m) {
                break StopReason::Generations;
            }
            if stop.time_budget.is_some_and(|t| start.elapsed() >= t) {
                break StopReason::TimeBudget;
            }
            let (stats, control) = self.step(evaluator)?;
            if stop.target_fitness.is_some_and(|t| stats.mean >= t) {
                break StopReason::Target;
            }
            if control == Control::Stop {
                break StopReason::Observer;
            }
        };
        Ok(self.finish(reason))
    }

    /// End a run driven by [`Trainer::step`]: notify observers' `on_finish` and return the
    /// summary.
    pub fn finish(&mut self, reason: StopReason) -> RunSummary {
        let summary = self.summary(reason);
        for o in &mut self.observers {
            o.on_finish(&summary);
        }
        summary
    }

    /// A summary of the run so far.
    pub fn summary(&self, stop_reason: StopReason) -> RunSummary {
        RunSummary {
            generations: self.generation,
            evals: self.evals,
            wall_s: self.wall_s,
            best_fitness: self.best.as_ref().map_or(f32::NAN, |b| b.fitness),
            last_mean: self.last_mean,
            stop_reason,
        }
    }

    /// Save parameters, strategy state, counters and the best member to a safetensors file,
    /// atomically.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        self.save_checkpoint_with(path, None)
    }

    /// [`save_checkpoint`](Self::save_checkpoint) plus the caller's own state (e.g. the run
    /// layer's observation normaliser), a string stored under the metadata key
    /// [`CALLER_STATE_KEY`](crate::checkpoint::CALLER_STATE_KEY) and read back with
    /// [`read_caller_state`](crate::checkpoint::read_caller_state).
    pub fn save_checkpoint_with(&self, path: &Path, caller_state: Option<String>) -> Result<()> {
        let state = self.strategy.state()?;
        let mut tensors: Vec<(String, Tensor)> = self
            .params
            .iter()
            .map(|p| (format!("param.{}", p.name()), p.tensor().clone()))
            .collect();
        tensors.extend(
            state
                .tensors
                .into_iter()
                .map(|(n, t)| (format!("strategy.{n}"), t)),
        );
        if let Some(b) = &self.best {
            let device = candle_core::Device::Cpu;
            for (p, v) in self.params.iter().zip(&b.values) {
                tensors.push((
                    format!("best.{}", p.name()),
                    Tensor::from_slice(v, p.dims(), &device)?,
                ));
            }
        }
        let json = CheckpointJson {
            generation: self.generation,
            evals: self.evals,
            wall_s: self.wall_s,
            last_mean: self.last_mean,
            strategy: self.strategy.name().to_string(),
            strategy_state: state.json,
            best: self
                .best
                .as_ref()
                .map(|b| (b.fitness, b.generation, b.member)),
        };
        let mut meta = HashMap::new();
        meta.insert("format".into(), CHECKPOINT_FORMAT.into());
        meta.insert("version".into(), CHECKPOINT_VERSION.to_string());
        meta.insert(
            "state".into(),
            serde_json::to_string(&json).expect("plain struct serialises"),
        );
        if let Some(c) = caller_state {
            meta.insert(crate::checkpoint::CALLER_STATE_KEY.into(), c);
        }
        save_safetensors(path, &tensors, meta)
    }

    /// Restore a checkpoint written by [`Trainer::save_checkpoint`] into this trainer (built
    /// with the same strategy type and parameter layout). Nothing changes on error.
    pub fn load_checkpoint(&mut self, path: &Path) -> Result<()> {
        let bad = |reason: String| Error::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        let device = self.params.device();
        let (meta, tensors) = load_safetensors(path, &device)?;
        if meta.get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
            return Err(bad(
                "not an eggroll checkpoint (metadata `format` missing)".into()
            ));
        }
        let version = meta.get("version").cloned().unwrap_or_default();
        if version != CHECKPOINT_VERSION.to_string() {
            return Err(bad(format!(
                "format version {version:?}; this build reads version {CHECKPOINT_VERSION}"
            )));
        }
        let json: CheckpointJson = serde_json::from_str(meta.get("state").map_or("", |s| s))
            .map_err(|e| bad(format!("metadata `state`: {e}")))?;
        if json.strategy != self.strategy.name() {
            return Err(bad(format!(
                "written by strategy `{}`, this run uses `{}`",
                json.strategy,
                self.strategy.name()
            )));
        }
        let mut by_name: HashMap<String, Tensor> = tensors.into_iter().collect();
        let mut values = Vec::new();
        let mut best_values = Vec::new();
        for p in self.params.iter() {
            let key = format!("param.{}", p.name());
            let t = by_name
                .remove(&key)
                .ok_or_else(|| bad(format!("tensor `{key}` is missing")))?;
            if t.dims() != p.dims() {
                return Err(bad(format!(
                    "tensor `{key}` has shape {:?}, the run expects {:?}",
                    t.dims(),
                    p.dims()
                )));
            }
            values.push(t);
            if json.best.is_some() {
                let key = format!("best.{}", p.name());
                let t = by_name
                    .remove(&key)
                    .ok_or_else(|| bad(format!("tensor `{key}` is missing")))?;
                if t.dims() != p.dims() {
                    return Err(bad(format!("tensor `{key}` has shape {:?}", t.dims())));
                }
                best_values.push(t.flatten_all()?.to_vec1::<f32>()?);
            }
        }
        let strategy_tensors: Vec<(String, Tensor)> = by_name
            .into_iter()
            .filter_map(|(n, t)| n.strip_prefix("strategy.").map(|s| (s.to_string(), t)))
            .collect();
        let mut params = self.params.clone();
        for (i, t) in values.into_iter().enumerate() {
            params.set(i, t)?;
        }
        self.strategy
            .load_state(
                StrategyState {
                    json: json.strategy_state,
                    tensors: strategy_tensors,
                },
                &params,
            )
            .map_err(|e| bad(e.to_string()))?;
        self.params = params;
        self.generation = json.generation;
        self.evals = json.evals;
        self.wall_s = json.wall_s;
        self.last_mean = json.last_mean;
        self.best = json.best.map(|(fitness, generation, member)| Best {
            fitness,
            generation,
            member,
            values: best_values,
        });
        Ok(())
    }
}
