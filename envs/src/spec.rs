//! What registers an environment: [`EnvSpec`] — its Gymnasium id, task name, spaces, how to
//! build it (scalar and vectorised), its live view and its tuned task defaults. Each
//! environment's file declares its own; [`crate::registry::ENVS`] lists them.

use crate::mujoco::ffi::MujocoError;
use crate::scene::Scene;
use crate::vec::VecEnv;
use crate::{Environment, Space};

/// One environment's registration.
#[derive(Clone, Copy)]
pub struct EnvSpec {
    /// Gymnasium's id, e.g. `"CartPole-v1"`.
    pub id: &'static str,
    /// The task that trains a policy on it: `eggroll train <task>`.
    pub task: &'static str,
    /// Observation size.
    pub observations: usize,
    /// The action space's kind and bounds.
    pub action: ActionSpec,
    /// Whether it runs on MuJoCo (observations computed in f64, the library needed).
    pub mujoco: bool,
    /// A new scalar environment (generator seeded with 0 until `reset(Some(seed))`); only a
    /// MuJoCo environment can fail (its library or model).
    pub make: fn() -> Result<Box<dyn Environment>, MujocoError>,
    /// `n` members stepped together. MuJoCo environments need the library: call
    /// [`EnvSpec::ready`] first (this panics where it would have failed).
    pub vec: fn(usize) -> Box<dyn VecEnv>,
    /// Whatever the environment needs at run time is here (MuJoCo: the library and the
    /// compiled model).
    pub ready: fn() -> Result<(), MujocoError>,
    /// `bench env`'s measurement: seconds for `n` members to take `steps` steps each with
    /// random actions and no policy (`None`: not measured for this environment).
    pub time_steps: Option<fn(usize, usize, u64) -> Result<f64, MujocoError>>,
    /// The dashboard's picture of a state, from its observation.
    pub view: fn(&[f32]) -> Scene,
    /// The task's tuned settings, as TOML layers applied in order over the run config's
    /// defaults (the syntax of a config file: `eggroll config show <task>` shows the result).
    pub defaults: &'static [&'static str],
}

/// The shape of an action space, known without building the environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActionSpec {
    /// `Discrete(n)`: one of `n` actions (a policy picks the argmax of `n` outputs).
    Discrete(usize),
    /// A box of `dim` values, each in `[low, high]` (a policy's tanh scaled to it).
    Box {
        /// Number of values.
        dim: usize,
        /// Lower bound of every value.
        low: f32,
        /// Upper bound of every value.
        high: f32,
    },
}

impl ActionSpec {
    /// Policy outputs: `n` for `Discrete(n)`, the dimension for a box.
    pub fn outputs(&self) -> usize {
        match *self {
            ActionSpec::Discrete(n) => n,
            ActionSpec::Box { dim, .. } => dim,
        }
    }

    /// The [`Space`] it describes.
    pub fn space(&self) -> Space {
        match *self {
            ActionSpec::Discrete(n) => Space::Discrete { n },
            ActionSpec::Box { dim, low, high } => Space::Box {
                low: vec![low; dim],
                high: vec![high; dim],
                shape: vec![dim],
            },
        }
    }
}

impl EnvSpec {
    /// A new scalar environment (see [`EnvSpec::make`]).
    pub fn make(&self) -> Result<Box<dyn Environment>, MujocoError> {
        (self.make)()
    }

    /// See [`EnvSpec::ready`].
    pub fn ready(&self) -> Result<(), MujocoError> {
        (self.ready)()
    }
}

impl std::fmt::Debug for EnvSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvSpec")
            .field("id", &self.id)
            .field("task", &self.task)
            .field("observations", &self.observations)
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}
