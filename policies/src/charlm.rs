//! Character-level language modelling on bytes (vocabulary 256): the models of
//! `eggroll train charlm` built from the population layers, the population fitness (minus the
//! mean cross-entropy in bits per byte on a shared batch of sequences), held-out bits per byte
//! and the unigram/bigram count baselines.

use std::sync::Arc;

use rayon::prelude::*;

use eggroll_core::noise::mix64;
use eggroll_core::{Error, Evaluator, Params, Population, Result};
use eggroll_envs::rng::Pcg64;

use crate::nn::{
    Model, Vb, causal_self_attention, embedding, gelu, linear, min_gru, pos_embedding, residual,
    rms_norm, seq,
};

/// Bytes.
pub const VOCAB: usize = 256;

/// Which sequence model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LmKind {
    /// Pre-norm transformer blocks: causal self-attention and a GELU MLP, each residual.
    Transformer,
    /// Residual pre-norm minGRU blocks.
    Mingru,
}

/// What builds a language model (saved with its policy).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LmSpec {
    /// The architecture.
    pub kind: LmKind,
    /// Embedding width.
    pub width: usize,
    /// Blocks.
    pub depth: usize,
    /// Attention heads (transformer).
    pub heads: usize,
    /// Sequence length the model reads (its context).
    pub context: usize,
    /// The transformer's ALiBi recency bias: the `base` of
    /// [`crate::nn::CausalSelfAttention::with_alibi`] (None: none; policies saved before this
    /// field read as None).
    #[serde(default)]
    pub alibi: Option<f32>,
}

impl LmSpec {
    /// The model: rows of `context` byte ids to `context × 256` next-byte logits. Names:
    /// `tok`, `pos`, `blocks.<i>.{norm1,attn,norm2,mlp.fc1,mlp.fc2}` or
    /// `blocks.<i>.{norm,rnn}`, `norm`, `head`.
    pub fn build(&self) -> Result<Model> {
        let bad = |reason: String| Error::InvalidConfig {
            field: "policy".into(),
            reason,
        };
        if let Some(base) = self.alibi
            && !(base.is_finite() && base >= 0.0)
        {
            return Err(Error::InvalidConfig {
                field: "policy.alibi".into(),
                reason: format!("{base} is not a finite number ≥ 0"),
            });
        }
        if self.width == 0 || self.depth == 0 || self.context == 0 {
            return Err(bad(format!(
                "width {}, depth {} and context {} must all be ≥ 1",
                self.width, self.depth, self.context
            )));
        }
        let (d, vb) = (self.width, Vb::new());
        let mut net = seq().add(embedding(&vb.pp("tok"), VOCAB, d)?);
        if self.kind == LmKind::Transformer {
            net = net.add(pos_embedding(&vb.pp("pos"), self.context, d)?);
        }
        for i in 0..self.depth {
            let b = vb.pp("blocks").pp(i);
            net = match self.kind {
                LmKind::Transformer => net
                    .add(residual(seq().add(rms_norm(&b.pp("norm1"), d)?).add({
                        let a = causal_self_attention(&b.pp("attn"), d, self.heads)?;
                        match self.alibi {
                            Some(base) => a.with_alibi(base),
                            None => a,
                        }
                    })))
                    .add(residual(
                        seq()
                            .add(rms_norm(&b.pp("norm2"), d)?)
                            .add(linear(&b.pp("mlp").pp("fc1"), d, 4 * d, true)?)
                            .add(gelu())
                            .add(linear(&b.pp("mlp").pp("fc2"), 4 * d, d, true)?),
                    )),
                LmKind::Mingru => net.add(residual(
                    seq()
                        .add(rms_norm(&b.pp("norm"), d)?)
                        .add(min_gru(&b.pp("rnn"), d, d)?),
                )),
            };
        }
        let net =
            net.add(rms_norm(&vb.pp("norm"), d)?)
                .add(linear(&vb.pp("head"), d, VOCAB, true)?);
        Model::new(net, &vb, &[self.context])
    }
}

/// −log2 softmax(y)[label].
fn bits(y: &[f32], label: usize) -> f64 {
    -crate::nn::log_softmax_at(y, label) / std::f64::consts::LN_2
}

/// Fitness = minus the mean bits per byte of every member on the same `batch` windows of
/// `context + 1` bytes drawn per generation from `(seed, generation)` (antithetic pairs and
/// all other members see the same data).
pub struct CharLmEvaluator {
    model: Arc<Model>,
    train: Arc<Vec<u8>>,
    batch: usize,
    context: usize,
    seed: u64,
    member_tokens: u64,
}

