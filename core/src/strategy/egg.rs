//! `egg`: nano-egg's integer EGGROLL update, for models whose parameters are int8 values.
//!
//! The parameters are f32 tensors holding integers in `−127..=127` (what an int8 model such as
//! `charlm --model egg` reads). Each generation draws int8 noise from the counter-based streams
//! ([`crate::noise::fill_block_i8`], uniform magnitudes `0..=31` with a random sign): low-rank
//! `A (m × r)`, `B (n × r)` for a matrix, and for any other parameter the product `e₁·e₂` of two
//! draws per entry (nano-egg's "non-LoRA" noise). Members `2k`, `2k+1` share block `k` with signs
//! `+`, `−`; the model applies a member's noise shifted right by `4 + s`, where `σ = 2⁻ˢ`
//! ([`sigma_shift`]).
//!
//! The update is nano-egg's: each pair votes `f_k = sign(F₂ₖ − F₂ₖ₊₁)`; every entry gets the
//! vote sum `Z = Σₖ f_k·(A_k B_kᵀ)` (or `Σₖ f_k·e₁e₂`), an integer; an entry moves by
//! `sign(Z)` (one int8 step, clamped to `±127`) when `|Z|` exceeds the two-sided z-test
//! threshold `Φ⁻¹(1 − α/2) · sd(Z)`, where `sd(Z) = 325.5·√(r·P)` over the `P` pairs that
//! voted (`325.5` is `E[e²]` of the noise) and `α` is the generation's learning rate (default
//! 1 → 1/16 over the run, as nano-egg's α schedule: early on every entry with a vote moves,
//! later only significant ones).

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::{EsConfig, Strategy, StrategyState, TellReport};
use crate::error::{Error, Result, config_err};
use crate::noise::{block_key, fill_block_i8};
use crate::params::{ParamKind, Params};
use crate::population::{Noise, Pairing, Population};

/// `E[e²]` of one int8 noise value (uniform magnitude `0..=31`): `(31·32·63/6)/32`.
pub const NOISE_SECOND_MOMENT: f64 = 325.5;

/// The largest `s` of `σ = 2⁻ˢ`.
pub const MAX_SIGMA_SHIFT: u32 = 15;

/// `s` for `σ = 2⁻ˢ`: the right shift the model applies to a member's noise term after the
/// fixed point's 4 bits. Errors when σ is not such a power of two.
pub fn sigma_shift(sigma: f32) -> Result<u32> {
    (0..=MAX_SIGMA_SHIFT)
        .find(|&s| sigma == 1.0 / (1u32 << s) as f32)
        .ok_or_else(|| {
            config_err(
                "sigma",
                format!(
                    "{sigma} is not a power of two 2⁻ˢ (s = 0..={MAX_SIGMA_SHIFT}): strategy egg \
                     scales noise by shifts (0.0625 = 2⁻⁴ is nano-egg's)"
                ),
            )
        })
}

/// Checks that every parameter holds integers in `−127..=127`: the error names the first
/// parameter that does not (a float policy given to an int8 model).
pub fn check_int8_params(params: &Params) -> Result<()> {
    for (p, values) in params.iter().zip(params.to_host()?) {
        if let Some((i, v)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.fract() == 0.0 && v.abs() <= 127.0))
        {
            return Err(Error::Param {
                name: p.name().into(),
                reason: format!(
                    "entry {i} is {v}: an int8 model's parameters are integers in −127..=127 \
                     (a float policy? strategy egg trains int8 models: charlm --model egg)"
                ),
            });
        }
    }
    Ok(())
}

/// `Φ⁻¹(p)` for `p ∈ (0, 1)` (Acklam's rational approximation, relative error < 1.2·10⁻⁹).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The integer-vote strategy (`strategy = "egg"`).
#[derive(Debug, Clone)]
pub struct IntVote {
    config: EsConfig,
    horizon: Option<u64>,
}

impl IntVote {
    /// Checks `config` and `params` (integers in `−127..=127`): errors name the field.
    pub fn new(config: EsConfig, params: &Params) -> Result<Self> {
        let n = config.population_size;
        if n < 2 || !n.is_multiple_of(2) || n > 65_536 {
            return Err(config_err(
                "population_size",
                format!(
                    "{n}: strategy egg needs an even population of 2..=65536 (antithetic pairs)"
                ),
            ));
        }
        if config.pairing != Pairing::Antithetic {
            return Err(config_err(
                "pairing",
                "strategy egg votes by antithetic pairs",
            ));
        }
        if !(1..=64).contains(&config.rank) {
            return Err(config_err(
                "rank",
                format!("{} is out of range 1..=64", config.rank),
            ));
        }
        sigma_shift(config.sigma)?;
        // Settings of the float strategies this rule has no use for: refused, not ignored.
        if config.noise_reuse > 1 {
            return Err(config_err(
                "noise_reuse",
                "strategy egg draws fresh noise every generation (0 or 1)",
            ));
        }
        if config.group_size != 0 || config.freeze_nonlora {
            return Err(config_err(
                if config.group_size != 0 {
                    "group_size"
                } else {
                    "freeze_nonlora"
                },
                "strategy egg votes by antithetic pairs over every parameter (group_size = 0, \
                 freeze_nonlora = false)",
            ));
        }
        if config.sigma_schedule != crate::Schedule::Constant {
            return Err(config_err(
                "sigma_schedule",
                "strategy egg keeps σ a fixed power of two (constant)",
            ));
        }
        let lr = config.learning_rate;
        if !(lr > 0.0 && lr <= 1.0) {
            return Err(config_err(
                "learning_rate",
                format!("{lr}: strategy egg reads it as the vote test's level α, in (0, 1]"),
            ));
        }
        config.lr_schedule.validate("lr_schedule")?;
        check_int8_params(params)?;
        Ok(Self {
            config,
            horizon: None,
        })
    }

