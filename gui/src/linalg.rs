//! Linear algebra of the rank panel: singular values by cyclic Jacobi on the Gram matrix
//! (exact enough for a picture, no dependency; checked against a known spectrum in the tests).

/// Singular values of a row-major (m × n) matrix, largest first (eigenvalues of the smaller
/// Gram matrix by cyclic Jacobi; matrices up to 256 on the short side).
pub fn singular_values(a: &[f32], m: usize, n: usize) -> Vec<f64> {
    let k = m.min(n);
    if k == 0 || k > 256 {
        return Vec::new();
    }
    // G = AᵀA (n ≤ m) or AAᵀ, k × k.
    let mut g = vec![0.0f64; k * k];
    for i in 0..k {
        for j in i..k {
            let mut s = 0.0f64;
            if n <= m {
                for r in 0..m {
                    s += a[r * n + i] as f64 * a[r * n + j] as f64;
                }
            } else {
                for c in 0..n {
                    s += a[i * n + c] as f64 * a[j * n + c] as f64;
                }
            }
            g[i * k + j] = s;
            g[j * k + i] = s;
        }
    }
    for _sweep in 0..30 {
        let mut off = 0.0;
        for p in 0..k {
            for q in p + 1..k {
                off += g[p * k + q] * g[p * k + q];
            }
        }
        if off < 1e-24 {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = g[p * k + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (g[q * k + q] - g[p * k + p]) / (2.0 * apq);
                let sgn = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sgn / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let (grp, grq) = (g[r * k + p], g[r * k + q]);
                    g[r * k + p] = c * grp - s * grq;
                    g[r * k + q] = s * grp + c * grq;
                }
                for r in 0..k {
                    let (gpr, gqr) = (g[p * k + r], g[q * k + r]);
                    g[p * k + r] = c * gpr - s * gqr;
                    g[q * k + r] = s * gpr + c * gqr;
                }
            }
        }
    }
    let mut sv: Vec<f64> = (0..k).map(|i| g[i * k + i].max(0.0).sqrt()).collect();
    sv.sort_by(|a, b| b.total_cmp(a));
    sv
}
