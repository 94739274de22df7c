//! CartPole-v1, identical to Gymnasium 1.4 (`gymnasium/envs/classic_control/cartpole.py`).

use crate::Space;
use crate::dynamics::{Dynamics, Env, MemberAction, VecOf};
use crate::rng::Pcg64;
use crate::scene::{Scene, Shape};
use crate::spec::{ActionSpec, EnvSpec};

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

/// CartPole-v1's dynamics: the scalar environment is [`CartPole`], the vectorised one
/// [`CartPoleVec`].
#[derive(Debug, Clone, Copy)]
pub struct CartPoleV1;

impl Dynamics for CartPoleV1 {
    type State = [f64; 4];
    const OBS_DIM: usize = 4;
    const MAX_EPISODE_STEPS: usize = MAX_EPISODE_STEPS;
    fn observation_space() -> Space {
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
    fn action_space() -> Space {
        Space::Discrete { n: 2 }
    }
    fn initial_state(rng: &mut Pcg64) -> [f64; 4] {
        initial_state(rng)
    }
    /// Reward 1 on every step, including the terminating one (Gymnasium ≥ 1.0 default).
    #[inline]
    fn step(state: [f64; 4], action: MemberAction<'_>) -> ([f64; 4], f64, bool) {
        let (s, terminated) = dynamics(state, action == MemberAction::Discrete(1));
        (s, 1.0, terminated)
    }
    #[inline]
    fn observe(state: &[f64; 4], out: &mut [f32]) {
        out.copy_from_slice(&observe(state));
    }
}

/// CartPole-v1 with the 500-step time limit (`reset_to`, `state` and
/// `with_max_episode_steps` come with [`Env`]).
pub type CartPole = Env<CartPoleV1>;

/// N CartPole-v1 members; states `[x, ẋ, θ, θ̇]` contiguous per member, outputs SoA.
pub type CartPoleVec = VecOf<CartPoleV1>;

/// CartPole-v1's registration: task `cartpole`, an argmax over two outputs.
pub const SPEC: EnvSpec = super::spec::<CartPoleV1>(
    "CartPole-v1",
    "cartpole",
    ActionSpec::Discrete(2),
    view,
    // Chosen by scripts/sweep-control.sh (see its header for the grid and results).
    &[r#"
        [stop]
        generations = 100
        early_stop_at = 475.0
        [evaluation]
        solved_at = 475.0
        eval_every = 1
        [policy]
        hidden = [16]
        [es]
        population_size = 256
        rank = 1
        sigma = 0.2
        learning_rate = 0.1
        optimizer = { kind = "sgd", momentum = 0.0 }
    "#],
);

/// The cart on its track and the pole (observation `[x, ẋ, θ, θ̇]`; the pole is 1 m).
fn view(obs: &[f32]) -> Scene {
    let (x, theta) = (obs[0], obs[2]);
    Scene {
        bounds: [-2.4, 2.4, -0.6, 1.4],
        shapes: vec![
            Shape::Line {
                from: [-2.4, -0.15],
                to: [2.4, -0.15],
                width: 1.0,
                color: [128, 128, 128],
            },
            Shape::Rect {
                center: [x, 0.0],
                size: [0.5, 0.3],
                color: [60, 60, 60],
            },
            Shape::Line {
                from: [x, 0.0],
                to: [x + theta.sin(), theta.cos()],
                width: 6.0,
                color: [204, 153, 102],
            },
        ],
    }
}
