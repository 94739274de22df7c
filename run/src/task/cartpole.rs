//! `cartpole`: Gymnasium's CartPole-v1, argmax head over two outputs.

use eggroll_envs::vec::CartPoleVec;
use eggroll_policies::Head;

use super::{ControlSpec, Scene, Shape, Task};
use crate::config::RunConfig;

/// CartPole-v1: solved at a mean return ≥ 475 over 100 fresh episodes.
pub struct CartPole;

impl Task for CartPole {
    fn name(&self) -> &'static str {
        "cartpole"
    }
    fn defaults(&self, c: &mut RunConfig) {
        // Chosen by scripts/sweep-control.sh (see its header for the grid and results).
        c.stop.generations = 100;
        c.evaluation.solved_at = 475.0;
        c.evaluation.eval_every = 1;
        c.stop.early_stop_at = Some(475.0);
        c.policy.hidden = vec![16];
        c.es.population_size = 256;
        c.es.rank = 1;
        c.es.sigma = 0.2;
        c.es.learning_rate = 0.1;
        c.es.optimizer = eggroll_core::OptimizerConfig::Sgd { momentum: 0.0 };
    }
    fn control(&self) -> Option<ControlSpec> {
        Some(ControlSpec {
            observations: 4,
            outputs: 2,
            head: Head::Argmax,
            env: |n| Box::new(CartPoleVec::new(n)),
            view,
        })
    }
}

/// The cart on its track and the pole (observation `[x, ẋ, θ, θ̇]`; the pole is 1 m).
fn view(obs: &[f32]) -> Scene {
    let (x, theta) = (obs[0], obs[2]);
    Scene {
        bounds: [-2.4, 2.4, -0.6, 1.4],
        shapes: vec![
            Shape::Line {
                from: [-2.4, -0.15],
                to: [2.4, -0.15],
                width: 1.0,
                color: [128, 128, 128],
            },
            Shape::Rect {
                center: [x, 0.0],
                size: [0.5, 0.3],
                color: [60, 60, 60],
            },
            Shape::Line {
                from: [x, 0.0],
                to: [x + theta.sin(), theta.cos()],
                width: 6.0,
                color: [204, 153, 102],
            },
        ],
    }
}
