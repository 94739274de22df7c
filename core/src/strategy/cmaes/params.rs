//! The strategy parameters derived from n and λ (weights, learning rates, damping).

use super::*;

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
    pub(super) fn new(
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
