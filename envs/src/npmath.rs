//! NumPy's scalar arithmetic where it differs from the obvious Rust expression.
//!
//! `x**2` on a NumPy float64 (or float32) *scalar* calls the C library's `pow` (`powf`), which
//! is not correctly rounded: on glibc 2.28+ it differs from the correctly rounded `x * x` by one
//! ulp for about 1 in 1,200 arguments. Gymnasium's Acrobot and Pendulum square NumPy scalars
//! with `**`, so bit-exact parity needs the same `pow` call. LLVM rewrites `pow(x, 2.0)` into
//! `x * x` when the exponent is a constant, so the exponent is hidden behind
//! [`std::hint::black_box`].

use std::hint::black_box;

/// `x**2` for a NumPy float64 scalar: the C library's `pow(x, 2.0)`.
#[inline]
pub fn pow2(x: f64) -> f64 {
    x.powf(black_box(2.0))
}

/// `x**2` for a NumPy float32 scalar: the C library's `powf(x, 2.0f)`.
#[inline]
pub fn pow2f(x: f32) -> f32 {
    x.powf(black_box(2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_is_the_c_librarys_pow_not_a_product() {
        // -17.707971766946446² is 313.57226409897245…, which `x * x` rounds down and glibc's
        // `pow` up (found by comparing NumPy's `np.float64(x)**2` with `x * x`).
        let x = -17.707_971_766_946_446_f64;
        assert_eq!(x * x, 313.572_264_098_972_4);
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert_eq!(pow2(x), 313.572_264_098_972_5);
        }
        assert_eq!(pow2(3.0), 9.0);
        assert_eq!(pow2f(-1.5), 2.25);
    }
}

macro_rules! pairwise {
    ($name:ident, $t:ty) => {
        /// NumPy's `np.sum` of a contiguous array: pairwise summation with 8 accumulators for
        /// blocks of up to 128 values, in the array's own precision (so `np.sum` of a float32
        /// array rounds every partial sum to float32).
        pub fn $name(a: &[$t]) -> $t {
            let n = a.len();
            if n < 8 {
                let mut res: $t = 0.0;
                for &x in a {
                    res += x;
                }
                res
            } else if n <= 128 {
                let mut r = [0.0 as $t; 8];
                r.copy_from_slice(&a[..8]);
                let mut i = 8;
                while i < n - (n % 8) {
                    for j in 0..8 {
                        r[j] += a[i + j];
                    }
                    i += 8;
                }
                let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
                while i < n {
                    res += a[i];
                    i += 1;
                }
                res
            } else {
                let mut n2 = n / 2;
                n2 -= n2 % 8;
                $name(&a[..n2]) + $name(&a[n2..])
            }
        }
    };
}
pairwise!(sum_f32, f32);
pairwise!(sum_f64, f64);

/// `np.sum(np.square(a))` for a float32 array: squares and sum in float32.
pub fn sum_squares_f32(a: &[f32]) -> f32 {
    // Up to 128 squares (every action and contact-force vector here) live on the stack: this
    // runs once per environment step.
    if a.len() <= 128 {
        let mut sq = [0.0f32; 128];
        for (s, &x) in sq.iter_mut().zip(a) {
            *s = x * x;
        }
        return sum_f32(&sq[..a.len()]);
    }
    let sq: Vec<f32> = a.iter().map(|&x| x * x).collect();
    sum_f32(&sq)
}

/// `np.sum(np.square(a))` for a float64 array.
pub fn sum_squares_f64(a: &[f64]) -> f64 {
    if a.len() <= 128 {
        let mut sq = [0.0f64; 128];
        for (s, &x) in sq.iter_mut().zip(a) {
            *s = x * x;
        }
        return sum_f64(&sq[..a.len()]);
    }
    let sq: Vec<f64> = a.iter().map(|&x| x * x).collect();
    sum_f64(&sq)
}
