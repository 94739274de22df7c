//! `eggroll train`: one training loop for every task; only the evaluator differs.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use candle_core::Device;
use eggroll_core::problems::{Objective, Problem};
use eggroll_core::{
    Control, Eggroll, Evaluator, FnEvaluator, GenStats, Observer, ParamView, Params, Population,
    SimpleEs, StopReason, Strategy, Trainer,
};
use eggroll_envs::mnist::{Dataset, Split, mnist_dir};
use eggroll_envs::vec::{CartPoleVec, PendulumVec, VecEnv};
use eggroll_policies::mnist::{MnistEvaluator, accuracy};
use eggroll_policies::{EvalReport, Head, MlpConfig, RolloutEvaluator};
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, Ordering};

use eggroll_core::ChannelObserver;
use eggroll_core::checkpoint::write_atomic;

use crate::TrainArgs;
use crate::config::{StrategyKind, TrainConfig, resolve};
use crate::rundir;

fn flags(args: &TrainArgs) -> Result<Vec<(&'static str, toml::Value)>> {
    let mut f = Vec::new();
    // Values beyond i64 saturate (and are then refused by validation or the memory check).
    let int = |v: u64| toml::Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));
    if let Some(v) = args.seed {
        // TOML integers are signed 64-bit: larger seeds cannot be stored in config.toml.
        if v > i64::MAX as u64 {
            anyhow::bail!(
                "--seed {v}: must be ≤ {} (a config file holds signed 64-bit integers)",
                i64::MAX
            );
        }
        f.push(("es.seed", int(v)));
    }
    if let Some(v) = args.generations {
        f.push(("generations", int(v)));
    }
    if let Some(v) = args.population {
        f.push(("es.population_size", int(v as u64)));
    }
    if let Some(v) = args.rank {
        f.push(("es.rank", int(v as u64)));
    }
    if let Some(v) = args.sigma {
        f.push(("es.sigma", toml::Value::Float(v as f64)));
    }
    if let Some(v) = args.lr {
        f.push(("es.learning_rate", toml::Value::Float(v as f64)));
    }
    if let Some(v) = args.threads {
        f.push(("threads", int(v as u64)));
    }
    if let Some(v) = args.episodes {
        f.push(("episodes", int(v as u64)));
    }
    if let Some(v) = &args.data_dir {
        f.push(("data_dir", toml::Value::String(v.display().to_string())));
    }
    if let Some(v) = args.batch {
        f.push(("batch", int(v as u64)));
    }
    if let Some(v) = args.time_budget {
        f.push(("time_budget_s", toml::Value::Float(v)));
    }
    Ok(f)
}

/// The flags `--resume` applies on top of the saved config: those that cannot change the
/// bits of the generations computed (the total, the wall-clock budget, the thread count and
/// where the data lives). Flags that would change the fitness (`--episodes`, `--batch`) are
/// refused so that a resumed run stays bit-identical to an uninterrupted one; the others
/// (`--seed`, `--population`, ...) are refused by the argument parser.
pub fn resume_flags(args: &TrainArgs) -> Result<Vec<(&'static str, toml::Value)>> {
    let refused: Vec<&str> = [
        ("--episodes", args.episodes.is_some()),
        ("--batch", args.batch.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, given)| given.then_some(name))
    .collect();
    if !refused.is_empty() {
        anyhow::bail!(
            "--resume: {} would change every later generation's fitness, so the resumed run \
             would no longer match an uninterrupted one; start a new run instead",
            refused.join(" and ")
        );
    }
    Ok(flags(args)?
        .into_iter()
        .filter(|(k, _)| matches!(*k, "generations" | "threads" | "data_dir" | "time_budget_s"))
        .collect())
}

/// Build the strategy named by the config.
pub fn build_strategy(config: &TrainConfig, params: &Params) -> Result<Box<dyn Strategy>> {
    Ok(match config.strategy {
        StrategyKind::Eggroll => Box::new(Eggroll::new(config.es.clone(), params)?),
        StrategyKind::SimpleEs => Box::new(SimpleEs::new(config.es.clone(), params)?),
    })
}

