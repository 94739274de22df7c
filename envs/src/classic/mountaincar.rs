//! MountainCar-v0 and MountainCarContinuous-v0, identical to Gymnasium 1.4
//! (`gymnasium/envs/classic_control/mountain_car.py`, `continuous_mountain_car.py`).

use crate::Space;
use crate::dynamics::{Dynamics, Env, MemberAction, VecOf};
use crate::rng::Pcg64;
use crate::scene::{Scene, Shape};
use crate::spec::{ActionSpec, EnvSpec};

/// Left end of the track.
pub const MIN_POSITION: f64 = -1.2;
/// Right end of the track.
pub const MAX_POSITION: f64 = 0.6;
/// Speed limit.
pub const MAX_SPEED: f64 = 0.07;
/// Goal position of MountainCar-v0.
pub const GOAL_POSITION: f64 = 0.5;
/// Goal position of MountainCarContinuous-v0.
pub const GOAL_POSITION_CONTINUOUS: f64 = 0.45;
/// Push of MountainCar-v0's actions.
pub const FORCE: f64 = 0.001;
/// Gravity term.
pub const GRAVITY: f64 = 0.0025;
/// Power of MountainCarContinuous-v0's action.
pub const POWER: f64 = 0.0015;
/// MountainCar-v0's registry time limit.
pub const MAX_EPISODE_STEPS: usize = 200;
/// MountainCarContinuous-v0's registry time limit.
pub const MAX_EPISODE_STEPS_CONTINUOUS: usize = 999;

fn observation_space() -> Space {
    Space::Box {
        low: vec![MIN_POSITION as f32, -MAX_SPEED as f32],
        high: vec![MAX_POSITION as f32, MAX_SPEED as f32],
        shape: vec![2],
    }
}

/// The initial state Gymnasium draws: position ~ U[−0.6, −0.4), velocity 0.
pub fn initial_state(rng: &mut Pcg64) -> [f64; 2] {
    [rng.uniform(-0.6, -0.4), 0.0]
}

/// One step of MountainCar-v0 (float64 throughout, Gymnasium's operation order); action 0
/// pushes left, 1 does nothing, 2 pushes right. Returns the new state and `terminated`.
#[inline]
pub fn step_discrete(state: [f64; 2], action: usize) -> ([f64; 2], bool) {
    let [mut position, mut velocity] = state;
    velocity += (action as f64 - 1.0) * FORCE + (3.0 * position).cos() * (-GRAVITY);
    velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
    position += velocity;
    position = position.clamp(MIN_POSITION, MAX_POSITION);
    if position == MIN_POSITION && velocity < 0.0 {
        velocity = 0.0;
    }
    let terminated = position >= GOAL_POSITION && velocity >= 0.0;
    ([position, velocity], terminated)
}

/// MountainCar-v0's dynamics: reward −1 per step, terminated at the flag.
#[derive(Debug, Clone, Copy)]
pub struct MountainCarV0;

impl Dynamics for MountainCarV0 {
    type State = [f64; 2];
    const OBS_DIM: usize = 2;
    const MAX_EPISODE_STEPS: usize = MAX_EPISODE_STEPS;
    fn observation_space() -> Space {
        observation_space()
    }
    fn action_space() -> Space {
        Space::Discrete { n: 3 }
    }
    fn initial_state(rng: &mut Pcg64) -> [f64; 2] {
        initial_state(rng)
    }
    #[inline]
    fn step(state: [f64; 2], action: MemberAction<'_>) -> ([f64; 2], f64, bool) {
        let a = match action {
            MemberAction::Discrete(a) => a,
            MemberAction::Continuous(_) => unreachable!("MountainCar-v0's actions are discrete"),
        };
        let (s, terminated) = step_discrete(state, a);
        (s, -1.0, terminated)
    }
    #[inline]
    fn observe(state: &[f64; 2], out: &mut [f32]) {
        out[0] = state[0] as f32;
        out[1] = state[1] as f32;
    }
}

/// MountainCar-v0 with the 200-step time limit.
pub type MountainCar = Env<MountainCarV0>;

/// MountainCarContinuous-v0's state. Gymnasium keeps it as a float64 array after `reset` and
/// as a float32 array after every step, and NumPy 2 computes with float32 scalars in float32:
/// `single` records which, the values are exact either way.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContinuousState {
    /// Position.
    pub position: f64,
    /// Velocity.
    pub velocity: f64,
    /// The state is Gymnasium's float32 array (after a step), not its float64 one.
    pub single: bool,
}

/// A number as NumPy 2 sees it: a float32 scalar, or a float64 / Python float.
#[derive(Clone, Copy)]
enum Num {
    F32(f32),
    F64(f64),
}

