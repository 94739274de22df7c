//! # eggroll-bbob
//!
//! The 24 noiseless functions of COCO's `bbob` suite (Hansen et al., *Real-Parameter Black-Box
//! Optimization Benchmarking 2009: Noiseless Functions Definitions*), with COCO's instance
//! generation: the optimum `x_opt`, the offset `f_opt` and the rotations are drawn from the
//! instance's seed by the 2009 generators, as COCO's C code (`suite_bbob.c`,
//! `suite_bbob_legacy_code.c`, `f_*.c`, `transform_*.c`) draws them. Where the published
//! definitions and the C code differ, this crate follows the C code, which is what `cocoex`
//! evaluates. `tests/values.rs` checks every function, instance 1–3, in dimensions 2–40 against
//! values recorded with `cocoex` 2.8.2 (relative error ≤ 1e-9).
//!
//! ```
//! use eggroll_bbob::Problem;
//! let f = Problem::new(1, 1, 10).unwrap(); // sphere, instance 1, d = 10
//! let x_opt = f.x_opt().unwrap().to_vec();
//! assert_eq!(f.evaluate(&x_opt), f.f_opt());
//! assert!(f.evaluate(&vec![0.0; 10]) > f.f_opt());
//! ```
#![warn(missing_docs)]
// Index loops mirror COCO's C loops one for one, so the summation order (and every bit) can be
// checked against the reference side by side.
#![allow(clippy::needless_range_loop)]

use std::f64::consts::PI;

pub mod experiment;

/// Errors of a bbob experiment: bad arguments or a failing strategy.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// A bad problem argument.
    #[error(transparent)]
    Bbob(#[from] BbobError),
    /// A bad experiment argument.
    #[error("`{name}` {reason}")]
    Arg {
        /// The argument.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The strategy failed.
    #[error(transparent)]
    Strategy(#[from] eggroll_core::Error),
    /// The run was cancelled (its `cancel` flag was raised) before it finished.
    #[error("interrupted before the run finished")]
    Interrupted,
}

/// Bad arguments to [`Problem::new`] or [`Problem::evaluate_checked`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BbobError {
    /// The function number is not 1–24.
    #[error("`function` is {0}; the bbob suite has functions 1–24")]
    Function(usize),
    /// The instance number is 0.
    #[error("`instance` is 0; instances are numbered from 1")]
    Instance,
    /// The dimension is outside 2–[`MAX_DIM`].
    #[error("`dim` is {0}; bbob is defined for 2 ≤ dim ≤ {max}", max = MAX_DIM)]
    Dim(usize),
    /// A point of the wrong length.
    #[error("`x` has {got} coordinates; the problem has dim = {dim}")]
    PointLength {
        /// The problem's dimension.
        dim: usize,
        /// The point's length.
        got: usize,
    },
}

/// The largest dimension: COCO's 2009 generators (Gaussian matrices of `dim²` entries from at
/// most 6000 uniforms, rotations of fewer than 2000 entries) are defined up to 44.
pub const MAX_DIM: usize = 44;

/// The names of the 24 functions, indexed by `function − 1`.
pub const NAMES: [&str; 24] = [
    "sphere",
    "ellipsoid separable",
    "rastrigin separable",
    "bueche-rastrigin",
    "linear slope",
    "attractive sector",
    "step ellipsoid",
    "rosenbrock",
    "rosenbrock rotated",
    "ellipsoid",
    "discus",
    "bent cigar",
    "sharp ridge",
    "different powers",
    "rastrigin",
    "weierstrass",
    "schaffers f7",
    "schaffers f7 ill-conditioned",
    "griewank-rosenbrock f8f2",
    "schwefel x sin(x)",
    "gallagher 101 peaks",
    "gallagher 21 peaks",
    "katsuura",
    "lunacek bi-rastrigin",
];

/// The search domain COCO uses for every bbob function: `[-5, 5]^d`.
pub const DOMAIN: (f64, f64) = (-5.0, 5.0);

// ---------------------------------------------------------------------------------------------
// The 2009 random generators (suite_bbob_legacy_code.c), reproduced to the bit.

/// `bbob2009_unif`: `n` uniforms in (0, 1) from a Park–Miller generator with a 32-entry shuffle
/// table.
fn unif(n: usize, seed: i64) -> Vec<f64> {
    let mut seed = seed.abs();
    if seed < 1 {
        seed = 1;
    }
    let step = |s: i64| -> i64 {
        let tmp = (s as f64 / 127773.0).floor() as i64;
        let mut s = 16807 * (s - tmp * 127773) - 2836 * tmp;
        if s < 0 {
            s += 2147483647;
        }
        s
    };
    let mut akt = seed;
    let mut table = [0i64; 32];
    for i in (0..40).rev() {
        akt = step(akt);
        if i < 32 {
            table[i] = akt;
        }
    }
    let mut aktrand = table[0];
    let mut r = Vec::with_capacity(n);
    for _ in 0..n {
        akt = step(akt);
        let tmp = (aktrand as f64 / 67108865.0).floor() as usize;
        aktrand = table[tmp];
        table[tmp] = akt;
        let mut v = aktrand as f64 / 2.147483647e9;
        if v == 0.0 {
            v = 1e-99;
        }
        r.push(v);
    }
    r
}

/// `bbob2009_gauss`: `n` normals by Box–Muller from `2n` uniforms.
fn gauss(n: usize, seed: i64) -> Vec<f64> {
    let u = unif(2 * n, seed);
    (0..n)
        .map(|i| {
            let g = (-2.0 * u[i].ln()).sqrt() * (2.0 * PI * u[n + i]).cos();
            if g == 0.0 { 1e-99 } else { g }
        })
        .collect()
}

/// A `d × d` matrix, row-major.
#[derive(Debug, Clone)]
struct Mat {
    d: usize,
    v: Vec<f64>,
}

impl Mat {
    fn at(&self, i: usize, j: usize) -> f64 {
        self.v[i * self.d + j]
    }
    /// `M x + b` summed as COCO's `transform_vars_affine` sums it (b first, then j in order).
    fn affine(&self, x: &[f64], b: f64) -> Vec<f64> {
        (0..self.d)
            .map(|i| {
                let row = &self.v[i * self.d..(i + 1) * self.d];
                let mut s = b;
                for j in 0..self.d {
                    s += x[j] * row[j];
                }
                s
            })
            .collect()
    }
}

/// `bbob2009_compute_rotation`: Gram–Schmidt on the columns of a Gaussian matrix.
fn rotation(seed: i64, d: usize) -> Mat {
    let g = gauss(d * d, seed);
    let mut b = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            b[i * d + j] = g[j * d + i];
        }
    }
    for i in 0..d {
        for j in 0..i {
            let mut prod = 0.0;
            for k in 0..d {
                prod += b[k * d + i] * b[k * d + j];
            }
            for k in 0..d {
                b[k * d + i] -= prod * b[k * d + j];
            }
        }
        let mut prod = 0.0;
        for k in 0..d {
            prod += b[k * d + i] * b[k * d + i];
        }
        for k in 0..d {
            b[k * d + i] /= prod.sqrt();
        }
    }
    Mat { d, v: b }
}