/// Progress: an indicatif bar on a terminal, plain log lines (at most two a second)
/// otherwise.
struct Progress {
    total: u64,
    last: Option<Instant>,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(total: u64, start_at: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} gen {pos}/{len} {msg} [{elapsed_precise} ETA {eta}]",
                )
                .expect("valid template"),
            );
            b.set_position(start_at);
            b
        });
        Self {
            total,
            last: None,
            bar,
        }
    }
}

impl Observer for Progress {
    fn on_generation(&mut self, s: &GenStats) -> Control {
        let msg = format!(
            "mean {:.5} best {:.5} σ {:.4} lr {:.4} {:.0} evals/s",
            s.mean, s.best_ever, s.sigma, s.lr, s.evals_per_s
        );
        if let Some(b) = &self.bar {
            b.set_position(s.generation + 1);
            b.set_message(msg);
            return Control::Continue;
        }
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if due || s.generation + 1 == self.total {
            self.last = Some(Instant::now());
            eprintln!("gen {:>5}/{} {msg}", s.generation + 1, self.total);
        }
        Control::Continue
    }
    fn on_finish(&mut self, _: &eggroll_core::RunSummary) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}

/// Appends one JSON line per generation to `metrics.jsonl`, flushed every line.
struct MetricsFile {
    out: BufWriter<File>,
    path: PathBuf,
}

impl Observer for MetricsFile {
    fn on_generation(&mut self, s: &GenStats) -> Control {
        let line = serde_json::to_string(s).expect("stats serialise");
        if let Err(e) = writeln!(self.out, "{line}").and_then(|_| self.out.flush()) {
            eprintln!("error: writing {}: {e}; stopping", self.path.display());
            return Control::Stop;
        }
        Control::Continue
    }
}

/// A control task's observation size, action outputs, head and vectorised environment.
pub fn control_task(task: &str) -> Option<(usize, usize, Head, fn(usize) -> Box<dyn VecEnv>)> {
    match task {
        "cartpole" => Some((4, 2, Head::Argmax, |n| Box::new(CartPoleVec::new(n)))),
        "pendulum" => Some((
            3,
            1,
            Head::TanhScaled {
                low: vec![-2.0],
                high: vec![2.0],
            },
            |n| Box::new(PendulumVec::new(n)),
        )),
        _ => None,
    }
}

/// The config keys that size a run (named when it does not fit in memory).
const MEMORY_KEYS: &str =
    "es.population_size, es.rank, policy.hidden, problem.rows/cols, episodes or batch";

/// The memory a run needs, computed from its sizes before anything is allocated, checked
/// against the machine: parameters and their copies (optimiser moments, update, best member,
/// validation), one generation's noise, the rows of the batched forward, the fitness vector
/// and (MNIST) the images.
fn check_memory(
    config: &TrainConfig,
    policy: Option<&MlpConfig>,
    images: Option<(usize, usize)>,
) -> Result<()> {
    let es = &config.es;
    let n = es.population_size;
    let blocks = n.div_ceil(2);
    // (rows, cols) of every matrix, and the lengths of the vectors.
    let (mats, vecs): (Vec<(usize, usize)>, Vec<usize>) = match policy {
        None => (vec![(config.problem.rows, config.problem.cols)], vec![]),
        Some(p) => (
            p.sizes.windows(2).map(|w| (w[1], w[0])).collect(),
            if p.bias {
                p.sizes[1..].to_vec()
            } else {
                vec![]
            },
        ),
    };
    let mut e = eggroll_run::limits::Estimate::new();
    for &(m, nn) in &mats {
        e.add("parameters and their copies", &[6, m, nn]);
        match config.strategy {
            StrategyKind::Eggroll => e.add("noise", &[blocks, m.saturating_add(nn), es.rank]),
            StrategyKind::SimpleEs => e.add("noise", &[blocks, m, nn]),
        };
    }
    for &v in &vecs {
        e.add("parameters and their copies", &[6, v]);
        e.add("noise", &[blocks, v]);
    }
    let widest = mats.iter().map(|&(m, nn)| m.max(nn)).max().unwrap_or(1);
    match (policy, images) {
        (None, _) => e.add(
            "members materialised by the closure evaluator",
            &[rayon::current_num_threads(), 2, mats[0].0, mats[0].1],
        ),
        // Observations, outputs and environment states of every row (the hidden layers run in
        // fixed chunks of rows).
        (Some(p), None) => e.add(
            "forward rows",
            &[
                n.max(config.eval_episodes),
                config.episodes,
                p.sizes[0] + p.sizes[p.sizes.len() - 1] + 8,
            ],
        ),
        // Every member's outputs on the shared batch, and the first layer's low-rank products.
        (Some(p), Some((count, pixels))) => e
            .add(
                "forward rows",
                &[n, config.batch, p.sizes[p.sizes.len() - 1] + 2],
            )
            .add(
                "shared first layer",
                &[
                    config.batch,
                    n.saturating_mul(es.rank).saturating_add(widest),
                ],
            )
            .add("images", &[count, pixels]),
    };
    e.add("fitness", &[n, 4]);
    e.check(MEMORY_KEYS).context("invalid config")?;
    Ok(())
}

