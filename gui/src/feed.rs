//! The data side of the dashboard: what a run sends (statistics, snapshots of the mean
//! parameters, how its noise is drawn) and how commands go back; live runs, a run driven by a
//! `Session` on its own thread, and replays of a metrics file.

use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use eggroll_core::{ChannelObserver, Command, Controller, Evaluator, GenStats, Trainer};
use eggroll_policies::MlpConfig;

/// The mean parameters after a generation, for live views.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Generations completed.
    pub generation: u64,
    /// Host values, one vector per parameter (the run's parameter order).
    pub values: Vec<Vec<f32>>,
    /// The observation transform to apply before the policy (runs that normalise).
    pub obs: Option<eggroll_policies::ObsTransform>,
}

/// Sends snapshots without ever blocking the trainer (drops when the UI has not taken the
/// previous one).
pub struct SnapshotSender(pub SyncSender<Snapshot>);

impl SnapshotSender {
    /// Offer a snapshot.
    pub fn offer(&self, s: Snapshot) {
        if let Err(TrySendError::Disconnected(_)) = self.0.try_send(s) {
            // The dashboard was closed; training continues.
        }
    }
}

/// One training run as the dashboard sees it.
pub struct RunFeed {
    /// Legend label (e.g. "rank 4").
    pub label: String,
    /// Task name (cartpole, pendulum, mnist, sphere, ...).
    pub task: String,
    /// The policy network, for the live task view.
    pub policy: Option<MlpConfig>,
    /// Parameter names in order (to map snapshots onto the policy).
    pub param_names: Vec<String>,
    /// One line describing the config (seed, population, rank, σ, lr).
    pub info: String,
    /// Initial σ and learning rate (slider positions).
    pub sigma: f32,
    /// Initial learning rate.
    pub lr: f32,
    /// Per-generation statistics.
    pub stats: Receiver<GenStats>,
    /// Mean-parameter snapshots (live runs).
    pub snapshots: Option<Receiver<Snapshot>>,
    /// Commands to the training loop (live runs; None for replays).
    pub commands: Option<Sender<Command>>,
    /// How the run draws its noise, so the dashboard can regenerate a member's perturbation.
    pub noise: Option<NoiseInfo>,
    /// MNIST test images for the prediction grid (mnist runs).
    pub mnist: Option<std::sync::Arc<eggroll_envs::mnist::Dataset>>,
    /// The network when the run's model is built from population layers (`--model cnn`), for
    /// the prediction grid; `policy` is the MLP otherwise.
    pub net: Option<std::sync::Arc<eggroll_policies::nn::Model>>,
    /// The run's fitness shaping and group size, for the shaped-weights panel (the strategy's
    /// `es.shaping` and `es.group_size`; z-score and 0 unless the run says otherwise).
    pub shaping: (eggroll_core::Shaping, usize),
}

/// What the dashboard needs to regenerate a member's low-rank perturbation (noise is a pure
/// function of these counters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseInfo {
    /// Noise seed.
    pub seed: u64,
    /// Low-rank rank.
    pub rank: usize,
    /// Generations per noise epoch.
    pub noise_reuse: u64,
}

/// Channels for a live run: an observer to add to the trainer, a snapshot sender, a command
/// receiver (for a [`Controller`]) and the matching dashboard feed.
pub struct LiveChannels {
    /// Statistics observer (bounded; drops when the UI is slow).
    pub observer: ChannelObserver,
    /// Snapshots of the mean parameters.
    pub snapshots: SnapshotSender,
    /// Commands from the dashboard.
    pub commands: Receiver<Command>,
}

impl LiveChannels {
    /// Wire a session to the dashboard: statistics, commands and snapshots (with the
    /// observation transform the live view applies).
    pub fn connect(self, session: &mut eggroll_run::Session) {
        session.add_observer(self.observer);
        session.set_controller(Controller::new(self.commands));
        let snapshots = self.snapshots;
        session.on_snapshot(move |generation, values, obs| {
            snapshots.offer(Snapshot {
                generation,
                values,
                obs,
            })
        });
    }
}

/// Create the channels of a live run and its feed.
pub fn live_channels(
    label: impl Into<String>,
    task: impl Into<String>,
    policy: Option<MlpConfig>,
    param_names: Vec<String>,
    info: impl Into<String>,
    sigma: f32,
    lr: f32,
) -> (LiveChannels, RunFeed) {
    let (observer, stats) = ChannelObserver::new(4096);
    let (stx, srx) = sync_channel(1);
    let (ctx, crx) = std::sync::mpsc::channel();
    (
        LiveChannels {
            observer,
            snapshots: SnapshotSender(stx),
            commands: crx,
        },
        RunFeed {
            label: label.into(),
            task: task.into(),
            policy,
            param_names,
            info: info.into(),
            sigma,
            lr,
            stats,
            snapshots: Some(srx),
            commands: Some(ctx),
            noise: None,
            mnist: None,
            net: None,
            shaping: (eggroll_core::Shaping::ZScore, 0),
        },
    )
}