/// `rot1 · diag(base^(k/(d−1))) · rot2`, summed as the C code sums it.
fn rot_lambda_rot(rot1: &Mat, base: f64, rot2: &Mat) -> Mat {
    let d = rot1.d;
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            let mut s = 0.0;
            for k in 0..d {
                let exponent = k as f64 / (d as f64 - 1.0);
                s += rot1.at(i, k) * base.powf(exponent) * rot2.at(k, j);
            }
            v[i * d + j] = s;
        }
    }
    Mat { d, v }
}

/// `bbob2009_compute_xopt`.
fn compute_xopt(seed: i64, d: usize) -> Vec<f64> {
    unif(d, seed)
        .into_iter()
        .map(|u| {
            let x = 8.0 * (1e4 * u).floor() / 1e4 - 4.0;
            if x == 0.0 { -1e-5 } else { x }
        })
        .collect()
}

/// `bbob2009_compute_fopt`.
fn compute_fopt(function: usize, instance: usize) -> f64 {
    let rseed = match function {
        4 => 3,
        18 => 17,
        f => f as i64,
    };
    let rrseed = rseed + 10000 * instance as i64;
    let g1 = gauss(1, rrseed)[0];
    let g2 = gauss(1, rrseed + 1)[0];
    let v = round(100.0 * 100.0 * g1 / g2) / 100.0;
    v.clamp(-1000.0, 1000.0)
}

/// COCO's `coco_double_round`.
fn round(x: f64) -> f64 {
    (x + 0.5).floor()
}

// ---------------------------------------------------------------------------------------------
// Transformations (transform_vars_*.c, transform_obj_*.c).

fn shift(x: &[f64], offset: &[f64]) -> Vec<f64> {
    x.iter().zip(offset).map(|(a, b)| a - b).collect()
}

/// T_osz.
fn t_osz(v: f64) -> f64 {
    const ALPHA: f64 = 0.1;
    if v > 0.0 {
        let tmp = v.ln() / ALPHA;
        let base = (tmp + 0.49 * (tmp.sin() + (0.79 * tmp).sin())).exp();
        base.powf(ALPHA)
    } else if v < 0.0 {
        let tmp = (-v).ln() / ALPHA;
        let base = (tmp + 0.49 * ((0.55 * tmp).sin() + (0.31 * tmp).sin())).exp();
        -base.powf(ALPHA)
    } else {
        0.0
    }
}

