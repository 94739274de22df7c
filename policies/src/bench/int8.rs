//! `eggroll bench forward --dtype int8`: int8 inference, int8 EGGROLL and the f32 inference of
//! the same MLP shape, measured side by side in interleaved rounds (medians reported).

use candle_core::Device;
use eggroll_core::noise::{block_key, fill_block_i8};
use eggroll_core::{Pairing, Result};
use serde::Serialize;

use super::{calls_per_sample, median, rate};
use crate::int8::{Int8Chain, Int8Level};
use crate::mlp::{Activation, MlpConfig};
use crate::nn::fused::PopulationForward;

/// Members per second of each variant and their ratios.
#[derive(Debug, Clone, Serialize)]
pub struct Int8BenchResult {
    /// Always `int8`.
    pub dtype: &'static str,
    /// Members (rows).
    pub population: usize,
    /// Layer widths.
    pub layers: Vec<usize>,
    /// Rank of the int8 noise.
    pub rank: usize,
    /// int8 plain inference (every row through the same int8 weights).
    pub int8_inference_members_per_s: f64,
    /// int8 EGGROLL: every row its member's low-rank perturbed int8 network (cached noise).
    pub eggroll_members_per_s: f64,
    /// f32 plain inference of the same widths (tanh, the fused f32 kernel).
    pub f32_inference_members_per_s: f64,
    /// int8 EGGROLL / int8 inference.
    pub eggroll_vs_inference: f64,
    /// int8 EGGROLL / f32 inference.
    pub eggroll_vs_f32_inference: f64,
    /// int8 inference / f32 inference.
    pub inference_vs_f32_inference: f64,
    /// The int8 kernel level.
    pub int8_level: &'static str,
    /// The f32 kernels' SIMD level.
    pub simd: String,
    /// Worker threads.
    pub threads: usize,
}

/// Measure the MLP `layers` at `population` members, rank `rank`, over `rounds` rounds.
pub fn mlp(
    population: usize,
    layers: &[usize],
    rank: usize,
    rounds: usize,
) -> Result<Int8BenchResult> {
    let chain = Int8Chain::init(layers, 0)?;
    let pop = chain.population(population, Pairing::Antithetic, 0, 1, rank, 8)?;
    let din = layers[0];
    let dout = *layers.last().expect("checked by init");
    let mut x = vec![0i8; population * din];
    fill_block_i8(block_key(0, 0, 0, 0), 0, &mut x);
    let cfg = MlpConfig {
        sizes: layers.to_vec(),
        activation: Activation::Tanh,
        bias: true,
    };
    let params = cfg.init(0, &Device::Cpu)?;
    let xf: Vec<f32> = x.iter().map(|&v| f32::from(v) / 32.0).collect();
    let (mut o8, mut of) = (
        vec![0i8; population * dout],
        vec![0.0f32; population * dout],
    );
    let rows = population as f64;
    let calls = calls_per_sample(&mut || chain.forward(&x, None, &mut o8))?;
    let (mut inf, mut egg, mut f32i) = (vec![], vec![], vec![]);
    for round in 0..=rounds.max(1) {
        let a = rate(calls, rows, &mut || chain.forward(&x, None, &mut o8))?;
        let b = rate(calls, rows, &mut || chain.forward(&x, Some(&pop), &mut o8))?;
        let c = rate(calls, rows, &mut || {
            PopulationForward::new(&cfg, &params, None)?.forward(&xf, None, &mut of)
        })?;
        if round > 0 {
            inf.push(a);
            egg.push(b);
            f32i.push(c);
        }
    }
    let (inf, egg, f32i) = (median(inf), median(egg), median(f32i));
    Ok(Int8BenchResult {
        dtype: "int8",
        population,
        layers: layers.to_vec(),
        rank,
        int8_inference_members_per_s: inf,
        eggroll_members_per_s: egg,
        f32_inference_members_per_s: f32i,
        eggroll_vs_inference: egg / inf,
        eggroll_vs_f32_inference: egg / f32i,
        inference_vs_f32_inference: inf / f32i,
        int8_level: Int8Level::detect().name(),
        simd: format!("{:?}", eggroll_core::simd::level()),
        threads: rayon::current_num_threads(),
    })
}

