//! CMA-ES far from home: large-population (IPOP/BIPOP) runs on bbob f15–f24 in d = 20 and 40
//! diverge on some functions — f15's asymmetric T_asy makes every step outward look good —
//! until the function overflows (inf, then inf − inf = NaN, as in COCO). Every point proposed
//! stays finite, and each run ends by a named criterion (`diverged`, `tol_upsigma`, or a
//! convergence criterion) instead of failing.

use eggroll_bbob::Problem;
use eggroll_bbob::experiment::{RunSpec, run};
use eggroll_core::StrategyKind;
use eggroll_core::cmaes::{CmaConfig, CmaEs, CmaStop, Covariance};
use eggroll_core::minimize::Restarts;

/// One large-λ CMA-ES run from `x0` with NaN values ranked worst (+inf), every proposed point
/// checked finite: the criterion that ended it (None: still running after `generations`) and
/// how many values were NaN.
fn large_lambda_run(
    p: &Problem,
    x0: &[f64],
    seed: u64,
    covariance: Covariance,
    generations: usize,
) -> (Option<CmaStop>, usize) {
    let config = CmaConfig {
        population_size: 480,
        sigma0: 2.0,
        seed,
        covariance,
        ..CmaConfig::default()
    };
    let mut es = CmaEs::new(x0, &config).unwrap();
    let mut nans = 0;
    for _ in 0..generations {
        let values: Vec<f64> = es
            .ask()
            .iter()
            .map(|x| {
                assert!(x.iter().all(|v| v.is_finite()), "a non-finite point");
                match p.evaluate(x) {
                    v if v.is_nan() => {
                        nans += 1;
                        f64::INFINITY
                    }
                    v => v,
                }
            })
            .collect();
        es.tell(&values).unwrap();
        if let Some(s) = es.should_stop() {
            return (Some(s), nans);
        }
    }
    (None, nans)
}

fn start(dim: usize, seed: u64, salt: u64) -> Vec<f64> {
    (0..dim)
        .map(|i| ((i as u64 * 7919 + seed * 104_729 + salt) % 800) as f64 / 100.0 - 4.0)
        .collect()
}

/// The regime of BIPOP's and IPOP's late restarts (λ = 480, σ₀ = 2, starts in [-4, 4]^d) on
/// f15–f24 in d = 20 and 40, full and diagonal covariance: no point is ever non-finite.
#[test]
fn large_population_runs_never_propose_a_non_finite_point() {
    let mut stops = std::collections::BTreeMap::<&str, usize>::new();
    for function in 15..=24 {
        for dim in [20usize, 40] {
            for (seed, covariance) in [(0u64, Covariance::Full), (1, Covariance::Diagonal)] {
                let p = Problem::new(function, 1 + seed as usize, dim).unwrap();
                let x0 = start(dim, seed, function as u64);
                let (stop, _) =
                    large_lambda_run(&p, &x0, seed * 1000 + function as u64, covariance, 60);
                *stops
                    .entry(stop.map_or("running", CmaStop::label))
                    .or_default() += 1;
            }
        }
    }
    eprintln!("stops after ≤ 60 generations: {stops:?}");
}

/// f15 instance 2 in d = 40 from this start runs away (σ 2 → 2e4 in 35 generations, then the
/// function overflows to NaN): the run still ends by a criterion of its own, its points finite.
#[test]
fn a_run_into_the_overflow_stops_by_a_named_criterion() {
    let p = Problem::new(15, 2, 40).unwrap();
    let (stop, nans) = large_lambda_run(&p, &start(40, 0, 0), 0, Covariance::Full, 1000);
    assert!(nans > 0, "the run did not reach the overflow: {stop:?}");
    assert!(stop.is_some(), "still running after 1000 generations");
}

/// The campaign's case: `eggroll bbob run --function 15 --instance 2 --dim 40 --restarts bipop
/// --budget-per-dim 100000 --seed 15000240` aborted after 9 s with a NaN fitness. It now
/// restarts past the diverging large-population run and reaches the target.
#[test]
fn the_bipop_run_that_met_a_nan_reaches_its_target() {
    let r = run(&RunSpec {
        method: StrategyKind::Cmaes,
        function: 15,
        instance: 2,
        dim: 40,
        budget_per_dim: 100_000,
        restarts: Restarts::Bipop,
        seed: 15_000_240,
    })
    .unwrap();
    assert!(r.evals_to_target.is_some(), "{r:?}");
    assert!(r.restarts > 20, "{r:?}");
}
