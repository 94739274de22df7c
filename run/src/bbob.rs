//! `eggroll bbob suite`: many bbob runs into one directory — `suite.json` (the settings),
//! `results.jsonl` (one [`RunResult`] per line, appended as each run finishes),
//! `failures.jsonl` (one [`RunFailure`] per run that failed), `ert.md` (the ERT table) and
//! `ecdf.png`/`ecdf.svg` (the empirical runtime distribution per dimension, as COCO draws
//! it). The runs go in parallel on the rayon pool; each has its own seed, so the results do
//! not depend on the thread count, and a suite interrupted and resumed ([`resume`]) gives the
//! results an uninterrupted one gives.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use eggroll_bbob::ExperimentError;
use eggroll_bbob::experiment::{self, RunResult, RunSpec};
use eggroll_core::StrategyKind;
use eggroll_core::minimize::Restarts;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dir::RunDir;
use crate::error::{Error, Result, io};
use eggroll_core::checkpoint::write_atomic;

/// The suite's settings, saved as `suite.json` in its directory.
pub const SUITE_FILE: &str = "suite.json";
/// The finished runs, one JSON [`RunResult`] per line.
pub const RESULTS_FILE: &str = "results.jsonl";
/// The runs that failed, one JSON [`RunFailure`] per line.
pub const FAILURES_FILE: &str = "failures.jsonl";

/// A suite's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteSpec {
    /// The strategy (its canonical name in `suite.json`: `cmaes`, `sep-cmaes`, …).
    #[serde(with = "eggroll_core::strategy::by_name")]
    pub method: StrategyKind,
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

impl SuiteSpec {
    /// Every run of the suite in (function, dimension, instance) order, each checked.
    pub fn runs(&self) -> Result<Vec<RunSpec>> {
        if self.budget_per_dim == 0 {
            return Err(Error::Input {
                what: "--budget-per-dim".into(),
                reason: "is 0; must be ≥ 1".into(),
            });
        }
        if self.restarts != Restarts::None && !self.method.is_cma() {
            return Err(Error::Input {
                what: "--restarts".into(),
                reason: format!(
                    "IPOP/BIPOP restarts are for the CMA-ES strategies (cmaes, sep-cmaes), not \
                     `{}`",
                    self.method.name()
                ),
            });
        }
        let mut specs = Vec::new();
        for &function in &self.functions {
            for &dim in &self.dims {
                for &instance in &self.instances {
                    eggroll_bbob::Problem::new(function, instance, dim).map_err(|e| {
                        Error::Input {
                            what: "bbob suite".into(),
                            reason: e.to_string(),
                        }
                    })?;
                    specs.push(RunSpec {
                        method: self.method,
                        function,
                        instance,
                        dim,
                        budget_per_dim: self.budget_per_dim,
                        restarts: self.restarts,
                        seed: self
                            .seed
                            .wrapping_mul(1_000_003)
                            .wrapping_add((function * 1_000_000 + instance * 100 + dim) as u64),
                    });
                }
            }
        }
        Ok(specs)
    }
}

/// A run of the suite that failed: which one and why (the suite goes on without it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    /// Function.
    pub function: usize,
    /// Instance.
    pub instance: usize,
    /// Dimension.
    pub dim: usize,
    /// The run's seed.
    pub seed: u64,
    /// What went wrong.
    pub reason: String,
}

