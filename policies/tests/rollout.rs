//! Rollouts and end-to-end training through the library.
#![allow(clippy::needless_range_loop)]

use candle_core::Device;
use eggroll_core::*;
use eggroll_envs::CartPoleVec;
use eggroll_envs::{Action, CartPole, Environment};
use eggroll_policies::plain_row_forward;
use eggroll_policies::{Activation, Head, MlpConfig, RolloutEvaluator};

mod common;
use common::{assert_cartpole_solves, cartpole_evaluator, cartpole_generation, cartpole_policy};

/// The batched rollout's fitness equals per-member scalar rollouts of the materialised member
/// policies on the same initial states. The two paths round differently (GEMM vs dot), which
/// can flip an argmax at a near tie, so we require ≥ 95% of members to match exactly and the
/// mean absolute difference to stay below 2% of the mean return.
#[test]
fn batched_rollouts_equal_scalar_rollouts() {
    let (cfg, params, pop) = cartpole_generation(1, 64);
    let episodes = 3;
    let mut ev = RolloutEvaluator::new(
        cfg.clone(),
        Head::Argmax,
        Box::new(|n| Box::new(CartPoleVec::new(n))),
        episodes,
        9,
    )
    .unwrap();
    let fitness = ev.evaluate(&params, &pop).unwrap();
    // Recover the generation's episode seeds the same way the evaluator documents them.
    let gen_seed = noise::mix64(9 ^ noise::mix64(1));
    let seeds: Vec<u64> = (0..episodes)
        .map(|j| eggroll_envs::member_seed(gen_seed, j))
        .collect();
    let base = params.to_host().unwrap();
    let mut same = 0;
    let mut diff = 0.0;
    for i in 0..64 {
        let w = pop.materialize(&params, &base, i).unwrap();
        let mut total = 0.0;
        for &s in &seeds {
            let mut env = CartPole::new();
            let mut obs = env.reset(Some(s));
            loop {
                let mut y = [0.0f32; 2];
                plain_row_forward(&cfg, &params, &w, &obs, &mut y);
                let st = env.step(Action::Discrete(Head::argmax(&y))).unwrap();
                total += st.reward;
                obs = st.observation;
                if st.terminated || st.truncated {
                    break;
                }
            }
        }
        let f = (total / episodes as f64) as f32;
        if f == fitness[i] {
            same += 1;
        }
        diff += (f - fitness[i]).abs() as f64;
    }
    let mean: f64 = fitness.iter().map(|&f| f as f64).sum::<f64>() / 64.0;
    assert!(same >= 61, "only {same}/64 members match exactly");
    assert!(
        diff / 64.0 < 0.02 * mean,
        "mean abs diff {} vs mean return {mean}",
        diff / 64.0
    );
}

/// CartPole-v1 through the library: the unperturbed policy's mean return over 100 fresh
/// episodes reaches 475 within 30 generations (seed 0; the CLI default config solves it in 7).
#[test]
fn cartpole_training_reaches_475() {
    let params = cartpole_policy().init(0, &Device::Cpu).unwrap();
    assert_cartpole_solves(params, &mut cartpole_evaluator(), "cpu");
}

#[test]
fn rollout_evaluator_rejects_mismatched_policies() {
    let bad_in = MlpConfig {
        sizes: vec![5, 8, 2],
        activation: Activation::Tanh,
        bias: true,
    };
    assert!(
        RolloutEvaluator::new(
            bad_in,
            Head::Argmax,
            Box::new(|n| Box::new(CartPoleVec::new(n))),
            1,
            0
        )
        .is_err()
    );
    let bad_out = MlpConfig {
        sizes: vec![4, 8, 3],
        activation: Activation::Tanh,
        bias: true,
    };
    assert!(
        RolloutEvaluator::new(
            bad_out,
            Head::Argmax,
            Box::new(|n| Box::new(CartPoleVec::new(n))),
            1,
            0
        )
        .is_err()
    );
    let cont = Head::TanhScaled {
        low: vec![-1.0],
        high: vec![1.0],
    };
    assert!(
        RolloutEvaluator::new(
            cartpole_policy(),
            cont,
            Box::new(|n| Box::new(CartPoleVec::new(n))),
            1,
            0
        )
        .is_err()
    );
    assert!(
        RolloutEvaluator::new(
            cartpole_policy(),
            Head::Argmax,
            Box::new(|n| Box::new(CartPoleVec::new(n))),
            0,
            0
        )
        .is_err()
    );
}

/// Softmax sampling: frequencies match softmax probabilities (z-test, |z| < 4.5, 20,000
/// draws per case), and sampled rollouts are reproducible.
#[test]
fn sampling_head_matches_softmax_and_is_reproducible() {
    let y = [0.5f32, -1.0, 1.5];
    for temp in [0.5f32, 1.0, 3.0] {
        let w: Vec<f64> = y.iter().map(|v| ((*v / temp) as f64).exp()).collect();
        let total: f64 = w.iter().sum();
        let n = 20_000;
        let mut counts = [0usize; 3];
        for i in 0..n {
            let u = ((noise::mix64(i as u64) >> 40) as f32) / (1u64 << 24) as f32;
            counts[Head::sample(&y, temp, u) as usize] += 1;
        }
        for k in 0..3 {
            let p = w[k] / total;
            let z = (counts[k] as f64 - n as f64 * p) / (n as f64 * p * (1.0 - p)).sqrt();
            assert!(z.abs() < 4.5, "temp {temp} action {k}: z={z}");
        }
    }
    let cfg = cartpole_policy();
    let params = cfg.init(2, &Device::Cpu).unwrap();
    let mut es = Eggroll::new(
        EsConfig {
            population_size: 32,
            ..EsConfig::default()
        },
        &params,
    )
    .unwrap();
    let pop = es.ask(&params, 0).unwrap();
    let make = || {
        RolloutEvaluator::new(
            cfg.clone(),
            Head::Sample { temperature: 1.0 },
            Box::new(|n| Box::new(CartPoleVec::new(n))),
            2,
            4,
        )
        .unwrap()
    };
    let a = make().evaluate(&params, &pop).unwrap();
    let b = make().evaluate(&params, &pop).unwrap();
    assert_eq!(a, b);
    let argmax = RolloutEvaluator::new(
        cfg.clone(),
        Head::Argmax,
        Box::new(|n| Box::new(CartPoleVec::new(n))),
        2,
        4,
    )
    .unwrap()
    .evaluate(&params, &pop)
    .unwrap();
    assert_ne!(a, argmax, "sampling changes the rollouts");
}

