//! `sphere` and `rastrigin`: closed-form objectives on one matrix, evaluated by materialising
//! each member and calling the objective (FnEvaluator).

use eggroll_core::problems::{Objective, Problem};
use eggroll_core::{FnEvaluator, ParamView, Schedule};

use super::{Built, Task, check_memory};
use crate::config::RunConfig;
use crate::error::Result;

/// Sphere: `−mean((W − W*)²)` on a `problem.rows × problem.cols` matrix.
pub struct Sphere;

/// Rastrigin: many local optima around an offset optimum.
pub struct Rastrigin;

fn build(config: &RunConfig, objective: Objective) -> Result<Built> {
    check_memory(config, None, None)?;
    let p = Problem::new(
        objective,
        config.problem.rows,
        config.problem.cols,
        config.es.seed,
    );
    let params = p.params(&candle_core::Device::Cpu)?;
    Ok(Built {
        params,
        evaluator: Box::new(FnEvaluator::new(move |v: &ParamView| {
            p.fitness(v.values(0))
        })),
        images: None,
        net: None,
    })
}

impl Task for Sphere {
    fn name(&self) -> &'static str {
        "sphere"
    }
    fn defaults(&self, c: &mut RunConfig) {
        // Chosen by the grid in scripts/sweep-benchmarks.sh.
        c.stop.generations = 800;
        c.es.population_size = 128;
        c.es.sigma = 0.05;
        c.es.learning_rate = 0.05;
        c.es.lr_schedule = Schedule::Linear {
            floor: 0.01,
            generations: 800,
        };
    }
    fn build(&self, config: &RunConfig) -> Result<Built> {
        build(config, Objective::Sphere)
    }
}

impl Task for Rastrigin {
    fn name(&self) -> &'static str {
        "rastrigin"
    }
    fn defaults(&self, c: &mut RunConfig) {
        c.stop.generations = 400;
        c.problem.rows = 16;
        c.problem.cols = 16;
        c.evaluation.solved_at = -0.5;
        c.es.population_size = 512;
        c.es.sigma = 1.0;
        c.es.learning_rate = 0.05;
        c.es.sigma_schedule = Schedule::Exponential { decay: 0.995 };
        c.es.lr_schedule = Schedule::Exponential { decay: 0.995 };
    }
    fn build(&self, config: &RunConfig) -> Result<Built> {
        build(config, Objective::Rastrigin)
    }
}