/// What a suite produced.
#[derive(Debug)]
pub struct SuiteReport {
    /// The settings.
    pub spec: SuiteSpec,
    /// One result per finished (function, dimension, instance), in that order.
    pub results: Vec<RunResult>,
    /// The runs that failed.
    pub failures: Vec<RunFailure>,
    /// How many results were already in the directory (resumed suites).
    pub resumed: usize,
    /// Runs of the suite in all.
    pub total: usize,
    /// Ctrl-C/SIGTERM stopped the suite: the finished runs are in `results.jsonl`, the table
    /// and plots are not written, and [`resume`] runs the rest.
    pub interrupted: bool,
    /// The ERT table (Markdown; empty when interrupted).
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
/// Each finished run is appended to `results.jsonl` at once; a run that fails is reported to
/// `progress` and in `failures.jsonl` and the others go on; raising `cancel` (Ctrl-C) stops
/// the runs in flight and keeps the finished ones for [`resume`].
pub fn suite(
    spec: &SuiteSpec,
    out: &Path,
    force: bool,
    cancel: &AtomicBool,
    progress: impl Fn(std::result::Result<&RunResult, &RunFailure>) + Sync,
) -> Result<SuiteReport> {
    let runs = spec.runs()?;
    let (run_dir, _moved) = RunDir::create(out, force)?;
    run_dir.write_settings(SUITE_FILE, spec)?;
    execute(
        spec,
        runs,
        run_dir,
        Vec::new(),
        cancel,
        progress,
        experiment::run_cancellable,
    )
}

/// Continue the suite in `dir` (written by [`suite`], perhaps interrupted): its settings come
/// from `suite.json`, the runs already in `results.jsonl` are kept and the others run (runs
/// that failed are tried again).
pub fn resume(
    dir: &Path,
    cancel: &AtomicBool,
    progress: impl Fn(std::result::Result<&RunResult, &RunFailure>) + Sync,
) -> Result<SuiteReport> {
    let run_dir = RunDir::open(dir)?;
    let spec: SuiteSpec = run_dir.read_settings(SUITE_FILE, "bbob suite")?;
    let runs = spec.runs()?;
    let done = read_results(&run_dir.join(RESULTS_FILE), &runs)?;
    let todo: Vec<RunSpec> = runs
        .into_iter()
        .filter(|r| !done.iter().any(|d| same_run(d, r)))
        .collect();
    execute(
        &spec,
        todo,
        run_dir,
        done,
        cancel,
        progress,
        experiment::run_cancellable,
    )
}

fn same_run(r: &RunResult, s: &RunSpec) -> bool {
    (r.function, r.instance, r.dim) == (s.function, s.instance, s.dim)
}

/// The results already in `path` that belong to `runs`. A torn last line (a crash while
/// appending) is dropped and the file rewritten without it; a bad line before the last is
/// [`Error::Corrupt`] and the file is left as it was.
fn read_results(path: &Path, runs: &[RunSpec]) -> Result<Vec<RunResult>> {
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<RunResult> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<RunResult>(line) {
            Ok(r) => {
                if runs.iter().any(|s| same_run(&r, s)) && !out.iter().any(|o| o == &r) {
                    out.push(r);
                }
            }
            Err(_) if i + 1 == lines.len() => {
                let kept: String = lines[..i].iter().map(|l| format!("{l}\n")).collect();
                write_atomic(path, kept.as_bytes())?;
            }
            Err(e) => {
                return Err(Error::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("line {} is not a bbob run result: {e}", i + 1),
                });
            }
        }
    }
    Ok(out)
}

