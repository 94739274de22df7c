//! The 2009 random generators of COCO (`suite_bbob_legacy_code.c`), reproduced to the bit:
//! uniforms, Gaussians, rotations, x_opt and f_opt of an instance.

use std::f64::consts::PI;

/// `bbob2009_unif`: `n` uniforms in (0, 1) from a Park–Miller generator with a 32-entry shuffle
/// table.
pub(crate) fn unif(n: usize, seed: i64) -> Vec<f64> {
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
pub(crate) fn gauss(n: usize, seed: i64) -> Vec<f64> {
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
pub(crate) struct Mat {
    pub(crate) d: usize,
    pub(crate) v: Vec<f64>,
}

impl Mat {
    pub(crate) fn at(&self, i: usize, j: usize) -> f64 {
        self.v[i * self.d + j]
    }
    /// `M x + b` summed as COCO's `transform_vars_affine` sums it (b first, then j in order).
    pub(crate) fn affine(&self, x: &[f64], b: f64) -> Vec<f64> {
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
pub(crate) fn rotation(seed: i64, d: usize) -> Mat {
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
pub(crate) fn rot_lambda_rot(rot1: &Mat, base: f64, rot2: &Mat) -> Mat {
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
pub(crate) fn compute_xopt(seed: i64, d: usize) -> Vec<f64> {
    unif(d, seed)
        .into_iter()
        .map(|u| {
            let x = 8.0 * (1e4 * u).floor() / 1e4 - 4.0;
            if x == 0.0 { -1e-5 } else { x }
        })
        .collect()
}

/// `bbob2009_compute_fopt`.
pub(crate) fn compute_fopt(function: usize, instance: usize) -> f64 {
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
pub(crate) fn round(x: f64) -> f64 {
    (x + 0.5).floor()
}
