//! A run's configuration: task defaults ← TOML file ← `--set key=value` ← flags, deserialised
//! into a typed [`RunConfig`] with errors that name the key and where its value came from.

use crate::error::{Error, Result};
use eggroll_core::{EsConfig, NonFinitePolicy};
use eggroll_policies::Activation;
use eggroll_policies::mnist::MnistFitness;
use serde::{Deserialize, Serialize};

/// Which strategy to train with: the core's one catalogue.
pub use eggroll_core::StrategyKind;

/// Shape of the benchmark matrix (sphere, rastrigin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProblemConfig {
    /// Rows of the parameter matrix.
    pub rows: usize,
    /// Columns of the parameter matrix.
    pub cols: usize,
}

impl Default for ProblemConfig {
    fn default() -> Self {
        Self { rows: 64, cols: 64 }
    }
}

/// The policy network of control tasks (input and output sizes come from the task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Whether layers have biases.
    pub bias: bool,
    /// The network: an MLP of `hidden` widths, or (mnist) the CNN of `channels` widths.
    pub model: ModelKind,
    /// Convolution widths of `model = "cnn"` (each a stride-2 convolution and a ReLU).
    pub channels: Vec<usize>,
    /// Attention heads of `model = "transformer"`.
    pub heads: usize,
    /// ALiBi recency bias of the charlm transformer's attention: head `k` of `h` adds
    /// `−2^(−alibi·(k+1)/h)·(i − j)` to the score of key `j` for query `i` (8: the paper's
    /// slopes; 0: slope 1 on every head, charlm's default). Unset: no bias.
    pub alibi: Option<f32>,
    /// Normalise observations by their running mean and variance over all members' steps
    /// (control tasks; updated between generations, saved in checkpoints and policies).
    pub obs_norm: bool,
    /// Normalised observations are clipped to `[-obs_clip, obs_clip]`.
    pub obs_clip: f32,
    /// How the control tasks' MLP starts (see [`PolicyInit`]).
    pub init: PolicyInit,
}

/// How a control task's MLP is initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyInit {
    /// Every layer uniform in `±1/√fan_in` (PyTorch's `nn.Linear` default).
    #[default]
    Uniform,
    /// As `uniform`, then the output layer's weights and bias set to zero: the policy starts
    /// at the middle of the action box (a linear policy starts at zero, as ARS's does).
    ZeroOutput,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            hidden: vec![32],
            activation: Activation::Tanh,
            bias: true,
            model: ModelKind::Mlp,
            channels: vec![8, 16],
            heads: 2,
            alibi: None,
            obs_norm: false,
            obs_clip: 5.0,
            init: PolicyInit::Uniform,
        }
    }
}

/// Which network a task trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A multilayer perceptron (`policy.hidden`).
    #[default]
    Mlp,
    /// A convolutional network (`policy.channels`; mnist only).
    Cnn,
    /// A causal transformer (charlm: width `policy.hidden[0]`, `policy.hidden.len()` blocks,
    /// `policy.heads` heads).
    Transformer,
    /// A minGRU stack (charlm: width `policy.hidden[0]`, `policy.hidden.len()` blocks).
    Mingru,
    /// nano-egg's integer (int8) minGRU language model (charlm: width `policy.hidden[0]`,
    /// `policy.hidden.len()` blocks), trained by `strategy = "egg"`.
    Egg,
}

/// When a run stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StopConfig {
    /// Generations to run (the total, also when resuming).
    pub generations: u64,
    /// Stop after this many seconds of training.
    pub time_budget_s: Option<f64>,
    /// Stop once the population's mean fitness reaches this.
    pub target_fitness: Option<f32>,
    /// Stop once a validation evaluation reaches this score (needs `evaluation.eval_every`).
    pub early_stop_at: Option<f32>,
}

impl Default for StopConfig {
    fn default() -> Self {
        Self {
            generations: 300,
            time_budget_s: None,
            target_fitness: None,
            early_stop_at: None,
        }
    }
}

/// How members and the result are evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Episodes per member per generation (control tasks); fitness is their mean return.
    pub episodes: usize,
    /// Episodes of the validation and final evaluations of the unperturbed policy.
    pub eval_episodes: usize,
    /// Evaluate the unperturbed policy every this many generations (0 = never).
    pub eval_every: u64,
    /// At the end, keep the parameters with the best validation evaluation.
    pub keep_best_eval: bool,
    /// `solved` threshold: final fitness (benchmarks), eval_mean (control tasks) or
    /// test_accuracy (mnist).
    pub solved_at: f32,
    /// What to do with NaN/inf fitness.
    pub nonfinite: NonFinitePolicy,
    /// Control tasks: subtracted from every step's reward in the training rollouts (ARS's
    /// `shift`, Mania et al. 2018: removing the survival bonus keeps a policy from settling
    /// for standing still). Validation, the final evaluation and `eval` score the true return.
    pub reward_shift: f64,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        Self {
            episodes: 1,
            eval_episodes: 100,
            eval_every: 0,
            keep_best_eval: false,
            solved_at: -1e-3,
            nonfinite: NonFinitePolicy::Error,
            reward_shift: 0.0,
        }
    }
}

