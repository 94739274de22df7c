//! InvertedPendulum-v5: a pole on a cart (Gymnasium's `inverted_pendulum_v5.py`).

use super::{Data, Model, MujocoError, Task, View};
use crate::rng::Pcg64;

/// InvertedPendulum-v5: obs = qpos ‖ qvel (4); reward 1 while |angle| ≤ 0.2; terminates when
/// the angle leaves it or the observation is not finite.
#[derive(Debug, Clone, Copy)]
pub struct InvertedPendulum;

impl Task for InvertedPendulum {
    const ID: &'static str = "InvertedPendulum-v5";
    const XML_NAME: &'static str = "inverted_pendulum.xml";
    const XML: &'static str = include_str!("../../assets/mujoco/inverted_pendulum.xml");
    const FRAME_SKIP: usize = 2;
    const MAX_EPISODE_STEPS: usize = 1000;
    const OBS_DIM: usize = 4;
    const ACTION_DIM: usize = 1;
    const ACTION_HIGH: f32 = 3.0;
    const VIEW: View = View::Side;
    const CONTACT_FORCES: bool = false;
    type Before = ();
    fn new(_: &Model) -> Result<Self, MujocoError> {
        Ok(InvertedPendulum)
    }
    fn reset(&self, rng: &mut Pcg64, qpos: &mut [f64], qvel: &mut [f64]) {
        for q in qpos.iter_mut().chain(qvel.iter_mut()) {
            *q += rng.uniform(-0.01, 0.01);
        }
    }
    fn before(&self, _: &Data) {}
    fn outcome(&self, d: &Data, _: (), _: &[f32], _: f64) -> (f64, bool) {
        let (q, v) = (d.qpos(), d.qvel());
        let finite = q.iter().chain(v).all(|x| x.is_finite());
        let terminated = !finite || q[1].abs() > 0.2;
        (if terminated { 0.0 } else { 1.0 }, terminated)
    }
    fn qpos_from_obs(obs: &[f32], qpos: &mut [f64]) {
        qpos[0] = f64::from(obs[0]);
        qpos[1] = f64::from(obs[1]);
    }
    fn observe(&self, d: &Data, out: &mut [f64]) {
        let q = d.qpos();
        out[..q.len()].copy_from_slice(q);
        out[q.len()..].copy_from_slice(d.qvel());
    }
}

/// InvertedPendulum-v5's registration: task `inverted-pendulum` (solved at a mean return ≥ 950).
pub const SPEC: crate::registry::EnvSpec = super::spec::<InvertedPendulum>(
    "inverted-pendulum",
    &[
        super::DEFAULTS,
        r#"
        [stop]
        early_stop_at = 1000.0
        [evaluation]
        solved_at = 950.0
        eval_every = 5
        [es]
        population_size = 32
        sigma = 0.05
        learning_rate = 0.05
    "#,
    ],
);
