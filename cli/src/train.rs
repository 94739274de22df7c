//! `eggroll train`: flags → a [`Start`] for the run layer's [`Session`], which does the work;
//! this module only wires the dashboard and Ctrl-C and prints the report.

use anyhow::{Context, Result};
use eggroll_run::session::WrapEvaluator;
use eggroll_run::{Options, Outcome, Session, Start};

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
fn overrides(a: &TrainArgs) -> Result<Vec<(&'static str, toml::Value)>> {
    let flags = eggroll_run::flags::Flags {
        seed: a.seed,
        generations: a.generations,
        population: a.population,
        rank: a.rank,
        sigma: a.sigma,
        lr: a.lr,
        threads: a.threads,
        episodes: a.episodes,
        batch: a.batch,
        model: a.model.clone(),
        data_dir: a.data_dir.clone(),
        time_budget: a.time_budget,
    };
    Ok(flags.overrides()?)
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
        device: eggroll_policies::device::open(args.device.as_deref())
            .map_err(anyhow::Error::msg)?,
        progress: !args.quiet && !args.json,
        interrupt: eggroll_run::interrupt_flag(),
        wrap_evaluator: distributed(args)?,
    };
    let mut session = Session::start(start, options)?;
    for notice in session.notices() {
        eprintln!("{notice}");
    }
    if let Some(link) = gui {
        eggroll_gui::launch::attach(&mut session, link.label, &link.tx);
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
