//! `charlm`: a byte-level language model (`--model transformer|mingru`) pretrained by
//! EGGROLL. Every member is scored on the same batch of sequences: fitness = minus the mean
//! cross-entropy in bits per byte. The report adds held-out `test_bpb`, the `unigram_bpb` and
//! `bigram_bpb` count baselines on the same positions, `params` and `member_tokens_per_s`.
//!
//! Data: `train.txt`, `valid.txt`, `test.txt` in `data.dir` (else `EGGROLL_TEXT_DIR`, else
//! `data/text`), made by `scripts/get-text.sh`.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eggroll_core::{Evaluator, Params, Population};
use eggroll_policies::EvalReport;
use eggroll_policies::charlm::{CharLmEvaluator, LmKind, LmSpec, bpb, ngram_bpb};

use super::{Built, Net, Task, TaskEvaluator};
use crate::config::{ModelKind, RunConfig};
use crate::error::{Error, Result};

/// Held-out windows scored for `test_bpb` (and the baselines on the same positions).
const EVAL_WINDOWS: usize = 512;

/// Byte-level language modelling.
pub struct CharLm;

/// The text directory: `flag`, else `EGGROLL_TEXT_DIR`, else `data/text`.
pub fn text_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("EGGROLL_TEXT_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data/text"))
}

/// Read `train.txt`, `valid.txt` and `test.txt` of `dir`; a missing or empty file is an
/// error naming its path and the script that makes it.
pub fn load_text(dir: &Path) -> Result<[Vec<u8>; 3]> {
    let read = |name: &str| -> Result<Vec<u8>> {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| Error::Input {
            what: path.display().to_string(),
            reason: format!("{e}; run scripts/get-text.sh (or pass --data-dir)"),
        })?;
        if bytes.is_empty() {
            return Err(Error::Input {
                what: path.display().to_string(),
                reason: "is empty; run scripts/get-text.sh".into(),
            });
        }
        Ok(bytes)
    };
    Ok([read("train.txt")?, read("valid.txt")?, read("test.txt")?])
}

impl Task for CharLm {
    fn name(&self) -> &'static str {
        "charlm"
    }
    /// The tuned 10-minute run of both models (README: transformer 3.368, minGRU 3.296
    /// bits/byte, below the bigram's 3.640, on the machine behind its figures): N = 512,
    /// batch 4, σ 0.02, lr 0.005 decaying linearly to 10 % over the generations the 600 s
    /// budget allows on this machine, test bits/byte logged every 1,000 generations.
    fn defaults(&self, c: &mut RunConfig) {
        c.stop.generations = 1_000_000;
        c.stop.time_budget_s = Some(600.0);
        c.evaluation.eval_every = 1000;
        c.policy.model = ModelKind::Transformer;
        c.policy.hidden = vec![32];
        c.policy.heads = 2;
        c.policy.alibi = Some(0.0);
        c.data.batch = 4;
        c.data.context = 32;
        c.es.population_size = 512;
        c.es.rank = 1;
        c.es.sigma = 0.02;
        c.es.learning_rate = 0.005;
        c.es.lr_schedule = eggroll_core::Schedule::Budget { floor: 0.1 };
        c.evaluation.solved_at = f32::MIN;
    }
    /// `--model egg`: nano-egg's integer model, one block of width 32 (28,832 int8 parameters;
    /// egg-rs's 128 × 2 layers is `--set policy.hidden=[128,128]`), 128-byte windows, N = 1024,
    /// trained by strategy `egg` with σ = 2⁻⁴ and the vote test's level α from 0.2 to 1/16 of it
    /// over the budget (120 s probes: α 0.05 / 0.2 / 0.5 → 3.97 / 3.74 / 3.78 bits/byte at
    /// N = 512; N 256 / 512 / 1024 at α 0.2 → 3.82 / 3.74 / 3.73; width 64: 3.88).
    fn model_defaults(&self, model: ModelKind, c: &mut RunConfig) {
        if model == ModelKind::Egg {
            c.strategy = eggroll_core::StrategyKind::Egg;
            c.evaluation.eval_every = 500;
            c.policy.hidden = vec![32];
            c.data.context = 128;
            c.es.population_size = 1024;
            c.es.rank = 1;
            c.es.sigma = 0.0625;
            c.es.learning_rate = 0.2;
            c.es.lr_schedule = eggroll_core::Schedule::Budget { floor: 0.0625 };
        }
    }
    fn build(&self, config: &RunConfig) -> Result<Built> {
        if config.policy.model == ModelKind::Egg {
            return build_egg(config);
        }
        let kind = match config.policy.model {
            ModelKind::Transformer => LmKind::Transformer,
            ModelKind::Mingru => LmKind::Mingru,
            other => {
                return Err(Error::Input {
                    what: "policy.model".into(),
                    reason: format!(
                        "charlm trains `transformer`, `mingru` or `egg`, not `{other:?}`"
                    )
                    .to_lowercase(),
                });
            }
        };
        let spec = LmSpec {
            kind,
            width: config.policy.hidden.first().copied().unwrap_or(0),
            depth: config.policy.hidden.len(),
            heads: config.policy.heads,
            context: config.data.context,
            alibi: config.policy.alibi,
        };
        let model = Arc::new(spec.build()?);
        let mut e = crate::limits::Estimate::new();
        e.add("parameters and their copies", &[6, model.num_params()])
            .add(
                "forward rows",
                &[
                    16,
                    config.data.batch,
                    spec.context,
                    8 * spec.width + 2 * 256,
                ],
            )
            .add("noise", &[config.es.population_size, model.num_params()]);
        e.check("es.population_size, policy.hidden, data.batch or data.context")?;
        let dir = text_dir(config.data.dir.as_deref().map(Path::new));
        let [train, _valid, test] = load_text(&dir)?;
        let heldout = Heldout::new(&train, test, spec.context);
        let eval = CharLmEvaluator::new(
            model.clone(),
            Arc::new(train),
            config.data.batch,
            spec.context,
            config.es.seed,
        )?;
        Ok(Built {
            params: model.init(config.es.seed, &candle_core::Device::Cpu)?,
            evaluator: Box::new(CharLmTask {
                eval,
                spec: spec.clone(),
                heldout,
            }),
            images: None,
            net: Some(Net::Lm(spec)),
        })
    }
}

