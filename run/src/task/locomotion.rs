//! Gymnasium's MuJoCo v5 tasks (`halfcheetah`, `hopper`, `walker2d`, `ant`, `swimmer`,
//! `humanoid`, `inverted-pendulum`, `inverted-double-pendulum`, `reacher`): one generic task
//! over [`eggroll_envs::mujoco::Task`], with each environment's tuned defaults in [`TASKS`].
//!
//! The policy is ARS's: linear (no hidden layer; `policy.hidden` adds layers) on normalised
//! observations, through a tanh head scaled to the action box. Every member of a generation
//! runs the same episode seeds, so antithetic pairs share their episodes.

use std::marker::PhantomData;

use eggroll_envs::mujoco::{self, MujocoVec};
use eggroll_envs::vec::VecEnv;
use eggroll_policies::Head;

use super::{Built, ControlSpec, Scene, Task, build_control};
use crate::config::RunConfig;
use crate::error::{Error, Result};

/// A MuJoCo task: the environment `T`, its name and its defaults.
pub struct Locomotion<T> {
    name: &'static str,
    tune: fn(&mut RunConfig),
    _env: PhantomData<fn() -> T>,
}

impl<T: mujoco::Task> Locomotion<T> {
    const fn new(name: &'static str, tune: fn(&mut RunConfig)) -> Self {
        Self {
            name,
            tune,
            _env: PhantomData,
        }
    }
}

fn make_env<T: mujoco::Task>(n: usize) -> Box<dyn VecEnv> {
    // `Task::ready` has opened the library and compiled the model before any factory call.
    Box::new(MujocoVec::<T>::new(n).expect("MuJoCo checked by Task::ready"))
}

impl<T: mujoco::Task> Task for Locomotion<T> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn defaults(&self, c: &mut RunConfig) {
        c.policy.hidden = vec![];
        c.policy.obs_norm = true;
        c.evaluation.episodes = 1;
        c.evaluation.eval_episodes = 10;
        c.evaluation.keep_best_eval = true;
        c.es.rank = 1;
        (self.tune)(c);
    }
    fn ready(&self) -> Result<()> {
        mujoco::model::<T>().map(|_| ()).map_err(|e| Error::Input {
            what: format!("task `{}`", self.name),
            reason: e.to_string(),
        })
    }
    fn time_env_steps(&self, n: usize, steps: usize, seed: u64) -> Option<Result<f64>> {
        Some(
            mujoco::time_steps::<T>(n, steps, seed).map_err(|e| Error::Input {
                what: format!("task `{}`", self.name),
                reason: e.to_string(),
            }),
        )
    }
    fn build(&self, config: &RunConfig) -> Result<Built> {
        self.ready()?;
        build_control(config, self.control().expect("a control task"))
    }
    fn control(&self) -> Option<ControlSpec> {
        Some(ControlSpec {
            observations: T::OBS_DIM,
            outputs: T::ACTION_DIM,
            head: Head::TanhScaled {
                low: vec![-T::ACTION_HIGH; T::ACTION_DIM],
                high: vec![T::ACTION_HIGH; T::ACTION_DIM],
            },
            env: make_env::<T>,
            view: |_| Scene {
                bounds: [-1.0, 1.0, -1.0, 1.0],
                shapes: vec![],
            },
        })
    }
}

/// HalfCheetah-v5 (ARS threshold 3430).
pub const HALF_CHEETAH: Locomotion<mujoco::HalfCheetah> = Locomotion::new("halfcheetah", |c| {
    c.evaluation.solved_at = 3430.0;
    c.stop.time_budget_s = Some(600.0);
    c.stop.generations = 100_000;
    c.evaluation.eval_every = 10;
    c.es.population_size = 64;
    c.es.sigma = 0.03;
    c.es.learning_rate = 0.02;
});

