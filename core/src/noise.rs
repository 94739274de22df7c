//! Counter-based Gaussian noise.
//!
//! The noise of a parameter is a pure function of `(seed, parameter id, noise epoch, pair
//! index, position)`: nothing is stored, any worker can regenerate any block, and the bits are
//! identical on every thread count, process and machine.
//!
//! # Definition
//! * A 64-bit *block key* is derived with SplitMix64 finalisers from
//!   `(seed, parameter id, epoch, pair)` ([`block_key`]).
//! * Position `j` of the block gets the 32-bit hash
//!   `h(j) = lowbias32(lowbias32(j · 0x9E3779B9 ⊕ k₀) ⊕ k₁)` where `k₀, k₁` are the two halves
//!   of the key. For a fixed key `j ↦ h(j)` is a bijection of `u32`.
//! * Outputs `2t` and `2t + 1` are one Box–Muller pair from `u₁ = (h(2t) ≫ 8 + 1)·2⁻²⁴ ∈ (0, 1]`
//!   and the 24-bit integer `k = h(2t+1) ≫ 8` (angle `2πk/2²⁴`): `ρ = √(−2 ln u₁)`,
//!   `z₂ₜ = ρ cos θ`, `z₂ₜ₊₁ = ρ sin θ`.
//!
//! `ln`, `sin` and `cos` are evaluated with fixed polynomials using only IEEE-754 additions,
//! multiplications, divisions and square roots (never fused multiply-adds), so every
//! implementation (scalar, AVX2, AVX-512, a CUDA kernel using `__fmul_rn`/`__fadd_rn`) produces
//! the same bits. The tails are truncated at `√(2·24·ln 2) ≈ 5.77`.

use rayon::prelude::*;

/// SplitMix64 finaliser: a strong 64-bit bijective mixer.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Stable 64-bit id of a parameter name (FNV-1a, then mixed). Parameter noise streams are keyed
/// by this id, so adding or reordering parameters never changes another parameter's noise.
pub fn param_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

/// The key of one noise block: a pure function of `(seed, param_id, epoch, pair)`.
#[inline]
pub fn block_key(seed: u64, param_id: u64, epoch: u64, pair: u64) -> u64 {
    let mut h = mix64(seed.wrapping_add(0x9e37_79b9_7f4a_7c15));
    h = mix64(h ^ param_id.wrapping_mul(0xd6e8_feb8_6659_fd93));
    h = mix64(h ^ epoch.wrapping_mul(0xa076_1d64_78bd_642f));
    mix64(h ^ pair.wrapping_mul(0xe703_7ed1_a0b4_28db))
}

#[inline(always)]
fn lowbias32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x21f0_aaad);
    x ^= x >> 15;
    x = x.wrapping_mul(0x735a_2d97);
    x ^= x >> 15;
    x
}

#[inline(always)]
fn hash32(j: u32, k0: u32, k1: u32) -> u32 {
    lowbias32(lowbias32(j.wrapping_mul(0x9e37_79b9) ^ k0) ^ k1)
}

const LN2: f32 = std::f32::consts::LN_2;
const HALF_PI: f32 = std::f32::consts::FRAC_PI_2;

/// Natural logarithm of `x ∈ (0, 1]` (normal floats) from a fixed polynomial.
#[inline(always)]
fn ln_poly(x: f32) -> f32 {
    // Reduce to m ∈ [√½, √2): x = m · 2^e (the trick of musl's logf).
    let ix = x.to_bits().wrapping_sub(0x3f35_04f3);
    let e = (ix as i32) >> 23;
    let m = f32::from_bits((ix & 0x007f_ffff).wrapping_add(0x3f35_04f3));
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let s2 = s * s;
    // ln m = 2 atanh s = 2s (1 + s²/3 + s⁴/5 + s⁶/7 + s⁸/9); |s| ≤ 0.1716.
    let p = 1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    (e as f32) * LN2 + 2.0 * s * p
}

/// `(sin φ, cos φ)` for `φ ∈ [0, π/2)` from Taylor polynomials (error < 1e-7).
#[inline(always)]
fn sincos_quadrant(p: f32) -> (f32, f32) {
    let p2 = p * p;
    let s = p
        * (1.0
            + p2 * (-1.0 / 6.0
                + p2 * (1.0 / 120.0
                    + p2 * (-1.0 / 5040.0
                        + p2 * (1.0 / 362_880.0
                            + p2 * (-1.0 / 39_916_800.0 + p2 * (1.0 / 6_227_020_800.0)))))));
    let c = 1.0
        + p2 * (-0.5
            + p2 * (1.0 / 24.0
                + p2 * (-1.0 / 720.0
                    + p2 * (1.0 / 40_320.0
                        + p2 * (-1.0 / 3_628_800.0
                            + p2 * (1.0 / 479_001_600.0 + p2 * (-1.0 / 87_178_291_200.0)))))));
    (s, c)
}