/// Run `todo` through `runner` into `run_dir` (which already holds `done`).
fn execute(
    spec: &SuiteSpec,
    todo: Vec<RunSpec>,
    run_dir: RunDir,
    done: Vec<RunResult>,
    cancel: &AtomicBool,
    progress: impl Fn(std::result::Result<&RunResult, &RunFailure>) + Sync,
    runner: impl Fn(&RunSpec, &AtomicBool) -> std::result::Result<RunResult, ExperimentError> + Sync,
) -> Result<SuiteReport> {
    let resumed = done.len();
    let total = resumed + todo.len();
    let results_path = run_dir.join(RESULTS_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results_path)
        .map_err(io(&results_path))?;
    let sink = Mutex::new((file, done, Vec::<RunFailure>::new(), None::<Error>));
    todo.par_iter().for_each(|s| {
        if cancel.load(Ordering::SeqCst) {
            return;
        }
        match runner(s, cancel) {
            Ok(r) => {
                let line = serde_json::to_string(&r).expect("plain struct") + "\n";
                let mut g = sink.lock().expect("not poisoned");
                if let Err(e) = g.0.write_all(line.as_bytes()).and_then(|()| g.0.flush()) {
                    // Nothing more can be kept: stop the suite with this error.
                    g.3.get_or_insert(io(&results_path)(e));
                    cancel.store(true, Ordering::SeqCst);
                    return;
                }
                progress(Ok(&r));
                g.1.push(r);
            }
            Err(ExperimentError::Interrupted) => {}
            Err(e) => {
                let f = RunFailure {
                    function: s.function,
                    instance: s.instance,
                    dim: s.dim,
                    seed: s.seed,
                    reason: e.to_string(),
                };
                progress(Err(&f));
                sink.lock().expect("not poisoned").2.push(f);
            }
        }
    });
    let (file, mut results, mut failures, error) = sink.into_inner().expect("not poisoned");
    drop(file);
    if let Some(e) = error {
        return Err(e);
    }
    let order = |f: usize, d: usize, i: usize| {
        (
            spec.functions.iter().position(|&x| x == f),
            spec.dims.iter().position(|&x| x == d),
            spec.instances.iter().position(|&x| x == i),
        )
    };
    results.sort_by_key(|r| order(r.function, r.dim, r.instance));
    failures.sort_by_key(|r| order(r.function, r.dim, r.instance));
    let interrupted = results.len() + failures.len() < total;
    let dir = run_dir.path().to_path_buf();
    let mut report = SuiteReport {
        spec: spec.clone(),
        results,
        failures,
        resumed,
        total,
        interrupted,
        table: String::new(),
        dir,
    };
    let failures_path = run_dir.join(FAILURES_FILE);
    let mut lines = String::new();
    for f in &report.failures {
        lines.push_str(&(serde_json::to_string(f).expect("plain struct") + "\n"));
    }
    if !lines.is_empty() {
        write_atomic(&failures_path, lines.as_bytes())?;
    } else if failures_path.exists() {
        std::fs::remove_file(&failures_path).map_err(io(&failures_path))?;
    }
    if interrupted {
        return Ok(report);
    }
    // Complete: results.jsonl in suite order, then the table and the plot.
    let mut jsonl = String::new();
    for r in &report.results {
        jsonl.push_str(&serde_json::to_string(r).expect("plain struct"));
        jsonl.push('\n');
    }
    write_atomic(&results_path, jsonl.as_bytes())?;
    report.table = format!(
        "# bbob: {} ({} restarts), budget {}·d, instances {:?}\n\nERT/d to reach f_opt + 1e-8 \
         (successes/runs); ∞: no success.{}\n\n{}",
        spec.method.name(),
        match spec.restarts {
            Restarts::None => "no",
            Restarts::Ipop => "IPOP",
            Restarts::Bipop => "BIPOP",
        },
        spec.budget_per_dim,
        spec.instances,
        if report.failures.is_empty() {
            String::new()
        } else {
            format!(
                " {} run(s) failed and are not counted (see {FAILURES_FILE}).",
                report.failures.len()
            )
        },
        experiment::ert_table(&report.results, &spec.dims)
    );
    write_atomic(&run_dir.join("ert.md"), report.table.as_bytes())?;
    plot_ecdf(run_dir.path(), &report.results, spec)?;
    Ok(report)
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

/// The largest points file [`eval_points`] reads.
pub const MAX_POINTS_FILE: u64 = 256 << 20;

/// `bbob eval`: the values of function `function`, instance `instance`, dimension `dim` at
/// the points of a JSON file (a list of points, each a list of `dim` numbers). Errors name
/// `--points PATH` and the point; a value JSON cannot hold (inf, NaN) is an error too.
pub fn eval_points(
    function: usize,
    instance: usize,
    dim: usize,
    points: &Path,
) -> Result<Vec<f64>> {
    use std::io::Read;
    let bad = |reason: String| Error::Input {
        what: format!("--points {}", points.display()),
        reason,
    };
    let problem =
        eggroll_bbob::Problem::new(function, instance, dim).map_err(|e| Error::Input {
            what: "bbob eval".into(),
            reason: e.to_string(),
        })?;
    let file = std::fs::File::open(points).map_err(|e| bad(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_POINTS_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| bad(format!("not readable UTF-8 text: {e}")))?;
    if text.len() as u64 > MAX_POINTS_FILE {
        return Err(bad(format!("larger than {} MiB", MAX_POINTS_FILE >> 20)));
    }
    let pts: Vec<Vec<f64>> = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "expected a JSON list of points, each a list of {dim} numbers: {e}"
        ))
    })?;
    let mut values = Vec::with_capacity(pts.len());
    for (k, x) in pts.iter().enumerate() {
        let v = problem
            .evaluate_checked(x)
            .map_err(|e| bad(format!("point {k}: {e}")))?;
        if !v.is_finite() {
            // JSON has no inf or NaN: say so instead of printing `null`.
            let why = if v.is_nan() {
                " (the point holds a NaN)"
            } else {
                " (the value overflows f64)"
            };
            return Err(bad(format!(
                "point {k}: f = {v}{why}, which JSON cannot represent"
            )));
        }
        values.push(v);
    }
    Ok(values)
}

