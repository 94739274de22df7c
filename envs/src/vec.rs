//! Vectorised stepping: N independent copies stepped together.
//!
//! Outputs are struct-of-arrays — an `N × obs_dim` observation matrix and one array each of
//! rewards, `terminated`, `truncated` and `done` flags — so a batched policy reads all
//! observations as one matrix. Member `i` is reset with seed [`member_seed`]`(seed, i)`, so a
//! vectorised run equals stepping N scalar environments one by one (tested bit for bit).
//! A member whose episode ended stays ended (reward 0, flags and observation kept) until the
//! next [`VecEnv::reset`]. Large batches are stepped in parallel over rayon chunks.

use rayon::prelude::*;

use crate::{EnvError, Environment, Space, member_seed};

/// Actions for all members (entries of finished members are ignored).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Actions<'a> {
    /// One discrete action per member.
    Discrete(&'a [i64]),
    /// `N × act_dim` continuous actions, row-major.
    Continuous(&'a [f32]),
}

/// A batch of environments stepped together.
pub trait VecEnv: Send {
    /// Number of members.
    fn num_envs(&self) -> usize;
    /// Observation space of one member.
    fn observation_space(&self) -> Space;
    /// Action space of one member.
    fn action_space(&self) -> Space;
    /// Reset every member; member `i` uses seed `member_seed(seed, i)`.
    fn reset(&mut self, seed: u64) {
        let seeds: Vec<u64> = (0..self.num_envs()).map(|i| member_seed(seed, i)).collect();
        self.reset_seeds(&seeds);
    }
    /// Reset member `i` with `seeds[i]` (one seed per member), e.g. to give several members
    /// the same initial state (common random numbers).
    fn reset_seeds(&mut self, seeds: &[u64]);
    /// Step every member that is still running.
    fn step(&mut self, actions: Actions<'_>) -> Result<(), EnvError>;
    /// The latest observations, `N × obs_dim`.
    fn observations(&self) -> &[f32];
    /// Rewards of the last step (0 for members that had already finished).
    fn rewards(&self) -> &[f64];
    /// Members whose episode terminated.
    fn terminated(&self) -> &[bool];
    /// Members whose episode was truncated by the time limit.
    fn truncated(&self) -> &[bool];
    /// Members whose episode has ended (terminated or truncated).
    fn done(&self) -> &[bool];
    /// True when every member has finished.
    fn all_done(&self) -> bool {
        self.done().iter().all(|&d| d)
    }
}

/// Below this many members a batch is stepped on the calling thread.
const PAR_THRESHOLD: usize = 1024;
const CHUNK: usize = 256;

/// Struct-of-arrays outputs shared by every implementation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outputs {
    pub(crate) obs: Vec<f32>,
    pub(crate) rewards: Vec<f64>,
    pub(crate) terminated: Vec<bool>,
    pub(crate) truncated: Vec<bool>,
    pub(crate) done: Vec<bool>,
    pub(crate) steps: Vec<u32>,
}

impl Outputs {
    pub(crate) fn new(n: usize, obs_dim: usize) -> Self {
        Self {
            obs: vec![0.0; n * obs_dim],
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            done: vec![false; n],
            steps: vec![0; n],
        }
    }
    pub(crate) fn clear_flags(&mut self) {
        self.rewards.fill(0.0);
        self.terminated.fill(false);
        self.truncated.fill(false);
        self.done.fill(false);
        self.steps.fill(0);
    }
}

pub(crate) fn check_discrete(
    actions: Actions<'_>,
    n: usize,
    choices: usize,
    done: &[bool],
) -> Result<(), EnvError> {
    let Actions::Discrete(a) = actions else {
        return Err(EnvError::InvalidAction(format!(
            "expected discrete actions in Discrete({choices})"
        )));
    };
    if a.len() != n {
        return Err(EnvError::InvalidAction(format!(
            "expected {n} actions, got {}",
            a.len()
        )));
    }
    if let Some(i) = (0..n).find(|&i| !done[i] && !(0..choices as i64).contains(&a[i])) {
        return Err(EnvError::InvalidAction(format!(
            "member {i}: {} is outside Discrete({choices})",
            a[i]
        )));
    }
    Ok(())
}

pub(crate) fn check_continuous(
    actions: Actions<'_>,
    n: usize,
    dim: usize,
    done: &[bool],
) -> Result<(), EnvError> {
    let Actions::Continuous(a) = actions else {
        return Err(EnvError::InvalidAction(format!(
            "expected continuous actions of dimension {dim}"
        )));
    };
    if a.len() != n * dim {
        return Err(EnvError::InvalidAction(format!(
            "expected {n}×{dim} = {} values, got {}",
            n * dim,
            a.len()
        )));
    }
    if let Some(i) =
        (0..n).find(|&i| !done[i] && a[i * dim..(i + 1) * dim].iter().any(|x| x.is_nan()))
    {
        return Err(EnvError::InvalidAction(format!(
            "member {i}: action is NaN"
        )));
    }
    Ok(())
}

/// The five output accessors every implementation shares (they all keep an `out: Outputs`).
macro_rules! output_getters {
    () => {
        fn observations(&self) -> &[f32] {
            &self.out.obs
        }
        fn rewards(&self) -> &[f64] {
            &self.out.rewards
        }
        fn terminated(&self) -> &[bool] {
            &self.out.terminated
        }
        fn truncated(&self) -> &[bool] {
            &self.out.truncated
        }
        fn done(&self) -> &[bool] {
            &self.out.done
        }
    };
}
pub(crate) use output_getters;

/// Step members in chunks (in parallel for large batches). `f(state, action_row, obs_row) ->
/// (reward, terminated)` advances one running member.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn step_members<S: Send, A: Sync>(
    states: &mut [S],
    actions: &[A],
    act_dim: usize,
    out: &mut Outputs,
    obs_dim: usize,
    limit: u32,
    f: impl Fn(&mut S, &[A], &mut [f32]) -> (f64, bool) + Sync,
) {
    let n = states.len();
    let chunk = (n >= PAR_THRESHOLD).then_some(CHUNK);
    step_members_chunked(states, actions, act_dim, out, obs_dim, limit, chunk, f)
}

