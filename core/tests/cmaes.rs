//! CMA-ES and minimize(): pycma's parameters, convergence, determinism, restarts, bounds and
//! bad input.

use eggroll_core::StopReason;
use eggroll_core::StrategyKind;
use eggroll_core::cmaes::{CmaConfig, CmaEs, Covariance, default_population};
use eggroll_core::minimize::{BoundHandling, MinimizeOptions, Restarts, minimize};
use eggroll_core::{Error, NonFinitePolicy};

fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

fn ellipsoid(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, v)| 1e6f64.powf(i as f64 / (n - 1.0)) * v * v)
        .sum()
}

fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| v * v - 10.0 * (std::f64::consts::TAU * v).cos())
            .sum::<f64>()
}

/// The strategy parameters equal the ones pycma 4.5 computes (read off
/// `cma.CMAEvolutionStrategy(np.zeros(n), 2)`: `sp.popsize, sp.weights, adapt_sigma.cs,
/// adapt_sigma.damps, sp.cc, sp.c1, sp.cmu`).
#[test]
fn parameters_equal_pycma() {
    // (n, λ, μeff, cσ, dσ, cc, c1, cμ, Σw)
    let cases = [
        (
            10,
            10,
            3.1672992814107017,
            0.3196142529106334,
            1.3196142529106334,
            0.29499038303562225,
            0.015283824524751714,
            0.02355177665041747,
            -0.6489457144406467,
        ),
        (
            2,
            6,
            2.0286114646100617,
            0.5,
            1.5,
            0.6245545390268264,
            0.1548153998964136,
            0.08559277942666424,
            -1.207323654840602,
        ),
        (
            40,
            15,
            4.5409152090759575,
            0.13758496613517535,
            1.1375849661351753,
            0.09300921663424917,
            0.0011694327252618397,
            0.003405219643706347,
            -0.3434235813314506,
        ),
    ];
    for (n, lambda, mueff, cs, damps, cc, c1, cmu, wsum) in cases {
        assert_eq!(default_population(n), lambda);
        let es = CmaEs::new(&vec![0.0; n], &CmaConfig::default()).unwrap();
        let p = es.parameters();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        assert_eq!(p.lambda, lambda);
        assert!(close(p.mueff, mueff), "n={n} mueff {}", p.mueff);
        assert!(close(p.cs, cs), "n={n} cs {}", p.cs);
        assert!(close(p.damps, damps), "n={n} damps {}", p.damps);
        assert!(close(p.cc, cc), "n={n} cc {}", p.cc);
        assert!(close(p.c1, c1), "n={n} c1 {}", p.c1);
        assert!(close(p.cmu, cmu), "n={n} cmu {}", p.cmu);
        assert!(close(p.weights.iter().sum(), wsum), "n={n} Σw");
        // Positive weights sum to 1 and decrease; negative ones are present (active CMA).
        let pos: f64 = p.weights[..p.mu].iter().sum();
        assert!(close(pos, 1.0));
        assert!(p.weights.windows(2).all(|w| w[0] >= w[1]));
        assert!(*p.weights.last().unwrap() < 0.0);
    }
}

/// Every seed reaches 1e-8 on the 10-D ellipsoid (condition 1e6) well inside the budget that
/// pycma needs (≈ 6000 evaluations, see scripts/compare-pycma.py).
#[test]
fn solves_ill_conditioned_problems_on_every_seed() {
    for seed in 0..5 {
        let opts = MinimizeOptions {
            target: Some(1e-8),
            max_evals: 20_000,
            seed,
            ..Default::default()
        };
        let r = minimize(ellipsoid, &[3.0; 10], 2.0, &opts).unwrap();
        assert_eq!(r.stop, StopReason::Target, "seed {seed}: {r:?}");
        assert!(r.evals < 12_000, "seed {seed}: {} evaluations", r.evals);
    }
}

