//! `eggroll bbob eval|run|suite`: parse, call `eggroll-bbob` / `eggroll_run::bbob`, print.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use eggroll_bbob::experiment::{RunSpec, run};
use eggroll_core::StrategyKind;
use eggroll_core::minimize::Restarts;

/// The largest points file `bbob eval` reads.
const MAX_POINTS_FILE: u64 = 256 << 20;

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
    let problem = eggroll_bbob::Problem::new(function, instance, dim)?;
    let file =
        std::fs::File::open(points).with_context(|| format!("--points {}", points.display()))?;
    let mut text = String::new();
    file.take(MAX_POINTS_FILE + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("--points {}: not readable UTF-8 text", points.display()))?;
    if text.len() as u64 > MAX_POINTS_FILE {
        bail!(
            "--points {}: larger than {} MiB",
            points.display(),
            MAX_POINTS_FILE >> 20
        );
    }
    let pts: Vec<Vec<f64>> = serde_json::from_str(&text).with_context(|| {
        format!(
            "--points {}: expected a JSON list of points, each a list of {dim} numbers",
            points.display()
        )
    })?;
    let mut values = Vec::with_capacity(pts.len());
    for (k, x) in pts.iter().enumerate() {
        let v = problem
            .evaluate_checked(x)
            .with_context(|| format!("--points {}: point {k}", points.display()))?;
        if !v.is_finite() {
            // JSON has no inf or NaN: say so instead of printing `null`.
            bail!(
                "--points {}: point {k}: f = {v}{}, which JSON cannot represent",
                points.display(),
                if v.is_nan() {
                    " (the point holds a NaN)"
                } else {
                    " (the value overflows f64)"
                }
            );
        }
        values.push(v);
    }
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
    if !a.json {
        println!(
            "{} f{} i{} d{}: best f − f_opt = {:.3e} after {} evaluations ({}; {} restarts; {:.2} s)",
            r.strategy,
            r.function,
            r.instance,
            r.dim,
            r.best_f - r.f_opt,
            r.evals,
            match r.evals_to_target {
                Some(e) => format!("target reached after {e}"),
                None => format!("target not reached, stopped: {}", r.stop),
            },
            r.restarts,
            r.wall_s
        );
    }
    let j = serde_json::json!({
        "function": r.function,
        "instance": r.instance,
        "dim": r.dim,
        "evals_to_target": r.evals_to_target,
        "best_f": r.best_f,
        "f_opt": r.f_opt,
        "evals": r.evals,
        "strategy": r.strategy,
        "restarts": r.restarts,
        "stop": r.stop,
        "wall_s": r.wall_s,
    });
    if a.json {
        println!("{j}");
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
        match r {
            Ok(r) if !quiet => eprintln!(
                "f{:>2} i{} d{:>2}: {}",
                r.function,
                r.instance,
                r.dim,
                match r.evals_to_target {
                    Some(e) => format!("target after {e} evaluations"),
                    None => format!(
                        "Δf = {:.2e} after {} evaluations ({})",
                        r.best_f - r.f_opt,
                        r.evals,
                        r.stop
                    ),
                }
            ),
            Ok(_) => {}
            // A failed run is always reported, on its own line.
            Err(f) => eprintln!(
                "f{:>2} i{} d{:>2}: FAILED (seed {}): {}",
                f.function, f.instance, f.dim, f.seed, f.reason
            ),
        }
    };
    let cancel = crate::train::interrupt_flag();
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
    let dir = report.dir.display();
    let finished = report.results.len();
    if report.interrupted {
        eprintln!(
            "interrupted: {finished} of {} runs finished and are kept in {dir}/results.jsonl \
             ({} from before); `eggroll bbob suite --resume {dir}` runs the other {}",
            report.total,
            report.resumed,
            report.total - finished
        );
        return Ok(SuiteEnd::Interrupted);
    }
    let solved = report
        .results
        .iter()
        .filter(|r| r.evals_to_target.is_some())
        .count();
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "strategy": report.spec.method.name(),
                "runs": finished,
                "solved": solved,
                "failed": report.failures.len(),
                "resumed": report.resumed,
                "out": report.dir,
            })
        );
    } else {
        println!("{}", report.table);
        println!(
            "wrote {dir}/{{suite.json, results.jsonl, ert.md, ecdf.png, ecdf.svg{}}}",
            if report.failures.is_empty() {
                ""
            } else {
                ", failures.jsonl"
            }
        );
    }
    if !report.failures.is_empty() {
        bail!(
            "{} of {} runs failed (listed in {dir}/failures.jsonl, each with its reason); the \
             other runs' results are written; `--resume {dir}` tries the failed ones again",
            report.failures.len(),
            report.total
        );
    }
    Ok(SuiteEnd::Done)
}
