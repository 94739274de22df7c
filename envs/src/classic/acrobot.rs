//! Acrobot-v1, identical to Gymnasium 1.4 (`gymnasium/envs/classic_control/acrobot.py`):
//! "book" dynamics integrated with one RK4 step of 0.2 s, float64 state, float32 observations.

use std::f64::consts::PI;

use crate::Space;
use crate::dynamics::{Dynamics, Env, MemberAction, VecOf};
use crate::npmath::pow2;
use crate::rng::Pcg64;
use crate::scene::{Scene, Shape};
use crate::spec::{ActionSpec, EnvSpec};

/// Seconds per step.
pub const DT: f64 = 0.2;
/// Link masses, lengths, centre-of-mass positions and moments of inertia (all links alike).
pub const LINK_MASS: f64 = 1.0;
/// Length of link 1.
pub const LINK_LENGTH_1: f64 = 1.0;
/// Position of each link's centre of mass.
pub const LINK_COM_POS: f64 = 0.5;
/// Moment of inertia of each link.
pub const LINK_MOI: f64 = 1.0;
/// Speed limit of joint 1.
pub const MAX_VEL_1: f64 = 4.0 * PI;
/// Speed limit of joint 2.
pub const MAX_VEL_2: f64 = 9.0 * PI;
/// The torques of actions 0, 1, 2.
pub const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];
/// Gymnasium's registry time limit.
pub const MAX_EPISODE_STEPS: usize = 500;

/// The time derivative of `[θ1, θ2, θ̇1, θ̇2, torque]`, in Gymnasium's operation order. The
/// squares of NumPy scalars (`dtheta2**2`, `dtheta1**2`, `d2**2`) are the C library's `pow`
/// ([`pow2`]): with `x * x`, a third of 500-step random-action episodes drifted from Gymnasium.
fn dsdt(s: [f64; 5]) -> [f64; 5] {
    let (m1, m2, l1, lc1, lc2, i1, i2, g) = (
        LINK_MASS,
        LINK_MASS,
        LINK_LENGTH_1,
        LINK_COM_POS,
        LINK_COM_POS,
        LINK_MOI,
        LINK_MOI,
        9.8,
    );
    let [theta1, theta2, dtheta1, dtheta2, a] = s;
    let d1 =
        m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2.0 * l1 * lc2 * theta2.cos()) + i1 + i2;
    let d2 = m2 * (lc2 * lc2 + l1 * lc2 * theta2.cos()) + i2;
    let phi2 = m2 * lc2 * g * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -m2 * l1 * lc2 * pow2(dtheta2) * theta2.sin()
        - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * theta2.sin()
        + (m1 * lc1 + m2 * l1) * g * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * pow2(dtheta1) * theta2.sin() - phi2)
        / (m2 * (lc2 * lc2) + i2 - pow2(d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0]
}

/// Gymnasium's `wrap(x, m, M)`.
fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    let diff = big_m - m;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

/// Gymnasium's `bound(x, m, M)`: `min(max(x, m), M)` with Python's min/max.
fn bound(x: f64, m: f64, big_m: f64) -> f64 {
    let x = if m > x { m } else { x };
    if big_m < x { big_m } else { x }
}

/// One step: RK4 over `[0, DT]` with the action's torque, then wrap the angles and bound the
/// speeds. Returns the new state and `terminated` (the free end above the bar).
pub fn step(state: [f64; 4], action: usize) -> ([f64; 4], bool) {
    let y0 = [state[0], state[1], state[2], state[3], AVAIL_TORQUE[action]];
    let (dt, dt2) = (DT, DT / 2.0);
    let axpy = |y: &[f64; 5], c: f64, k: &[f64; 5]| -> [f64; 5] {
        std::array::from_fn(|j| y[j] + c * k[j])
    };
    let k1 = dsdt(y0);
    let k2 = dsdt(axpy(&y0, dt2, &k1));
    let k3 = dsdt(axpy(&y0, dt2, &k2));
    let k4 = dsdt(axpy(&y0, dt, &k3));
    let c = dt / 6.0;
    let ns: [f64; 5] =
        std::array::from_fn(|j| y0[j] + c * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]));
    let s = [
        wrap(ns[0], -PI, PI),
        wrap(ns[1], -PI, PI),
        bound(ns[2], -MAX_VEL_1, MAX_VEL_1),
        bound(ns[3], -MAX_VEL_2, MAX_VEL_2),
    ];
    let terminated = -s[0].cos() - (s[1] + s[0]).cos() > 1.0;
    (s, terminated)
}