    fn alpha(&self, generation: u64) -> f64 {
        f64::from(self.config.lr_schedule.value(
            self.config.learning_rate,
            generation,
            self.horizon,
        ))
        .clamp(1e-12, 1.0)
    }
}

/// The block of pair `k` (key `key`): `A` from position 0 of a matrix's block, or `e₁·e₂`
/// from positions `2j`, `2j + 1` for any other parameter.
fn draw_a(key: u64, kind: ParamKind, out: &mut [f32]) {
    let draws = if matches!(kind, ParamKind::Matrix { .. }) {
        1
    } else {
        2
    };
    let mut v = vec![0i8; draws * out.len()];
    fill_block_i8(key, 0, &mut v);
    for (o, e) in out.iter_mut().zip(v.chunks_exact(draws)) {
        *o = f32::from(e.iter().map(|&x| i16::from(x)).product::<i16>());
    }
}

/// A matrix's `B`: from position `m·r` rounded up to even (the f32 low-rank layout).
fn draw_b(key: u64, a_len: usize, out: &mut [f32]) {
    let mut v = vec![0i8; out.len()];
    fill_block_i8(key, (a_len.div_ceil(2) * 2) as u64, &mut v);
    out.iter_mut().zip(&v).for_each(|(o, &x)| *o = f32::from(x));
}

crate::multiversion! {
    /// `z += c · b` on i32.
    fn axpy_i32(z: &mut [i32], c: i32, b: &[i32]) {
        for (zv, &bv) in z.iter_mut().zip(b) {
            *zv += c * bv;
        }
    }
}

impl Strategy for IntVote {
    fn name(&self) -> &str {
        "egg"
    }
    fn population_size(&self) -> usize {
        self.config.population_size
    }
    fn sigma(&self, _generation: u64) -> f32 {
        self.config.sigma
    }
    fn learning_rate(&self, generation: u64) -> f32 {
        self.alpha(generation) as f32
    }

    fn ask(&mut self, params: &Params, generation: u64) -> Result<Population> {
        let (blocks, r) = (self.config.population_size / 2, self.config.rank);
        let seed = self.config.seed;
        let mut noise = Vec::with_capacity(params.len());
        for p in params.iter() {
            let kind = p.kind();
            let (alen, blen) = match kind {
                ParamKind::Matrix { rows, cols } => (rows * r, cols * r),
                ParamKind::Other => (p.numel(), 0),
            };
            let mut a = vec![0.0f32; blocks * alen];
            let mut b = vec![0.0f32; blocks * blen];
            let key = |k: usize| block_key(seed, p.id(), generation, k as u64);
            a.par_chunks_mut(alen)
                .enumerate()
                .for_each(|(k, ak)| draw_a(key(k), kind, ak));
            if blen > 0 {
                b.par_chunks_mut(blen)
                    .enumerate()
                    .for_each(|(k, bk)| draw_b(key(k), alen, bk));
            }
            noise.push(match kind {
                ParamKind::Matrix { rows, cols } => Noise::LowRank {
                    rank: r,
                    a: Tensor::from_vec(a, (blocks, rows, r), &Device::Cpu)?,
                    b: Tensor::from_vec(b, (blocks, cols, r), &Device::Cpu)?,
                },
                ParamKind::Other => Noise::Full {
                    eps: Tensor::from_vec(a, (blocks, p.numel()), &Device::Cpu)?,
                },
            });
        }
        Ok(Population {
            generation,
            epoch: generation,
            seed,
            size: self.config.population_size,
            sigma: self.config.sigma,
            pairing: Pairing::Antithetic,
            noise,
        })
    }

