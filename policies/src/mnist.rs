//! MNIST as a bandit, evaluated in batch: every member classifies the same batch of training
//! images (common random numbers) and its fitness is its accuracy on that batch — the labels
//! are only ever used as a reward.

use std::sync::Arc;

use eggroll_core::noise::mix64;
use eggroll_core::{Error, Evaluator, Params, Population, Result};
use eggroll_envs::mnist::{Dataset, sample_indices};
use eggroll_envs::rng::Pcg64;

use crate::device::Forward;
use crate::mlp::{Head, MlpConfig};

/// Fitness = accuracy of each member on a batch of `batch` training images drawn per
/// generation from `(seed, generation)`.
pub struct MnistEvaluator {
    policy: MlpConfig,
    data: Arc<Dataset>,
    batch: usize,
    seed: u64,
    x: Vec<f32>,
    out: Vec<f32>,
}

impl MnistEvaluator {
    /// An evaluator over `data` (usually the training split).
    pub fn new(policy: MlpConfig, data: Arc<Dataset>, batch: usize, seed: u64) -> Result<Self> {
        policy.validate()?;
        if batch == 0 {
            return Err(Error::InvalidConfig {
                field: "batch".into(),
                reason: "is 0; must be ≥ 1".into(),
            });
        }
        if policy.sizes[0] != data.pixels() || *policy.sizes.last().expect("validated") != 10 {
            return Err(Error::InvalidConfig {
                field: "policy.sizes".into(),
                reason: format!(
                    "{:?} does not map {} pixels to 10 digits",
                    policy.sizes,
                    data.pixels()
                ),
            });
        }
        Ok(Self {
            policy,
            data,
            batch,
            seed,
            x: Vec::new(),
            out: Vec::new(),
        })
    }

    /// The policy definition.
    pub fn policy(&self) -> &MlpConfig {
        &self.policy
    }
}

impl Evaluator for MnistEvaluator {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        let mut rng = Pcg64::new(mix64(self.seed ^ mix64(population.generation + 1)));
        let idx = sample_indices(&mut rng, self.data.len(), self.batch);
        let (p, b) = (self.data.pixels(), idx.len());
        self.x.resize(b * p, 0.0);
        for (row, &i) in self.x.chunks_mut(p).zip(&idx) {
            self.data.image_into(i, row);
        }
        self.out.resize(members.len() * b * 10, 0.0);
        Forward::new(&self.policy, params, Some(population))?.forward_shared(
            &self.x,
            members,
            &mut self.out,
        )?;
        Ok(self
            .out
            .chunks(b * 10)
            .map(|member| {
                let correct = member
                    .chunks(10)
                    .zip(&idx)
                    .filter(|(y, i)| Head::argmax(y) == i64::from(self.data.labels[**i]))
                    .count();
                correct as f32 / b as f32
            })
            .collect())
    }
}

/// Accuracy of the unperturbed `params` on every image of `data`.
pub fn accuracy(policy: &MlpConfig, params: &Params, data: &Dataset) -> Result<f64> {
    let fwd = Forward::new(policy, params, None)?;
    let p = data.pixels();
    let mut correct = 0usize;
    let chunk = 2048;
    let mut x = vec![0.0f32; chunk * p];
    let mut y = vec![0.0f32; chunk * 10];
    for start in (0..data.len()).step_by(chunk) {
        let rows = chunk.min(data.len() - start);
        for r in 0..rows {
            data.image_into(start + r, &mut x[r * p..(r + 1) * p]);
        }
        fwd.forward(&x[..rows * p], None, &mut y[..rows * 10])?;
        correct += (0..rows)
            .filter(|&r| {
                Head::argmax(&y[r * 10..(r + 1) * 10]) == i64::from(data.labels[start + r])
            })
            .count();
    }
    Ok(correct as f64 / data.len() as f64)
}
