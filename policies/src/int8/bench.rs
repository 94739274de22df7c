//! `eggroll bench forward --dtype int8`: int8 inference, int8 EGGROLL and the f32 inference of
//! the same MLP shape, measured side by side in interleaved rounds (medians reported).

use candle_core::Device;
use eggroll_core::noise::{block_key, fill_block_i8};
use eggroll_core::{Pairing, Result};
use serde::Serialize;

use super::{Int8Chain, Int8Level};
use crate::bench::{calls_per_sample, median, rate};
use crate::forward::PopulationForward;
use crate::mlp::{Activation, MlpConfig};

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
