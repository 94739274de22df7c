//! Fitness shaping: raw fitness → the weights of the gradient estimate.

use serde::{Deserialize, Serialize};

/// How raw fitnesses are turned into weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shaping {
    /// `(f − mean) / √(var + 1e-5)` (official EGGROLL default). With `group_size = g > 0` the
    /// mean is each group's, the variance the global one.
    #[default]
    ZScore,
    /// Centered ranks in `[−0.5, 0.5]` (OpenAI-ES); ties get their average rank.
    CenteredRank,
    /// The raw fitness.
    Raw,
}

/// Shape `fitness` (all finite). `group_size` 0 means one global group; otherwise it must
/// divide the population (checked by the strategy's config validation).
pub fn shape(fitness: &[f32], shaping: Shaping, group_size: usize) -> Vec<f32> {
    let n = fitness.len();
    if n == 0 {
        return Vec::new();
    }
    match shaping {
        Shaping::Raw => fitness.to_vec(),
        Shaping::ZScore => {
            let mean = fitness.iter().map(|&f| f as f64).sum::<f64>() / n as f64;
            let var = fitness
                .iter()
                .map(|&f| (f as f64 - mean).powi(2))
                .sum::<f64>()
                / n as f64;
            let std = (var + 1e-5).sqrt();
            let g = if group_size == 0 { n } else { group_size };
            let mut out = Vec::with_capacity(n);
            for group in fitness.chunks(g) {
                let gm = if g == n {
                    mean
                } else {
                    group.iter().map(|&f| f as f64).sum::<f64>() / group.len() as f64
                };
                out.extend(group.iter().map(|&f| ((f as f64 - gm) / std) as f32));
            }
            out
        }
        Shaping::CenteredRank => {
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by(|&a, &b| fitness[a].total_cmp(&fitness[b]));
            let mut ranks = vec![0.0f64; n];
            let mut i = 0;
            while i < n {
                let mut j = i;
                while j + 1 < n && fitness[idx[j + 1]] == fitness[idx[i]] {
                    j += 1;
                }
                let avg = (i + j) as f64 / 2.0;
                for &k in &idx[i..=j] {
                    ranks[k] = avg;
                }
                i = j + 1;
            }
            if n == 1 {
                return vec![0.0];
            }
            ranks
                .iter()
                .map(|r| (r / (n - 1) as f64 - 0.5) as f32)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zscore_and_groups() {
        let f = [1.0, 3.0, 5.0, 7.0];
        let z = shape(&f, Shaping::ZScore, 0);
        let std = (5.0f64 + 1e-5).sqrt();
        assert!((z[0] as f64 + 3.0 / std).abs() < 1e-6);
        let g = shape(&f, Shaping::ZScore, 2);
        // group means 2 and 6, global std √5: ±1/√5, never ±0.707.
        assert!((g[0] as f64 + 1.0 / std).abs() < 1e-6);
        assert!((g[3] as f64 - 1.0 / std).abs() < 1e-6);
    }

    #[test]
    fn ranks_and_constant() {
        let r = shape(&[10.0, -1.0, 3.0], Shaping::CenteredRank, 0);
        assert_eq!(r, vec![0.5, -0.5, 0.0]);
        for s in [Shaping::ZScore, Shaping::CenteredRank] {
            assert!(shape(&[2.0; 6], s, 0).iter().all(|&x| x == 0.0));
        }
    }
}
