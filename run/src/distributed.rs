//! Multi-process training over MPI: every rank evaluates its slice of the population, the
//! fitness vector is all-gathered (N floats per generation) and every rank applies the same
//! update. Noise is a pure function of counters, so nothing else ever crosses the network.

use std::ops::Range;

use crate::task::{ObsNormHooks, Ranks, TaskEvaluator};
use crate::{Error, Result};
use eggroll_core::{Evaluator, Params, Population};
use eggroll_policies::ObsStats;
use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// The MPI world of this process.
pub struct Mpi {
    _universe: mpi::environment::Universe,
    world: SimpleCommunicator,
}

// SAFETY: MPI is initialised with the default (single) thread level and every call is made
// from the thread that runs the training loop; the handle is only moved, never shared.
unsafe impl Send for Mpi {}

impl Mpi {
    /// Initialise MPI (once per process).
    pub fn init() -> Result<Mpi> {
        let Some(universe) = mpi::initialize() else {
            return Err(Error::Input {
                what: "--distributed mpi".into(),
                reason: "MPI was already initialised".into(),
            });
        };
        let world = universe.world();
        Ok(Mpi {
            _universe: universe,
            world,
        })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// Number of ranks.
    pub fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// The members rank `r` evaluates: `[r·n/p, (r+1)·n/p)` (sizes differ by at most one).
    pub fn slice_of(rank: usize, size: usize, n: usize) -> Range<usize> {
        (rank * n / size)..((rank + 1) * n / size)
    }

    /// All-gather every rank's slice of `n` values into the full vector.
    pub fn gather(&self, local: &[f32], n: usize) -> Vec<f32> {
        let p = self.size();
        let counts: Vec<mpi::Count> = (0..p)
            .map(|r| Self::slice_of(r, p, n).len() as mpi::Count)
            .collect();
        let displs: Vec<mpi::Count> = (0..p)
            .map(|r| Self::slice_of(r, p, n).start as mpi::Count)
            .collect();
        let mut all = vec![0.0f32; n];
        {
            let mut part = PartitionMut::new(&mut all[..], counts, &displs[..]);
            self.world.all_gather_varcount_into(local, &mut part);
        }
        all
    }

    /// All-gather every rank's slice of `n` rows of `width` f64 values each (rank `r` holds
    /// the rows of [`Mpi::slice_of`]).
    pub fn gather_rows_f64(&self, local: &[f64], n: usize, width: usize) -> Vec<f64> {
        let p = self.size();
        let counts: Vec<mpi::Count> = (0..p)
            .map(|r| (Self::slice_of(r, p, n).len() * width) as mpi::Count)
            .collect();
        let displs: Vec<mpi::Count> = (0..p)
            .map(|r| (Self::slice_of(r, p, n).start * width) as mpi::Count)
            .collect();
        let mut all = vec![0.0f64; n * width];
        {
            let mut part = PartitionMut::new(&mut all[..], counts, &displs[..]);
            self.world.all_gather_varcount_into(local, &mut part);
        }
        all
    }

    /// Rank 0's `value` on every rank.
    pub fn broadcast(&self, value: u64) -> u64 {
        let mut v = value;
        self.world.process_at_rank(0).broadcast_into(&mut v);
        v
    }

    /// All-gather one counter per rank.
    pub fn gather_counts(&self, mine: u64) -> Vec<u64> {
        let mut all = vec![0u64; self.size()];
        self.world.all_gather_into(&mine, &mut all[..]);
        all
    }

    /// Abort with a clear error unless every rank holds bit-identical parameters.
    pub fn check_same_params(&self, params: &Params, generation: u64) -> Result<()> {
        let h = params_hash(params)?;
        let mut all = vec![0u64; self.size()];
        self.world.all_gather_into(&h, &mut all[..]);
        if all.iter().any(|&x| x != all[0]) {
            return Err(Error::Input {
                what: format!("ranks diverged at generation {generation}"),
                reason: format!(
                    "parameter hashes {all:016x?}; every rank must run the same build, config \
                     and seed"
                ),
            });
        }
        Ok(())
    }
}

/// FNV-1a over the bits of every parameter.
pub fn params_hash(params: &Params) -> Result<u64> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in params.to_host()? {
        for x in v {
            for b in x.to_bits().to_le_bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    Ok(h)
}

/// A task evaluator whose population is split across the MPI ranks.
pub struct Distributed {
    /// The task's own evaluator.
    pub inner: Box<dyn TaskEvaluator>,
    /// The MPI world.
    pub mpi: Mpi,
    /// Member evaluations this rank has computed (its slices only).
    pub local_evals: u64,
}

impl Evaluator for Distributed {
    /// Splits `members` across the ranks: this rank evaluates its slice through the inner
    /// evaluator's `evaluate_members`, then the slices are all-gathered.
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: Range<usize>,
    ) -> eggroll_core::Result<Vec<f32>> {
        let n = members.len();
        let slice = Mpi::slice_of(self.mpi.rank(), self.mpi.size(), n);
        let mine = members.start + slice.start..members.start + slice.end;
        let local = self
            .inner
            .evaluate_members(params, population, mine.clone())?;
        if local.len() != mine.len() {
            return Err(eggroll_core::Error::FitnessLength {
                expected: mine.len(),
                got: local.len(),
            });
        }
        self.local_evals += local.len() as u64;
        let all = self.mpi.gather(&local, n);
        // The observation statistics of every member, merged in member order on every rank:
        // the normaliser's bits do not depend on the number of ranks.
        if let Some(hooks) = self.inner.normaliser_mut()
            && let Some(norm) = hooks.obs_norm()
        {
            let width = 1 + 2 * norm.stats.dim();
            let mine_stats = hooks.take_member_stats();
            if mine_stats.len() != mine.len() {
                return Err(eggroll_core::Error::Eval(format!(
                    "{} members' observation statistics for {} members",
                    mine_stats.len(),
                    mine.len()
                )));
            }
            let flat: Vec<f64> = mine_stats.iter().flat_map(ObsStats::to_flat).collect();
            let every = self.mpi.gather_rows_f64(&flat, n, width);
            let members = every
                .chunks(width)
                .map(ObsStats::from_flat)
                .collect::<eggroll_core::Result<Vec<_>>>()?;
            hooks
                .commit_member_stats(&members)
                .map_err(|e| eggroll_core::Error::Eval(e.to_string()))?;
        }
        Ok(all)
    }
}

impl TaskEvaluator for Distributed {
    fn final_score(
        &mut self,
        params: &Params,
        episodes: usize,
        seed: u64,
    ) -> Result<(f64, Option<eggroll_policies::EvalReport>)> {
        // Deterministic: every rank computes the same score, so decisions stay in lockstep.
        self.inner.final_score(params, episodes, seed)
    }
    fn score_name(&self) -> &'static str {
        self.inner.score_name()
    }
    fn score_fields(&self, score: f64) -> serde_json::Map<String, serde_json::Value> {
        self.inner.score_fields(score)
    }
    fn env_steps(&self) -> u64 {
        self.inner.env_steps()
    }
    fn normaliser(&self) -> Option<&dyn ObsNormHooks> {
        self.inner.normaliser()
    }
    fn normaliser_mut(&mut self) -> Option<&mut dyn ObsNormHooks> {
        self.inner.normaliser_mut()
    }
    fn ranks(&mut self) -> Option<&mut dyn Ranks> {
        Some(self)
    }
}

impl Ranks for Distributed {
    fn is_writer(&self) -> bool {
        self.mpi.rank() == 0
    }
    fn writers_value(&mut self, value: u64) -> u64 {
        self.mpi.broadcast(value)
    }
    fn check_lockstep(&mut self, params: &Params, generation: u64) -> Result<()> {
        self.mpi.check_same_params(params, generation)
    }
    fn evals_by_rank(&mut self) -> Vec<u64> {
        self.mpi.gather_counts(self.local_evals)
    }
}