#[test]
fn the_same_seed_gives_the_same_bits() {
    let run = |seed| {
        let opts = MinimizeOptions {
            max_evals: 3000,
            seed,
            ..Default::default()
        };
        minimize(rastrigin, &[1.0; 6], 1.0, &opts).unwrap()
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a.f.to_bits(), b.f.to_bits());
    assert_eq!(
        a.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert_ne!(a.x, c.x);
}

#[test]
fn ask_tell_contract() {
    let mut es = CmaEs::new(&[0.5; 4], &CmaConfig::default()).unwrap();
    assert!(es.tell(&[0.0; 8]).is_err(), "tell before ask");
    let a = es.ask();
    assert_eq!(a, es.ask(), "asking twice returns the pending points");
    let e = es.tell(&[1.0; 3]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::FitnessLength {
                expected: 8,
                got: 3
            }
        ),
        "{e}"
    );
    let mut f: Vec<f64> = a.iter().map(|x| sphere(x)).collect();
    f[2] = f64::NAN;
    assert!(matches!(
        es.tell(&f).unwrap_err(),
        Error::NonFiniteFitness { member: 2, .. }
    ));
    // A failed tell keeps the generation pending.
    f[2] = 1.0;
    es.tell(&f).unwrap();
    assert_eq!(es.generation(), 1);
    assert_eq!(es.evals(), 8);
    // tell_points learns from repaired points of the caller.
    let pts: Vec<Vec<f64>> = es
        .ask()
        .into_iter()
        .map(|x| x.iter().map(|v| v.clamp(-0.1, 0.1)).collect())
        .collect();
    let f: Vec<f64> = pts.iter().map(|x| sphere(x)).collect();
    es.tell_points(&pts, &f).unwrap();
    assert_eq!(es.generation(), 2);
}

#[test]
fn sep_cmaes_scales_to_large_dimensions() {
    // 1000-D separable ellipsoid (condition 100): O(n) per sample.
    let n = 1000;
    let f = |x: &[f64]| -> f64 {
        x.iter()
            .enumerate()
            .map(|(i, v)| 100f64.powf(i as f64 / (n as f64 - 1.0)) * v * v)
            .sum()
    };
    let opts = MinimizeOptions {
        method: StrategyKind::SepCmaes,
        max_evals: 100_000,
        target: Some(1e-2 * f(&vec![1.0; n])),
        ..Default::default()
    };
    let r = minimize(f, &vec![1.0; n], 0.5, &opts).unwrap();
    assert_eq!(r.stop, StopReason::Target, "{:?} f={}", r.stop, r.f);
    // Full covariance is refused beyond its limit, naming the way out.
    let e = CmaEs::new(&vec![0.0; 5000], &CmaConfig::default()).unwrap_err();
    assert!(e.to_string().contains("sep-cmaes"), "{e}");
    assert!(
        CmaEs::new(
            &vec![0.0; 5000],
            &CmaConfig {
                covariance: Covariance::Diagonal,
                ..CmaConfig::default()
            }
        )
        .is_ok()
    );
}

#[test]
fn ipop_restarts_solve_rastrigin() {
    // Without restarts a local optimum; IPOP doubles λ until the global one is found.
    let plain = MinimizeOptions {
        target: Some(1e-8),
        max_evals: 200_000,
        seed: 3,
        ..Default::default()
    };
    let r0 = minimize(rastrigin, &[3.0; 5], 2.0, &plain).unwrap();
    let ipop = MinimizeOptions {
        restarts: Restarts::Ipop,
        restart_region: Some((-4.0, 4.0)),
        ..plain.clone()
    };
    let r = minimize(rastrigin, &[3.0; 5], 2.0, &ipop).unwrap();
    assert_eq!(r.stop, StopReason::Target, "{r:?}");
    assert!(r.restarts >= 1 || r0.stop == StopReason::Target);
    // BIPOP spends many restarts in its small-population regime: allow them.
    let bipop = MinimizeOptions {
        restarts: Restarts::Bipop,
        max_restarts: 1000,
        ..ipop
    };
    let r = minimize(rastrigin, &[3.0; 5], 2.0, &bipop).unwrap();
    assert_eq!(r.stop, StopReason::Target, "{r:?}");
}

