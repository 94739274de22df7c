//! CMA-ES (Hansen's covariance matrix adaptation evolution strategy) in f64, with the standard
//! defaults of Hansen's tutorial (arXiv:1604.00772, Table 1) as pycma 4.5 sets them (cσ, the
//! rank-μ offset and the `hσ` test follow pycma): recombination weights with the
//! active (negative) part, cumulation `cc`, step-size control `cσ`/`dσ`, rank-one `c1` and
//! rank-μ `cμ` learning rates, and the eigendecomposition of C updated lazily. Where C
//! changes too fast for a lazy eigendecomposition (large λ: the lazy gap falls below one
//! generation) samples come from the Cholesky factor of C instead, as in the Cholesky-CMA-ES
//! of Krause, Arbonès and Igel (NeurIPS 2016): n³/3 flops per generation instead of about
//! 10n³, and triangular sampling; see [`Decomposition`]. The diagonal
//! variant (sep-CMA-ES, Ros & Hansen 2008) keeps only the diagonal of C, with learning rates
//! scaled by `(n + 2)/3`, for large dimensions (O(n) per sample instead of O(n²)).
//!
//! This is the flexible ask/tell interface over `f64` points (minimisation). Restarts (IPOP,
//! BIPOP), bounds and a one-call API are in [`mod@crate::minimize`]; [`crate::CmaStrategy`] puts
//! CMA-ES behind the [`crate::Strategy`] trait for the [`crate::Trainer`].
//!
//! ```
//! use eggroll_core::cmaes::{CmaConfig, CmaEs};
//! let mut es = CmaEs::new(&[3.0; 5], &CmaConfig { sigma0: 1.0, ..CmaConfig::default() }).unwrap();
//! for _ in 0..200 {
//!     let xs = es.ask();
//!     let f: Vec<f64> = xs.iter().map(|x| x.iter().map(|v| v * v).sum()).collect();
//!     es.tell(&f).unwrap();
//! }
//! assert!(es.best().1 < 1e-10);
//! ```

use nalgebra::{Cholesky, DMatrix, SymmetricEigen};
use rand::{
    RngExt, SeedableRng,
    rngs::{StdRng, Xoshiro256PlusPlus},
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, config_err};
use crate::params::Params;
use crate::population::{Noise, Pairing, Population};
use crate::strategy::{Strategy, StrategyState, TellReport};
use candle_core::Tensor;

/// Full or diagonal covariance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Covariance {
    /// Full covariance matrix (CMA-ES): O(n²) memory and time per sample, O(n³) per
    /// (lazy) eigendecomposition.
    #[default]
    Full,
    /// Diagonal covariance (sep-CMA-ES): O(n) per sample, for large n.
    Diagonal,
}

/// How C is factored for sampling (`y = A z` with `A Aᵀ = C`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decomposition {
    /// [`Decomposition::Cholesky`] when the lazy eigendecomposition gap
    /// `0.5 / ((c1 + cμ) n)` is below one generation (large λ), else
    /// [`Decomposition::Eigen`]. Every default-λ run uses the eigendecomposition.
    #[default]
    Auto,
    /// `A = B D` from the eigendecomposition `C = B D² Bᵀ`, refreshed lazily (pycma's way);
    /// `C^{-1/2} = B D⁻¹ Bᵀ`.
    Eigen,
    /// `A = L`, the Cholesky factor, refreshed every generation; the step-size path uses
    /// `L⁻¹` in place of `C^{-1/2}` (Krause et al. 2016). The eigendecomposition still runs
    /// every [`Parameters::eigen_every`] generations for the stopping criteria and the axis
    /// ratio.
    Cholesky,
}

/// Generations between the eigendecompositions kept for the stopping criteria when sampling
/// with the Cholesky factor.
const CHOLESKY_EIGEN_EVERY: u64 = 10;

/// Multiply-adds of one sampling or covariance pass above which the pass runs on the rayon
/// pool (below it, the threads cost more than they save).
const PARALLEL_WORK: usize = 1 << 18;

