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

/// Restart policy (CMA-ES methods only). Serialised as `"none"`, `"ipop"`, `"bipop"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Restarts {
    /// One run.
    #[default]
    None,
    /// IPOP (Auger & Hansen 2005): restart with twice the population each time.
    Ipop,
    /// BIPOP (Hansen 2009): interleave large-population IPOP runs and small-population runs
    /// with a smaller σ, giving each regime about the same budget.
    Bipop,
}

impl Restarts {
    /// Parse `none`, `ipop`, `bipop`.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "none" => Restarts::None,
            "ipop" => Restarts::Ipop,
            "bipop" => Restarts::Bipop,
            other => {
                return Err(config_err(
                    "restarts",
                    format!("`{other}` is unknown; valid: none, ipop, bipop"),
                ));
            }
        })
    }
}

/// Reads the names [`Restarts::parse`] knows; anything else is an error listing them (not
/// serde's "invalid type: unit variant").
impl<'de> Deserialize<'de> for Restarts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Names;
        impl serde::de::Visitor<'_> for Names {
            type Value = Restarts;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("one of \"none\", \"ipop\", \"bipop\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Restarts, E> {
                Restarts::parse(v)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(Names)
    }
}

/// The IPOP/BIPOP bookkeeping shared by [`mod@crate::minimize`] and [`CmaStrategy`]: which λ
/// and σ₀ the next run gets. IPOP doubles λ at every restart (up to `max_lambda`); BIPOP runs
/// a small-population regime (λ = ⌊λ₀ (½ λ_large/λ₀)^{u²}⌋, σ₀·10^{−2u'}) whenever it has
/// used fewer evaluations than the large one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartSchedule {
    policy: Restarts,
    lambda_default: usize,
    sigma0: f64,
    max_lambda: usize,
    lambda_large: usize,
    budget_large: u64,
    budget_small: u64,
    current_large: bool,
    restarts: usize,
}

impl RestartSchedule {
    /// Before the first run (which uses λ₀ = `lambda_default` and `sigma0`).
    pub fn new(policy: Restarts, lambda_default: usize, sigma0: f64, max_lambda: usize) -> Self {
        Self {
            policy,
            lambda_default,
            sigma0,
            max_lambda: max_lambda.max(lambda_default),
            lambda_large: lambda_default,
            budget_large: 0,
            budget_small: 0,
            current_large: true,
            restarts: 0,
        }
    }

    /// Restarts so far.
    pub fn restarts(&self) -> usize {
        self.restarts
    }

    /// The run that just ended used `evals` evaluations: (λ, σ₀) of the next run, drawing
    /// BIPOP's uniforms from `rng`.
    pub fn next(&mut self, evals: u64, rng: &mut StdRng) -> (usize, f64) {
        if self.current_large {
            self.budget_large += evals;
        } else {
            self.budget_small += evals;
        }
        self.restarts += 1;
        let l0 = self.lambda_default as f64;
        if self.policy == Restarts::Bipop && self.budget_small < self.budget_large {
            let u: f64 = rng.random();
            let lam = (l0 * (0.5 * self.lambda_large as f64 / l0).powf(u * u))
                .floor()
                .max(2.0) as usize;
            self.current_large = false;
            (lam, self.sigma0 * 10f64.powf(-2.0 * rng.random::<f64>()))
        } else {
            self.lambda_large = self.lambda_large.saturating_mul(2).min(self.max_lambda);
            self.current_large = true;
            (self.lambda_large, self.sigma0)
        }
    }
}

/// Columns per register tile of [`tile4`]; sample rows are padded with zeros to a multiple.
const TILE: usize = 16;

crate::multiversion! {
    /// `out[r][c] ← fma(m[rows[j] + c0 + c], coef[r][j], out[r][c])` for `j = 0, 1, …,
    /// coef[r].len() − 1` in order, `r < 4`, `c < TILE`: four rows of a product accumulated
    /// over a shared operand, in registers. Every entry adds its terms in order with fused
    /// multiply-adds (correctly rounded everywhere, so the same bits at every SIMD level and
    /// on every machine; the baseline build computes the fma in software, slowly). The four
    /// coefficient slices have one length.
    fn tile4(out: &mut [[f64; TILE]; 4], m: &[f64], rows: &[usize], c0: usize, coef: [&[f64]; 4]) {
        let len = coef[0].len();
        let (k0, k1, k2, k3) = (&coef[0][..len], &coef[1][..len], &coef[2][..len], &coef[3][..len]);
        let rows = &rows[..len];
        let mut acc = *out;
        for j in 0..len {
            let row: &[f64; TILE] = m[rows[j] + c0..rows[j] + c0 + TILE]
                .try_into()
                .expect("a tile");
            let (a0, a1, a2, a3) = (k0[j], k1[j], k2[j], k3[j]);
            for c in 0..TILE {
                acc[0][c] = row[c].mul_add(a0, acc[0][c]);
                acc[1][c] = row[c].mul_add(a1, acc[1][c]);
                acc[2][c] = row[c].mul_add(a2, acc[2][c]);
                acc[3][c] = row[c].mul_add(a3, acc[3][c]);
            }
        }
        *out = acc;
    }
}

/// Vectors of length n in one buffer, each row padded with zeros to `stride` (a multiple of
/// [`TILE`]) for [`tile4`].
#[derive(Debug, Clone, PartialEq)]
struct Rows {
    n: usize,
    stride: usize,
    data: Vec<f64>,
}

impl Rows {
    fn zeros(count: usize, n: usize) -> Self {
        let stride = n.div_ceil(TILE) * TILE;
        Self {
            n,
            stride,
            data: vec![0.0; count * stride],
        }
    }
    fn from_vecs(v: &[Vec<f64>], n: usize) -> Self {
        let mut rows = Self::zeros(v.len(), n);
        for (k, x) in v.iter().enumerate() {
            rows.data[k * rows.stride..k * rows.stride + n].copy_from_slice(x);
        }
        rows
    }
    fn row(&self, k: usize) -> &[f64] {
        &self.data[k * self.stride..k * self.stride + self.n]
    }
    fn len(&self) -> usize {
        self.data.len() / self.stride
    }
}

/// The strategy parameters derived from n and λ (read them with [`CmaEs::parameters`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    /// λ, samples per generation.
    pub lambda: usize,
    /// μ = ⌊λ/2⌋, the number of positive weights.
    pub mu: usize,
    /// Recombination weights, best first: μ positive ones summing to 1, then the negative
    /// (active) ones.
    pub weights: Vec<f64>,
    /// Variance-effective selection mass of the positive weights.
    pub mueff: f64,
    /// Cumulation constant of the rank-one path.
    pub cc: f64,
    /// Cumulation constant of the step-size path.
    pub cs: f64,
    /// Rank-one learning rate.
    pub c1: f64,
    /// Rank-μ learning rate.
    pub cmu: f64,
    /// Step-size damping.
    pub damps: f64,
    /// E‖N(0, I)‖.
    pub chi_n: f64,
    /// Generations between eigendecompositions.
    pub eigen_every: u64,
    /// Sampling uses the Cholesky factor of C, refreshed every generation (see
    /// [`Decomposition`]).
    pub cholesky: bool,
}

