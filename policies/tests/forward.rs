//! The batched population forward equals the materialised reference.
#![allow(clippy::needless_range_loop)]

use candle_core::Device;
use eggroll_core::{EsConfig, Params, Population};
use eggroll_policies::{Activation, MlpConfig};
use eggroll_policies::{PopulationForward, materialized_forward};

mod common;
use common::{inputs, max_abs_diff};

fn setup(cfg: &MlpConfig, es: EsConfig, simple: bool) -> (Params, Population) {
    common::setup(cfg, es, simple, &Device::Cpu)
}

/// Max abs error ≤ 1e-4 in f32 for r ∈ {1, 2, 4}, with and without biases, frozen and
/// unfrozen, tanh and relu, and for SimpleES's full-rank noise.
#[test]
fn batched_forward_equals_materialized_reference() {
    let mut checked = 0;
    for bias in [true, false] {
        for act in [Activation::Tanh, Activation::Relu] {
            for (rank, simple) in [(1, false), (2, false), (4, false), (1, true)] {
                for freeze in [false, true] {
                    let cfg = MlpConfig {
                        sizes: vec![6, 17, 9, 4],
                        activation: act,
                        bias,
                    };
                    let es = EsConfig {
                        population_size: 40,
                        rank,
                        sigma: 0.3,
                        freeze_nonlora: freeze,
                        ..EsConfig::default()
                    };
                    let (params, pop) = setup(&cfg, es, simple);
                    // 200 rows (several chunks), rows mapped to members out of order.
                    let rows = 200;
                    let members: Vec<u32> = (0..rows as u32).map(|i| (i * 7) % 40).collect();
                    let x = inputs(rows, 6);
                    let mut fast = vec![0.0; rows * 4];
                    let mut slow = vec![0.0; rows * 4];
                    PopulationForward::new(&cfg, &params, Some(&pop))
                        .unwrap()
                        .forward(&x, Some(&members), &mut fast)
                        .unwrap();
                    materialized_forward(&cfg, &params, &pop, &x, Some(&members), &mut slow)
                        .unwrap();
                    let d = max_abs_diff(&fast, &slow);
                    assert!(
                        d <= 1e-4,
                        "bias={bias} act={act:?} r={rank} simple={simple} freeze={freeze}: {d}"
                    );
                    // The perturbation matters: outputs differ from plain inference.
                    let mut plain = vec![0.0; rows * 4];
                    PopulationForward::new(&cfg, &params, None)
                        .unwrap()
                        .forward(&x, Some(&members), &mut plain)
                        .unwrap();
                    assert!(max_abs_diff(&fast, &plain) > 1e-3);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 32);
}

/// For a single linear layer the outputs of members 2k and 2k+1 mirror the base output:
/// y(2k) + y(2k+1) = 2 y_base.
#[test]
fn antithetic_outputs_mirror_the_base_for_linear_layers() {
    for rank in [1, 3] {
        let cfg = MlpConfig {
            sizes: vec![8, 5],
            activation: Activation::Tanh,
            bias: true,
        };
        let es = EsConfig {
            population_size: 16,
            rank,
            sigma: 0.5,
            ..EsConfig::default()
        };
        let (params, pop) = setup(&cfg, es, false);
        let x1 = inputs(1, 8);
        let x: Vec<f32> = (0..16).flat_map(|_| x1.clone()).collect();
        let mut y = vec![0.0; 16 * 5];
        PopulationForward::new(&cfg, &params, Some(&pop))
            .unwrap()
            .forward(&x, None, &mut y)
            .unwrap();
        let mut base = vec![0.0; 5];
        PopulationForward::new(&cfg, &params, None)
            .unwrap()
            .forward(&x1, None, &mut base)
            .unwrap();
        for k in 0..8 {
            for j in 0..5 {
                let s = y[(2 * k) * 5 + j] + y[(2 * k + 1) * 5 + j];
                assert!((s - 2.0 * base[j]).abs() < 1e-5, "pair {k} out {j}");
                assert!(
                    (y[(2 * k) * 5 + j] - base[j]).abs() > 1e-6,
                    "pair {k} is perturbed"
                );
            }
        }
    }
}

/// Plain inference (no population) equals the reference forward with the base weights, and is
/// identical on 1 and 2 threads.
#[test]
fn plain_inference_matches_reference_and_threads() {
    let cfg = MlpConfig {
        sizes: vec![10, 64, 64, 4],
        activation: Activation::Tanh,
        bias: true,
    };
    let params = cfg.init(1, &Device::Cpu).unwrap();
    let x = inputs(300, 10);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut y = vec![0.0; 300 * 4];
            PopulationForward::new(&cfg, &params, None)
                .unwrap()
                .forward(&x, None, &mut y)
                .unwrap();
            y
        })
    };
    let y1 = run(1);
    assert_eq!(y1, run(2));
    let base = params.to_host().unwrap();
    for i in 0..300 {
        let mut o = vec![0.0; 4];
        eggroll_policies::plain_row_forward(&cfg, &params, &base, &x[i * 10..(i + 1) * 10], &mut o);
        assert!(max_abs_diff(&o, &y1[i * 4..(i + 1) * 4]) < 1e-5);
    }
}

