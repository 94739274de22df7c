//! Ant-v5: a four-legged walker in 3-D (Gymnasium's `ant_v5.py` at its defaults, contact
//! forces in the observation).

use super::{Data, Model, MujocoError, Task, View, clip, ctrl_cost_f32};
use crate::npmath::sum_squares_f64;
use crate::rng::Pcg64;

/// Ant-v5: obs = `qpos[2:]` ‖ qvel ‖ clip(`cfrc_ext[1:]`, ±1) (105); reward = ẋ(torso) + healthy
/// − 0.5·Σa² − 0.0005·Σclip(cfrc_ext)²; terminates when z ∉ [0.2, 1] or the state is not
/// finite.
#[derive(Debug, Clone, Copy)]
pub struct Ant;

fn clipped_forces(d: &Data) -> Vec<f64> {
    d.cfrc_ext().iter().map(|&f| clip(f, -1.0, 1.0)).collect()
}

impl Task for Ant {
    const ID: &'static str = "Ant-v5";
    const XML_NAME: &'static str = "ant.xml";
    const XML: &'static str = include_str!("../../assets/mujoco/ant.xml");
    const FRAME_SKIP: usize = 5;
    const MAX_EPISODE_STEPS: usize = 1000;
    const OBS_DIM: usize = 105;
    const ACTION_DIM: usize = 8;
    const ACTION_HIGH: f32 = 1.0;
    const VIEW: View = View::Side;
    const CONTACT_FORCES: bool = true;
    type Before = f64;
    fn new(_: &Model) -> Result<Self, MujocoError> {
        Ok(Ant)
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
        d.xpos()[3] // main body 1 (the torso), x
    }
    fn outcome(&self, d: &Data, x0: f64, action: &[f32], dt: f64) -> (f64, bool) {
        let x_velocity = (d.xpos()[3] - x0) / dt;
        let (q, v) = (d.qpos(), d.qvel());
        let finite = q.iter().chain(v).all(|x| x.is_finite());
        let healthy = finite && 0.2 <= q[2] && q[2] <= 1.0;
        let rewards = x_velocity * 1.0 + if healthy { 1.0 } else { 0.0 };
        let contact_cost = 0.0005 * sum_squares_f64(&clipped_forces(d));
        let costs = f64::from(ctrl_cost_f32(0.5, action)) + contact_cost;
        (rewards - costs, !healthy)
    }
    fn qpos_from_obs(obs: &[f32], qpos: &mut [f64]) {
        super::qpos_after(2, obs, qpos);
    }
    fn observe(&self, d: &Data, out: &mut [f64]) {
        let (q, v) = (d.qpos(), d.qvel());
        let n = q.len() - 2;
        out[..n].copy_from_slice(&q[2..]);
        out[n..n + v.len()].copy_from_slice(v);
        let f = clipped_forces(d);
        out[n + v.len()..].copy_from_slice(&f[6..]);
    }
}

/// Ant-v5's registration: task `ant` (ARS threshold 3580). It starts from the zero policy (it
/// stands) with ARS-sized steps: from PyTorch's random init, or with Adam at 0.02, the first
/// updates tip it over and ten minutes never recover (40 ± 65 on 100 episodes).
pub const SPEC: crate::registry::EnvSpec = super::spec::<Ant>(
    "ant",
    &[
        super::DEFAULTS,
        r#"
        [evaluation]
        solved_at = 3580.0
        [policy]
        init = "zero_output"
        [es]
        population_size = 64
        sigma = 0.03
        learning_rate = 0.005
    "#,
    ],
);
