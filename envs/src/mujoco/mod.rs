//! Gymnasium's MuJoCo v5 environments on MuJoCo 4.0.1's C library, opened at run time.
//!
//! One [`Task`] per environment (a file each: `half_cheetah.rs`, `hopper.rs`, …) says what
//! Gymnasium's class says — model, frame skip, reset noise, observation, reward, termination;
//! [`MujocoEnv`] (one episode, the [`Environment`] trait) and [`MujocoVec`] (N members on the
//! rayon pool, the [`VecEnv`] trait) step every task through the same [`step_member`], so a
//! vectorised run equals N scalar runs bit for bit at any thread count. One compiled [`Model`]
//! is shared by every member; each member owns its [`Data`].
//!
//! Without the library, building an environment returns [`MujocoError::Missing`] naming
//! `scripts/get-mujoco.sh` and `EGGROLL_MUJOCO_LIB`; nothing else in the crate needs it.
//!
//! ```no_run
//! use eggroll_envs::mujoco::{HalfCheetah, MujocoEnv};
//! use eggroll_envs::{Action, Environment};
//! let mut env = MujocoEnv::<HalfCheetah>::new().expect("run scripts/get-mujoco.sh first");
//! let obs = env.reset(Some(0));
//! assert_eq!(obs.len(), 17);
//! let step = env.step(Action::Continuous(&[0.0; 6])).unwrap();
//! assert!(!step.terminated);
//! ```

pub mod ffi;
pub mod layout;
pub mod sim;

pub mod ant;
pub mod half_cheetah;
pub mod hopper;
pub mod humanoid;
pub mod inverted_double_pendulum;
pub mod inverted_pendulum;
pub mod reacher;
pub mod swimmer;
mod view;
pub mod walker2d;

/// The MuJoCo v5 environments, in the order `eggroll train --help` lists them.
pub const ENVS: &[&EnvSpec] = &[
    &half_cheetah::SPEC,
    &hopper::SPEC,
    &walker2d::SPEC,
    &ant::SPEC,
    &swimmer::SPEC,
    &humanoid::SPEC,
    &inverted_pendulum::SPEC,
    &inverted_double_pendulum::SPEC,
    &reacher::SPEC,
];

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

pub use ant::Ant;
pub use ffi::MujocoError;
pub use half_cheetah::HalfCheetah;
pub use hopper::Hopper;
pub use humanoid::Humanoid;
pub use inverted_double_pendulum::InvertedDoublePendulum;
pub use inverted_pendulum::InvertedPendulum;
pub use reacher::Reacher;
pub use sim::{Data, Model};
pub use swimmer::Swimmer;
pub use walker2d::Walker2d;

use crate::rng::Pcg64;
use crate::spec::{ActionSpec, EnvSpec};
use crate::vec::{Actions, Outputs, VecEnv, check_continuous, step_members_chunked};
use crate::{Action, EnvError, Environment, Episode, Space, Step, continuous_action};

/// What one Gymnasium MuJoCo environment adds to the shared stepping.
pub trait Task: Clone + Send + Sync + 'static {
    /// Gymnasium's id, e.g. `"HalfCheetah-v5"`.
    const ID: &'static str;
    /// The MJCF file's name (in `envs/assets/mujoco/`).
    const XML_NAME: &'static str;
    /// The MJCF text.
    const XML: &'static str;
    /// MuJoCo steps per environment step.
    const FRAME_SKIP: usize;
    /// Gymnasium's `max_episode_steps`.
    const MAX_EPISODE_STEPS: usize;
    /// Observation length.
    const OBS_DIM: usize;
    /// Action length (the model's actuators).
    const ACTION_DIM: usize;
    /// The action box is `[−ACTION_HIGH, ACTION_HIGH]` in every coordinate (the model's
    /// `actuator_ctrlrange`; checked when the model loads).
    const ACTION_HIGH: f32;
    /// The observation or reward reads `cfrc_ext`, so each step ends with
    /// `mj_rnePostConstraint` (Gymnasium calls it always; it changes no state).
    const CONTACT_FORCES: bool;
    /// What the reward needs from before the step (e.g. the torso's x position).
    type Before: Copy + Send;
    /// Resolve names in `model` (body and site ids).
    fn new(model: &Model) -> Result<Self, MujocoError>;
    /// Draw the initial state as Gymnasium's `reset_model` does; `qpos`/`qvel` hold
    /// `init_qpos`/`init_qvel` on entry.
    fn reset(&self, rng: &mut Pcg64, qpos: &mut [f64], qvel: &mut [f64]);
    /// Read what the reward needs before stepping.
    fn before(&self, d: &Data) -> Self::Before;
    /// Reward and `terminated` after stepping with `action` (`dt` = timestep × frame skip).
    fn outcome(&self, d: &Data, before: Self::Before, action: &[f32], dt: f64) -> (f64, bool);
    /// Write the observation (f64, as Gymnasium returns it).
    fn observe(&self, d: &Data, out: &mut [f64]);
    /// The joint positions an observation shows, for drawing (coordinates the observation
    /// leaves out, such as the torso's x, are 0).
    fn qpos_from_obs(obs: &[f32], qpos: &mut [f64]);
    /// How the dashboard looks at the model.
    const VIEW: View;
}

