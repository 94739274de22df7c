//! Every environment, registered once: the one catalogue the training tasks (`eggroll train
//! <task>`), the dashboard's live view and the Python wrappers (`eggroll.envs.make`) read.
//!
//! An environment is ONE file: its dynamics, its vectorised alias, how it is drawn and its
//! [`EnvSpec`] (Gymnasium id, task name, action kind, tuned task defaults). Adding one is that
//! file plus, in its family's `mod.rs` ([`classic`] or [`mujoco`]), its `mod` line and one
//! line in that family's `ENVS`.

use crate::mujoco::MujocoError;
use crate::{Environment, classic, mujoco};

pub use crate::spec::{ActionSpec, EnvSpec};

/// Every environment, in the order `eggroll train --help` lists them: five classic control
/// ([`classic::ENVS`]), nine MuJoCo v5 ([`mujoco::ENVS`]).
pub const ENVS: &[&EnvSpec] = &ALL;

const ALL: [&EnvSpec; classic::ENVS.len() + mujoco::ENVS.len()] = {
    let mut all = [classic::ENVS[0]; classic::ENVS.len() + mujoco::ENVS.len()];
    let mut i = 0;
    while i < classic::ENVS.len() {
        all[i] = classic::ENVS[i];
        i += 1;
    }
    while i < all.len() {
        all[i] = mujoco::ENVS[i - classic::ENVS.len()];
        i += 1;
    }
    all
};

/// The Gymnasium ids of [`ENVS`], in its order.
pub const IDS: [&str; ENVS.len()] = {
    let mut ids = [""; ENVS.len()];
    let mut i = 0;
    while i < ENVS.len() {
        ids[i] = ENVS[i].id;
        i += 1;
    }
    ids
};

/// Why [`make`] failed.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    /// No environment has this id.
    #[error("unknown environment id `{id}`; valid: {}", IDS.join(", "))]
    Unknown {
        /// The id asked for.
        id: String,
    },
    /// A MuJoCo environment whose library could not be opened.
    #[error(transparent)]
    Mujoco(#[from] MujocoError),
}

/// The environment with Gymnasium id `id`.
pub fn find(id: &str) -> Result<&'static EnvSpec, MakeError> {
    ENVS.iter()
        .copied()
        .find(|s| s.id == id)
        .ok_or_else(|| MakeError::Unknown { id: id.into() })
}

/// True for the MuJoCo environments (observations in f64, as Gymnasium returns them).
pub fn is_mujoco(id: &str) -> bool {
    find(id).is_ok_and(|s| s.mujoco)
}

/// A new environment by Gymnasium id (generator seeded with 0 until `reset(Some(seed))`).
///
/// ```
/// let mut env = eggroll_envs::registry::make("CartPole-v1").unwrap();
/// assert_eq!(env.reset(Some(0)).len(), 4);
/// assert!(eggroll_envs::registry::make("CartPole-v9").is_err());
/// ```
pub fn make(id: &str) -> Result<Box<dyn Environment>, MakeError> {
    Ok(find(id)?.make()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_builds_its_own_environment_with_the_declared_spaces() {
        let mut tasks: Vec<&str> = ENVS.iter().map(|s| s.task).collect();
        tasks.sort_unstable();
        tasks.dedup();
        assert_eq!(tasks.len(), ENVS.len(), "task names are unique");
        for spec in ENVS {
            let id = spec.id;
            assert!(!spec.defaults.is_empty(), "{id}");
            let mut env = match spec.make() {
                Ok(env) => env,
                Err(_) if spec.mujoco && !mujoco::ffi::available() => continue,
                Err(e) => panic!("{id}: {e}"),
            };
            let obs = env.reset(Some(1));
            assert_eq!(obs.len(), spec.observations, "{id}");
            assert_eq!(
                env.observation_space().flat_dim(),
                spec.observations,
                "{id}"
            );
            assert_eq!(env.action_space(), spec.action.space(), "{id}");
            assert_eq!(env.observation_f64().is_some(), spec.mujoco, "{id}");
            spec.ready().unwrap();
            let mut v = (spec.vec)(3);
            v.reset(7);
            assert_eq!(v.observations().len(), 3 * spec.observations, "{id}");
            assert_eq!(v.action_space(), spec.action.space(), "{id}");
            let scene = (spec.view)(&obs);
            assert!(scene.bounds[0] < scene.bounds[1], "{id}");
        }
        let err = make("CartPole-v0").err().unwrap().to_string();
        assert!(
            err.contains("`CartPole-v0`") && err.contains("CartPole-v1"),
            "{err}"
        );
    }
}