impl Parameters {
    fn new(
        n: usize,
        lambda: usize,
        covariance: Covariance,
        active: bool,
        decomposition: Decomposition,
    ) -> Self {
        let nf = n as f64;
        let mu = lambda / 2;
        let raw: Vec<f64> = (1..=lambda)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
            .collect();
        let pos_sum: f64 = raw[..mu].iter().sum();
        let pos_sq: f64 = raw[..mu].iter().map(|w| w * w).sum();
        let mueff = pos_sum * pos_sum / pos_sq;
        let alpha_cov = 2.0;
        let mut c1 = alpha_cov / ((nf + 1.3).powi(2) + mueff);
        // pycma's rank-μ offset 0.25 (the tutorial has 0).
        let mut cmu = (1.0 - c1).min(
            alpha_cov * (0.25 + mueff - 2.0 + 1.0 / mueff)
                / ((nf + 2.0).powi(2) + alpha_cov * mueff / 2.0),
        );
        if covariance == Covariance::Diagonal {
            // Ros & Hansen (2008): the diagonal learns (n + 2)/3 times faster.
            let f = (nf + 2.0) / 3.0;
            c1 = (c1 * f).min(1.0);
            cmu = (cmu * f).min(1.0 - c1);
        }
        let mut weights: Vec<f64> = raw[..mu].iter().map(|w| w / pos_sum).collect();
        // Zero weights for the middle member when λ is odd (raw[mu] ≥ 0 there).
        let neg: Vec<f64> = raw[mu..].iter().map(|&w| w.min(0.0)).collect();
        let neg_sum: f64 = neg.iter().map(|w| -w).sum();
        if active && neg_sum > 0.0 {
            let neg_sq: f64 = neg.iter().map(|w| w * w).sum();
            let mueff_neg = neg_sum * neg_sum / neg_sq;
            let alpha_mu = 1.0 + c1 / cmu;
            let alpha_mueff = 1.0 + 2.0 * mueff_neg / (mueff + 2.0);
            let alpha_posdef = (1.0 - c1 - cmu) / (nf * cmu);
            let scale = alpha_mu.min(alpha_mueff).min(alpha_posdef) / neg_sum;
            weights.extend(neg.iter().map(|w| w * scale));
        } else {
            weights.extend(std::iter::repeat_n(0.0, lambda - mu));
        }
        // pycma's cσ: (μeff + 2)/(n + μeff + 3), at most 1/2 (the tutorial has + 5).
        let cs = ((mueff + 2.0) / (nf + mueff + 3.0)).min(0.5);
        let damps = 1.0 + 2.0 * (((mueff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + cs;
        let cc = (4.0 + mueff / nf) / (nf + 4.0 + 2.0 * mueff / nf);
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        // Lazy eigendecomposition every ⌊0.5 / ((c1 + cμ) n)⌋ generations (at least 1): five
        // times less often than the tutorial's and pycma's 1 / (10 n (c1 + cμ)) for small λ,
        // the same (every generation) for large λ. C is still updated every generation; the
        // evaluation counts in README (scripts/compare-pycma.py) are measured with this gap.
        let gap = 0.5 / ((c1 + cmu) * nf);
        let cholesky = covariance == Covariance::Full
            && match decomposition {
                Decomposition::Auto => gap < 1.0,
                Decomposition::Eigen => false,
                Decomposition::Cholesky => true,
            };
        let eigen_every = if cholesky {
            CHOLESKY_EIGEN_EVERY
        } else {
            (gap.floor() as u64).max(1)
        };
        Self {
            lambda,
            mu,
            weights,
            mueff,
            cc,
            cs,
            c1,
            cmu,
            damps,
            chi_n,
            eigen_every,
            cholesky,
        }
    }
}

/// The state of one CMA-ES run. All fields are plain data so a checkpoint restores it to the
/// bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmaState {
    /// Mean m.
    pub mean: Vec<f64>,
    /// Step size σ.
    pub sigma: f64,
    /// Evolution path of C.
    pub pc: Vec<f64>,
    /// Evolution path of σ.
    pub ps: Vec<f64>,
    /// C: n×n row-major (full) or its diagonal (n).
    pub c: Vec<f64>,
    /// Eigenvectors of C as columns, n×n row-major (full only; empty for diagonal).
    pub b: Vec<f64>,
    /// Square roots of the eigenvalues of C (the axis lengths).
    pub d: Vec<f64>,
    /// The Cholesky factor L of C (n×n row-major, lower triangular) when sampling with it
    /// ([`Parameters::cholesky`]); empty otherwise.
    #[serde(default)]
    pub factor: Vec<f64>,
    /// Generations told.
    pub generation: u64,
    /// Function evaluations told.
    pub evals: u64,
    /// Generation of the last eigendecomposition.
    pub eigen_generation: u64,
    /// Best point and value seen.
    pub best_x: Vec<f64>,
    /// Best value seen (+inf before the first tell).
    pub best_f: f64,
    /// Best value per generation (the recent ones, for `tolfun` and stagnation).
    pub best_history: Vec<f64>,
    /// Median value per generation (the recent ones, for stagnation).
    pub median_history: Vec<f64>,
    /// f-range of the last generation.
    pub last_range: f64,
}

/// CMA-ES with an ask/tell interface over f64 points, minimising.
#[derive(Debug, Clone)]
pub struct CmaEs {
    config: CmaConfig,
    n: usize,
    p: Parameters,
    s: CmaState,
    /// Samples of the generation asked and not yet told.
    pending: Option<Pending>,
    /// The sampling factor transposed, row-major, derived from the state: `Bᵀ` (row j =
    /// eigenvector j), or `Lᵀ` (row j = column j of L) when sampling with the Cholesky factor.
    bt: Vec<f64>,
}

/// The samples of one generation: `y = A z`, and `z` when the samples are exactly those
/// (not repaired), which makes `C^{-1/2} y = B z` (`L⁻¹ y = z`) and `‖C^{-1/2} y‖ = ‖z‖`
/// free.
#[derive(Debug, Clone)]
struct Pending {
    ys: Rows,
    zs: Option<Rows>,
}

fn check_finite(name: &str, v: &[f64]) -> Result<()> {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(config_err(
            name,
            format!("coordinate {i} is {}; must be finite", v[i]),
        ));
    }
    Ok(())
}

impl CmaEs {
    /// Start at `x0` with the config's σ₀. Errors name the argument: an empty or non-finite
    /// `x0`, `sigma0` ≤ 0, a `population_size` of 1, a full covariance beyond
    /// [`MAX_FULL_DIM`].
    pub fn new(x0: &[f64], config: &CmaConfig) -> Result<Self> {
        let n = x0.len();
        if n == 0 {
            return Err(config_err("x0", "is empty; the dimension must be ≥ 1"));
        }
        check_finite("x0", x0)?;
        if !(config.sigma0 > 0.0 && config.sigma0.is_finite()) {
            return Err(config_err(
                "sigma0",
                format!("is {}; must be finite and > 0", config.sigma0),
            ));
        }
        if config.population_size == 1 {
            return Err(config_err(
                "population_size",
                "is 1; CMA-ES needs ≥ 2 samples per generation (0 = default)",
            ));
        }
        if config.covariance == Covariance::Full && n > MAX_FULL_DIM {
            return Err(config_err(
                "covariance",
                format!(
                    "full covariance in dimension {n} needs an {n}×{n} matrix; the limit is \
                     {MAX_FULL_DIM}; use the diagonal variant (sep-cmaes)"
                ),
            ));
        }
        let lambda = if config.population_size == 0 {
            default_population(n)
        } else {
            config.population_size
        };
        let p = Parameters::new(
            n,
            lambda,
            config.covariance,
            config.active,
            config.decomposition,
        );
        let cholesky = p.cholesky;
        let (c, b) = match config.covariance {
            Covariance::Full => {
                let mut c = vec![0.0; n * n];
                for i in 0..n {
                    c[i * n + i] = 1.0;
                }
                (c.clone(), c)
            }
            Covariance::Diagonal => (vec![1.0; n], Vec::new()),
        };
        Ok(Self {
            config: config.clone(),
            n,
            p,
            s: CmaState {
                mean: x0.to_vec(),
                sigma: config.sigma0,
                pc: vec![0.0; n],
                ps: vec![0.0; n],
                factor: if cholesky { b.clone() } else { Vec::new() },
                c,
                b,
                d: vec![1.0; n],
                generation: 0,
                evals: 0,
                eigen_generation: 0,
                best_x: x0.to_vec(),
                best_f: f64::INFINITY,
                best_history: Vec::new(),
                median_history: Vec::new(),
                last_range: f64::INFINITY,
            },
            pending: None,
            bt: Vec::new(),
        }
        .with_bt())
    }

