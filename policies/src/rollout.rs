//! Rollouts: a population of policies × vectorised environments, one batched forward per time
//! step for every episode still running. Implements `eggroll-core`'s [`Evaluator`].

use eggroll_core::noise::mix64;
use eggroll_core::{Error, Evaluator, Params, Population, Result};
use eggroll_envs::vec::{Actions, VecEnv};
use eggroll_envs::{Space, member_seed};

use crate::device::Forward;
use crate::mlp::{Head, MlpConfig};
use crate::obsnorm::{ObsNorm, ObsStats, ObsTransform};

/// Builds a vectorised environment with the given number of members.
pub type EnvFactory = Box<dyn Fn(usize) -> Box<dyn VecEnv> + Send>;

/// Evaluates every member of a population by its mean episode return over `episodes`
/// episodes. All members of a generation see the same `episodes` initial states (common random
/// numbers), drawn from `(seed, generation)`.
pub struct RolloutEvaluator {
    policy: MlpConfig,
    head: Head,
    make_env: EnvFactory,
    episodes: usize,
    seed: u64,
    env: Option<Box<dyn VecEnv>>,
    steps: u64,
    device_path: bool,
    /// The running normaliser (training), if observations are normalised.
    norm: Option<ObsNorm>,
    /// The frozen transform of this generation (of `norm`, or loaded from a policy file).
    transform: Option<ObsTransform>,
    /// Statistics of the members evaluated since the last commit, by member.
    pending: Vec<(usize, ObsStats)>,
    /// Subtracted from every step's reward in training rollouts.
    reward_shift: f64,
}

/// Return statistics of a plain (unperturbed) evaluation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvalReport {
    /// Mean episode return.
    pub mean: f64,
    /// Standard deviation of the returns.
    pub std: f64,
    /// Smallest return.
    pub min: f64,
    /// Largest return.
    pub max: f64,
    /// Number of episodes.
    pub episodes: usize,
}

impl RolloutEvaluator {
    /// An evaluator of `policy` with `head` over environments from `make_env`.
    pub fn new(
        policy: MlpConfig,
        head: Head,
        make_env: EnvFactory,
        episodes: usize,
        seed: u64,
    ) -> Result<Self> {
        policy.validate()?;
        if episodes == 0 {
            return Err(Error::InvalidConfig {
                field: "episodes".into(),
                reason: "is 0; must be ≥ 1".into(),
            });
        }
        let probe = make_env(1);
        let obs_dim = probe.observation_space().flat_dim();
        if obs_dim != policy.sizes[0] {
            return Err(Error::InvalidConfig {
                field: "policy.sizes".into(),
                reason: format!(
                    "the policy takes {} inputs, the environment observes {obs_dim}",
                    policy.sizes[0]
                ),
            });
        }
        let out = *policy.sizes.last().expect("validated");
        match (&head, probe.action_space()) {
            (Head::Argmax, Space::Discrete { n }) if n == out => {}
            (Head::Sample { temperature }, Space::Discrete { n })
                if n == out && *temperature > 0.0 && temperature.is_finite() => {}
            (Head::TanhScaled { low, high }, Space::Box { .. })
                if low.len() == out && high.len() == out => {}
            (h, space) => {
                return Err(Error::InvalidConfig {
                    field: "policy.head".into(),
                    reason: format!(
                        "{h:?} with {out} outputs does not fit the action space {space:?}"
                    ),
                });
            }
        }
        Ok(Self {
            policy,
            head,
            make_env,
            episodes,
            seed,
            env: None,
            steps: 0,
            device_path: false,
            norm: None,
            transform: None,
            pending: Vec::new(),
            reward_shift: 0.0,
        })
    }

    /// Subtract `shift` from every step's reward in training rollouts (ARS's survival-bonus
    /// shift); [`evaluate_plain`](Self::evaluate_plain) still scores the true return.
    pub fn with_reward_shift(mut self, shift: f64) -> Self {
        self.reward_shift = shift;
        self
    }

    /// Normalise observations with `norm` (see [`crate::obsnorm`]): training rollouts feed
    /// their raw observations into it, and [`commit_member_stats`](Self::commit_member_stats)
    /// (called by [`Evaluator::evaluate`]) folds them in between generations.
    pub fn with_obs_norm(mut self, norm: ObsNorm) -> Result<Self> {
        self.set_obs_norm(norm)?;
        Ok(self)
    }

