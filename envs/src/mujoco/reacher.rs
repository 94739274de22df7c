//! Reacher-v5: a two-link arm reaching for a random target (Gymnasium's `reacher_v5.py`).

use super::{Data, Model, MujocoError, Task, View};
use crate::npmath::sum_squares_f32;
use crate::rng::Pcg64;

/// Reacher-v5: obs = cos θ ‖ sin θ ‖ target ‖ ω ‖ `(fingertip − target)[:2]` (10); reward =
/// −‖fingertip − target‖ − Σa²; 50 steps, never terminates.
#[derive(Debug, Clone, Copy)]
pub struct Reacher {
    fingertip: usize,
    target: usize,
}

impl Reacher {
    fn offset(&self, d: &Data) -> [f64; 3] {
        let x = d.xpos();
        let (f, t) = (3 * self.fingertip, 3 * self.target);
        [x[f] - x[t], x[f + 1] - x[t + 1], x[f + 2] - x[t + 2]]
    }
}

impl Task for Reacher {
    const ID: &'static str = "Reacher-v5";
    const XML_NAME: &'static str = "reacher.xml";
    const XML: &'static str = include_str!("../../assets/mujoco/reacher.xml");
    const FRAME_SKIP: usize = 2;
    const MAX_EPISODE_STEPS: usize = 50;
    const OBS_DIM: usize = 10;
    const ACTION_DIM: usize = 2;
    const ACTION_HIGH: f32 = 1.0;
    const VIEW: View = View::Top;
    const CONTACT_FORCES: bool = false;
    type Before = ();
    fn new(m: &Model) -> Result<Self, MujocoError> {
        let id = |name: &str| {
            m.body_id(name).ok_or_else(|| MujocoError::Model {
                name: Self::XML_NAME.into(),
                reason: format!("no body named {name}"),
            })
        };
        Ok(Reacher {
            fingertip: id("fingertip")?,
            target: id("target")?,
        })
    }
    fn reset(&self, rng: &mut Pcg64, qpos: &mut [f64], qvel: &mut [f64]) {
        for q in qpos.iter_mut() {
            *q += rng.uniform(-0.1, 0.1);
        }
        let goal = loop {
            let g = [rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)];
            if (g[0] * g[0] + g[1] * g[1]).sqrt() < 0.2 {
                break g;
            }
        };
        let n = qpos.len();
        qpos[n - 2..].copy_from_slice(&goal);
        for v in qvel.iter_mut() {
            *v += rng.uniform(-0.005, 0.005);
        }
        let n = qvel.len();
        qvel[n - 2..].fill(0.0);
    }
    fn before(&self, _: &Data) {}
    fn outcome(&self, d: &Data, _: (), action: &[f32], _: f64) -> (f64, bool) {
        let v = self.offset(d);
        // np.linalg.norm → x.dot(x) → OpenBLAS ddot, whose tail loop accumulates with fused
        // multiply-adds: fma(z, z, fma(y, y, x·x)).
        let sq = v[2].mul_add(v[2], v[1].mul_add(v[1], v[0] * v[0]));
        let reward_dist = -sq.sqrt() * 1.0;
        let reward_ctrl = -sum_squares_f32(action) * 1.0;
        (reward_dist + f64::from(reward_ctrl), false)
    }
    fn qpos_from_obs(obs: &[f32], qpos: &mut [f64]) {
        qpos[0] = f64::from(obs[2]).atan2(f64::from(obs[0]));
        qpos[1] = f64::from(obs[3]).atan2(f64::from(obs[1]));
        qpos[2] = f64::from(obs[4]);
        qpos[3] = f64::from(obs[5]);
    }
    fn observe(&self, d: &Data, out: &mut [f64]) {
        let (q, v) = (d.qpos(), d.qvel());
        out[0] = q[0].cos();
        out[1] = q[1].cos();
        out[2] = q[0].sin();
        out[3] = q[1].sin();
        out[4..6].copy_from_slice(&q[2..4]);
        out[6..8].copy_from_slice(&v[..2]);
        let o = self.offset(d);
        out[8..10].copy_from_slice(&o[..2]);
    }
}

/// Reacher-v5's registration: task `reacher` (solved at a mean return ≥ −3.75).
pub const SPEC: crate::registry::EnvSpec = super::spec::<Reacher>(
    "reacher",
    &[
        super::DEFAULTS,
        // CMA-ES over the 418 parameters of the one-hidden-layer MLP: −4.3 where EGGROLL
        // (N = 64, σ 0.05, Adam 0.02) stayed near −6.2 in the same 10 minutes. The kept
        // policy is the best validation's, so validations run 100 episodes (every 40
        // generations, 1 % of the steps; the final evaluation is then the target's 100): the
        // best of 10-episode means is mostly luck (50 episodes every 20 generations gave
        // −4.09 against −4.23 on 100 fresh episodes, one core, 10 minutes).
        r#"
        strategy = "cmaes"
        [policy]
        hidden = [32]
        [evaluation]
        solved_at = -3.75
        episodes = 8
        eval_episodes = 100
        eval_every = 40
        [es]
        population_size = 32
        sigma = 0.1
        learning_rate = 0.02
    "#,
    ],
);
