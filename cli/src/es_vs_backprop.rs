//! `eggroll compare`: parse, call `eggroll_run::es_vs_backprop`, print.

use std::path::PathBuf;

use anyhow::{Result, bail};
use eggroll_run::es_vs_backprop::{self as evb, CompareSpec, METHODS, MODELS, Objective};

/// Arguments of `eggroll compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// The task (mnist).
    #[arg(long, default_value = "mnist")]
    task: String,
    /// Models: mlp, cnn, transformer (comma-separated).
    #[arg(long, default_value = "mlp,cnn,transformer")]
    models: String,
    /// Methods: eggroll, simplees, sgd, adam (comma-separated).
    #[arg(long, default_value = "eggroll,simplees,sgd,adam")]
    methods: String,
    /// Seconds of training per (model, method) pair (test evaluations excluded).
    #[arg(long, default_value_t = 120.0, allow_negative_numbers = true)]
    budget_s: f64,
    /// What the ES methods maximise: log_likelihood, or accuracy (the bandit reward, which
    /// backprop cannot differentiate; it keeps the cross-entropy).
    #[arg(long, default_value = "log_likelihood")]
    objective: String,
    /// Seed.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Test evaluations along each run.
    #[arg(long, default_value_t = 12, allow_negative_numbers = true)]
    eval_points: usize,
    /// MNIST directory (else EGGROLL_MNIST_DIR, else data/mnist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Output directory (default runs/compare-TIMESTAMP); a non-empty one is refused unless
    /// --force (which moves its contents aside).
    #[arg(long)]
    out: Option<PathBuf>,
    /// See --out.
    #[arg(long)]
    force: bool,
    /// Continue the comparison in this directory (interrupted by Ctrl-C, or with failed
    /// pairs): its settings come from its compare.json; finished pairs are kept.
    #[arg(long, conflicts_with_all = ["out", "force", "models", "methods", "budget_s",
        "objective", "seed", "eval_points", "data_dir"])]
    resume: Option<PathBuf>,
    /// Print all rows as one JSON line last.
    #[arg(long)]
    json: bool,
}

/// Whether the comparison ran to its end (`false`: interrupted, exit 130).
pub fn main(a: &CompareArgs) -> Result<bool> {
    if a.task != "mnist" {
        bail!("--task `{}`: compare runs on mnist", a.task);
    }
    let quiet = a.json;
    let progress = |r: &evb::Row| {
        if let Some(line) = evb::progress_line(r, quiet) {
            eprintln!("{line}");
        }
    };
    let cancel = eggroll_run::interrupt_flag();
    let report = match &a.resume {
        Some(dir) => evb::resume(dir, &cancel, progress)?,
        None => {
            let spec = CompareSpec {
                models: evb::parse_names("--models", &a.models, &MODELS)?,
                methods: evb::parse_names("--methods", &a.methods, &METHODS)?,
                budget_s: a.budget_s,
                seed: a.seed,
                objective: Objective::parse(&a.objective)?,
                data_dir: a.data_dir.clone(),
                eval_points: a.eval_points.clamp(1, 1000),
            };
            let out = a
                .out
                .clone()
                .unwrap_or_else(|| eggroll_run::default_dir("compare"));
            evb::run(&spec, &out, a.force, &cancel, progress)?
        }
    };
    if report.interrupted {
        eprintln!("{}", report.interrupted_message());
        return Ok(false);
    }
    if a.json {
        println!("{}", report.summary_json());
    } else {
        println!("{}", report.summary_text());
    }
    Ok(true)
}
