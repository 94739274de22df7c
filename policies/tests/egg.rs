//! The EGG model: its population forward equals each member run alone, its evaluator's fitness
//! does not depend on the thread count, and a float policy is a typed error.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use eggroll_core::strategy::egg::IntVote;
use eggroll_core::{EsConfig, Evaluator, Params, Strategy};
use eggroll_policies::egg::{
    EggEvaluator, EggModel, EggPopulation, EggSpec, ExactBits, IntLikelihood,
};

fn text(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"the cat sat on the mat. "[(i * 7 + i / 13) % 24])
        .collect()
}

fn setup(spec: EggSpec, n: usize) -> (Params, eggroll_core::Population) {
    let params = spec.init(3).unwrap();
    let es = EsConfig {
        population_size: n,
        sigma: 0.0625,
        learning_rate: 0.2,
        ..EsConfig::default()
    };
    let pop = IntVote::new(es, &params).unwrap().ask(&params, 5).unwrap();
    (params, pop)
}

#[test]
fn the_batched_population_forward_equals_each_member_alone() {
    let spec = EggSpec {
        width: 16,
        layers: 2,
    };
    let (params, pop) = setup(spec, 8);
    let model = EggModel::new(spec, &params).unwrap();
    let noise = EggPopulation::new(&spec, &pop).unwrap();
    let t = text(400);
    let windows: Vec<&[u8]> = (0..8).map(|p| &t[p * 37..p * 37 + 21]).collect();
    let ids: Vec<u32> = (0..8).collect();
    let all = model.score_windows(&windows, &ids, Some(&noise), &IntLikelihood);
    for p in 0..8 {
        let one = model.score_windows(
            &windows[p..p + 1],
            &ids[p..p + 1],
            Some(&noise),
            &IntLikelihood,
        );
        assert_eq!(one[0].to_bits(), all[p].to_bits(), "member {p}");
    }
    // Antithetic members on the same window differ from each other and from the unperturbed
    // model (exact bits: the integer likelihood is coarse enough to tie now and then).
    let same = [windows[0], windows[0]];
    let plain = model.score_windows(&same[..1], &[0], None, &ExactBits)[0];
    for k in 0..4u32 {
        let pair = model.score_windows(&same, &[2 * k, 2 * k + 1], Some(&noise), &ExactBits);
        assert!(
            pair[0] != pair[1] && pair[0] != plain && pair[1] != plain,
            "{k}: {pair:?}"
        );
    }
}

#[test]
fn the_fitness_does_not_depend_on_the_thread_count() {
    let spec = EggSpec {
        width: 8,
        layers: 1,
    };
    let (params, pop) = setup(spec, 12);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut e = EggEvaluator::new(spec, Arc::new(text(5000)), 24, 1).unwrap();
            let f = e.evaluate_members(&params, &pop, 0..12).unwrap();
            f.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(5));
}

#[test]
fn the_vote_moves_entries_by_one_step_within_int8() {
    let spec = EggSpec {
        width: 8,
        layers: 1,
    };
    let (mut params, pop) = setup(spec, 64);
    let before = params.to_host().unwrap();
    let es = EsConfig {
        population_size: 64,
        sigma: 0.0625,
        learning_rate: 1.0,
        ..EsConfig::default()
    };
    let mut s = IntVote::new(es, &params).unwrap();
    // Member 2k better than 2k+1 for every pair: all votes +1.
    let fitness: Vec<f32> = (0..64)
        .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
        .collect();
    let rep = s.tell(&mut params, &pop, &fitness).unwrap();
    let after = params.to_host().unwrap();
    let mut moved = 0;
    for (b, a) in before.iter().flatten().zip(after.iter().flatten()) {
        assert!((a - b).abs() <= 1.0 && a.abs() <= 127.0 && a.fract() == 0.0);
        moved += usize::from(a != b);
    }
    // α = 1: every entry with a nonzero vote sum moves.
    assert!(moved > before.iter().flatten().count() / 2, "{moved}");
    assert_eq!(rep.update_norm, (moved as f32).sqrt());
    // Ties (equal fitness) vote 0: nothing moves.
    let mut p2 = spec.init(3).unwrap();
    s.tell(&mut p2, &pop, &[0.5; 64]).unwrap();
    assert_eq!(p2.to_host().unwrap(), before);
}

#[test]
fn a_float_policy_is_a_typed_error() {
    let spec = EggSpec {
        width: 8,
        layers: 1,
    };
    let params = spec.init(0).unwrap();
    let mut float = Params::new();
    for p in params.iter() {
        let t = if p.name() == "l0.wf" {
            (p.tensor() * 0.01).unwrap()
        } else {
            p.tensor().clone()
        };
        float.push(p.name(), t).unwrap();
    }
    let e = EggModel::new(spec, &float).err().unwrap().to_string();
    assert!(e.contains("l0.wf") && e.contains("float"), "{e}");
    let es = EsConfig {
        sigma: 0.0625,
        ..EsConfig::default()
    };
    let e = IntVote::new(es, &float).err().unwrap().to_string();
    assert!(e.contains("l0.wf"), "{e}");
    // Another model's parameters: named.
    let other = Params::new()
        .with(
            "emb",
            Tensor::zeros((256, 8), candle_core::DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap();
    let e = EggModel::new(spec, &other).err().unwrap().to_string();
    assert!(e.contains("parameters"), "{e}");
    assert!(
        EggSpec {
            width: 10,
            layers: 1
        }
        .init(0)
        .is_err()
    );
}
