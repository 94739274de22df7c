//! `eggroll bbob suite`: many bbob runs into one directory — `results.jsonl` (one
//! [`RunResult`] per line), `ert.md` (the ERT table) and `ecdf.png`/`ecdf.svg` (the empirical
//! runtime distribution per dimension, as COCO draws it). The runs go in parallel on the rayon
//! pool; each has its own seed, so the results do not depend on the thread count.

use std::path::{Path, PathBuf};

use eggroll_bbob::experiment::{self, RunResult, RunSpec};
use eggroll_core::minimize::{Method, Restarts};
use rayon::prelude::*;

use crate::dir::RunDir;
use crate::error::{Error, Result};
use eggroll_core::checkpoint::write_atomic;

/// A suite's settings.
#[derive(Debug, Clone)]
pub struct SuiteSpec {
    /// The strategy.
    pub method: Method,
    /// Functions (1–24).
    pub functions: Vec<usize>,
    /// Dimensions.
    pub dims: Vec<usize>,
    /// Instances.
    pub instances: Vec<usize>,
    /// Evaluations per dimension per run.
    pub budget_per_dim: u64,
    /// Restart policy.
    pub restarts: Restarts,
    /// Base seed.
    pub seed: u64,
}

/// What a suite produced.
#[derive(Debug)]
pub struct SuiteReport {
    /// One result per (function, dimension, instance), in that order.
    pub results: Vec<RunResult>,
    /// The ERT table (Markdown).
    pub table: String,
    /// The output directory.
    pub dir: PathBuf,
}

/// Parse `1-5`, `1,3,7` or `2-4,10` into a sorted list without duplicates.
pub fn parse_list(what: &str, s: &str) -> Result<Vec<usize>> {
    let bad = |reason: String| Error::Input {
        what: what.to_string(),
        reason,
    };
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| bad(format!("`{t}` is not a non-negative integer (in `{s}`)")))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(bad(format!("range `{part}` is empty")));
                }
                if b - a > 10_000 {
                    return Err(bad(format!("range `{part}` is too long")));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    if out.is_empty() {
        return Err(bad("is empty".into()));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Run the suite into `out` (a new directory: a non-empty one is refused unless `force`, which
/// moves its contents aside first). Every problem is checked before the first run starts.
pub fn suite(
    spec: &SuiteSpec,
    out: &Path,
    force: bool,
    progress: impl Fn(&RunResult) + Sync,
) -> Result<SuiteReport> {
    let mut specs = Vec::new();
    for &function in &spec.functions {
        for &dim in &spec.dims {
            for &instance in &spec.instances {
                eggroll_bbob::Problem::new(function, instance, dim).map_err(|e| Error::Input {
                    what: "bbob suite".into(),
                    reason: e.to_string(),
                })?;
                specs.push(RunSpec {
                    method: spec.method,
                    function,
                    instance,
                    dim,
                    budget_per_dim: spec.budget_per_dim,
                    restarts: spec.restarts,
                    seed: spec
                        .seed
                        .wrapping_mul(1_000_003)
                        .wrapping_add((function * 1_000_000 + instance * 100 + dim) as u64),
                });
            }
        }
    }
    if spec.budget_per_dim == 0 {
        return Err(Error::Input {
            what: "--budget-per-dim".into(),
            reason: "is 0; must be ≥ 1".into(),
        });
    }
    let (run_dir, _moved) = RunDir::create(out, force)?;
    let results: Vec<RunResult> = specs
        .par_iter()
        .map(|s| {
            let r = experiment::run(s).map_err(|e| Error::Input {
                what: "bbob run".into(),
                reason: e.to_string(),
            })?;
            progress(&r);
            Ok(r)
        })
        .collect::<Result<_>>()?;
    let mut jsonl = String::new();
    for r in &results {
        jsonl.push_str(&serde_json::to_string(r).expect("plain struct"));
        jsonl.push('\n');
    }
    write_atomic(&run_dir.path().join("results.jsonl"), jsonl.as_bytes())?;
    let table = format!(
        "# bbob: {} ({} restarts), budget {}·d, instances {:?}\n\nERT/d to reach f_opt + 1e-8 \
         (successes/runs); ∞: no success.\n\n{}",
        spec.method.name(),
        match spec.restarts {
            Restarts::None => "no",
            Restarts::Ipop => "IPOP",
            Restarts::Bipop => "BIPOP",
        },
        spec.budget_per_dim,
        spec.instances,
        experiment::ert_table(&results, &spec.dims)
    );
    write_atomic(&run_dir.path().join("ert.md"), table.as_bytes())?;
    plot_ecdf(run_dir.path(), &results, spec)?;
    Ok(SuiteReport {
        results,
        table,
        dir: run_dir.path().to_path_buf(),
    })
}

/// `ecdf.png` and `ecdf.svg`: the fraction of (function, instance, target) pairs solved
/// against log10(evaluations / d), one line per dimension.
fn plot_ecdf(dir: &Path, results: &[RunResult], spec: &SuiteSpec) -> Result<()> {
    let x_max = (spec.budget_per_dim as f64).log10().max(1.0);
    let title = format!(
        "{} on bbob f{}–f{}: runtime distribution (51 targets 1e2…1e-8)",
        spec.method.name(),
        spec.functions.first().copied().unwrap_or(1),
        spec.functions.last().copied().unwrap_or(24)
    );
    crate::plot::LineChart {
        title: &title,
        x_desc: "log10(evaluations / dimension)",
        y_desc: "fraction of function-target pairs",
        x_range: (0.0, x_max),
        y_range: (0.0, 1.0),
        series: spec
            .dims
            .iter()
            .map(|&d| (format!("{d}-D"), experiment::ecdf(results, d, x_max)))
            .collect(),
    }
    .write(dir, "ecdf")
}
