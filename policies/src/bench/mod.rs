//! The forward benchmark behind `eggroll bench forward`: members per second of plain batched
//! inference, EGGROLL with cached noise, EGGROLL with the noise drawn inside the timed region,
//! and the materialised per-member baseline, measured side by side in interleaved rounds.
//!
//! [`int8`]: the same for the int8 layers and the EGG model (`--dtype int8`).

pub mod int8;

use std::time::Instant;

use candle_core::{Device, Tensor};
use eggroll_core::{Eggroll, EsConfig, Result, Strategy};
use serde::Serialize;

use crate::device::{DeviceForward, LowRankPath};
use crate::mlp::{Activation, MlpConfig};
use crate::{PopulationForward, materialized_forward};

/// Benchmark settings.
#[derive(Debug, Clone)]
pub struct ForwardBench {
    /// Members (rows).
    pub population: usize,
    /// Layer widths including input and output.
    pub layers: Vec<usize>,
    /// Low-rank rank.
    pub rank: usize,
    /// Interleaved measurement rounds (the median is reported).
    pub rounds: usize,
    /// Rows evaluated by the (slow) materialised baseline per round.
    pub materialized_rows: usize,
    /// Where to run: the CPU (the fused host forward) or a candle device such as CUDA
    /// ([`DeviceForward`] with inputs already on the device; timings synchronise the device).
    pub device: Device,
}

/// The MNIST-style benchmark: every member classifies the same batch of inputs.
#[derive(Debug, Clone, Serialize)]
pub struct SharedBatchResult {
    /// Members.
    pub population: usize,
    /// Inputs per member (the shared batch).
    pub batch: usize,
    /// Layer widths.
    pub layers: Vec<usize>,
    /// Plain inference of the same network on members × batch rows (shared weights).
    pub inference_member_inputs_per_s: f64,
    /// The EGGROLL shared-input forward (one GEMM for every member's first layer).
    pub eggroll_member_inputs_per_s: f64,
    /// eggroll / inference.
    pub eggroll_vs_inference: f64,
    /// The materialised baseline (layered models): each member's weights formed, then its
    /// plain forward on the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materialized_member_inputs_per_s: Option<f64>,
    /// materialised / inference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materialized_vs_inference: Option<f64>,
}

/// Members × inputs per second for the shared-batch forward vs plain inference on the same
/// members × batch rows, side by side in interleaved rounds (median reported).
pub fn shared_batch(
    population: usize,
    batch: usize,
    layers: &[usize],
    rank: usize,
    rounds: usize,
) -> Result<SharedBatchResult> {
    let cfg = MlpConfig {
        sizes: layers.to_vec(),
        activation: Activation::Tanh,
        bias: true,
    };
    let params = cfg.init(0, &Device::Cpu)?;
    let es = EsConfig {
        population_size: population,
        rank,
        ..EsConfig::default()
    };
    let pop = Eggroll::new(es, &params)?.ask(&params, 0)?;
    let din = layers[0];
    let dout = *layers.last().expect("validated");
    let x: Vec<f32> = (0..batch * din)
        .map(|i| ((i % 89) as f32 / 44.0) - 1.0)
        .collect();
    let tiled = x.repeat(population);
    let (mut out_a, mut out_b) = (
        vec![0.0f32; population * batch * dout],
        vec![0.0f32; population * batch * dout],
    );
    let (inf, egg) = interleaved(
        rounds,
        (population * batch) as f64,
        &mut || PopulationForward::new(&cfg, &params, None)?.forward(&tiled, None, &mut out_a),
        &mut || {
            PopulationForward::new(&cfg, &params, Some(&pop))?.forward_shared(
                &x,
                0..population,
                &mut out_b,
            )
        },
    )?;
    Ok(SharedBatchResult {
        population,
        batch,
        layers: layers.to_vec(),
        inference_member_inputs_per_s: inf,
        eggroll_member_inputs_per_s: egg,
        eggroll_vs_inference: egg / inf,
        materialized_member_inputs_per_s: None,
        materialized_vs_inference: None,
    })
}