#[test]
fn bad_shapes_are_typed_errors() {
    let cfg = MlpConfig {
        sizes: vec![4, 8, 2],
        activation: Activation::Tanh,
        bias: true,
    };
    let params = cfg.init(0, &Device::Cpu).unwrap();
    let fwd = PopulationForward::new(&cfg, &params, None).unwrap();
    let mut out = vec![0.0; 4];
    assert!(
        fwd.forward(&[0.0; 7], None, &mut out).is_err(),
        "ragged input"
    );
    assert!(
        fwd.forward(&[0.0; 8], None, &mut [0.0; 3]).is_err(),
        "small output"
    );
    assert!(
        fwd.forward(&[0.0; 8], Some(&[0]), &mut out).is_err(),
        "member ids"
    );
    // Parameters of another network.
    let other = MlpConfig {
        sizes: vec![4, 9, 2],
        ..cfg.clone()
    };
    let err = PopulationForward::new(&other, &params, None)
        .err()
        .expect("shape mismatch");
    assert!(err.to_string().contains("layers.0.weight"), "{err}");
    assert!(
        MlpConfig {
            sizes: vec![4],
            ..cfg.clone()
        }
        .init(0, &Device::Cpu)
        .is_err()
    );
    assert!(
        MlpConfig {
            sizes: vec![4, 0, 2],
            ..cfg
        }
        .init(0, &Device::Cpu)
        .is_err()
    );
}

/// `forward_shared` (every member on the same batch) equals the row-wise forward on the batch
/// tiled once per member, for low-rank (r = 1, 3), full-rank (SimpleES) noise, one-layer nets.
#[test]
fn shared_input_forward_equals_tiled_forward() {
    for (sizes, rank, simple) in [
        (vec![12, 20, 7], 1, false),
        (vec![12, 20, 7], 3, false),
        (vec![12, 20, 7], 1, true),
        (vec![12, 7], 2, false),
        (vec![12, 9, 9, 5], 1, false),
    ] {
        let cfg = MlpConfig {
            sizes: sizes.clone(),
            activation: Activation::Relu,
            bias: true,
        };
        let es = EsConfig {
            population_size: 10,
            rank,
            sigma: 0.4,
            ..EsConfig::default()
        };
        let (params, pop) = setup(&cfg, es, simple);
        let batch = 70; // more than one chunk
        let x = inputs(batch, 12);
        let dout = *sizes.last().unwrap();
        let fwd = PopulationForward::new(&cfg, &params, Some(&pop)).unwrap();
        let mut shared = vec![0.0; 10 * batch * dout];
        fwd.forward_shared(&x, 0..10, &mut shared).unwrap();
        // A sub-range of members equals the matching rows.
        let mut part = vec![0.0; 3 * batch * dout];
        fwd.forward_shared(&x, 4..7, &mut part).unwrap();
        assert_eq!(part, shared[4 * batch * dout..7 * batch * dout].to_vec());
        let tiled: Vec<f32> = (0..10).flat_map(|_| x.clone()).collect();
        let ids: Vec<u32> = (0..10 * batch as u32).map(|r| r / batch as u32).collect();
        let mut rows = vec![0.0; 10 * batch * dout];
        fwd.forward(&tiled, Some(&ids), &mut rows).unwrap();
        let d = max_abs_diff(&shared, &rows);
        assert!(d < 1e-4, "{sizes:?} r={rank} simple={simple}: {d}");
    }
}

