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

/// ARS's top-b directions (Mania et al. 2018, V1-t/V2-t) over antithetic pairs `(2k, 2k+1)`:
/// the `b` pairs whose better member scored highest (ties: the lower pair first) keep their
/// fitness, shaped together with `shaping` (one global group); every other member gets 0, so
/// its direction does not move θ. With z-score shaping the update is ARS's
/// `Σ_top (r₊ − r₋) δ / σ_R` up to the learning rate's constant (the selected pairs' mean
/// cancels within each pair).
///
/// ```
/// use eggroll_core::shaping::{shape_top_pairs, Shaping};
/// // Pairs (1, 2), (9, 0), (3, 4): the best members are 2, 9, 4, so b = 2 keeps pairs 1 and 2.
/// let s = shape_top_pairs(&[1.0, 2.0, 9.0, 0.0, 3.0, 4.0], Shaping::Raw, 2);
/// assert_eq!(s, vec![0.0, 0.0, 9.0, 0.0, 3.0, 4.0]);
/// ```
pub fn shape_top_pairs(fitness: &[f32], shaping: Shaping, b: usize) -> Vec<f32> {
    let pairs = fitness.len() / 2;
    if b == 0 || b >= pairs {
        return shape(fitness, shaping, 0);
    }
    let best = |k: usize| fitness[2 * k].max(fitness[2 * k + 1]);
    let mut order: Vec<usize> = (0..pairs).collect();
    order.sort_by(|&i, &j| best(j).total_cmp(&best(i)).then(i.cmp(&j)));
    let mut keep = order[..b].to_vec();
    keep.sort_unstable();
    let selected: Vec<f32> = keep
        .iter()
        .flat_map(|&k| [fitness[2 * k], fitness[2 * k + 1]])
        .collect();
    let shaped = shape(&selected, shaping, 0);
    let mut out = vec![0.0f32; fitness.len()];
    for (j, &k) in keep.iter().enumerate() {
        out[2 * k] = shaped[2 * j];
        out[2 * k + 1] = shaped[2 * j + 1];
    }
    out
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

    #[test]
    fn top_pairs_zscore_is_ars_v2t() {
        // Pairs' best members: 5, 8, 1, 7 → b = 2 keeps pairs 1 and 3.
        let f = [5.0, -2.0, 8.0, 3.0, 1.0, 0.5, 2.0, 7.0];
        let s = shape_top_pairs(&f, Shaping::ZScore, 2);
        let sel = [8.0f64, 3.0, 2.0, 7.0];
        let mean = sel.iter().sum::<f64>() / 4.0;
        let std = (sel.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0 + 1e-5).sqrt();
        assert_eq!(&s[..2], &[0.0, 0.0]);
        assert_eq!(&s[4..6], &[0.0, 0.0]);
        // Within each kept pair the difference is ARS's (r₊ − r₋) / σ_R.
        assert!(((s[2] - s[3]) as f64 - 5.0 / std).abs() < 1e-6);
        assert!(((s[6] - s[7]) as f64 + 5.0 / std).abs() < 1e-6);
        // b ≥ pairs is plain shaping; ties keep the lower pair.
        assert_eq!(
            shape_top_pairs(&f, Shaping::ZScore, 4),
            shape(&f, Shaping::ZScore, 0)
        );
        let t = shape_top_pairs(&[1.0, 0.0, 1.0, 0.0], Shaping::Raw, 1);
        assert_eq!(t, vec![1.0, 0.0, 0.0, 0.0]);
    }
}