/// Run `trainer` on `evaluator` on a new thread, controlled from the dashboard, for at most
/// `max_generations` generations, through the run layer's `Session` (the loop every front end
/// uses) without a run directory.
pub fn spawn_run(
    trainer: Trainer,
    evaluator: Box<dyn Evaluator>,
    max_generations: u64,
    label: impl Into<String>,
    task: impl Into<String>,
    policy: Option<MlpConfig>,
    noise: Option<NoiseInfo>,
) -> (
    RunFeed,
    std::thread::JoinHandle<eggroll_run::Result<Trainer>>,
) {
    let names: Vec<String> = trainer
        .params()
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    let g = trainer.generation();
    let info = format!(
        "{} N={}",
        trainer.strategy().name(),
        trainer.strategy().population_size()
    );
    let (sigma, lr) = (
        trainer.strategy().sigma(g),
        trainer.strategy().learning_rate(g),
    );
    let (ch, mut feed) = live_channels(label, task, policy, names, info, sigma, lr);
    feed.noise = noise;
    let handle = std::thread::spawn(move || {
        // The same loop as every other front end: a run-layer Session (no files).
        let evaluator = Box::new(eggroll_run::task::Unscored(evaluator));
        let mut session = eggroll_run::Session::from_parts(trainer, evaluator, max_generations);
        ch.connect(&mut session);
        let (_, trainer) = session.run_and_keep()?;
        Ok(trainer)
    });
    (feed, handle)
}

/// A feed that replays `metrics.jsonl` and keeps tailing it (a run still in progress shows up
/// as it writes). Malformed lines are skipped; a torn last line is read once complete.
pub fn replay_feed(path: &Path) -> std::io::Result<RunFeed> {
    std::fs::metadata(path)?;
    let (tx, rx) = sync_channel::<GenStats>(1 << 16);
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let mut offset = 0usize;
        loop {
            if let Ok(text) = std::fs::read_to_string(&p) {
                let new = &text[offset.min(text.len())..];
                let complete = new.rfind('\n').map_or(0, |i| i + 1);
                for line in new[..complete].lines() {
                    if let Ok(s) = serde_json::from_str::<GenStats>(line)
                        && tx.send(s).is_err()
                    {
                        return;
                    }
                }
                offset += complete;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let label = path
        .parent()
        .and_then(|d| d.file_name())
        .map_or_else(|| "replay".to_string(), |n| n.to_string_lossy().to_string());
    Ok(RunFeed::replayed(
        label,
        "replay",
        path.display().to_string(),
        rx,
    ))
}

impl RunFeed {
    /// A feed of recorded statistics only: no policy, snapshots or commands.
    fn replayed(label: String, task: &str, info: String, stats: Receiver<GenStats>) -> Self {
        RunFeed {
            label,
            task: task.into(),
            policy: None,
            param_names: Vec::new(),
            info,
            sigma: 0.0,
            lr: 0.0,
            stats,
            snapshots: None,
            commands: None,
            noise: None,
            mnist: None,
            net: None,
            shaping: (eggroll_core::Shaping::ZScore, 0),
        }
    }
}

/// Feeds that replay an `eggroll compare` directory (its `results.jsonl`): one run per
/// (model, method) pair, one point per test evaluation, with the test accuracy as the fitness,
/// the training seconds as wall time and the forward passes as evaluations, so the fitness
/// panel overlays the pairs' accuracy against time (x axis "seconds") or forward passes
/// ("evaluations"). A pair that failed shows as an empty run labelled with its error.
pub fn compare_feeds(dir: &Path) -> std::io::Result<Vec<RunFeed>> {
    let text = std::fs::read_to_string(dir.join("results.jsonl"))?;
    let mut feeds = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let row: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("results.jsonl line {}: {e}", n + 1),
            )
        })?;
        let name = |k: &str| row[k].as_str().unwrap_or("?").to_string();
        let (tx, rx) = sync_channel::<GenStats>(4096);
        let mut best = f32::NEG_INFINITY;
        let curve = row["curve"].as_array().cloned().unwrap_or_default();
        for (g, point) in curve.iter().enumerate() {
            let (t, passes, acc) = (
                point[0].as_f64().unwrap_or(0.0),
                point[1].as_u64().unwrap_or(0),
                point[2].as_f64().unwrap_or(0.0) as f32,
            );
            best = best.max(acc);
            let _ = tx.try_send(GenStats {
                generation: g as u64,
                mean: acc,
                min: acc,
                max: acc,
                std: 0.0,
                best_ever: best,
                sigma: 0.0,
                lr: 0.0,
                update_norm: 0.0,
                nonfinite: 0,
                evals: passes,
                evals_per_s: 0.0,
                gen_s: 0.0,
                wall_s: t,
                fitness: std::sync::Arc::new(vec![acc]),
            });
        }
        let info = match row["error"].as_str() {
            Some(e) => format!("failed: {e}"),
            None => format!(
                "test accuracy {:.4}, {} parameters, objective {}",
                row["test_accuracy"].as_f64().unwrap_or(f64::NAN),
                row["params"].as_u64().unwrap_or(0),
                name("objective")
            ),
        };
        feeds.push(RunFeed::replayed(
            format!("{} {}", name("model"), name("method")),
            "compare",
            info,
            rx,
        ));
    }
    if feeds.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "results.jsonl has no rows",
        ));
    }
    Ok(feeds)
}