#[test]
fn bounds_repair_and_penalty_keep_every_evaluation_inside() {
    // The unconstrained optimum (3, 3, 3) lies outside [-1, 1]^3: the answer is the corner.
    for handling in [
        BoundHandling::Repair,
        BoundHandling::Penalty { weight: 1.0 },
    ] {
        let f = |x: &[f64]| {
            assert!(
                x.iter().all(|v| (-1.0..=1.0).contains(v)),
                "{x:?} left the box"
            );
            x.iter().map(|v| (v - 3.0) * (v - 3.0)).sum::<f64>()
        };
        let opts = MinimizeOptions {
            bounds: Some((vec![-1.0], vec![1.0])),
            bound_handling: handling,
            max_evals: 3000,
            ..Default::default()
        };
        let r = minimize(f, &[0.0; 3], 0.5, &opts).unwrap();
        // The penalty reaches the corner to the last digit; resampling keeps every sample
        // inside but slows down at the boundary (it stalls about 1e-3 short here).
        let tol = match handling {
            BoundHandling::Penalty { .. } => 1e-9,
            BoundHandling::Repair => 1e-2,
        };
        for v in &r.x {
            assert!(
                (v - 1.0).abs() < tol,
                "{handling:?}: {:?} {:?}",
                r.x,
                r.stop
            );
        }
    }
}

#[test]
fn nan_from_the_closure_follows_the_policy() {
    let f = |x: &[f64]| if x[0] > 0.0 { f64::NAN } else { sphere(x) };
    let opts = MinimizeOptions {
        max_evals: 2000,
        ..Default::default()
    };
    let e = minimize(f, &[0.0; 3], 1.0, &opts).unwrap_err();
    assert!(matches!(e, Error::NonFiniteFitness { .. }), "{e}");
    let worst = MinimizeOptions {
        nonfinite: NonFinitePolicy::Worst,
        ..opts
    };
    let r = minimize(f, &[0.0; 3], 1.0, &worst).unwrap();
    assert!(r.f.is_finite() && r.x[0] <= 0.0);
}

#[test]
fn bad_arguments_name_the_argument() {
    let msg = |r: eggroll_core::Result<_>| {
        r.map(|_: eggroll_core::minimize::MinimizeResult| ())
            .unwrap_err()
            .to_string()
    };
    let o = MinimizeOptions::default();
    assert!(msg(minimize(sphere, &[], 1.0, &o)).contains("`x0`"));
    assert!(msg(minimize(sphere, &[0.0], 0.0, &o)).contains("`sigma0`"));
    assert!(msg(minimize(sphere, &[0.0], -1.0, &o)).contains("`sigma0`"));
    assert!(msg(minimize(sphere, &[f64::NAN], 1.0, &o)).contains("`x0`"));
    let bounds = |lo: Vec<f64>, hi: Vec<f64>| MinimizeOptions {
        bounds: Some((lo, hi)),
        ..MinimizeOptions::default()
    };
    assert!(
        msg(minimize(
            sphere,
            &[0.0; 2],
            1.0,
            &bounds(vec![1.0], vec![-1.0])
        ))
        .contains("`bounds`")
    );
    assert!(
        msg(minimize(
            sphere,
            &[0.0; 2],
            1.0,
            &bounds(vec![0.0; 3], vec![1.0])
        ))
        .contains("`bounds`")
    );
    let zero = MinimizeOptions {
        max_evals: 0,
        ..MinimizeOptions::default()
    };
    assert!(msg(minimize(sphere, &[0.0], 1.0, &zero)).contains("`max_evals`"));
    let one = MinimizeOptions {
        population_size: 1,
        ..MinimizeOptions::default()
    };
    assert!(msg(minimize(sphere, &[0.0], 1.0, &one)).contains("`population_size`"));
    assert!(
        StrategyKind::parse("nelder-mead", "strategy")
            .unwrap_err()
            .to_string()
            .contains("`strategy`")
    );
    assert!(
        Restarts::parse("often")
            .unwrap_err()
            .to_string()
            .contains("`restarts`")
    );
}

#[test]
fn eggroll_and_simplees_minimize_the_same_closure() {
    for method in [StrategyKind::Eggroll, StrategyKind::SimpleEs] {
        let opts = MinimizeOptions {
            method,
            max_evals: 20_000,
            ..Default::default()
        };
        let start = sphere(&[2.0; 8]);
        let r = minimize(sphere, &[2.0; 8], 0.5, &opts).unwrap();
        assert_eq!(r.stop, StopReason::MaxEvals);
        assert!(r.f < 1e-2 * start, "{method:?}: {} from {start}", r.f);
    }
}

