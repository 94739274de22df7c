//! `cartpole`: Gymnasium's CartPole-v1, argmax head over two outputs.

use eggroll_envs::vec::CartPoleVec;
use eggroll_policies::Head;

use super::{Built, ControlSpec, Task, build_control};
use crate::config::RunConfig;
use crate::error::Result;

/// CartPole-v1: solved at a mean return ≥ 475 over 100 fresh episodes.
pub struct CartPole;

impl Task for CartPole {
    fn name(&self) -> &'static str {
        "cartpole"
    }
    fn defaults(&self, c: &mut RunConfig) {
        // Chosen by scripts/sweep-control.sh (see its header for the grid and results).
        c.generations = 100;
        c.solved_at = 475.0;
        c.eval_every = 1;
        c.early_stop_at = Some(475.0);
        c.policy.hidden = vec![16];
        c.es.population_size = 256;
        c.es.rank = 1;
        c.es.sigma = 0.2;
        c.es.learning_rate = 0.1;
        c.es.optimizer = eggroll_core::OptimizerConfig::Sgd { momentum: 0.0 };
    }
    fn build(&self, config: &RunConfig) -> Result<Built> {
        build_control(config, self.control().expect("a control task"))
    }
    fn control(&self) -> Option<ControlSpec> {
        Some(ControlSpec {
            observations: 4,
            outputs: 2,
            head: Head::Argmax,
            env: |n| Box::new(CartPoleVec::new(n)),
        })
    }
}