/// [`step_members`] with the parallel grain chosen by the caller: `Some(chunk)` steps chunks
/// of that many members on the rayon pool, `None` steps all on the calling thread. Each
/// member's result depends on its own state only, so the grain never changes the bits.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn step_members_chunked<S: Send, A: Sync>(
    states: &mut [S],
    actions: &[A],
    act_dim: usize,
    out: &mut Outputs,
    obs_dim: usize,
    limit: u32,
    par_chunk: Option<usize>,
    f: impl Fn(&mut S, &[A], &mut [f32]) -> (f64, bool) + Sync,
) {
    let n = states.len();
    let chunk = par_chunk.unwrap_or(n).max(1);
    let work = |(((((st, act), obs), rew), (term, trunc)), (done, steps)): (
        (
            (((&mut [S], &[A]), &mut [f32]), &mut [f64]),
            (&mut [bool], &mut [bool]),
        ),
        (&mut [bool], &mut [u32]),
    )| {
        for i in 0..st.len() {
            if done[i] {
                rew[i] = 0.0;
                continue;
            }
            let (r, t) = f(
                &mut st[i],
                &act[i * act_dim..(i + 1) * act_dim],
                &mut obs[i * obs_dim..(i + 1) * obs_dim],
            );
            steps[i] += 1;
            rew[i] = r;
            term[i] = t;
            trunc[i] = steps[i] >= limit;
            done[i] = t || trunc[i];
        }
    };
    let Outputs {
        obs,
        rewards,
        terminated,
        truncated,
        done,
        steps,
    } = out;
    if par_chunk.is_some() {
        states
            .par_chunks_mut(chunk)
            .zip(actions.par_chunks(chunk * act_dim))
            .zip(obs.par_chunks_mut(chunk * obs_dim))
            .zip(rewards.par_chunks_mut(chunk))
            .zip(
                terminated
                    .par_chunks_mut(chunk)
                    .zip(truncated.par_chunks_mut(chunk)),
            )
            .zip(done.par_chunks_mut(chunk).zip(steps.par_chunks_mut(chunk)))
            .for_each(work);
    } else {
        work((
            (
                (
                    ((states, actions), obs.as_mut_slice()),
                    rewards.as_mut_slice(),
                ),
                (terminated.as_mut_slice(), truncated.as_mut_slice()),
            ),
            (done.as_mut_slice(), steps.as_mut_slice()),
        ));
    }
}