    /// Rebuild the derived Bᵀ.
    fn with_bt(mut self) -> Self {
        self.rebuild_bt();
        self
    }

    fn rebuild_bt(&mut self) {
        let n = self.n;
        if self.config.covariance == Covariance::Full {
            let a = if self.p.cholesky {
                &self.s.factor
            } else {
                &self.s.b
            };
            // Row j = column j of A, padded with zeros to the tile stride.
            let stride = n.div_ceil(TILE) * TILE;
            self.bt.clear();
            self.bt.resize(n * stride, 0.0);
            for i in 0..n {
                for j in 0..n {
                    self.bt[j * stride + i] = a[i * n + j];
                }
            }
        }
    }

    /// The dimension n.
    pub fn dim(&self) -> usize {
        self.n
    }
    /// λ, samples per generation.
    pub fn population_size(&self) -> usize {
        self.p.lambda
    }
    /// The configuration.
    pub fn config(&self) -> &CmaConfig {
        &self.config
    }
    /// The strategy parameters (weights, learning rates, damping).
    pub fn parameters(&self) -> &Parameters {
        &self.p
    }
    /// The mean m (the current estimate of the optimum).
    pub fn mean(&self) -> &[f64] {
        &self.s.mean
    }
    /// The step size σ.
    pub fn sigma(&self) -> f64 {
        self.s.sigma
    }
    /// Generations told so far.
    pub fn generation(&self) -> u64 {
        self.s.generation
    }
    /// Evaluations told so far.
    pub fn evals(&self) -> u64 {
        self.s.evals
    }
    /// The best point and value told so far.
    pub fn best(&self) -> (&[f64], f64) {
        (&self.s.best_x, self.s.best_f)
    }
    /// The axis ratio max(D)/min(D) (√ of C's condition number).
    pub fn axis_ratio(&self) -> f64 {
        let max = self.s.d.iter().cloned().fold(0.0, f64::max);
        let min = self.s.d.iter().cloned().fold(f64::INFINITY, f64::min);
        max / min
    }
    /// The full state (for checkpoints).
    pub fn state(&self) -> &CmaState {
        &self.s
    }
    /// Restore a state from [`CmaEs::state`] of a run with the same dimension and config.
    /// All or nothing: on error nothing changes.
    pub fn load_state(&mut self, state: CmaState) -> Result<()> {
        let n = self.n;
        let c_len = match self.config.covariance {
            Covariance::Full => n * n,
            Covariance::Diagonal => n,
        };
        let b_len = match self.config.covariance {
            Covariance::Full => n * n,
            Covariance::Diagonal => 0,
        };
        let ok = state.mean.len() == n
            && state.pc.len() == n
            && state.ps.len() == n
            && state.d.len() == n
            && state.best_x.len() == n
            && state.c.len() == c_len
            && state.b.len() == b_len
            && (state.factor.is_empty() || state.factor.len() == n * n)
            && state.sigma > 0.0
            && state.sigma.is_finite();
        if !ok {
            return Err(Error::Param {
                name: "cma state".into(),
                reason: format!(
                    "does not match a dimension-{n} {:?} CMA-ES (or σ is not > 0)",
                    self.config.covariance
                ),
            });
        }
        self.s = state;
        self.pending = None;
        if self.p.cholesky && self.s.factor.is_empty() {
            // A state saved while sampling from the eigendecomposition.
            self.refresh_factor();
        } else if !self.p.cholesky {
            self.s.factor.clear();
        }
        self.rebuild_bt();
        Ok(())
    }

    /// Sample `k`'s stream of the current generation: one stream per (seed, generation,
    /// sample), so samples can be drawn in parallel and a resumed run draws the same ones.
    /// Xoshiro256++ is rand's portable fast generator (same bits on every machine).
    fn rng(&self, k: usize) -> Xoshiro256PlusPlus {
        let mut h = self.config.seed ^ 0x9e37_79b9_7f4a_7c15;
        h = h
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .wrapping_add(self.s.generation.wrapping_mul(0x94d0_49bb_1331_11eb));
        h = (h ^ (h >> 31))
            .wrapping_mul(0xd6e8_feb8_6659_fd93)
            .wrapping_add((k as u64).wrapping_mul(0xa076_1d64_78bd_642f));
        Xoshiro256PlusPlus::seed_from_u64(h ^ (h >> 29))
    }