/// Checkpoints and distributed lockstep checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Save a checkpoint every this many generations (0 = only at the end).
    pub every: u64,
    /// Distributed runs: compare a hash of the parameters across ranks every this many
    /// generations (0 = never).
    pub lockstep_every: u64,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            every: 50,
            lockstep_every: 5,
        }
    }
}

/// Where the run's files go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// The run directory (`--out` overrides it; default `runs/<task>-<timestamp>`).
    pub dir: Option<String>,
}

/// A task's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// MNIST directory (else `EGGROLL_MNIST_DIR`, else `data/mnist`).
    pub dir: Option<String>,
    /// Images per generation (mnist); every member sees the same batch.
    pub batch: usize,
    /// A member's fitness on its batch (mnist): `bandit` (accuracy; labels only as a
    /// reward) or `log_likelihood` (mean log-probability of the true labels).
    pub fitness: MnistFitness,
    /// Bytes a language model reads per sequence (charlm; `batch` sequences per generation).
    pub context: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dir: None,
            batch: 256,
            fitness: MnistFitness::Bandit,
            context: 32,
        }
    }
}

/// The full configuration of a run, in sections: the task (`task`, `[policy]`, `[problem]`,
/// `[data]`), the strategy (`strategy`, `[es]`), `[stop]`, `[evaluation]`, `[checkpoints]`
/// and `[output]`. Saved as `config.toml` in the run directory. The flat keys of earlier
/// versions (`generations`, `eval_every`, `checkpoint_every`, …) are still read (see
/// [`crate::resolve::LEGACY_KEYS`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Task name (see the task registry).
    pub task: String,
    /// Strategy.
    pub strategy: StrategyKind,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Strategy hyperparameters (`es.seed` is the run's seed).
    pub es: EsConfig,
    /// When the run stops.
    pub stop: StopConfig,
    /// How members and the result are evaluated.
    pub evaluation: EvaluationConfig,
    /// Checkpoints.
    pub checkpoints: CheckpointConfig,
    /// Where the files go.
    pub output: OutputConfig,
    /// Policy network (control tasks, mnist).
    pub policy: PolicyConfig,
    /// Benchmark problem settings (sphere, rastrigin).
    pub problem: ProblemConfig,
    /// The task's data (mnist).
    pub data: DataConfig,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            task: "sphere".into(),
            strategy: StrategyKind::Eggroll,
            threads: 0,
            es: EsConfig::default(),
            stop: StopConfig::default(),
            evaluation: EvaluationConfig::default(),
            checkpoints: CheckpointConfig::default(),
            output: OutputConfig::default(),
            policy: PolicyConfig::default(),
            problem: ProblemConfig::default(),
            data: DataConfig::default(),
        }
    }
}

impl RunConfig {
    /// Layer TOML over this config, in order, as a config file would be (a table whose
    /// `kind` changes starts from that variant's defaults): how a control task's environment
    /// states its tuned defaults ([`eggroll_envs::EnvSpec::defaults`]).
    ///
    /// ```
    /// let mut c = eggroll_run::config::RunConfig::default();
    /// c.apply_toml(&["[es]\nsigma = 0.25", "[policy]\nhidden = [8]"]).unwrap();
    /// assert_eq!((c.es.sigma, c.policy.hidden.clone()), (0.25, vec![8]));
    /// assert!(c.apply_toml(&["[es]\nsigma = \"wide\""]).is_err());
    /// ```
    pub fn apply_toml(&mut self, layers: &[&str]) -> Result<()> {
        let mut table = toml::Table::try_from(&*self).expect("a config serialises");
        for layer in layers {
            let t: toml::Table = layer.parse().map_err(|e| Error::Input {
                what: "task defaults".into(),
                reason: format!("not valid TOML: {e}"),
            })?;
            merge(&mut table, t);
        }
        *self = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| config_err(&e.path().to_string(), e.inner().to_string()))?;
        Ok(())
    }
}

pub(crate) fn config_err(key: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn merge(base: &mut toml::Table, user: toml::Table) {
    for (k, v) in user {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u))
                if u.get("kind").is_none_or(|k| b.get("kind") == Some(k)) =>
            {
                merge(b, u)
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}