impl Num {
    fn value(self) -> f64 {
        match self {
            Num::F32(x) => f64::from(x),
            Num::F64(x) => x,
        }
    }
    /// `self + other` with NEP 50 promotion (a float32 meets a Python float in float32; two
    /// float64 values in float64; float32 with float64 scalar → float64).
    fn add(self, other: Num, other_is_python: bool) -> Num {
        match (self, other) {
            (Num::F32(a), Num::F32(b)) => Num::F32(a + b),
            (Num::F32(a), Num::F64(b)) if other_is_python => Num::F32(a + b as f32),
            (a, b) => Num::F64(a.value() + b.value()),
        }
    }
    /// `self > bound` with `bound` a Python float.
    fn gt(self, bound: f64) -> bool {
        match self {
            Num::F32(a) => a > bound as f32,
            Num::F64(a) => a > bound,
        }
    }
    /// `self < bound` with `bound` a Python float.
    fn lt(self, bound: f64) -> bool {
        match self {
            Num::F32(a) => a < bound as f32,
            Num::F64(a) => a < bound,
        }
    }
    /// `self >= bound` with `bound` a Python float.
    fn ge(self, bound: f64) -> bool {
        match self {
            Num::F32(a) => a >= bound as f32,
            Num::F64(a) => a >= bound,
        }
    }
    /// `self == bound` with `bound` a Python float.
    fn eq(self, bound: f64) -> bool {
        match self {
            Num::F32(a) => a == bound as f32,
            Num::F64(a) => a == bound,
        }
    }
}

/// One step of MountainCarContinuous-v0 with Gymnasium's statements and NumPy 2's scalar
/// types; `u` is the float32 action. Returns the new (float32) state, the reward and
/// `terminated`.
pub fn step_continuous(state: ContinuousState, u: f32) -> (ContinuousState, f64, bool) {
    let scalar = |x: f64| {
        if state.single {
            Num::F32(x as f32)
        } else {
            Num::F64(x)
        }
    };
    let (mut position, mut velocity) = (scalar(state.position), scalar(state.velocity));
    // force = min(max(action[0], -1.0), 1.0): Python's max/min keep the float32 unless the
    // bound is strictly beyond it.
    let mut force = Num::F32(u);
    if -1.0 > f64::from(u) {
        force = Num::F64(-1.0);
    }
    if 1.0 < force.value() {
        force = Num::F64(1.0);
    }
    // force * power: float32 × Python float is float32.
    let push = match force {
        Num::F32(f) => Num::F32(f * POWER as f32),
        Num::F64(f) => Num::F64(f * POWER),
    };
    // 3 * position is float32 for a float32 position; math.cos works in double.
    let three_p = match position {
        Num::F32(p) => f64::from(3.0f32 * p),
        Num::F64(p) => 3.0 * p,
    };
    let gravity = 0.0025 * three_p.cos();
    // push − gravity: a float32 meets a Python float in float32.
    let accel = match push {
        Num::F32(p) => Num::F32(p - gravity as f32),
        Num::F64(p) => Num::F64(p - gravity),
    };
    // velocity += accel (accel is a Python float when force was clipped).
    velocity = velocity.add(accel, matches!(force, Num::F64(_)));
    if velocity.gt(MAX_SPEED) {
        velocity = Num::F64(MAX_SPEED);
    }
    if velocity.lt(-MAX_SPEED) {
        velocity = Num::F64(-MAX_SPEED);
    }
    // position += velocity (a clipped velocity is a Python float).
    let v_is_python = matches!(velocity, Num::F64(_)) && matches!(position, Num::F32(_));
    position = position.add(velocity, v_is_python);
    if position.gt(MAX_POSITION) {
        position = Num::F64(MAX_POSITION);
    }
    if position.lt(MIN_POSITION) {
        position = Num::F64(MIN_POSITION);
    }
    if position.eq(MIN_POSITION) && velocity.value() < 0.0 {
        velocity = Num::F64(0.0);
    }
    let terminated = position.ge(GOAL_POSITION_CONTINUOUS) && velocity.value() >= 0.0;
    let mut reward = if terminated { 100.0 } else { 0.0 };
    reward -= f64::from(u).powi(2) * 0.1;
    // self.state = np.array([position, velocity], dtype=np.float32)
    let next = ContinuousState {
        position: f64::from(position.value() as f32),
        velocity: f64::from(velocity.value() as f32),
        single: true,
    };
    (next, reward, terminated)
}

/// MountainCarContinuous-v0's dynamics: reward −0.1·a² per step plus 100 at the goal.
#[derive(Debug, Clone, Copy)]
pub struct MountainCarContinuousV0;