/// The MNIST-style benchmark for a layered model (e.g. `--model cnn`): every member
/// classifies the same batch of `input`-shaped rows. Plain inference of the same model on the
/// members × batch rows vs the EGGROLL shared-input population forward
/// ([`crate::nn::Model::forward_shared`]), side by side in interleaved rounds (median
/// reported). `layers` in the result is `[inputs, outputs]`.
pub fn model_shared_batch(
    model: &crate::nn::Model,
    population: usize,
    batch: usize,
    rank: usize,
    rounds: usize,
    device: &Device,
) -> Result<SharedBatchResult> {
    let din: usize = model.input_shape().iter().product();
    let dout: usize = model.output_shape().iter().product();
    let x: Vec<f32> = (0..batch * din).map(|i| (i % 89) as f32 / 89.0).collect();
    let (inf, egg, mat) = model_rates(model, population, rank, rounds, device, &x, batch)?;
    Ok(SharedBatchResult {
        population,
        batch,
        layers: vec![din, dout],
        inference_member_inputs_per_s: inf,
        eggroll_member_inputs_per_s: egg,
        eggroll_vs_inference: egg / inf,
        materialized_member_inputs_per_s: Some(mat),
        materialized_vs_inference: Some(mat / inf),
    })
}

/// `work` per second (each member does `work_per_member` on the shared rows `x`) of a
/// layered model three ways: plain inference on the members' tiled rows and the EGGROLL
/// shared-input forward, interleaved for `rounds` rounds (medians), then the materialised
/// baseline.
fn model_rates(
    model: &crate::nn::Model,
    population: usize,
    rank: usize,
    rounds: usize,
    device: &Device,
    x: &[f32],
    work_per_member: usize,
) -> Result<(f64, f64, f64)> {
    let (params, pop) = model_population(model, population, rank, device)?;
    let tiled = x.repeat(population);
    let (inf, egg) = interleaved(
        rounds,
        (population * work_per_member) as f64,
        &mut || model.forward(&params, None, &tiled, None).map(drop),
        &mut || {
            model
                .forward_shared(&params, &pop, x, 0..population)
                .map(drop)
        },
    )?;
    let mat = materialized_rate(model, &params, &pop, x, work_per_member, rounds)?;
    Ok((inf, egg, mat))
}

/// Members timed for the materialised baseline (it scales linearly with them).
const MATERIALIZED_MEMBERS: usize = 8;

