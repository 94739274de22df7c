//! CartPole-v1, identical to Gymnasium 1.4 (`gymnasium/envs/classic_control/cartpole.py`).

use crate::rng::Pcg64;
use crate::{Action, EnvError, Environment, Episode, Space, Step, discrete_action};

/// Gravity (m/s²).
pub const GRAVITY: f64 = 9.8;
/// Cart mass.
pub const MASSCART: f64 = 1.0;
/// Pole mass.
pub const MASSPOLE: f64 = 0.1;
/// Cart + pole mass (computed as Gymnasium does).
pub const TOTAL_MASS: f64 = MASSPOLE + MASSCART;
/// Half the pole's length.
pub const LENGTH: f64 = 0.5;
/// Pole mass × half length.
pub const POLEMASS_LENGTH: f64 = MASSPOLE * LENGTH;
/// Force of a push.
pub const FORCE_MAG: f64 = 10.0;
/// Seconds per step.
pub const TAU: f64 = 0.02;
/// Pole angle beyond which the episode terminates: 12 degrees.
pub const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
/// Cart position beyond which the episode terminates.
pub const X_THRESHOLD: f64 = 2.4;
/// Gymnasium's registry time limit.
pub const MAX_EPISODE_STEPS: usize = 500;

/// One Euler step of the dynamics, evaluated in Gymnasium's exact operation order.
/// `push_right` is action 1. Returns the new state and `terminated`.
#[inline]
pub fn dynamics(state: [f64; 4], push_right: bool) -> ([f64; 4], bool) {
    let [x, x_dot, theta, theta_dot] = state;
    let force = if push_right { FORCE_MAG } else { -FORCE_MAG };
    let costheta = theta.cos();
    let sintheta = theta.sin();
    let temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
    let thetaacc = (GRAVITY * sintheta - costheta * temp)
        / (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS));
    let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
    let x = x + TAU * x_dot;
    let x_dot = x_dot + TAU * xacc;
    let theta = theta + TAU * theta_dot;
    let theta_dot = theta_dot + TAU * thetaacc;
    // Gymnasium's comparisons verbatim (a NaN state does not terminate, as in Gymnasium).
    #[allow(clippy::manual_range_contains)]
    let terminated =
        x < -X_THRESHOLD || x > X_THRESHOLD || theta < -THETA_THRESHOLD || theta > THETA_THRESHOLD;
    ([x, x_dot, theta, theta_dot], terminated)
}

/// The observation of a state: the state cast to f32.
#[inline]
pub fn observe(state: &[f64; 4]) -> [f32; 4] {
    state.map(|v| v as f32)
}

/// The initial state Gymnasium draws: four uniforms in [−0.05, 0.05).
pub fn initial_state(rng: &mut Pcg64) -> [f64; 4] {
    std::array::from_fn(|_| rng.uniform(-0.05, 0.05))
}

/// CartPole-v1 with the 500-step time limit. Reward 1 on every step, including the terminating
/// one (Gymnasium ≥ 1.0 default).
#[derive(Debug, Clone)]
pub struct CartPole {
    state: [f64; 4],
    rng: Pcg64,
    episode: Episode,
    max_steps: usize,
}

impl Default for CartPole {
    fn default() -> Self {
        Self::new()
    }
}

impl CartPole {
    /// A new environment (generator seeded with 0 until `reset(Some(seed))`).
    pub fn new() -> Self {
        Self {
            state: [0.0; 4],
            rng: Pcg64::new(0),
            episode: Episode::default(),
            max_steps: MAX_EPISODE_STEPS,
        }
    }

    /// Start an episode from an explicit state (x, ẋ, θ, θ̇); returns the observation.
    pub fn reset_to(&mut self, state: [f64; 4]) -> Vec<f32> {
        self.state = state;
        self.episode.begin();
        observe(&self.state).to_vec()
    }

    /// The internal f64 state.
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    /// Override the time limit (default 500).
    pub fn with_max_episode_steps(mut self, steps: usize) -> Self {
        self.max_steps = steps;
        self
    }
}

impl Environment for CartPole {
    fn observation_space(&self) -> Space {
        let hi = [
            (X_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
            (THETA_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
        ];
        Space::Box {
            low: hi.iter().map(|v| -v).collect(),
            high: hi.to_vec(),
            shape: vec![4],
        }
    }
    fn action_space(&self) -> Space {
        Space::Discrete { n: 2 }
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
        let a = discrete_action(action, 2)?;
        self.episode.check()?;
        let (state, terminated) = dynamics(self.state, a == 1);
        self.state = state;
        let truncated = self.episode.advance(terminated, self.max_steps);
        Ok(Step {
            observation: observe(&state).to_vec(),
            reward: 1.0,
            terminated,
            truncated,
        })
    }
}
