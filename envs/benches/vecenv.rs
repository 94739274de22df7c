//! `cargo bench -p eggroll-envs`: VecEnv throughput in member-steps per second.
//!
//! Each iteration starts every member near upright (reset_to) and takes 20 steps with
//! alternating pushes; no member ends within 20 steps, so every counted member-step is real.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eggroll_envs::vec::{Actions, VecEnv};
use eggroll_envs::{CartPoleVec, PendulumVec};

const STEPS: usize = 20;

fn cartpole(c: &mut Criterion) {
    let mut g = c.benchmark_group("vecenv");
    for n in [4096usize, 65536] {
        let mut env = CartPoleVec::new(n);
        // Distinct near-upright states that alternating pushes keep up for 20 steps.
        let start: Vec<[f64; 4]> = (0..n)
            .map(|i| [0.0, 0.0, 1e-3 * ((i % 11) as f64 - 5.0) / 5.0, 0.0])
            .collect();
        let left = vec![0i64; n];
        let right = vec![1i64; n];
        g.throughput(Throughput::Elements((n * STEPS) as u64));
        g.bench_function(format!("cartpole_N{n}"), |b| {
            b.iter(|| {
                env.reset_to(&start);
                for t in 0..STEPS {
                    let a = if t % 2 == 0 { &left } else { &right };
                    env.step(Actions::Discrete(a)).unwrap();
                }
                assert!(!env.done().iter().any(|&d| d));
                black_box(env.observations()[0])
            })
        });
    }
    let n = 4096;
    let mut env = PendulumVec::new(n);
    env.reset(1);
    let start: Vec<[f64; 2]> = env.states().to_vec();
    let u = vec![0.5f32; n];
    g.throughput(Throughput::Elements((n * STEPS) as u64));
    g.bench_function("pendulum_N4096", |b| {
        b.iter(|| {
            env.reset_to(&start);
            for _ in 0..STEPS {
                env.step(Actions::Continuous(&u)).unwrap();
            }
            black_box(env.observations()[0])
        })
    });
    g.finish();
}

criterion_group!(benches, cartpole);
criterion_main!(benches);
