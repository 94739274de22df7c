//! Run-time SIMD dispatch for the numeric kernels.
//!
//! Kernels are written once as plain Rust (additions and multiplications only, never fused
//! multiply-adds) and compiled several times with different target features; every version
//! produces identical bits, so dispatch only changes speed.

/// Define a function whose body is compiled for AVX-512, AVX2 and baseline x86-64 (or plain
/// code elsewhere) and picks the best version at run time. Rust never contracts `a * b + c`
/// into a fused multiply-add and `f32::mul_add` is always fused (in hardware where the level
/// has FMA, in software otherwise), so every version gives the same bits.
///
/// ```
/// eggroll_core::multiversion! {
///     /// Sum of squares.
///     pub fn sum_sq(x: &[f32], out: &mut f32) {
///         *out = x.iter().map(|v| v * v).sum();
///     }
/// }
/// let mut s = 0.0;
/// sum_sq(&[1.0, 2.0], &mut s);
/// assert_eq!(s, 5.0);
/// ```
#[macro_export]
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn generic($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn v512($($arg: $ty),*) { generic($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn v256($($arg: $ty),*) { generic($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            {
                match $crate::simd::level() {
                    // SAFETY: the CPU supports these features (detected at run time).
                    $crate::simd::Level::Avx512 => return unsafe { v512($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Level::Avx2 => return unsafe { v256($($arg),*) },
                    $crate::simd::Level::Scalar => {}
                }
            }
            generic($($arg),*)
        }
    };
}

/// The SIMD level picked at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// AVX-512 (F, DQ, BW, VL).
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// Baseline code.
    Scalar,
}

/// The best SIMD level this CPU supports. `EGGROLL_SIMD=scalar|avx2` caps it (for tests and
/// benchmarks).
pub fn level() -> Level {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = std::env::var("EGGROLL_SIMD").unwrap_or_default();
        #[cfg(target_arch = "x86_64")]
        {
            if cap != "scalar"
                && cap != "avx2"
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("fma")
            {
                return Level::Avx512;
            }
            if cap != "scalar"
                && std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
            {
                return Level::Avx2;
            }
        }
        let _ = cap;
        Level::Scalar
    })
}

/// `tanh` from a fixed rational approximation (Eigen's `ptanh_float`; max error ≈ 1e-7 on
/// [−7.9, 7.9], ±1 beyond): additions, multiplications and one division only, so it vectorises
/// and gives the same bits on every SIMD level and on the GPU.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    p = x2 * p + -8.604_672e-11;
    p = x2 * p + 5.122_297e-8;
    p = x2 * p + 1.485_722_4e-5;
    p = x2 * p + 6.372_619_3e-4;
    p = x2 * p + 4.893_524_6e-3;
    p *= x;
    let mut q = x2 * 1.198_258_4e-6 + 1.185_347e-4;
    q = x2 * q + 2.268_434_6e-3;
    q = x2 * q + 4.893_525e-3;
    p / q
}

/// `exp` from a fixed range reduction and polynomial (Cephes' `expf`; relative error ≤ 2e-7 on
/// [−87, 88]): additions, multiplications and exponent bits only, so it vectorises and gives the
/// same bits on every SIMD level. Below −87.33 it returns 0, above 88.72 +∞; NaN stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so `n·C1` is exact.
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let xc = x.clamp(-87.336_55, 88.722_83);
    let z = xc * LOG2E + ROUND;
    let n = z - ROUND;
    // The integer n sits in z's low mantissa bits: a bit cast, where `n as i32` (saturating,
    // NaN → 0) would not vectorise.
    let ni = (z.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = (xc - n * C1) - n * C2;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = (p * (r * r) + r) + 1.0;
    // 2ⁿ for n in [−126, 128]: n = 128 is split so the scale stays a normal number.
    let half = ni / 2;
    let s1 = f32::from_bits(((half + 127) as u32) << 23);
    let s2 = f32::from_bits(((ni - half + 127) as u32) << 23);
    let y = (e * s1) * s2;
    if x < -87.336_55 {
        0.0
    } else if x > 88.722_83 {
        f32::INFINITY
    } else {
        y
    }
}

