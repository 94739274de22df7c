//! The control tasks: one for every environment in [`eggroll_envs::registry::ENVS`]
//! (`cartpole`, `pendulum`, `acrobot`, `mountaincar`, `mountaincar-continuous` and the nine
//! MuJoCo v5 tasks `halfcheetah` … `reacher`). A control task is its environment's
//! [`EnvSpec`]: the name, the tuned defaults (TOML layers over [`RunConfig::default`]), the
//! action head (argmax over `n` outputs for `Discrete(n)`, a tanh scaled to the box
//! otherwise), the vectorised environment and the live view. A new environment registered
//! there is a new task here with nothing to write.
//!
//! The locomotion tasks' policy is ARS's: linear (no hidden layer; `policy.hidden` adds
//! layers) on normalised observations. Every member of a generation runs the same episode
//! seeds, so antithetic pairs share their episodes.

use eggroll_envs::mujoco::MujocoError;
use eggroll_envs::registry::{ActionSpec, ENVS, EnvSpec};
use eggroll_policies::Head;

use super::{Built, ControlSpec, Task, build_control};
use crate::config::RunConfig;
use crate::error::{Error, Result};

/// The task of one registered environment.
#[derive(Debug, Clone, Copy)]
pub struct EnvTask(pub &'static EnvSpec);

/// One task per registered environment, in the registry's order.
pub(super) static ENV_TASKS: [EnvTask; ENVS.len()] = {
    let mut tasks = [EnvTask(ENVS[0]); ENVS.len()];
    let mut i = 0;
    while i < ENVS.len() {
        tasks[i] = EnvTask(ENVS[i]);
        i += 1;
    }
    tasks
};

impl EnvTask {
    fn error(&self, e: MujocoError) -> Error {
        Error::Input {
            what: format!("task `{}`", self.0.task),
            reason: e.to_string(),
        }
    }
}

impl Task for EnvTask {
    fn name(&self) -> &'static str {
        self.0.task
    }
    fn defaults(&self, c: &mut RunConfig) {
        // Every registered layer is checked by `every_environment_task_has_valid_defaults`.
        c.apply_toml(self.0.defaults)
            .unwrap_or_else(|e| panic!("defaults of `{}`: {e}", self.0.task));
    }
    fn ready(&self) -> Result<()> {
        self.0.ready().map_err(|e| self.error(e))
    }
    fn time_env_steps(&self, n: usize, steps: usize, seed: u64) -> Option<Result<f64>> {
        let time = self.0.time_steps?;
        Some(time(n, steps, seed).map_err(|e| self.error(e)))
    }
    fn build(&self, config: &RunConfig) -> Result<Built> {
        self.ready()?;
        build_control(config, self.control().expect("a control task"))
    }
    fn control(&self) -> Option<ControlSpec> {
        let spec = self.0;
        Some(ControlSpec {
            observations: spec.observations,
            outputs: spec.action.outputs(),
            head: match spec.action {
                ActionSpec::Discrete(_) => Head::Argmax,
                ActionSpec::Box { dim, low, high } => Head::TanhScaled {
                    low: vec![low; dim],
                    high: vec![high; dim],
                },
            },
            env: spec.vec,
            view: spec.view,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_environment_task_has_valid_defaults() {
        for task in &ENV_TASKS {
            let mut c = RunConfig::default();
            c.apply_toml(task.0.defaults)
                .unwrap_or_else(|e| panic!("{}: {e}", task.0.task));
            assert_ne!(
                toml::to_string(&c).unwrap(),
                toml::to_string(&RunConfig::default()).unwrap(),
                "{}",
                task.0.task
            );
        }
    }
}