/// One Box–Muller pair from two hashes.
#[inline(always)]
fn box_muller(h1: u32, h2: u32) -> (f32, f32) {
    let u1 = ((h1 >> 8) + 1) as f32 * (1.0 / 16_777_216.0);
    let rho = (-2.0 * ln_poly(u1)).sqrt();
    let k = h2 >> 8; // 24-bit angle: θ = 2π k / 2^24
    let quadrant = k >> 22;
    let phi = (k & 0x003f_ffff) as f32 * (HALF_PI / 4_194_304.0);
    let (s, c) = sincos_quadrant(phi);
    // Rotate by quadrant·π/2: swap for odd quadrants, then fix the signs.
    let odd = quadrant & 1 != 0;
    let (mut sn, mut cs) = if odd { (c, s) } else { (s, c) };
    if quadrant == 1 || quadrant == 2 {
        cs = -cs;
    }
    if quadrant >= 2 {
        sn = -sn;
    }
    (rho * cs, rho * sn)
}

const LANES: usize = 16;

#[inline(always)]
fn fill_block_generic(key: u64, start: u64, out: &mut [f32]) {
    debug_assert!(start.is_multiple_of(2));
    let k0 = key as u32;
    let k1 = (key >> 32) as u32;
    let mut base = start as u32; // positions are taken modulo 2^32 (blocks stay far below that)
    let mut chunks = out.chunks_exact_mut(2 * LANES);
    for chunk in &mut chunks {
        let mut z0 = [0.0f32; LANES];
        let mut z1 = [0.0f32; LANES];
        for l in 0..LANES {
            let j = base.wrapping_add(2 * l as u32);
            let (a, b) = box_muller(hash32(j, k0, k1), hash32(j.wrapping_add(1), k0, k1));
            z0[l] = a;
            z1[l] = b;
        }
        for l in 0..LANES {
            chunk[2 * l] = z0[l];
            chunk[2 * l + 1] = z1[l];
        }
        base = base.wrapping_add(2 * LANES as u32);
    }
    let rest = chunks.into_remainder();
    let mut j = base;
    let mut i = 0;
    while i < rest.len() {
        let (a, b) = box_muller(hash32(j, k0, k1), hash32(j.wrapping_add(1), k0, k1));
        rest[i] = a;
        if i + 1 < rest.len() {
            rest[i + 1] = b;
        }
        i += 2;
        j = j.wrapping_add(2);
    }
}

crate::multiversion! {
    /// Fill `out` with the standard normals at positions `start .. start + out.len()` of the
    /// block with key `key`. `start` must be even (positions come in Box–Muller pairs).
    pub fn fill_block(key: u64, start: u64, out: &mut [f32]) {
        assert!(start.is_multiple_of(2), "noise block offsets must be even");
        fill_block_generic(key, start, out)
    }
}

/// The scalar reference implementation of [`fill_block`] (no SIMD dispatch); used by tests to
/// show that every SIMD level gives the same bits.
pub fn fill_block_scalar(key: u64, start: u64, out: &mut [f32]) {
    assert!(start.is_multiple_of(2), "noise block offsets must be even");
    let k0 = key as u32;
    let k1 = (key >> 32) as u32;
    let mut j = start as u32;
    let mut i = 0;
    while i < out.len() {
        let (a, b) = box_muller(hash32(j, k0, k1), hash32(j.wrapping_add(1), k0, k1));
        out[i] = a;
        if i + 1 < out.len() {
            out[i + 1] = b;
        }
        i += 2;
        j = j.wrapping_add(2);
    }
}

/// The largest magnitude of an int8 noise value ([`fill_block_i8`]).
pub const I8_NOISE_MAX: i8 = 31;

