//! The int8 GEMM every int8 population layer goes through: `y (rows × m, i32) = x (rows × n,
//! i8) · Wᵀ`, exact integer arithmetic, so every SIMD level gives the same bits by construction.
//!
//! * AVX-512 VNNI: `vpdpbusd` does 64 `u8 × i8` multiply-adds per instruction. Activations are
//!   signed, so the kernel feeds `x + 128` (a byte XOR) and subtracts `128 · Σⱼ W[c][j]`, a
//!   per-column constant computed when the weights are packed. Weights are packed as
//!   `[n/4][m][4]` so one 64-byte load holds 16 columns × 4 inputs; a tile is 4 rows × 64
//!   columns (16 accumulators).
//! * AVX-VNNI (and AVX-512 VNNI on 256-bit registers): the same on `ymm`, 4 rows × 16 columns.
//! * AVX2: no `u8 × i8 → i32` instruction (`vpmaddubsw` saturates at i16), so activations and
//!   weights are widened to i16 and `vpmaddwd` does 16 exact multiply-adds per instruction.
//!   Weights are packed as `[n4/2][m16][2]` i16 so one 32-byte load holds 8 columns × 2 inputs;
//!   a tile is 4 rows × 16 columns (8 accumulators), as on AVX-VNNI.
//! * Scalar: a row-major copy of the weights and plain `i8 · i8 → i32` dot products.
//!
//! Every level computes the same sums of the same integer products: i32 additions are
//! associative and cannot overflow here (`n ≤ MAX_INPUTS` bounds `|acc| < 2³¹`).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::{Int8Level, bad};
use eggroll_core::Result;

/// The widest input a layer may have: `255 · 127 · n` must stay below `2³¹` (the unsigned
/// activations of the VNNI path times the largest weight).
pub const MAX_INPUTS: usize = 65_536;

/// Int8 weights `(m, n)` packed for every kernel level.
#[derive(Debug, Clone)]
pub struct PackedI8 {
    m: usize,
    n: usize,
    /// `n` rounded up to a multiple of 4.
    n4: usize,
    /// `m` rounded up to a multiple of 16.
    m16: usize,
    /// `[n4/4][m16][4]`, zero-padded: the VNNI layout.
    vnni: Vec<i8>,
    /// `(m, n4)` row-major, zero-padded: the scalar layout.
    rows: Vec<i8>,
    /// `[n4/2][m16][2]` widened to i16, zero-padded: the AVX2 layout.
    pairs: Vec<i16>,
    /// `128 · Σⱼ W[c][j]` (zero past `m`).
    colsum: Vec<i32>,
}

impl PackedI8 {
    /// Pack `w`, row-major `(m, n)`. Errors name `what` when the shape is empty, does not match
    /// `w`, or `n` exceeds [`MAX_INPUTS`]; a weight of −128 is refused (int8 weights live in
    /// `−127..=127`, as nano-egg clamps them, so negating one never overflows).
    pub fn new(what: &str, w: &[i8], m: usize, n: usize) -> Result<Self> {
        if m == 0 || n == 0 {
            return Err(bad(what, format!("shape ({m}, {n}) is empty")));
        }
        if n > MAX_INPUTS {
            return Err(bad(
                what,
                format!(
                    "{n} inputs: the int8 kernel tiles at most {MAX_INPUTS} (its i32 sums would overflow)"
                ),
            ));
        }
        if w.len() != m * n {
            return Err(bad(
                what,
                format!("{} weights for shape ({m}, {n})", w.len()),
            ));
        }
        if let Some(i) = w.iter().position(|&v| v == i8::MIN) {
            return Err(bad(
                what,
                format!("weight {i} is −128; int8 weights must lie in −127..=127"),
            ));
        }
        let (n4, m16) = (n.div_ceil(4) * 4, m.div_ceil(16) * 16);
        let mut vnni = vec![0i8; n4 * m16];
        let mut rows = vec![0i8; m * n4];
        let mut colsum = vec![0i32; m16];
        let mut pairs = vec![0i16; n4 * m16];
        for c in 0..m {
            let wr = &w[c * n..(c + 1) * n];
            rows[c * n4..c * n4 + n].copy_from_slice(wr);
            colsum[c] = 128 * wr.iter().map(|&v| i32::from(v)).sum::<i32>();
            for (j, &v) in wr.iter().enumerate() {
                vnni[((j / 4) * m16 + c) * 4 + j % 4] = v;
                pairs[((j / 2) * m16 + c) * 2 + j % 2] = i16::from(v);
            }
        }
        Ok(Self {
            m,
            n,
            n4,
            m16,
            vnni,
            rows,
            pairs,
            colsum,
        })
    }

