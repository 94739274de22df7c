//! Observation normalisation (as EvoJAX, evosax and EvoTorch offer): a running mean and
//! variance of the raw observations of every member's steps, updated between generations and
//! frozen within one, so every member of a generation sees the same transform.
//!
//! Determinism: each member's statistics are accumulated in its own step order (Welford), and
//! the members' statistics are merged into the running state in member order (Chan et al.'s
//! pairwise update). Neither order depends on the thread count or on how members are split
//! across MPI ranks, so the merged state has the same bits however the work was divided.
//!
//! ```
//! use eggroll_policies::obsnorm::{ObsNorm, ObsStats};
//! let mut norm = ObsNorm::new(2, 5.0);
//! let mut member = ObsStats::new(2);
//! member.push(&[1.0, 10.0]);
//! member.push(&[3.0, 30.0]);
//! norm.merge(&[member]);
//! let t = norm.transform();
//! let mut x = [2.0f32, 20.0];
//! t.apply(&mut x);
//! assert_eq!(x, [0.0, 0.0]);
//! ```

use serde::{Deserialize, Serialize};

use eggroll_core::{Error, Result};

/// Added to the variance before the square root, so constant inputs stay finite.
pub const EPS: f64 = 1e-8;

/// Largest magnitude of a raw observation the statistics take in (larger values, and
/// non-finite ones, are clamped to ±this); keeps one absurd step from poisoning the state.
pub const STAT_LIMIT: f64 = 1e6;

/// Count, mean and sum of squared deviations of a stream of observation vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsStats {
    /// Observations seen.
    pub count: u64,
    /// Their mean, per coordinate.
    pub mean: Vec<f64>,
    /// Sum of squared deviations from the mean, per coordinate.
    pub m2: Vec<f64>,
}

impl ObsStats {
    /// Empty statistics of `dim`-dimensional observations.
    pub fn new(dim: usize) -> Self {
        Self {
            count: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        }
    }

    /// Observation size.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Take in one observation (Welford's update).
    pub fn push(&mut self, x: &[f32]) {
        self.count += 1;
        let n = self.count as f64;
        for ((m, s), &v) in self.mean.iter_mut().zip(&mut self.m2).zip(x) {
            let v = clamp_stat(v);
            let d = v - *m;
            *m += d / n;
            *s += d * (v - *m);
        }
    }

    /// Fold `other` into these statistics (Chan et al.'s pairwise update).
    pub fn merge(&mut self, other: &ObsStats) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        for i in 0..self.mean.len() {
            let d = other.mean[i] - self.mean[i];
            self.mean[i] += d * nb / n;
            self.m2[i] += other.m2[i] + d * d * na * nb / n;
        }
        self.count += other.count;
    }

    /// `[count, mean…, m2…]`: the fixed-width form that MPI ranks exchange (a count below 2^53
    /// is exact in an f64).
    pub fn to_flat(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(1 + 2 * self.dim());
        v.push(self.count as f64);
        v.extend_from_slice(&self.mean);
        v.extend_from_slice(&self.m2);
        v
    }

    /// The inverse of [`to_flat`](Self::to_flat).
    pub fn from_flat(v: &[f64]) -> Result<Self> {
        let dim = v.len().saturating_sub(1) / 2;
        if v.len() != 1 + 2 * dim || !(v[0] >= 0.0 && v[0].fract() == 0.0) {
            return Err(Error::InvalidConfig {
                field: "obs_norm".into(),
                reason: format!("{} numbers are no observation statistics", v.len()),
            });
        }
        Ok(Self {
            count: v[0] as u64,
            mean: v[1..1 + dim].to_vec(),
            m2: v[1 + dim..].to_vec(),
        })
    }
}

fn clamp_stat(v: f32) -> f64 {
    let v = v as f64;
    if v.is_nan() {
        0.0
    } else {
        v.clamp(-STAT_LIMIT, STAT_LIMIT)
    }
}

/// The running state of the normaliser: all observations so far and the clip of normalised
/// values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsNorm {
    /// Statistics of every training observation so far.
    pub stats: ObsStats,
    /// Normalised values are clipped to `[-clip, clip]`.
    pub clip: f32,
}

impl ObsNorm {
    /// A normaliser of `dim`-dimensional observations that has seen nothing (its transform is
    /// then the identity, clipped).
    pub fn new(dim: usize, clip: f32) -> Self {
        Self {
            stats: ObsStats::new(dim),
            clip,
        }
    }

