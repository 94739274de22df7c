//! Tasks: each is ONE definition (its default config, parameters, evaluator, final score and,
//! for control tasks, its environment and action head), listed in [`registry`]. `eggroll train
//! <task>`, `eval`, `config show`, compare mode and `--distributed` find it there; adding a
//! task is one new file here plus one line in [`registry`] (`examples/src/bin/custom_task.rs`
//! shows a task defined outside this crate and run by the same [`crate::Session`]). A control
//! task comes with its environment: registering one in [`eggroll_envs::registry`] adds it
//! ([`control`]).

mod benchmark;
mod charlm;
pub mod control;
mod evaluator;
mod mnist;

use std::sync::Arc;

use eggroll_core::Params;
use eggroll_envs::mnist::Dataset;
use eggroll_envs::vec::VecEnv;
use eggroll_policies::{Head, MlpConfig, ObsNorm, RolloutEvaluator};

pub use benchmark::{Rastrigin, Sphere};
pub use charlm::CharLm;
pub use control::EnvTask;
pub use eggroll_envs::scene::{Scene, Shape};
pub use evaluator::{ObsNormHooks, Ranks, TaskEvaluator, Unscored};
pub use mnist::{Mnist, MnistTask};

use crate::config::{PolicyConfig, RunConfig};
use crate::error::{Error, Result};
pub use crate::net::Net;

/// One task: what `eggroll train <name>` trains.
pub trait Task: Send + Sync {
    /// The name on the command line and in `config.toml` (`task = "…"`).
    fn name(&self) -> &'static str;
    /// Set this task's defaults on a [`RunConfig::default`] (population, σ, stop rules, …).
    fn defaults(&self, config: &mut RunConfig);
    /// The defaults of `model` where the user picks one (`--model`, `policy.model`): called
    /// after [`Task::defaults`], before the user's file, `--set` and flags, so each model
    /// starts from its own tuned settings. Default: nothing changes.
    fn model_defaults(&self, _model: crate::config::ModelKind, _config: &mut RunConfig) {}
    /// Build what a run needs from its resolved config: loads data, checks that the run fits
    /// in memory (before anything big is allocated), draws the initial parameters. Control
    /// tasks need not write it: the default builds the config's MLP over [`Task::control`].
    fn build(&self, config: &RunConfig) -> Result<Built> {
        match self.control() {
            Some(spec) => build_control(config, spec),
            None => Err(Error::Input {
                what: format!("task `{}`", self.name()),
                reason: "defines neither `build` nor `control`".into(),
            }),
        }
    }
    /// Whether what the task needs at run time is here (MuJoCo's library for the locomotion
    /// tasks): called before [`Task::control`]'s environment is built, so a missing library
    /// is an error naming how to get it. Default: always ready.
    fn ready(&self) -> Result<()> {
        Ok(())
    }
    /// `bench env`: seconds for `n` members to take `steps` environment steps each with
    /// random actions and no policy; `None` where the task has no such measurement.
    fn time_env_steps(&self, _n: usize, _steps: usize, _seed: u64) -> Option<Result<f64>> {
        None
    }
    /// Control tasks: the environment and action head, for `eggroll eval` and live views.
    fn control(&self) -> Option<ControlSpec> {
        None
    }
}

/// What a task builds for one run.
pub struct Built {
    /// Initial parameters, on the host (every device starts from the same bits).
    pub params: Params,
    /// The evaluator of the population.
    pub evaluator: Box<dyn TaskEvaluator>,
    /// MNIST test images, for the dashboard's prediction grid.
    pub images: Option<Arc<Dataset>>,
    /// The model (None when the parameters are the solution itself, e.g. sphere); saved in
    /// exported policies so `eval`, `policy forward` and `sample` can rebuild it.
    pub net: Option<Net>,
}

/// A control task's environment: observation and action sizes, the action head and the
/// vectorised environment.
#[derive(Clone)]
pub struct ControlSpec {
    /// Observation size.
    pub observations: usize,
    /// Network outputs.
    pub outputs: usize,
    /// How outputs become actions.
    pub head: Head,
    /// A vectorised environment of `n` copies.
    pub env: fn(usize) -> Box<dyn VecEnv>,
    /// How the dashboard draws a state, from its observation.
    pub view: fn(&[f32]) -> Scene,
}

/// Every task this build knows, in the order `--help` lists them: the benchmarks, the classic
/// control tasks, mnist, charlm, the MuJoCo tasks. Adding a task: one file in this folder and
/// one line here (a control task: its environment's registration, see [`control`]).
pub fn registry() -> &'static [&'static dyn Task] {
    static ALL: std::sync::OnceLock<Vec<&'static dyn Task>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let envs = |mujoco: bool| {
            control::ENV_TASKS
                .iter()
                .filter(move |t| t.0.mujoco == mujoco)
                .map(|t| t as &'static dyn Task)
        };
        let mut all: Vec<&'static dyn Task> = vec![&Sphere, &Rastrigin];
        all.extend(envs(false));
        all.extend([&Mnist as &'static dyn Task, &CharLm]);
        all.extend(envs(true));
        all
    })
}

/// The names of [`registry`].
pub fn names() -> Vec<&'static str> {
    registry().iter().map(|t| t.name()).collect()
}