    /// Outputs.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Inputs.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Weight `(c, j)`.
    pub fn get(&self, c: usize, j: usize) -> i8 {
        self.rows[c * self.n4 + j]
    }

    /// The weights, row-major `(m, n)`.
    pub fn to_vec(&self) -> Vec<i8> {
        (0..self.m)
            .flat_map(|c| self.rows[c * self.n4..c * self.n4 + self.n].iter().copied())
            .collect()
    }
}

/// `y (rows × m) = x (rows × n) · Wᵀ` at the best level of this CPU ([`Int8Level::detect`]).
/// `scratch` is reused between calls (the converted activations). Single-threaded: callers
/// parallelise over row chunks.
pub fn gemm(x: &[i8], rows: usize, w: &PackedI8, y: &mut [i32], scratch: &mut Vec<u8>) {
    gemm_at(Int8Level::detect(), x, rows, w, y, scratch)
}

/// [`gemm`] at a given level (tests compare every level this CPU has).
///
/// # Panics
/// When `level` is not available on this CPU, or the buffers are too short.
pub fn gemm_at(
    level: Int8Level,
    x: &[i8],
    rows: usize,
    w: &PackedI8,
    y: &mut [i32],
    scratch: &mut Vec<u8>,
) {
    assert!(
        x.len() >= rows * w.n && y.len() >= rows * w.m,
        "gemm buffers"
    );
    assert!(level.available(), "{level:?} is not available on this CPU");
    match level {
        #[cfg(target_arch = "x86_64")]
        Int8Level::Vnni512 | Int8Level::Vnni256 => {
            to_unsigned(x, rows, w, scratch);
            // SAFETY: the level is available (checked above), so are its target features.
            unsafe {
                if level == Int8Level::Vnni512 {
                    vnni512(scratch, rows, w, y);
                } else if std::is_x86_feature_detected!("avxvnni") {
                    vnni256_avx(scratch, rows, w, y);
                } else {
                    vnni256_vl(scratch, rows, w, y);
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        Int8Level::Avx2 => {
            // SAFETY: AVX2 is available (checked above).
            unsafe { avx2(x, rows, w, y, scratch) }
        }
        _ => generic(x, rows, w, y, scratch),
    }
}

/// `x + 128` as bytes, rows padded to `n4` with 128 (that is, `x = 0`; the padded weights are
/// zero anyway).
fn to_unsigned(x: &[i8], rows: usize, w: &PackedI8, out: &mut Vec<u8>) {
    // Every byte is written below: no need to clear what a previous call left.
    out.resize(rows * w.n4, 128);
    for (o, xr) in out.chunks_exact_mut(w.n4).zip(x.chunks_exact(w.n)) {
        let (body, pad) = o.split_at_mut(w.n);
        for (ov, &xv) in body.iter_mut().zip(xr) {
            *ov = (xv as u8) ^ 0x80;
        }
        pad.fill(128);
    }
}

#[inline(always)]
fn dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// The scalar body: rows padded to `n4` with zeros when `n` is not a multiple of 4, then
/// four columns at a time (one pass over the row's activations).
fn generic(x: &[i8], rows: usize, w: &PackedI8, y: &mut [i32], scratch: &mut Vec<u8>) {
    let (n, n4, m) = (w.n, w.n4, w.m);
    let xs: &[i8] = if n4 == n {
        &x[..rows * n]
    } else {
        scratch.clear();
        scratch.resize(rows * n4, 0);
        for (o, xr) in scratch.chunks_exact_mut(n4).zip(x.chunks_exact(n)) {
            for (ov, &xv) in o.iter_mut().zip(xr) {
                *ov = xv as u8;
            }
        }
        // SAFETY: u8 and i8 have the same size and alignment.
        unsafe { std::slice::from_raw_parts(scratch.as_ptr().cast::<i8>(), rows * n4) }
    };
    for (xr, yr) in xs.chunks_exact(n4).zip(y.chunks_exact_mut(m)) {
        let mut c = 0;
        while c + 4 <= m {
            let w0 = &w.rows[c * n4..(c + 1) * n4];
            let w1 = &w.rows[(c + 1) * n4..(c + 2) * n4];
            let w2 = &w.rows[(c + 2) * n4..(c + 3) * n4];
            let w3 = &w.rows[(c + 3) * n4..(c + 4) * n4];
            let mut acc = [0i32; 4];
            for j in 0..n4 {
                let xv = i32::from(xr[j]);
                acc[0] += xv * i32::from(w0[j]);
                acc[1] += xv * i32::from(w1[j]);
                acc[2] += xv * i32::from(w2[j]);
                acc[3] += xv * i32::from(w3[j]);
            }
            yr[c..c + 4].copy_from_slice(&acc);
            c += 4;
        }
        for (cc, yv) in yr.iter_mut().enumerate().skip(c) {
            *yv = dot(xr, &w.rows[cc * n4..(cc + 1) * n4]);
        }
    }
}

/// Runs `$tile::<R, T>` for the row block `rb ≤ 4` and column groups `tb ≤ 4`.
#[cfg(target_arch = "x86_64")]
macro_rules! dispatch_tile {
    ($tile:ident, $rb:expr, $tb:expr, $($arg:expr),*) => {
        match ($rb, $tb) {
            (4, 4) => $tile::<4, 4>($($arg),*),
            (4, 3) => $tile::<4, 3>($($arg),*),
            (4, 2) => $tile::<4, 2>($($arg),*),
            (4, _) => $tile::<4, 1>($($arg),*),
            (3, 4) => $tile::<3, 4>($($arg),*),
            (3, 3) => $tile::<3, 3>($($arg),*),
            (3, 2) => $tile::<3, 2>($($arg),*),
            (3, _) => $tile::<3, 1>($($arg),*),
            (2, 4) => $tile::<2, 4>($($arg),*),
            (2, 3) => $tile::<2, 3>($($arg),*),
            (2, 2) => $tile::<2, 2>($($arg),*),
            (2, _) => $tile::<2, 1>($($arg),*),
            (_, 4) => $tile::<1, 4>($($arg),*),
            (_, 3) => $tile::<1, 3>($($arg),*),
            (_, 2) => $tile::<1, 2>($($arg),*),
            (_, _) => $tile::<1, 1>($($arg),*),
        }
    };
}

/// The AVX2 kernel: [`widen`], then 4 × 16 tiles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2(x: &[i8], rows: usize, w: &PackedI8, y: &mut [i32], scratch: &mut Vec<u8>) {
    widen(x, rows, w, scratch);
    for c0 in (0..w.m16).step_by(16) {
        let mut i = 0;
        while i < rows {
            let rb = (rows - i).min(4);
            // SAFETY: the tile reads rows i..i+rb of the widened activations and columns
            // c0..c0+16 of the packed pairs, all in bounds, and writes only columns below m.
            unsafe { dispatch_tile!(tile_avx2, rb, 1usize, scratch, i, w, c0, y) };
            i += rb;
        }
    }
}

/// `x` widened to little-endian i16 bytes, rows padded to `n4` with zeros (the AVX2 layout).
#[cfg(target_arch = "x86_64")]
fn widen(x: &[i8], rows: usize, w: &PackedI8, out: &mut Vec<u8>) {
    // Every byte is written below: no need to clear what a previous call left.
    out.resize(rows * w.n4 * 2, 0);
    for (o, xr) in out.chunks_exact_mut(w.n4 * 2).zip(x.chunks_exact(w.n)) {
        let (body, pad) = o.split_at_mut(w.n * 2);
        for (ov, &xv) in body.chunks_exact_mut(2).zip(xr) {
            ov.copy_from_slice(&i16::from(xv).to_le_bytes());
        }
        pad.fill(0);
    }
}

/// 4 rows × 16 columns of `vpmaddwd` on the widened pairs (see the module docs).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tile_avx2<const R: usize, const T: usize>(
    xs: &[u8],
    i: usize,
    w: &PackedI8,
    c0: usize,
    y: &mut [i32],
) {
    // SAFETY: see `avx2`; T is always 1 here.
    unsafe {
        let mut acc = [[_mm256_setzero_si256(); 2]; R];
        let wp = w.pairs.as_ptr().add(c0 * 2);
        let xp = xs.as_ptr().add(i * w.n4 * 2);
        for k in 0..w.n4 / 2 {
            let wk = wp.add(k * w.m16 * 2);
            let w0 = _mm256_loadu_si256(wk.cast());
            let w1 = _mm256_loadu_si256(wk.add(16).cast());
            for (r, a) in acc.iter_mut().enumerate() {
                let xb =
                    _mm256_set1_epi32(xp.add(r * w.n4 * 2 + 4 * k).cast::<i32>().read_unaligned());
                a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(xb, w0));
                a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(xb, w1));
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let yrow = y.as_mut_ptr().add((i + r) * w.m);
            for (h, av) in a.iter().enumerate() {
                store8(*av, yrow, c0 + 8 * h, w.m);
            }
        }
    }
}

