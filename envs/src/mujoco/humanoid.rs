//! Humanoid-v5: a 3-D humanoid rewarded for running forward (Gymnasium's `humanoid_v5.py` at
//! its defaults).

use super::{Data, Model, MujocoError, Task, View, clip};
use crate::npmath::sum_squares_f64;
use crate::rng::Pcg64;

/// Humanoid-v5: obs = `qpos[2:]` ‖ qvel ‖ `cinert[1:]` ‖ `cvel[1:]` ‖ `qfrc_actuator[6:]` ‖
/// `cfrc_ext[1:]` (348); reward = 1.25·ẋ(centre of mass) + 5·healthy − 0.1·Σctrl² −
/// min(5e-7·Σcfrc_ext², 10); terminates when z ∉ (1, 2).
#[derive(Debug, Clone)]
pub struct Humanoid {
    mass: Vec<f64>,
    total_mass: f64,
}

impl Humanoid {
    /// `mass_center`: Σ mᵢ·xiposᵢ / Σ mᵢ, x and y. Gymnasium sums with `np.einsum` (whose
    /// order can differ in the last bits); this sums in body order.
    fn mass_center_x(&self, d: &Data) -> f64 {
        let xi = d.xipos();
        let num: f64 = self
            .mass
            .iter()
            .enumerate()
            .map(|(b, m)| m * xi[3 * b])
            .sum();
        num / self.total_mass
    }
}

impl Task for Humanoid {
    const ID: &'static str = "Humanoid-v5";
    const XML_NAME: &'static str = "humanoid.xml";
    const XML: &'static str = include_str!("../../assets/mujoco/humanoid.xml");
    const FRAME_SKIP: usize = 5;
    const MAX_EPISODE_STEPS: usize = 1000;
    const OBS_DIM: usize = 348;
    const ACTION_DIM: usize = 17;
    const ACTION_HIGH: f32 = 0.4;
    const VIEW: View = View::Side;
    const CONTACT_FORCES: bool = true;
    type Before = f64;
    fn new(m: &Model) -> Result<Self, MujocoError> {
        let mass = m.body_mass().to_vec();
        Ok(Humanoid {
            total_mass: crate::npmath::sum_f64(&mass),
            mass,
        })
    }
    fn reset(&self, rng: &mut Pcg64, qpos: &mut [f64], qvel: &mut [f64]) {
        for q in qpos.iter_mut().chain(qvel.iter_mut()) {
            *q += rng.uniform(-0.01, 0.01);
        }
    }
    fn before(&self, d: &Data) -> f64 {
        self.mass_center_x(d)
    }
    fn outcome(&self, d: &Data, x0: f64, _action: &[f32], dt: f64) -> (f64, bool) {
        let x_velocity = (self.mass_center_x(d) - x0) / dt;
        let z = d.qpos()[2];
        let healthy = 1.0 < z && z < 2.0;
        let rewards = 1.25 * x_velocity + if healthy { 5.0 } else { 0.0 };
        let ctrl_cost = 0.1 * sum_squares_f64(d.ctrl());
        let contact_cost = clip(
            5e-7 * sum_squares_f64(d.cfrc_ext()),
            f64::NEG_INFINITY,
            10.0,
        );
        (rewards - (ctrl_cost + contact_cost), !healthy)
    }
    fn qpos_from_obs(obs: &[f32], qpos: &mut [f64]) {
        super::qpos_after(2, obs, qpos);
    }
    fn observe(&self, d: &Data, out: &mut [f64]) {
        let mut at = 0;
        let mut put = |xs: &[f64]| {
            out[at..at + xs.len()].copy_from_slice(xs);
            at += xs.len();
        };
        put(&d.qpos()[2..]);
        put(d.qvel());
        put(&d.cinert()[10..]);
        put(&d.cvel()[6..]);
        put(&d.qfrc_actuator()[6..]);
        put(&d.cfrc_ext()[6..]);
    }
}

/// Humanoid-v5's registration: task `humanoid` (ARS threshold 6000).
pub const SPEC: crate::registry::EnvSpec = super::spec::<Humanoid>(
    "humanoid",
    &[
        super::DEFAULTS,
        r#"
        [evaluation]
        solved_at = 6000.0
        [es]
        population_size = 128
        sigma = 0.01
        learning_rate = 0.02
    "#,
    ],
);
