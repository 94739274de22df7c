//! `acrobot`: Gymnasium's Acrobot-v1, argmax head over three torques.

use eggroll_envs::vec::AcrobotVec;
use eggroll_policies::Head;

use super::{ControlSpec, Scene, Shape, Task};
use crate::config::RunConfig;

/// Acrobot-v1: solved at a mean return ≥ −100 (Gymnasium's reward threshold).
pub struct Acrobot;

impl Task for Acrobot {
    fn name(&self) -> &'static str {
        "acrobot"
    }
    fn defaults(&self, c: &mut RunConfig) {
        c.stop.generations = 200;
        c.stop.early_stop_at = Some(-80.0);
        c.evaluation.solved_at = -100.0;
        c.evaluation.eval_every = 5;
        c.evaluation.keep_best_eval = true;
        c.policy.hidden = vec![32];
        c.policy.obs_norm = true;
        c.es.population_size = 256;
        c.es.rank = 1;
        c.es.sigma = 0.2;
        c.es.learning_rate = 0.1;
        c.es.optimizer = eggroll_core::OptimizerConfig::Sgd { momentum: 0.0 };
    }
    fn control(&self) -> Option<ControlSpec> {
        Some(ControlSpec {
            observations: 6,
            outputs: 3,
            head: Head::Argmax,
            env: |n| Box::new(AcrobotVec::new(n)),
            view,
        })
    }
}

/// Two links from the pivot (θ = 0 hangs down) and the bar the free end must rise above
/// (observation `[cos θ1, sin θ1, cos θ2, sin θ2, θ̇1, θ̇2]`).
fn view(obs: &[f32]) -> Scene {
    let t1 = obs[1].atan2(obs[0]);
    let t2 = obs[3].atan2(obs[2]);
    let p1 = [t1.sin(), -t1.cos()];
    let p2 = [p1[0] + (t1 + t2).sin(), p1[1] - (t1 + t2).cos()];
    let link = |from, to| Shape::Line {
        from,
        to,
        width: 6.0,
        color: [0, 102, 204],
    };
    Scene {
        bounds: [-2.2, 2.2, -2.2, 2.2],
        shapes: vec![
            Shape::Line {
                from: [-2.2, 1.0],
                to: [2.2, 1.0],
                width: 1.0,
                color: [128, 128, 128],
            },
            link([0.0, 0.0], p1),
            link(p1, p2),
            Shape::Circle {
                center: [0.0, 0.0],
                radius: 4.0,
                color: [0, 0, 0],
            },
        ],
    }
}
