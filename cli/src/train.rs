//! `eggroll train`: flags → a [`Start`] for the run layer's [`Session`], which does the work;
//! this module only wires the dashboard and Ctrl-C and prints the report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use eggroll_run::session::WrapEvaluator;
use eggroll_run::{Options, Outcome, Session, Start, StrategyKind};

use crate::TrainArgs;

/// How a `train` command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Finished (or a worker rank).
    Finished,
    /// Interrupted by Ctrl-C or SIGTERM after saving: exit code 130.
    Interrupted,
}

/// The typed config overrides given as flags.
fn overrides(args: &TrainArgs) -> Result<Vec<(&'static str, toml::Value)>> {
    let mut f = Vec::new();
    // Values beyond i64 saturate (and are then refused by validation or the memory check).
    let int = |v: u64| toml::Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));
    if let Some(v) = args.seed {
        // TOML integers are signed 64-bit: larger seeds cannot be stored in config.toml.
        anyhow::ensure!(
            v <= i64::MAX as u64,
            "--seed {v}: must be ≤ {} (a config file holds signed 64-bit integers)",
            i64::MAX
        );
        f.push(("es.seed", int(v)));
    }
    let counts = [
        ("stop.generations", args.generations),
        ("es.population_size", args.population.map(|v| v as u64)),
        ("es.rank", args.rank.map(|v| v as u64)),
        ("threads", args.threads.map(|v| v as u64)),
        ("evaluation.episodes", args.episodes.map(|v| v as u64)),
        ("data.batch", args.batch.map(|v| v as u64)),
    ];
    for (key, v) in counts {
        if let Some(v) = v {
            f.push((key, int(v)));
        }
    }
    if let Some(v) = args.sigma {
        f.push(("es.sigma", toml::Value::Float(v as f64)));
    }
    if let Some(v) = args.lr {
        f.push(("es.learning_rate", toml::Value::Float(v as f64)));
    }
    if let Some(v) = &args.model {
        f.push(("policy.model", toml::Value::String(v.clone())));
    }
    if let Some(v) = &args.data_dir {
        f.push(("data.dir", toml::Value::String(v.display().to_string())));
    }
    if let Some(v) = args.time_budget {
        f.push(("stop.time_budget_s", toml::Value::Float(v)));
    }
    Ok(f)
}

/// Set by Ctrl-C and SIGTERM (one handler per process; every session watches it).
pub(crate) fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
        flag
    })
    .clone()
}

/// A link from a training run to a dashboard: the run sends its feed once it is set up.
pub struct GuiLink {
    /// Where the feed goes.
    pub tx: std::sync::mpsc::Sender<eggroll_gui::RunFeed>,
    /// Legend label of the run.
    pub label: String,
}

/// Run `eggroll train` (with `--gui`, training runs on a thread and the dashboard on this one).
pub fn run(args: &TrainArgs) -> Result<Done> {
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

/// The evaluator wrapper of `--distributed`.
fn distributed(args: &TrainArgs) -> Result<Option<WrapEvaluator>> {
    match args.distributed.as_deref() {
        None => Ok(None),
        #[cfg(feature = "mpi")]
        Some("mpi") => Ok(Some(Box::new(|inner| {
            Ok(Box::new(eggroll_run::distributed::Distributed {
                inner,
                mpi: eggroll_run::distributed::Mpi::init()?,
                local_evals: 0,
            }) as Box<dyn eggroll_run::task::TaskEvaluator>)
        }))),
        #[cfg(not(feature = "mpi"))]
        Some("mpi") => anyhow::bail!(
            "--distributed mpi: this eggroll was built without the `mpi` feature \
             (cargo build --release -p eggroll-cli --features mpi)"
        ),
        Some(other) => anyhow::bail!("--distributed `{other}`: the only backend is `mpi`"),
    }
}

/// Run `eggroll train`, optionally feeding a dashboard.
pub fn run_with(args: &TrainArgs, gui: Option<GuiLink>) -> Result<Done> {
    let start = match &args.resume {
        Some(dir) => Start::Resume {
            dir: dir.clone(),
            task: args.task.clone(),
            overrides: overrides(args)?,
        },
        None => Start::New {
            task: args
                .task
                .clone()
                .context("a task is required (or --resume DIR)")?,
            file: args.config.clone(),
            sets: args.sets.clone(),
            overrides: overrides(args)?,
            out: args.out.clone(),
            force: args.force,
        },
    };
    let options = Options {
        device: crate::device::parse(args.device.as_deref())?,
        progress: !args.quiet && !args.json,
        interrupt: interrupt_flag(),
        wrap_evaluator: distributed(args)?,
    };
    let mut session = Session::start(start, options)?;
    for notice in session.notices() {
        eprintln!("{notice}");
    }
    if let Some(link) = gui {
        attach_dashboard(&mut session, link);
    }
    match session.run()? {
        Outcome::Finished(report) => {
            if args.json {
                println!("{}", report.json);
            } else {
                println!("{}", report.summary_line());
            }
            Ok(Done::Finished)
        }
        Outcome::Interrupted { generation, dir } => {
            eprintln!(
                "interrupted after generation {generation}: checkpoint, metrics, plots and policy \
                 files saved in {} (continue with --resume)",
                dir.display()
            );
            Ok(Done::Interrupted)
        }
        Outcome::Worker => Ok(Done::Finished),
    }
}

/// Dashboard: statistics out, commands in, snapshots of the mean policy out.
fn attach_dashboard(session: &mut Session, link: GuiLink) {
    let config = session.config().clone();
    let trainer = session.trainer();
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
        session.policy().cloned(),
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
    feed.mnist = session.images().cloned();
    feed.net = session
        .net()
        .and_then(|n| n.build().ok())
        .map(std::sync::Arc::new);
    ch.connect(session);
    let _ = link.tx.send(feed);
}
