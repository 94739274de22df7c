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
mod functions;
mod random;
mod transforms;

use functions::*;
use random::*;
use transforms::*;

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