/// `bbob run`'s line for people: strategy, function, gap to the optimum, evaluations.
pub fn run_line(r: &RunResult) -> String {
    format!(
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
    )
}

/// `bbob run --json`'s object.
pub fn run_json(r: &RunResult) -> serde_json::Value {
    serde_json::json!({
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
    })
}

/// One progress line of a suite: a finished run (`None` when `quiet`) or a failed one
/// (always).
pub fn progress_line(
    r: std::result::Result<&RunResult, &RunFailure>,
    quiet: bool,
) -> Option<String> {
    match r {
        Ok(r) if !quiet => Some(format!(
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
        )),
        Ok(_) => None,
        Err(f) => Some(format!(
            "f{:>2} i{} d{:>2}: FAILED (seed {}): {}",
            f.function, f.instance, f.dim, f.seed, f.reason
        )),
    }
}

impl SuiteReport {
    /// What to tell after Ctrl-C: what is kept and how to go on.
    pub fn interrupted_message(&self) -> String {
        let dir = self.dir.display();
        let finished = self.results.len();
        format!(
            "interrupted: {finished} of {} runs finished and are kept in {dir}/results.jsonl \
             ({} from before); `eggroll bbob suite --resume {dir}` runs the other {}",
            self.total,
            self.resumed,
            self.total - finished
        )
    }

    /// `bbob suite --json`'s summary.
    pub fn summary_json(&self) -> serde_json::Value {
        let solved = self
            .results
            .iter()
            .filter(|r| r.evals_to_target.is_some())
            .count();
        serde_json::json!({
            "strategy": self.spec.method.name(),
            "runs": self.results.len(),
            "solved": solved,
            "failed": self.failures.len(),
            "resumed": self.resumed,
            "out": self.dir,
        })
    }

    /// The table and the files written, for people.
    pub fn summary_text(&self) -> String {
        format!(
            "{}\nwrote {}/{{suite.json, results.jsonl, ert.md, ecdf.png, ecdf.svg{}}}",
            self.table,
            self.dir.display(),
            if self.failures.is_empty() {
                ""
            } else {
                ", failures.jsonl"
            }
        )
    }