/// Dot product with 16 independent accumulators (so it vectorises), reduced in a fixed order:
/// the result does not depend on the SIMD level.
///
/// Lane `l` sums `a[16c + l]·b[16c + l]` over `c` in order, then the lanes are added pairwise
/// (8, 4, 2, 1 apart). The tail is zero-padded to a full block: an accumulator starts at +0 and
/// so is never −0, which makes adding `0·0` to it exact and the bits those of the unpadded sum.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 16];
    let (ac, bc) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    if !ar.is_empty() {
        let x: [f32; 16] = std::array::from_fn(|l| ar.get(l).copied().unwrap_or(0.0));
        let y: [f32; 16] = std::array::from_fn(|l| br.get(l).copied().unwrap_or(0.0));
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    sum16(&acc)
}

/// The 16 lanes of an accumulator added pairwise (8, 4, 2, 1 apart): the fixed reduction order
/// of [`dot`] and of other 16-lane sums.
#[inline(always)]
pub fn sum16(acc: &[f32; 16]) -> f32 {
    let mut h = [0.0f32; 8];
    for l in 0..8 {
        h[l] = acc[l] + acc[l + 8];
    }
    let mut q = [0.0f32; 4];
    for l in 0..4 {
        q[l] = h[l] + h[l + 4];
    }
    let (p0, p1) = (q[0] + q[2], q[1] + q[3]);
    p0 + p1
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_tanh_is_accurate() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4;
            let e = (super::tanh(x) as f64 - (x as f64).tanh()).abs();
            worst = worst.max(e);
        }
        assert!(worst < 5e-7, "max error {worst}");
        assert_eq!(super::tanh(100.0), super::tanh(7.905_311));
        assert!(super::tanh(f32::NAN).is_nan());
    }

    /// The reference order, written the plain way: lanes over 16-blocks, an unpadded tail,
    /// then the pairwise reduction.
    fn dot_reference(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let mut acc = [0.0f32; 16];
        for i in 0..n {
            acc[i % 16] += a[i] * b[i];
        }
        let mut w = 8;
        while w > 0 {
            for l in 0..w {
                acc[l] += acc[l + w];
            }
            w /= 2;
        }
        acc[0]
    }

    #[test]
    fn dot_has_the_bits_of_the_reference_order() {
        // Signed zeros, exact cancellations, infinities and ordinary values, every tail length.
        let pool = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -2.25,
            1e-30,
            -1e-30,
            3.0e38,
            f32::INFINITY,
        ];
        let mut s = 12345u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as usize
        };
        for n in 0..70 {
            for _ in 0..200 {
                let a: Vec<f32> = (0..n).map(|_| pool[next() % pool.len()]).collect();
                let b: Vec<f32> = (0..n).map(|_| pool[next() % pool.len()]).collect();
                let (got, want) = (super::dot(&a, &b), dot_reference(&a, &b));
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "n={n}: {got} vs {want}"
                );
                let r: Vec<f32> = (0..n).map(|_| next() as f32 / 7e8 - 1.0).collect();
                assert_eq!(
                    super::dot(&a[..], &r).to_bits(),
                    dot_reference(&a, &r).to_bits()
                );
            }
        }
    }

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0.0f64;
        for i in -873_000..=887_000 {
            let x = i as f32 * 1e-4;
            let want = (x as f64).exp();
            let e = ((super::exp(x) as f64 - want) / want).abs();
            worst = worst.max(e);
        }
        assert!(worst < 3e-7, "max relative error {worst}");
        assert_eq!(super::exp(0.0), 1.0);
        assert_eq!(super::exp(-100.0), 0.0);
        assert_eq!(super::exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(super::exp(100.0), f32::INFINITY);
        assert!(super::exp(f32::NAN).is_nan());
    }

    #[test]
    fn dot_matches_f64() {
        for n in [0usize, 1, 15, 16, 17, 100, 257] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).cos()).collect();
            let e: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((super::dot(&a, &b) as f64 - e).abs() < 1e-4, "n={n}");
        }
    }
}
