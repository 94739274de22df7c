//! `mountaincar` and `mountaincar-continuous`: Gymnasium's MountainCar-v0 (three discrete
//! pushes, −1 per step) and MountainCarContinuous-v0 (a force in [−1, 1], −0.1·a² per step,
//! +100 at the goal).

use eggroll_envs::vec::{MountainCarContinuousVec, MountainCarVec};
use eggroll_policies::Head;

use super::{ControlSpec, Scene, Shape, Task};
use crate::config::RunConfig;

/// MountainCar-v0: solved at a mean return ≥ −110 (Gymnasium's reward threshold).
pub struct MountainCar;

/// MountainCarContinuous-v0: solved at a mean return ≥ 90 (Gymnasium's reward threshold).
pub struct MountainCarContinuous;

fn defaults(c: &mut RunConfig) {
    c.stop.generations = 300;
    c.evaluation.eval_every = 5;
    c.evaluation.keep_best_eval = true;
    c.policy.hidden = vec![32];
    c.policy.obs_norm = true;
    c.es.population_size = 256;
    c.es.rank = 1;
    c.es.sigma = 0.5;
    c.es.learning_rate = 0.1;
    c.es.optimizer = eggroll_core::OptimizerConfig::Sgd { momentum: 0.0 };
}

impl Task for MountainCar {
    fn name(&self) -> &'static str {
        "mountaincar"
    }
    fn defaults(&self, c: &mut RunConfig) {
        defaults(c);
        // Sparse reward: four episodes per member, a wider net and σ = 1 (scripts/sweep-control.sh).
        c.stop.generations = 500;
        c.evaluation.episodes = 4;
        c.policy.hidden = vec![64];
        c.es.sigma = 1.0;
        c.evaluation.solved_at = -110.0;
        c.stop.early_stop_at = Some(-105.0);
    }
    fn control(&self) -> Option<ControlSpec> {
        Some(ControlSpec {
            observations: 2,
            outputs: 3,
            head: Head::Argmax,
            env: |n| Box::new(MountainCarVec::new(n)),
            view: |obs| view(obs, 0.5),
        })
    }
}

impl Task for MountainCarContinuous {
    fn name(&self) -> &'static str {
        "mountaincar-continuous"
    }
    fn defaults(&self, c: &mut RunConfig) {
        defaults(c);
        c.evaluation.solved_at = 90.0;
        c.stop.early_stop_at = Some(93.0);
    }
    fn control(&self) -> Option<ControlSpec> {
        Some(ControlSpec {
            observations: 2,
            outputs: 1,
            head: Head::TanhScaled {
                low: vec![-1.0],
                high: vec![1.0],
            },
            env: |n| Box::new(MountainCarContinuousVec::new(n)),
            view: |obs| view(obs, 0.45),
        })
    }
}

/// The hill `y = 0.45 sin(3x) + 0.55`, the car on it and the goal flag at `goal`
/// (observation `[position, velocity]`).
fn view(obs: &[f32], goal: f32) -> Scene {
    let height = |x: f32| 0.45 * (3.0 * x).sin() + 0.55;
    let mut shapes: Vec<Shape> = (0..36)
        .map(|i| {
            let (a, b) = (-1.2 + 0.05 * i as f32, -1.2 + 0.05 * (i + 1) as f32);
            Shape::Line {
                from: [a, height(a)],
                to: [b, height(b)],
                width: 2.0,
                color: [90, 90, 90],
            }
        })
        .collect();
    shapes.push(Shape::Line {
        from: [goal, height(goal)],
        to: [goal, height(goal) + 0.15],
        width: 2.0,
        color: [204, 153, 0],
    });
    shapes.push(Shape::Circle {
        center: [obs[0], height(obs[0]) + 0.04],
        radius: 7.0,
        color: [204, 77, 77],
    });
    Scene {
        bounds: [-1.25, 0.65, -0.05, 1.2],
        shapes,
    }
}
