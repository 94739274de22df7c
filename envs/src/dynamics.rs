//! Environments from ONE definition: a [`Dynamics`] (state, initial state, step, observation,
//! spaces, time limit) generates both the scalar [`Environment`] ([`Env`]) and the vectorised
//! [`VecEnv`] ([`VecOf`]). Both call the same `step` and `observe`, so a vectorised run equals
//! stepping N scalar environments bit for bit, and a new environment is one `impl Dynamics`.

use rayon::prelude::*;

use crate::rng::Pcg64;
use crate::vec::{Actions, Outputs, VecEnv, check_continuous, check_discrete, step_members};
use crate::{
    Action, EnvError, Environment, Episode, Space, Step, continuous_action, discrete_action,
};

/// One member's action, already validated against the action space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemberAction<'a> {
    /// An index in `0..n` of a `Discrete { n }` space.
    Discrete(usize),
    /// A continuous action of the space's dimension, free of NaN.
    Continuous(&'a [f32]),
}

/// The dynamics of an environment: everything else (episodes, time limits, seeding, action
/// checks, vectorisation) comes from [`Env`] and [`VecOf`].
pub trait Dynamics: Send + Sync + 'static {
    /// The internal state (f64 for Gymnasium parity).
    type State: Copy + Send + Sync + Default + std::fmt::Debug;
    /// Observation size.
    const OBS_DIM: usize;
    /// Steps after which an episode is truncated (Gymnasium's registry time limit).
    const MAX_EPISODE_STEPS: usize;
    /// The observation space.
    fn observation_space() -> Space;
    /// The action space (`Discrete` or `Box`).
    fn action_space() -> Space;
    /// The initial state Gymnasium draws from a freshly seeded generator.
    fn initial_state(rng: &mut Pcg64) -> Self::State;
    /// One step under a valid action: the new state, the reward and `terminated`.
    fn step(state: Self::State, action: MemberAction<'_>) -> (Self::State, f64, bool);
    /// Write the observation of `state` (`OBS_DIM` values).
    fn observe(state: &Self::State, out: &mut [f32]);
}

/// The shape of an action space, derived once from [`Dynamics::action_space`] so stepping
/// never rebuilds the `Space` (whose `Box` bounds are vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActionKind {
    /// `Discrete { n }`.
    Discrete(usize),
    /// A `Box` of this many values.
    Continuous(usize),
}

impl ActionKind {
    fn of<D: Dynamics>() -> Self {
        match D::action_space() {
            Space::Discrete { n } => ActionKind::Discrete(n),
            s @ Space::Box { .. } => ActionKind::Continuous(s.flat_dim()),
        }
    }
}

/// The scalar [`Environment`] of dynamics `D`.
#[derive(Debug, Clone)]
pub struct Env<D: Dynamics> {
    state: D::State,
    rng: Pcg64,
    episode: Episode,
    max_steps: usize,
    actions: ActionKind,
}

impl<D: Dynamics> Default for Env<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: Dynamics> Env<D> {
    /// A new environment (generator seeded with 0 until `reset(Some(seed))`).
    pub fn new() -> Self {
        Self {
            state: D::State::default(),
            rng: Pcg64::new(0),
            episode: Episode::default(),
            max_steps: D::MAX_EPISODE_STEPS,
            actions: ActionKind::of::<D>(),
        }
    }

    /// Start an episode from an explicit state; returns the observation.
    pub fn reset_to(&mut self, state: D::State) -> Vec<f32> {
        self.state = state;
        self.episode.begin();
        self.observation()
    }

    /// The internal state.
    pub fn state(&self) -> D::State {
        self.state
    }

    /// Override the time limit.
    pub fn with_max_episode_steps(mut self, steps: usize) -> Self {
        self.max_steps = steps;
        self
    }

    fn observation(&self) -> Vec<f32> {
        let mut o = vec![0.0; D::OBS_DIM];
        D::observe(&self.state, &mut o);
        o
    }
}

