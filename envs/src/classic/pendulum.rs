//! Pendulum-v1, identical to Gymnasium 1.4 (`gymnasium/envs/classic_control/pendulum.py`).

use crate::Space;
use crate::dynamics::{Dynamics, Env, MemberAction, VecOf};
use crate::npmath::{pow2, pow2f};
use crate::rng::Pcg64;
use crate::scene::{Scene, Shape};
use crate::spec::{ActionSpec, EnvSpec};

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
    // `0.001 * (u**2)` is float32; `**` on NumPy scalars calls the C library's pow/powf.
    let torque_cost: f32 = 0.001 * pow2f(u);
    let costs = pow2(angle_normalize(th)) + 0.1 * pow2(thdot) + f64::from(torque_cost);
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

/// Pendulum-v1's dynamics: the scalar environment is [`Pendulum`], the vectorised one
/// [`PendulumVec`].
#[derive(Debug, Clone, Copy)]
pub struct PendulumV1;

impl Dynamics for PendulumV1 {
    type State = [f64; 2];
    const OBS_DIM: usize = 3;
    const MAX_EPISODE_STEPS: usize = MAX_EPISODE_STEPS;
    fn observation_space() -> Space {
        Space::Box {
            low: vec![-1.0, -1.0, -8.0],
            high: vec![1.0, 1.0, 8.0],
            shape: vec![3],
        }
    }
    fn action_space() -> Space {
        Space::uniform_box(-MAX_TORQUE, MAX_TORQUE, &[1])
    }
    fn initial_state(rng: &mut Pcg64) -> [f64; 2] {
        initial_state(rng)
    }
    /// It never terminates (the 200-step limit truncates).
    #[inline]
    fn step(state: [f64; 2], action: MemberAction<'_>) -> ([f64; 2], f64, bool) {
        let u = match action {
            MemberAction::Continuous(a) => a[0],
            MemberAction::Discrete(_) => unreachable!("Pendulum's action space is a Box"),
        };
        let (s, reward) = dynamics(state, u);
        (s, reward, false)
    }
    #[inline]
    fn observe(state: &[f64; 2], out: &mut [f32]) {
        out.copy_from_slice(&observe(state));
    }
}

/// Pendulum-v1 with the 200-step time limit; it never terminates (`reset_to`, `state` and
/// `with_max_episode_steps` come with [`Env`]).
pub type Pendulum = Env<PendulumV1>;

/// N Pendulum-v1 members; states `[θ, θ̇]` per member, outputs SoA.
pub type PendulumVec = VecOf<PendulumV1>;

/// Pendulum-v1's registration: task `pendulum`, a tanh head scaled to the torque range.
pub const SPEC: EnvSpec = super::spec::<PendulumV1>(
    "Pendulum-v1",
    "pendulum",
    ActionSpec::Box {
        dim: 1,
        low: -MAX_TORQUE,
        high: MAX_TORQUE,
    },
    view,
    &[r#"
        [stop]
        generations = 600
        early_stop_at = -170.0
        [evaluation]
        solved_at = -200.0
        eval_every = 10
        keep_best_eval = true
        episodes = 4
        [policy]
        hidden = [32, 32]
        [es]
        population_size = 256
        rank = 1
        sigma = 0.1
        learning_rate = 0.1
    "#],
);

/// The pendulum from its pivot (observation `[cos θ, sin θ, θ̇]`; θ = 0 is upright).
fn view(obs: &[f32]) -> Scene {
    Scene {
        bounds: [-1.25, 1.25, -1.25, 1.25],
        shapes: vec![
            Shape::Line {
                from: [0.0, 0.0],
                to: [obs[1], obs[0]],
                width: 8.0,
                color: [204, 77, 77],
            },
            Shape::Circle {
                center: [0.0, 0.0],
                radius: 4.0,
                color: [0, 0, 0],
            },
        ],
    }
}
