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
    fitness: MnistFitness,
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
            fitness: MnistFitness::Bandit,
            x: Vec::new(),
            out: Vec::new(),
        })
    }

    /// Score members by `fitness` (default: the bandit reward).
    pub fn with_fitness(mut self, fitness: MnistFitness) -> Self {
        self.fitness = fitness;
        self
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
        let idx = draw_batch(
            &self.data,
            self.seed,
            population.generation,
            self.batch,
            &mut self.x,
        );
        let b = idx.len();
        self.out.resize(members.len() * b * 10, 0.0);
        Forward::new(&self.policy, params, Some(population))?.forward_shared(
            &self.x,
            members,
            &mut self.out,
        )?;
        Ok(self
            .out
            .chunks(b * 10)
            .map(|member| score(self.fitness, member, &idx, &self.data.labels))
            .collect())
    }
}

/// Accuracy of the unperturbed `params` on every image of `data`.
pub fn accuracy(policy: &MlpConfig, params: &Params, data: &Dataset) -> Result<f64> {
    let fwd = Forward::new(policy, params, None)?;
    let mut y = vec![0.0f32; 2048 * 10];
    accuracy_by(data, 2048, |x, rows| {
        fwd.forward(x, None, &mut y[..rows * 10])?;
        Ok(y[..rows * 10].to_vec())
    })
}

/// Accuracy on every image of `data`, `chunk` images at a time through `logits` (the images
/// of one chunk and their count → `rows × 10` outputs).
fn accuracy_by(
    data: &Dataset,
    chunk: usize,
    mut logits: impl FnMut(&[f32], usize) -> Result<Vec<f32>>,
) -> Result<f64> {
    let p = data.pixels();
    let mut correct = 0usize;
    let mut x = vec![0.0f32; chunk * p];
    for start in (0..data.len()).step_by(chunk) {
        let rows = chunk.min(data.len() - start);
        for r in 0..rows {
            data.image_into(start + r, &mut x[r * p..(r + 1) * p]);
        }
        let y = logits(&x[..rows * p], rows)?;
        correct += (0..rows)
            .filter(|&r| {
                Head::argmax(&y[r * 10..(r + 1) * 10]) == i64::from(data.labels[start + r])
            })
            .count();
    }
    Ok(correct as f64 / data.len() as f64)
}

/// The generation's shared batch: `batch` image indices drawn from `(seed, generation)` and
/// their pixels written into `x`.
/// The training batch of `generation` (images into `x`, row-major pixels in [0, 1]; returns
/// their indices): every evaluator and the backprop baseline draw batches this way.
pub fn draw_batch(
    data: &Dataset,
    seed: u64,
    generation: u64,
    batch: usize,
    x: &mut Vec<f32>,
) -> Vec<usize> {
    let mut rng = Pcg64::new(mix64(seed ^ mix64(generation + 1)));
    let idx = sample_indices(&mut rng, data.len(), batch);
    let p = data.pixels();
    x.resize(idx.len() * p, 0.0);
    for (row, &i) in x.chunks_mut(p).zip(&idx) {
        data.image_into(i, row);
    }
    idx
}

/// What a member's fitness on its batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MnistFitness {
    /// The bandit reward: the fraction of the batch classified right (labels are only a
    /// reward).
    #[default]
    Bandit,
    /// The mean log-likelihood of the true labels under the softmax of the outputs.
    LogLikelihood,
}

/// Members evaluated per forward call (bounds the rows held at once).
const MEMBER_CHUNK: usize = 32;

/// MNIST fitness for any [`crate::nn::Model`] (e.g. a CNN over `[1, 28, 28]` rows): every
/// member classifies the same batch of `batch` training images, drawn per generation from
/// `(seed, generation)` as in [`MnistEvaluator`].
pub struct ModelMnistEvaluator {
    model: Arc<crate::nn::Model>,
    data: Arc<Dataset>,
    batch: usize,
    seed: u64,
    fitness: MnistFitness,
}

impl ModelMnistEvaluator {
    /// An evaluator of `model` (10 outputs, input rows of the image's pixels) over `data`.
    pub fn new(
        model: Arc<crate::nn::Model>,
        data: Arc<Dataset>,
        batch: usize,
        seed: u64,
        fitness: MnistFitness,
    ) -> Result<Self> {
        if batch == 0 {
            return Err(Error::InvalidConfig {
                field: "batch".into(),
                reason: "is 0; must be ≥ 1".into(),
            });
        }
        let pixels: usize = model.input_shape().iter().product();
        let outputs: usize = model.output_shape().iter().product();
        if pixels != data.pixels() || outputs != 10 {
            return Err(Error::InvalidConfig {
                field: "policy.model".into(),
                reason: format!(
                    "the model maps {:?} to {:?}; MNIST needs {} pixels to 10 digits",
                    model.input_shape(),
                    model.output_shape(),
                    data.pixels()
                ),
            });
        }
        Ok(Self {
            model,
            data,
            batch,
            seed,
            fitness,
        })
    }

    /// The model.
    pub fn model(&self) -> &crate::nn::Model {
        &self.model
    }
}

