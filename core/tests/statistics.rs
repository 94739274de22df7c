//! The exact facts of `shared/EGGROLL.md` checked as z-tests with fixed seeds.
//!
//! Every test states its tolerance: |z| < 4.5 for single statistics (a false alarm rate of
//! ~7e-6 per statistic; the seeds are fixed, so the outcome is deterministic) and a
//! Bonferroni-style |z| < 5 where many entries are tested at once.
#![allow(clippy::needless_range_loop)]

mod common;
use common::*;
use eggroll_core::*;

fn eggroll_pop(
    m: usize,
    n: usize,
    r: usize,
    pairs: usize,
    seed: u64,
    generation: u64,
) -> (Params, Population) {
    let params = matrix(m, n, None);
    let mut es = Eggroll::new(
        EsConfig {
            population_size: 2 * pairs,
            rank: r,
            seed,
            sigma: 1.0,
            ..EsConfig::default()
        },
        &params,
    )
    .unwrap();
    let pop = es.ask(&params, generation).unwrap();
    (params, pop)
}

/// Fact 1 (covariance): Cov(vec E) = I for every rank, including r > min(m, n) = 4 (the
/// official implementation allows any r ≥ 1).
#[test]
fn covariance_of_vec_e_is_identity() {
    for r in [1, 2, 4, 7] {
        let (params, pop) = eggroll_pop(4, 5, r, 20_000, 11, 0);
        // One member per pair (members 2k); pairs are independent draws.
        let e: Vec<Vec<f64>> = perturbations(&pop, &params)
            .into_iter()
            .step_by(2)
            .collect();
        let d = e[0].len();
        for j in 0..d {
            for l in j..d {
                let prod: Vec<f64> = e.iter().map(|v| v[j] * v[l]).collect();
                let mu = if j == l { 1.0 } else { 0.0 };
                let zz = z(&prod, mu);
                assert!(zz.abs() < 5.0, "r={r} Cov[{j},{l}] z={zz}");
            }
        }
    }
}

/// Fact (kurtosis): E[E_jk⁴] = 3 + 6/r; a z-test per rank (r = 6 exceeds min(m, n) = 4),
/// and the Gaussian value 3 is rejected at r = 1 (the test has power).
#[test]
fn fourth_moment_is_3_plus_6_over_r() {
    for r in [1, 2, 4, 6] {
        let (params, pop) = eggroll_pop(4, 4, r, 60_000, 5, 0);
        let e = perturbations(&pop, &params);
        // Per pair, the average fourth power over the 16 entries (identically distributed).
        let x: Vec<f64> = e
            .iter()
            .step_by(2)
            .map(|v| v.iter().map(|a| a.powi(4)).sum::<f64>() / v.len() as f64)
            .collect();
        let expected = 3.0 + 6.0 / r as f64;
        let zz = z(&x, expected);
        assert!(zz.abs() < 4.5, "r={r}: z={zz} mean={}", mean_sd(&x).0);
        if r == 1 {
            assert!(
                z(&x, 3.0).abs() > 10.0,
                "the Gaussian kurtosis must be rejected"
            );
        }
    }
}