/// The plane a live view projects onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// From the side: world x to the right, z up (the planar walkers, Ant, Humanoid).
    Side,
    /// From above: world x to the right, y up (Swimmer, Reacher).
    Top,
}

/// One geom of a posed model, in world coordinates, for drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct GeomPose {
    /// `mjtGeom`: 0 plane, 2 sphere, 3 capsule, 4 ellipsoid, 5 cylinder, 6 box, ….
    pub kind: i32,
    /// Centre.
    pub pos: [f64; 3],
    /// The geom's local z axis in world coordinates (capsules and cylinders lie along it).
    pub axis: [f64; 3],
    /// MuJoCo's `geom_size`.
    pub size: [f64; 3],
    /// Colour, RGBA in [0, 1].
    pub rgba: [f32; 4],
}

/// The geoms of task `T` posed as `obs` shows (positions from `qpos_from_obs`, then MuJoCo's
/// kinematics), for live views. Uses one `Data` per thread and task.
pub fn pose<T: Task>(obs: &[f32]) -> Result<Vec<GeomPose>, MujocoError> {
    use std::cell::RefCell;
    thread_local! {
        static DATA: RefCell<HashMap<&'static str, Data>> = RefCell::new(HashMap::new());
    }
    if obs.len() != T::OBS_DIM {
        return Err(MujocoError::Model {
            name: T::XML_NAME.into(),
            reason: format!(
                "an observation of {} values, {} has {}",
                obs.len(),
                T::ID,
                T::OBS_DIM
            ),
        });
    }
    let model = model::<T>()?;
    DATA.with(|cell| {
        let mut map = cell.borrow_mut();
        let d = map.entry(T::ID).or_insert_with(|| Data::new(&model));
        let mut qpos = model.qpos0().to_vec();
        T::qpos_from_obs(obs, &mut qpos);
        d.qpos_mut().copy_from_slice(&qpos);
        d.qvel_mut().fill(0.0);
        d.forward();
        let (pos, mat) = (d.geom_xpos(), d.geom_xmat());
        let (kind, size, rgba) = (model.geom_type(), model.geom_size(), model.geom_rgba());
        Ok((0..model.ngeom)
            .map(|g| GeomPose {
                kind: kind[g],
                pos: [pos[3 * g], pos[3 * g + 1], pos[3 * g + 2]],
                axis: [mat[9 * g + 2], mat[9 * g + 5], mat[9 * g + 8]],
                size: [size[3 * g], size[3 * g + 1], size[3 * g + 2]],
                rgba: [
                    rgba[4 * g],
                    rgba[4 * g + 1],
                    rgba[4 * g + 2],
                    rgba[4 * g + 3],
                ],
            })
            .collect())
    })
}

/// The compiled model of task `T`, shared by every environment of the process.
pub fn model<T: Task>() -> Result<Arc<Model>, MujocoError> {
    static MODELS: Mutex<Option<HashMap<&'static str, Arc<Model>>>> = Mutex::new(None);
    let mut guard = MODELS.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(m) = map.get(T::ID) {
        return Ok(Arc::clone(m));
    }
    let m = Model::from_xml(T::XML_NAME, T::XML)?;
    check_sizes::<T>(&m)?;
    map.insert(T::ID, Arc::clone(&m));
    Ok(m)
}

/// The model must have the sizes `T` declares (they are Gymnasium's).
fn check_sizes<T: Task>(m: &Model) -> Result<(), MujocoError> {
    let range = m.ctrl_range();
    let symmetric = (0..m.nu).all(|i| {
        range[2 * i] as f32 == -T::ACTION_HIGH && range[2 * i + 1] as f32 == T::ACTION_HIGH
    });
    if m.nu != T::ACTION_DIM || !symmetric {
        return Err(MujocoError::Model {
            name: T::XML_NAME.into(),
            reason: format!(
                "{} actuators with ranges {range:?}; {} expects {} in [−{h}, {h}]",
                m.nu,
                T::ID,
                T::ACTION_DIM,
                h = T::ACTION_HIGH
            ),
        });
    }
    Ok(())
}