/// Stores `v` (8 lanes) at `y[c..]` of a row of `m` outputs, only the lanes below `m`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn store8(v: __m256i, yrow: *mut i32, c: usize, m: usize) {
    // SAFETY: only lanes below `m` are written; `yrow` points at a row of `m` outputs.
    unsafe {
        if c + 8 <= m {
            _mm256_storeu_si256(yrow.add(c).cast(), v);
        } else if c < m {
            let mut tmp = [0i32; 8];
            _mm256_storeu_si256(tmp.as_mut_ptr().cast(), v);
            std::ptr::copy_nonoverlapping(tmp.as_ptr(), yrow.add(c), m - c);
        }
    }
}

/// Stores `v` (16 lanes) at `y[c..]` of a row of `m` outputs, only the lanes below `m`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn store16(v: __m512i, yrow: *mut i32, c: usize, m: usize) {
    // SAFETY: lanes at or past `m` are masked off; `yrow` points at a row of `m` outputs.
    unsafe {
        if c + 16 <= m {
            _mm512_storeu_si512(yrow.add(c).cast(), v);
        } else if c < m {
            let mask = ((1u32 << (m - c)) - 1) as u16;
            _mm512_mask_storeu_epi32(yrow.add(c), mask, v);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn vnni512(xu: &[u8], rows: usize, w: &PackedI8, y: &mut [i32]) {
    let mut c0 = 0;
    while c0 < w.m16 {
        let tb = ((w.m16 - c0) / 16).min(4);
        let mut i = 0;
        while i < rows {
            let rb = (rows - i).min(4);
            // SAFETY: the tile reads rows i..i+rb of `xu` and columns c0..c0+16·tb of the
            // packed weights, all in bounds; it writes only columns below m.
            unsafe { dispatch_tile!(tile512, rb, tb, xu, i, w, c0, y) };
            i += rb;
        }
        c0 += 16 * tb;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile512<const R: usize, const T: usize>(
    xu: &[u8],
    i: usize,
    w: &PackedI8,
    c0: usize,
    y: &mut [i32],
) {
    // SAFETY: see `vnni512`.
    unsafe {
        let mut acc = [[_mm512_setzero_si512(); T]; R];
        let wp = w.vnni.as_ptr().add(c0 * 4);
        let xp = xu.as_ptr().add(i * w.n4);
        for k in 0..w.n4 / 4 {
            let wk = wp.add(k * w.m16 * 4);
            let mut wv = [_mm512_setzero_si512(); T];
            for (t, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(wk.add(64 * t).cast());
            }
            for (r, a) in acc.iter_mut().enumerate() {
                let xb = _mm512_set1_epi32(xp.add(r * w.n4 + 4 * k).cast::<i32>().read_unaligned());
                for (av, wt) in a.iter_mut().zip(&wv) {
                    *av = _mm512_dpbusd_epi32(*av, xb, *wt);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let yrow = y.as_mut_ptr().add((i + r) * w.m);
            for (t, av) in a.iter().enumerate() {
                let c = c0 + 16 * t;
                let cs = _mm512_loadu_si512(w.colsum.as_ptr().add(c).cast());
                store16(_mm512_sub_epi32(*av, cs), yrow, c, w.m);
            }
        }
    }
}

/// The 256-bit VNNI kernel, written once for AVX-VNNI (`vpdpbusd` VEX-encoded) and for
/// AVX-512 VNNI with VL (EVEX-encoded): 4 rows × 16 columns (two `ymm` per row), 8
/// accumulators, so it fits the 16 registers of a CPU without AVX-512.
#[cfg(target_arch = "x86_64")]
macro_rules! vnni256 {
    ($name:ident, $tile:ident, $features:literal, $dp:ident) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(xu: &[u8], rows: usize, w: &PackedI8, y: &mut [i32]) {
            for c0 in (0..w.m16).step_by(16) {
                let mut i = 0;
                while i < rows {
                    let rb = (rows - i).min(4);
                    // SAFETY: as in `vnni512`.
                    unsafe { dispatch_tile!($tile, rb, 1usize, xu, i, w, c0, y) };
                    i += rb;
                }
            }
        }

        #[target_feature(enable = $features)]
        unsafe fn $tile<const R: usize, const T: usize>(
            xu: &[u8],
            i: usize,
            w: &PackedI8,
            c0: usize,
            y: &mut [i32],
        ) {
            // SAFETY: as in `vnni512`; T is always 1 here.
            unsafe {
                let mut acc = [[_mm256_setzero_si256(); 2]; R];
                let wp = w.vnni.as_ptr().add(c0 * 4);
                let xp = xu.as_ptr().add(i * w.n4);
                for k in 0..w.n4 / 4 {
                    let wk = wp.add(k * w.m16 * 4);
                    let w0 = _mm256_loadu_si256(wk.cast());
                    let w1 = _mm256_loadu_si256(wk.add(32).cast());
                    for (r, a) in acc.iter_mut().enumerate() {
                        let xb = _mm256_set1_epi32(
                            xp.add(r * w.n4 + 4 * k).cast::<i32>().read_unaligned(),
                        );
                        a[0] = $dp(a[0], xb, w0);
                        a[1] = $dp(a[1], xb, w1);
                    }
                }
                for (r, a) in acc.iter().enumerate() {
                    let yrow = y.as_mut_ptr().add((i + r) * w.m);
                    for (h, av) in a.iter().enumerate() {
                        let c = c0 + 8 * h;
                        let cs = _mm256_loadu_si256(w.colsum.as_ptr().add(c).cast());
                        store8(_mm256_sub_epi32(*av, cs), yrow, c, w.m);
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
vnni256!(
    vnni256_avx,
    tile256_avx,
    "avx2,avxvnni",
    _mm256_dpbusd_avx_epi32
);
#[cfg(target_arch = "x86_64")]
vnni256!(
    vnni256_vl,
    tile256_vl,
    "avx2,avx512f,avx512vl,avx512vnni",
    _mm256_dpbusd_epi32
);
