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