    /// Replace the normaliser state (resume); validated first, nothing changes on error.
    pub fn set_obs_norm(&mut self, norm: ObsNorm) -> Result<()> {
        norm.validate("obs_norm")?;
        self.check_dim(norm.stats.dim())?;
        self.transform = Some(norm.transform());
        self.norm = Some(norm);
        self.pending.clear();
        Ok(())
    }

    /// Apply a fixed transform (an exported policy's) and never update it.
    pub fn with_obs_transform(mut self, transform: ObsTransform) -> Result<Self> {
        self.set_obs_transform(transform)?;
        self.norm = None;
        Ok(self)
    }

    /// Apply `transform` from now on, keeping the normaliser's state (see
    /// [`with_obs_transform`](Self::with_obs_transform) for a policy without one).
    pub fn set_obs_transform(&mut self, transform: ObsTransform) -> Result<()> {
        transform.validate("obs_norm", self.policy.sizes[0])?;
        self.transform = Some(transform);
        Ok(())
    }

    fn check_dim(&self, dim: usize) -> Result<()> {
        if dim == self.policy.sizes[0] {
            Ok(())
        } else {
            Err(Error::InvalidConfig {
                field: "obs_norm".into(),
                reason: format!(
                    "normalises {dim} observations, the policy takes {}",
                    self.policy.sizes[0]
                ),
            })
        }
    }

    /// The running normaliser, if any.
    pub fn obs_norm(&self) -> Option<&ObsNorm> {
        self.norm.as_ref()
    }

    /// The transform the rollouts apply now, if any.
    pub fn obs_transform(&self) -> Option<&ObsTransform> {
        self.transform.as_ref()
    }

    /// The statistics of the members evaluated since the last commit, in member order (each
    /// member's own observations, in its step order), removing them.
    pub fn take_member_stats(&mut self) -> Vec<ObsStats> {
        self.pending.sort_by_key(|(m, _)| *m);
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    }

    /// Fold `members` (in member order, every member of the generation) into the normaliser
    /// and freeze the new transform for the next generation.
    pub fn commit_member_stats(&mut self, members: &[ObsStats]) -> Result<()> {
        let Some(norm) = &mut self.norm else {
            return Ok(());
        };
        if let Some(bad) = members.iter().find(|m| m.dim() != norm.stats.dim()) {
            return Err(Error::Eval(format!(
                "observation statistics of size {}, the normaliser has {}",
                bad.dim(),
                norm.stats.dim()
            )));
        }
        norm.merge(members);
        self.transform = Some(norm.transform());
        Ok(())
    }

    /// Run the policy through [`crate::DeviceForward`] even when the parameters are on the
    /// CPU: the code path of GPU training, for tests and comparisons.
    pub fn with_device_forward(mut self) -> Self {
        self.device_path = true;
        self
    }

    /// Environment steps taken so far (all members).
    pub fn env_steps(&self) -> u64 {
        self.steps
    }

    /// The policy definition.
    pub fn policy(&self) -> &MlpConfig {
        &self.policy
    }

