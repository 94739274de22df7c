//! Gymnasium's classic-control environments, one file each: dynamics in Gymnasium 1.4's exact
//! operation order, the vectorised alias, the live view and the registration
//! ([`crate::registry::EnvSpec`]).

pub mod acrobot;
pub mod cartpole;
pub mod mountaincar;
pub mod pendulum;

use crate::Environment;
use crate::dynamics::{Dynamics, Env, VecOf};
use crate::mujoco::ffi::MujocoError;
use crate::scene::Scene;
use crate::spec::{ActionSpec, EnvSpec};
use crate::vec::VecEnv;

/// The classic-control environments, in the order `eggroll train --help` lists them.
pub const ENVS: &[&EnvSpec] = &[
    &cartpole::SPEC,
    &pendulum::SPEC,
    &acrobot::SPEC,
    &mountaincar::SPEC,
    &mountaincar::SPEC_CONTINUOUS,
];

/// The registration of classic-control dynamics `D` as task `task`: its observation size
/// from `D`, the scalar [`Env`] and vectorised [`VecOf`] of `D`, nothing needed at run time.
pub(crate) const fn spec<D: Dynamics>(
    id: &'static str,
    task: &'static str,
    action: ActionSpec,
    view: fn(&[f32]) -> Scene,
    defaults: &'static [&'static str],
) -> EnvSpec {
    EnvSpec {
        id,
        task,
        observations: D::OBS_DIM,
        action,
        mujoco: false,
        make: make_env::<D>,
        vec: make_vec::<D>,
        ready: || Ok(()),
        time_steps: None,
        view,
        defaults,
    }
}

fn make_env<D: Dynamics>() -> Result<Box<dyn Environment>, MujocoError> {
    Ok(Box::new(Env::<D>::new()))
}

fn make_vec<D: Dynamics>(n: usize) -> Box<dyn VecEnv> {
    Box::new(VecOf::<D>::new(n))
}
