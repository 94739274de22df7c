//! HalfCheetah-v5: a planar cheetah rewarded for running forward (Gymnasium's
//! `half_cheetah_v5.py` at its defaults).

use super::{Data, Model, MujocoError, Task, View, ctrl_cost_f32};
use crate::rng::Pcg64;

/// HalfCheetah-v5: obs = `qpos[1:]` ‖ qvel (17), reward = ẋ − 0.1·Σa², never terminates.
#[derive(Debug, Clone, Copy)]
pub struct HalfCheetah;

impl Task for HalfCheetah {
    const ID: &'static str = "HalfCheetah-v5";
    const XML_NAME: &'static str = "half_cheetah.xml";
    const XML: &'static str = include_str!("../../assets/mujoco/half_cheetah.xml");
    const FRAME_SKIP: usize = 5;
    const MAX_EPISODE_STEPS: usize = 1000;
    const OBS_DIM: usize = 17;
    const ACTION_DIM: usize = 6;
    const ACTION_HIGH: f32 = 1.0;
    const VIEW: View = View::Side;
    const CONTACT_FORCES: bool = false;
    type Before = f64;
    fn new(_: &Model) -> Result<Self, MujocoError> {
        Ok(HalfCheetah)
    }
    fn reset(&self, rng: &mut Pcg64, qpos: &mut [f64], qvel: &mut [f64]) {
        for q in qpos.iter_mut() {
            *q += rng.uniform(-0.1, 0.1);
        }
        for v in qvel.iter_mut() {
            *v += 0.1 * rng.standard_normal();
        }
    }
    fn before(&self, d: &Data) -> f64 {
        d.qpos()[0]
    }
    fn outcome(&self, d: &Data, x0: f64, action: &[f32], dt: f64) -> (f64, bool) {
        let x_velocity = (d.qpos()[0] - x0) / dt;
        let forward = 1.0 * x_velocity;
        (forward - f64::from(ctrl_cost_f32(0.1, action)), false)
    }
    fn qpos_from_obs(obs: &[f32], qpos: &mut [f64]) {
        super::qpos_after(1, obs, qpos);
    }
    fn observe(&self, d: &Data, out: &mut [f64]) {
        let (q, v) = (d.qpos(), d.qvel());
        out[..q.len() - 1].copy_from_slice(&q[1..]);
        out[q.len() - 1..].copy_from_slice(v);
    }
}

/// HalfCheetah-v5's registration: task `halfcheetah` (ARS threshold 3430).
pub const SPEC: crate::registry::EnvSpec = super::spec::<HalfCheetah>(
    "halfcheetah",
    &[
        super::DEFAULTS,
        r#"
        [evaluation]
        solved_at = 3430.0
        [es]
        population_size = 64
        sigma = 0.03
        learning_rate = 0.02
    "#,
    ],
);
