//! Run-time SIMD dispatch for the numeric kernels.
//!
//! Kernels are written once as plain Rust (additions and multiplications only, never fused
//! multiply-adds) and compiled several times with different target features; every version
//! produces identical bits, so dispatch only changes speed.

/// Define a function whose body is compiled for AVX-512, AVX2 and baseline x86-64 (or plain
/// code elsewhere) and picks the best version at run time.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2")]
            unsafe fn v512($($arg: $ty),*) { generic($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
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
pub(crate) use multiversion;

/// The SIMD level picked at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// AVX-512 (F, DQ, BW, VL).
    Avx512,
    /// AVX2.
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
            {
                return Level::Avx512;
            }
            if cap != "scalar" && std::is_x86_feature_detected!("avx2") {
                return Level::Avx2;
            }
        }
        let _ = cap;
        Level::Scalar
    })
}