impl CharLmEvaluator {
    /// An evaluator of `model` (built by an [`LmSpec`] of this `context`) on `train`.
    pub fn new(
        model: Arc<Model>,
        train: Arc<Vec<u8>>,
        batch: usize,
        context: usize,
        seed: u64,
    ) -> Result<Self> {
        if batch == 0 {
            return Err(Error::InvalidConfig {
                field: "data.batch".into(),
                reason: "is 0; must be ≥ 1".into(),
            });
        }
        if train.len() <= context + 1 {
            return Err(Error::InvalidConfig {
                field: "data".into(),
                reason: format!(
                    "the training text has {} bytes; it needs more than context + 1 = {}",
                    train.len(),
                    context + 1
                ),
            });
        }
        Ok(Self {
            model,
            train,
            batch,
            context,
            seed,
            member_tokens: 0,
        })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Member-tokens scored so far (members × predicted positions).
    pub fn member_tokens(&self) -> u64 {
        self.member_tokens
    }
}

impl Evaluator for CharLmEvaluator {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        let t = self.context;
        let mut rng = Pcg64::new(mix64(self.seed ^ mix64(population.generation + 1)));
        let span = (self.train.len() - t - 1) as u64;
        let starts: Vec<usize> = (0..self.batch)
            .map(|_| (rng.next_u64() % span) as usize)
            .collect();
        let x: Vec<f32> = starts
            .iter()
            .flat_map(|&s| self.train[s..s + t].iter().map(|&b| b as f32))
            .collect();
        let all: Vec<usize> = members.collect();
        let mut fitness = Vec::with_capacity(all.len());
        for chunk in all.chunks(16) {
            let range = chunk[0]..chunk[chunk.len() - 1] + 1;
            let y = self.model.forward_shared(params, population, &x, range)?;
            let scores: Vec<f32> = y
                .par_chunks(self.batch * t * VOCAB)
                .map(|member| {
                    let mut total = 0.0f64;
                    for (w, &s) in starts.iter().enumerate() {
                        for p in 0..t {
                            let row = &member[(w * t + p) * VOCAB..(w * t + p + 1) * VOCAB];
                            total += bits(row, self.train[s + p + 1] as usize);
                        }
                    }
                    -(total / (self.batch * t) as f64) as f32
                })
                .collect();
            fitness.extend(scores);
        }
        self.member_tokens += (all.len() * self.batch * t) as u64;
        Ok(fitness)
    }
}

/// Bits per byte of the unperturbed model on `text`, over its non-overlapping windows of
/// `context + 1` bytes (at most `max_windows` of them, from the start).
pub fn bpb(
    model: &Model,
    params: &Params,
    text: &[u8],
    context: usize,
    max_windows: usize,
) -> Result<f64> {
    let windows = ((text.len().saturating_sub(1)) / context).min(max_windows);
    if windows == 0 {
        return Err(Error::InvalidConfig {
            field: "data".into(),
            reason: format!(
                "the held-out text has {} bytes; it needs more than the context {context}",
                text.len()
            ),
        });
    }
    let mut total = 0.0f64;
    for chunk in (0..windows).collect::<Vec<_>>().chunks(64) {
        let x: Vec<f32> = chunk
            .iter()
            .flat_map(|&w| {
                text[w * context..(w + 1) * context]
                    .iter()
                    .map(|&b| b as f32)
            })
            .collect();
        let y = model.forward(params, None, &x, None)?;
        for (i, &w) in chunk.iter().enumerate() {
            for p in 0..context {
                let row = &y[(i * context + p) * VOCAB..(i * context + p + 1) * VOCAB];
                total += bits(row, text[w * context + p + 1] as usize);
            }
        }
    }
    Ok(total / (windows * context) as f64)
}

/// Unigram and bigram bits per byte (add-one smoothing, counts from `train`) on exactly the
/// positions [`bpb`] scores in `test`.
pub fn ngram_bpb(train: &[u8], test: &[u8], context: usize, max_windows: usize) -> (f64, f64) {
    let mut uni = vec![1.0f64; VOCAB];
    let mut bi = vec![1.0f64; VOCAB * VOCAB];
    for w in train.windows(2) {
        uni[w[1] as usize] += 1.0;
        bi[w[0] as usize * VOCAB + w[1] as usize] += 1.0;
    }
    let uni_total: f64 = uni.iter().sum();
    let row_total: Vec<f64> = bi.chunks(VOCAB).map(|r| r.iter().sum()).collect();
    let windows = ((test.len().saturating_sub(1)) / context).min(max_windows);
    let (mut u, mut b, mut n) = (0.0f64, 0.0f64, 0usize);
    for w in 0..windows {
        for p in 0..context {
            let (prev, next) = (
                test[w * context + p] as usize,
                test[w * context + p + 1] as usize,
            );
            u -= (uni[next] / uni_total).log2();
            b -= (bi[prev * VOCAB + next] / row_total[prev]).log2();
            n += 1;
        }
    }
    let n = n.max(1) as f64;
    (u / n, b / n)
}

/// `bytes` bytes after `prompt`, sampled from `model` at `temperature` (0: the most likely
/// byte) with a stream seeded by `seed`. The model reads the last `context` bytes; a shorter
/// history is padded with spaces on the left.
pub fn sample(
    model: &Model,
    params: &Params,
    context: usize,
    prompt: &[u8],
    bytes: usize,
    seed: u64,
    temperature: f32,
) -> Result<Vec<u8>> {
    let t = context;
    let mut text = prompt.to_vec();
    let mut rng = Pcg64::new(seed);
    for _ in 0..bytes {
        let start = text.len().saturating_sub(t);
        let hist = &text[start..];
        let pad = t - hist.len();
        let x: Vec<f32> = std::iter::repeat_n(b' ', pad)
            .chain(hist.iter().copied())
            .map(f32::from)
            .collect();
        let y = model.forward(params, None, &x, None)?;
        let logits = &y[(t - 1) * VOCAB..t * VOCAB];
        let next = if temperature == 0.0 {
            (0..VOCAB)
                .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
                .expect("256 logits")
        } else {
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let w: Vec<f64> = logits
                .iter()
                .map(|&v| (((v - max) / temperature) as f64).exp())
                .collect();
            let mut u = rng.next_f64() * w.iter().sum::<f64>();
            let mut pick = VOCAB - 1;
            for (i, wi) in w.iter().enumerate() {
                if u < *wi {
                    pick = i;
                    break;
                }
                u -= wi;
            }
            pick
        };
        text.push(next as u8);
    }
    Ok(text[prompt.len()..].to_vec())
}