    /// One standard normal vector from `rng` (rand_distr's ziggurat).
    fn normal(&self, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
        (0..self.n)
            .map(|_| rng.sample::<f64, _>(rand_distr::StandardNormal))
            .collect()
    }

    /// The generation's λ samples `z` and `y = A z`, four per task, in parallel for large
    /// problems (each sample from its own stream and each `y` summed in one fixed order: the
    /// bits do not depend on the thread count).
    fn draw_all(&self) -> (Rows, Rows) {
        let (lambda, n) = (self.p.lambda, self.n);
        let mut zs = Rows::zeros(lambda, n);
        let mut ys = Rows::zeros(lambda, n);
        let stride = zs.stride;
        let draw = |(b, (zchunk, ychunk)): (usize, (&mut [f64], &mut [f64]))| {
            for (r, z) in zchunk.chunks_mut(stride).enumerate() {
                let mut rng = self.rng(4 * b + r);
                for v in &mut z[..n] {
                    *v = rng.sample::<f64, _>(rand_distr::StandardNormal);
                }
            }
            let z: Vec<&[f64]> = zchunk.chunks(stride).map(|z| &z[..n]).collect();
            self.transform_into(&z, ychunk);
        };
        // A normal costs about as much as 16 multiply-adds.
        let per_coordinate = match self.config.covariance {
            Covariance::Full => n + 16,
            Covariance::Diagonal => 17,
        };
        if lambda * n * per_coordinate >= PARALLEL_WORK {
            zs.data
                .par_chunks_mut(4 * stride)
                .zip(ys.data.par_chunks_mut(4 * stride))
                .enumerate()
                .for_each(draw);
        } else {
            zs.data
                .chunks_mut(4 * stride)
                .zip(ys.data.chunks_mut(4 * stride))
                .enumerate()
                .for_each(draw);
        }
        (zs, ys)
    }

    /// Like [`CmaEs::ask`], but every point lies in the box `[lower, upper]`: a sample outside
    /// is redrawn (up to 100 times), then projected onto the box. The update learns from the
    /// points returned. Asking again before telling returns the same points.
    pub fn ask_bounded(&mut self, lower: &[f64], upper: &[f64]) -> Vec<Vec<f64>> {
        if self.pending.is_none() {
            let inside = |x: &[f64]| {
                x.iter()
                    .enumerate()
                    .all(|(i, v)| *v >= lower[i] && *v <= upper[i])
            };
            let mut ys = Vec::with_capacity(self.p.lambda);
            let mut zs = Some(Vec::with_capacity(self.p.lambda));
            for k in 0..self.p.lambda {
                let mut rng = self.rng(k);
                let mut y = Vec::new();
                let mut x = Vec::new();
                let mut z = Vec::new();
                for _ in 0..100 {
                    z = self.normal(&mut rng);
                    y = self.transform(&z);
                    x = self.point(&y);
                    if inside(&x) {
                        break;
                    }
                }
                if inside(&x) {
                    if let Some(zs) = zs.as_mut() {
                        zs.push(z);
                    }
                } else {
                    zs = None;
                    let clipped: Vec<f64> = x
                        .iter()
                        .enumerate()
                        .map(|(i, v)| v.clamp(lower[i], upper[i]))
                        .collect();
                    y = clipped
                        .iter()
                        .zip(&self.s.mean)
                        .map(|(x, m)| (x - m) / self.s.sigma)
                        .collect();
                }
                ys.push(y);
            }
            let n = self.n;
            self.pending = Some(Pending {
                ys: Rows::from_vecs(&ys, n),
                zs: zs.map(|zs| Rows::from_vecs(&zs, n)),
            });
        }
        self.ask()
    }

    fn point(&self, y: &[f64]) -> Vec<f64> {
        self.s
            .mean
            .iter()
            .zip(y)
            .map(|(m, y)| m + self.s.sigma * y)
            .collect()
    }

    /// `A z`: `B (D ∘ z)`, or `L z` when sampling with the Cholesky factor.
    fn transform(&self, z: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; self.bt_stride()];
        self.transform_into(&[z], &mut y);
        y.truncate(self.n);
        y
    }

    /// Row stride of the padded `bt` (and of sample rows).
    fn bt_stride(&self) -> usize {
        self.n.div_ceil(TILE) * TILE
    }

    /// `out` row r (of stride [`CmaEs::bt_stride`]) ← `A zs[r]` for up to four `zs`: `D ∘ z`
    /// (diagonal), `B (D ∘ z)` or `L z`.
    fn transform_into(&self, zs: &[&[f64]], out: &mut [f64]) {
        let stride = self.bt_stride();
        if self.config.covariance == Covariance::Diagonal || !self.p.cholesky {
            let dz: Vec<Vec<f64>> = zs
                .iter()
                .map(|z| z.iter().zip(&self.s.d).map(|(z, d)| z * d).collect())
                .collect();
            if self.config.covariance == Covariance::Diagonal {
                for (z, y) in dz.iter().zip(out.chunks_mut(stride)) {
                    y[..self.n].copy_from_slice(z);
                }
                return;
            }
            let dz: Vec<&[f64]> = dz.iter().map(|v| v.as_slice()).collect();
            self.times_a_into(&dz, out);
        } else {
            self.times_a_into(zs, out);
        }
    }

    /// `out` row r (of stride [`CmaEs::bt_stride`], padding left 0) ← `A vs[r]` for up to
    /// four `vs` (full covariance; A = B or L): every entry sums `A_ij v_j` over j = 0, 1, …
    /// in order with fused multiply-adds (terms of L above the diagonal are skipped: they are
    /// 0).
    fn times_a_into(&self, zs: &[&[f64]], out: &mut [f64]) {
        let n = self.n;
        let stride = self.bt_stride();
        let zero = vec![0.0; n];
        let coef = |r: usize| zs.get(r).copied().unwrap_or(&zero);
        let rows: Vec<usize> = (0..n).map(|j| j * stride).collect();
        for c0 in (0..stride).step_by(TILE) {
            let len = if self.p.cholesky { n.min(c0 + TILE) } else { n };
            let mut acc = [[0.0; TILE]; 4];
            tile4(
                &mut acc,
                &self.bt,
                &rows,
                c0,
                [
                    &coef(0)[..len],
                    &coef(1)[..len],
                    &coef(2)[..len],
                    &coef(3)[..len],
                ],
            );
            for (r, y) in out.chunks_mut(stride).take(zs.len()).enumerate() {
                y[c0..c0 + TILE].copy_from_slice(&acc[r]);
            }
        }
    }

