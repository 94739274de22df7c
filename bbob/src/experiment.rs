//! Benchmarking on bbob as COCO does it: each run starts at the origin with σ₀ = 2, targets
//! `f_opt + 1e-8`, and records when each of COCO's 51 targets `f_opt + 10^{2 … −8}` was first
//! reached; a suite aggregates runs into the expected running time (ERT) per function and
//! dimension and the empirical runtime distribution (ECDF over (function, instance, target)).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use eggroll_core::StrategyKind;
use eggroll_core::minimize::{MinimizeOptions, Restarts, minimize};
use serde::{Deserialize, Serialize};

use crate::Problem;

/// The final target precision Δf = f − f_opt.
pub const FINAL_TARGET: f64 = 1e-8;

/// COCO's 51 target precisions `10^{2, 1.8, …, −8}`.
pub fn targets() -> Vec<f64> {
    (0..=50).map(|k| 10f64.powf(2.0 - 0.2 * k as f64)).collect()
}

/// One run's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The strategy (its canonical name in files: `cmaes`, `sep-cmaes`, …).
    #[serde(with = "eggroll_core::strategy::by_name")]
    pub method: StrategyKind,
    /// Function 1–24.
    pub function: usize,
    /// Instance ≥ 1.
    pub instance: usize,
    /// Dimension.
    pub dim: usize,
    /// Budget: evaluations per dimension.
    pub budget_per_dim: u64,
    /// Restart policy.
    pub restarts: Restarts,
    /// Seed.
    pub seed: u64,
}

/// One run's outcome; `evals_to_target` is `null` when `f_opt + 1e-8` was not reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Function.
    pub function: usize,
    /// Instance.
    pub instance: usize,
    /// Dimension.
    pub dim: usize,
    /// Evaluations until `f ≤ f_opt + 1e-8`, if reached.
    pub evals_to_target: Option<u64>,
    /// The best value found.
    pub best_f: f64,
    /// The instance's optimal value.
    pub f_opt: f64,
    /// Evaluations used.
    pub evals: u64,
    /// The strategy's name.
    pub strategy: String,
    /// Restarts performed.
    pub restarts: usize,
    /// Why it stopped.
    pub stop: String,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// For each of [`targets`], the evaluations when `f − f_opt ≤ target` was first seen.
    pub hits: Vec<Option<u64>>,
}

/// Run one strategy on one bbob problem from the origin with σ₀ = 2.
pub fn run(spec: &RunSpec) -> Result<RunResult, crate::ExperimentError> {
    run_cancellable(spec, &AtomicBool::new(false))
}

/// [`run`], abandoned within one evaluation once `cancel` is raised
/// ([`crate::ExperimentError::Interrupted`]): a suite stops its runs in flight on Ctrl-C.
pub fn run_cancellable(
    spec: &RunSpec,
    cancel: &AtomicBool,
) -> Result<RunResult, crate::ExperimentError> {
    let problem = Problem::new(spec.function, spec.instance, spec.dim)?;
    if spec.budget_per_dim == 0 {
        return Err(crate::ExperimentError::Arg {
            name: "budget-per-dim",
            reason: "is 0; must be ≥ 1".into(),
        });
    }
    let f_opt = problem.f_opt();
    let ts = targets();
    let mut hits: Vec<Option<u64>> = vec![None; ts.len()];
    let mut evals = 0u64;
    let mut best = f64::INFINITY;
    let objective = |x: &[f64]| {
        if cancel.load(Ordering::Relaxed) {
            // A NaN ends `minimize` at once (nonfinite = error); reported as interrupted below.
            return f64::NAN;
        }
        // Far outside the domain some functions overflow to inf − inf = NaN (f15's T_asy at
        // |x| ≈ 1e5, as in COCO): the worst value, so a diverging run ranks it last and stops
        // by its own criteria instead of the suite failing.
        let v = match problem.evaluate(x) {
            v if v.is_nan() => f64::INFINITY,
            v => v,
        };
        evals += 1;
        if v < best {
            best = v;
            let delta = v - f_opt;
            for (h, &t) in hits.iter_mut().zip(&ts) {
                if h.is_none() && delta <= t {
                    *h = Some(evals);
                }
            }
        }
        v
    };
    let opts = MinimizeOptions {
        method: spec.method,
        max_evals: spec.budget_per_dim.saturating_mul(spec.dim as u64),
        target: Some(f_opt + FINAL_TARGET),
        restarts: spec.restarts,
        max_restarts: if spec.restarts == Restarts::None {
            0
        } else {
            usize::MAX
        },
        seed: spec.seed,
        // Restarts start uniformly in [-4, 4]^d, as COCO's examples do.
        restart_region: Some((-4.0, 4.0)),
        ..MinimizeOptions::default()
    };
    let start = Instant::now();
    let r = match minimize(objective, &vec![0.0; spec.dim], 2.0, &opts) {
        Err(_) if cancel.load(Ordering::Relaxed) => {
            return Err(crate::ExperimentError::Interrupted);
        }
        r => r?,
    };
    let wall_s = start.elapsed().as_secs_f64();
    Ok(RunResult {
        function: spec.function,
        instance: spec.instance,
        dim: spec.dim,
        evals_to_target: r.evals_to_target,
        best_f: r.f,
        f_opt,
        evals: r.evals,
        strategy: spec.method.name().to_string(),
        restarts: r.restarts,
        stop: r.stop.label().to_string(),
        wall_s,
        hits,
    })
}