/// One member's fitness from its outputs (`batch × 10`) on the images `idx`.
fn score(fitness: MnistFitness, outputs: &[f32], idx: &[usize], labels: &[u8]) -> f32 {
    let rows = outputs.chunks(10).zip(idx);
    let b = idx.len() as f32;
    match fitness {
        MnistFitness::Bandit => {
            rows.filter(|(y, i)| Head::argmax(y) == i64::from(labels[**i]))
                .count() as f32
                / b
        }
        MnistFitness::LogLikelihood => {
            rows.map(|(y, i)| crate::nn::log_softmax_at(y, labels[*i] as usize))
                .sum::<f64>() as f32
                / b
        }
    }
}

impl Evaluator for ModelMnistEvaluator {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        let mut images = Vec::new();
        let idx = draw_batch(
            &self.data,
            self.seed,
            population.generation,
            self.batch,
            &mut images,
        );
        let b = idx.len();
        let mut fitness = Vec::with_capacity(members.len());
        let all: Vec<usize> = members.collect();
        for chunk in all.chunks(MEMBER_CHUNK) {
            let range = chunk[0]..chunk[chunk.len() - 1] + 1;
            let y = self
                .model
                .forward_shared(params, population, &images, range)?;
            for member in y.chunks(b * 10) {
                fitness.push(score(self.fitness, member, &idx, &self.data.labels));
            }
        }
        Ok(fitness)
    }
}

/// Accuracy of `model` with the unperturbed `params` on every image of `data`.
pub fn model_accuracy(model: &crate::nn::Model, params: &Params, data: &Dataset) -> Result<f64> {
    accuracy_by(data, 1024, |x, _| model.forward(params, None, x, None))
}

/// What rebuilds a `--model cnn` network (saved in its policy file's metadata `cnn`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CnnSpec {
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
    /// Convolution widths.
    pub channels: Vec<usize>,
}

impl CnnSpec {
    /// The network (see [`cnn`]).
    pub fn build(&self) -> Result<crate::nn::Model> {
        cnn(self.rows, self.cols, &self.channels)
    }
}

/// The `--model cnn` network for `rows × cols` grey images: for each width in `channels` a
/// stride-2 convolution (5×5 padding 2 for the first, 3×3 padding 1 after) and a ReLU, then
/// flatten and a linear layer to 10 digits. Names: `convs.<i>.weight`, `convs.<i>.bias`,
/// `head.weight`, `head.bias` (PyTorch layouts).
pub fn cnn(rows: usize, cols: usize, channels: &[usize]) -> Result<crate::nn::Model> {
    use crate::nn::{Model, Vb, conv2d, flatten, linear, relu, seq};
    if channels.is_empty() || channels.contains(&0) {
        return Err(Error::InvalidConfig {
            field: "policy.channels".into(),
            reason: format!("{channels:?}; needs at least one width, each ≥ 1"),
        });
    }
    let vb = Vb::new();
    let mut net = seq();
    let mut shape = vec![1, rows, cols];
    let mut cin = 1;
    for (i, &c) in channels.iter().enumerate() {
        let (k, pad) = if i == 0 { (5, 2) } else { (3, 1) };
        let conv = conv2d(&vb.pp("convs").pp(i), cin, c, k, 2, pad, true)?;
        shape = crate::nn::Module::out_shape(&conv, &shape)?;
        net = net.add(conv).add(relu());
        cin = c;
    }
    let flat: usize = shape.iter().product();
    let net = net
        .add(flatten())
        .add(linear(&vb.pp("head"), flat, 10, true)?);
    Model::new(net, &vb, &[1, rows, cols])
}

/// A small transformer for MNIST that reads an image as `rows` tokens of `cols` pixels: a
/// linear embedding `cols → dim` with a learned positional embedding, one pre-RMSNorm block
/// (causal self-attention with `heads` heads, then a GELU MLP of width `2·dim`), both residual,
/// then flatten and a linear layer to 10 digits. Names: `embed`, `pos`, `block.attn_norm`,
/// `block.attn`, `block.mlp_norm`, `block.fc1`, `block.fc2`, `head`.
pub fn transformer(rows: usize, cols: usize, dim: usize, heads: usize) -> Result<crate::nn::Model> {
    use crate::nn::{
        Model, Vb, causal_self_attention, flatten, gelu, linear, pos_embedding, residual, rms_norm,
        seq,
    };
    let vb = Vb::new();
    let blk = vb.pp("block");
    let net = seq()
        .add(linear(&vb.pp("embed"), cols, dim, true)?)
        .add(pos_embedding(&vb.pp("pos"), rows, dim)?)
        .add(residual(
            seq()
                .add(rms_norm(&blk.pp("attn_norm"), dim)?)
                .add(causal_self_attention(&blk.pp("attn"), dim, heads)?),
        ))
        .add(residual(
            seq()
                .add(rms_norm(&blk.pp("mlp_norm"), dim)?)
                .add(linear(&blk.pp("fc1"), dim, 2 * dim, true)?)
                .add(gelu())
                .add(linear(&blk.pp("fc2"), 2 * dim, dim, true)?),
        ))
        .add(flatten())
        .add(linear(&vb.pp("head"), rows * dim, 10, true)?);
    Model::new(net, &vb, &[rows, cols])
}
