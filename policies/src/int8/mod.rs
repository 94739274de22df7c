//! Integer EGGROLL: int8 population layers on VNNI.
//!
//! Weights and activations are int8, products accumulate in i32, and scales are powers of two
//! (right shifts), as in nano-egg's EGG model. A member's perturbation is int8 low-rank noise
//! `A (m × r)`, `B (n × r)` drawn from the same counter-based streams as the f32 noise
//! ([`eggroll_core::noise::fill_block_i8`]); its layer computes
//!
//! ```text
//! y = clamp(((x·Wᵀ + ((s · (x·B)·Aᵀ) ≫ σ_shift)) ≫ shift) + b, −127, 127)
//! ```
//!
//! with `s = ±1` the member's antithetic sign and `≫` an arithmetic (flooring) shift: `x·Wᵀ` is
//! one GEMM shared by every member ([`gemm`]), the correction costs `n·r + m·r` per row.
//! Everything is integer, so the bits are the same at every SIMD level ([`Int8Level`]) and
//! thread count.

pub mod gemm;
pub mod linear;

pub use gemm::{MAX_INPUTS, PackedI8};
pub use linear::{Int8Chain, Int8Linear, Int8Noise, Int8Population, Perturbation, RowBuffers};

/// The int8 kernel level, picked at run time like the f32 kernels' [`eggroll_core::simd::level`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Level {
    /// AVX-512 VNNI: `vpdpbusd` on 512-bit registers, 64 multiply-adds per instruction.
    Vnni512,
    /// AVX-VNNI, or AVX-512 VNNI on 256-bit registers: 32 multiply-adds per instruction.
    Vnni256,
    /// AVX2 (`vpmaddwd` on i16 pairs, 4 × 16 tiles).
    Avx2,
    /// Baseline code.
    Scalar,
}

impl Int8Level {
    /// Every level, fastest first.
    pub const ALL: [Int8Level; 4] = [
        Int8Level::Vnni512,
        Int8Level::Vnni256,
        Int8Level::Avx2,
        Int8Level::Scalar,
    ];

    /// Whether this CPU runs the level.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            match self {
                Int8Level::Vnni512 => has!("avx512f") && has!("avx512bw") && has!("avx512vnni"),
                Int8Level::Vnni256 => {
                    has!("avx2")
                        && (has!("avxvnni")
                            || (has!("avx512f") && has!("avx512vl") && has!("avx512vnni")))
                }
                Int8Level::Avx2 => has!("avx2"),
                Int8Level::Scalar => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Int8Level::Scalar
        }
    }

    /// The best available level, capped by `EGGROLL_SIMD` (`scalar`, `avx2`: no VNNI,
    /// `vnni256`), as the f32 kernels are.
    pub fn detect() -> Self {
        use std::sync::OnceLock;
        static LEVEL: OnceLock<Int8Level> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let cap = match std::env::var("EGGROLL_SIMD").unwrap_or_default().as_str() {
                "scalar" => Int8Level::Scalar,
                "avx2" => Int8Level::Avx2,
                "vnni256" => Int8Level::Vnni256,
                _ => Int8Level::Vnni512,
            };
            Self::ALL
                .into_iter()
                .skip_while(|&l| l != cap)
                .find(|l| l.available())
                .unwrap_or(Int8Level::Scalar)
        })
    }

    /// Its name in reports: `vnni512`, `vnni256`, `avx2`, `scalar`.
    pub fn name(self) -> &'static str {
        match self {
            Int8Level::Vnni512 => "vnni512",
            Int8Level::Vnni256 => "vnni256",
            Int8Level::Avx2 => "avx2",
            Int8Level::Scalar => "scalar",
        }
    }
}

/// A typed error naming `what`.
pub(crate) fn bad(what: &str, reason: String) -> eggroll_core::Error {
    eggroll_core::Error::Param {
        name: what.to_string(),
        reason,
    }
}
