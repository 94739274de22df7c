//! A task defined outside eggroll, run by the same `Session` as `eggroll train`: the
//! Rosenbrock function on a 2 × 16 matrix. One `impl Task` gives it default hyperparameters, a
//! run directory with config, metrics, checkpoints, plots and exports, `--resume` and the JSON
//! report. (A task inside the toolkit is the same file in `run/src/task/` plus one line in
//! `task::registry()`, and then `eggroll train rosenbrock` works.)
//!
//! `cargo run --release -p eggroll-examples --bin custom_task [key=value ...]` (5000
//! generations, 0.8 s here: f goes from −31 to −0.04; `solved` means ≥ −0.1).

use eggroll_core::{FnEvaluator, ParamView, Params};
use eggroll_run::task::{Built, Task};
use eggroll_run::{Options, Outcome, RunConfig, Session, Start};

/// Rosenbrock: Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)², fitness is its negative (optimum 0).
struct Rosenbrock;

impl Task for Rosenbrock {
    fn name(&self) -> &'static str {
        "rosenbrock"
    }
    fn defaults(&self, c: &mut RunConfig) {
        c.stop.generations = 5000;
        c.evaluation.solved_at = -0.1;
        c.problem.rows = 2;
        c.problem.cols = 16;
        c.es.population_size = 256;
        c.es.rank = 2;
        c.es.sigma = 0.01;
        c.es.learning_rate = 0.01;
    }
    fn build(&self, config: &RunConfig) -> eggroll_run::Result<Built> {
        let (rows, cols) = (config.problem.rows, config.problem.cols);
        let zeros = candle_core::Tensor::zeros(
            (rows, cols),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )?;
        let params = Params::new().with("x", zeros)?;
        let evaluator = FnEvaluator::new(|p: &ParamView| {
            let x = p.values(0);
            -x.windows(2)
                .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                .sum::<f32>()
        });
        Ok(Built {
            params,
            evaluator: Box::new(evaluator),
            images: None,
            net: None,
        })
    }
}

fn main() -> anyhow::Result<()> {
    // Run directory runs/rosenbrock-<timestamp>; `sets` takes `key=value` like `--set`.
    let start = Start::New {
        task: "rosenbrock".into(),
        file: None,
        sets: std::env::args().skip(1).collect(),
        overrides: vec![],
        out: None,
        force: false,
    };
    let session = Session::start_with(&Rosenbrock, start, Options::default())?;
    for notice in session.notices() {
        eprintln!("{notice}");
    }
    match session.run()? {
        Outcome::Finished(report) => println!("{}", report.json),
        other => anyhow::bail!(
            "unexpected end: interrupted = {}",
            matches!(other, Outcome::Interrupted { .. })
        ),
    }
    Ok(())
}