/// The task called `name`.
pub fn find(name: &str) -> Result<&'static dyn Task> {
    registry()
        .iter()
        .copied()
        .find(|t| t.name() == name)
        .ok_or_else(|| Error::Input {
            what: format!("task `{name}`"),
            reason: format!("unknown task; available: {}", names().join(", ")),
        })
}

/// The MLP of `config.policy` between `inputs` and `outputs`.
pub fn mlp(policy: &PolicyConfig, inputs: usize, outputs: usize) -> MlpConfig {
    let mut sizes = vec![inputs];
    sizes.extend(&policy.hidden);
    sizes.push(outputs);
    MlpConfig {
        sizes,
        activation: policy.activation,
        bias: policy.bias,
    }
}

/// Build a control task from its [`ControlSpec`]: the config's MLP, rollouts over the
/// vectorised environment.
pub fn build_control(config: &RunConfig, spec: ControlSpec) -> Result<Built> {
    if config.policy.model != crate::config::ModelKind::Mlp {
        return Err(Error::Input {
            what: "policy.model".into(),
            reason: "control tasks train an MLP (`cnn` is for mnist, `transformer` and \
                     `mingru` for charlm)"
                .into(),
        });
    }
    let policy = mlp(&config.policy, spec.observations, spec.outputs);
    check_memory(config, Some(&policy), None)?;
    let mut evaluator = RolloutEvaluator::new(
        policy.clone(),
        spec.head,
        Box::new(spec.env),
        config.evaluation.episodes,
        config.es.seed,
    )?
    .with_reward_shift(config.evaluation.reward_shift);
    if config.policy.obs_norm {
        let norm = ObsNorm::new(spec.observations, config.policy.obs_clip);
        norm.validate("policy.obs_clip")?;
        evaluator = evaluator.with_obs_norm(norm)?;
    }
    let mut params = policy.init(config.es.seed, &candle_core::Device::Cpu)?;
    if config.policy.init == crate::config::PolicyInit::ZeroOutput {
        // The output layer (the last weight and, with biases, the last bias) starts at zero.
        let mut values = params.to_host()?;
        let last = if policy.bias { 2 } else { 1 };
        let n = values.len();
        for v in &mut values[n - last..] {
            v.fill(0.0);
        }
        params = params.from_host_like(&values)?;
    }
    Ok(Built {
        params,
        net: Some(Net::Mlp(policy)),
        evaluator: Box::new(evaluator),
        images: None,
    })
}

/// The config keys that size a run (named when it does not fit in memory).
const MEMORY_KEYS: &str = "es.population_size, es.rank, policy.hidden, problem.rows/cols, evaluation.episodes or data.batch";

/// The memory a run needs, computed from its sizes before anything is allocated, checked
/// against the machine: parameters and their copies (optimiser moments, update, best member,
/// validation), one generation's noise, the rows of the batched forward, the fitness vector
/// and (MNIST) the images.
pub fn check_memory(
    config: &RunConfig,
    policy: Option<&MlpConfig>,
    images: Option<(usize, usize)>,
) -> Result<()> {
    let es = &config.es;
    let n = es.population_size;
    let blocks = n.div_ceil(2);
    // (rows, cols) of every matrix, and the lengths of the vectors.
    let (mats, vecs): (Vec<(usize, usize)>, Vec<usize>) = match policy {
        None => (vec![(config.problem.rows, config.problem.cols)], vec![]),
        Some(p) => (
            p.sizes.windows(2).map(|w| (w[1], w[0])).collect(),
            if p.bias {
                p.sizes[1..].to_vec()
            } else {
                vec![]
            },
        ),
    };
    let mut e = crate::limits::Estimate::new();
    let total: usize =
        mats.iter().map(|&(m, nn)| m * nn).sum::<usize>() + vecs.iter().sum::<usize>();
    let terms = config.strategy.memory_terms(es, &mats, total);
    for (&(m, nn), (label, dims)) in mats.iter().zip(&terms) {
        e.add("parameters and their copies", &[6, m, nn]);
        e.add(*label, dims);
    }
    for (label, dims) in &terms[mats.len()..] {
        e.add(*label, dims);
    }
    for &v in &vecs {
        e.add("parameters and their copies", &[6, v]);
        e.add("noise", &[blocks, v]);
    }
    let widest = mats.iter().map(|&(m, nn)| m.max(nn)).max().unwrap_or(1);
    match (policy, images) {
        (None, _) => e.add(
            "members materialised by the closure evaluator",
            &[rayon::current_num_threads(), 2, mats[0].0, mats[0].1],
        ),
        // Observations, outputs and environment states of every row (the hidden layers run
        // in fixed chunks of rows).
        (Some(p), None) => e.add(
            "forward rows",
            &[
                n.max(config.evaluation.eval_episodes),
                config.evaluation.episodes,
                p.sizes[0] + p.sizes[p.sizes.len() - 1] + 8,
            ],
        ),
        // Every member's outputs on the shared batch, and the first layer's low-rank products.
        (Some(p), Some((count, pixels))) => e
            .add(
                "forward rows",
                &[n, config.data.batch, p.sizes[p.sizes.len() - 1] + 2],
            )
            .add(
                "shared first layer",
                &[
                    config.data.batch,
                    n.saturating_mul(es.rank).saturating_add(widest),
                ],
            )
            .add("images", &[count, pixels]),
    };
    e.add("fitness", &[n, 4]);
    e.check(MEMORY_KEYS)?;
    Ok(())
}
