//! NumPy-compatible seeding: `SeedSequence` + `PCG64` + `Generator.uniform` and
//! `Generator.standard_normal`, so that `reset(seed)` draws exactly the initial states
//! Gymnasium draws for the same seed.

mod ziggurat;

const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const POOL_SIZE: usize = 4;

fn hashmix(value: u32, hash_const: &mut u32) -> u32 {
    let mut v = value ^ *hash_const;
    *hash_const = hash_const.wrapping_mul(MULT_A);
    v = v.wrapping_mul(*hash_const);
    v ^ (v >> 16)
}

fn mix(x: u32, y: u32) -> u32 {
    let r = MIX_MULT_L
        .wrapping_mul(x)
        .wrapping_sub(MIX_MULT_R.wrapping_mul(y));
    r ^ (r >> 16)
}

/// `numpy.random.SeedSequence(seed).generate_state(n_words, uint64)` for an integer seed.
pub fn seed_sequence_u64(seed: u64, n_words: usize) -> Vec<u64> {
    // _int_to_uint32_array
    let mut entropy = Vec::new();
    let mut s = seed;
    if s == 0 {
        entropy.push(0u32);
    }
    while s > 0 {
        entropy.push(s as u32);
        s >>= 32;
    }
    let mut pool = [0u32; POOL_SIZE];
    let mut hc = INIT_A;
    for (i, p) in pool.iter_mut().enumerate() {
        *p = hashmix(entropy.get(i).copied().unwrap_or(0), &mut hc);
    }
    for i_src in 0..POOL_SIZE {
        for i_dst in 0..POOL_SIZE {
            if i_src != i_dst {
                pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src], &mut hc));
            }
        }
    }
    for &e in entropy.iter().skip(POOL_SIZE) {
        for p in pool.iter_mut() {
            *p = mix(*p, hashmix(e, &mut hc));
        }
    }
    let mut hc = INIT_B;
    let words: Vec<u32> = (0..2 * n_words)
        .map(|i| {
            let mut v = pool[i % POOL_SIZE] ^ hc;
            hc = hc.wrapping_mul(MULT_B);
            v = v.wrapping_mul(hc);
            v ^ (v >> 16)
        })
        .collect();
    words
        .chunks(2)
        .map(|w| u64::from(w[0]) | (u64::from(w[1]) << 32))
        .collect()
}

const PCG_MULT: u128 = (2_549_297_995_355_413_924u128 << 64) + 4_865_540_595_714_422_341u128;

/// NumPy's `PCG64` bit generator (XSL-RR output), seeded through `SeedSequence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcg64 {
    state: u128,
    inc: u128,
}

impl Pcg64 {
    /// `numpy.random.PCG64(seed)` — the generator of `numpy.random.default_rng(seed)` and of
    /// Gymnasium's `np_random` after `reset(seed=seed)`.
    pub fn new(seed: u64) -> Self {
        let v = seed_sequence_u64(seed, 4);
        let initstate = (u128::from(v[0]) << 64) | u128::from(v[1]);
        let initseq = (u128::from(v[2]) << 64) | u128::from(v[3]);
        let mut rng = Pcg64 {
            state: 0,
            inc: (initseq << 1) | 1,
        };
        rng.step();
        rng.state = rng.state.wrapping_add(initstate);
        rng.step();
        rng
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let rot = (self.state >> 122) as u32;
        (((self.state >> 64) as u64) ^ (self.state as u64)).rotate_right(rot)
    }

    /// A double in [0, 1) (NumPy's `random()`).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// NumPy's `uniform(low, high)`: `low + (high − low) · random()`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// NumPy's `standard_normal()`: the 256-layer ziggurat of `Generator`, drawing the same
    /// words and returning the same bits as numpy for the same state.
    pub fn standard_normal(&mut self) -> f64 {
        use ziggurat::{KI, WI};
        const R: f64 = 3.654_152_885_361_009;
        const INV_R: f64 = 0.273_661_237_329_758_3;
        loop {
            let r = self.next_u64();
            let idx = (r & 0xff) as usize;
            let r = r >> 8;
            let sign = r & 1;
            let rabs = (r >> 1) & 0x000f_ffff_ffff_ffff;
            let mut x = rabs as f64 * WI[idx];
            if sign & 1 == 1 {
                x = -x;
            }
            if rabs < KI[idx] {
                return x;
            }
            if idx == 0 {
                loop {
                    let xx = -INV_R * (-self.next_f64()).ln_1p();
                    let yy = -(-self.next_f64()).ln_1p();
                    if yy + yy > xx * xx {
                        return if (rabs >> 8) & 1 == 1 {
                            -(R + xx)
                        } else {
                            R + xx
                        };
                    }
                }
            }
            let (f_hi, f_lo) = (layer_f(idx - 1), layer_f(idx));
            if (f_hi - f_lo) * self.next_f64() + f_lo < (-0.5 * x * x).exp() {
                return x;
            }
        }
    }
}

/// The density at the edge of ziggurat layer `i`: exp(−x²/2) with x = `WI[i]`·2⁵² (how numpy's
/// table was computed; `f[0]` is 1).
fn layer_f(i: usize) -> f64 {
    if i == 0 {
        return 1.0;
    }
    let x = ziggurat::WI[i] * 4_503_599_627_370_496.0;
    (-0.5 * x * x).exp()
}