/// A row's output does not depend on which other rows share its batch (chunk composition,
/// batch size, position): required for bit-identical results when members are split across
/// processes or when finished episodes drop out of the batch.
///
/// Rank 1 takes the fast path, which finishes an antithetic pair of adjacent rows in one pass
/// over their shared noise: pairs split by the batch, or given minus-member first, must give
/// the same bits as pairs run together.
#[test]
fn row_outputs_do_not_depend_on_batch_composition() {
    for rank in [1, 2] {
        row_outputs_do_not_depend_on_batch_composition_at(rank);
    }
}

fn row_outputs_do_not_depend_on_batch_composition_at(rank: usize) {
    let cfg = MlpConfig {
        sizes: vec![24, 256, 64, 5],
        activation: Activation::Tanh,
        bias: true,
    };
    let es = EsConfig {
        population_size: 300,
        rank,
        sigma: 0.1,
        ..EsConfig::default()
    };
    let (params, pop) = setup(&cfg, es, false);
    let fwd = PopulationForward::new(&cfg, &params, Some(&pop)).unwrap();
    let rows = 300;
    let x = inputs(rows, 24);
    let ids: Vec<u32> = (0..rows as u32).collect();
    let mut full = vec![0.0f32; rows * 5];
    fwd.forward(&x, Some(&ids), &mut full).unwrap();
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    for (start, len) in [
        (0, 1),
        (5, 1),
        (63, 2),
        (3, 37),
        (64, 64),
        (100, 131),
        (299, 1),
        (17, 200),
    ] {
        let mut part = vec![0.0f32; len * 5];
        fwd.forward(
            &x[start * 24..(start + len) * 24],
            Some(&ids[start..start + len]),
            &mut part,
        )
        .unwrap();
        assert_eq!(
            bits(&part),
            bits(&full[start * 5..(start + len) * 5]),
            "rows {start}..{}",
            start + len
        );
    }
    // A scattered subset (as when episodes end at different times).
    let subset: Vec<usize> = (0..rows).filter(|r| r % 3 != 0 || r % 7 == 0).collect();
    let xs: Vec<f32> = subset
        .iter()
        .flat_map(|&r| x[r * 24..(r + 1) * 24].to_vec())
        .collect();
    let is: Vec<u32> = subset.iter().map(|&r| r as u32).collect();
    let mut part = vec![0.0f32; subset.len() * 5];
    fwd.forward(&xs, Some(&is), &mut part).unwrap();
    for (j, &r) in subset.iter().enumerate() {
        assert_eq!(
            bits(&part[j * 5..(j + 1) * 5]),
            bits(&full[r * 5..(r + 1) * 5]),
            "row {r}"
        );
    }
    // Every row in reverse: each antithetic pair arrives minus-member first.
    let xr: Vec<f32> = (0..rows)
        .rev()
        .flat_map(|r| x[r * 24..(r + 1) * 24].to_vec())
        .collect();
    let ir: Vec<u32> = (0..rows as u32).rev().collect();
    let mut rev = vec![0.0f32; rows * 5];
    fwd.forward(&xr, Some(&ir), &mut rev).unwrap();
    for (j, r) in (0..rows).rev().enumerate() {
        assert_eq!(
            bits(&rev[j * 5..(j + 1) * 5]),
            bits(&full[r * 5..(r + 1) * 5]),
            "rank {rank}, reversed row {r}"
        );
    }
}

/// The shared GEMM is bit-identical to an in-order fma chain per output, for every tile
/// path: full 8×32 tiles, narrow column edges (row-lane blocks of 16) and leftover rows.
#[test]
fn shared_gemm_is_an_in_order_fma_chain() {
    for (rows, n, m) in [
        (64, 3, 64),
        (64, 64, 1),
        (37, 17, 9),
        (16, 5, 33),
        (100, 64, 70),
        (7, 2, 3),
    ] {
        let x = inputs(rows, n);
        let wt: Vec<f32> = (0..n * m)
            .map(|i| ((i * 53 % 89) as f32 / 44.0) - 1.0)
            .collect();
        let mut y = vec![0.0f32; rows * m];
        eggroll_policies::shared_gemm(&x, &wt, rows, n, m, &mut y);
        for i in 0..rows {
            for c in 0..m {
                let mut acc = 0.0f32;
                for j in 0..n {
                    acc = x[i * n + j].mul_add(wt[j * m + c], acc);
                }
                assert_eq!(
                    acc.to_bits(),
                    y[i * m + c].to_bits(),
                    "rows={rows} n={n} m={m} ({i},{c})"
                );
            }
        }
    }
}
