//! `pendulum`: Gymnasium's Pendulum-v1, tanh head scaled to the torque range [−2, 2].

use eggroll_envs::vec::PendulumVec;
use eggroll_policies::Head;

use super::{ControlSpec, Scene, Shape, Task};
use crate::config::RunConfig;

/// Pendulum-v1: solved at a mean return ≥ −200.
pub struct Pendulum;

impl Task for Pendulum {
    fn name(&self) -> &'static str {
        "pendulum"
    }
    fn defaults(&self, c: &mut RunConfig) {
        c.stop.generations = 600;
        c.evaluation.solved_at = -200.0;
        c.evaluation.eval_every = 10;
        c.stop.early_stop_at = Some(-170.0);
        c.evaluation.keep_best_eval = true;
        c.evaluation.episodes = 4;
        c.policy.hidden = vec![32, 32];
        c.es.population_size = 256;
        c.es.rank = 1;
        c.es.sigma = 0.1;
        c.es.learning_rate = 0.1;
    }
    fn control(&self) -> Option<ControlSpec> {
        Some(ControlSpec {
            observations: 3,
            outputs: 1,
            head: Head::TanhScaled {
                low: vec![-2.0],
                high: vec![2.0],
            },
            env: |n| Box::new(PendulumVec::new(n)),
            view,
        })
    }
}

/// The pendulum from its pivot (observation `[cos θ, sin θ, θ̇]`; θ = 0 is upright).
fn view(obs: &[f32]) -> Scene {
    Scene {
        bounds: [-1.25, 1.25, -1.25, 1.25],
        shapes: vec![
            Shape::Line {
                from: [0.0, 0.0],
                to: [obs[1], obs[0]],
                width: 8.0,
                color: [204, 77, 77],
            },
            Shape::Circle {
                center: [0.0, 0.0],
                radius: 4.0,
                color: [0, 0, 0],
            },
        ],
    }
}