fn oscillate(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| t_osz(v)).collect()
}

/// T_asy^β.
fn asymmetric(x: &[f64], beta: f64) -> Vec<f64> {
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v > 0.0 {
                let exponent = 1.0 + (beta * i as f64) / (n - 1.0) * v.sqrt();
                v.powf(exponent)
            } else {
                v
            }
        })
        .collect()
}

/// Λ^α: `alpha^(0.5 i/(d−1)) x_i`.
fn conditioning(x: &[f64], alpha: f64) -> Vec<f64> {
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, &v)| alpha.powf(0.5 * i as f64 / (n - 1.0)) * v)
        .collect()
}

/// The Büche–Rastrigin `s_i` scaling.
fn brs(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let mut factor = 10f64.sqrt().powf(i as f64 / (n - 1.0));
            if v > 0.0 && i % 2 == 0 {
                factor *= 10.0;
            }
            factor * v
        })
        .collect()
}

fn scale(x: &[f64], factor: f64) -> Vec<f64> {
    x.iter().map(|&v| factor * v).collect()
}

/// f_pen over the box [-5, 5]: `Σ max(0, |x_i| − 5)²`, as `transform_obj_penalize` sums it.
fn penalty(x: &[f64]) -> f64 {
    let mut p = 0.0;
    for &v in x {
        let c1 = v - 5.0;
        let c2 = -5.0 - v;
        if c1 > 0.0 {
            p += c1 * c1;
        } else if c2 > 0.0 {
            p += c2 * c2;
        }
    }
    p
}