/// What a task contributes: its parameters, its evaluator and its final evaluation.
enum Task {
    Benchmark(Problem),
    Control {
        policy: MlpConfig,
        head: Head,
        env: fn(usize) -> Box<dyn VecEnv>,
    },
    Mnist {
        policy: MlpConfig,
        train: Arc<Dataset>,
        test: Arc<Dataset>,
    },
}

impl Task {
    fn new(config: &TrainConfig) -> Result<Task> {
        let policy = |din: usize, dout: usize| {
            let mut sizes = vec![din];
            sizes.extend(&config.policy.hidden);
            sizes.push(dout);
            MlpConfig {
                sizes,
                activation: config.policy.activation,
                bias: config.policy.bias,
            }
        };
        Ok(match config.task.as_str() {
            "sphere" | "rastrigin" => Task::Benchmark({
                check_memory(config, None, None)?;
                Problem::new(
                    if config.task == "sphere" {
                        Objective::Sphere
                    } else {
                        Objective::Rastrigin
                    },
                    config.problem.rows,
                    config.problem.cols,
                    config.es.seed,
                )
            }),
            "cartpole" | "pendulum" => {
                let (din, dout, head, env) = control_task(&config.task).expect("known task");
                let policy = policy(din, dout);
                check_memory(config, Some(&policy), None)?;
                Task::Control { policy, head, env }
            }
            "mnist" => {
                let dir = mnist_dir(config.data_dir.as_deref().map(Path::new));
                let train = Dataset::load(&dir, Split::Train)?;
                let test = Dataset::load(&dir, Split::Test)?;
                if (train.rows, train.cols) != (test.rows, test.cols) {
                    anyhow::bail!(
                        "MNIST in {}: training images are {}×{} but test images {}×{}",
                        dir.display(),
                        train.rows,
                        train.cols,
                        test.rows,
                        test.cols
                    );
                }
                let policy = policy(train.pixels(), 10);
                check_memory(config, Some(&policy), Some((train.len(), train.pixels())))?;
                Task::Mnist {
                    policy,
                    train: Arc::new(train),
                    test: Arc::new(test),
                }
            }
            other => anyhow::bail!("unknown task `{other}`"),
        })
    }

    /// The policy network of control and MNIST tasks.
    fn policy(&self) -> Option<&MlpConfig> {
        match self {
            Task::Benchmark(_) => None,
            Task::Control { policy, .. } | Task::Mnist { policy, .. } => Some(policy),
        }
    }

    /// Initial parameters (drawn on the host, so every device starts from the same bits),
    /// placed on `device`.
    fn params(&self, config: &TrainConfig, device: &Device) -> Result<Params> {
        let host = match self {
            Task::Benchmark(p) => p.params(&Device::Cpu)?,
            Task::Control { policy, .. } | Task::Mnist { policy, .. } => {
                policy.init(config.es.seed, &Device::Cpu)?
            }
        };
        Ok(host.to_device(device)?)
    }

