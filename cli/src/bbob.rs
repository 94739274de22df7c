//! `eggroll bbob eval|run|suite`: parse, call `eggroll-bbob` / `eggroll_run::bbob`, print.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use eggroll_bbob::experiment::{RunSpec, run};
use eggroll_core::StrategyKind;
use eggroll_core::minimize::Restarts;

#[derive(Subcommand)]
pub enum BbobCommand {
    /// Evaluate a bbob function at points: prints `{"values": [...]}`.
    Eval {
        /// Function number, 1–24.
        #[arg(long, allow_negative_numbers = true)]
        function: usize,
        /// Instance number (≥ 1).
        #[arg(long, allow_negative_numbers = true)]
        instance: usize,
        /// Dimension (2–44).
        #[arg(long, allow_negative_numbers = true)]
        dim: usize,
        /// A JSON file holding a list of points (each a list of `dim` numbers).
        #[arg(long)]
        points: PathBuf,
    },
    /// One run from the origin with σ₀ = 2 to the target f_opt + 1e-8.
    Run(RunArgs),
    /// Many runs: the ERT table and the runtime distribution (ECDF) plot.
    Suite(SuiteArgs),
}

/// Arguments of `bbob run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// cmaes | sep-cmaes | eggroll | simplees.
    #[arg(long, default_value = "cmaes")]
    strategy: String,
    /// Function number, 1–24.
    #[arg(long, allow_negative_numbers = true)]
    function: usize,
    /// Instance number (≥ 1).
    #[arg(long, allow_negative_numbers = true)]
    instance: usize,
    /// Dimension (2–44).
    #[arg(long, allow_negative_numbers = true)]
    dim: usize,
    /// Evaluation budget per dimension.
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true)]
    budget_per_dim: u64,
    /// none | ipop | bipop (CMA-ES strategies).
    #[arg(long, default_value = "none")]
    restarts: String,
    /// Seed.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

/// Arguments of `bbob suite`.
#[derive(clap::Args)]
pub struct SuiteArgs {
    /// cmaes | sep-cmaes | eggroll | simplees.
    #[arg(long, default_value = "cmaes")]
    strategy: String,
    /// Functions, e.g. `1-24` or `1,2,8`.
    #[arg(long, default_value = "1-24")]
    functions: String,
    /// Dimensions, e.g. `2,5,10,20`.
    #[arg(long, default_value = "2,5,10,20")]
    dims: String,
    /// Instances, e.g. `1-5`.
    #[arg(long, default_value = "1-5")]
    instances: String,
    /// Evaluation budget per dimension per run.
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true)]
    budget_per_dim: u64,
    /// none | ipop | bipop.
    #[arg(long, default_value = "none")]
    restarts: String,
    /// Base seed.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Output directory (default runs/bbob-STRATEGY-TIMESTAMP): suite.json, results.jsonl
    /// (each run as it finishes), failures.jsonl, ert.md, ecdf.png, ecdf.svg. A non-empty
    /// directory is refused unless --force (which moves its contents aside, deleting nothing).
    #[arg(long)]
    out: Option<PathBuf>,
    /// See --out.
    #[arg(long)]
    force: bool,
    /// Continue the suite in this directory (interrupted by Ctrl-C, or with failed runs): its
    /// settings come from its suite.json; finished runs are kept, the others run.
    #[arg(long, conflicts_with_all = ["out", "force", "strategy", "functions", "dims",
        "instances", "budget_per_dim", "restarts", "seed"])]
    resume: Option<PathBuf>,
    /// Print one JSON summary as the last line.
    #[arg(long)]
    json: bool,
}

pub fn main(cmd: BbobCommand) -> Result<()> {
    match cmd {
        BbobCommand::Eval {
            function,
            instance,
            dim,
            points,
        } => eval(function, instance, dim, &points),
        BbobCommand::Run(a) => run_one(&a),
        BbobCommand::Suite(a) => suite(&a).map(|_| ()),
    }
}

fn eval(function: usize, instance: usize, dim: usize, points: &Path) -> Result<()> {
    let values = eggroll_run::bbob::eval_points(function, instance, dim, points)?;
    println!("{}", serde_json::json!({ "values": values }));
    Ok(())
}

fn run_one(a: &RunArgs) -> Result<()> {
    let spec = RunSpec {
        method: StrategyKind::parse(&a.strategy, "strategy")?,
        function: a.function,
        instance: a.instance,
        dim: a.dim,
        budget_per_dim: a.budget_per_dim,
        restarts: Restarts::parse(&a.restarts)?,
        seed: a.seed,
    };
    let r = run(&spec)?;
    if a.json {
        println!("{}", eggroll_run::bbob::run_json(&r));
    } else {
        println!("{}", eggroll_run::bbob::run_line(&r));
    }
    Ok(())
}

/// What `bbob suite` ended with, for the exit code.
pub enum SuiteEnd {
    /// Every run finished.
    Done,
    /// Ctrl-C/SIGTERM: the finished runs are kept (exit 130).
    Interrupted,
}

pub fn suite(a: &SuiteArgs) -> Result<SuiteEnd> {
    use eggroll_run::bbob::{SuiteSpec, parse_list};
    let quiet = a.json;
    let progress = |r: std::result::Result<
        &eggroll_bbob::experiment::RunResult,
        &eggroll_run::bbob::RunFailure,
    >| {
        if let Some(line) = eggroll_run::bbob::progress_line(r, quiet) {
            eprintln!("{line}");
        }
    };
    let cancel = eggroll_run::interrupt_flag();
    let report = match &a.resume {
        Some(dir) => eggroll_run::bbob::resume(dir, &cancel, progress)?,
        None => {
            let spec = SuiteSpec {
                method: StrategyKind::parse(&a.strategy, "strategy")?,
                functions: parse_list("--functions", &a.functions)?,
                dims: parse_list("--dims", &a.dims)?,
                instances: parse_list("--instances", &a.instances)?,
                budget_per_dim: a.budget_per_dim,
                restarts: Restarts::parse(&a.restarts)?,
                seed: a.seed,
            };
            let out = a.out.clone().unwrap_or_else(|| {
                eggroll_run::default_dir(&format!("bbob-{}", spec.method.name()))
            });
            eggroll_run::bbob::suite(&spec, &out, a.force, &cancel, progress)?
        }
    };
    if report.interrupted {
        eprintln!("{}", report.interrupted_message());
        return Ok(SuiteEnd::Interrupted);
    }
    if a.json {
        println!("{}", report.summary_json());
    } else {
        println!("{}", report.summary_text());
    }
    if let Some(msg) = report.failures_message() {
        anyhow::bail!("{msg}");
    }
    Ok(SuiteEnd::Done)
}