    fn tell(
        &mut self,
        params: &mut Params,
        population: &Population,
        fitness: &[f32],
    ) -> Result<TellReport> {
        if fitness.len() != population.size {
            return Err(Error::FitnessLength {
                expected: population.size,
                got: fitness.len(),
            });
        }
        let votes: Vec<i32> = fitness
            .chunks_exact(2)
            .map(|f| {
                if f[0] > f[1] {
                    1
                } else if f[1] > f[0] {
                    -1
                } else {
                    0
                }
            })
            .collect();
        let voters = votes.iter().filter(|&&v| v != 0).count();
        let alpha = self.alpha(population.generation);
        let z = normal_quantile(1.0 - alpha / 2.0).max(0.0);
        // Every parameter's vote sums and step, in parallel; then the new values are set in
        // order (each parameter's arithmetic is its own: the same bits at any thread count).
        let votes = &votes;
        let stepped: Vec<Option<(Vec<f32>, usize)>> = (0..params.len())
            .into_par_iter()
            .map(|i| {
                let p = params.iter().nth(i).expect("index");
                vote_step(p, &population.noise[i], votes, voters, z)
            })
            .collect::<Result<_>>()?;
        let mut changed = 0usize;
        for (i, s) in stepped.into_iter().enumerate() {
            if let Some((w, c)) = s {
                changed += c;
                let dims = params.iter().nth(i).expect("index").dims().to_vec();
                params.set(i, Tensor::from_vec(w, dims, &Device::Cpu)?)?;
            }
        }
        Ok(TellReport {
            update_norm: (changed as f32).sqrt(),
            sigma: self.config.sigma,
            lr: alpha as f32,
        })
    }

    fn set_horizon(&mut self, generations: u64) -> Result<()> {
        self.horizon = Some(generations.max(1));
        Ok(())
    }
    fn horizon(&self) -> Option<u64> {
        self.horizon
    }

    fn state(&self) -> Result<StrategyState> {
        Ok(StrategyState {
            json: serde_json::json!({ "horizon": self.horizon }),
            tensors: vec![],
        })
    }

    fn load_state(&mut self, state: StrategyState, _params: &Params) -> Result<()> {
        let h = &state.json["horizon"];
        self.horizon = match h {
            serde_json::Value::Null => None,
            v => Some(v.as_u64().ok_or_else(|| Error::Param {
                name: "strategy state".into(),
                reason: format!("horizon {v} is not a generation count"),
            })?),
        };
        Ok(())
    }
}

/// One parameter's vote sums `Z` and its ±1 step where `|Z|` passes the threshold: the new
/// values and how many moved (None: the parameter has no noise).
fn vote_step(
    p: &crate::params::Param,
    noise: &Noise,
    votes: &[i32],
    voters: usize,
    z: f64,
) -> Result<Option<(Vec<f32>, usize)>> {
    let kind = p.kind();
    let mut w = p.tensor().flatten_all()?.to_vec1::<f32>()?;
    let mut zsum = vec![0i32; w.len()];
    let terms = match (noise, kind) {
        (Noise::LowRank { rank, a, b }, ParamKind::Matrix { rows, cols }) => {
            let r = *rank;
            let a = a.flatten_all()?.to_vec1::<f32>()?;
            let b = b.flatten_all()?.to_vec1::<f32>()?;
            let mut bt = vec![0i32; cols];
            for (k, &f) in votes.iter().enumerate().filter(|(_, f)| **f != 0) {
                for q in 0..r {
                    for (j, v) in bt.iter_mut().enumerate() {
                        *v = b[(k * cols + j) * r + q] as i32;
                    }
                    for row in 0..rows {
                        let c = f * a[(k * rows + row) * r + q] as i32;
                        if c != 0 {
                            axpy_i32(&mut zsum[row * cols..(row + 1) * cols], c, &bt);
                        }
                    }
                }
            }
            r
        }
        (Noise::Full { eps }, _) => {
            let e = eps.flatten_all()?.to_vec1::<f32>()?;
            let len = w.len();
            for (k, &f) in votes.iter().enumerate().filter(|(_, f)| **f != 0) {
                for (zv, &ev) in zsum.iter_mut().zip(&e[k * len..(k + 1) * len]) {
                    *zv += f * ev as i32;
                }
            }
            1
        }
        _ => return Ok(None),
    };
    let threshold = z * NOISE_SECOND_MOMENT * ((terms * voters) as f64).sqrt();
    let mut changed = 0;
    for (wv, &zv) in w.iter_mut().zip(&zsum) {
        if zv != 0 && f64::from(zv.abs()) > threshold {
            let next = (*wv + zv.signum() as f32).clamp(-127.0, 127.0);
            if next != *wv {
                changed += 1;
                *wv = next;
            }
        }
    }
    Ok(Some((w, changed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_known_values() {
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.968_75) - 1.862_731_867).abs() < 1e-8);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-8);
    }

    #[test]
    fn sigma_must_be_a_power_of_two() {
        assert_eq!(sigma_shift(0.0625).unwrap(), 4);
        assert_eq!(sigma_shift(1.0).unwrap(), 0);
        assert!(sigma_shift(0.1).unwrap_err().to_string().contains("sigma"));
    }
}
