//! Gymnasium's classic-control environments, one file each: dynamics in Gymnasium 1.4's exact
//! operation order, the vectorised alias, the live view and the registration
//! ([`crate::registry::EnvSpec`]).

pub mod acrobot;
pub mod cartpole;
pub mod mountaincar;
pub mod pendulum;

use crate::spec::EnvSpec;

/// The classic-control environments, in the order `eggroll train --help` lists them.
pub const ENVS: &[&EnvSpec] = &[
    &cartpole::SPEC,
    &pendulum::SPEC,
    &acrobot::SPEC,
    &mountaincar::SPEC,
    &mountaincar::SPEC_CONTINUOUS,
];