/// The action space: `Box(actuator_ctrlrange)` as float32, as Gymnasium builds it.
pub fn action_space(model: &Model) -> Space {
    let r = model.ctrl_range();
    Space::Box {
        low: (0..model.nu).map(|i| r[2 * i] as f32).collect(),
        high: (0..model.nu).map(|i| r[2 * i + 1] as f32).collect(),
        shape: vec![model.nu],
    }
}

/// Reset `d` as Gymnasium's `MujocoEnv.reset` does: `mj_resetData`, the task's draw,
/// `set_state` (qpos, qvel, `mj_forward`).
pub fn reset_member<T: Task>(task: &T, d: &mut Data, rng: &mut Pcg64) {
    d.reset();
    let model = Arc::clone(d.model());
    let mut qpos = model.qpos0().to_vec();
    let mut qvel = vec![0.0; model.nv];
    task.reset(rng, &mut qpos, &mut qvel);
    d.qpos_mut().copy_from_slice(&qpos);
    d.qvel_mut().copy_from_slice(&qvel);
    d.forward();
}

/// One environment step of a running member: controls ← action, `FRAME_SKIP` MuJoCo steps,
/// `mj_rnePostConstraint` where the task reads contact forces, then reward and termination.
pub fn step_member<T: Task>(task: &T, d: &mut Data, action: &[f32], dt: f64) -> (f64, bool) {
    let before = task.before(d);
    for (c, &a) in d.ctrl_mut().iter_mut().zip(action) {
        *c = f64::from(a);
    }
    d.step(T::FRAME_SKIP);
    if T::CONTACT_FORCES {
        d.rne_post_constraint();
    }
    task.outcome(d, before, action, dt)
}

/// One Gymnasium MuJoCo environment, wrapped in its `TimeLimit`.
#[derive(Debug, Clone)]
pub struct MujocoEnv<T: Task> {
    task: T,
    data: Data,
    rng: Pcg64,
    episode: Episode,
    max_steps: usize,
    dt: f64,
    obs: Vec<f64>,
}

impl<T: Task> MujocoEnv<T> {
    /// A new environment (generator seeded with 0 until `reset(Some(seed))`).
    pub fn new() -> Result<Self, MujocoError> {
        let model = model::<T>()?;
        Ok(Self {
            task: T::new(&model)?,
            data: Data::new(&model),
            rng: Pcg64::new(0),
            episode: Episode::default(),
            max_steps: T::MAX_EPISODE_STEPS,
            dt: model.timestep * T::FRAME_SKIP as f64,
            obs: vec![0.0; T::OBS_DIM],
        })
    }

    /// Override the time limit.
    pub fn with_max_episode_steps(mut self, steps: usize) -> Self {
        self.max_steps = steps;
        self
    }

    /// The latest observation in f64, as Gymnasium returns it.
    pub fn observation_f64(&self) -> &[f64] {
        &self.obs
    }

    /// The simulation state (qpos, qvel, contacts, …).
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// Seconds of simulated time per environment step.
    pub fn dt(&self) -> f64 {
        self.dt
    }

    fn observation(&mut self) -> Vec<f32> {
        self.task.observe(&self.data, &mut self.obs);
        self.obs.iter().map(|&x| x as f32).collect()
    }
}

impl<T: Task> Environment for MujocoEnv<T> {
    fn observation_space(&self) -> Space {
        Space::uniform_box(f32::NEG_INFINITY, f32::INFINITY, &[self.obs.len()])
    }
    fn action_space(&self) -> Space {
        action_space(self.data.model())
    }
    fn max_episode_steps(&self) -> Option<usize> {
        Some(self.max_steps)
    }
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        if let Some(s) = seed {
            self.rng = Pcg64::new(s);
        }
        reset_member(&self.task, &mut self.data, &mut self.rng);
        self.episode.begin();
        self.observation()
    }
    fn observation_f64(&self) -> Option<&[f64]> {
        Some(&self.obs)
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, EnvError> {
        let a = continuous_action(action, self.data.model().nu)?;
        self.episode.check()?;
        let (reward, terminated) = step_member(&self.task, &mut self.data, a, self.dt);
        let truncated = self.episode.advance(terminated, self.max_steps);
        Ok(Step {
            observation: self.observation(),
            reward,
            terminated,
            truncated,
        })
    }
}

/// N members of one MuJoCo task stepped together on the rayon pool.
#[derive(Debug, Clone)]
pub struct MujocoVec<T: Task> {
    task: T,
    members: Vec<(Data, Vec<f64>)>,
    out: Outputs,
    obs_dim: usize,
    limit: u32,
    dt: f64,
    started: bool,
}

