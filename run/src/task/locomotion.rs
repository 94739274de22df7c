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

use super::{Built, ControlSpec, Scene, Shape, Task, build_control};
use crate::config::{RunConfig, StrategyKind};
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

/// The posed model as the observation shows it, from the side (x, z) or from above (x, y):
/// capsules as thick segments, spheres as discs, boxes as rectangles, the floor as a line.
/// The observation leaves out the torso's x (and y), so the body stays centred.
fn view<T: mujoco::Task>(obs: &[f32]) -> Scene {
    let Ok(geoms) = mujoco::pose::<T>(obs) else {
        return Scene {
            bounds: [-1.0, 1.0, -1.0, 1.0],
            shapes: Vec::new(),
        };
    };
    let side = T::VIEW == mujoco::View::Side;
    let proj = |p: [f64; 3]| -> [f32; 2] {
        if side {
            [p[0] as f32, p[2] as f32]
        } else {
            [p[0] as f32, p[1] as f32]
        }
    };
    let bodies: Vec<_> = geoms.iter().filter(|g| g.kind != 0).collect();
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for g in &bodies {
        let c = proj(g.pos);
        let r = g.size[0].max(g.size[1]) as f32;
        for k in 0..2 {
            lo[k] = lo[k].min(c[k] - r);
            hi[k] = hi[k].max(c[k] + r);
        }
    }
    if bodies.is_empty() {
        (lo, hi) = ([-1.0; 2], [1.0; 2]);
    }
    let half = ((hi[0] - lo[0]).max(hi[1] - lo[1]) / 2.0 * 1.2).max(0.2);
    let mid = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let bounds = [mid[0] - half, mid[0] + half, mid[1] - half, mid[1] + half];
    let px = 400.0 / (2.0 * half); // pixels per metre in a ~400-pixel view
    let color = |c: [f32; 4]| {
        [
            (c[0] * 255.0) as u8,
            (c[1] * 255.0) as u8,
            (c[2] * 255.0) as u8,
        ]
    };
    let mut shapes = Vec::new();
    if side && geoms.iter().any(|g| g.kind == 0) {
        shapes.push(Shape::Line {
            from: [bounds[0], 0.0],
            to: [bounds[1], 0.0],
            width: 2.0,
            color: [90, 90, 90],
        });
    }
    for g in bodies {
        let c = proj(g.pos);
        match g.kind {
            3 | 5 => {
                let a = proj([
                    g.pos[0] - g.axis[0] * g.size[1],
                    g.pos[1] - g.axis[1] * g.size[1],
                    g.pos[2] - g.axis[2] * g.size[1],
                ]);
                let b = proj([
                    g.pos[0] + g.axis[0] * g.size[1],
                    g.pos[1] + g.axis[1] * g.size[1],
                    g.pos[2] + g.axis[2] * g.size[1],
                ]);
                shapes.push(Shape::Line {
                    from: a,
                    to: b,
                    width: (2.0 * g.size[0] as f32 * px).max(2.0),
                    color: color(g.rgba),
                });
            }
            6 => shapes.push(Shape::Rect {
                center: c,
                size: [
                    2.0 * g.size[0] as f32,
                    2.0 * if side { g.size[2] } else { g.size[1] } as f32,
                ],
                color: color(g.rgba),
            }),
            _ => shapes.push(Shape::Circle {
                center: c,
                radius: (g.size[0] as f32 * px).max(3.0),
                color: color(g.rgba),
            }),
        }
    }
    Scene { bounds, shapes }
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
        c.evaluation.eval_every = 10;
        c.es.rank = 1;
        // A 10-minute budget: the generations that fit in it on the machine at hand.
        c.stop.time_budget_s = Some(600.0);
        c.stop.generations = 100_000;
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
            view: view::<T>,
        })
    }
}

/// HalfCheetah-v5 (ARS threshold 3430).
pub const HALF_CHEETAH: Locomotion<mujoco::HalfCheetah> = Locomotion::new("halfcheetah", |c| {
    c.evaluation.solved_at = 3430.0;
    c.es.population_size = 64;
    c.es.sigma = 0.03;
    c.es.learning_rate = 0.02;
});

/// Hopper-v5 (ARS threshold 3120).
pub const HOPPER: Locomotion<mujoco::Hopper> = Locomotion::new("hopper", |c| {
    c.evaluation.solved_at = 3120.0;
    c.strategy = StrategyKind::Cmaes;
    c.es.population_size = 64;
    c.es.sigma = 0.03;
    c.es.learning_rate = 0.02;
});

/// Walker2d-v5 (ARS threshold 4390).
pub const WALKER2D: Locomotion<mujoco::Walker2d> = Locomotion::new("walker2d", |c| {
    c.evaluation.solved_at = 4390.0;
    c.strategy = StrategyKind::Cmaes;
    c.es.population_size = 64;
    c.es.sigma = 0.03;
    c.es.learning_rate = 0.02;
});

/// Ant-v5 (ARS threshold 3580).
pub const ANT: Locomotion<mujoco::Ant> = Locomotion::new("ant", |c| {
    c.evaluation.solved_at = 3580.0;
    c.es.population_size = 64;
    c.es.sigma = 0.03;
    c.es.learning_rate = 0.02;
});

/// Swimmer-v5 (ARS threshold 325).
pub const SWIMMER: Locomotion<mujoco::Swimmer> = Locomotion::new("swimmer", |c| {
    c.evaluation.solved_at = 325.0;
    c.stop.early_stop_at = Some(340.0);
    c.strategy = StrategyKind::Cmaes;
    c.es.population_size = 32;
    c.es.sigma = 0.1;
    c.es.learning_rate = 0.02;
});

/// Humanoid-v5 (ARS threshold 6000).
pub const HUMANOID: Locomotion<mujoco::Humanoid> = Locomotion::new("humanoid", |c| {
    c.evaluation.solved_at = 6000.0;
    c.es.population_size = 128;
    c.es.sigma = 0.01;
    c.es.learning_rate = 0.02;
});

/// InvertedPendulum-v5 (solved at 950).
pub const INVERTED_PENDULUM: Locomotion<mujoco::InvertedPendulum> =
    Locomotion::new("inverted-pendulum", |c| {
        c.evaluation.solved_at = 950.0;
        c.stop.early_stop_at = Some(1000.0);
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
        c.evaluation.eval_every = 5;
        c.es.population_size = 64;
        c.es.sigma = 0.05;
        c.es.learning_rate = 0.05;
    });

/// Reacher-v5 (solved at −3.75).
pub const REACHER: Locomotion<mujoco::Reacher> = Locomotion::new("reacher", |c| {
    c.evaluation.solved_at = -3.75;
    c.evaluation.episodes = 8;
    c.policy.hidden = vec![32];
    c.es.population_size = 64;
    c.es.sigma = 0.05;
    c.es.learning_rate = 0.02;
});
