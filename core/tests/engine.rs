//! Behaviour of the engine: determinism, hand-computed updates, resume, bad input.
#![allow(clippy::needless_range_loop)]

mod common;
use candle_core::{DType, Device, Tensor};
use common::*;
use eggroll_core::*;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn two_params() -> Params {
    Params::new()
        .with(
            "w1",
            Tensor::zeros((16, 12), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap()
        .with("b1", Tensor::zeros(16, DType::F32, &Device::Cpu).unwrap())
        .unwrap()
        .with(
            "w2",
            Tensor::zeros((3, 16), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap()
}

fn sphere_eval() -> FnEvaluator<impl Fn(&ParamView) -> f32 + Send + Sync> {
    FnEvaluator::new(|p: &ParamView| {
        -p.iter()
            .flat_map(|(_, _, v)| v.iter())
            .enumerate()
            .map(|(i, x)| (x - (i as f32 * 0.37).sin()).powi(2))
            .sum::<f32>()
    })
}

fn config() -> EsConfig {
    EsConfig {
        population_size: 32,
        rank: 2,
        sigma: 0.1,
        learning_rate: 0.05,
        seed: 1234,
        ..EsConfig::default()
    }
}

fn noise_bits(pop: &Population) -> Vec<u32> {
    let mut out = Vec::new();
    for n in &pop.noise {
        match n {
            Noise::LowRank { a, b, .. } => {
                out.extend(bits(&host(a)));
                out.extend(bits(&host(b)));
            }
            Noise::Full { eps } => out.extend(bits(&host(eps))),
            Noise::None => {}
        }
    }
    out
}

/// Noise and whole training runs are bit-identical on 1, 2 and 8 threads.
#[test]
fn identical_across_thread_counts() {
    let mut results = Vec::new();
    for threads in [1, 2, 8] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        results.push(pool.install(|| {
            let params = two_params();
            let mut es = Eggroll::new(
                EsConfig {
                    population_size: 512,
                    ..config()
                },
                &params,
            )
            .unwrap();
            let noise = noise_bits(&es.ask(&params, 3).unwrap());
            let mut t = Trainer::new(Eggroll::new(config(), &params).unwrap(), params);
            let mut eval = sphere_eval();
            t.run(
                &mut eval,
                &StopCondition {
                    max_generations: Some(15),
                    ..Default::default()
                },
            )
            .unwrap();
            let p: Vec<u32> = t
                .params()
                .to_host()
                .unwrap()
                .iter()
                .flat_map(|v| bits(v))
                .collect();
            (noise, p)
        }));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
}

/// Noise is a pure function of (seed, parameter, epoch, pair): each parameter has its own
/// stream, a different seed or epoch changes it, and pair k of a big population equals pair k of
/// a small one.
#[test]
fn noise_is_a_pure_function_of_its_counters() {
    let params = two_params();
    let pop = |n: usize, seed: u64, generation: u64| {
        let mut es = Eggroll::new(
            EsConfig {
                population_size: n,
                seed,
                ..config()
            },
            &params,
        )
        .unwrap();
        es.ask(&params, generation).unwrap()
    };
    let a = pop(8, 1, 0);
    let b = pop(64, 1, 0);
    let (Noise::LowRank { a: a1, .. }, Noise::LowRank { a: b1, .. }) = (&a.noise[0], &b.noise[0])
    else {
        panic!()
    };
    let small = host(a1);
    assert_eq!(bits(&small), bits(&host(b1))[..small.len()]);
    assert_ne!(noise_bits(&a), noise_bits(&pop(8, 2, 0)));
    assert_ne!(noise_bits(&a), noise_bits(&pop(8, 1, 1)));
    // Layers draw different numbers (the seed package's bug was one stream for all layers).
    let (Noise::LowRank { a: w1a, .. }, Noise::LowRank { a: w2a, .. }) = (&a.noise[0], &a.noise[2])
    else {
        panic!()
    };
    assert_ne!(bits(&host(w1a))[..3], bits(&host(w2a))[..3]);
}

/// Members 2k and 2k+1 differ only in sign.
#[test]
fn antithetic_members_are_mirror_images() {
    let params = two_params();
    let mut es = Eggroll::new(config(), &params).unwrap();
    let pop = es.ask(&params, 0).unwrap();
    let base = params.to_host().unwrap();
    for k in 0..pop.size / 2 {
        let p = pop.materialize(&params, &base, 2 * k).unwrap();
        let q = pop.materialize(&params, &base, 2 * k + 1).unwrap();
        for (a, b) in p.iter().zip(&q) {
            let neg: Vec<f32> = b.iter().map(|x| -x).collect();
            assert_eq!(bits(a), bits(&neg));
        }
    }
}

/// noise_reuse = k keeps the same noise for k consecutive generations; the default draws fresh
/// noise every generation.
#[test]
fn noise_reuse_epochs() {
    let params = two_params();
    let mut fresh = Eggroll::new(config(), &params).unwrap();
    assert_ne!(
        noise_bits(&fresh.ask(&params, 0).unwrap()),
        noise_bits(&fresh.ask(&params, 1).unwrap())
    );
    let mut reuse = Eggroll::new(
        EsConfig {
            noise_reuse: 3,
            ..config()
        },
        &params,
    )
    .unwrap();
    let n: Vec<_> = (0..4)
        .map(|g| noise_bits(&reuse.ask(&params, g).unwrap()))
        .collect();
    assert_eq!(n[0], n[1]);
    assert_eq!(n[0], n[2]);
    assert_ne!(n[0], n[3]);
}

/// The update of a tiny case computed by hand from the drawn factors.
#[test]
fn update_matches_hand_computation() {
    let params = Params::new()
        .with(
            "w",
            Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap()
        .with("b", Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap())
        .unwrap();
    let sigma = 0.5f32;
    let mut es = Eggroll::new(
        EsConfig {
            population_size: 4,
            rank: 1,
            sigma,
            learning_rate: 1.0,
            shaping: Shaping::Raw,
            optimizer: OptimizerConfig::Sgd { momentum: 0.0 },
            ..EsConfig::default()
        },
        &params,
    )
    .unwrap();
    let pop = es.ask(&params, 0).unwrap();
    let fitness = [1.0f32, 0.0, 0.0, 1.0]; // pair weights: w0 = 1 − 0 = 1, w1 = 0 − 1 = −1
    let mut p = params.clone();
    es.tell(&mut p, &pop, &fitness).unwrap();
    let Noise::LowRank { a, b, rank: 1 } = &pop.noise[0] else {
        panic!()
    };
    let (a, b) = (host(a), host(b)); // a: (2 pairs, 2 rows, 1), b: (2 pairs, 2 cols, 1)
    let Noise::Full { eps } = &pop.noise[1] else {
        panic!()
    };
    let eps = host(eps);
    let coef = 1.0 / (4.0 * sigma); // textbook 1/(Nσ)
    for i in 0..2 {
        for j in 0..2 {
            let expected = coef * (a[i] * b[j] - a[2 + i] * b[2 + j]);
            let got = host(p.get("w").unwrap().tensor())[i * 2 + j];
            assert!(
                (got - expected).abs() < 1e-6,
                "w[{i},{j}] {got} vs {expected}"
            );
        }
        let expected = coef * (eps[i] - eps[2 + i]);
        let got = host(p.get("b").unwrap().tensor())[i];
        assert!((got - expected).abs() < 1e-6, "b[{i}] {got} vs {expected}");
    }
    // The official scaling multiplies by σ/√N instead of 1/(Nσ).
    let mut off = Eggroll::new(
        EsConfig {
            population_size: 4,
            sigma,
            learning_rate: 1.0,
            shaping: Shaping::Raw,
            scaling: Scaling::Official,
            optimizer: OptimizerConfig::Sgd { momentum: 0.0 },
            ..EsConfig::default()
        },
        &params,
    )
    .unwrap();
    let mut q = params.clone();
    off.tell(&mut q, &pop, &fitness).unwrap();
    let ratio = host(q.get("b").unwrap().tensor())[0] / host(p.get("b").unwrap().tensor())[0];
    let expected = sigma * sigma * 2.0; // σ²√N with N = 4
    assert!((ratio - expected).abs() < 1e-4, "{ratio} vs {expected}");
}

/// freeze_nonlora perturbs and updates only matrices.
#[test]
fn freeze_nonlora_leaves_biases_alone() {
    let params = two_params();
    let mut t = Trainer::new(
        Eggroll::new(
            EsConfig {
                freeze_nonlora: true,
                ..config()
            },
            &params,
        )
        .unwrap(),
        params,
    );
    let mut eval = sphere_eval();
    t.run(
        &mut eval,
        &StopCondition {
            max_generations: Some(3),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        host(t.params().get("b1").unwrap().tensor())
            .iter()
            .all(|&x| x == 0.0)
    );
    assert!(
        host(t.params().get("w1").unwrap().tensor())
            .iter()
            .any(|&x| x != 0.0)
    );
}

/// Constant fitness gives a zero update (never NaN) under every shaping.
#[test]
fn constant_fitness_zero_update() {
    for shaping in [Shaping::ZScore, Shaping::CenteredRank, Shaping::Raw] {
        for opt in [
            OptimizerConfig::default(),
            OptimizerConfig::Sgd { momentum: 0.9 },
        ] {
            let params = two_params();
            let mut es = Eggroll::new(
                EsConfig {
                    shaping,
                    optimizer: opt,
                    ..config()
                },
                &params,
            )
            .unwrap();
            let pop = es.ask(&params, 0).unwrap();
            let mut p = params.clone();
            let rep = es.tell(&mut p, &pop, &[3.5; 32]).unwrap();
            assert_eq!(rep.update_norm, 0.0, "{shaping:?}");
            for v in p.to_host().unwrap() {
                assert!(v.iter().all(|&x| x == 0.0));
            }
        }
    }
}

/// The best member is the evaluated (perturbed) member, not the post-update mean.
#[test]
fn best_is_the_true_best_member() {
    let params = two_params();
    let mut t = Trainer::new(Eggroll::new(config(), &params).unwrap(), params);
    let mut eval = sphere_eval();
    let (stats, _) = t.step(&mut eval).unwrap();
    let best = t.best().unwrap();
    assert_eq!(best.fitness, stats.max);
    assert_eq!(best.fitness, eval.call(t.params(), &best.values));
    assert_ne!(best.values, t.params().to_host().unwrap());
}

/// Save at generation 10, load into a fresh trainer, run 10 more: bit-identical to 20 straight.
#[test]
fn resume_is_bit_identical() {
    for strat in ["eggroll", "simple_es", "cmaes", "sep_cmaes"] {
        let make = || -> Trainer {
            let params = two_params();
            let cfg = EsConfig {
                optimizer: OptimizerConfig::AdamW {
                    beta1: 0.9,
                    beta2: 0.99,
                    eps: 1e-8,
                    weight_decay: 0.01,
                },
                ..config()
            };
            match strat {
                "eggroll" => Trainer::new(Eggroll::new(cfg, &params).unwrap(), params),
                "cmaes" | "sep_cmaes" => {
                    let cma = CmaConfig {
                        population_size: 32,
                        sigma0: 0.1,
                        seed: 1234,
                        covariance: if strat == "cmaes" {
                            Covariance::Full
                        } else {
                            Covariance::Diagonal
                        },
                        ..CmaConfig::default()
                    };
                    Trainer::new(CmaStrategy::new(cma, &params).unwrap(), params)
                }
                _ => Trainer::new(SimpleEs::new(cfg, &params).unwrap(), params),
            }
        };
        let mut eval = sphere_eval();
        let mut straight = make();
        straight
            .run(
                &mut eval,
                &StopCondition {
                    max_generations: Some(20),
                    ..Default::default()
                },
            )
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck.safetensors");
        let mut first = make();
        first
            .run(
                &mut eval,
                &StopCondition {
                    max_generations: Some(10),
                    ..Default::default()
                },
            )
            .unwrap();
        first.save_checkpoint(&ck).unwrap();
        let mut resumed = make();
        resumed.load_checkpoint(&ck).unwrap();
        assert_eq!(resumed.generation(), 10);
        resumed
            .run(
                &mut eval,
                &StopCondition {
                    max_generations: Some(20),
                    ..Default::default()
                },
            )
            .unwrap();

        let a: Vec<Vec<u32>> = straight
            .params()
            .to_host()
            .unwrap()
            .iter()
            .map(|v| bits(v))
            .collect();
        let b: Vec<Vec<u32>> = resumed
            .params()
            .to_host()
            .unwrap()
            .iter()
            .map(|v| bits(v))
            .collect();
        assert_eq!(a, b, "{strat}");
        assert_eq!(
            straight.best().unwrap().fitness,
            resumed.best().unwrap().fitness
        );
        assert_eq!(
            straight.best().unwrap().values,
            resumed.best().unwrap().values
        );
        assert_eq!(straight.evals(), resumed.evals());
    }
}

#[test]
fn corrupt_or_mismatched_checkpoints_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.safetensors");
    let params = two_params();
    let mut t = Trainer::new(Eggroll::new(config(), &params).unwrap(), params.clone());
    let mut eval = sphere_eval();
    t.step(&mut eval).unwrap();
    t.save_checkpoint(&ck).unwrap();
    let bytes = std::fs::read(&ck).unwrap();

    let expect_err = |b: &[u8], what: &str| {
        let p = dir.path().join("bad.safetensors");
        std::fs::write(&p, b).unwrap();
        let mut fresh = Trainer::new(Eggroll::new(config(), &params).unwrap(), params.clone());
        let err = fresh.load_checkpoint(&p).unwrap_err();
        assert!(matches!(err, Error::Checkpoint { .. }), "{what}: {err}");
        assert_eq!(fresh.generation(), 0, "{what}: state changed on error");
        err.to_string()
    };
    expect_err(&bytes[..bytes.len() / 2], "truncated");
    expect_err(&bytes[..5], "tiny");
    expect_err(b"garbage that is not safetensors", "garbage");
    // Same length, so the header stays valid: only the version changes.
    let needle = b"\\\"version\\\":\\\"1\\\"";
    let pos = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("version in header");
    let mut wrong = bytes.clone();
    wrong[pos + needle.len() - 3] = b'9';
    let msg = expect_err(&wrong, "wrong version");
    assert!(msg.contains("version"), "{msg}");

    // Shape mismatch: a run with a different layout.
    let other = Params::new()
        .with(
            "w1",
            Tensor::zeros((8, 12), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap()
        .with("b1", Tensor::zeros(16, DType::F32, &Device::Cpu).unwrap())
        .unwrap()
        .with(
            "w2",
            Tensor::zeros((3, 16), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap();
    let mut t2 = Trainer::new(Eggroll::new(config(), &other).unwrap(), other);
    let err = t2.load_checkpoint(&ck).unwrap_err();
    assert!(err.to_string().contains("param.w1"), "{err}");
    // Missing file.
    assert!(matches!(
        t2.load_checkpoint(&dir.path().join("nope")).unwrap_err(),
        Error::Io { .. }
    ));
}

#[test]
fn invalid_configs_are_typed_errors_naming_the_field() {
    let params = two_params();
    let cases: Vec<(EsConfig, &str)> = vec![
        (
            EsConfig {
                population_size: 0,
                ..config()
            },
            "population_size",
        ),
        (
            EsConfig {
                population_size: 7,
                ..config()
            },
            "population_size",
        ),
        (
            EsConfig {
                group_size: 5,
                ..config()
            },
            "group_size",
        ),
        (
            EsConfig {
                rank: 0,
                ..config()
            },
            "rank",
        ),
        (
            EsConfig {
                rank: MAX_RANK + 1,
                ..config()
            },
            "rank",
        ),
        (
            EsConfig {
                sigma: 0.0,
                ..config()
            },
            "sigma",
        ),
        (
            EsConfig {
                sigma: -1.0,
                ..config()
            },
            "sigma",
        ),
        (
            EsConfig {
                sigma: f32::NAN,
                ..config()
            },
            "sigma",
        ),
        (
            EsConfig {
                sigma: f32::INFINITY,
                ..config()
            },
            "sigma",
        ),
        (
            EsConfig {
                learning_rate: f32::NAN,
                ..config()
            },
            "learning_rate",
        ),
        (
            EsConfig {
                learning_rate: f32::INFINITY,
                ..config()
            },
            "learning_rate",
        ),
        (
            EsConfig {
                noise_reuse: 0,
                ..config()
            },
            "noise_reuse",
        ),
        (
            EsConfig {
                optimizer: OptimizerConfig::Sgd { momentum: 1.5 },
                ..config()
            },
            "optimizer.momentum",
        ),
        (
            EsConfig {
                lr_schedule: Schedule::Exponential { decay: 0.0 },
                ..config()
            },
            "lr_schedule.decay",
        ),
    ];
    // Any rank up to MAX_RANK is valid for every matrix, also above min(m, n) (w2 is 3×16).
    for rank in [4, 13, MAX_RANK] {
        Eggroll::new(EsConfig { rank, ..config() }, &params).unwrap();
    }
    for (cfg, field) in cases {
        let err = Eggroll::new(cfg.clone(), &params).unwrap_err();
        match &err {
            Error::InvalidConfig { field: f, .. } => assert_eq!(f, field, "{err}"),
            other => panic!("expected InvalidConfig for {field}, got {other}"),
        }
    }
    // Parameters themselves.
    let mut p = Params::new();
    p.push("x", Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap())
        .unwrap();
    assert!(matches!(
        p.push("x", Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap()),
        Err(Error::Param { .. })
    ));
    assert!(matches!(
        p.push("y", Tensor::zeros(3, DType::F64, &Device::Cpu).unwrap()),
        Err(Error::Param { .. })
    ));
    assert!(Eggroll::new(config(), &Params::new()).is_err());
}

#[test]
fn nonfinite_fitness_error_names_member_and_generation_or_is_worst() {
    let params = two_params();
    let bad = FnEvaluator::new(|p: &ParamView| {
        if p.values(0)[0] > 0.0 {
            f32::NAN
        } else {
            1.0 - p.values(1)[0]
        }
    });
    let mut t = Trainer::new(Eggroll::new(config(), &params).unwrap(), params.clone());
    let mut e = bad;
    let err = t.step(&mut e).unwrap_err();
    match err {
        Error::NonFiniteFitness {
            member,
            generation,
            value,
        } => {
            assert_eq!(generation, 0);
            assert!(value.is_nan());
            assert!(member < 32);
        }
        other => panic!("{other}"),
    }
    let mut t = Trainer::new(Eggroll::new(config(), &params).unwrap(), params)
        .with_nonfinite(NonFinitePolicy::Worst);
    let (stats, _) = t.step(&mut e).unwrap();
    assert!(stats.nonfinite > 0);
    assert!(stats.mean.is_finite() && stats.update_norm.is_finite());
    for v in t.params().to_host().unwrap() {
        assert!(v.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn wrong_fitness_length_is_an_error() {
    struct Short;
    impl Evaluator for Short {
        fn evaluate_members(
            &mut self,
            _: &Params,
            _: &Population,
            _: std::ops::Range<usize>,
        ) -> Result<Vec<f32>> {
            Ok(vec![0.0; 3])
        }
    }
    let params = two_params();
    let mut t = Trainer::new(Eggroll::new(config(), &params).unwrap(), params);
    assert!(matches!(
        t.step(&mut Short).unwrap_err(),
        Error::FitnessLength {
            expected: 32,
            got: 3
        }
    ));
}

/// Observers see every generation and can stop the run; the channel observer never blocks.
#[test]
fn observers_and_stop_conditions() {
    let params = two_params();
    let mut t = Trainer::new(Eggroll::new(config(), &params).unwrap(), params);
    let (chan, rx) = ChannelObserver::new(2);
    t.add_observer(chan);
    t.add_observer(|s: &GenStats| {
        if s.generation == 4 {
            Control::Stop
        } else {
            Control::Continue
        }
    });
    let mut eval = sphere_eval();
    let s = t
        .run(
            &mut eval,
            &StopCondition {
                max_generations: Some(100),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(s.stop_reason, StopReason::Observer);
    assert_eq!(s.generations, 5);
    let got: Vec<u64> = rx.try_iter().map(|g| g.generation).collect();
    assert_eq!(
        got,
        vec![0, 1],
        "bounded channel keeps the first two, drops the rest"
    );
    let s = t
        .run(
            &mut eval,
            &StopCondition {
                target_fitness: Some(-1e9),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(s.stop_reason, StopReason::Target);
}

/// Both strategies optimise a sphere (a real convergence check with a stated target).
#[test]
fn both_strategies_converge_on_a_sphere() {
    for simple in [false, true] {
        let params = matrix(16, 16, None);
        let cfg = EsConfig {
            population_size: 64,
            sigma: 0.05,
            learning_rate: 0.05,
            seed: 5,
            ..EsConfig::default()
        };
        let s: Box<dyn Strategy> = if simple {
            Box::new(SimpleEs::new(cfg, &params).unwrap())
        } else {
            Box::new(Eggroll::new(cfg, &params).unwrap())
        };
        let mut t = Trainer::from_boxed(s, params);
        let mut eval = FnEvaluator::new(|p: &ParamView| {
            -p.values(0).iter().map(|x| (x - 0.5).powi(2)).sum::<f32>() / 256.0
        });
        t.run(
            &mut eval,
            &StopCondition {
                max_generations: Some(300),
                ..Default::default()
            },
        )
        .unwrap();
        let f = eval.call(t.params(), &t.params().to_host().unwrap());
        // Start: −0.25. Target: below 1% of that.
        assert!(f > -2.5e-3, "simple={simple}: {f}");
    }
}

/// The update's device path (candle ops, what CUDA parameters use) equals the deterministic
/// host kernels, for low-rank (r = 1, 3) and full-rank noise.
#[test]
fn update_ops_path_equals_host_kernels() {
    for (rank, simple) in [(1, false), (3, false), (1, true)] {
        let params = Params::new()
            .with(
                "w",
                Tensor::zeros((13, 7), DType::F32, &Device::Cpu).unwrap(),
            )
            .unwrap()
            .with("b", Tensor::zeros(13, DType::F32, &Device::Cpu).unwrap())
            .unwrap();
        let es = EsConfig {
            population_size: 30,
            rank,
            ..EsConfig::default()
        };
        let mut s: Box<dyn Strategy> = if simple {
            Box::new(SimpleEs::new(es, &params).unwrap())
        } else {
            Box::new(Eggroll::new(es, &params).unwrap())
        };
        let pop = s.ask(&params, 2).unwrap();
        let shaped: Vec<f32> = (0..30).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
        let host = pop.weighted_noise_sum(&params, &shaped, 0.37).unwrap();
        let ops = pop.weighted_noise_sum_ops(&params, &shaped, 0.37).unwrap();
        for (h, o) in host.iter().zip(&ops) {
            let (h, o) = (h.as_ref().unwrap(), o.as_ref().unwrap());
            assert_eq!(h.dims(), o.dims());
            let h = h.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let o = o.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let d = h
                .iter()
                .zip(&o)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            let scale = h.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(
                scale > 0.1 && d <= 1e-5 * scale.max(1.0),
                "r={rank} simple={simple}: {d}"
            );
        }
    }
}

/// Loading a strategy state is all or nothing: a state with a valid σ and lr but a broken
/// optimiser tensor, or with σ ≤ 0 / a non-finite lr, is rejected and changes nothing; a good
/// state then applies in full.
#[test]
fn strategy_state_load_is_all_or_nothing() {
    let params = two_params();
    let mut t = Trainer::new(Eggroll::new(config(), &params).unwrap(), params.clone());
    let mut eval =
        FnEvaluator::new(|p: &ParamView| -p.values(0).iter().map(|x| x * x).sum::<f32>());
    for _ in 0..3 {
        t.step(&mut eval).unwrap();
    }
    let es = t.strategy_mut();
    let good = es.state().unwrap();
    assert!(!good.tensors.is_empty(), "Adam keeps moments");
    let snapshot = |es: &dyn Strategy| {
        let s = es.state().unwrap();
        let tensors: Vec<(String, Vec<f32>)> = s
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.flatten_all().unwrap().to_vec1().unwrap()))
            .collect();
        (es.sigma(0), es.learning_rate(0), s.json, tensors)
    };
    let before = snapshot(&*es);
    let with_json =
        |json: serde_json::Value, tensors: Vec<(String, Tensor)>| StrategyState { json, tensors };
    let mut changed = good.json.clone();
    changed["sigma_base"] = serde_json::json!(0.7);
    changed["lr_base"] = serde_json::json!(0.3);
    let wrong_shape = Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();
    let cases = vec![
        // Good scalars, a moment of the wrong shape.
        with_json(changed.clone(), vec![("m.0".into(), wrong_shape)]),
        // Good scalars, a moment of a parameter that does not exist.
        with_json(
            changed.clone(),
            vec![("v.9".into(), good.tensors[0].1.clone())],
        ),
        // σ ≤ 0, a non-finite lr.
        with_json(
            {
                let mut j = changed.clone();
                j["sigma_base"] = serde_json::json!(-1.0);
                j
            },
            good.tensors.clone(),
        ),
        with_json(
            {
                let mut j = changed.clone();
                j["lr_base"] = serde_json::json!(1e39);
                j
            },
            good.tensors.clone(),
        ),
    ];
    for (i, bad) in cases.into_iter().enumerate() {
        assert!(es.load_state(bad, &params).is_err(), "case {i} loaded");
        assert!(snapshot(&*es) == before, "case {i} changed the strategy");
    }
    es.load_state(with_json(changed, good.tensors.clone()), &params)
        .unwrap();
    assert_eq!((es.sigma(0), es.learning_rate(0)), (0.7, 0.3));
}

/// `Population::member_noise` is each member's direction: materialising a member from zero
/// parameters gives σ times it, for low-rank, full and frozen noise.
#[test]
fn member_noise_is_the_materialised_direction() {
    let params = two_params();
    for simple in [false, true] {
        let cfg = EsConfig {
            freeze_nonlora: !simple,
            ..config()
        };
        let mut es: Box<dyn Strategy> = if simple {
            Box::new(SimpleEs::new(cfg, &params).unwrap())
        } else {
            Box::new(Eggroll::new(cfg, &params).unwrap())
        };
        let pop = es.ask(&params, 3).unwrap();
        let zeros: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.numel()]).collect();
        let mut out = vec![Vec::new(); params.len()];
        for member in [0, 1, 7, 31] {
            pop.materialize_into(&params, &zeros, member, &mut out)
                .unwrap();
            for k in 0..params.len() {
                let e = pop.member_noise(&params, k, member).unwrap();
                for (x, y) in out[k].iter().zip(&e) {
                    assert!(
                        (x - pop.sigma * y).abs() <= 1e-6,
                        "simple={simple} member {member} param {k}"
                    );
                }
            }
        }
        assert!(pop.member_noise(&params, 0, 32).is_err());
        assert!(pop.member_noise(&params, 9, 0).is_err());
    }
}

/// σ and the learning rate are stored once: a live change shows in `config()`.
#[test]
fn live_changes_show_in_the_config() {
    let params = two_params();
    let mut es = Eggroll::new(config(), &params).unwrap();
    es.set_sigma(0.37).unwrap();
    es.set_learning_rate(0.011).unwrap();
    assert_eq!(
        (es.config().sigma, es.config().learning_rate),
        (0.37, 0.011)
    );
    assert_eq!((es.sigma(0), es.learning_rate(0)), (0.37, 0.011));
    assert!(es.set_sigma(-1.0).is_err());
    assert_eq!(es.config().sigma, 0.37);
}

/// The trainer's ask/tell, driven by hand, ends bit-identical to `step`; a population of
/// another generation is refused.
#[test]
fn ask_tell_equals_step() {
    let make = || {
        let params = two_params();
        Trainer::new(Eggroll::new(config(), &params).unwrap(), params)
    };
    let mut eval = sphere_eval();
    let mut a = make();
    for _ in 0..5 {
        a.step(&mut eval).unwrap();
    }
    let mut b = make();
    let mut stale = None;
    for _ in 0..5 {
        let pop = b.ask().unwrap();
        assert_eq!(pop.generation, b.ask().unwrap().generation);
        let f = eval.evaluate(b.params(), &pop).unwrap();
        b.tell(&pop, f).unwrap();
        stale = Some(pop);
    }
    let bits_of = |t: &Trainer| -> Vec<Vec<u32>> {
        t.params()
            .to_host()
            .unwrap()
            .iter()
            .map(|v| bits(v))
            .collect()
    };
    assert_eq!(bits_of(&a), bits_of(&b));
    let e = b.tell(&stale.unwrap(), vec![0.0; 32]).unwrap_err();
    assert!(e.to_string().contains("generation 4"), "{e}");
}

/// `pairing = independent` (the seed's `noise_reuse = 0`): member `i` is `θ + σE_i` with its
/// own block and sign +1, odd populations are valid, and the update is the weighted sum of
/// each member's own direction: `θ' = θ + lr/(Nσ) Σ f̃_i σE_i/σ` (textbook scaling, SGD).
#[test]
fn independent_pairing_gives_every_member_its_own_noise() {
    let params = two_params();
    let cfg = EsConfig {
        population_size: 7,
        pairing: Pairing::Independent,
        optimizer: OptimizerConfig::Sgd { momentum: 0.0 },
        ..config()
    };
    let mut es = Eggroll::new(cfg.clone(), &params).unwrap();
    let pop = es.ask(&params, 0).unwrap();
    assert_eq!(pop.num_blocks(), 7);
    for i in 0..7 {
        assert_eq!((pop.noise_index(i), pop.sign(i)), (i, 1.0));
    }
    // Members 0 and 1 are not mirror images (they would be under antithetic pairing).
    let e0 = pop.member_noise(&params, 1, 0).unwrap();
    let e1 = pop.member_noise(&params, 1, 1).unwrap();
    assert!(e0.iter().zip(&e1).any(|(a, b)| (a + b).abs() > 1e-3));
    // The update against a hand-computed Σ f̃_i E_i.
    let fitness: Vec<f32> = (0..7).map(|i| (i as f32 * 1.3).sin()).collect();
    let shaped = {
        let n = fitness.len() as f32;
        let mean = fitness.iter().sum::<f32>() / n;
        let sd = (fitness.iter().map(|f| (f - mean).powi(2)).sum::<f32>() / n).sqrt();
        fitness
            .iter()
            .map(|f| (f - mean) / sd)
            .collect::<Vec<f32>>()
    };
    let mut p2 = params.clone();
    es.tell(&mut p2, &pop, &fitness).unwrap();
    let coef = cfg.learning_rate / (7.0 * cfg.sigma);
    for (k, p) in p2.iter().enumerate() {
        let got = host(p.tensor());
        let mut want = vec![0.0f32; got.len()];
        for i in 0..7 {
            for (w, e) in want
                .iter_mut()
                .zip(pop.member_noise(&params, k, i).unwrap())
            {
                *w += coef * shaped[i] * e;
            }
        }
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "param {k}: {g} vs {w}"
            );
        }
    }
    // Antithetic pairing still refuses an odd population, naming the field.
    let err = Eggroll::new(
        EsConfig {
            population_size: 7,
            ..config()
        },
        &params,
    )
    .unwrap_err();
    assert!(err.to_string().contains("population_size"), "{err}");
}
