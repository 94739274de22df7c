//! InvertedDoublePendulum-v5: two poles on a cart (Gymnasium's
//! `inverted_double_pendulum_v5.py`).

use super::{Data, Model, MujocoError, Task, View, clip};
use crate::npmath::pow2;
use crate::rng::Pcg64;

/// InvertedDoublePendulum-v5: obs = x ‖ sin θ ‖ cos θ ‖ clip(qvel, ±10) ‖
/// clip(`qfrc_constraint[0]`, ±10) (9); reward = 10 − 0.01x_tip² − (y_tip − 2)² − 0.001ω₁² −
/// 0.005ω₂²; terminates when the tip's height y ≤ 1.
#[derive(Debug, Clone, Copy)]
pub struct InvertedDoublePendulum;

impl Task for InvertedDoublePendulum {
    const ID: &'static str = "InvertedDoublePendulum-v5";
    const XML_NAME: &'static str = "inverted_double_pendulum.xml";
    const XML: &'static str = include_str!("../../assets/mujoco/inverted_double_pendulum.xml");
    const FRAME_SKIP: usize = 5;
    const MAX_EPISODE_STEPS: usize = 1000;
    const OBS_DIM: usize = 9;
    const ACTION_DIM: usize = 1;
    const ACTION_HIGH: f32 = 1.0;
    const VIEW: View = View::Side;
    const CONTACT_FORCES: bool = false;
    type Before = ();
    fn new(_: &Model) -> Result<Self, MujocoError> {
        Ok(InvertedDoublePendulum)
    }
    fn reset(&self, rng: &mut Pcg64, qpos: &mut [f64], qvel: &mut [f64]) {
        for q in qpos.iter_mut() {
            *q += rng.uniform(-0.1, 0.1);
        }
        for v in qvel.iter_mut() {
            *v += rng.standard_normal() * 0.1;
        }
    }
    fn before(&self, _: &Data) {}
    fn outcome(&self, d: &Data, _: (), _: &[f32], _: f64) -> (f64, bool) {
        let s = d.site_xpos();
        let (x, y) = (s[0], s[2]);
        let terminated = y <= 1.0;
        let v = d.qvel();
        let dist_penalty = 0.01 * pow2(x) + pow2(y - 2.0);
        let vel_penalty = 0.001 * pow2(v[1]) + 0.005 * pow2(v[2]);
        let alive = if terminated { 0.0 } else { 10.0 };
        (alive - dist_penalty - vel_penalty, terminated)
    }
    fn qpos_from_obs(obs: &[f32], qpos: &mut [f64]) {
        qpos[0] = f64::from(obs[0]);
        qpos[1] = f64::from(obs[1]).atan2(f64::from(obs[3]));
        qpos[2] = f64::from(obs[2]).atan2(f64::from(obs[4]));
    }
    fn observe(&self, d: &Data, out: &mut [f64]) {
        let (q, v) = (d.qpos(), d.qvel());
        out[0] = q[0];
        out[1] = q[1].sin();
        out[2] = q[2].sin();
        out[3] = q[1].cos();
        out[4] = q[2].cos();
        for (o, &x) in out[5..8].iter_mut().zip(v) {
            *o = clip(x, -10.0, 10.0);
        }
        out[8] = clip(d.qfrc_constraint()[0], -10.0, 10.0);
    }
}

/// InvertedDoublePendulum-v5's registration: task `inverted-double-pendulum` (solved at a mean
/// return ≥ 9100). It validates on 50 episodes, so its early stop (at 9,300) is not taken on
/// a lucky ten: with 10, seeds 1 and 4 stopped on policies that fell in a quarter of 100
/// fresh episodes.
pub const SPEC: crate::registry::EnvSpec = super::spec::<InvertedDoublePendulum>(
    "inverted-double-pendulum",
    &[
        super::DEFAULTS,
        r#"
        [stop]
        early_stop_at = 9300.0
        [evaluation]
        solved_at = 9100.0
        eval_every = 5
        eval_episodes = 50
        [es]
        population_size = 64
        sigma = 0.05
        learning_rate = 0.05
    "#,
    ],
);
