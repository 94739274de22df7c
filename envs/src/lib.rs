//! # eggroll-envs
//!
//! Gymnasium-style environments reproducing Gymnasium 1.4 bit for bit (dynamics, observations,
//! rewards, time limits and the initial states drawn by `reset(seed)`): classic control —
//! [`CartPole`] (CartPole-v1), [`Pendulum`] (Pendulum-v1), [`Acrobot`] (Acrobot-v1),
//! [`MountainCar`] (MountainCar-v0), [`MountainCarContinuous`] (MountainCarContinuous-v0) —
//! and the nine MuJoCo v5 locomotion environments on MuJoCo's C library opened at run time
//! ([`mujoco`]), every one registered once in [`registry`] (id, task, spaces, live view,
//! tuned task defaults); environments built from closures ([`FnEnv`]), vectorised stepping
//! ([`VecEnv`]) and MNIST as a contextual bandit ([`mnist`]).
//!
//! ```
//! use eggroll_envs::{Action, CartPole, Environment};
//! let mut env = CartPole::new();
//! let obs = env.reset(Some(42));
//! assert_eq!(obs.len(), 4);
//! let step = env.step(Action::Discrete(1)).unwrap();
//! assert_eq!(step.reward, 1.0);
//! ```
#![warn(missing_docs)]

pub mod classic;
pub mod closure;
pub mod dynamics;
pub mod mnist;
pub mod mujoco;
pub mod npmath;
pub mod registry;
pub mod rng;
pub mod scene;
pub mod spec;
pub mod vec;

pub use classic::acrobot::{self, Acrobot, AcrobotVec};
pub use classic::cartpole::{self, CartPole, CartPoleVec};
pub use classic::mountaincar::{
    self, MountainCar, MountainCarContinuous, MountainCarContinuousVec, MountainCarVec,
};
pub use classic::pendulum::{self, Pendulum, PendulumVec};
pub use closure::FnEnv;
pub use dynamics::{Dynamics, Env, MemberAction, VecOf};
pub use scene::{Scene, Shape};
pub use spec::{ActionSpec, EnvSpec};
pub use vec::{Actions, EnvVec, VecEnv};

/// An observation or action space.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Space {
    /// Integers `0 .. n`.
    Discrete {
        /// Number of actions.
        n: usize,
    },
    /// A box of f32 values with per-element bounds (may be infinite).
    Box {
        /// Lower bounds, one per element.
        low: Vec<f32>,
        /// Upper bounds, one per element.
        high: Vec<f32>,
        /// Shape (its product is the number of elements).
        shape: Vec<usize>,
    },
}

impl Space {
    /// Number of scalars in one element of the space (1 for discrete).
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::Box { shape, .. } => shape.iter().product(),
        }
    }

    /// A box with the same bounds for every element.
    pub fn uniform_box(low: f32, high: f32, shape: &[usize]) -> Space {
        let n = shape.iter().product();
        Space::Box {
            low: vec![low; n],
            high: vec![high; n],
            shape: shape.to_vec(),
        }
    }
}

/// An action passed to [`Environment::step`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action<'a> {
    /// A discrete action index.
    Discrete(i64),
    /// A continuous action vector.
    Continuous(&'a [f32]),
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The next observation.
    pub observation: Vec<f32>,
    /// The reward (f64, as Gymnasium returns it).
    pub reward: f64,
    /// The episode reached a terminal state.
    pub terminated: bool,
    /// The episode was cut by the time limit.
    pub truncated: bool,
}

/// Errors of environments.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvError {
    /// `step` before the first `reset`.
    #[error("step called before reset")]
    NotReset,
    /// `step` on an episode that already terminated or was truncated.
    #[error("step called on a finished episode; call reset first")]
    EpisodeFinished,
    /// The action is not in the action space.
    #[error("invalid action: {0}")]
    InvalidAction(String),
    /// A closure environment's own error.
    #[error("environment error: {0}")]
    Custom(String),
    /// Reading or parsing a data file failed.
    #[error("{path}: {reason}")]
    Data {
        /// The file or directory.
        path: String,
        /// What is wrong (with the byte offset where it applies).
        reason: String,
    },
}

/// A Gymnasium-style environment.
pub trait Environment: Send {
    /// The observation space.
    fn observation_space(&self) -> Space;
    /// The action space.
    fn action_space(&self) -> Space;
    /// Steps after which an episode is truncated (Gymnasium's `max_episode_steps`).
    fn max_episode_steps(&self) -> Option<usize>;
    /// Start an episode; `Some(seed)` reseeds the environment's generator (as Gymnasium's
    /// `reset(seed=...)`), `None` continues it.
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32>;
    /// Advance one step.
    fn step(&mut self, action: Action<'_>) -> Result<Step, EnvError>;
    /// The latest observation in f64 where the environment computes it in f64 (the MuJoCo
    /// environments, whose Gymnasium observations are float64); `None` where the f32
    /// observation is the environment's own (classic control returns float32).
    fn observation_f64(&self) -> Option<&[f64]> {
        None
    }
}

/// Validate a discrete action against `n` choices.
pub(crate) fn discrete_action(action: Action<'_>, n: usize) -> Result<usize, EnvError> {
    match action {
        Action::Discrete(a) if a >= 0 && (a as usize) < n => Ok(a as usize),
        Action::Discrete(a) => Err(EnvError::InvalidAction(format!(
            "{a} is outside Discrete({n})"
        ))),
        Action::Continuous(_) => Err(EnvError::InvalidAction(format!(
            "expected a discrete action in Discrete({n}), got a continuous one"
        ))),
    }
}

/// Validate a continuous action of dimension `dim` (finite values).
pub(crate) fn continuous_action(action: Action<'_>, dim: usize) -> Result<&[f32], EnvError> {
    match action {
        Action::Continuous(a) if a.len() != dim => Err(EnvError::InvalidAction(format!(
            "expected {dim} value(s), got {}",
            a.len()
        ))),
        Action::Continuous(a) => {
            if let Some(i) = a.iter().position(|x| x.is_nan()) {
                return Err(EnvError::InvalidAction(format!("element {i} is NaN")));
            }
            Ok(a)
        }
        Action::Discrete(_) => Err(EnvError::InvalidAction(format!(
            "expected a continuous action of {dim} value(s), got a discrete one"
        ))),
    }
}

/// Episode bookkeeping shared by the built-in environments: step counter, done flag and the
/// time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Episode {
    pub started: bool,
    pub done: bool,
    pub steps: usize,
}

impl Episode {
    pub fn begin(&mut self) {
        *self = Episode {
            started: true,
            done: false,
            steps: 0,
        };
    }
    pub fn check(&self) -> Result<(), EnvError> {
        if !self.started {
            Err(EnvError::NotReset)
        } else if self.done {
            Err(EnvError::EpisodeFinished)
        } else {
            Ok(())
        }
    }
    /// Count a step; returns `truncated`.
    pub fn advance(&mut self, terminated: bool, limit: usize) -> bool {
        self.steps += 1;
        let truncated = self.steps >= limit;
        self.done = terminated || truncated;
        truncated
    }
}

/// Per-member seed derived from one seed (SplitMix64 of the pair): deterministic and
/// independent of the number of members.
pub fn member_seed(seed: u64, member: usize) -> u64 {
    let mut z = seed ^ (member as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
