//! `eggroll bench env`: environment throughput of a control task, without and with its policy.

use serde::Serialize;

use crate::config::resolve;
use crate::error::{Error, Result};
use crate::session::build_strategy;

/// What `bench env` measures.
#[derive(Debug, Clone, Serialize)]
pub struct EnvBench {
    /// The task.
    pub task: String,
    /// Members stepped together.
    pub population: usize,
    /// Environment steps per member in the first measurement.
    pub steps: usize,
    /// Rayon threads.
    pub threads: usize,
    /// Environment (control) steps per second with random actions and no policy, members
    /// running on past terminations (as `mujoco.rollout`).
    pub env_steps_per_s: f64,
    /// Environment steps per second of one training generation: the task's default policy
    /// (its initial parameters, `population` perturbed members) through the batched forward,
    /// one episode per member, each member until its episode ends.
    pub rollout_steps_per_s: f64,
    /// Environment steps that generation took.
    pub rollout_steps: u64,
    /// Seconds of the two measurements.
    pub env_s: f64,
    /// Seconds of the rollout generation.
    pub rollout_s: f64,
}

/// Measure `task` (a MuJoCo task) at `population` members, `steps` steps each.
pub fn env(task: &str, population: usize, steps: usize, seed: u64) -> Result<EnvBench> {
    let t = crate::task::find(task)?;
    t.ready()?;
    if population == 0 || population > 1 << 20 {
        return Err(Error::Input {
            what: "--population".into(),
            reason: "must be 1..=1048576".into(),
        });
    }
    if steps == 0 || steps > 1_000_000 {
        return Err(Error::Input {
            what: "--steps".into(),
            reason: "must be 1..=1000000".into(),
        });
    }
    let env_s = t
        .time_env_steps(population, steps, seed)
        .ok_or_else(|| Error::Input {
            what: format!("task `{task}`"),
            reason: "bench env measures the MuJoCo tasks (halfcheetah, hopper, walker2d, ant, \
                 swimmer, humanoid, inverted-pendulum, inverted-double-pendulum, reacher)"
                .into(),
        })??;
    let population_even = population + population % 2;
    let config = resolve(
        task,
        None,
        &[],
        &[
            ("es.population_size", (population_even as i64).into()),
            ("evaluation.episodes", 1i64.into()),
            ("es.seed", (seed as i64).into()),
        ],
    )?;
    let mut built = t.build(&config)?;
    let mut strategy = build_strategy(&config, &built.params)?;
    let pop = strategy.ask(&built.params, 0)?;
    let start = std::time::Instant::now();
    built
        .evaluator
        .evaluate_members(&built.params, &pop, 0..population_even)?;
    let rollout_s = start.elapsed().as_secs_f64();
    let rollout_steps = built.evaluator.env_steps();
    Ok(EnvBench {
        task: task.into(),
        population,
        steps,
        threads: rayon::current_num_threads(),
        env_steps_per_s: (population * steps) as f64 / env_s,
        rollout_steps_per_s: rollout_steps as f64 / rollout_s,
        rollout_steps,
        env_s,
        rollout_s,
    })
}