/// The largest dimension accepted with a full covariance matrix (an n×n matrix and its
/// eigendecomposition; beyond it use [`Covariance::Diagonal`]).
pub const MAX_FULL_DIM: usize = 4000;

/// Configuration of [`CmaEs`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CmaConfig {
    /// λ, samples per generation; 0 = the default `4 + ⌊3 ln n⌋`.
    pub population_size: usize,
    /// Initial step size σ₀ > 0.
    pub sigma0: f64,
    /// Seed of the samples.
    pub seed: u64,
    /// Full (CMA-ES) or diagonal (sep-CMA-ES) covariance.
    pub covariance: Covariance,
    /// Use the negative recombination weights (active CMA, pycma's default).
    pub active: bool,
    /// How C is factored for sampling (full covariance only).
    pub decomposition: Decomposition,
    /// Learning rate of the mean `c_m` in `(0, 1]`: `m ← m + c_m·σ·⟨y⟩_w` (pycma's
    /// `CMA_cmean`). The paths take `⟨y⟩_w` as it is, as in Hansen's tutorial.
    pub cmean: f64,
}

impl Default for CmaConfig {
    fn default() -> Self {
        Self {
            population_size: 0,
            sigma0: 1.0,
            seed: 0,
            covariance: Covariance::Full,
            active: true,
            decomposition: Decomposition::Auto,
            cmean: 1.0,
        }
    }
}

/// The default population size `4 + ⌊3 ln n⌋`.
pub fn default_population(n: usize) -> usize {
    4 + (3.0 * (n as f64).ln()).floor() as usize
}

/// Why CMA-ES considers itself converged or stuck (the local stopping criteria that trigger a
/// restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmaStop {
    /// The f-values of the recent generations span less than 1e-11 (`tolfun`).
    TolFun,
    /// σ times every standard deviation and every `pc` coordinate is below 1e-11 (`tolx`).
    TolX,
    /// The condition number of C exceeds 1e14.
    ConditionCov,
    /// Adding 0.1σ along a principal axis does not change the mean.
    NoEffectAxis,
    /// Adding 0.2σ in a coordinate does not change the mean.
    NoEffectCoord,
    /// The median and best fitness did not improve over the recent generations.
    Stagnation,
    /// `100 + 150 (n + 3)² / √λ` generations.
    MaxIter,
    /// σ grew beyond `1e20 · σ₀ · max(D)` (pycma's `tolupsigma`): "creeping" without progress.
    #[serde(rename = "tol_upsigma")]
    TolUpSigma,
    /// The mean or the sampling spread `σ · max(D)` left `[-1e150, 1e150]` (or is no longer
    /// finite): the search diverges, typically where the objective is flat or non-finite far
    /// from the domain, and its next points could overflow. Checked before any other
    /// criterion, so a CMA-ES run never proposes a non-finite point.
    Diverged,
}

/// The largest |mean coordinate| and σ·max(D) a run may reach before it stops as
/// [`CmaStop::Diverged`]: far beyond any sensible search scale, and small enough that squares
/// and sums of points stay finite.
pub const DIVERGENCE_LIMIT: f64 = 1e150;

impl CmaStop {
    /// The name in JSON output (its serde name): `tol_fun`, `tol_x`, `condition_cov`, ….
    pub fn label(self) -> &'static str {
        match self {
            CmaStop::TolFun => "tol_fun",
            CmaStop::TolX => "tol_x",
            CmaStop::ConditionCov => "condition_cov",
            CmaStop::NoEffectAxis => "no_effect_axis",
            CmaStop::NoEffectCoord => "no_effect_coord",
            CmaStop::Stagnation => "stagnation",
            CmaStop::MaxIter => "max_iter",
            CmaStop::TolUpSigma => "tol_upsigma",
            CmaStop::Diverged => "diverged",
        }
    }
}

mod adapter;
mod es;
mod params;
mod restarts;
mod rows;
mod update;

pub use adapter::CmaStrategy;
pub use es::{CmaEs, CmaState};
use es::{Pending, check_finite};
pub use params::Parameters;
pub use restarts::{RestartSchedule, Restarts};
use rows::{Rows, TILE, tile4};