/// `bench forward --dtype int8 --model egg`: member-tokens per second of the EGG model's int8
/// inference and int8 EGGROLL (strategy `egg`'s population), and of the f32 minGRU language
/// model of the same width, depth and context (charlm's `--model mingru`, plain inference),
/// interleaved in `rounds` rounds (medians).
#[derive(Debug, Clone, Serialize)]
pub struct EggBenchResult {
    /// Always `int8`.
    pub dtype: &'static str,
    /// Always `egg`.
    pub model: &'static str,
    /// Members, each on its own byte window.
    pub population: usize,
    /// Width.
    pub width: usize,
    /// Blocks.
    pub layers: usize,
    /// Positions per window.
    pub context: usize,
    /// EGG parameters (int8).
    pub params: usize,
    /// The f32 minGRU's parameters.
    pub f32_params: usize,
    /// EGG, unperturbed, every member's window.
    pub int8_inference_member_tokens_per_s: f64,
    /// EGG, every member perturbed (int8 EGGROLL).
    pub eggroll_member_tokens_per_s: f64,
    /// The f32 minGRU's plain inference on the same windows.
    pub f32_inference_member_tokens_per_s: f64,
    /// EGGROLL / int8 inference.
    pub eggroll_vs_inference: f64,
    /// EGGROLL / f32 inference.
    pub eggroll_vs_f32_inference: f64,
    /// The int8 kernel level.
    pub int8_level: &'static str,
    /// Worker threads.
    pub threads: usize,
}

/// Measure EGG at `width` × `layers`, `context` positions, `population` members, noise rank
/// `rank`.
pub fn egg(
    population: usize,
    width: usize,
    layers: usize,
    context: usize,
    rank: usize,
    rounds: usize,
) -> Result<EggBenchResult> {
    use crate::egg::{EggModel, EggPopulation, EggSpec, IntLikelihood, score_population};
    use eggroll_core::Strategy;
    let spec = EggSpec { width, layers };
    let params = spec.init(0)?;
    let es = eggroll_core::EsConfig {
        population_size: population,
        sigma: 0.0625,
        learning_rate: 0.2,
        rank,
        ..eggroll_core::EsConfig::default()
    };
    let pop = eggroll_core::strategy::egg::IntVote::new(es, &params)?.ask(&params, 1)?;
    let model = EggModel::new(spec, &params)?;
    let noise = EggPopulation::new(&spec, &pop)?;
    let text: Vec<u8> = (0..population * 7 + context + 1)
        .map(|i| b"the quick brown fox jumps over the lazy dog. "[(i * 7 + i / 11) % 45])
        .collect();
    let windows: Vec<&[u8]> = (0..population)
        .map(|p| &text[(p / 2) * 7..(p / 2) * 7 + context + 1])
        .collect();
    let ids: Vec<u32> = (0..population as u32).collect();
    let lm = crate::charlm::LmSpec {
        kind: crate::charlm::LmKind::Mingru,
        width,
        depth: layers,
        heads: 2,
        context,
        alibi: None,
    };
    let net = lm.build()?;
    let fparams = net.init(0, &Device::Cpu)?;
    let xf: Vec<f32> = windows
        .iter()
        .flat_map(|w| w[..context].iter().map(|&b| f32::from(b)))
        .collect();
    let work = (population * context) as f64;
    let sink = std::cell::Cell::new(0.0f64);
    let int8 = || -> Result<()> {
        let s = score_population(&model, &windows, &ids, None, &IntLikelihood);
        sink.set(sink.get() + s[0]);
        Ok(())
    };
    let calls = calls_per_sample(&mut { int8 })?;
    let (mut inf, mut egg, mut f32i) = (vec![], vec![], vec![]);
    for round in 0..=rounds.max(1) {
        let a = rate(calls, work, &mut { int8 })?;
        let b = rate(calls, work, &mut || {
            let s = score_population(&model, &windows, &ids, Some(&noise), &IntLikelihood);
            sink.set(sink.get() + s[0]);
            Ok(())
        })?;
        let c = rate(calls, work, &mut || {
            let y = net.forward(&fparams, None, &xf, None)?;
            sink.set(sink.get() + f64::from(y[0]));
            Ok(())
        })?;
        if round > 0 {
            inf.push(a);
            egg.push(b);
            f32i.push(c);
        }
    }
    std::hint::black_box(sink.get());
    let (inf, egg, f32i) = (median(inf), median(egg), median(f32i));
    Ok(EggBenchResult {
        dtype: "int8",
        model: "egg",
        population,
        width,
        layers,
        context,
        params: spec.num_params(),
        f32_params: net.num_params(),
        int8_inference_member_tokens_per_s: inf,
        eggroll_member_tokens_per_s: egg,
        f32_inference_member_tokens_per_s: f32i,
        eggroll_vs_inference: egg / inf,
        eggroll_vs_f32_inference: egg / f32i,
        int8_level: Int8Level::detect().name(),
        threads: rayon::current_num_threads(),
    })
}