/// Fact 3: on f(W) = <G, W> the antithetic estimator is unbiased at every rank with per-pair
/// variance ‖G‖² + G_jk² + (2/r)(‖G_j·‖² + ‖G_·k‖² + G_jk²). Runs the real pipeline: ask →
/// closure evaluation → shaping (raw) → the update GEMM (SGD, lr 1 ⇒ Δθ = g).
#[test]
fn linear_objective_unbiased_with_stated_variance() {
    let (m, n) = (3, 4);
    let g: Vec<f32> = (0..m * n).map(|i| (i as f32 * 0.7).sin()).collect();
    let g2: f64 = g.iter().map(|&x| (x as f64).powi(2)).sum();
    for r in [1, 2] {
        let sigma = 0.3;
        // 1 pair per generation: the update is exactly one pair's estimate.
        let mut estimates: Vec<Vec<f64>> = Vec::new();
        let gg = g.clone();
        let mut eval = FnEvaluator::new(move |p: &ParamView| {
            p.values(0).iter().zip(&gg).map(|(a, b)| a * b).sum::<f32>()
        });
        let params = matrix(m, n, None);
        let mut es = Eggroll::new(
            EsConfig {
                population_size: 2,
                rank: r,
                sigma,
                learning_rate: 1.0,
                shaping: Shaping::Raw,
                optimizer: OptimizerConfig::Sgd { momentum: 0.0 },
                seed: 99,
                ..EsConfig::default()
            },
            &params,
        )
        .unwrap();
        for generation in 0..30_000 {
            let mut p = params.clone();
            let pop = es.ask(&p, generation).unwrap();
            let f = eval.evaluate(&p, &pop).unwrap();
            es.tell(&mut p, &pop, &f).unwrap();
            estimates.push(
                host(p.get("w").unwrap().tensor())
                    .iter()
                    .map(|&x| x as f64)
                    .collect(),
            );
        }
        for j in 0..m {
            for k in 0..n {
                let idx = j * n + k;
                let gjk = g[idx] as f64;
                let row: f64 = (0..n).map(|c| (g[j * n + c] as f64).powi(2)).sum();
                let col: f64 = (0..m).map(|c| (g[c * n + k] as f64).powi(2)).sum();
                let var = g2 + gjk * gjk + 2.0 / r as f64 * (row + col + gjk * gjk);
                let x: Vec<f64> = estimates.iter().map(|e| e[idx]).collect();
                let (mean, sd) = mean_sd(&x);
                let zm = (mean - gjk) / (var / x.len() as f64).sqrt();
                assert!(zm.abs() < 5.0, "r={r} bias at ({j},{k}): z={zm}");
                // Sample variance vs the stated variance: SE from the empirical 4th moment.
                let m4 = x.iter().map(|a| (a - mean).powi(4)).sum::<f64>() / x.len() as f64;
                let se_var = ((m4 - sd.powi(4)) / x.len() as f64).sqrt();
                let zv = (sd * sd - var) / se_var;
                assert!(
                    zv.abs() < 5.0,
                    "r={r} variance at ({j},{k}): {} vs {var}, z={zv}",
                    sd * sd
                );
            }
        }
    }
}