/// Hopper-v5 (ARS threshold 3120).
pub const HOPPER: Locomotion<mujoco::Hopper> = Locomotion::new("hopper", |c| {
    c.evaluation.solved_at = 3120.0;
    c.stop.time_budget_s = Some(600.0);
    c.stop.generations = 100_000;
    c.evaluation.eval_every = 10;
    c.es.population_size = 64;
    c.es.sigma = 0.03;
    c.es.learning_rate = 0.02;
});

/// Walker2d-v5 (ARS threshold 4390).
pub const WALKER2D: Locomotion<mujoco::Walker2d> = Locomotion::new("walker2d", |c| {
    c.evaluation.solved_at = 4390.0;
    c.stop.time_budget_s = Some(600.0);
    c.stop.generations = 100_000;
    c.evaluation.eval_every = 10;
    c.es.population_size = 64;
    c.es.sigma = 0.03;
    c.es.learning_rate = 0.02;
});

/// Ant-v5 (ARS threshold 3580).
pub const ANT: Locomotion<mujoco::Ant> = Locomotion::new("ant", |c| {
    c.evaluation.solved_at = 3580.0;
    c.stop.time_budget_s = Some(600.0);
    c.stop.generations = 100_000;
    c.evaluation.eval_every = 10;
    c.es.population_size = 64;
    c.es.sigma = 0.03;
    c.es.learning_rate = 0.02;
});

/// Swimmer-v5 (ARS threshold 325).
pub const SWIMMER: Locomotion<mujoco::Swimmer> = Locomotion::new("swimmer", |c| {
    c.evaluation.solved_at = 325.0;
    c.stop.time_budget_s = Some(600.0);
    c.stop.generations = 100_000;
    c.evaluation.eval_every = 10;
    c.es.population_size = 32;
    c.es.sigma = 0.1;
    c.es.learning_rate = 0.02;
});

/// Humanoid-v5 (ARS threshold 6000).
pub const HUMANOID: Locomotion<mujoco::Humanoid> = Locomotion::new("humanoid", |c| {
    c.evaluation.solved_at = 6000.0;
    c.stop.time_budget_s = Some(600.0);
    c.stop.generations = 100_000;
    c.evaluation.eval_every = 10;
    c.es.population_size = 128;
    c.es.sigma = 0.01;
    c.es.learning_rate = 0.02;
});

/// InvertedPendulum-v5 (solved at 950).
pub const INVERTED_PENDULUM: Locomotion<mujoco::InvertedPendulum> =
    Locomotion::new("inverted-pendulum", |c| {
        c.evaluation.solved_at = 950.0;
        c.stop.early_stop_at = Some(1000.0);
        c.stop.time_budget_s = Some(600.0);
        c.stop.generations = 100_000;
        c.evaluation.eval_every = 5;
        c.es.population_size = 32;
        c.es.sigma = 0.05;
        c.es.learning_rate = 0.05;
    });

/// InvertedDoublePendulum-v5 (solved at 9100).
pub const INVERTED_DOUBLE_PENDULUM: Locomotion<mujoco::InvertedDoublePendulum> =
    Locomotion::new("inverted-double-pendulum", |c| {
        c.evaluation.solved_at = 9100.0;
        c.stop.early_stop_at = Some(9300.0);
        c.stop.time_budget_s = Some(600.0);
        c.stop.generations = 100_000;
        c.evaluation.eval_every = 5;
        c.es.population_size = 64;
        c.es.sigma = 0.05;
        c.es.learning_rate = 0.05;
    });

/// Reacher-v5 (solved at −3.75).
pub const REACHER: Locomotion<mujoco::Reacher> = Locomotion::new("reacher", |c| {
    c.evaluation.solved_at = -3.75;
    c.stop.time_budget_s = Some(600.0);
    c.stop.generations = 100_000;
    c.evaluation.eval_every = 10;
    c.evaluation.episodes = 4;
    c.es.population_size = 64;
    c.es.sigma = 0.05;
    c.es.learning_rate = 0.02;
});