/// Any [`Environment`] (closure environments included) vectorised: one instance per member,
/// outputs SoA.
pub struct EnvVec<E> {
    envs: Vec<E>,
    obs_dim: usize,
    out: Outputs,
    started: bool,
}

impl<E: Environment> EnvVec<E> {
    /// `n` members built by `make(i)`.
    pub fn new(n: usize, make: impl Fn(usize) -> E) -> Self {
        let envs: Vec<E> = (0..n).map(make).collect();
        let obs_dim = envs.first().map_or(0, |e| e.observation_space().flat_dim());
        Self {
            out: Outputs::new(n, obs_dim),
            envs,
            obs_dim,
            started: false,
        }
    }
}

impl<E: Environment> VecEnv for EnvVec<E> {
    fn num_envs(&self) -> usize {
        self.envs.len()
    }
    fn observation_space(&self) -> Space {
        self.envs[0].observation_space()
    }
    fn action_space(&self) -> Space {
        self.envs[0].action_space()
    }
    fn reset_seeds(&mut self, seeds: &[u64]) {
        assert_eq!(seeds.len(), self.envs.len(), "one seed per member");
        let d = self.obs_dim;
        self.envs
            .par_iter_mut()
            .zip(self.out.obs.par_chunks_mut(d.max(1)))
            .enumerate()
            .for_each(|(i, (e, o))| {
                let obs = e.reset(Some(seeds[i]));
                o.copy_from_slice(&obs[..d]);
            });
        self.out.clear_flags();
        self.started = true;
    }
    fn step(&mut self, actions: Actions<'_>) -> Result<(), EnvError> {
        if !self.started {
            return Err(EnvError::NotReset);
        }
        let n = self.envs.len();
        let space = self.action_space();
        let act_dim = match space {
            Space::Discrete { n: c } => {
                check_discrete(actions, n, c, &self.out.done)?;
                1
            }
            ref s @ Space::Box { .. } => {
                check_continuous(actions, n, s.flat_dim(), &self.out.done)?;
                s.flat_dim()
            }
        };
        let d = self.obs_dim;
        let limit = self.envs[0]
            .max_episode_steps()
            .map_or(u32::MAX, |l| l as u32);
        // The environments apply their own time limits; the shared loop mirrors them.
        let errors = std::sync::Mutex::new(None);
        let step_one = |e: &mut E, i: usize, o: &mut [f32]| -> (f64, bool) {
            let action = match actions {
                Actions::Discrete(a) => crate::Action::Discrete(a[i]),
                Actions::Continuous(a) => {
                    crate::Action::Continuous(&a[i * act_dim..(i + 1) * act_dim])
                }
            };
            match e.step(action) {
                Ok(s) => {
                    o.copy_from_slice(&s.observation[..d]);
                    (s.reward, s.terminated)
                }
                Err(err) => {
                    errors.lock().expect("not poisoned").get_or_insert((i, err));
                    (0.0, true)
                }
            }
        };
        let mut indexed: Vec<(usize, &mut E)> = self.envs.iter_mut().enumerate().collect();
        let dummy = vec![0u8; n];
        step_members(
            &mut indexed,
            &dummy,
            1,
            &mut self.out,
            d,
            limit,
            |(i, e), _, o| step_one(e, *i, o),
        );
        if let Some((i, err)) = errors.into_inner().expect("not poisoned") {
            return Err(EnvError::Custom(format!("member {i}: {err}")));
        }
        Ok(())
    }
    output_getters!();
}