/// What every charlm model reports beside its own evaluator: the held-out text, the count
/// baselines on the positions `test_bpb` is scored on, and the last `test_bpb`.
struct Heldout {
    test: Vec<u8>,
    context: usize,
    unigram: f64,
    bigram: f64,
    test_bpb: f64,
}

impl Heldout {
    fn new(train: &[u8], test: Vec<u8>, context: usize) -> Self {
        let (unigram, bigram) = ngram_bpb(train, &test, context, EVAL_WINDOWS);
        Self {
            test,
            context,
            unigram,
            bigram,
            test_bpb: f64::NAN,
        }
    }

    /// `test_bpb` in the periodic evaluations: the score is minus it.
    fn score_fields(score: f64) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("test_bpb".into(), (-score).into());
        m
    }

    /// The run's report: `test_bpb`, the baselines, `solved` (below the bigram), the context
    /// and `member_tokens_per_s`.
    fn report(
        &self,
        member_tokens: u64,
        train_s: f64,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("test_bpb".into(), serde_json::json!(self.test_bpb));
        m.insert("unigram_bpb".into(), serde_json::json!(self.unigram));
        m.insert("bigram_bpb".into(), serde_json::json!(self.bigram));
        // Solved: the model beats the bigram count baseline on held-out text.
        m.insert(
            "solved".into(),
            serde_json::json!(self.test_bpb < self.bigram),
        );
        m.insert("context".into(), serde_json::json!(self.context));
        m.insert(
            "member_tokens_per_s".into(),
            serde_json::json!(member_tokens as f64 / train_s.max(1e-9)),
        );
        m
    }
}

/// The charlm evaluator plus the held-out text and the baselines.
pub struct CharLmTask {
    eval: CharLmEvaluator,
    spec: LmSpec,
    heldout: Heldout,
}

impl Evaluator for CharLmTask {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: Range<usize>,
    ) -> eggroll_core::Result<Vec<f32>> {
        self.eval.evaluate_members(params, population, members)
    }
}