    /// `C^{-1/2} y = B D⁻¹ Bᵀ y`, or `L⁻¹ y` (forward substitution) when sampling with the
    /// Cholesky factor.
    fn inv_sqrt(&self, y: &[f64]) -> Vec<f64> {
        let n = self.n;
        match self.config.covariance {
            Covariance::Diagonal => y.iter().zip(&self.s.d).map(|(y, d)| y / d).collect(),
            Covariance::Full if self.p.cholesky => {
                let l = &self.s.factor;
                let mut x = vec![0.0; n];
                for i in 0..n {
                    let row = &l[i * n..i * n + i];
                    let s: f64 = row.iter().zip(&x[..i]).map(|(a, b)| a * b).sum();
                    x[i] = (y[i] - s) / l[i * n + i];
                }
                x
            }
            Covariance::Full => {
                let mut t = vec![0.0; n];
                for (k, tk) in t.iter_mut().enumerate() {
                    let mut s = 0.0;
                    for (i, yi) in y.iter().enumerate() {
                        s += self.s.b[i * n + k] * yi;
                    }
                    *tk = s / self.s.d[k];
                }
                (0..n)
                    .map(|i| {
                        let row = &self.s.b[i * n..(i + 1) * n];
                        row.iter().zip(&t).map(|(b, v)| b * v).sum()
                    })
                    .collect()
            }
        }
    }

    /// Propose λ points `m + σ B D z` of the current generation. Asking again before telling
    /// returns the same points.
    pub fn ask(&mut self) -> Vec<Vec<f64>> {
        self.sample();
        let pending = self.pending.as_ref().expect("sampled");
        (0..pending.ys.len())
            .map(|k| self.point(pending.ys.row(k)))
            .collect()
    }

    /// Draw the generation's samples unless they are pending already.
    fn sample(&mut self) {
        if self.pending.is_none() {
            let (zs, ys) = self.draw_all();
            self.pending = Some(Pending { ys, zs: Some(zs) });
        }
    }

    /// Sample `k`'s `y` (x = m + σ y) of the pending generation, if any.
    pub(crate) fn pending_y(&self, k: usize) -> Option<&[f64]> {
        self.pending.as_ref().map(|p| p.ys.row(k))
    }

    /// Update from the values of the points of the last [`CmaEs::ask`], in the same order
    /// (minimisation). Errors: no pending ask, a wrong length, a NaN (map NaN to +inf first
    /// to treat it as the worst).
    pub fn tell(&mut self, values: &[f64]) -> Result<()> {
        let Some(pending) = self.pending.take() else {
            return Err(config_err("tell", "called without a pending ask"));
        };
        self.tell_ys(pending, values)
    }

    /// Update from points of your own (for example repaired into bounds) and their values. The
    /// update uses `y = (x − m)/σ` of each point.
    pub fn tell_points(&mut self, points: &[Vec<f64>], values: &[f64]) -> Result<()> {
        if points.len() != self.p.lambda {
            return Err(Error::FitnessLength {
                expected: self.p.lambda,
                got: points.len(),
            });
        }
        let mut ys = Vec::with_capacity(points.len());
        for (k, x) in points.iter().enumerate() {
            if x.len() != self.n {
                return Err(config_err(
                    "points",
                    format!(
                        "point {k} has {} coordinates; the dimension is {}",
                        x.len(),
                        self.n
                    ),
                ));
            }
            check_finite("points", x)?;
            ys.push(
                x.iter()
                    .zip(&self.s.mean)
                    .map(|(x, m)| (x - m) / self.s.sigma)
                    .collect(),
            );
        }
        self.pending = None;
        let ys = Rows::from_vecs(&ys, self.n);
        self.tell_ys(Pending { ys, zs: None }, values)
    }