impl<T: Task> MujocoVec<T> {
    /// `n` members, not yet reset.
    pub fn new(n: usize) -> Result<Self, MujocoError> {
        let model = model::<T>()?;
        let obs_dim = T::OBS_DIM;
        Ok(Self {
            task: T::new(&model)?,
            members: (0..n)
                .map(|_| (Data::new(&model), vec![0.0; obs_dim]))
                .collect(),
            out: Outputs::new(n, obs_dim),
            obs_dim,
            limit: T::MAX_EPISODE_STEPS as u32,
            dt: model.timestep * T::FRAME_SKIP as f64,
            started: false,
        })
    }

    /// Override the time limit.
    pub fn with_max_episode_steps(mut self, steps: usize) -> Self {
        self.limit = steps.min(u32::MAX as usize) as u32;
        self
    }

    /// Member `i`'s simulation state.
    pub fn data(&self, i: usize) -> &Data {
        &self.members[i].0
    }

    /// Member `i`'s latest observation in f64.
    pub fn observation_f64(&self, i: usize) -> &[f64] {
        &self.members[i].1
    }

    fn grain(&self) -> Option<usize> {
        let n = self.members.len();
        let threads = rayon::current_num_threads();
        (n > 1 && threads > 1).then(|| n.div_ceil(threads * 4).max(1))
    }
}

fn write_obs<T: Task>(task: &T, d: &Data, obs64: &mut [f64], obs: &mut [f32]) {
    task.observe(d, obs64);
    for (o, &x) in obs.iter_mut().zip(obs64.iter()) {
        *o = x as f32;
    }
}

impl<T: Task> VecEnv for MujocoVec<T> {
    fn num_envs(&self) -> usize {
        self.members.len()
    }
    fn observation_space(&self) -> Space {
        Space::uniform_box(f32::NEG_INFINITY, f32::INFINITY, &[self.obs_dim])
    }
    fn action_space(&self) -> Space {
        match self.members.first() {
            Some((d, _)) => action_space(d.model()),
            None => Space::uniform_box(-1.0, 1.0, &[0]),
        }
    }
    fn reset_seeds(&mut self, seeds: &[u64]) {
        assert_eq!(seeds.len(), self.members.len(), "one seed per member");
        let (task, dim) = (&self.task, self.obs_dim.max(1));
        self.members
            .par_iter_mut()
            .zip(self.out.obs.par_chunks_mut(dim))
            .zip(seeds.par_iter())
            .for_each(|(((d, o64), o), &s)| {
                reset_member(task, d, &mut Pcg64::new(s));
                write_obs(task, d, o64, o);
            });
        self.out.clear_flags();
        self.started = true;
    }
    fn step(&mut self, actions: Actions<'_>) -> Result<(), EnvError> {
        if !self.started {
            return Err(EnvError::NotReset);
        }
        let n = self.members.len();
        let nu = match self.members.first() {
            Some((d, _)) => d.model().nu,
            None => return Ok(()),
        };
        check_continuous(actions, n, nu, &self.out.done)?;
        let Actions::Continuous(a) = actions else {
            unreachable!("checked continuous")
        };
        let (task, dt, grain) = (&self.task, self.dt, self.grain());
        step_members_chunked(
            &mut self.members,
            a,
            nu,
            &mut self.out,
            self.obs_dim,
            self.limit,
            grain,
            |(d, o64), act, o| {
                let r = step_member(task, d, act, dt);
                write_obs(task, d, o64, o);
                r
            },
        );
        Ok(())
    }
    crate::vec::output_getters!();
}

/// `min < x < max` for each value (Gymnasium's healthy-range checks).
pub(crate) fn all_within(values: &[f64], min: f64, max: f64) -> bool {
    values.iter().all(|&v| min < v && v < max)
}

/// `qpos` for drawing an observation that starts with `qpos[skip:]`: the first `skip`
/// coordinates (the torso's x, or x and y) are 0, the rest come from `obs`.
pub(crate) fn qpos_after(skip: usize, obs: &[f32], qpos: &mut [f64]) {
    qpos[..skip].fill(0.0);
    for (q, &o) in qpos[skip..].iter_mut().zip(obs) {
        *q = f64::from(o);
    }
}

/// NumPy's `np.clip(x, lo, hi)` for one value (NaN stays NaN).
pub(crate) fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    if x.is_nan() { x } else { x.max(lo).min(hi) }
}