    /// Check the clip and that every number is finite, naming `field`.
    pub fn validate(&self, field: &str) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::InvalidConfig {
                field: field.into(),
                reason,
            })
        };
        if self.clip.is_nan() || self.clip <= 0.0 {
            return bad(format!("clip is {}; must be > 0", self.clip));
        }
        let s = &self.stats;
        if s.mean.len() != s.m2.len() {
            return bad("mean and m2 differ in length".into());
        }
        if s.mean.iter().chain(&s.m2).any(|v| !v.is_finite()) || s.m2.iter().any(|&v| v < 0.0) {
            return bad("holds a non-finite mean or a negative or non-finite m2".into());
        }
        Ok(())
    }

    /// Fold per-member statistics, in the order given (member order), into the state.
    pub fn merge(&mut self, members: &[ObsStats]) {
        for m in members {
            self.stats.merge(m);
        }
    }

    /// The frozen f32 transform of the current state.
    pub fn transform(&self) -> ObsTransform {
        let s = &self.stats;
        let (mean, std) = if s.count == 0 {
            (vec![0.0; s.dim()], vec![1.0; s.dim()])
        } else {
            let n = s.count as f64;
            (
                s.mean.iter().map(|&m| m as f32).collect(),
                s.m2.iter().map(|&q| (q / n + EPS).sqrt() as f32).collect(),
            )
        };
        ObsTransform {
            mean,
            std,
            clip: self.clip,
        }
    }
}

/// `x ↦ clamp((x − mean) / std, −clip, clip)` in f32, one coordinate at a time: what the
/// rollouts, `eggroll eval`, `policy forward`, the dashboard and the PyTorch interop apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsTransform {
    /// Subtracted from each coordinate.
    pub mean: Vec<f32>,
    /// Divides each coordinate (> 0).
    pub std: Vec<f32>,
    /// Clip of the result.
    pub clip: f32,
}

impl ObsTransform {
    /// Normalise `x` (one or more rows of `mean.len()` values) in place.
    pub fn apply(&self, x: &mut [f32]) {
        let d = self.mean.len();
        for row in x.chunks_mut(d) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = ((*v - m) / s).clamp(-self.clip, self.clip);
            }
        }
    }

    /// Check sizes, finiteness and positivity, naming `field`.
    pub fn validate(&self, field: &str, dim: usize) -> Result<()> {
        let ok = self.mean.len() == dim
            && self.std.len() == dim
            && self.mean.iter().all(|v| v.is_finite())
            && self.std.iter().all(|&v| v.is_finite() && v > 0.0)
            && self.clip > 0.0;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidConfig {
                field: field.into(),
                reason: format!(
                    "needs {dim} finite means, {dim} finite positive stds and a clip > 0"
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut h = seed;
        (0..n)
            .map(|_| {
                (0..dim)
                    .map(|i| {
                        h = eggroll_core::noise::mix64(h.wrapping_add(1));
                        ((h >> 40) as f32 / (1u64 << 24) as f32) * (i as f32 + 1.0) + i as f32
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn welford_matches_two_pass() {
        let xs = stream(1000, 3, 7);
        let mut s = ObsStats::new(3);
        xs.iter().for_each(|x| s.push(x));
        for i in 0..3 {
            let mean = xs.iter().map(|x| x[i] as f64).sum::<f64>() / 1000.0;
            let m2 = xs.iter().map(|x| (x[i] as f64 - mean).powi(2)).sum::<f64>();
            assert!((s.mean[i] - mean).abs() < 1e-12);
            assert!((s.m2[i] - m2).abs() < 1e-9 * m2);
        }
    }

    #[test]
    fn merge_equals_single_stream_closely_and_order_fixes_bits() {
        let xs = stream(300, 2, 3);
        let mut all = ObsStats::new(2);
        xs.iter().for_each(|x| all.push(x));
        let parts: Vec<ObsStats> = xs
            .chunks(37)
            .map(|c| {
                let mut s = ObsStats::new(2);
                c.iter().for_each(|x| s.push(x));
                s
            })
            .collect();
        let mut a = ObsNorm::new(2, 5.0);
        a.merge(&parts);
        let mut b = ObsNorm::new(2, 5.0);
        b.merge(&parts);
        assert_eq!(a, b);
        assert_eq!(a.stats.count, 300);
        for i in 0..2 {
            assert!((a.stats.mean[i] - all.mean[i]).abs() < 1e-12);
            assert!((a.stats.m2[i] - all.m2[i]).abs() < 1e-9 * all.m2[i]);
        }
    }

    #[test]
    fn flat_roundtrip_and_bad_flat() {
        let mut s = ObsStats::new(2);
        s.push(&[1.0, -2.0]);
        s.push(&[f32::NAN, f32::INFINITY]);
        assert_eq!(s.mean[1], (-2.0 + STAT_LIMIT) / 2.0);
        assert_eq!(ObsStats::from_flat(&s.to_flat()).unwrap(), s);
        assert!(ObsStats::from_flat(&[1.0, 2.0]).is_err());
        assert!(ObsStats::from_flat(&[-1.0, 2.0, 3.0]).is_err());
    }

    #[test]
    fn empty_transform_is_clipped_identity() {
        let t = ObsNorm::new(2, 5.0).transform();
        let mut x = [1.5f32, -9.0];
        t.apply(&mut x);
        assert_eq!(x, [1.5, -5.0]);
        assert!(t.validate("t", 2).is_ok());
        assert!(t.validate("t", 3).is_err());
        let mut n = ObsNorm::new(1, 0.0);
        assert!(n.validate("obs_norm").is_err());
        n.clip = 5.0;
        n.stats.m2[0] = f64::NAN;
        assert!(n.validate("obs_norm").is_err());
    }
}