    fn tell_ys(&mut self, pending: Pending, values: &[f64]) -> Result<()> {
        let lambda = self.p.lambda;
        if values.len() != lambda {
            self.pending = Some(pending);
            return Err(Error::FitnessLength {
                expected: lambda,
                got: values.len(),
            });
        }
        if let Some(k) = values.iter().position(|v| v.is_nan()) {
            self.pending = Some(pending);
            return Err(Error::NonFiniteFitness {
                member: k,
                generation: self.s.generation,
                value: f32::NAN,
            });
        }
        let Pending { ys, zs } = pending;
        let n = self.n;
        let nf = n as f64;
        let p = self.p.clone();
        let mut order: Vec<usize> = (0..lambda).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));

        // Best so far, evaluated at x = m + σ y.
        let best = order[0];
        if values[best] < self.s.best_f {
            self.s.best_f = values[best];
            self.s.best_x = self
                .s
                .mean
                .iter()
                .zip(ys.row(best))
                .map(|(m, y)| m + self.s.sigma * y)
                .collect();
        }
        self.s.evals += lambda as u64;

        // Mean.
        let mut yw = vec![0.0; n];
        for (i, &k) in order[..p.mu].iter().enumerate() {
            for (a, y) in yw.iter_mut().zip(ys.row(k)) {
                *a += p.weights[i] * y;
            }
        }
        for (m, y) in self.s.mean.iter_mut().zip(&yw) {
            *m += self.s.sigma * y;
        }

        // Step-size path and σ: C^{-1/2} ⟨y⟩ = B ⟨z⟩ when the samples are unrepaired (and
        // L⁻¹ ⟨y⟩ = ⟨z⟩ with the Cholesky factor).
        let cinv_yw = match &zs {
            Some(zs) => {
                let mut zw = vec![0.0; n];
                for (i, &k) in order[..p.mu].iter().enumerate() {
                    for (a, z) in zw.iter_mut().zip(zs.row(k)) {
                        *a += p.weights[i] * z;
                    }
                }
                match self.config.covariance {
                    Covariance::Full if !self.p.cholesky => {
                        let mut bz = vec![0.0; self.bt_stride()];
                        self.times_a_into(&[&zw], &mut bz);
                        bz.truncate(n);
                        bz
                    }
                    _ => zw,
                }
            }
            None => self.inv_sqrt(&yw),
        };
        let cs_fac = (p.cs * (2.0 - p.cs) * p.mueff).sqrt();
        for (ps, v) in self.s.ps.iter_mut().zip(&cinv_yw) {
            *ps = (1.0 - p.cs) * *ps + cs_fac * v;
        }
        let ps_norm = self.s.ps.iter().map(|v| v * v).sum::<f64>().sqrt();
        let g1 = (self.s.generation + 1) as f64;
        // pycma's stall test on the squared length: ‖pσ‖²/(1 − (1 − cσ)^{2g})/n − 1 < 1 + 4/(n + 1).
        let hsig = ps_norm * ps_norm / (1.0 - (1.0 - p.cs).powf(2.0 * g1)) / nf - 1.0
            < 1.0 + 4.0 / (nf + 1.0);
        let hsig_f = if hsig { 1.0 } else { 0.0 };
        let cc_fac = (p.cc * (2.0 - p.cc) * p.mueff).sqrt();
        for (pc, y) in self.s.pc.iter_mut().zip(&yw) {
            *pc = (1.0 - p.cc) * *pc + hsig_f * cc_fac * y;
        }

        // Covariance: rank-one + rank-μ, with the negative weights rescaled by n/‖C^{-1/2}y‖².
        let mut w_eff = Vec::with_capacity(lambda);
        for (i, &k) in order.iter().enumerate() {
            let w = p.weights[i];
            if w < 0.0 {
                let norm2: f64 = match &zs {
                    Some(zs) => zs.row(k).iter().map(|v| v * v).sum(),
                    None => self.inv_sqrt(ys.row(k)).iter().map(|v| v * v).sum(),
                };
                w_eff.push(w * nf / norm2.max(1e-300));
            } else {
                w_eff.push(w);
            }
        }
        let sum_w: f64 = p.weights.iter().sum();
        let delta_h = (1.0 - hsig_f) * p.cc * (2.0 - p.cc);
        let decay = 1.0 + p.c1 * delta_h - p.c1 - p.cmu * sum_w;
        match self.config.covariance {
            Covariance::Diagonal => {
                // Σ_i w_i y_i², every coordinate summing over the samples in order.
                let mut rank_mu = vec![0.0; n];
                for (i, &k) in order.iter().enumerate() {
                    if w_eff[i] != 0.0 {
                        for (r, y) in rank_mu.iter_mut().zip(ys.row(k)) {
                            *r += w_eff[i] * y * y;
                        }
                    }
                }
                for ((c, pc), r) in self.s.c.iter_mut().zip(&self.s.pc).zip(&rank_mu) {
                    *c = decay * *c + p.c1 * pc * pc + p.cmu * r;
                }
            }
            Covariance::Full => {
                // Four rows per task (in parallel for large problems), in register tiles of
                // TILE columns up to the diagonal: every entry sums its terms in sample order
                // whatever the thread count. Zero-weight terms add exact zeros.
                let pc = &self.s.pc;
                let rows: Vec<usize> = order.iter().map(|&k| k * ys.stride).collect();
                let w: Vec<f64> = w_eff.iter().map(|w| p.cmu * w).collect();
                let update_rows = |(t, block): (usize, &mut [f64])| {
                    let a0 = 4 * t;
                    let nrows = block.len() / n;
                    // coef[r][i] = cμ w_i y_{order[i]}[a0 + r]: row a0 + r's coefficient of
                    // term i (rows past n: zeros).
                    let mut coef = vec![vec![0.0; lambda]; 4];
                    for (r, cr) in coef.iter_mut().enumerate().take(nrows) {
                        for ((c, &k), w) in cr.iter_mut().zip(&order).zip(&w) {
                            *c = w * ys.data[k * ys.stride + a0 + r];
                        }
                    }
                    for c0 in (0..=(a0 + nrows - 1)).step_by(TILE) {
                        let mut acc = [[0.0; TILE]; 4];
                        for (r, row) in block.chunks(n).enumerate() {
                            let a = a0 + r;
                            for c in 0..TILE.min(n - c0) {
                                acc[r][c] = decay * row[c0 + c] + p.c1 * pc[a] * pc[c0 + c];
                            }
                        }
                        tile4(
                            &mut acc,
                            &ys.data,
                            &rows,
                            c0,
                            [&coef[0], &coef[1], &coef[2], &coef[3]],
                        );
                        for (r, row) in block.chunks_mut(n).enumerate() {
                            let a = a0 + r;
                            let end = (a + 1).min(c0 + TILE);
                            if end > c0 {
                                row[c0..end].copy_from_slice(&acc[r][..end - c0]);
                            }
                        }
                    }
                };
                let c = &mut self.s.c;
                if lambda * n * n >= PARALLEL_WORK {
                    c.par_chunks_mut(4 * n).enumerate().for_each(update_rows);
                } else {
                    c.chunks_mut(4 * n).enumerate().for_each(update_rows);
                }
                // Mirror the lower triangle.
                for i in 0..n {
                    for j in 0..i {
                        c[j * n + i] = c[i * n + j];
                    }
                }
            }
        }

        self.s.sigma *= ((p.cs / p.damps) * (ps_norm / p.chi_n - 1.0))
            .min(1.0)
            .exp();

        // Flat fitness: the best and the ⌈0.7λ⌉-th are equal at different points → widen (as
        // pycma does). Equal values at the same point (points repaired onto one corner of a
        // box) say nothing about flatness.
        let kth = ((0.7 * lambda as f64).ceil() as usize).min(lambda - 1);
        if values[order[0]] == values[order[kth]] && ys.row(order[0]) != ys.row(order[kth]) {
            self.s.sigma *= (0.2 + p.cs / p.damps).exp();
        }

        self.s.generation += 1;
        self.update_eigen(false);

        // Histories for the stopping criteria.
        let median = values[order[lambda / 2]];
        self.s.last_range = values[order[lambda - 1]] - values[order[0]];
        self.s.best_history.push(values[order[0]]);
        self.s.median_history.push(median);
        let keep = self.history_len();
        for h in [&mut self.s.best_history, &mut self.s.median_history] {
            if h.len() > keep {
                h.drain(..h.len() - keep);
            }
        }
        Ok(())
    }

    fn history_len(&self) -> usize {
        let n = self.n as f64;
        let l = self.p.lambda as f64;
        let stag = 120.0 + 30.0 * n / l;
        let g = 0.2 * self.s.generation as f64;
        stag.max(g).min(20000.0) as usize
    }

    fn update_eigen(&mut self, force: bool) {
        let n = self.n;
        match self.config.covariance {
            Covariance::Diagonal => {
                for (d, c) in self.s.d.iter_mut().zip(&self.s.c) {
                    *d = c.max(1e-300).sqrt();
                }
            }
            Covariance::Full => {
                if self.p.cholesky {
                    self.refresh_factor();
                    self.rebuild_bt();
                }
                if !force && self.s.generation - self.s.eigen_generation < self.p.eigen_every {
                    return;
                }
                self.s.eigen_generation = self.s.generation;
                let m = DMatrix::from_row_slice(n, n, &self.s.c);
                let eig = SymmetricEigen::new(m);
                for k in 0..n {
                    self.s.d[k] = eig.eigenvalues[k].max(1e-300).sqrt();
                    for i in 0..n {
                        self.s.b[i * n + k] = eig.eigenvectors[(i, k)];
                    }
                }
                if !self.p.cholesky {
                    self.rebuild_bt();
                }
            }
        }
    }

    /// `s.factor ← L` with `L Lᵀ = C`. Should rounding have made C numerically indefinite
    /// (far beyond the condition the `condition_cov` stop allows), its diagonal is raised by
    /// 1e-14, 1e-13, … times its largest entry until the factorisation succeeds (after 16
    /// tries, a non-finite C, L is the square root of C's diagonal).
    fn refresh_factor(&mut self) {
        let n = self.n;
        let max_diag = (0..n).map(|i| self.s.c[i * n + i]).fold(0.0, f64::max);
        let mut jitter = 0.0;
        for _ in 0..16 {
            let mut m = DMatrix::from_row_slice(n, n, &self.s.c);
            for i in 0..n {
                m[(i, i)] += jitter;
            }
            if let Some(ch) = Cholesky::new(m) {
                let l = ch.l();
                self.s.factor.resize(n * n, 0.0);
                for i in 0..n {
                    for j in 0..n {
                        self.s.factor[i * n + j] = l[(i, j)];
                    }
                }
                if jitter > 0.0 {
                    for i in 0..n {
                        self.s.c[i * n + i] += jitter;
                    }
                }
                return;
            }
            jitter = if jitter == 0.0 {
                1e-14 * max_diag.max(1e-300)
            } else {
                jitter * 10.0
            };
        }
        self.s.factor = vec![0.0; n * n];
        for i in 0..n {
            self.s.factor[i * n + i] = self.s.c[i * n + i].max(1e-300).sqrt();
        }
    }

    /// The first local stopping criterion that holds, if any (checked after each tell).
    pub fn should_stop(&self) -> Option<CmaStop> {
        let s = &self.s;
        let n = self.n;
        let max_d = s.d.iter().cloned().fold(0.0, f64::max);
        // The largest coordinate standard deviation of C (current every generation, where D
        // may lag behind when sampling from the Cholesky factor).
        let max_var = match self.config.covariance {
            Covariance::Full => (0..n).map(|i| s.c[i * n + i]).fold(0.0, f64::max),
            Covariance::Diagonal => s.c.iter().cloned().fold(0.0, f64::max),
        };
        let spread = s.sigma * max_d.max(max_var.sqrt());
        if !(spread <= DIVERGENCE_LIMIT && s.mean.iter().all(|m| m.abs() <= DIVERGENCE_LIMIT)) {
            return Some(CmaStop::Diverged);
        }
        if s.generation == 0 {
            return None;
        }
        if s.sigma / self.config.sigma0 > 1e20 * max_d {
            return Some(CmaStop::TolUpSigma);
        }
        let l = self.p.lambda as f64;
        let nf = n as f64;
        // tolfun: the recent best values and the last generation span < 1e-11.
        let recent = (10.0 + (30.0 * nf / l).ceil()) as usize;
        if s.best_history.len() >= recent {
            let h = &s.best_history[s.best_history.len() - recent..];
            let max = h.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let min = h.iter().cloned().fold(f64::INFINITY, f64::min);
            if max - min < 1e-11 && s.last_range < 1e-11 {
                return Some(CmaStop::TolFun);
            }
        }
        // tolx.
        let diag = |i: usize| match self.config.covariance {
            Covariance::Full => s.c[i * n + i],
            Covariance::Diagonal => s.c[i],
        };
        if (0..n).all(|i| s.sigma * diag(i).sqrt() < 1e-11 && s.sigma * s.pc[i].abs() < 1e-11) {
            return Some(CmaStop::TolX);
        }
        if self.axis_ratio().powi(2) > 1e14 {
            return Some(CmaStop::ConditionCov);
        }
        // noeffectaxis: one axis per generation, cycling.
        let k = (s.generation % n as u64) as usize;
        let axis_moves = match self.config.covariance {
            Covariance::Full => (0..n).any(|i| {
                let step = 0.1 * s.sigma * s.d[k] * s.b[i * n + k];
                s.mean[i] + step != s.mean[i]
            }),
            Covariance::Diagonal => s.mean[k] + 0.1 * s.sigma * s.d[k] != s.mean[k],
        };
        if !axis_moves {
            return Some(CmaStop::NoEffectAxis);
        }
        if (0..n).any(|i| s.mean[i] + 0.2 * s.sigma * diag(i).sqrt() == s.mean[i]) {
            return Some(CmaStop::NoEffectCoord);
        }
        // Stagnation: the medians of the last 20 generations are no better than those of the
        // first 20 of the window, for the best and the median values.
        let window = self.history_len();
        if s.generation as usize > window && s.best_history.len() >= window && window >= 40 {
            let med = |v: &[f64]| {
                let mut v = v.to_vec();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let stalled = |h: &[f64]| med(&h[h.len() - 20..]) >= med(&h[..20]);
            if stalled(&s.best_history) && stalled(&s.median_history) {
                return Some(CmaStop::Stagnation);
            }
        }
        if s.generation as f64 > 100.0 + 150.0 * (nf + 3.0).powi(2) / l.sqrt() {
            return Some(CmaStop::MaxIter);
        }
        None
    }
}

