//! Benchmark objectives over a matrix parameter, with the optimum placed from a seed.

use candle_core::{DType, Device, Tensor};
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::error::Result;
use crate::params::Params;

/// Which benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// `f(W) = −mean((W − W*)²)`; optimum 0.
    Sphere,
    /// `f(W) = −mean(10 + x² − 10 cos 2πx)` with `x = W − W*`; optimum 0, many local optima
    /// at integer offsets.
    Rastrigin,
}

/// A benchmark problem: an `(rows × cols)` matrix parameter named `w`, starting at zero, and an
/// optimum `W*` drawn uniformly from `[−range, range]` by `seed`.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The objective.
    pub objective: Objective,
    /// Rows of the matrix.
    pub rows: usize,
    /// Columns of the matrix.
    pub cols: usize,
    /// The optimum, row-major.
    pub optimum: Vec<f32>,
}

impl Problem {
    /// Place the optimum from `seed` (uniform in [−1, 1] for the sphere, [−2, 2] for Rastrigin).
    pub fn new(objective: Objective, rows: usize, cols: usize, seed: u64) -> Self {
        let range = match objective {
            Objective::Sphere => 1.0,
            Objective::Rastrigin => 2.0,
        };
        let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_0971);
        let optimum = (0..rows * cols)
            .map(|_| rng.random_range(-range..range))
            .collect();
        Self {
            objective,
            rows,
            cols,
            optimum,
        }
    }

    /// Initial parameters: `w` = 0.
    pub fn params(&self, device: &Device) -> Result<Params> {
        Params::new().with(
            "w",
            Tensor::zeros((self.rows, self.cols), DType::F32, device)?,
        )
    }

    /// The fitness of matrix values `w` (row-major).
    pub fn fitness(&self, w: &[f32]) -> f32 {
        let n = w.len() as f64;
        let s: f64 = match self.objective {
            Objective::Sphere => w
                .iter()
                .zip(&self.optimum)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum(),
            Objective::Rastrigin => w
                .iter()
                .zip(&self.optimum)
                .map(|(a, b)| {
                    let x = (a - b) as f64;
                    10.0 + x * x - 10.0 * (std::f64::consts::TAU * x).cos()
                })
                .sum(),
        };
        -(s / n) as f32
    }
}