    /// What to say when runs failed (`None` when every run finished).
    pub fn failures_message(&self) -> Option<String> {
        (!self.failures.is_empty()).then(|| {
            let dir = self.dir.display();
            format!(
                "{} of {} runs failed (listed in {dir}/failures.jsonl, each with its reason);                  the other runs' results are written; `--resume {dir}` tries the failed ones                  again",
                self.failures.len(),
                self.total
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SuiteSpec {
        SuiteSpec {
            method: StrategyKind::Cmaes,
            functions: vec![1, 2],
            dims: vec![2],
            instances: vec![1, 2],
            budget_per_dim: 500,
            restarts: Restarts::None,
            seed: 0,
        }
    }

    /// A run that fails is reported (to `progress` and in `failures.jsonl`) and the others
    /// still finish; the table says it is missing; a resume tries it again.
    #[test]
    fn a_failing_run_is_reported_on_its_own_and_the_suite_goes_on() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("s");
        let spec = spec();
        let (run_dir, _) = RunDir::create(&out, false).unwrap();
        run_dir.write_settings(SUITE_FILE, &spec).unwrap();
        let reported = Mutex::new(Vec::new());
        let report = execute(
            &spec,
            spec.runs().unwrap(),
            run_dir,
            Vec::new(),
            &AtomicBool::new(false),
            |r| {
                if let Err(f) = r {
                    reported.lock().unwrap().push(f.clone());
                }
            },
            |s, c| {
                if (s.function, s.instance) == (2, 1) {
                    Err(ExperimentError::Arg {
                        name: "test",
                        reason: "injected failure".into(),
                    })
                } else {
                    experiment::run_cancellable(s, c)
                }
            },
        )
        .unwrap();
        assert!(!report.interrupted);
        assert_eq!((report.results.len(), report.failures.len()), (3, 1));
        let f = &reported.lock().unwrap()[0];
        assert_eq!((f.function, f.instance, f.dim), (2, 1, 2));
        assert!(f.reason.contains("injected failure"), "{f:?}");
        let failures = std::fs::read_to_string(out.join(FAILURES_FILE)).unwrap();
        assert!(failures.contains("injected failure"), "{failures}");
        assert!(report.table.contains("1 run(s) failed"), "{}", report.table);
        let results = std::fs::read_to_string(out.join(RESULTS_FILE)).unwrap();
        assert_eq!(results.lines().count(), 3);
        // A resume keeps the three and runs the failed one (which now succeeds).
        let report = resume(&out, &AtomicBool::new(false), |_| {}).unwrap();
        assert_eq!((report.resumed, report.results.len()), (3, 4));
        assert!(report.failures.is_empty() && !out.join(FAILURES_FILE).exists());
    }

    /// A torn last line (a crash while appending) is dropped on resume; a bad line before it
    /// is an error naming the file and line, and the file is left as it was.
    #[test]
    fn resume_drops_a_torn_last_line_and_refuses_a_corrupt_one() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("s");
        let cancel = AtomicBool::new(false);
        let full = suite(&spec(), &out, false, &cancel, |_| {}).unwrap();
        let path = out.join(RESULTS_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n{{\"funct", lines[0], lines[1])).unwrap();
        let report = resume(&out, &cancel, |_| {}).unwrap();
        assert_eq!((report.resumed, report.results.len()), (2, 4));
        let key = |r: &RunResult| (r.function, r.instance, r.dim, r.evals, r.best_f.to_bits());
        assert_eq!(
            report.results.iter().map(key).collect::<Vec<_>>(),
            full.results.iter().map(key).collect::<Vec<_>>(),
            "a resumed suite gives the uninterrupted results"
        );
        let bad = format!("{}\nnot json\n{}\n", lines[0], lines[1]);
        std::fs::write(&path, &bad).unwrap();
        let e = resume(&out, &cancel, |_| {}).unwrap_err().to_string();
        assert!(e.contains("results.jsonl") && e.contains("line 2"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
        // Not a suite directory.
        let e = resume(tmp.path(), &cancel, |_| {}).unwrap_err().to_string();
        assert!(e.contains("suite.json"), "{e}");
    }

    /// A raised `cancel` keeps what finished and writes no table.
    #[test]
    fn a_cancelled_suite_keeps_its_finished_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("s");
        let cancel = AtomicBool::new(true);
        let report = suite(&spec(), &out, false, &cancel, |_| {}).unwrap();
        assert!(report.interrupted && report.results.is_empty());
        assert!(!out.join("ert.md").exists() && out.join(SUITE_FILE).exists());
        let report = resume(&out, &AtomicBool::new(false), |_| {}).unwrap();
        assert!(!report.interrupted && report.results.len() == 4);
        assert!(out.join("ert.md").exists());
    }
}