impl TaskEvaluator for CharLmTask {
    /// Minus the held-out bits per byte (higher is better, like every fitness).
    fn final_score(
        &mut self,
        params: &Params,
        _: usize,
        _: u64,
    ) -> Result<(f64, Option<EvalReport>)> {
        let h = &mut self.heldout;
        h.test_bpb = bpb(self.eval.model(), params, &h.test, h.context, EVAL_WINDOWS)?;
        Ok((-h.test_bpb, None))
    }
    fn score_fields(&self, score: f64) -> serde_json::Map<String, serde_json::Value> {
        Heldout::score_fields(score)
    }
    /// `sample.txt`: 400 bytes the final model writes after "The " (temperature 0.8, seed 0).
    fn extra_files(&mut self, params: &Params) -> Result<Vec<(String, Vec<u8>)>> {
        let mut text = b"The ".to_vec();
        text.extend(eggroll_policies::charlm::sample(
            self.eval.model(),
            params,
            self.spec.context,
            b"The ",
            400,
            0,
            0.8,
        )?);
        text.push(b'\n');
        Ok(vec![("sample.txt".into(), text)])
    }
    fn report(&mut self, train_s: f64) -> Result<serde_json::Map<String, serde_json::Value>> {
        Ok(self.heldout.report(self.eval.member_tokens(), train_s))
    }
}

/// `charlm --model egg`.
fn build_egg(config: &RunConfig) -> Result<Built> {
    use eggroll_policies::egg::{EggEvaluator, EggSpec};
    if config.strategy != eggroll_core::StrategyKind::Egg {
        return Err(Error::Input {
            what: "strategy".into(),
            reason: format!(
                "--model egg is an int8 model trained by strategy \"egg\", not `{}`",
                config.strategy.name()
            ),
        });
    }
    let spec = EggSpec {
        width: config.policy.hidden.first().copied().unwrap_or(0),
        layers: config.policy.hidden.len(),
    };
    if config.policy.hidden.iter().any(|&h| h != spec.width) {
        return Err(Error::Input {
            what: "policy.hidden".into(),
            reason: "EGG's blocks all have the same width".into(),
        });
    }
    spec.check()?;
    let context = config.data.context;
    let mut e = crate::limits::Estimate::new();
    e.add("parameters and their copies", &[6, spec.num_params()])
        .add(
            "forward rows (bytes)",
            &[
                config.es.population_size,
                context,
                16 * spec.width + 2 * 256,
            ],
        )
        .add("noise", &[config.es.population_size, 2 * spec.num_params()]);
    e.check("es.population_size, policy.hidden or data.context")?;
    let dir = text_dir(config.data.dir.as_deref().map(Path::new));
    let [train, _valid, test] = load_text(&dir)?;
    let heldout = Heldout::new(&train, test, context);
    let eval = EggEvaluator::new(spec, Arc::new(train), context, config.es.seed)?;
    Ok(Built {
        params: spec.init(config.es.seed)?,
        evaluator: Box::new(EggTask {
            eval,
            spec,
            heldout,
        }),
        images: None,
        net: Some(Net::Egg(spec)),
    })
}

/// The EGG evaluator plus the held-out text and the baselines.
pub struct EggTask {
    eval: eggroll_policies::egg::EggEvaluator,
    spec: eggroll_policies::egg::EggSpec,
    heldout: Heldout,
}

impl Evaluator for EggTask {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: Range<usize>,
    ) -> eggroll_core::Result<Vec<f32>> {
        self.eval.evaluate_members(params, population, members)
    }
}

impl TaskEvaluator for EggTask {
    /// Minus the held-out bits per byte.
    fn final_score(
        &mut self,
        params: &Params,
        _: usize,
        _: u64,
    ) -> Result<(f64, Option<EvalReport>)> {
        let h = &mut self.heldout;
        h.test_bpb =
            eggroll_policies::egg::test_bpb(self.spec, params, &h.test, h.context, EVAL_WINDOWS)?;
        Ok((-h.test_bpb, None))
    }
    fn score_fields(&self, score: f64) -> serde_json::Map<String, serde_json::Value> {
        Heldout::score_fields(score)
    }
    /// `sample.txt`: 400 bytes after "The " (temperature 0.8, seed 0).
    fn extra_files(&mut self, params: &Params) -> Result<Vec<(String, Vec<u8>)>> {
        let model = eggroll_policies::egg::EggModel::new(self.spec, params)?;
        let mut text = b"The ".to_vec();
        text.extend(model.sample(b"The ", 400, 0, 0.8));
        text.push(b'\n');
        Ok(vec![("sample.txt".into(), text)])
    }
    fn report(&mut self, train_s: f64) -> Result<serde_json::Map<String, serde_json::Value>> {
        let mut m = self.heldout.report(self.eval.member_tokens(), train_s);
        // The f32 models' `params` comes from their `net`; EGG has none.
        m.insert("params".into(), serde_json::json!(self.spec.num_params()));
        Ok(m)
    }
}
