//! `cargo bench -p eggroll-core`: noise generation, the update GEMM and one sphere generation.

use std::hint::black_box;

use candle_core::{DType, Device, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eggroll_core::population::draw_lowrank;
use eggroll_core::problems::{Objective, Problem};
use eggroll_core::*;

fn noise(c: &mut Criterion) {
    let mut g = c.benchmark_group("noise");
    // N = 4096 members (2048 pairs), one 256×256 layer, r = 1: 2048·(256+256) normals.
    let (pairs, m, n, r) = (2048usize, 256usize, 256usize, 1usize);
    g.throughput(Throughput::Elements((pairs * (m + n) * r) as u64));
    g.bench_function("lowrank_N4096_256x256_r1", |b| {
        b.iter(|| black_box(draw_lowrank(1, 2, 3, pairs, m, n, r)))
    });
    let mut out = vec![0.0f32; 1 << 20];
    g.throughput(Throughput::Elements(out.len() as u64));
    g.bench_function("fill_block_1M_one_thread", |b| {
        b.iter(|| noise::fill_block(black_box(42), 0, &mut out))
    });
    g.finish();
}

fn update(c: &mut Criterion) {
    let mut g = c.benchmark_group("update");
    let (pairs, m, n, r) = (2048usize, 256usize, 256usize, 1usize);
    let (a, b) = draw_lowrank(1, 2, 3, pairs, m, n, r);
    let w: Vec<f32> = (0..pairs).map(|k| (k as f32).sin()).collect();
    g.throughput(Throughput::Elements((pairs * r * m * n) as u64));
    g.bench_function("lowrank_gemm_N4096_256x256_r1", |bch| {
        bch.iter(|| black_box(kernels::lowrank_update(&a, &b, &w, m, n, r)))
    });
    // The same product through candle's matmul (gemm crate), for comparison.
    let at = Tensor::from_vec(a.clone(), (pairs, m), &Device::Cpu).unwrap();
    let bt = Tensor::from_vec(b.clone(), (pairs, n), &Device::Cpu).unwrap();
    let wt = Tensor::from_vec(w.clone(), (pairs, 1), &Device::Cpu).unwrap();
    g.bench_function("candle_matmul_N4096_256x256_r1", |bch| {
        bch.iter(|| {
            black_box(
                at.broadcast_mul(&wt)
                    .unwrap()
                    .t()
                    .unwrap()
                    .matmul(&bt)
                    .unwrap(),
            )
        })
    });
    g.finish();
}

fn generation(c: &mut Criterion) {
    let mut g = c.benchmark_group("generation");
    let problem = Problem::new(Objective::Sphere, 64, 64, 0);
    let params = Params::new()
        .with(
            "w",
            Tensor::zeros((64, 64), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap();
    let cfg = EsConfig {
        population_size: 128,
        sigma: 0.05,
        learning_rate: 0.05,
        ..EsConfig::default()
    };
    let mut trainer = Trainer::new(Eggroll::new(cfg, &params).unwrap(), params);
    let mut eval = FnEvaluator::new(move |p: &ParamView| problem.fitness(p.values(0)));
    g.throughput(Throughput::Elements(128));
    g.bench_function("sphere_64x64_N128", |b| {
        b.iter(|| black_box(trainer.step(&mut eval).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, noise, update, generation);
criterion_main!(benches);
