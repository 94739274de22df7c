//! The raw bbob functions (`f_*.c`), before their transformations.

use std::f64::consts::PI;

use crate::random::*;
use crate::transforms::*;

pub(crate) fn exponent(i: usize, n: usize) -> f64 {
    i as f64 / (n as f64 - 1.0)
}

pub(crate) fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

pub(crate) fn ellipsoid(x: &[f64]) -> f64 {
    let n = x.len();
    let mut r = x[0] * x[0];
    for (i, v) in x.iter().enumerate().skip(1) {
        r += 1.0e6f64.powf(1.0 * exponent(i, n)) * v * v;
    }
    r
}

pub(crate) fn rastrigin(x: &[f64]) -> f64 {
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        s1 += (2.0 * PI * v).cos();
        s2 += v * v;
    }
    10.0 * (x.len() as f64 - s1) + s2
}

pub(crate) fn rosenbrock(x: &[f64]) -> f64 {
    let (mut s1, mut s2) = (0.0, 0.0);
    for i in 0..x.len() - 1 {
        let t = x[i] * x[i] - x[i + 1];
        s1 += t * t;
        let t = x[i] - 1.0;
        s2 += t * t;
    }
    100.0 * s1 + s2
}

pub(crate) fn discus(x: &[f64]) -> f64 {
    let mut r = 1.0e6 * x[0] * x[0];
    for v in &x[1..] {
        r += v * v;
    }
    r
}

pub(crate) fn bent_cigar(x: &[f64]) -> f64 {
    let mut r = x[0] * x[0];
    for v in &x[1..] {
        r += 1.0e6 * v * v;
    }
    r
}

pub(crate) fn sharp_ridge(x: &[f64]) -> f64 {
    let mut r = 0.0;
    for v in &x[1..] {
        r += v * v;
    }
    100.0 * r.sqrt() + x[0] * x[0]
}

pub(crate) fn different_powers(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for (i, v) in x.iter().enumerate() {
        let e = 2.0 + (4.0 * i as f64) / (n as f64 - 1.0);
        s += v.abs().powf(e);
    }
    s.sqrt()
}

pub(crate) fn schaffers(x: &[f64]) -> f64 {
    let mut r = 0.0;
    for i in 0..x.len() - 1 {
        let tmp = x[i] * x[i] + x[i + 1] * x[i + 1];
        r += tmp.powf(0.25) * (1.0 + (50.0 * tmp.powf(0.1)).sin().powf(2.0));
    }
    (r / (x.len() as f64 - 1.0)).powf(2.0)
}

pub(crate) fn griewank_rosenbrock(x: &[f64]) -> f64 {
    let mut r = 0.0;
    for i in 0..x.len() - 1 {
        let c1 = x[i] * x[i] - x[i + 1];
        let c2 = 1.0 - x[i];
        let tmp = 100.0 * c1 * c1 + c2 * c2;
        r += tmp / 4000.0 - tmp.cos();
    }
    10.0 + 10.0 * r / (x.len() - 1) as f64
}

pub(crate) fn schwefel(x: &[f64]) -> f64 {
    let pen = penalty_abs(x, 500.0);
    let mut sum = 0.0;
    for &v in x {
        sum += v * v.abs().sqrt().sin();
    }
    0.01 * (pen + 418.9828872724339 - sum / x.len() as f64)
}

pub(crate) fn katsuura(x: &[f64]) -> f64 {
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
pub(crate) struct Weierstrass {
    pub(crate) f0: f64,
    pub(crate) ak: [f64; 12],
    pub(crate) bk: [f64; 12],
}

impl Weierstrass {
    pub(crate) fn new() -> Self {
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
    pub(crate) fn raw(&self, x: &[f64]) -> f64 {
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
pub(crate) struct Gallagher {
    pub(crate) rotation: Mat,
    /// `x_local[i][j]`: coordinate i of peak j, `d × peaks`.
    pub(crate) x_local: Vec<Vec<f64>>,
    /// `arr_scales[peak][i]`.
    pub(crate) scales: Vec<Vec<f64>>,
    pub(crate) peak_values: Vec<f64>,
}

impl Gallagher {
    pub(crate) fn new(rseed: i64, d: usize, peaks: usize) -> (Self, Vec<f64>) {
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

    pub(crate) fn raw(&self, x: &[f64]) -> f64 {
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