/// CMA-ES with IPOP restarts behind the Strategy trait: the Trainer drives it through
/// restarts (λ doubles, the trainer keeps the best member), and a checkpoint taken after a
/// restart resumes bit-identically.
#[test]
fn trainer_restarts_and_resumes_bit_identically() {
    use candle_core::{Device, Tensor};
    use eggroll_core::{
        CmaStrategy, FnEvaluator, ParamView, Params, Restarts, StopCondition, Trainer,
    };
    let params = || {
        Params::new()
            .with("x", Tensor::full(2.5f32, 4, &Device::Cpu).unwrap())
            .unwrap()
    };

    let make = || {
        let p = params();
        let s = CmaStrategy::new(
            CmaConfig {
                population_size: 8,
                sigma0: 0.5,
                seed: 11,
                ..CmaConfig::default()
            },
            &p,
        )
        .unwrap()
        .with_restarts(Restarts::Ipop, 64);
        Trainer::new(s, p)
    };
    // Rastrigin in f32 (maximised as its negative).
    let mut eval = FnEvaluator::new(|p: &ParamView| {
        -p.values(0)
            .iter()
            .map(|&v| 10.0 + v * v - 10.0 * (std::f32::consts::TAU * v).cos())
            .sum::<f32>()
    });
    let stop = |g| StopCondition {
        max_generations: Some(g),
        ..Default::default()
    };
    let mut straight = make();
    let mut sizes = Vec::new();
    for _ in 0..400 {
        sizes.push(straight.strategy().population_size());
        straight.step(&mut eval).unwrap();
    }
    assert!(
        sizes.contains(&16),
        "no restart within 400 generations: {sizes:?}"
    );
    let first_restart = sizes.iter().position(|&n| n == 16).unwrap() as u64;

    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.safetensors");
    let mut first = make();
    first.run(&mut eval, &stop(first_restart + 3)).unwrap();
    first.save_checkpoint(&ck).unwrap();
    let mut resumed = make();
    resumed.load_checkpoint(&ck).unwrap();
    assert_eq!(resumed.strategy().population_size(), 16);
    resumed.run(&mut eval, &stop(400)).unwrap();
    let bits = |t: &Trainer| -> Vec<u32> {
        t.params().to_host().unwrap()[0]
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    assert_eq!(bits(&straight), bits(&resumed));
    assert_eq!(
        straight.best().unwrap().fitness,
        resumed.best().unwrap().fitness
    );
    // Without restarts configured, a checkpoint with restarts is refused.
    let p = params();
    let mut plain = Trainer::new(
        CmaStrategy::new(
            CmaConfig {
                population_size: 8,
                sigma0: 0.5,
                seed: 11,
                ..CmaConfig::default()
            },
            &p,
        )
        .unwrap(),
        p,
    );
    assert!(plain.load_checkpoint(&ck).is_err());
}

/// Empirical covariance of `(x − m)/σ` over one generation's samples.
fn sample_covariance(es: &mut CmaEs) -> Vec<f64> {
    let n = es.dim();
    let m = es.mean().to_vec();
    let s = es.sigma();
    let xs = es.ask();
    let mut c = vec![0.0; n * n];
    for x in &xs {
        let y: Vec<f64> = x.iter().zip(&m).map(|(x, m)| (x - m) / s).collect();
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] += y[i] * y[j] / xs.len() as f64;
            }
        }
    }
    c
}