/// `work` per member per second of the materialised baseline on the first members: each
/// member's weights formed on the host, then its plain forward on `x` (median of up to 3
/// rounds).
fn materialized_rate(
    model: &crate::nn::Model,
    params: &eggroll_core::Params,
    pop: &eggroll_core::Population,
    x: &[f32],
    work: usize,
    rounds: usize,
) -> Result<f64> {
    let sample = pop.size.clamp(1, MATERIALIZED_MEMBERS);
    let base = params.to_host()?;
    let times = (0..rounds.clamp(1, 3))
        .map(|_| {
            rate(1, (sample * work) as f64, &mut || {
                for m in 0..sample {
                    let values = pop.materialize(params, &base, m)?;
                    let member = params.from_host_like(&values)?;
                    model.forward(&member, None, x, None)?;
                }
                Ok(())
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(median(times))
}

/// A layered model's initial parameters on `device` and an EGGROLL population of generation
/// 0 over them (off the CPU, the layers run as candle ops there: `Model::forward_candle`).
fn model_population(
    model: &crate::nn::Model,
    population: usize,
    rank: usize,
    device: &Device,
) -> Result<(eggroll_core::Params, eggroll_core::Population)> {
    let params = model.init(0, &Device::Cpu)?.to_device(device)?;
    let es = EsConfig {
        population_size: population,
        rank,
        ..EsConfig::default()
    };
    let pop = Eggroll::new(es, &params)?.ask(&params, 0)?;
    Ok((params, pop))
}

/// How many calls of `f` make one timed sample of ≥ 4 ms, so one scheduler hiccup on a shared
/// machine moves a sample by little (a 4-64-64-2 forward is ~0.2 ms). Measured over 0.1 s of
/// warm-up calls, which also wake every worker of the thread pool.
pub(crate) fn calls_per_sample(f: &mut dyn FnMut() -> Result<()>) -> Result<usize> {
    let (t, mut k) = (Instant::now(), 0u32);
    while k < 3 || t.elapsed().as_secs_f64() < 0.1 {
        f()?;
        k += 1;
    }
    let per_call = t.elapsed().as_secs_f64() / f64::from(k);
    Ok((0.004 / per_call).ceil().clamp(1.0, 1000.0) as usize)
}

/// `work` per second of `calls` calls of `f`.
pub(crate) fn rate(calls: usize, work: f64, f: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
    let t = Instant::now();
    for _ in 0..calls {
        f()?;
    }
    Ok(calls as f64 * work / t.elapsed().as_secs_f64())
}

/// `work` per call per second of `a` and of `b` (medians), timed in alternation for `rounds`
/// rounds after one warm-up round, each sample [`calls_per_sample`] calls.
fn interleaved(
    rounds: usize,
    work: f64,
    a: &mut dyn FnMut() -> Result<()>,
    b: &mut dyn FnMut() -> Result<()>,
) -> Result<(f64, f64)> {
    let calls = calls_per_sample(a)?;
    let (mut ra, mut rb) = (vec![], vec![]);
    for round in 0..=rounds {
        let (sa, sb) = (rate(calls, work, a)?, rate(calls, work, b)?);
        if round > 0 {
            ra.push(sa);
            rb.push(sb);
        }
    }
    Ok((median(ra), median(rb)))
}

/// Members per second of each variant, and the ratios to plain inference.
#[derive(Debug, Clone, Serialize)]
pub struct ForwardBenchResult {
    /// Population size.
    pub population: usize,
    /// Layer widths.
    pub layers: Vec<usize>,
    /// Rank.
    pub rank: usize,
    /// Plain batched inference (shared weights): the ceiling.
    pub inference_members_per_s: f64,
    /// EGGROLL forward, noise generated beforehand.
    pub eggroll_members_per_s: f64,
    /// EGGROLL forward with the generation's noise drawn inside the timed region.
    pub eggroll_noise_members_per_s: f64,
    /// Materialising each member's weights, then a per-member forward.
    pub materialized_members_per_s: f64,
    /// eggroll / inference.
    pub eggroll_vs_inference: f64,
    /// eggroll with noise / inference.
    pub eggroll_noise_vs_inference: f64,
    /// materialised / inference.
    pub materialized_vs_inference: f64,
    /// Device forward only: the low-rank correction through candle's generic ops instead of
    /// the fused op (cached noise), members/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eggroll_ops_members_per_s: Option<f64>,
    /// CPU: the same MLP built from the population layers ([`crate::MlpConfig::model`], one
    /// layer at a time instead of the fused chunk pass; the same bits), cached noise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers_members_per_s: Option<f64>,
    /// layers / inference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers_vs_inference: Option<f64>,
    /// The device: `cpu` or `cuda:N`.
    pub device: String,
    /// The SIMD level the kernels used.
    pub simd: String,
    /// Worker threads.
    pub threads: usize,
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

impl ForwardBench {
    /// Run the benchmark.
    pub fn run(&self) -> Result<ForwardBenchResult> {
        if !matches!(self.device, Device::Cpu) {
            return self.run_device();
        }
        let cfg = MlpConfig {
            sizes: self.layers.clone(),
            activation: Activation::Tanh,
            bias: true,
        };
        let params = cfg.init(0, &Device::Cpu)?;
        let es = EsConfig {
            population_size: self.population,
            rank: self.rank,
            sigma: 0.1,
            ..EsConfig::default()
        };
        let mut strategy = Eggroll::new(es, &params)?;
        let din = self.layers[0];
        let dout = *self.layers.last().expect("validated");
        let n = self.population;
        let x: Vec<f32> = (0..n * din)
            .map(|i| ((i % 97) as f32 / 48.0) - 1.0)
            .collect();
        let mut out = vec![0.0f32; n * dout];
        let mrows = self.materialized_rows.clamp(1, n);
        let mut mout = vec![0.0f32; mrows * dout];
        let cached = strategy.ask(&params, 0)?;
        let model = cfg.model()?;
        let (mut inf, mut egg, mut eggn, mut mat) = (vec![], vec![], vec![], vec![]);
        let mut lay = vec![];
        let calls = calls_per_sample(&mut || {
            PopulationForward::new(&cfg, &params, None)?.forward(&x, None, &mut out)
        })?;
        let rows = n as f64;
        let mut generation = 1u64;
        for round in 0..=self.rounds {
            let r_inf = rate(calls, rows, &mut || {
                PopulationForward::new(&cfg, &params, None)?.forward(&x, None, &mut out)
            })?;
            let r_egg = rate(calls, rows, &mut || {
                PopulationForward::new(&cfg, &params, Some(&cached))?.forward(&x, None, &mut out)
            })?;
            let r_eggn = rate(calls, rows, &mut || {
                let pop = strategy.ask(&params, generation)?;
                generation += 1;
                PopulationForward::new(&cfg, &params, Some(&pop))?.forward(&x, None, &mut out)
            })?;
            let r_mat = rate(1, mrows as f64, &mut || {
                materialized_forward(&cfg, &params, &cached, &x[..mrows * din], None, &mut mout)
            })?;
            let r_lay = rate(calls, rows, &mut || {
                let y = model.forward(&params, Some(&cached), &x, None)?;
                debug_assert_eq!(y.len(), out.len());
                Ok(())
            })?;
            if round > 0 {
                // Round 0 warms caches and the thread pool.
                lay.push(r_lay);
                inf.push(r_inf);
                egg.push(r_egg);
                eggn.push(r_eggn);
                mat.push(r_mat);
            }
        }
        let (inf, egg, eggn, mat) = (median(inf), median(egg), median(eggn), median(mat));
        let lay = median(lay);
        Ok(ForwardBenchResult {
            layers_members_per_s: Some(lay),
            layers_vs_inference: Some(lay / inf),
            population: n,
            layers: self.layers.clone(),
            rank: self.rank,
            inference_members_per_s: inf,
            eggroll_members_per_s: egg,
            eggroll_noise_members_per_s: eggn,
            materialized_members_per_s: mat,
            eggroll_vs_inference: egg / inf,
            eggroll_noise_vs_inference: eggn / inf,
            materialized_vs_inference: mat / inf,
            eggroll_ops_members_per_s: None,
            device: "cpu".into(),
            simd: format!("{:?}", eggroll_core::simd::level()),
            threads: rayon::current_num_threads(),
        })
    }
}

impl ForwardBench {
    /// The device variant: parameters, noise and inputs live on the device; every timed call
    /// ends with a device synchronisation. The noise-inclusive variant draws the generation's
    /// noise with the same counters on the host and uploads it once (what training does).
    ///
    /// Public so the device code path can be exercised on the CPU device too.
    pub fn run_device(&self) -> Result<ForwardBenchResult> {
        let dev = &self.device;
        let cfg = MlpConfig {
            sizes: self.layers.clone(),
            activation: Activation::Tanh,
            bias: true,
        };
        let params = cfg.init(0, &Device::Cpu)?.to_device(dev)?;
        let es = EsConfig {
            population_size: self.population,
            rank: self.rank,
            sigma: 0.1,
            ..EsConfig::default()
        };
        let mut strategy = Eggroll::new(es, &params)?;
        let din = self.layers[0];
        let n = self.population;
        let xh: Vec<f32> = (0..n * din)
            .map(|i| ((i % 97) as f32 / 48.0) - 1.0)
            .collect();
        let x = Tensor::from_vec(xh, (n, din), dev)?;
        // The baseline holds (rows, m, n) weights per layer: at most 2^28 floats (1 GiB).
        let max_mn = self
            .layers
            .windows(2)
            .map(|w| w[0] * w[1])
            .max()
            .unwrap_or(1);
        let mrows = self
            .materialized_rows
            .min((1usize << 28) / max_mn.max(1))
            .clamp(1, n);
        let xm = x.narrow(0, 0, mrows)?;
        let cached = strategy.ask(&params, 0)?;
        let plain = DeviceForward::new(&cfg, &params, None, dev)?;
        let fused = DeviceForward::new(&cfg, &params, Some(&cached), dev)?;
        let ops =
            DeviceForward::new(&cfg, &params, Some(&cached), dev)?.with_path(LowRankPath::Ops);
        let timed = |f: &dyn Fn() -> Result<()>| -> Result<f64> {
            dev.synchronize()?;
            let t = Instant::now();
            f()?;
            dev.synchronize()?;
            Ok(t.elapsed().as_secs_f64())
        };
        let (mut inf, mut egg, mut eggn, mut mat, mut eops) =
            (vec![], vec![], vec![], vec![], vec![]);
        for round in 0..=self.rounds {
            let t_inf = timed(&|| plain.forward_tensor(&x, None).map(drop))?;
            let t_egg = timed(&|| fused.forward_tensor(&x, None).map(drop))?;
            let t_ops = timed(&|| ops.forward_tensor(&x, None).map(drop))?;
            let t_eggn = {
                dev.synchronize()?;
                let t = Instant::now();
                let pop = strategy.ask(&params, 1 + round as u64)?;
                DeviceForward::new(&cfg, &params, Some(&pop), dev)?.forward_tensor(&x, None)?;
                dev.synchronize()?;
                t.elapsed().as_secs_f64()
            };
            let t_mat = timed(&|| {
                crate::device::materialized_forward_tensor(&cfg, &params, &cached, &xm).map(drop)
            })?;
            if round > 0 {
                inf.push(n as f64 / t_inf);
                egg.push(n as f64 / t_egg);
                eops.push(n as f64 / t_ops);
                eggn.push(n as f64 / t_eggn);
                mat.push(mrows as f64 / t_mat);
            }
        }
        let (inf, egg, eggn, mat, eops) = (
            median(inf),
            median(egg),
            median(eggn),
            median(mat),
            median(eops),
        );
        Ok(ForwardBenchResult {
            population: n,
            layers: self.layers.clone(),
            rank: self.rank,
            inference_members_per_s: inf,
            eggroll_members_per_s: egg,
            eggroll_noise_members_per_s: eggn,
            materialized_members_per_s: mat,
            eggroll_vs_inference: egg / inf,
            eggroll_noise_vs_inference: eggn / inf,
            materialized_vs_inference: mat / inf,
            eggroll_ops_members_per_s: Some(eops),
            layers_members_per_s: None,
            layers_vs_inference: None,
            device: match dev.location() {
                candle_core::DeviceLocation::Cpu => "cpu".into(),
                candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
                other => format!("{other:?}"),
            },
            simd: format!("{:?}", eggroll_core::simd::level()),
            threads: rayon::current_num_threads(),
        })
    }
}

/// What [`sequence_model`] measured: member-tokens per second of one model on a shared batch
/// of sequences, three ways side by side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SequenceResult {
    /// Members.
    pub population: usize,
    /// Sequences per member (the shared batch).
    pub batch: usize,
    /// Tokens per sequence.
    pub context: usize,
    /// Parameters of the model.
    pub params: usize,
    /// Plain batched inference of the unperturbed model on members × batch sequences.
    pub inference_member_tokens_per_s: f64,
    /// EGGROLL: every member's perturbed forward in one batched pass.
    pub eggroll_member_tokens_per_s: f64,
    /// Materialised: each member's `W + σE` formed, then a plain forward (timed on
    /// `materialized_members` members and scaled).
    pub materialized_member_tokens_per_s: f64,
    /// Members timed for the materialised baseline.
    pub materialized_members: usize,
    /// eggroll / inference.
    pub eggroll_vs_inference: f64,
    /// materialised / inference.
    pub materialized_vs_inference: f64,
}

/// Member-tokens/s of a sequence model (token-id rows of length `context`, e.g. charlm's
/// transformer or minGRU): plain inference, the EGGROLL population forward and the
/// materialised per-member baseline, interleaved in `rounds` rounds (medians).
pub fn sequence_model(
    model: &crate::nn::Model,
    vocab: usize,
    population: usize,
    batch: usize,
    rank: usize,
    rounds: usize,
    device: &Device,
) -> Result<SequenceResult> {
    let context: usize = model.input_shape().iter().product();
    let x: Vec<f32> = (0..batch * context)
        .map(|i| ((i * 7 + 3) % vocab) as f32)
        .collect();
    let work = batch * context;
    let (inf, egg, mat) = model_rates(model, population, rank, rounds, device, &x, work)?;
    Ok(SequenceResult {
        population,
        batch,
        context,
        params: model.num_params(),
        inference_member_tokens_per_s: inf,
        eggroll_member_tokens_per_s: egg,
        materialized_member_tokens_per_s: mat,
        materialized_members: population.clamp(1, MATERIALIZED_MEMBERS),
        eggroll_vs_inference: egg / inf,
        materialized_vs_inference: mat / inf,
    })
}