/// ERT of a set of runs on one problem: all evaluations spent (to the target in successful
/// runs, the whole run in unsuccessful ones) divided by the number of successes; `None`
/// without a success.
pub fn ert(runs: &[&RunResult]) -> Option<f64> {
    let successes = runs.iter().filter(|r| r.evals_to_target.is_some()).count();
    if successes == 0 {
        return None;
    }
    let spent: u64 = runs
        .iter()
        .map(|r| r.evals_to_target.unwrap_or(r.evals))
        .sum();
    Some(spent as f64 / successes as f64)
}

/// The ERT table in Markdown: one row per function, one column per dimension, `ERT/d` and the
/// success count.
pub fn ert_table(results: &[RunResult], dims: &[usize]) -> String {
    let mut s = String::from("| f | name |");
    for d in dims {
        s.push_str(&format!(" d={d}: ERT/d (succ) |"));
    }
    s.push_str("\n|---|---|");
    for _ in dims {
        s.push_str("---|");
    }
    s.push('\n');
    for f in 1..=24 {
        if !results.iter().any(|r| r.function == f) {
            continue;
        }
        s.push_str(&format!("| f{f} | {} |", crate::NAMES[f - 1]));
        for &d in dims {
            let runs: Vec<&RunResult> = results
                .iter()
                .filter(|r| r.function == f && r.dim == d)
                .collect();
            let succ = runs.iter().filter(|r| r.evals_to_target.is_some()).count();
            match ert(&runs) {
                Some(e) => s.push_str(&format!(" {:.1} ({succ}/{}) |", e / d as f64, runs.len())),
                None if runs.is_empty() => s.push_str(" – |"),
                None => s.push_str(&format!(" ∞ (0/{}) |", runs.len())),
            }
        }
        s.push('\n');
    }
    s
}

/// The empirical runtime distribution of one dimension, as COCO draws it: for each budget
/// `10^x · d` on the grid `x = 0, 0.1, …, x_max`, the fraction of (run, target) pairs whose
/// target was reached within the budget.
pub fn ecdf(results: &[RunResult], dim: usize, x_max: f64) -> Vec<(f64, f64)> {
    let runs: Vec<&RunResult> = results.iter().filter(|r| r.dim == dim).collect();
    let total: usize = runs.iter().map(|r| r.hits.len()).sum();
    let steps = (x_max * 10.0).ceil() as usize;
    (0..=steps)
        .map(|k| {
            let x = k as f64 / 10.0;
            let budget = 10f64.powf(x) * dim as f64;
            let reached: usize = runs
                .iter()
                .map(|r| {
                    r.hits
                        .iter()
                        .filter(|h| h.is_some_and(|e| e as f64 <= budget))
                        .count()
                })
                .sum();
            (
                x,
                if total == 0 {
                    0.0
                } else {
                    reached as f64 / total as f64
                },
            )
        })
        .collect()
}

/// What [`overhead`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overhead {
    /// The strategy.
    pub strategy: String,
    /// Dimension.
    pub dim: usize,
    /// λ.
    pub population: usize,
    /// Generations timed.
    pub generations: u64,
    /// Median microseconds per generation of ask + tell (the sphere's evaluation excluded).
    pub us_per_generation: f64,
    /// Mean microseconds per generation (includes the lazy eigendecompositions in full).
    pub us_per_generation_mean: f64,
}

/// Time CMA-ES's own work per generation (ask + tell, the objective excluded) on the sphere
/// from x0 = 1 with σ₀ = 1: the median over `generations` generations after 5 warm-up ones.
/// `population` 0 is the default λ.
pub fn overhead(
    method: StrategyKind,
    dim: usize,
    population: usize,
    generations: u64,
) -> Result<Overhead, crate::ExperimentError> {
    use eggroll_core::cmaes::{CmaConfig, CmaEs};
    let covariance = match method.covariance() {
        Some(c) => c,
        None => {
            return Err(crate::ExperimentError::Arg {
                name: "strategy",
                reason: "overhead is measured for cmaes and sep-cmaes".into(),
            });
        }
    };
    if generations == 0 {
        return Err(crate::ExperimentError::Arg {
            name: "generations",
            reason: "is 0; must be ≥ 1".into(),
        });
    }
    if !(1..=100_000).contains(&dim) || population > 100_000 {
        return Err(crate::ExperimentError::Arg {
            name: "dim",
            reason: "must be 1..=100000 (and --population ≤ 100000)".into(),
        });
    }
    let mut es = CmaEs::new(
        &vec![1.0; dim],
        &CmaConfig {
            covariance,
            population_size: population,
            ..CmaConfig::default()
        },
    )?;
    let mut times = Vec::with_capacity(generations as usize);
    for g in 0..generations + 5 {
        let t0 = Instant::now();
        let xs = es.ask();
        let mut spent = t0.elapsed();
        let f: Vec<f64> = xs.iter().map(|x| x.iter().map(|v| v * v).sum()).collect();
        let t1 = Instant::now();
        es.tell(&f)?;
        spent += t1.elapsed();
        if g >= 5 {
            times.push(spent.as_secs_f64() * 1e6);
        }
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    times.sort_by(f64::total_cmp);
    Ok(Overhead {
        us_per_generation_mean: mean,
        strategy: method.name().into(),
        dim,
        population: es.population_size(),
        generations,
        us_per_generation: times[times.len() / 2],
    })
}