    fn evaluator(&self, config: &TrainConfig) -> Result<Box<dyn TaskEvaluator>> {
        Ok(match self {
            Task::Benchmark(p) => {
                let p = p.clone();
                Box::new(FnEvaluator::new(move |v: &ParamView| {
                    p.fitness(v.values(0))
                }))
            }
            Task::Control { policy, head, env } => Box::new(RolloutEvaluator::new(
                policy.clone(),
                head.clone(),
                Box::new(*env),
                config.episodes,
                config.es.seed,
            )?),
            Task::Mnist {
                policy,
                train,
                test,
            } => Box::new(MnistTask {
                eval: MnistEvaluator::new(
                    policy.clone(),
                    train.clone(),
                    config.batch,
                    config.es.seed,
                )?,
                test: test.clone(),
            }),
        })
    }
}

/// The MNIST evaluator plus the test split for the final accuracy.
struct MnistTask {
    eval: MnistEvaluator,
    test: Arc<Dataset>,
}

impl Evaluator for MnistTask {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: std::ops::Range<usize>,
    ) -> eggroll_core::Result<Vec<f32>> {
        self.eval.evaluate_members(params, population, members)
    }
}

impl TaskEvaluator for MnistTask {
    fn final_score(
        &mut self,
        params: &Params,
        _: usize,
        _: u64,
    ) -> Result<(f64, Option<EvalReport>)> {
        Ok((accuracy(self.eval.policy(), params, &self.test)?, None))
    }
    fn score_name(&self) -> &'static str {
        "test_accuracy"
    }
}

/// An evaluator that can also score the unperturbed parameters.
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
    /// Environment steps taken (control tasks).
    fn env_steps(&self) -> u64 {
        0
    }
    /// Distributed runs: fail unless every worker holds the same parameters.
    fn check_lockstep(&mut self, _params: &Params, _generation: u64) -> Result<()> {
        Ok(())
    }
    /// Whether this process writes the run directory and prints results (rank 0).
    fn is_writer(&self) -> bool {
        true
    }
    /// Distributed runs: the member evaluations each rank computed (a collective call: every
    /// rank must make it).
    fn evals_by_rank(&mut self) -> Option<Vec<u64>> {
        None
    }
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
}

/// Write `policy.safetensors` (`final_params`) and `policy_best.safetensors` (the best evaluated
/// member), each atomically.
fn save_policies(
    dir: &Path,
    task: &str,
    net: Option<&MlpConfig>,
    final_params: &Params,
    trainer: &Trainer,
) -> Result<()> {
    rundir::save_policy(&dir.join(rundir::POLICY), final_params, task, net)?;
    if let Some(best) = trainer.best() {
        let best_params = trainer.params().from_host_like(&best.values)?;
        rundir::save_policy(&dir.join(rundir::POLICY_BEST), &best_params, task, net)?;
    }
    Ok(())
}

/// Set by Ctrl-C: the loop finishes the generation in progress, then saves and stops.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A link from a training run to a dashboard: the run sends its feed once it is set up.
pub struct GuiLink {
    /// Where the feed goes.
    pub tx: std::sync::mpsc::Sender<eggroll_gui::RunFeed>,
    /// Legend label of the run.
    pub label: String,
}