/// Large λ samples from the Cholesky factor, default λ from the eigendecomposition, and both
/// draw `y ~ N(0, C)`: with C set to a correlated matrix, every entry of the empirical
/// covariance of 20,000 samples lies within 5 standard errors (`√((C_ii C_jj + C_ij²)/N)`).
#[test]
fn both_decompositions_sample_the_covariance() {
    use eggroll_core::cmaes::Decomposition;
    let n = 4;
    let big = CmaEs::new(
        &[0.0; 100],
        &CmaConfig {
            population_size: 1000,
            ..CmaConfig::default()
        },
    )
    .unwrap();
    assert!(big.parameters().cholesky);
    assert!(
        !CmaEs::new(&[0.0; 100], &CmaConfig::default())
            .unwrap()
            .parameters()
            .cholesky
    );
    // C = A Aᵀ for a fixed A with strong correlations.
    let a = [
        [2.0, 0.0, 0.0, 0.0],
        [1.5, 0.5, 0.0, 0.0],
        [-1.0, 0.3, 0.2, 0.0],
        [0.5, -0.4, 0.1, 3.0],
    ];
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            c[i * n + j] = (0..n).map(|k| a[i][k] * a[j][k]).sum();
        }
    }
    for decomposition in [Decomposition::Eigen, Decomposition::Cholesky] {
        let config = CmaConfig {
            population_size: 20_000,
            decomposition,
            ..CmaConfig::default()
        };
        let mut es = CmaEs::new(&[0.0; 4], &config).unwrap();
        assert_eq!(
            es.parameters().cholesky,
            decomposition == Decomposition::Cholesky
        );
        let mut state = es.state().clone();
        state.c = c.clone();
        // The factor is rebuilt from C on load; B and D are set here.
        state.factor.clear();
        let eig = nalgebra::SymmetricEigen::new(nalgebra::DMatrix::from_row_slice(n, n, &c));
        for k in 0..n {
            state.d[k] = eig.eigenvalues[k].sqrt();
            for i in 0..n {
                state.b[i * n + k] = eig.eigenvectors[(i, k)];
            }
        }
        es.load_state(state).unwrap();
        let emp = sample_covariance(&mut es);
        let samples = config.population_size as f64;
        for i in 0..n {
            for j in 0..n {
                let se = ((c[i * n + i] * c[j * n + j] + c[i * n + j].powi(2)) / samples).sqrt();
                let err = (emp[i * n + j] - c[i * n + j]).abs();
                assert!(
                    err < 5.0 * se,
                    "{decomposition:?} C[{i}][{j}]: {} vs {} (se {se})",
                    emp[i * n + j],
                    c[i * n + j]
                );
            }
        }
    }
}

/// With the Cholesky factor (forced at λ = 60, where the default would decompose), CMA-ES
/// solves the rotated-free 10-D ellipsoid on every seed, within 1.25× the evaluations of the
/// eigendecomposition summed over 5 seeds; and a large-λ run gives the same bits on 1 and 2
/// threads and after a resume.
#[test]
fn the_cholesky_factor_learns_like_the_eigendecomposition() {
    use eggroll_core::cmaes::Decomposition;
    let run = |decomposition, seed| {
        let mut es = CmaEs::new(
            &[3.0; 10],
            &CmaConfig {
                population_size: 60,
                sigma0: 2.0,
                seed,
                decomposition,
                ..CmaConfig::default()
            },
        )
        .unwrap();
        while es.best().1 > 1e-8 {
            assert!(es.evals() < 200_000, "{decomposition:?} seed {seed} stalls");
            let xs = es.ask();
            let f: Vec<f64> = xs.iter().map(|x| ellipsoid(x)).collect();
            es.tell(&f).unwrap();
        }
        es.evals()
    };
    let total = |d| (0..5).map(|seed| run(d, seed)).sum::<u64>() as f64;
    let (eigen, chol) = (total(Decomposition::Eigen), total(Decomposition::Cholesky));
    eprintln!("evaluations over 5 seeds: eigen {eigen}, cholesky {chol}");
    assert!(chol < 1.25 * eigen, "cholesky {chol} vs eigen {eigen}");

    let config = CmaConfig {
        population_size: 300,
        seed: 5,
        ..CmaConfig::default()
    };
    let steps = |es: &mut CmaEs, g: usize| {
        for _ in 0..g {
            let xs = es.ask();
            let f: Vec<f64> = xs.iter().map(|x| ellipsoid(x)).collect();
            es.tell(&f).unwrap();
        }
    };
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut es = CmaEs::new(&[1.0; 40], &config).unwrap();
            assert!(es.parameters().cholesky);
            steps(&mut es, 12);
            es
        })
    };
    let (one, two) = (on(1), on(2));
    assert_eq!(one.state(), two.state());
    let mut straight = one.clone();
    steps(&mut straight, 5);
    let mut resumed = CmaEs::new(&[1.0; 40], &config).unwrap();
    resumed.load_state(two.state().clone()).unwrap();
    steps(&mut resumed, 5);
    assert_eq!(straight.state(), resumed.state());
}

