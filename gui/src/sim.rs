//! The live view's simulator state, held by the dashboard between frames.

use eggroll_envs::vec::VecEnv;

/// The live simulator: one member of the task's vectorised environment.
pub(crate) struct LiveSim {
    pub(crate) env: Box<dyn VecEnv>,
    pub(crate) episode: u64,
    pub(crate) steps: usize,
    pub(crate) started: bool,
}
