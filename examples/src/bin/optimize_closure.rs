//! Optimise a closure with EGGROLL: fit a 32×32 matrix to a target, driven by the run layer's
//! `Session` (the loop `eggroll train` uses) without a run directory.
//!
//! `cargo run --release -p eggroll-examples --bin optimize_closure`

use candle_core::{DType, Device, Tensor};
use eggroll_core::*;

fn main() -> anyhow::Result<()> {
    let target: Vec<f32> = (0..32 * 32).map(|i| (i as f32 * 0.1).sin()).collect();
    let params = Params::new().with("w", Tensor::zeros((32, 32), DType::F32, &Device::Cpu)?)?;
    let config = EsConfig {
        population_size: 128,
        sigma: 0.05,
        learning_rate: 0.05,
        rank: 1,
        ..EsConfig::default()
    };
    let mut trainer = Trainer::new(Eggroll::new(config, &params)?, params);
    trainer.add_observer(|s: &GenStats| {
        if s.generation.is_multiple_of(50) {
            println!("gen {:>4}  mean fitness {:>10.5}", s.generation, s.mean);
        }
        Control::Continue
    });
    let eval = FnEvaluator::new(move |p: &ParamView| {
        -p.values(0)
            .iter()
            .zip(&target)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f32>()
            / 1024.0
    });
    let session = eggroll_run::Session::from_parts(trainer, Box::new(eval), 400);
    if let eggroll_run::Outcome::Finished(report) = session.run()? {
        println!("{}", report.json);
    }
    Ok(())
}