/// Runs that run away stop by a named criterion before any point can overflow: on a linear
/// function (every step outward improves) σ and the mean grow without bound until
/// `diverged`, `tol_upsigma` or `condition_cov` (C learning the one direction) ends the run.
/// Every point proposed on the way is finite.
#[test]
fn runaway_runs_stop_before_their_points_overflow() {
    use eggroll_core::cmaes::CmaStop;
    let mut stops = Vec::new();
    for (lambda, covariance) in [
        (0, Covariance::Full),
        (200, Covariance::Full),
        (0, Covariance::Diagonal),
        (200, Covariance::Diagonal),
    ] {
        let config = CmaConfig {
            population_size: lambda,
            sigma0: 1.0,
            covariance,
            ..CmaConfig::default()
        };
        let mut es = CmaEs::new(&[0.5; 10], &config).unwrap();
        let stop = loop {
            let xs = es.ask();
            for x in &xs {
                assert!(x.iter().all(|v| v.is_finite()), "{x:?}");
            }
            let v: Vec<f64> = xs.iter().map(|x| -x.iter().sum::<f64>()).collect();
            es.tell(&v).unwrap();
            if let Some(s) = es.should_stop() {
                break s;
            }
            assert!(
                es.generation() < 100_000,
                "λ={lambda} {covariance:?}: no stop"
            );
        };
        assert_eq!(
            stop.label(),
            serde_json::to_value(stop).unwrap().as_str().unwrap()
        );
        stops.push(stop);
    }
    assert!(
        stops
            .iter()
            .any(|s| matches!(s, CmaStop::Diverged | CmaStop::TolUpSigma)),
        "{stops:?}"
    );
}

#[test]
fn cmean_scales_the_mean_step_and_nothing_else() {
    // From the same state and samples, c_m = 0.25 moves the mean a quarter as far; the
    // step-size path (and so σ) takes ⟨y⟩_w as it is, so it is unchanged.
    let run = |cmean: f64| {
        let config = CmaConfig {
            sigma0: 0.5,
            seed: 11,
            cmean,
            ..CmaConfig::default()
        };
        let mut es = CmaEs::new(&[1.0; 6], &config).unwrap();
        let xs = es.ask();
        let f: Vec<f64> = xs.iter().map(|x| sphere(x)).collect();
        es.tell(&f).unwrap();
        (es.mean().to_vec(), es.state().sigma, es.state().ps.clone())
    };
    let (m1, s1, p1) = run(1.0);
    let (mq, sq, pq) = run(0.25);
    for (a, b) in m1.iter().zip(&mq) {
        assert!(((a - 1.0) * 0.25 - (b - 1.0)).abs() < 1e-12, "{a} {b}");
        assert!((a - 1.0).abs() > 1e-3, "the mean moved");
    }
    assert_eq!(s1, sq);
    assert_eq!(p1, pq);
    // Still solves the sphere, and the range is checked, naming the field.
    let config = CmaConfig {
        sigma0: 0.5,
        cmean: 0.5,
        ..CmaConfig::default()
    };
    let mut es = CmaEs::new(&[1.0; 6], &config).unwrap();
    for _ in 0..400 {
        let xs = es.ask();
        let f: Vec<f64> = xs.iter().map(|x| sphere(x)).collect();
        es.tell(&f).unwrap();
    }
    assert!(sphere(es.mean()) < 1e-8, "{}", sphere(es.mean()));
    for bad in [0.0, -0.5, 1.5, f64::NAN] {
        let e = CmaEs::new(
            &[1.0; 3],
            &CmaConfig {
                cmean: bad,
                ..CmaConfig::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("`cmean`"), "{e}");
    }
}
