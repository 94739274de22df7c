//! The int8 population layers: every kernel level gives the exact integer product, the
//! population forward equals a naive per-member reference, and the bits do not depend on the
//! thread count.

use eggroll_core::Pairing;
use eggroll_core::noise::{block_key, fill_block_i8};
use eggroll_policies::int8::gemm::gemm_at;
use eggroll_policies::int8::{Int8Chain, Int8Level, Int8Linear, PackedI8};

fn noise(seed: u64, len: usize) -> Vec<i8> {
    let mut v = vec![0i8; len];
    fill_block_i8(block_key(seed, 1, 2, 3), 0, &mut v);
    v
}

/// Values spread over the whole int8 range (the noise stream only reaches ±31).
fn wide(seed: u64, len: usize, min: i32) -> Vec<i8> {
    noise(seed, len)
        .iter()
        .enumerate()
        .map(|(i, &v)| (i32::from(v) * 4 + (i as i32 % 5) - 2).clamp(min, 127) as i8)
        .collect()
}

#[test]
fn every_level_gives_the_exact_product_on_ragged_shapes() {
    let levels: Vec<_> = Int8Level::ALL
        .into_iter()
        .filter(|l| l.available())
        .collect();
    eprintln!("levels here: {levels:?}");
    for (rows, m, n) in [
        (1, 1, 1),
        (3, 5, 7),
        (4, 16, 4),
        (9, 17, 33),
        (13, 64, 256),
        (6, 100, 130),
        (5, 129, 3),
        (64, 256, 256),
    ] {
        let x = wide(rows as u64, rows * n, -128);
        let mut w = wide(m as u64 + 7, m * n, -127);
        // Extremes: the largest products, both signs.
        w[0] = 127;
        w[m * n - 1] = -127;
        let packed = PackedI8::new("w", &w, m, n).unwrap();
        let want: Vec<i32> = (0..rows)
            .flat_map(|i| {
                let (x, w) = (&x, &w);
                (0..m).map(move |c| {
                    (0..n)
                        .map(|j| i32::from(x[i * n + j]) * i32::from(w[c * n + j]))
                        .sum::<i32>()
                })
            })
            .collect();
        for &level in &levels {
            let mut y = vec![i32::MIN; rows * m];
            let mut scratch = Vec::new();
            gemm_at(level, &x, rows, &packed, &mut y, &mut scratch);
            assert_eq!(y, want, "{level:?} at rows={rows} m={m} n={n}");
        }
    }
}

#[test]
fn extreme_inputs_do_not_overflow_at_the_widest_layer() {
    // Every input −128 and every weight 127 (or −127) over MAX_INPUTS inputs: the largest sums
    // the i32 accumulators (and VNNI's unsigned offset) must hold.
    let n = eggroll_policies::int8::MAX_INPUTS;
    let x = vec![-128i8; n];
    for wv in [127i8, -127] {
        let w = vec![wv; 2 * n];
        let packed = PackedI8::new("w", &w, 2, n).unwrap();
        let want = -128 * i32::from(wv) * n as i32;
        for level in Int8Level::ALL.into_iter().filter(|l| l.available()) {
            let mut y = vec![0i32; 2];
            gemm_at(level, &x, 1, &packed, &mut y, &mut Vec::new());
            assert_eq!(y, vec![want; 2], "{level:?}");
        }
    }
}