/// Float32 control cost `w * np.sum(np.square(action))` as NumPy 2 computes it for a float32
/// action and a Python float weight: everything in float32.
pub(crate) fn ctrl_cost_f32(weight: f64, action: &[f32]) -> f32 {
    weight as f32 * crate::npmath::sum_squares_f32(action)
}

/// Seconds to take `steps` environment steps on each of `n` members of task `T` with uniform
/// random actions in the action box and no policy, on the rayon pool: MuJoCo's stepping plus
/// everything the environment adds (controls, frame skip, contact forces where the task reads
/// them, reward, observation), with no resets — members run on past a termination, as
/// `mujoco.rollout` does. The engine's ceiling for [`MujocoVec`].
pub fn time_steps<T: Task>(n: usize, steps: usize, seed: u64) -> Result<f64, MujocoError> {
    let model = model::<T>()?;
    let task = T::new(&model)?;
    let dt = model.timestep * T::FRAME_SKIP as f64;
    let mut members: Vec<(Data, Vec<f64>, Vec<f32>, u64)> = (0..n)
        .map(|i| {
            let mut d = Data::new(&model);
            reset_member(&task, &mut d, &mut Pcg64::new(crate::member_seed(seed, i)));
            let key = crate::member_seed(seed ^ 0x5eed, i);
            (d, vec![0.0; T::OBS_DIM], vec![0.0; T::ACTION_DIM], key)
        })
        .collect();
    let threads = rayon::current_num_threads();
    let grain = n.div_ceil(threads * 4).max(1);
    let start = std::time::Instant::now();
    members.par_chunks_mut(grain).for_each(|chunk| {
        for _ in 0..steps {
            for (d, obs, action, key) in chunk.iter_mut() {
                for a in action.iter_mut() {
                    *key = crate::member_seed(*key, 1);
                    let u = (*key >> 40) as f32 / (1u64 << 24) as f32;
                    *a = T::ACTION_HIGH * (2.0 * u - 1.0);
                }
                step_member(&task, d, action, dt);
                task.observe(d, obs);
            }
        }
    });
    Ok(start.elapsed().as_secs_f64())
}

/// What every locomotion task starts from (each environment's own layer follows): ARS's
/// linear policy on normalised observations, one episode per member, best-validated
/// parameters kept, and a 10-minute budget (the generations that fit in it on the machine
/// at hand).
pub(crate) const DEFAULTS: &str = r#"
    [policy]
    hidden = []
    obs_norm = true
    [evaluation]
    episodes = 1
    eval_episodes = 10
    keep_best_eval = true
    eval_every = 10
    [es]
    rank = 1
    [stop]
    time_budget_s = 600.0
    generations = 100000
"#;

/// ARS V2-t (Mania et al. 2018), the layer over [`DEFAULTS`] of the tasks it solves: full
/// Gaussian noise in antithetic pairs (`simple_es`), only the best `es.top_pairs` pairs move θ,
/// plain SGD (`learning_rate = α·N·σ/b` is ARS's step size α with N members, b pairs) and the
/// linear policy starting at zero. The tasks with a survival bonus take it out of the training
/// return (`evaluation.reward_shift`, as ARS does) so that standing still scores nothing;
/// validation scores the true return.
pub(crate) const ARS: &str = r#"
    strategy = "simple_es"
    [es.optimizer]
    kind = "sgd"
    [policy]
    init = "zero_output"
"#;

/// The registration of MuJoCo environment `T` as task `task`: a tanh head scaled to its
/// action box, the posed model as its view, `defaults` (start with [`DEFAULTS`]).
pub(crate) const fn spec<T: Task>(
    task: &'static str,
    defaults: &'static [&'static str],
) -> EnvSpec {
    EnvSpec {
        id: T::ID,
        task,
        observations: T::OBS_DIM,
        action: ActionSpec::Box {
            dim: T::ACTION_DIM,
            low: -T::ACTION_HIGH,
            high: T::ACTION_HIGH,
        },
        mujoco: true,
        make: make_env::<T>,
        vec: make_vec::<T>,
        ready: ready::<T>,
        time_steps: Some(time_steps::<T>),
        view: view::view::<T>,
        defaults,
    }
}

fn make_env<T: Task>() -> Result<Box<dyn Environment>, MujocoError> {
    Ok(Box::new(MujocoEnv::<T>::new()?))
}

fn make_vec<T: Task>(n: usize) -> Box<dyn VecEnv> {
    // `EnvSpec::ready` opened the library and compiled the model before any call.
    Box::new(MujocoVec::<T>::new(n).expect("MuJoCo checked by EnvSpec::ready"))
}

fn ready<T: Task>() -> Result<(), MujocoError> {
    model::<T>().map(|_| ())
}
