//! Pendulum-v1, identical to Gymnasium 1.4 (`gymnasium/envs/classic_control/pendulum.py`).

use crate::rng::Pcg64;
use crate::{Action, EnvError, Environment, Episode, Space, Step, continuous_action};

/// Maximum angular speed.
pub const MAX_SPEED: f64 = 8.0;
/// Maximum torque (actions are clipped to ±this).
pub const MAX_TORQUE: f32 = 2.0;
/// Seconds per step.
pub const DT: f64 = 0.05;
/// Gravity (Gymnasium's default `g=10.0`).
pub const G: f64 = 10.0;
/// Mass.
pub const M: f64 = 1.0;
/// Length.
pub const L: f64 = 1.0;
/// Gymnasium's registry time limit.
pub const MAX_EPISODE_STEPS: usize = 200;

/// `((x + π) mod 2π) − π` with NumPy's floored modulo.
#[inline]
pub fn angle_normalize(x: f64) -> f64 {
    use std::f64::consts::PI;
    let two_pi = 2.0 * PI;
    let mut r = (x + PI) % two_pi;
    if r != 0.0 && r < 0.0 {
        r += two_pi;
    }
    r - PI
}

/// Clip a torque as `np.clip(u, -2.0, 2.0)` on a float32 array does.
#[inline]
pub fn clip_torque(u: f32) -> f32 {
    u.clamp(-MAX_TORQUE, MAX_TORQUE)
}

/// One step of the dynamics with NumPy 2's promotion rules: the torque terms are float32,
/// everything else float64. Returns the new state `[θ, θ̇]` and the reward (−cost).
#[inline]
pub fn dynamics(state: [f64; 2], u: f32) -> ([f64; 2], f64) {
    let [th, thdot] = state;
    let u = clip_torque(u);
    // `0.001 * (u**2)` is float32; NumPy's u**2 calls powf, which may differ from u·u by one
    // float32 ulp — at most ~1e-10 in the reward, inside the 1e-9 parity tolerance.
    let torque_cost: f32 = 0.001 * (u * u);
    let an = angle_normalize(th);
    let costs = an * an + 0.1 * (thdot * thdot) + f64::from(torque_cost);
    let torque_acc: f32 = (3.0 / (M * L * L)) as f32 * u;
    let newthdot = thdot + (3.0 * G / (2.0 * L) * th.sin() + f64::from(torque_acc)) * DT;
    let newthdot = newthdot.clamp(-MAX_SPEED, MAX_SPEED);
    let newth = th + newthdot * DT;
    ([newth, newthdot], -costs)
}

/// The observation `[cos θ, sin θ, θ̇]` as f32.
#[inline]
pub fn observe(state: &[f64; 2]) -> [f32; 3] {
    [
        state[0].cos() as f32,
        state[0].sin() as f32,
        state[1] as f32,
    ]
}

/// The initial state Gymnasium draws: θ ~ U[−π, π), θ̇ ~ U[−1, 1).
pub fn initial_state(rng: &mut Pcg64) -> [f64; 2] {
    use std::f64::consts::PI;
    [rng.uniform(-PI, PI), rng.uniform(-1.0, 1.0)]
}

/// Pendulum-v1 with the 200-step time limit; it never terminates.
#[derive(Debug, Clone)]
pub struct Pendulum {
    state: [f64; 2],
    rng: Pcg64,
    episode: Episode,
    max_steps: usize,
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new()
    }
}

impl Pendulum {
    /// A new environment (generator seeded with 0 until `reset(Some(seed))`).
    pub fn new() -> Self {
        Self {
            state: [0.0; 2],
            rng: Pcg64::new(0),
            episode: Episode::default(),
            max_steps: MAX_EPISODE_STEPS,
        }
    }

    /// Start an episode from an explicit state `[θ, θ̇]`; returns the observation.
    pub fn reset_to(&mut self, state: [f64; 2]) -> Vec<f32> {
        self.state = state;
        self.episode.begin();
        observe(&self.state).to_vec()
    }

    /// The internal f64 state `[θ, θ̇]`.
    pub fn state(&self) -> [f64; 2] {
        self.state
    }

    /// Override the time limit (default 200).
    pub fn with_max_episode_steps(mut self, steps: usize) -> Self {
        self.max_steps = steps;
        self
    }
}

impl Environment for Pendulum {
    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![-1.0, -1.0, -8.0],
            high: vec![1.0, 1.0, 8.0],
            shape: vec![3],
        }
    }
    fn action_space(&self) -> Space {
        Space::uniform_box(-MAX_TORQUE, MAX_TORQUE, &[1])
    }
    fn max_episode_steps(&self) -> Option<usize> {
        Some(self.max_steps)
    }
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        if let Some(s) = seed {
            self.rng = Pcg64::new(s);
        }
        let s = initial_state(&mut self.rng);
        self.reset_to(s)
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, EnvError> {
        let u = continuous_action(action, 1)?[0];
        self.episode.check()?;
        let (state, reward) = dynamics(self.state, u);
        self.state = state;
        let truncated = self.episode.advance(false, self.max_steps);
        Ok(Step {
            observation: observe(&state).to_vec(),
            reward,
            terminated: false,
            truncated,
        })
    }
}
