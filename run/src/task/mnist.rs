//! `mnist`: the MNIST contextual bandit (reward 1 for the right digit), every member on the
//! same batch of images through the shared-input forward; the final score is the accuracy on
//! the 10,000 test images.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use eggroll_core::{Evaluator, Params, Population};
use eggroll_envs::mnist::{Dataset, Split, mnist_dir};
use eggroll_policies::EvalReport;
use eggroll_policies::mnist::{MnistEvaluator, accuracy};

use super::{Built, Task, TaskEvaluator, check_memory, mlp};
use crate::config::RunConfig;
use crate::error::{Error, Result};

/// MNIST bandit: solved at a test accuracy ≥ 0.90.
pub struct Mnist;

impl Task for Mnist {
    fn name(&self) -> &'static str {
        "mnist"
    }
    fn defaults(&self, c: &mut RunConfig) {
        c.stop.generations = 2000;
        c.evaluation.solved_at = 0.90;
        c.policy.hidden = vec![128];
        c.data.batch = 256;
        c.es.population_size = 512;
        c.es.rank = 1;
        c.es.sigma = 0.05;
        c.es.learning_rate = 0.01;
    }
    fn build(&self, config: &RunConfig) -> Result<Built> {
        let dir = mnist_dir(config.data.dir.as_deref().map(Path::new));
        let train = Dataset::load(&dir, Split::Train)?;
        let test = Dataset::load(&dir, Split::Test)?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(Error::Input {
                what: format!("MNIST in {}", dir.display()),
                reason: format!(
                    "training images are {}×{} but test images {}×{}",
                    train.rows, train.cols, test.rows, test.cols
                ),
            });
        }
        let policy = mlp(&config.policy, train.pixels(), 10);
        check_memory(config, Some(&policy), Some((train.len(), train.pixels())))?;
        let test = Arc::new(test);
        let evaluator = MnistTask {
            eval: MnistEvaluator::new(
                policy.clone(),
                Arc::new(train),
                config.data.batch,
                config.es.seed,
            )?,
            test: test.clone(),
        };
        Ok(Built {
            params: policy.init(config.es.seed, &candle_core::Device::Cpu)?,
            policy: Some(policy),
            evaluator: Box::new(evaluator),
            images: Some(test),
        })
    }
}

/// The MNIST evaluator plus the test split for the final accuracy.
pub struct MnistTask {
    eval: MnistEvaluator,
    test: Arc<Dataset>,
}

impl Evaluator for MnistTask {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: Range<usize>,
    ) -> eggroll_core::Result<Vec<f32>> {
        self.eval.evaluate_members(params, population, members)
    }
}

impl TaskEvaluator for MnistTask {
    fn final_score(
        &mut self,
        params: &Params,
        _: usize,
        _: u64,
    ) -> Result<(f64, Option<EvalReport>)> {
        Ok((accuracy(self.eval.policy(), params, &self.test)?, None))
    }
    fn score_name(&self) -> &'static str {
        "test_accuracy"
    }
}