    /// Run `members × episodes` rollouts: row `r` is member `members.start + r / episodes`,
    /// episode `r % episodes`, reset with `seeds[r % episodes]`. Returns per-row returns.
    fn rollout(
        &mut self,
        params: &Params,
        population: Option<&Population>,
        members: std::ops::Range<usize>,
        seeds: &[u64],
    ) -> Result<Vec<f64>> {
        let first = members.start;
        let members = members.len();
        let sample_key = mix64(self.seed ^ mix64(population.map_or(u64::MAX, |p| p.generation)));
        let mut t: u64 = 0;
        let k = seeds.len();
        let rows = members * k;
        let env = match &mut self.env {
            Some(e) if e.num_envs() == rows => e,
            slot => slot.insert((self.make_env)(rows)),
        };
        let fwd = Forward::with_device_path(&self.policy, params, population, self.device_path)?;
        let (din, dout) = (fwd.in_dim(), fwd.out_dim());
        let row_seeds: Vec<u64> = (0..rows).map(|r| seeds[r % k]).collect();
        env.reset_seeds(&row_seeds);
        let adim = self.head.action_dim();
        let mut returns = vec![0.0f64; rows];
        let mut discrete = vec![0i64; rows];
        let mut continuous = vec![0.0f32; rows * adim];
        let mut x = Vec::with_capacity(rows * din);
        let mut ids: Vec<u32> = Vec::with_capacity(rows);
        let mut active: Vec<usize> = Vec::with_capacity(rows);
        let mut y = vec![0.0f32; rows * dout];
        // Training rollouts only: the plain evaluation scores the true return.
        let shift = if population.is_some() {
            self.reward_shift
        } else {
            0.0
        };
        // Per-member statistics of the raw observations (training rollouts only).
        let mut stats: Vec<ObsStats> = match (&self.norm, population) {
            (Some(_), Some(_)) => vec![ObsStats::new(din); members],
            _ => Vec::new(),
        };
        loop {
            active.clear();
            active.extend((0..rows).filter(|&r| !env.done()[r]));
            if active.is_empty() {
                break;
            }
            x.clear();
            ids.clear();
            let obs = env.observations();
            for &r in &active {
                let row = &obs[r * din..(r + 1) * din];
                if let Some(s) = stats.get_mut(r / k) {
                    s.push(row);
                }
                x.extend_from_slice(row);
                ids.push((first + r / k) as u32);
            }
            if let Some(t) = &self.transform {
                t.apply(&mut x);
            }
            let yb = &mut y[..active.len() * dout];
            fwd.forward(&x, Some(&ids), yb)?;
            match &self.head {
                Head::Argmax => {
                    for (j, &r) in active.iter().enumerate() {
                        discrete[r] = Head::argmax(&yb[j * dout..(j + 1) * dout]);
                    }
                    env.step(Actions::Discrete(&discrete))
                }
                Head::Sample { temperature } => {
                    for (j, &r) in active.iter().enumerate() {
                        let global_row = (first * k + r) as u64;
                        let h = mix64(sample_key ^ mix64((global_row << 20) ^ t));
                        let u = (h >> 40) as f32 / (1u64 << 24) as f32;
                        discrete[r] = Head::sample(&yb[j * dout..(j + 1) * dout], *temperature, u);
                    }
                    env.step(Actions::Discrete(&discrete))
                }
                Head::TanhScaled { low, high } => {
                    for (j, &r) in active.iter().enumerate() {
                        Head::scale(
                            low,
                            high,
                            &yb[j * dout..(j + 1) * dout],
                            &mut continuous[r * adim..(r + 1) * adim],
                        );
                    }
                    env.step(Actions::Continuous(&continuous))
                }
            }
            .map_err(|e| Error::Eval(e.to_string()))?;
            self.steps += active.len() as u64;
            t += 1;
            for &r in &active {
                returns[r] += env.rewards()[r] - shift;
            }
        }
        self.pending
            .extend(stats.into_iter().enumerate().map(|(i, s)| (first + i, s)));
        Ok(returns)
    }

    /// Evaluate the unperturbed `params` on `episodes` episodes with seeds drawn from
    /// `seed` (disjoint from the training seeds).
    pub fn evaluate_plain(
        &mut self,
        params: &Params,
        episodes: usize,
        seed: u64,
    ) -> Result<EvalReport> {
        let seeds: Vec<u64> = (0..episodes)
            .map(|j| member_seed(mix64(seed ^ 0x00e7_a1e7), j))
            .collect();
        let r = self.rollout(params, None, 0..1, &seeds)?;
        let n = r.len() as f64;
        let mean = r.iter().sum::<f64>() / n;
        let std = (r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        Ok(EvalReport {
            mean,
            std,
            min: r.iter().copied().fold(f64::INFINITY, f64::min),
            max: r.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            episodes,
        })
    }
}

impl Evaluator for RolloutEvaluator {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        let gen_seed = mix64(self.seed ^ mix64(population.generation.wrapping_add(1)));
        let seeds: Vec<u64> = (0..self.episodes)
            .map(|j| member_seed(gen_seed, j))
            .collect();
        let k = self.episodes;
        let returns = self.rollout(params, Some(population), members, &seeds)?;
        Ok(returns
            .chunks(k)
            .map(|c| (c.iter().sum::<f64>() / k as f64) as f32)
            .collect())
    }

    /// Every member, then the generation's observation statistics are folded into the
    /// normaliser (a distributed evaluator gathers and commits them itself).
    fn evaluate(&mut self, params: &Params, population: &Population) -> Result<Vec<f32>> {
        let fitness = self.evaluate_members(params, population, 0..population.size)?;
        let stats = self.take_member_stats();
        self.commit_member_stats(&stats)?;
        Ok(fitness)
    }
}
