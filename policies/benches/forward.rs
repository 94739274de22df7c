//! `cargo bench -p eggroll-policies`: the population forward in members per second, plain
//! inference beside EGGROLL (cached noise) and the materialised per-member baseline, on the
//! same inputs (N = 1024, 256-256-256, r = 1; and Pendulum's 3-64-64-1 at N = 2048).
//!
//! `eggroll bench forward` measures the same variants interleaved in one run and prints the
//! ratios; this bench gives criterion's statistics for each.

use std::hint::black_box;

use candle_core::Device;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eggroll_core::{Eggroll, EsConfig, Strategy};
use eggroll_policies::{Activation, MlpConfig};
use eggroll_policies::{PopulationForward, materialized_forward};

fn forward(c: &mut Criterion) {
    for (n, sizes) in [(1024usize, vec![256, 256, 256]), (2048, vec![3, 64, 64, 1])] {
        let cfg = MlpConfig {
            sizes: sizes.clone(),
            activation: Activation::Tanh,
            bias: true,
        };
        let params = cfg.init(0, &Device::Cpu).unwrap();
        let es = EsConfig {
            population_size: n,
            rank: 1,
            sigma: 0.1,
            ..EsConfig::default()
        };
        let pop = Eggroll::new(es, &params).unwrap().ask(&params, 0).unwrap();
        let (din, dout) = (sizes[0], *sizes.last().unwrap());
        let x: Vec<f32> = (0..n * din)
            .map(|i| ((i % 97) as f32 / 48.0) - 1.0)
            .collect();
        let mut out = vec![0.0f32; n * dout];
        let tag = sizes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("-");
        let mut g = c.benchmark_group(format!("forward_{tag}"));
        g.sample_size(20);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("inference_N{n}"), |b| {
            let f = PopulationForward::new(&cfg, &params, None).unwrap();
            b.iter(|| {
                f.forward(&x, None, &mut out).unwrap();
                black_box(out[0])
            })
        });
        g.bench_function(format!("eggroll_N{n}"), |b| {
            let f = PopulationForward::new(&cfg, &params, Some(&pop)).unwrap();
            b.iter(|| {
                f.forward(&x, None, &mut out).unwrap();
                black_box(out[0])
            })
        });
        // The baseline is slow: time 64 members and report members/s for those.
        let rows = 64;
        let mut mout = vec![0.0f32; rows * dout];
        g.throughput(Throughput::Elements(rows as u64));
        g.bench_function("materialized_64_members", |b| {
            b.iter(|| {
                materialized_forward(&cfg, &params, &pop, &x[..rows * din], None, &mut mout)
                    .unwrap();
                black_box(mout[0])
            })
        });
        g.finish();
    }
}

criterion_group!(benches, forward);
criterion_main!(benches);
