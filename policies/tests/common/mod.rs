//! Helpers shared by the policies integration tests.
#![allow(dead_code)]

use candle_core::Device;
use eggroll_core::{
    Eggroll, EsConfig, OptimizerConfig, Params, Population, SimpleEs, Strategy, Trainer,
};
use eggroll_envs::CartPoleVec;
use eggroll_policies::{Activation, Head, MlpConfig, RolloutEvaluator};

/// Deterministic inputs in [−1, 1).
pub fn inputs(rows: usize, din: usize) -> Vec<f32> {
    (0..rows * din)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect()
}

/// Parameters of `cfg` (seed 3) on `device` and the generation-5 population of EGGROLL, or of
/// SimpleES when `simple`.
pub fn setup(cfg: &MlpConfig, es: EsConfig, simple: bool, device: &Device) -> (Params, Population) {
    let params = cfg.init(3, device).unwrap();
    let mut s: Box<dyn Strategy> = if simple {
        Box::new(SimpleEs::new(es, &params).unwrap())
    } else {
        Box::new(Eggroll::new(es, &params).unwrap())
    };
    let pop = s.ask(&params, 5).unwrap();
    (params, pop)
}

/// The CartPole policy's parameters (`seed`) and EGGROLL's generation-0 population of
/// `population` members at σ 0.5.
pub fn cartpole_generation(seed: u64, population: usize) -> (MlpConfig, Params, Population) {
    let cfg = cartpole_policy();
    let params = cfg.init(seed, &Device::Cpu).unwrap();
    let es = EsConfig {
        population_size: population,
        sigma: 0.5,
        ..EsConfig::default()
    };
    let pop = Eggroll::new(es, &params).unwrap().ask(&params, 0).unwrap();
    (cfg, params, pop)
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The CartPole policy of the CLI's default config.
pub fn cartpole_policy() -> MlpConfig {
    MlpConfig {
        sizes: vec![4, 16, 2],
        activation: Activation::Tanh,
        bias: true,
    }
}

/// A CartPole evaluator: argmax head, one episode per member, seed 0.
pub fn cartpole_evaluator() -> RolloutEvaluator {
    RolloutEvaluator::new(
        cartpole_policy(),
        Head::Argmax,
        Box::new(|n| Box::new(CartPoleVec::new(n))),
        1,
        0,
    )
    .unwrap()
}

/// Train CartPole from `params` (N=256, σ 0.2, lr 0.1, SGD, seed 0) until the unperturbed
/// policy's mean return over 100 fresh episodes reaches 475, within 30 generations; confirm on
/// another 100 episodes. Panics (naming `what`) otherwise. Returns the generation.
pub fn assert_cartpole_solves(params: Params, ev: &mut RolloutEvaluator, what: &str) -> u64 {
    let device = params.device();
    let es = EsConfig {
        population_size: 256,
        sigma: 0.2,
        learning_rate: 0.1,
        optimizer: OptimizerConfig::Sgd { momentum: 0.0 },
        seed: 0,
        ..EsConfig::default()
    };
    let mut trainer = Trainer::new(Eggroll::new(es, &params).unwrap(), params);
    for g in 0..30 {
        trainer.step(ev).unwrap();
        assert!(
            trainer.params().device().same_device(&device),
            "{what}: parameters moved"
        );
        let r = ev.evaluate_plain(trainer.params(), 100, 1000 + g).unwrap();
        if r.mean >= 475.0 {
            let fresh = ev.evaluate_plain(trainer.params(), 100, 77_777).unwrap();
            assert!(
                fresh.mean >= 475.0,
                "{what}: solved at generation {g} but fresh eval gives {}",
                fresh.mean
            );
            return g;
        }
    }
    panic!("{what}: CartPole not solved in 30 generations");
}
