//! Write your own strategy: a (1+λ)-style "hill climber" that moves to the best member's
//! noise instead of following the ES gradient, plugged into the same trainer and evaluator.
//!
//! `cargo run --release -p eggroll-examples --bin custom_strategy`

use candle_core::{DType, Device, Tensor};
use eggroll_core::*;

/// Moves the parameters a fraction `step` of the way to the best member each generation.
struct HillClimber {
    population: usize,
    sigma: f32,
    step: f32,
    seed: u64,
}

impl Strategy for HillClimber {
    fn name(&self) -> &str {
        "hill_climber"
    }
    fn population_size(&self) -> usize {
        self.population
    }
    fn sigma(&self, _generation: u64) -> f32 {
        self.sigma
    }
    fn learning_rate(&self, _generation: u64) -> f32 {
        self.step
    }
    fn ask(&mut self, params: &Params, generation: u64) -> Result<Population> {
        // Reuse the counter-based low-rank noise: rank 1 for matrices, full for the rest.
        let specs: Vec<NoiseSpec> = params
            .iter()
            .map(|p| match p.kind() {
                ParamKind::Matrix { .. } => NoiseSpec::LowRank(1),
                ParamKind::Other => NoiseSpec::Full,
            })
            .collect();
        Population::generate(
            params,
            &specs,
            self.population,
            Pairing::Antithetic,
            self.seed,
            generation,
            generation,
            self.sigma,
        )
    }
    fn tell(
        &mut self,
        params: &mut Params,
        population: &Population,
        fitness: &[f32],
    ) -> Result<TellReport> {
        let best = (0..fitness.len())
            .max_by(|&a, &b| fitness[a].total_cmp(&fitness[b]))
            .expect("non-empty population");
        let base = params.to_host()?;
        let target = population.materialize(params, &base, best)?;
        let mut norm = 0.0f32;
        for (i, (b, t)) in base.iter().zip(&target).enumerate() {
            let new: Vec<f32> = b
                .iter()
                .zip(t)
                .map(|(x, y)| x + self.step * (y - x))
                .collect();
            norm += new.iter().zip(b).map(|(n, o)| (n - o).powi(2)).sum::<f32>();
            let dims = params.iter().nth(i).expect("index").dims().to_vec();
            params.set(i, Tensor::from_vec(new, dims, &Device::Cpu)?)?;
        }
        Ok(TellReport {
            update_norm: norm.sqrt(),
            sigma: self.sigma,
            lr: self.step,
        })
    }
}

fn main() -> anyhow::Result<()> {
    let params = Params::new().with("w", Tensor::zeros((8, 8), DType::F32, &Device::Cpu)?)?;
    let strategy = HillClimber {
        population: 32,
        sigma: 0.1,
        step: 0.5,
        seed: 7,
    };
    let trainer = Trainer::new(strategy, params);
    let eval = FnEvaluator::new(|p: &ParamView| {
        -p.values(0).iter().map(|x| (x - 0.3).powi(2)).sum::<f32>()
    });
    // The same loop as `eggroll train`: a run-layer Session over these parts (no files).
    let session = eggroll_run::Session::from_parts(trainer, Box::new(eval), 300);
    if let eggroll_run::Outcome::Finished(report) = session.run()? {
        println!(
            "hill climber: {} generations, final fitness {:.4} (started at {:.4})",
            report.json["generations"],
            report.json["final_fitness"].as_f64().unwrap_or(f64::NAN),
            -64.0 * 0.09
        );
    }
    Ok(())
}