#[test]
fn bad_shapes_and_scales_are_typed_errors() {
    let e = PackedI8::new("layer0", &[0; 6], 2, 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer0") && e.contains("6 weights"), "{e}");
    let n = eggroll_policies::int8::MAX_INPUTS + 1;
    let e = PackedI8::new("wide", &vec![0; n], 1, n)
        .unwrap_err()
        .to_string();
    assert!(e.contains("wide") && e.contains("at most"), "{e}");
    let e = PackedI8::new("w", &[-128, 0], 1, 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("−128"), "{e}");
    let e = Int8Linear::new("l", &[1, 2], 1, 2, None, 40)
        .unwrap_err()
        .to_string();
    assert!(e.contains("shift 40"), "{e}");
    let chain = Int8Chain::init(&[4, 8, 2], 0).unwrap();
    let e = chain
        .population(8, Pairing::Antithetic, 0, 0, 1, 99)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sigma_shift"), "{e}");
    let e = chain
        .population(7, Pairing::Antithetic, 0, 0, 1, 8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("even"), "{e}");
    let pop = chain
        .population(8, Pairing::Antithetic, 0, 0, 1, 8)
        .unwrap();
    let mut out = vec![0i8; 6 * 2];
    let e = chain
        .forward(&[0; 24], Some(&pop), &mut out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("8 members for 6 input rows"), "{e}");
    let e = Int8Chain::new(vec![
        Int8Linear::init("a", 8, 4, 0).unwrap(),
        Int8Linear::init("b", 2, 7, 0).unwrap(),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("takes 7 inputs"), "{e}");
}

/// Member `i`'s output by the definition: materialise nothing, but compute every term of
/// `clamp(((x·Wᵀ + ((s·(x·B)·Aᵀ) ≫ σs)) ≫ shift), −127, 127)` in i64, one row at a time.
fn reference(chain: &Int8Chain, x: &[i8], pop: &eggroll_policies::int8::Int8Population) -> Vec<i8> {
    let mut out = vec![];
    for i in 0..pop.size {
        let (blk, sign) = pop.pairing.block_and_sign(i);
        let s: i64 = if sign > 0.0 { 1 } else { -1 };
        let mut h: Vec<i8> = x[i * chain.inputs()..(i + 1) * chain.inputs()].to_vec();
        for (layer, nz) in chain.layers().iter().zip(&pop.noise) {
            let (m, n, r) = (layer.m(), layer.n(), nz.rank);
            let w = layer.weights();
            let t: Vec<i64> = (0..r)
                .map(|q| {
                    (0..n)
                        .map(|j| i64::from(h[j]) * i64::from(nz.b[(blk * n + j) * r + q]))
                        .sum::<i64>()
                        * s
                })
                .collect();
            h = (0..m)
                .map(|c| {
                    let acc: i64 = (0..n)
                        .map(|j| i64::from(h[j]) * i64::from(w.get(c, j)))
                        .sum();
                    let nzv: i64 = (0..r)
                        .map(|q| t[q] * i64::from(nz.a[(blk * m + c) * r + q]))
                        .sum();
                    ((acc + (nzv >> pop.sigma_shift)) >> layer.shift()).clamp(-127, 127) as i8
                })
                .collect();
        }
        out.extend(h);
    }
    out
}

#[test]
fn the_population_forward_is_each_members_perturbed_network() {
    for (sizes, rank, pairing) in [
        (vec![12, 40, 7], 1, Pairing::Antithetic),
        (vec![33, 16, 16, 5], 3, Pairing::Antithetic),
        (vec![8, 20, 3], 2, Pairing::Independent),
    ] {
        let chain = Int8Chain::init(&sizes, 5).unwrap();
        let size = 130; // three chunks, the last ragged
        let pop = chain.population(size, pairing, 9, 4, rank, 6).unwrap();
        let x = noise(11, size * sizes[0]);
        let mut out = vec![0i8; size * chain.outputs()];
        chain.forward(&x, Some(&pop), &mut out).unwrap();
        assert_eq!(out, reference(&chain, &x, &pop), "{sizes:?} rank {rank}");
        // The members differ from each other and from plain inference.
        let mut plain = vec![0i8; out.len()];
        chain.forward(&x, None, &mut plain).unwrap();
        assert_ne!(out, plain);
        let o = chain.outputs();
        assert_ne!(out[..o], out[o..2 * o]);
    }
}

#[test]
fn the_bits_do_not_depend_on_the_thread_count() {
    let chain = Int8Chain::init(&[64, 96, 32], 1).unwrap();
    let pop = chain
        .population(300, Pairing::Antithetic, 2, 3, 1, 8)
        .unwrap();
    let x = noise(3, 300 * 64);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut out = vec![0i8; 300 * 32];
            chain.forward(&x, Some(&pop), &mut out).unwrap();
            out
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(5));
}