/// Fill `out` with the int8 noise at positions `start .. start + out.len()` of the block with
/// key `key` — the integer counterpart of [`fill_block`] on the same counter-based hash:
/// position `j` gets `±((h(j) ≫ 1) & 31)`, the sign `+` when bit 0 of `h(j)` is set. This is
/// nano-egg's noise distribution (uniform magnitudes 0..=31, a random sign) drawn from our keyed
/// streams instead of a sequential xorshift, so any worker can regenerate any block. Pure integer
/// arithmetic: the same bits everywhere.
pub fn fill_block_i8(key: u64, start: u64, out: &mut [i8]) {
    let k0 = key as u32;
    let k1 = (key >> 32) as u32;
    let mut j = start as u32;
    for o in out.iter_mut() {
        let h = hash32(j, k0, k1);
        let mag = ((h >> 1) & 31) as i8;
        *o = if h & 1 != 0 { mag } else { -mag };
        j = j.wrapping_add(1);
    }
}

/// Fill `out` (length `pairs.len() · block_len`, pairs consecutive) with the noise blocks of
/// the given parameter and epoch, in parallel. The result does not depend on the thread count.
pub fn fill_pairs(
    seed: u64,
    param_id: u64,
    epoch: u64,
    first_pair: u64,
    block_len: usize,
    out: &mut [f32],
) {
    if block_len == 0 {
        return;
    }
    assert_eq!(
        out.len() % block_len,
        0,
        "output is not a whole number of blocks"
    );
    // Group small blocks so each rayon task has a few thousand numbers to draw.
    let per_task = (4096 / block_len).max(1);
    out.par_chunks_mut(block_len * per_task)
        .enumerate()
        .for_each(|(t, chunk)| {
            for (b, block) in chunk.chunks_mut(block_len).enumerate() {
                let pair = first_pair + (t * per_task + b) as u64;
                fill_block(block_key(seed, param_id, epoch, pair), 0, block);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_and_sincos_are_accurate() {
        for k in 1..=1000u32 {
            let x = k as f32 / 1000.0;
            assert!((ln_poly(x) - x.ln()).abs() < 2e-6, "ln {x}");
        }
        for k in 0..1000 {
            let p = k as f32 / 1000.0 * HALF_PI;
            let (s, c) = sincos_quadrant(p);
            assert!((s - p.sin()).abs() < 1e-6 && (c - p.cos()).abs() < 1e-6);
        }
    }

    #[test]
    fn box_muller_matches_libm() {
        for t in 0..10_000u32 {
            let h1 = hash32(2 * t, 1, 2);
            let h2 = hash32(2 * t + 1, 1, 2);
            let (a, b) = box_muller(h1, h2);
            let u1 = ((h1 >> 8) + 1) as f64 / 16_777_216.0;
            let th = (h2 >> 8) as f64 / 16_777_216.0 * std::f64::consts::TAU;
            let r = (-2.0 * u1.ln()).sqrt();
            assert!((a as f64 - r * th.cos()).abs() < 1e-5 * (1.0 + r));
            assert!((b as f64 - r * th.sin()).abs() < 1e-5 * (1.0 + r));
        }
    }

    #[test]
    fn int8_noise_is_symmetric_bounded_and_offsets_compose() {
        let mut all = vec![0i8; 100_000];
        fill_block_i8(0xfeed, 0, &mut all);
        assert!(all.iter().all(|v| v.abs() <= I8_NOISE_MAX));
        let mut tail = vec![0i8; 777];
        fill_block_i8(0xfeed, 1234, &mut tail);
        assert_eq!(&all[1234..1234 + 777], &tail[..]);
        // Uniform magnitudes 0..=31 with a random sign: mean 0, E[v²] = (31·32·63/6)/32 = 325.5.
        let n = all.len() as f64;
        let mean = all.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let sq = all.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n;
        // Standard errors: √(325.5/n) ≈ 0.057 for the mean; 5 of them.
        assert!(mean.abs() < 0.3, "mean {mean}");
        assert!((sq - 325.5).abs() < 5.0, "second moment {sq}");
        let mut other = vec![0i8; 1000];
        fill_block_i8(0xfeee, 0, &mut other);
        assert_ne!(&all[..1000], &other[..]);
    }

    #[test]
    fn simd_equals_scalar_bits_and_offsets_compose() {
        for len in [1usize, 2, 7, 31, 32, 33, 100, 1000] {
            let mut a = vec![0.0; len];
            let mut b = vec![0.0; len];
            fill_block(0xdead_beef, 0, &mut a);
            fill_block_scalar(0xdead_beef, 0, &mut b);
            assert_eq!(
                a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
            if len > 10 {
                let mut c = vec![0.0; len - 10];
                fill_block(0xdead_beef, 10, &mut c);
                assert_eq!(&a[10..], &c[..]);
            }
        }
    }
}