/// Evaluating a slice of the members gives exactly the slice of the full evaluation (what a
/// distributed worker computes), for argmax and sampling heads and several episodes.
#[test]
fn member_slices_equal_the_full_evaluation() {
    let cfg = cartpole_policy();
    let params = cfg.init(3, &Device::Cpu).unwrap();
    let mut es = Eggroll::new(
        EsConfig {
            population_size: 40,
            sigma: 0.3,
            ..EsConfig::default()
        },
        &params,
    )
    .unwrap();
    let pop = es.ask(&params, 2).unwrap();
    for head in [Head::Argmax, Head::Sample { temperature: 0.5 }] {
        let mut ev = RolloutEvaluator::new(
            cfg.clone(),
            head.clone(),
            Box::new(|n| Box::new(CartPoleVec::new(n))),
            3,
            5,
        )
        .unwrap();
        let full = ev.evaluate(&params, &pop).unwrap();
        for range in [0..13, 13..27, 27..40, 5..6] {
            let part = ev.evaluate_members(&params, &pop, range.clone()).unwrap();
            assert_eq!(part, full[range.clone()].to_vec(), "{head:?} {range:?}");
        }
    }
}

/// The observation normaliser's state after a generation is the same bits whether the
/// population was evaluated in one call or split into uneven slices (as MPI ranks split it)
/// whose statistics are committed together in member order; it changes the next generation's
/// fitness; a normaliser of the wrong size is a typed error.
#[test]
fn normaliser_state_does_not_depend_on_how_members_are_split() {
    use eggroll_policies::ObsNorm;
    let cfg = cartpole_policy();
    let params = cfg.init(3, &Device::Cpu).unwrap();
    let mut es = Eggroll::new(
        EsConfig {
            population_size: 20,
            sigma: 0.5,
            ..EsConfig::default()
        },
        &params,
    )
    .unwrap();
    let pop = es.ask(&params, 0).unwrap();
    let make = || {
        RolloutEvaluator::new(
            cfg.clone(),
            Head::Argmax,
            Box::new(|n| Box::new(CartPoleVec::new(n))),
            2,
            5,
        )
        .unwrap()
        .with_obs_norm(ObsNorm::new(4, 5.0))
        .unwrap()
    };
    let mut whole = make();
    let f_whole = whole.evaluate(&params, &pop).unwrap();
    let mut split = make();
    let mut f_split = Vec::new();
    let mut stats = Vec::new();
    for range in [0..7, 7..8, 8..20] {
        f_split.extend(split.evaluate_members(&params, &pop, range).unwrap());
        stats.extend(split.take_member_stats());
    }
    split.commit_member_stats(&stats).unwrap();
    assert_eq!(f_whole, f_split);
    assert_eq!(whole.obs_norm(), split.obs_norm());
    let norm = whole.obs_norm().unwrap();
    assert!(norm.stats.count > 20 * 2 * 8, "{}", norm.stats.count);
    assert!(norm.stats.m2.iter().all(|&v| v > 0.0));
    // The next generation is scored through the new transform: different from a run whose
    // normaliser stays empty.
    let pop1 = es.ask(&params, 1).unwrap();
    let mut frozen = make();
    assert_ne!(
        whole.evaluate(&params, &pop1).unwrap(),
        frozen.evaluate(&params, &pop1).unwrap()
    );
    assert!(make().with_obs_norm(ObsNorm::new(3, 5.0)).is_err());
    assert!(make().with_obs_norm(ObsNorm::new(4, 0.0)).is_err());
}

/// ARS's reward shift: CartPole pays 1 per step, so a training rollout shifted by `s` scores
/// `(1 − s)` × its unshifted return, member by member (same episodes, same actions); the plain
/// evaluation is never shifted.
#[test]
fn reward_shift_applies_to_training_rollouts_only() {
    let (_, params, pop) = cartpole_generation(1, 16);
    let mut plain = cartpole_evaluator();
    let mut shifted = cartpole_evaluator().with_reward_shift(0.25);
    let f0 = plain.evaluate(&params, &pop).unwrap();
    let f1 = shifted.evaluate(&params, &pop).unwrap();
    assert!(f0.iter().any(|&f| f > 20.0), "{f0:?}");
    for (a, b) in f0.iter().zip(&f1) {
        assert_eq!(*b, 0.75 * a, "{f0:?} {f1:?}");
    }
    let e0 = plain.evaluate_plain(&params, 5, 3).unwrap();
    let e1 = shifted.evaluate_plain(&params, 5, 3).unwrap();
    assert_eq!((e0.mean, e0.min, e0.max), (e1.mean, e1.min, e1.max));
}