/// The boundary penalty of the monolithic functions (step ellipsoid, Gallagher, Lunacek).
fn penalty_abs(x: &[f64], bound: f64) -> f64 {
    let mut p = 0.0;
    for &v in x {
        let tmp = v.abs() - bound;
        if tmp > 0.0 {
            p += tmp * tmp;
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Raw functions (f_*.c).

fn exponent(i: usize, n: usize) -> f64 {
    i as f64 / (n as f64 - 1.0)
}

fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

fn ellipsoid(x: &[f64]) -> f64 {
    let n = x.len();
    let mut r = x[0] * x[0];
    for (i, v) in x.iter().enumerate().skip(1) {
        r += 1.0e6f64.powf(1.0 * exponent(i, n)) * v * v;
    }
    r
}

fn rastrigin(x: &[f64]) -> f64 {
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        s1 += (2.0 * PI * v).cos();
        s2 += v * v;
    }
    10.0 * (x.len() as f64 - s1) + s2
}

fn rosenbrock(x: &[f64]) -> f64 {
    let (mut s1, mut s2) = (0.0, 0.0);
    for i in 0..x.len() - 1 {
        let t = x[i] * x[i] - x[i + 1];
        s1 += t * t;
        let t = x[i] - 1.0;
        s2 += t * t;
    }
    100.0 * s1 + s2
}

fn discus(x: &[f64]) -> f64 {
    let mut r = 1.0e6 * x[0] * x[0];
    for v in &x[1..] {
        r += v * v;
    }
    r
}

fn bent_cigar(x: &[f64]) -> f64 {
    let mut r = x[0] * x[0];
    for v in &x[1..] {
        r += 1.0e6 * v * v;
    }
    r
}

fn sharp_ridge(x: &[f64]) -> f64 {
    let mut r = 0.0;
    for v in &x[1..] {
        r += v * v;
    }
    100.0 * r.sqrt() + x[0] * x[0]
}

fn different_powers(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for (i, v) in x.iter().enumerate() {
        let e = 2.0 + (4.0 * i as f64) / (n as f64 - 1.0);
        s += v.abs().powf(e);
    }
    s.sqrt()
}

fn schaffers(x: &[f64]) -> f64 {
    let mut r = 0.0;
    for i in 0..x.len() - 1 {
        let tmp = x[i] * x[i] + x[i + 1] * x[i + 1];
        r += tmp.powf(0.25) * (1.0 + (50.0 * tmp.powf(0.1)).sin().powf(2.0));
    }
    (r / (x.len() as f64 - 1.0)).powf(2.0)
}

fn griewank_rosenbrock(x: &[f64]) -> f64 {
    let mut r = 0.0;
    for i in 0..x.len() - 1 {
        let c1 = x[i] * x[i] - x[i + 1];
        let c2 = 1.0 - x[i];
        let tmp = 100.0 * c1 * c1 + c2 * c2;
        r += tmp / 4000.0 - tmp.cos();
    }
    10.0 + 10.0 * r / (x.len() - 1) as f64
}

fn schwefel(x: &[f64]) -> f64 {
    let pen = penalty_abs(x, 500.0);
    let mut sum = 0.0;
    for &v in x {
        sum += v * v.abs().sqrt().sin();
    }
    0.01 * (pen + 418.9828872724339 - sum / x.len() as f64)
}

fn katsuura(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mut r = 1.0;
    for (i, &v) in x.iter().enumerate() {
        let mut tmp = 0.0;
        for j in 1..33 {
            let t2 = 2f64.powf(j as f64);
            tmp += (t2 * v - round(t2 * v)).abs() / t2;
        }
        r *= 1.0 + (i as f64 + 1.0) * tmp;
    }
    10.0 / n / n * (-1.0 + r.powf(10.0 / n.powf(1.2)))
}

// ---------------------------------------------------------------------------------------------
// Problems.

#[derive(Debug, Clone)]
struct Weierstrass {
    f0: f64,
    ak: [f64; 12],
    bk: [f64; 12],
}

impl Weierstrass {
    fn new() -> Self {
        let mut w = Self {
            f0: 0.0,
            ak: [0.0; 12],
            bk: [0.0; 12],
        };
        for i in 0..12 {
            w.ak[i] = 0.5f64.powf(i as f64);
            w.bk[i] = 3f64.powf(i as f64);
            w.f0 += w.ak[i] * (2.0 * PI * w.bk[i] * 0.5).cos();
        }
        w
    }
    fn raw(&self, x: &[f64]) -> f64 {
        let mut r = 0.0;
        for &v in x {
            for j in 0..12 {
                r += (2.0 * PI * (v + 0.5) * self.bk[j]).cos() * self.ak[j];
            }
        }
        10.0 * (r / x.len() as f64 - self.f0).powf(3.0)
    }
}

#[derive(Debug, Clone)]
struct Gallagher {
    rotation: Mat,
    /// `x_local[i][j]`: coordinate i of peak j, `d × peaks`.
    x_local: Vec<Vec<f64>>,
    /// `arr_scales[peak][i]`.
    scales: Vec<Vec<f64>>,
    peak_values: Vec<f64>,
}

impl Gallagher {
    fn new(rseed: i64, d: usize, peaks: usize) -> (Self, Vec<f64>) {
        let maxcondition: f64 = 1000.0;
        let (maxcondition1, b, c) = if peaks == 101 {
            (maxcondition.sqrt(), 10.0, 5.0)
        } else {
            (1000.0, 9.8, 4.9)
        };
        let fitvalues = [1.1, 9.1];
        let rotation = rotation(rseed, d);
        let sorted_indices = |values: Vec<f64>| -> Vec<usize> {
            let mut idx: Vec<usize> = (0..values.len()).collect();
            idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
            idx
        };
        let rperm = sorted_indices(unif(peaks - 1, rseed));
        let mut cond = vec![maxcondition1; peaks];
        let mut peak_values = vec![10.0; peaks];
        for i in 1..peaks {
            cond[i] = maxcondition.powf(rperm[i - 1] as f64 / (peaks - 2) as f64);
            peak_values[i] =
                (i - 1) as f64 / (peaks - 2) as f64 * (fitvalues[1] - fitvalues[0]) + fitvalues[0];
        }
        let mut scales = vec![vec![0.0; d]; peaks];
        for (i, row) in scales.iter_mut().enumerate() {
            let perm = sorted_indices(unif(d, rseed + 1000 * i as i64));
            for j in 0..d {
                row[j] = cond[i].powf(perm[j] as f64 / (d - 1) as f64 - 0.5);
            }
        }
        let r = unif(d * peaks, rseed);
        let mut xopt = vec![0.0; d];
        let mut x_local = vec![vec![0.0; peaks]; d];
        for i in 0..d {
            xopt[i] = 0.8 * (b * r[i] - c);
            for j in 0..peaks {
                let mut s = 0.0;
                for k in 0..d {
                    s += rotation.at(i, k) * (b * r[j * d + k] - c);
                }
                if j == 0 {
                    s *= 0.8;
                }
                x_local[i][j] = s;
            }
        }
        (
            Self {
                rotation,
                x_local,
                scales,
                peak_values,
            },
            xopt,
        )
    }

    fn raw(&self, x: &[f64]) -> f64 {
        let d = x.len();
        let a = 0.1;
        let fac = -0.5 / d as f64;
        let f_add = penalty_abs(x, 5.0);
        let tmx = self.rotation.affine(x, 0.0);
        let mut f: f64 = 0.0;
        for i in 0..self.peak_values.len() {
            let mut t2 = 0.0;
            for j in 0..d {
                let t = tmx[j] - self.x_local[j][i];
                t2 += self.scales[i][j] * t * t;
            }
            let t2 = self.peak_values[i] * (fac * t2).exp();
            f = f.max(t2);
        }
        let f = 10.0 - f;
        let mut ft = if f > 0.0 {
            let l = f.ln() / a;
            (l + 0.49 * (l.sin() + (0.79 * l).sin())).exp().powf(a)
        } else if f < 0.0 {
            let l = (-f).ln() / a;
            -(l + 0.49 * ((0.55 * l).sin() + (0.31 * l).sin()))
                .exp()
                .powf(a)
        } else {
            f
        };
        ft *= ft;
        ft + f_add
    }
}

/// Per-function data.
#[derive(Debug, Clone)]
enum Kind {
    /// f1, f2, f3, f4: separable functions of `x − x_opt`.
    Separable,
    /// f5.
    LinearSlope,
    /// f6, f13 (M = R Λ Q), f23 (M with √100).
    Rotated { m: Mat },
    /// f15: R, then T_osz and T_asy, then M = R Λ Q.
    RastriginRotated { m: Mat, r: Mat },
    /// f7.
    StepEllipsoid { rot1: Mat, rot2: Mat },
    /// f8.
    Rosenbrock { factor: f64 },
    /// f9, f19: `(factor · R) x` plus a shift.
    RosenbrockRotated { m: Mat },
    /// f10, f11, f14: one rotation R.
    OneRotation { r: Mat },
    /// f12.
    BentCigar { r: Mat },
    /// f16, f17, f18: an inner matrix M and the outer rotation R.
    TwoStage {
        m: Mat,
        r: Mat,
        weierstrass: Option<Box<Weierstrass>>,
    },
    /// f20.
    Schwefel { signs: Vec<bool> },
    /// f21, f22.
    Gallagher(Box<Gallagher>),
    /// f24.
    Lunacek { rot1: Mat, rot2: Mat },
}

/// One bbob problem: function 1–24, instance ≥ 1, dimension 2–[`MAX_DIM`].
#[derive(Debug, Clone)]
pub struct Problem {
    function: usize,
    instance: usize,
    dim: usize,
    f_opt: f64,
    x_opt: Option<Vec<f64>>,
    /// The shift the function applies (COCO's `xopt` of the instance; for f5 the sign pattern).
    xopt: Vec<f64>,
    kind: Kind,
}

impl Problem {
    /// Build function `function` (1–24), instance `instance` (≥ 1) in dimension `dim`
    /// (2–[`MAX_DIM`]), as COCO's `coco_get_bbob_problem` builds it.
    pub fn new(function: usize, instance: usize, dim: usize) -> Result<Self, BbobError> {
        if !(1..=24).contains(&function) {
            return Err(BbobError::Function(function));
        }
        if instance == 0 {
            return Err(BbobError::Instance);
        }
        if !(2..=MAX_DIM).contains(&dim) {
            return Err(BbobError::Dim(dim));
        }
        let d = dim;
        let inst = instance as i64;
        let rseed = function as i64 + 10000 * inst;
        let f_opt = compute_fopt(function, instance);
        let sqrt10 = 10f64.sqrt();
        let mut xopt = compute_xopt(rseed, d);
        let mut x_opt = Some(xopt.clone());
        let kind = match function {
            1..=3 => Kind::Separable,
            4 => {
                xopt = compute_xopt(3 + 10000 * inst, d);
                for i in (0..d).step_by(2) {
                    xopt[i] = xopt[i].abs();
                }
                x_opt = Some(xopt.clone());
                Kind::Separable
            }
            5 => {
                x_opt = Some(
                    xopt.iter()
                        .map(|&v| if v < 0.0 { -5.0 } else { 5.0 })
                        .collect(),
                );
                Kind::LinearSlope
            }
            6 | 13 | 23 => {
                let base = if function == 23 {
                    100f64.sqrt()
                } else {
                    sqrt10
                };
                let rot1 = rotation(rseed + 1_000_000, d);
                let rot2 = rotation(rseed, d);
                Kind::Rotated {
                    m: rot_lambda_rot(&rot1, base, &rot2),
                }
            }
            15 => {
                let rot1 = rotation(rseed + 1_000_000, d);
                let rot2 = rotation(rseed, d);
                Kind::RastriginRotated {
                    m: rot_lambda_rot(&rot1, sqrt10, &rot2),
                    r: rot1,
                }
            }
            7 => Kind::StepEllipsoid {
                rot1: rotation(rseed + 1_000_000, d),
                rot2: rotation(rseed, d),
            },
            8 => {
                for v in &mut xopt {
                    *v *= 0.75;
                }
                x_opt = Some(xopt.clone());
                Kind::Rosenbrock {
                    factor: 1f64.max((d as f64).sqrt() / 8.0),
                }
            }
            9 | 19 => {
                let factor = 1f64.max((d as f64).sqrt() / 8.0);
                let rot1 = rotation(rseed, d);
                let m = Mat {
                    d,
                    v: rot1.v.iter().map(|&r| factor * r).collect(),
                };
                // f9: x_opt = R^T 1 / (2 factor); f19: R^T (0.5 / factor)... both solve
                // (factor R) x = c with c = 0.5 (f9: z = Mx + 0.5 = 1) and (f19: Mx + 0.5 = 1).
                let xo = (0..d)
                    .map(|col| {
                        let mut t = 0.0;
                        for row in 0..d {
                            t += rot1.at(row, col);
                        }
                        t / (2.0 * factor)
                    })
                    .collect();
                x_opt = Some(xo);
                Kind::RosenbrockRotated { m }
            }
            10 | 11 | 14 => Kind::OneRotation {
                r: rotation(rseed + 1_000_000, d),
            },
            12 => {
                xopt = compute_xopt(rseed + 1_000_000, d);
                x_opt = Some(xopt.clone());
                Kind::BentCigar {
                    r: rotation(rseed + 1_000_000, d),
                }
            }
            16..=18 => {
                let rs = if function == 18 {
                    17 + 10000 * inst
                } else {
                    rseed
                };
                xopt = compute_xopt(rs, d);
                x_opt = Some(xopt.clone());
                let rot1 = rotation(rs + 1_000_000, d);
                let rot2 = rotation(rs, d);
                let (m, weierstrass) = if function == 16 {
                    (
                        rot_lambda_rot(&rot1, 1.0 / 100f64.sqrt(), &rot2),
                        Some(Box::new(Weierstrass::new())),
                    )
                } else {
                    let cond: f64 = if function == 17 { 10.0 } else { 1000.0 };
                    let mut v = vec![0.0; d * d];
                    for i in 0..d {
                        for j in 0..d {
                            let e = 1.0 * i as f64 / (d as f64 - 1.0);
                            v[i * d + j] = rot2.at(i, j) * cond.sqrt().powf(e);
                        }
                    }
                    (Mat { d, v }, None)
                };
                if function == 16 {
                    x_opt = None; // the optimum of the Weierstrass function is not unique
                }
                Kind::TwoStage {
                    m,
                    r: rot1,
                    weierstrass,
                }
            }
            20 => {
                let u = unif(d, rseed);
                let signs: Vec<bool> = u.iter().map(|&v| v - 0.5 < 0.0).collect();
                xopt = signs
                    .iter()
                    .map(|&neg| {
                        if neg {
                            -0.5 * 4.2096874637
                        } else {
                            0.5 * 4.2096874637
                        }
                    })
                    .collect();
                x_opt = Some(
                    signs
                        .iter()
                        .map(|&neg| {
                            if neg {
                                -0.5 * 4.2096874633
                            } else {
                                0.5 * 4.2096874633
                            }
                        })
                        .collect(),
                );
                Kind::Schwefel { signs }
            }
            21 | 22 => {
                let peaks = if function == 21 { 101 } else { 21 };
                let (g, xo) = Gallagher::new(rseed, d, peaks);
                xopt = xo.clone();
                x_opt = Some(xo);
                Kind::Gallagher(Box::new(g))
            }
            24 => {
                let rot1 = rotation(rseed + 1_000_000, d);
                let rot2 = rotation(rseed, d);
                let g = gauss(d, rseed);
                xopt = g
                    .iter()
                    .map(|&v| if v < 0.0 { -1.25 } else { 1.25 })
                    .collect();
                x_opt = Some(xopt.clone());
                Kind::Lunacek { rot1, rot2 }
            }
            _ => unreachable!("checked above"),
        };
        Ok(Self {
            function,
            instance,
            dim,
            f_opt,
            x_opt,
            xopt,
            kind,
        })
    }

    /// The function number, 1–24.
    pub fn function(&self) -> usize {
        self.function
    }
    /// The instance number.
    pub fn instance(&self) -> usize {
        self.instance
    }
    /// The dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// The function's name.
    pub fn name(&self) -> &'static str {
        NAMES[self.function - 1]
    }
    /// COCO's id, e.g. `bbob_f001_i01_d10`.
    pub fn id(&self) -> String {
        format!(
            "bbob_f{:03}_i{:02}_d{:02}",
            self.function, self.instance, self.dim
        )
    }
    /// The optimal value `f_opt` of the instance.
    pub fn f_opt(&self) -> f64 {
        self.f_opt
    }
    /// A global optimum, where COCO knows one (not for f16, Weierstrass, whose optimum is not
    /// unique).
    pub fn x_opt(&self) -> Option<&[f64]> {
        self.x_opt.as_deref()
    }

    /// Evaluate at `x`, checking its length.
    pub fn evaluate_checked(&self, x: &[f64]) -> Result<f64, BbobError> {
        if x.len() != self.dim {
            return Err(BbobError::PointLength {
                dim: self.dim,
                got: x.len(),
            });
        }
        Ok(self.evaluate(x))
    }

    /// Evaluate at `x` (length [`Problem::dim`]; NaN in → NaN out).
    ///
    /// # Panics
    /// If `x.len() != dim` (use [`Problem::evaluate_checked`] for untrusted input).
    pub fn evaluate(&self, x: &[f64]) -> f64 {
        assert_eq!(x.len(), self.dim, "point length must equal the dimension");
        if x.iter().any(|v| v.is_nan()) {
            return f64::NAN;
        }
        let d = self.dim;
        let fopt = self.f_opt;
        match (&self.kind, self.function) {
            (Kind::Separable, 1) => sphere(&shift(x, &self.xopt)) + fopt,
            (Kind::Separable, 2) => ellipsoid(&oscillate(&shift(x, &self.xopt))) + fopt,
            (Kind::Separable, 3) => {
                let z = oscillate(&shift(x, &self.xopt));
                rastrigin(&conditioning(&asymmetric(&z, 0.2), 10.0)) + fopt
            }
            (Kind::Separable, _) => {
                // f4
                let z = brs(&oscillate(&shift(x, &self.xopt)));
                let mut tmp = 0.0;
                let mut tmp2 = 0.0;
                for &v in &z {
                    tmp += (2.0 * PI * v).cos();
                    tmp2 += v * v;
                }
                let raw = 10.0 * (d as f64 - tmp) + tmp2 + 0.0;
                raw + fopt + 100.0 * penalty(x)
            }
            (Kind::LinearSlope, _) => {
                let mut r = 0.0;
                let base = 100f64.sqrt();
                for i in 0..d {
                    let e = i as f64 / (d as f64 - 1.0);
                    // COCO's best_parameter is ±5 by the sign of x_opt.
                    let si = if self.xopt[i] >= 0.0 {
                        base.powf(e)
                    } else {
                        -base.powf(e)
                    };
                    // Boundary handling: beyond the optimum's corner the slope is flat.
                    let best = if self.xopt[i] >= 0.0 { 5.0 } else { -5.0 };
                    let xi = if best * x[i] < 25.0 { x[i] } else { best };
                    r += 5.0 * si.abs() - si * xi;
                }
                r + fopt
            }
            (Kind::Rotated { m }, f) => {
                let z = m.affine(&shift(x, &self.xopt), 0.0);
                match f {
                    6 => {
                        let mut r = 0.0;
                        for i in 0..d {
                            if self.xopt[i] * z[i] > 0.0 {
                                r += 100.0 * 100.0 * z[i] * z[i];
                            } else {
                                r += z[i] * z[i];
                            }
                        }
                        let r = if r != 0.0 {
                            let l = r.abs().ln() / 0.1;
                            if r > 0.0 {
                                (l + 0.49 * (l.sin() + (0.79 * l).sin())).exp().powf(0.1)
                            } else {
                                -(l + 0.49 * ((0.55 * l).sin() + (0.31 * l).sin()))
                                    .exp()
                                    .powf(0.1)
                            }
                        } else {
                            r
                        };
                        r.powf(0.9) + fopt
                    }
                    13 => sharp_ridge(&z) + fopt,
                    _ => katsuura(&z) + fopt + penalty(x),
                }
            }
            (Kind::RastriginRotated { m, r }, _) => {
                let z = oscillate(&r.affine(&shift(x, &self.xopt), 0.0));
                rastrigin(&m.affine(&asymmetric(&z, 0.2), 0.0)) + fopt
            }
            (Kind::StepEllipsoid { rot1, rot2 }, _) => {
                let pen = penalty_abs(x, 5.0);
                let mut z = vec![0.0; d];
                for (i, zi) in z.iter_mut().enumerate() {
                    let c1 = (100.0f64 / 10.0).powf(i as f64 / (d - 1) as f64).sqrt();
                    for j in 0..d {
                        *zi += c1 * rot2.at(i, j) * (x[j] - self.xopt[j]);
                    }
                }
                let x1 = z[0];
                for v in &mut z {
                    *v = if v.abs() > 0.5 {
                        round(*v)
                    } else {
                        round(10.0 * *v) / 10.0
                    };
                }
                let mut r = 0.0;
                for i in 0..d {
                    let mut xx = 0.0;
                    for j in 0..d {
                        xx += rot1.at(i, j) * z[j];
                    }
                    r += 100f64.powf(exponent(i, d)) * xx * xx;
                }
                0.1 * (x1.abs() * 1.0e-4).max(r) + pen + fopt
            }
            (Kind::Rosenbrock { factor }, _) => {
                let z = scale(&shift(x, &self.xopt), *factor);
                let z: Vec<f64> = z.iter().map(|v| v - -1.0).collect();
                rosenbrock(&z) + fopt
            }
            (Kind::RosenbrockRotated { m }, 9) => rosenbrock(&m.affine(x, 0.5)) + fopt,
            (Kind::RosenbrockRotated { m }, _) => {
                let z: Vec<f64> = m.affine(x, 0.0).iter().map(|v| v - -0.5).collect();
                griewank_rosenbrock(&z) + fopt
            }
            (Kind::OneRotation { r }, 10) => {
                ellipsoid(&oscillate(&r.affine(&shift(x, &self.xopt), 0.0))) + fopt
            }
            (Kind::OneRotation { r }, 11) => {
                discus(&oscillate(&r.affine(&shift(x, &self.xopt), 0.0))) + fopt
            }
            (Kind::OneRotation { r }, _) => {
                different_powers(&r.affine(&shift(x, &self.xopt), 0.0)) + fopt
            }
            (Kind::BentCigar { r }, _) => {
                let z = r.affine(&shift(x, &self.xopt), 0.0);
                let z = r.affine(&asymmetric(&z, 0.5), 0.0);
                bent_cigar(&z) + fopt
            }
            (
                Kind::TwoStage {
                    m,
                    r,
                    weierstrass: Some(w),
                },
                _,
            ) => {
                let z = oscillate(&r.affine(&shift(x, &self.xopt), 0.0));
                w.raw(&m.affine(&z, 0.0)) + fopt + 10.0 / d as f64 * penalty(x)
            }
            (Kind::TwoStage { m, r, .. }, _) => {
                let z = asymmetric(&r.affine(&shift(x, &self.xopt), 0.0), 0.5);
                schaffers(&m.affine(&z, 0.0)) + fopt + 10.0 * penalty(x)
            }
            (Kind::Schwefel { signs }, _) => {
                let z: Vec<f64> = x
                    .iter()
                    .zip(signs)
                    .map(|(&v, &neg)| if neg { -v } else { v })
                    .collect();
                let z = scale(&z, 2.0);
                let mut zh = z.clone();
                for i in 1..d {
                    zh[i] = z[i] + 0.25 * (z[i - 1] - 2.0 * self.xopt[i - 1].abs());
                }
                let two_abs: Vec<f64> = self.xopt.iter().map(|v| 2.0 * v.abs()).collect();
                let z = shift(&zh, &two_abs);
                let z: Vec<f64> = z
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let e = 1.0 * i as f64 / (d as f64 - 1.0);
                        let mut s = 0.0;
                        s += v * 10f64.sqrt().powf(e);
                        s
                    })
                    .collect();
                let neg_two_abs: Vec<f64> = two_abs.iter().map(|v| -v).collect();
                let z = scale(&shift(&z, &neg_two_abs), 100.0);
                schwefel(&z) + fopt
            }
            (Kind::Gallagher(g), _) => g.raw(x) + fopt,
            (Kind::Lunacek { rot1, rot2 }, _) => self.lunacek(x, rot1, rot2) + fopt,
        }
    }

    fn lunacek(&self, x: &[f64], rot1: &Mat, rot2: &Mat) -> f64 {
        let n = x.len();
        let mu0 = 2.5;
        let dd = 1.0;
        let s = 1.0 - 0.5 / (((n + 20) as f64).sqrt() - 4.1);
        let mu1 = -((mu0 * mu0 - dd) / s).sqrt();
        let pen = penalty_abs(x, 5.0);
        let x_hat: Vec<f64> = x
            .iter()
            .zip(&self.xopt)
            .map(|(&v, &o)| if o < 0.0 { -(2.0 * v) } else { 2.0 * v })
            .collect();
        let mut tmp = vec![0.0; n];
        for (i, t) in tmp.iter_mut().enumerate() {
            let c1 = 100f64.sqrt().powf(i as f64 / (n - 1) as f64);
            for j in 0..n {
                *t += c1 * rot2.at(i, j) * (x_hat[j] - mu0);
            }
        }
        let (mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let mut z = 0.0;
            for j in 0..n {
                z += rot1.at(i, j) * tmp[j];
            }
            s1 += (x_hat[i] - mu0) * (x_hat[i] - mu0);
            s2 += (x_hat[i] - mu1) * (x_hat[i] - mu1);
            s3 += (2.0 * PI * z).cos();
        }
        s1.min(dd * n as f64 + s * s2) + 10.0 * (n as f64 - s3) + 1e4 * pen
    }
}
