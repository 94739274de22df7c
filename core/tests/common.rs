//! Helpers shared by the integration tests.
#![allow(dead_code)]

use candle_core::{DType, Device, Tensor};
use eggroll_core::*;

/// Matrix parameter `w` of shape (m, n) filled with `vals` (or zeros).
pub fn matrix(m: usize, n: usize, vals: Option<Vec<f32>>) -> Params {
    let t = match vals {
        Some(v) => Tensor::from_vec(v, (m, n), &Device::Cpu).unwrap(),
        None => Tensor::zeros((m, n), DType::F32, &Device::Cpu).unwrap(),
    };
    Params::new().with("w", t).unwrap()
}

/// Host values of tensor `t`.
pub fn host(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// Mean and standard deviation (n−1) of samples.
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

/// z statistic of H0: E[x] = mu, using the sample standard error.
pub fn z(x: &[f64], mu: f64) -> f64 {
    let (m, sd) = mean_sd(x);
    (m - mu) / (sd / (x.len() as f64).sqrt())
}

/// Per-member perturbations E_i (σ = 1, sign applied) of parameter 0, as f64 vectors, by
/// materialising around zero parameters.
pub fn perturbations(pop: &Population, params: &Params) -> Vec<Vec<f64>> {
    let base = params.to_host().unwrap();
    (0..pop.size)
        .map(|i| {
            let v = pop.materialize(params, &base, i).unwrap();
            v[0].iter()
                .zip(&base[0])
                .map(|(a, b)| ((a - b) / pop.sigma) as f64)
                .collect()
        })
        .collect()
}

/// Rank of a row-major (m × n) matrix by Gaussian elimination with partial pivoting.
pub fn matrix_rank(a: &[f32], m: usize, n: usize) -> usize {
    let mut a: Vec<f64> = a.iter().map(|&x| x as f64).collect();
    let scale = a.iter().fold(0.0f64, |s, x| s.max(x.abs()));
    let tol = scale * 1e-4;
    let mut rank = 0;
    let mut row = 0;
    for col in 0..n {
        if row == m {
            break;
        }
        let (p, pv) = (row..m)
            .map(|r| (r, a[r * n + col].abs()))
            .fold((row, -1.0), |b, c| if c.1 > b.1 { c } else { b });
        if pv <= tol {
            continue;
        }
        for k in 0..n {
            a.swap(row * n + k, p * n + k);
        }
        for r in row + 1..m {
            let f = a[r * n + col] / a[row * n + col];
            for k in col..n {
                a[r * n + k] -= f * a[row * n + k];
            }
        }
        row += 1;
        rank += 1;
    }
    rank
}
