//! Walker2d-v5: a planar biped (Gymnasium's `walker2d_v5.py` at its defaults, with its
//! `walker2d_v5.xml`, whose feet have equal friction).

use super::{Data, Model, MujocoError, Task, View, clip, ctrl_cost_f32};
use crate::rng::Pcg64;

/// Walker2d-v5: obs = `qpos[1:]` ‖ clip(qvel, ±10) (17); reward = ẋ + healthy − 0.001·Σa²;
/// terminates when z ∉ (0.8, 2) or angle ∉ (−1, 1).
#[derive(Debug, Clone, Copy)]
pub struct Walker2d;

impl Task for Walker2d {
    const ID: &'static str = "Walker2d-v5";
    const XML_NAME: &'static str = "walker2d_v5.xml";
    const XML: &'static str = include_str!("../../assets/mujoco/walker2d_v5.xml");
    const FRAME_SKIP: usize = 4;
    const MAX_EPISODE_STEPS: usize = 1000;
    const OBS_DIM: usize = 17;
    const ACTION_DIM: usize = 6;
    const ACTION_HIGH: f32 = 1.0;
    const VIEW: View = View::Side;
    const CONTACT_FORCES: bool = false;
    type Before = f64;
    fn new(_: &Model) -> Result<Self, MujocoError> {
        Ok(Walker2d)
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
        let q = d.qpos();
        let x_velocity = (q[0] - x0) / dt;
        let (z, angle) = (q[1], q[2]);
        let healthy = 0.8 < z && z < 2.0 && -1.0 < angle && angle < 1.0;
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

/// Walker2d-v5's registration: task `walker2d` (ARS threshold 4390).
pub const SPEC: crate::registry::EnvSpec = super::spec::<Walker2d>(
    "walker2d",
    &[
        super::DEFAULTS,
        super::ARS,
        // ARS's Walker2d setting: 40 directions, the best 30, ν = 0.01, α = 0.025, shift 1.
        r#"
        [evaluation]
        solved_at = 4390.0
        reward_shift = 1.0
        [es]
        population_size = 80
        top_pairs = 30
        sigma = 0.01
        learning_rate = 0.000667
    "#,
    ],
);
