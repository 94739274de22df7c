//! Hopper-v5: a one-legged planar hopper (Gymnasium's `hopper_v5.py` at its defaults).

use super::{Data, Model, MujocoError, Task, View, all_within, clip, ctrl_cost_f32};
use crate::rng::Pcg64;

/// Hopper-v5: obs = `qpos[1:]` ‖ clip(qvel, ±10) (11); reward = ẋ + healthy − 0.001·Σa²;
/// terminates when unhealthy (z ≤ 0.7, |angle| ≥ 0.2 or |`state[2:]`| ≥ 100).
#[derive(Debug, Clone, Copy)]
pub struct Hopper;

impl Hopper {
    fn healthy(d: &Data) -> bool {
        let (q, v) = (d.qpos(), d.qvel());
        let (z, angle) = (q[1], q[2]);
        all_within(&q[2..], -100.0, 100.0)
            && all_within(v, -100.0, 100.0)
            && 0.7 < z
            && z < f64::INFINITY
            && -0.2 < angle
            && angle < 0.2
    }
}

impl Task for Hopper {
    const ID: &'static str = "Hopper-v5";
    const XML_NAME: &'static str = "hopper.xml";
    const XML: &'static str = include_str!("../../assets/mujoco/hopper.xml");
    const FRAME_SKIP: usize = 4;
    const MAX_EPISODE_STEPS: usize = 1000;
    const OBS_DIM: usize = 11;
    const ACTION_DIM: usize = 3;
    const ACTION_HIGH: f32 = 1.0;
    const VIEW: View = View::Side;
    const CONTACT_FORCES: bool = false;
    type Before = f64;
    fn new(_: &Model) -> Result<Self, MujocoError> {
        Ok(Hopper)
    }
    fn reset(&self, rng: &mut Pcg64, qpos: &mut [f64], qvel: &mut [f64]) {
        for q in qpos.iter_mut().chain(qvel.iter_mut()) {
            *q += rng.uniform(-0.005, 0.005);
        }
    }
    fn before(&self, d: &Data) -> f64 {
        d.qpos()[0]
    }
    fn outcome(&self, d: &Data, x0: f64, action: &[f32], dt: f64) -> (f64, bool) {
        let x_velocity = (d.qpos()[0] - x0) / dt;
        let healthy = Self::healthy(d);
        let rewards = 1.0 * x_velocity + if healthy { 1.0 } else { 0.0 };
        (rewards - f64::from(ctrl_cost_f32(0.001, action)), !healthy)
    }
    fn qpos_from_obs(obs: &[f32], qpos: &mut [f64]) {
        super::qpos_after(1, obs, qpos);
    }
    fn observe(&self, d: &Data, out: &mut [f64]) {
        let (q, v) = (d.qpos(), d.qvel());
        let n = q.len() - 1;
        out[..n].copy_from_slice(&q[1..]);
        for (o, &x) in out[n..].iter_mut().zip(v) {
            *o = clip(x, -10.0, 10.0);
        }
    }
}

/// Hopper-v5's registration: task `hopper` (ARS threshold 3120).
pub const SPEC: crate::registry::EnvSpec = super::spec::<Hopper>(
    "hopper",
    &[
        super::DEFAULTS,
        super::ARS,
        // ARS's Hopper setting: 8 directions, the best 4, ν = 0.025, α = 0.01, shift 1.
        r#"
        [evaluation]
        solved_at = 3120.0
        reward_shift = 1.0
        [es]
        population_size = 16
        top_pairs = 4
        sigma = 0.025
        learning_rate = 0.001
    "#,
    ],
);