/// CMA-ES behind the [`crate::Strategy`] trait, so the [`crate::Trainer`], the CLI, the
/// dashboard, checkpoints and MPI drive it like EGGROLL (maximising fitness). The search runs in
/// f64 over all parameters flattened in order; the population handed to evaluators is the
/// samples `y` as full noise (`Pairing::Independent`), so member `k` is `θ + σ·y_k` with θ
/// the CMA mean. For more than a few thousand parameters use the diagonal variant.
#[derive(Debug, Clone)]
pub struct CmaStrategy {
    es: CmaEs,
    numels: Vec<usize>,
    asked: Option<u64>,
    restart: Option<RestartState>,
}

/// Restarts of a [`CmaStrategy`]: the schedule, where every run starts, the first run's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RestartState {
    schedule: RestartSchedule,
    x0: Vec<f64>,
    base: CmaConfig,
}

#[derive(Serialize, Deserialize)]
struct CmaStrategyJson {
    config: CmaConfig,
    state: CmaState,
    #[serde(default)]
    restart: Option<RestartState>,
}

impl CmaStrategy {
    /// Start at `params` (flattened) with the config's σ₀ and λ.
    pub fn new(config: CmaConfig, params: &Params) -> Result<Self> {
        if params.is_empty() {
            return Err(config_err("params", "the parameter set is empty"));
        }
        let host = params.to_host()?;
        let x0: Vec<f64> = host.iter().flatten().map(|&v| f64::from(v)).collect();
        Ok(Self {
            es: CmaEs::new(&x0, &config)?,
            numels: host.iter().map(Vec::len).collect(),
            asked: None,
            restart: None,
        })
    }

    /// Restart (IPOP or BIPOP) whenever a local stopping criterion holds: every run starts
    /// again at the initial parameters with a new seed, λ growing up to `max_lambda`. The
    /// trainer keeps the best member seen across runs.
    pub fn with_restarts(mut self, policy: Restarts, max_lambda: usize) -> Self {
        self.restart = (policy != Restarts::None).then(|| RestartState {
            schedule: RestartSchedule::new(
                policy,
                self.es.population_size(),
                self.es.config.sigma0,
                max_lambda,
            ),
            x0: self.es.mean().to_vec(),
            base: self.es.config.clone(),
        });
        self
    }

