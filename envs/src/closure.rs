//! Environments built from closures: plug in your own simulator.

use crate::{
    Action, EnvError, Environment, Episode, Space, Step, continuous_action, discrete_action,
};

/// What a step closure returns: observation, reward, terminated.
pub type StepOutput = (Vec<f32>, f64, bool);

/// An environment from a state value, a reset closure and a step closure, with declared
/// spaces and an optional time limit. Actions are validated against the action space before
/// the step closure sees them; the time limit and the "finished episode" rule are applied for
/// you.
///
/// ```
/// use eggroll_envs::{Action, Environment, FnEnv, Space};
/// // A 1-D walk: move left/right, terminate at |x| ≥ 3.
/// let mut env = FnEnv::new(
///     0i32,
///     Space::uniform_box(-3.0, 3.0, &[1]),
///     Space::Discrete { n: 2 },
///     Some(10),
///     |x: &mut i32, _seed| { *x = 0; vec![0.0] },
///     |x: &mut i32, a| {
///         let Action::Discrete(a) = a else { unreachable!() };
///         *x += if a == 1 { 1 } else { -1 };
///         Ok((vec![*x as f32], 1.0, x.abs() >= 3))
///     },
/// );
/// env.reset(Some(0));
/// let s = env.step(Action::Discrete(1)).unwrap();
/// assert_eq!(s.observation, vec![1.0]);
/// assert!(env.step(Action::Discrete(2)).is_err());
/// ```
pub struct FnEnv<S, R, F> {
    state: S,
    observation_space: Space,
    action_space: Space,
    max_steps: Option<usize>,
    reset_fn: R,
    step_fn: F,
    episode: Episode,
}

impl<S, R, F> FnEnv<S, R, F>
where
    S: Send,
    R: FnMut(&mut S, Option<u64>) -> Vec<f32> + Send,
    F: FnMut(&mut S, Action<'_>) -> Result<StepOutput, String> + Send,
{
    /// Build an environment. `reset` gets the seed passed to [`Environment::reset`].
    pub fn new(
        state: S,
        observation_space: Space,
        action_space: Space,
        max_episode_steps: Option<usize>,
        reset: R,
        step: F,
    ) -> Self {
        Self {
            state,
            observation_space,
            action_space,
            max_steps: max_episode_steps,
            reset_fn: reset,
            step_fn: step,
            episode: Episode::default(),
        }
    }

    /// The user state.
    pub fn state(&self) -> &S {
        &self.state
    }
}

impl<S, R, F> Environment for FnEnv<S, R, F>
where
    S: Send,
    R: FnMut(&mut S, Option<u64>) -> Vec<f32> + Send,
    F: FnMut(&mut S, Action<'_>) -> Result<StepOutput, String> + Send,
{
    fn observation_space(&self) -> Space {
        self.observation_space.clone()
    }
    fn action_space(&self) -> Space {
        self.action_space.clone()
    }
    fn max_episode_steps(&self) -> Option<usize> {
        self.max_steps
    }
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        self.episode.begin();
        (self.reset_fn)(&mut self.state, seed)
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, EnvError> {
        match &self.action_space {
            Space::Discrete { n } => {
                discrete_action(action, *n)?;
            }
            s @ Space::Box { .. } => {
                continuous_action(action, s.flat_dim())?;
            }
        }
        self.episode.check()?;
        let (observation, reward, terminated) =
            (self.step_fn)(&mut self.state, action).map_err(EnvError::Custom)?;
        let truncated = self
            .episode
            .advance(terminated, self.max_steps.unwrap_or(usize::MAX));
        Ok(Step {
            observation,
            reward,
            terminated,
            truncated,
        })
    }
}