/// Run `eggroll train` (with `--gui`, training runs on a thread and the dashboard on this one).
pub fn run(args: &TrainArgs) -> Result<()> {
    if !args.gui {
        return run_with(args, None);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let link = GuiLink {
        tx,
        label: args.task.clone().unwrap_or_else(|| "resumed".into()),
    };
    let worker_args = args.clone();
    let worker = std::thread::spawn(move || run_with(&worker_args, Some(link)));
    // If the run fails before it starts, no feed arrives and its error is returned below.
    if let Ok(feed) = rx.recv() {
        let mut dash = eggroll_gui::Dashboard::new(vec![feed]);
        dash.checkpoint_dir = args.out.clone();
        if let Err(e) = eggroll_gui::run_native(dash) {
            eprintln!("dashboard: {e} (training continues without it)");
        }
    }
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the training thread panicked"))?
}

/// Run `eggroll train`, optionally feeding a dashboard.
pub fn run_with(args: &TrainArgs, gui: Option<GuiLink>) -> Result<()> {
    // Resolve the config: a fresh run from the task defaults, or the saved config of a run
    // being resumed (only --generations may change).
    let (config, dir, resuming) = match &args.resume {
        Some(dir) => {
            let saved = dir.join(rundir::CONFIG);
            let text = std::fs::read_to_string(&saved)
                .with_context(|| format!("--resume: reading {}", saved.display()))?;
            let table: toml::Table = text
                .parse()
                .with_context(|| format!("--resume: parsing {}", saved.display()))?;
            let task = table
                .get("task")
                .and_then(|t| t.as_str())
                .with_context(|| format!("{}: no `task`", saved.display()))?
                .to_string();
            if args.task.as_ref().is_some_and(|t| *t != task) {
                anyhow::bail!("--resume: {} is a `{task}` run", dir.display());
            }
            let config = resolve(&task, Some(&saved), &[], &resume_flags(args)?)?;
            (config, dir.clone(), true)
        }
        None => {
            let task = args
                .task
                .as_deref()
                .context("a task is required (or --resume DIR)")?;
            let config = resolve(task, args.config.as_deref(), &args.sets, &flags(args)?)?;
            let dir = args
                .out
                .clone()
                .unwrap_or_else(|| eggroll_run::default_dir(&config.task));
            (config, dir, false)
        }
    };
    let (threads, warning) = eggroll_run::limits::cap_threads(config.threads);
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    if threads > 0 {
        // A second run in this process (compare mode) shares the pool the first one built.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
    let device = crate::device::parse(args.device.as_deref())?;
    let task = Task::new(&config)?;
    let params = task.params(&config, &device)?;
    let strategy = build_strategy(&config, &params)?;
    let mut evaluator = task.evaluator(&config)?;
    match args.distributed.as_deref() {
        None => {}
        #[cfg(feature = "mpi")]
        Some("mpi") => {
            evaluator = Box::new(crate::distributed::Distributed {
                inner: evaluator,
                mpi: crate::distributed::Mpi::init()?,
                local_evals: 0,
            });
        }
        #[cfg(not(feature = "mpi"))]
        Some("mpi") => anyhow::bail!(
            "--distributed mpi: this eggroll was built without the `mpi` feature \
             (cargo build --release -p eggroll-cli --features mpi)"
        ),
        Some(other) => anyhow::bail!("--distributed `{other}`: the only backend is `mpi`"),
    }
    // Rank 0 alone writes the run directory and prints; every rank trains in lockstep.
    let writer = evaluator.is_writer();
    let mut trainer = Trainer::from_boxed(strategy, params).with_nonfinite(config.nonfinite);
    let fault_lr_at: Option<u64> = if writer {
        None
    } else {
        // Fault injection for the divergence test: a worker changes its learning rate.
        std::env::var("EGGROLL_FAULT_DIVERGE_AT")
            .ok()
            .and_then(|v| v.parse().ok())
    };

    // Rank 0 holds the run directory (an exclusive lock) for the whole run: a new run never
    // writes into a directory that holds anything (--force moves the old contents aside).
    let _run_dir = if !writer {
        None
    } else if resuming {
        Some(eggroll_run::RunDir::open(&dir).context("--resume")?)
    } else {
        let (held, moved) = eggroll_run::RunDir::create(&dir, args.force).context("--out")?;
        if let Some(old) = moved {
            eprintln!(
                "--force: the earlier contents of {} were moved to {}",
                dir.display(),
                old.display()
            );
        }
        Some(held)
    };
    let mut history = Vec::new();
    let mut best_eval: Option<(f64, Params)> = None;
    if resuming {
        trainer
            .load_checkpoint(&dir.join(rundir::CHECKPOINT))
            .with_context(|| format!("--resume {}", dir.display()))?;
        if trainer.generation() > config.generations {
            anyhow::bail!(
                "--resume {}: the run is already at generation {}; --generations {} would not \
                 continue it (give a total above {})",
                dir.display(),
                trainer.generation(),
                config.generations,
                trainer.generation()
            );
        }
        history = rundir::truncate_metrics(&dir, trainer.generation())?;
        best_eval = rundir::load_validation(&dir, trainer.params())?;
    } else if writer {
        let text = toml::to_string_pretty(&config)?;
        write_atomic(&dir.join(rundir::CONFIG), text.as_bytes())?;
    }
    if writer {
        let metrics_path = dir.join(rundir::METRICS);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .with_context(|| format!("opening {}", metrics_path.display()))?;
        if !resuming {
            file.set_len(0)?;
        }
        trainer.add_observer(MetricsFile {
            out: BufWriter::new(file),
            path: metrics_path,
        });
    }
    let (history_obs, history_rx) = ChannelObserver::new(1 << 20);
    trainer.add_observer(history_obs);
    if writer && !args.quiet && !args.json {
        trainer.add_observer(Progress::new(config.generations, trainer.generation()));
    }
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    // Dashboard: statistics out, commands in, snapshots of the mean policy out.
    let mut controller = None;
    let mut snapshots = None;
    if let Some(link) = gui {
        let g = trainer.generation();
        let names = trainer
            .params()
            .iter()
            .map(|p| p.name().to_string())
            .collect();
        let info = format!(
            "seed {} N={} r={} {}",
            config.es.seed,
            config.es.population_size,
            config.es.rank,
            trainer.strategy().name()
        );
        let (ch, mut feed) = eggroll_gui::live_channels(
            link.label,
            config.task.clone(),
            task.policy().cloned(),
            names,
            info,
            trainer.strategy().sigma(g),
            trainer.strategy().learning_rate(g),
        );
        if config.strategy == StrategyKind::Eggroll {
            feed.noise = Some(eggroll_gui::NoiseInfo {
                seed: config.es.seed,
                rank: config.es.rank,
                noise_reuse: config.es.noise_reuse,
            });
        }
        feed.shaping = (config.es.shaping, config.es.group_size);
        if let Task::Mnist { test, .. } = &task {
            feed.mnist = Some(test.clone());
        }
        trainer.add_observer(ch.observer);
        controller = Some(eggroll_core::Controller::new(ch.commands));
        snapshots = Some(ch.snapshots);
        let _ = link.tx.send(feed);
    }

    // The loop: generations until the budget, the target, "solved" or Ctrl-C.
    let start = Instant::now();
    // A budget beyond `Duration`'s range (about 5.8e11 years) is no limit at all.
    let budget = config
        .time_budget_s
        .and_then(|s| Duration::try_from_secs_f64(s).ok());
    let mut solved_early = None;
    let mut interrupted = false;
    let reason = loop {
        if trainer.generation() >= config.generations {
            break StopReason::Generations;
        }
        if budget.is_some_and(|b| start.elapsed() >= b) {
            break StopReason::TimeBudget;
        }
        if let Some(c) = &mut controller
            && c.before_generation(&mut trainer, &|| INTERRUPTED.load(Ordering::SeqCst))?
                == eggroll_core::Flow::Stop
        {
            break StopReason::Observer;
        }
        if fault_lr_at == Some(trainer.generation()) {
            let lr = trainer.strategy().learning_rate(trainer.generation());
            trainer.strategy_mut().set_learning_rate(lr * 2.0)?;
        }
        let (stats, control) = trainer.step(evaluator.as_mut())?;
        let g = trainer.generation();
        if let Some(s) = &snapshots {
            s.offer(eggroll_gui::Snapshot {
                generation: g,
                values: trainer.params().to_host()?,
            });
        }
        if config.lockstep_check_every > 0 && g.is_multiple_of(config.lockstep_check_every) {
            evaluator.check_lockstep(trainer.params(), g)?;
        }
        if config.eval_every > 0 && g.is_multiple_of(config.eval_every) {
            let (score, _) = evaluator.final_score(
                trainer.params(),
                config.eval_episodes,
                config.es.seed.wrapping_add(g),
            )?;
            if config.keep_best_eval && best_eval.as_ref().is_none_or(|(b, _)| score > *b) {
                if writer {
                    rundir::save_validation(&dir, score, trainer.params())?;
                }
                best_eval = Some((score, trainer.params().clone()));
            }
            if config.early_stop_at.is_some_and(|t| score >= t as f64) {
                solved_early = Some(g);
                break StopReason::Target;
            }
        }
        if writer && config.checkpoint_every > 0 && g.is_multiple_of(config.checkpoint_every) {
            trainer.save_checkpoint(&dir.join(rundir::CHECKPOINT))?;
        }
        if config.target_fitness.is_some_and(|t| stats.mean >= t) {
            break StopReason::Target;
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            interrupted = true;
            break StopReason::Observer;
        }
        if control == Control::Stop {
            break StopReason::Observer;
        }
    };
    let train_s = start.elapsed().as_secs_f64();
    let summary = trainer.finish(reason);
    history.extend(history_rx.try_iter());
    if writer {
        trainer.save_checkpoint(&dir.join(rundir::CHECKPOINT))?;
    }
    // The parameters to report: the last ones, or the best on validation episodes.
    let final_params = match (&best_eval, solved_early) {
        (Some((_, p)), None) => p.clone(),
        _ => trainer.params().clone(),
    };
    let net = task.policy();
    if interrupted {
        // Ctrl-C: the policy files too (atomically), then exit without the final evaluation.
        if writer {
            save_policies(&dir, &config.task, net, &final_params, &trainer)?;
            rundir::plot(&dir, &config.task, &history)?;
        }
        eprintln!(
            "interrupted after generation {}: checkpoint, metrics, plots and policy files saved in {} (continue with --resume)",
            trainer.generation(),
            dir.display()
        );
        std::process::exit(130);
    }
    // Final evaluation on fresh seeds (never those used for validation).
    let (final_score, report) = evaluator.final_score(
        &final_params,
        config.eval_episodes,
        config.es.seed ^ 0x5eed_f1a1,
    )?;
    let evals_by_rank = evaluator.evals_by_rank();
    if !writer {
        return Ok(());
    }
    save_policies(&dir, &config.task, net, &final_params, &trainer)?;
    // The plot last: a failure here (e.g. a full disk) is reported, the policies exist.
    rundir::plot(&dir, &config.task, &history)?;
    let solved = final_score >= config.solved_at as f64;
    let mut json = serde_json::json!({
        "task": config.task,
        "strategy": trainer.strategy().name(),
        "seed": config.es.seed,
        "generations": summary.generations,
        "population": config.es.population_size,
        "rank": config.es.rank,
        "wall_s": summary.wall_s,
        "train_s": train_s,
        "evals": summary.evals,
        "evals_per_s": summary.evals as f64 / summary.wall_s.max(1e-12),
        "best_fitness": summary.best_fitness,
        "final_fitness": final_score,
        "solved": solved,
        "stop_reason": summary.stop_reason,
        "device": crate::device::name(&device),
        "out": dir.display().to_string(),
    });
    json[evaluator.score_name()] = serde_json::json!(final_score);
    if let Some(counts) = evals_by_rank {
        json["evals_by_rank"] = serde_json::json!(counts);
    }
    if let Some(r) = &report {
        json["eval_mean"] = serde_json::json!(r.mean);
        json["eval_std"] = serde_json::json!(r.std);
        json["eval_episodes"] = serde_json::json!(r.episodes);
        json["env_steps"] = serde_json::json!(evaluator.env_steps());
        json["solved_at_generation"] = serde_json::json!(solved_early);
        json["best_validation"] = serde_json::json!(best_eval.as_ref().map(|(s, _)| *s));
    }
    if args.json {
        println!("{json}");
    } else {
        println!(
            "{}: {} generations, {} evals in {:.2}s; final {} {:.4} (best member {:.4}); solved: {}; run directory {}",
            config.task,
            summary.generations,
            summary.evals,
            train_s,
            if report.is_some() {
                "eval mean return"
            } else {
                evaluator.score_name()
            },
            final_score,
            summary.best_fitness,
            solved,
            dir.display()
        );
    }
    Ok(())
}