impl Dynamics for MountainCarContinuousV0 {
    type State = ContinuousState;
    const OBS_DIM: usize = 2;
    const MAX_EPISODE_STEPS: usize = MAX_EPISODE_STEPS_CONTINUOUS;
    fn observation_space() -> Space {
        observation_space()
    }
    fn action_space() -> Space {
        Space::uniform_box(-1.0, 1.0, &[1])
    }
    fn initial_state(rng: &mut Pcg64) -> ContinuousState {
        let [position, velocity] = initial_state(rng);
        ContinuousState {
            position,
            velocity,
            single: false,
        }
    }
    #[inline]
    fn step(state: ContinuousState, action: MemberAction<'_>) -> (ContinuousState, f64, bool) {
        let u = match action {
            MemberAction::Continuous(a) => a[0],
            MemberAction::Discrete(_) => unreachable!("MountainCarContinuous's actions are a Box"),
        };
        step_continuous(state, u)
    }
    #[inline]
    fn observe(state: &ContinuousState, out: &mut [f32]) {
        out[0] = state.position as f32;
        out[1] = state.velocity as f32;
    }
}

/// MountainCarContinuous-v0 with the 999-step time limit. Actions outside [−1, 1] are
/// clipped for the force (the reward uses the unclipped action, as in Gymnasium).
pub type MountainCarContinuous = Env<MountainCarContinuousV0>;

/// N MountainCar-v0 members.
pub type MountainCarVec = VecOf<MountainCarV0>;

/// N MountainCarContinuous-v0 members.
pub type MountainCarContinuousVec = VecOf<MountainCarContinuousV0>;

/// What both MountainCar tasks start from.
const DEFAULTS: &str = r#"
    [stop]
    generations = 300
    [evaluation]
    eval_every = 5
    keep_best_eval = true
    [policy]
    hidden = [32]
    obs_norm = true
    [es]
    population_size = 256
    rank = 1
    sigma = 0.5
    learning_rate = 0.1
    optimizer = { kind = "sgd", momentum = 0.0 }
"#;

/// MountainCar-v0's registration: task `mountaincar`, an argmax over three pushes (−1 per
/// step).
pub const SPEC: EnvSpec = super::spec::<MountainCarV0>(
    "MountainCar-v0",
    "mountaincar",
    ActionSpec::Discrete(3),
    |obs| view(obs, 0.5),
    // Sparse reward: four episodes per member, a wider net and σ = 1 (scripts/sweep-control.sh).
    &[
        DEFAULTS,
        r#"
        [stop]
        generations = 500
        early_stop_at = -105.0
        [evaluation]
        episodes = 4
        solved_at = -110.0
        [policy]
        hidden = [64]
        [es]
        sigma = 1.0
    "#,
    ],
);

/// MountainCarContinuous-v0's registration: task `mountaincar-continuous`, a force in
/// [−1, 1] (−0.1·a² per step, +100 at the goal).
pub const SPEC_CONTINUOUS: EnvSpec = super::spec::<MountainCarContinuousV0>(
    "MountainCarContinuous-v0",
    "mountaincar-continuous",
    ActionSpec::Box {
        dim: 1,
        low: -1.0,
        high: 1.0,
    },
    |obs| view(obs, 0.45),
    &[
        DEFAULTS,
        r#"
        [stop]
        early_stop_at = 93.0
        [evaluation]
        solved_at = 90.0
    "#,
    ],
);

/// The hill `y = 0.45 sin(3x) + 0.55`, the car on it and the goal flag at `goal`
/// (observation `[position, velocity]`).
fn view(obs: &[f32], goal: f32) -> Scene {
    let height = |x: f32| 0.45 * (3.0 * x).sin() + 0.55;
    let mut shapes: Vec<Shape> = (0..36)
        .map(|i| {
            let (a, b) = (-1.2 + 0.05 * i as f32, -1.2 + 0.05 * (i + 1) as f32);
            Shape::Line {
                from: [a, height(a)],
                to: [b, height(b)],
                width: 2.0,
                color: [90, 90, 90],
            }
        })
        .collect();
    shapes.push(Shape::Line {
        from: [goal, height(goal)],
        to: [goal, height(goal) + 0.15],
        width: 2.0,
        color: [204, 153, 0],
    });
    shapes.push(Shape::Circle {
        center: [obs[0], height(obs[0]) + 0.04],
        radius: 7.0,
        color: [204, 77, 77],
    });
    Scene {
        bounds: [-1.25, 0.65, -0.05, 1.2],
        shapes,
    }
}