impl<D: Dynamics> Environment for Env<D> {
    fn observation_space(&self) -> Space {
        D::observation_space()
    }
    fn action_space(&self) -> Space {
        D::action_space()
    }
    fn max_episode_steps(&self) -> Option<usize> {
        Some(self.max_steps)
    }
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        if let Some(s) = seed {
            self.rng = Pcg64::new(s);
        }
        let s = D::initial_state(&mut self.rng);
        self.reset_to(s)
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, EnvError> {
        let action = match self.actions {
            ActionKind::Discrete(n) => MemberAction::Discrete(discrete_action(action, n)?),
            ActionKind::Continuous(dim) => {
                MemberAction::Continuous(continuous_action(action, dim)?)
            }
        };
        self.episode.check()?;
        let (state, reward, terminated) = D::step(self.state, action);
        self.state = state;
        let truncated = self.episode.advance(terminated, self.max_steps);
        Ok(Step {
            observation: self.observation(),
            reward,
            terminated,
            truncated,
        })
    }
}

/// N members of dynamics `D` stepped together: states contiguous, outputs struct-of-arrays,
/// large batches in parallel.
#[derive(Debug, Clone)]
pub struct VecOf<D: Dynamics> {
    states: Vec<D::State>,
    out: Outputs,
    limit: u32,
    actions: ActionKind,
}

impl<D: Dynamics> VecOf<D> {
    /// `n` members, not yet reset.
    pub fn new(n: usize) -> Self {
        Self {
            states: vec![D::State::default(); n],
            out: Outputs::new(n, D::OBS_DIM),
            limit: D::MAX_EPISODE_STEPS as u32,
            actions: ActionKind::of::<D>(),
        }
    }

    /// Start every member from explicit states.
    pub fn reset_to(&mut self, states: &[D::State]) {
        assert_eq!(states.len(), self.states.len(), "one state per member");
        self.states.copy_from_slice(states);
        self.out.clear_flags();
        for (o, s) in self.out.obs.chunks_mut(D::OBS_DIM).zip(&self.states) {
            D::observe(s, o);
        }
    }

    /// The internal states.
    pub fn states(&self) -> &[D::State] {
        &self.states
    }
}

impl<D: Dynamics> VecEnv for VecOf<D> {
    fn num_envs(&self) -> usize {
        self.states.len()
    }
    fn observation_space(&self) -> Space {
        D::observation_space()
    }
    fn action_space(&self) -> Space {
        D::action_space()
    }
    fn reset_seeds(&mut self, seeds: &[u64]) {
        assert_eq!(seeds.len(), self.states.len(), "one seed per member");
        let states: Vec<D::State> = seeds
            .par_iter()
            .map(|&s| D::initial_state(&mut Pcg64::new(s)))
            .collect();
        self.reset_to(&states);
    }
    fn step(&mut self, actions: Actions<'_>) -> Result<(), EnvError> {
        let n = self.states.len();
        let (obs, limit) = (D::OBS_DIM, self.limit);
        match (self.actions, actions) {
            (ActionKind::Discrete(choices), Actions::Discrete(a)) => {
                check_discrete(actions, n, choices, &self.out.done)?;
                step_members(
                    &mut self.states,
                    a,
                    1,
                    &mut self.out,
                    obs,
                    limit,
                    |s, a, o| {
                        let (ns, r, t) = D::step(*s, MemberAction::Discrete(a[0] as usize));
                        *s = ns;
                        D::observe(&ns, o);
                        (r, t)
                    },
                );
            }
            (ActionKind::Continuous(dim), Actions::Continuous(a)) => {
                check_continuous(actions, n, dim, &self.out.done)?;
                step_members(
                    &mut self.states,
                    a,
                    dim,
                    &mut self.out,
                    obs,
                    limit,
                    |s, a, o| {
                        let (ns, r, t) = D::step(*s, MemberAction::Continuous(a));
                        *s = ns;
                        D::observe(&ns, o);
                        (r, t)
                    },
                );
            }
            (ActionKind::Discrete(choices), _) => {
                check_discrete(actions, n, choices, &self.out.done)?;
            }
            (ActionKind::Continuous(dim), _) => {
                check_continuous(actions, n, dim, &self.out.done)?;
            }
        }
        Ok(())
    }
    crate::vec::output_getters!();
}
