//! Every environment by its Gymnasium id: the one catalogue the Python wrappers
//! (`eggroll.envs.make`) and any id-driven front end build from.

use crate::mujoco::{self, MujocoEnv, MujocoError};
use crate::{Acrobot, CartPole, Environment, MountainCar, MountainCarContinuous, Pendulum};

/// The Gymnasium ids of every environment here: five classic control, nine MuJoCo v5.
pub const IDS: [&str; 14] = [
    "CartPole-v1",
    "Pendulum-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "HalfCheetah-v5",
    "Hopper-v5",
    "Walker2d-v5",
    "Ant-v5",
    "Swimmer-v5",
    "Humanoid-v5",
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
    "Reacher-v5",
];

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

/// True for the MuJoCo environments (observations in f64, as Gymnasium returns them).
pub fn is_mujoco(id: &str) -> bool {
    id.ends_with("-v5")
}

/// A new environment by Gymnasium id (generator seeded with 0 until `reset(Some(seed))`).
///
/// ```
/// let mut env = eggroll_envs::registry::make("CartPole-v1").unwrap();
/// assert_eq!(env.reset(Some(0)).len(), 4);
/// assert!(eggroll_envs::registry::make("CartPole-v9").is_err());
/// ```
pub fn make(id: &str) -> Result<Box<dyn Environment>, MakeError> {
    fn mj<T: mujoco::Task>() -> Result<Box<dyn Environment>, MakeError> {
        Ok(Box::new(MujocoEnv::<T>::new()?))
    }
    Ok(match id {
        "CartPole-v1" => Box::new(CartPole::new()),
        "Pendulum-v1" => Box::new(Pendulum::new()),
        "Acrobot-v1" => Box::new(Acrobot::new()),
        "MountainCar-v0" => Box::new(MountainCar::new()),
        "MountainCarContinuous-v0" => Box::new(MountainCarContinuous::new()),
        "HalfCheetah-v5" => return mj::<mujoco::HalfCheetah>(),
        "Hopper-v5" => return mj::<mujoco::Hopper>(),
        "Walker2d-v5" => return mj::<mujoco::Walker2d>(),
        "Ant-v5" => return mj::<mujoco::Ant>(),
        "Swimmer-v5" => return mj::<mujoco::Swimmer>(),
        "Humanoid-v5" => return mj::<mujoco::Humanoid>(),
        "InvertedPendulum-v5" => return mj::<mujoco::InvertedPendulum>(),
        "InvertedDoublePendulum-v5" => return mj::<mujoco::InvertedDoublePendulum>(),
        "Reacher-v5" => return mj::<mujoco::Reacher>(),
        other => return Err(MakeError::Unknown { id: other.into() }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mujoco::Task;

    #[test]
    fn every_id_builds_its_own_environment() {
        let mujoco_ids = [
            mujoco::HalfCheetah::ID,
            mujoco::Hopper::ID,
            mujoco::Walker2d::ID,
            mujoco::Ant::ID,
            mujoco::Swimmer::ID,
            mujoco::Humanoid::ID,
            mujoco::InvertedPendulum::ID,
            mujoco::InvertedDoublePendulum::ID,
            mujoco::Reacher::ID,
        ];
        assert_eq!(&IDS[5..], &mujoco_ids);
        for id in IDS {
            assert_eq!(is_mujoco(id), mujoco_ids.contains(&id), "{id}");
            match make(id) {
                Ok(mut env) => {
                    let obs = env.reset(Some(1));
                    assert_eq!(obs.len(), env.observation_space().flat_dim(), "{id}");
                    assert_eq!(env.observation_f64().is_some(), is_mujoco(id), "{id}");
                }
                Err(MakeError::Mujoco(_)) if is_mujoco(id) && !mujoco::ffi::available() => {}
                Err(e) => panic!("{id}: {e}"),
            }
        }
        let err = make("CartPole-v0").err().unwrap().to_string();
        assert!(
            err.contains("`CartPole-v0`") && err.contains("CartPole-v1"),
            "{err}"
        );
    }
}