    /// Restarts performed so far.
    pub fn restarts(&self) -> usize {
        self.restart.as_ref().map_or(0, |r| r.schedule.restarts())
    }

    /// After a tell: start the next run when the current one has converged.
    fn maybe_restart(&mut self) -> Result<()> {
        let Some(r) = self.restart.as_mut() else {
            return Ok(());
        };
        if self.es.should_stop().is_none() {
            return Ok(());
        }
        let k = r.schedule.restarts() as u64 + 1;
        let mut rng = StdRng::seed_from_u64(r.base.seed ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (lambda, sigma0) = r.schedule.next(self.es.evals(), &mut rng);
        let config = CmaConfig {
            population_size: lambda,
            sigma0,
            seed: r.base.seed.wrapping_add(k.wrapping_mul(0x1000_0001)),
            ..r.base.clone()
        };
        self.es = CmaEs::new(&r.x0, &config)?;
        Ok(())
    }

    /// The f64 search state.
    pub fn cma(&self) -> &CmaEs {
        &self.es
    }
}

impl Strategy for CmaStrategy {
    fn name(&self) -> &str {
        match self.es.config.covariance {
            Covariance::Full => "cmaes",
            Covariance::Diagonal => "sep_cmaes",
        }
    }
    fn population_size(&self) -> usize {
        self.es.population_size()
    }
    fn sigma(&self, _generation: u64) -> f32 {
        self.es.sigma() as f32
    }
    fn learning_rate(&self, _generation: u64) -> f32 {
        1.0
    }
    fn ask(&mut self, params: &Params, generation: u64) -> Result<Population> {
        if params.len() != self.numels.len() {
            return Err(config_err(
                "params",
                format!(
                    "the strategy was built for {} parameters, got {}",
                    self.numels.len(),
                    params.len()
                ),
            ));
        }
        let lambda = self.es.population_size();
        // The pending samples are kept until told, so asking twice gives the same population.
        self.es.sample();
        let device = params.device();
        let mut noise = Vec::with_capacity(self.numels.len());
        let mut offset = 0;
        for &numel in &self.numels {
            let mut eps = Vec::with_capacity(lambda * numel);
            for k in 0..lambda {
                let y = self.es.pending_y(k).expect("sample sets pending");
                eps.extend(y[offset..offset + numel].iter().map(|&v| v as f32));
            }
            noise.push(Noise::Full {
                eps: Tensor::from_vec(eps, (lambda, numel), &device)?,
            });
            offset += numel;
        }
        self.asked = Some(generation);
        Ok(Population {
            generation,
            epoch: generation,
            seed: self.es.config.seed,
            size: lambda,
            sigma: self.es.sigma() as f32,
            pairing: Pairing::Independent,
            noise,
        })
    }
    fn tell(
        &mut self,
        params: &mut Params,
        population: &Population,
        fitness: &[f32],
    ) -> Result<TellReport> {
        if self.asked != Some(population.generation) {
            return Err(config_err(
                "tell",
                format!(
                    "generation {} was not the last one asked",
                    population.generation
                ),
            ));
        }
        let sigma = self.es.sigma() as f32;
        let before = self.es.mean().to_vec();
        // CMA-ES minimises; the trainer maximises.
        let values: Vec<f64> = fitness.iter().map(|&f| -f64::from(f)).collect();
        self.es.tell(&values)?;
        self.asked = None;
        self.maybe_restart()?;
        let mean = self.es.mean();
        // The parameters are f32: a run that diverged (and did not restart) stops here, before
        // its mean or its next points overflow them.
        let limit = f64::from(f32::MAX) / 16.0;
        let spread = self.es.sigma() * self.es.s.d.iter().cloned().fold(0.0, f64::max);
        if self.es.should_stop() == Some(CmaStop::Diverged)
            || !(spread <= limit && mean.iter().all(|m| m.abs() <= limit))
        {
            return Err(Error::Diverged {
                strategy: self.name().to_string(),
                generation: population.generation,
                reason: format!(
                    "the mean reached |x| = {:.3e} and σ·max(D) = {spread:.3e}, beyond f32 \
                     parameters' range",
                    mean.iter().fold(0.0f64, |a, m| a.max(m.abs()))
                ),
            });
        }
        let update_norm = mean
            .iter()
            .zip(&before)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt() as f32;
        let mut offset = 0;
        for (i, &numel) in self.numels.iter().enumerate() {
            let v: Vec<f32> = mean[offset..offset + numel]
                .iter()
                .map(|&x| x as f32)
                .collect();
            let dims = params
                .iter()
                .nth(i)
                .expect("checked length")
                .dims()
                .to_vec();
            let device = params.device();
            params.set(i, Tensor::from_vec(v, dims, &device)?)?;
            offset += numel;
        }
        Ok(TellReport {
            update_norm,
            sigma,
            lr: 1.0,
        })
    }
    fn set_sigma(&mut self, sigma: f32) -> Result<()> {
        crate::error::check_positive("sigma", sigma)?;
        self.es.s.sigma = f64::from(sigma);
        Ok(())
    }
    fn state(&self) -> Result<StrategyState> {
        let json = serde_json::to_value(CmaStrategyJson {
            config: self.es.config.clone(),
            state: self.es.s.clone(),
            restart: self.restart.clone(),
        })
        .map_err(|e| Error::Param {
            name: "cma state".into(),
            reason: e.to_string(),
        })?;
        Ok(StrategyState {
            json,
            tensors: Vec::new(),
        })
    }
    fn load_state(&mut self, state: StrategyState, _params: &Params) -> Result<()> {
        let j: CmaStrategyJson = serde_json::from_value(state.json).map_err(|e| Error::Param {
            name: "cma state".into(),
            reason: e.to_string(),
        })?;
        let mismatch = || Error::Param {
            name: "cma state".into(),
            reason: "the checkpoint's CMA-ES config (or restart policy) differs from this run's"
                .into(),
        };
        // All or nothing: build the restored search aside, then swap it in.
        let es = match (&self.restart, &j.restart) {
            (None, None) if j.config == self.es.config => {
                let mut es = self.es.clone();
                es.load_state(j.state)?;
                es
            }
            (Some(mine), Some(theirs))
                if mine.base == theirs.base
                    && mine.x0 == theirs.x0
                    && j.config.covariance == mine.base.covariance =>
            {
                let mut es = CmaEs::new(&j.state.mean, &j.config)?;
                es.load_state(j.state)?;
                es
            }
            _ => return Err(mismatch()),
        };
        self.es = es;
        self.restart = j.restart;
        self.asked = None;
        Ok(())
    }
}