/// The observation `[cos θ1, sin θ1, cos θ2, sin θ2, θ̇1, θ̇2]` as f32.
pub fn observe(s: &[f64; 4]) -> [f32; 6] {
    [
        s[0].cos() as f32,
        s[0].sin() as f32,
        s[1].cos() as f32,
        s[1].sin() as f32,
        s[2] as f32,
        s[3] as f32,
    ]
}

/// The initial state Gymnasium draws: four uniforms in [−0.1, 0.1), cast to float32.
pub fn initial_state(rng: &mut Pcg64) -> [f64; 4] {
    std::array::from_fn(|_| f64::from(rng.uniform(-0.1, 0.1) as f32))
}

/// Acrobot-v1's dynamics: reward −1 per step, 0 on the terminating one.
#[derive(Debug, Clone, Copy)]
pub struct AcrobotV1;

impl Dynamics for AcrobotV1 {
    type State = [f64; 4];
    const OBS_DIM: usize = 6;
    const MAX_EPISODE_STEPS: usize = MAX_EPISODE_STEPS;
    fn observation_space() -> Space {
        let high = [1.0, 1.0, 1.0, 1.0, MAX_VEL_1 as f32, MAX_VEL_2 as f32];
        Space::Box {
            low: high.iter().map(|v| -v).collect(),
            high: high.to_vec(),
            shape: vec![6],
        }
    }
    fn action_space() -> Space {
        Space::Discrete { n: 3 }
    }
    fn initial_state(rng: &mut Pcg64) -> [f64; 4] {
        initial_state(rng)
    }
    #[inline]
    fn step(state: [f64; 4], action: MemberAction<'_>) -> ([f64; 4], f64, bool) {
        let a = match action {
            MemberAction::Discrete(a) => a,
            MemberAction::Continuous(_) => unreachable!("Acrobot's actions are discrete"),
        };
        let (s, terminated) = step(state, a);
        (s, if terminated { 0.0 } else { -1.0 }, terminated)
    }
    #[inline]
    fn observe(state: &[f64; 4], out: &mut [f32]) {
        out.copy_from_slice(&observe(state));
    }
}

/// Acrobot-v1 with the 500-step time limit.
pub type Acrobot = Env<AcrobotV1>;

/// N Acrobot-v1 members.
pub type AcrobotVec = VecOf<AcrobotV1>;

/// Acrobot-v1's registration: task `acrobot`, an argmax over three torques.
pub const SPEC: EnvSpec = super::spec::<AcrobotV1>(
    "Acrobot-v1",
    "acrobot",
    ActionSpec::Discrete(3),
    view,
    &[r#"
        [stop]
        generations = 200
        early_stop_at = -80.0
        [evaluation]
        solved_at = -100.0
        eval_every = 5
        keep_best_eval = true
        [policy]
        hidden = [32]
        obs_norm = true
        [es]
        population_size = 256
        rank = 1
        sigma = 0.2
        learning_rate = 0.1
        optimizer = { kind = "sgd", momentum = 0.0 }
    "#],
);

/// Two links from the pivot (θ = 0 hangs down) and the bar the free end must rise above
/// (observation `[cos θ1, sin θ1, cos θ2, sin θ2, θ̇1, θ̇2]`).
fn view(obs: &[f32]) -> Scene {
    let t1 = obs[1].atan2(obs[0]);
    let t2 = obs[3].atan2(obs[2]);
    let p1 = [t1.sin(), -t1.cos()];
    let p2 = [p1[0] + (t1 + t2).sin(), p1[1] - (t1 + t2).cos()];
    let link = |from, to| Shape::Line {
        from,
        to,
        width: 6.0,
        color: [0, 102, 204],
    };
    Scene {
        bounds: [-2.2, 2.2, -2.2, 2.2],
        shapes: vec![
            Shape::Line {
                from: [-2.2, 1.0],
                to: [2.2, 1.0],
                width: 1.0,
                color: [128, 128, 128],
            },
            link([0.0, 0.0], p1),
            link(p1, p2),
            Shape::Circle {
                center: [0.0, 0.0],
                radius: 4.0,
                color: [0, 0, 0],
            },
        ],
    }
}