/// Fact 4: f(W) = −½‖W − W*‖² gives exactly the linear estimate with G = W* − M.
#[test]
fn quadratic_reduces_to_linear() {
    let (m, n) = (4, 3);
    let mvals: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.1 - 0.5).collect();
    let target: Vec<f32> = (0..m * n).map(|i| (i as f32).cos()).collect();
    let gvec: Vec<f32> = target.iter().zip(&mvals).map(|(t, m)| t - m).collect();
    let params = matrix(m, n, Some(mvals.clone()));
    let cfg = EsConfig {
        population_size: 64,
        rank: 2,
        sigma: 0.25,
        shaping: Shaping::Raw,
        seed: 3,
        ..EsConfig::default()
    };
    let es = Eggroll::new(cfg, &params).unwrap();
    let mut es2 = es.clone();
    let pop = es2.ask(&params, 0).unwrap();
    let t2 = target.clone();
    let mut quad = FnEvaluator::new(move |p: &ParamView| {
        -0.5 * p
            .values(0)
            .iter()
            .zip(&t2)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f32>()
    });
    let mut lin = FnEvaluator::new(move |p: &ParamView| {
        p.values(0)
            .iter()
            .zip(&gvec)
            .map(|(a, b)| a * b)
            .sum::<f32>()
    });
    let fq = quad.evaluate(&params, &pop).unwrap();
    let fl = lin.evaluate(&params, &pop).unwrap();
    let gq = host(
        &pop.weighted_noise_sum(&params, &fq, 1.0).unwrap()[0]
            .clone()
            .unwrap(),
    );
    let gl = host(
        &pop.weighted_noise_sum(&params, &fl, 1.0).unwrap()[0]
            .clone()
            .unwrap(),
    );
    for (a, b) in gq.iter().zip(&gl) {
        assert!((a - b).abs() < 1e-3 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

/// Fact 5: separable cubic Σ W³/6 has E[g] = M∘M/2 + σ²/2 (+ σ²/r for EGGROLL rank r).
#[test]
fn cubic_bias_law() {
    let (m, n) = (2, 3);
    let mvals: Vec<f32> = vec![0.2, -0.1, 0.3, 0.0, 0.1, -0.2];
    let sigma = 0.5f32;
    let pairs = 200_000;
    let run = |simple: bool, r: usize| -> Vec<Vec<f64>> {
        let params = matrix(m, n, Some(mvals.clone()));
        let cfg = EsConfig {
            population_size: 2 * pairs,
            rank: r,
            sigma,
            shaping: Shaping::Raw,
            seed: 17,
            ..EsConfig::default()
        };
        let mut s: Box<dyn Strategy> = if simple {
            Box::new(SimpleEs::new(cfg, &params).unwrap())
        } else {
            Box::new(Eggroll::new(cfg, &params).unwrap())
        };
        let pop = s.ask(&params, 0).unwrap();
        let mut eval = FnEvaluator::new(|p: &ParamView| {
            p.values(0).iter().map(|w| w * w * w / 6.0).sum::<f32>()
        });
        let f = eval.evaluate(&params, &pop).unwrap();
        // Per-pair estimates (f+ − f−)/(2σ) E_k.
        let e = perturbations(&pop, &params);
        (0..pairs)
            .map(|k| {
                let d = (f[2 * k] - f[2 * k + 1]) as f64 / (2.0 * sigma as f64);
                e[2 * k].iter().map(|x| d * x).collect()
            })
            .collect()
    };
    let s2 = (sigma * sigma) as f64;
    for (simple, r, extra) in [(true, 1, 0.0), (false, 1, s2), (false, 2, s2 / 2.0)] {
        let est = run(simple, r);
        for idx in 0..m * n {
            let x: Vec<f64> = est.iter().map(|e| e[idx]).collect();
            let mm = mvals[idx] as f64;
            let expected = mm * mm / 2.0 + s2 / 2.0 + extra;
            let zz = z(&x, expected);
            assert!(zz.abs() < 5.0, "simple={simple} r={r} entry {idx}: z={zz}");
            if !simple && r == 1 {
                // Power: the Gaussian law (no σ²/r term) is rejected.
                let zw = z(&x, mm * mm / 2.0 + s2 / 2.0);
                assert!(
                    zw.abs() > 8.0,
                    "entry {idx}: wrong law not rejected (z={zw})"
                );
            }
        }
    }
}

/// Fact 6: rank(Σ w_k A_k B_kᵀ) = min(pairs·r, m, n).
#[test]
fn update_rank_is_min_of_pairs_r_m_n() {
    for (m, n, pairs, r) in [
        (20, 30, 3, 2),
        (20, 30, 5, 3),
        (20, 30, 20, 2),
        (12, 8, 50, 1),
        // r > min(m, n): still a valid perturbation, and the update rank still follows the law.
        (2, 16, 1, 4),
        (3, 8, 5, 4),
        (6, 5, 1, 9),
    ] {
        let (params, pop) = eggroll_pop(m, n, r, pairs, 8, 1);
        let w: Vec<f32> = (0..2 * pairs)
            .map(|i| ((i * 7919) % 13) as f32 - 6.0)
            .collect();
        let g = host(
            &pop.weighted_noise_sum(&params, &w, 1.0).unwrap()[0]
                .clone()
                .unwrap(),
        );
        assert_eq!(
            matrix_rank(&g, m, n),
            (pairs * r).min(m).min(n),
            "{m}x{n} pairs={pairs} r={r}"
        );
    }
}

/// Fact 2: Σ_i w_i A_i B_iᵀ equals (diag(w) A_stack)ᵀ B_stack — the GEMM matches the explicit
/// sum of outer products over members.
#[test]
fn update_gemm_equals_sum_of_member_outer_products() {
    let (m, n, r, pairs) = (5, 7, 3, 9);
    let (params, pop) = eggroll_pop(m, n, r, pairs, 21, 4);
    let w: Vec<f32> = (0..2 * pairs).map(|i| (i as f32 * 1.3).sin()).collect();
    let g = host(
        &pop.weighted_noise_sum(&params, &w, 1.0).unwrap()[0]
            .clone()
            .unwrap(),
    );
    let e = perturbations(&pop, &params); // includes sign and 1/√r
    for idx in 0..m * n {
        let s: f64 = (0..2 * pairs).map(|i| w[i] as f64 * e[i][idx]).sum();
        assert!((g[idx] as f64 - s).abs() < 1e-4, "{idx}: {} vs {s}", g[idx]);
    }
}
