//! The device population forward (the code `--device cuda` runs) on the CPU device: both
//! low-rank paths equal the fused CPU forward and the materialised reference. With the `cuda`
//! feature and a GPU, the same checks run on GPU 0 (relative error ≤ 1e-3).

use candle_core::{Device, Tensor};
use eggroll_core::EsConfig;
use eggroll_policies::device::{DeviceForward, Forward, LowRankPath};
use eggroll_policies::{Activation, MlpConfig};
use eggroll_policies::{PopulationForward, materialized_forward};

mod common;
use common::{
    assert_cartpole_solves, cartpole_evaluator, cartpole_policy, inputs, max_abs_diff, setup,
};

/// Print a skip notice on the real stderr (the test harness captures `eprintln!`).
fn skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}");
}

/// GPU 0, or None (with a SKIPPED notice) when this machine has no CUDA device or driver.
/// Any other CUDA error (a broken driver, a version mismatch, an init failure) fails the
/// test, and with `EGGROLL_REQUIRE_GPU=1` (set by `scripts/gpu-check.sh`) so does a missing
/// device.
fn gpu_or_skip(test: &str) -> Option<Device> {
    // cudarc opens the driver on first use and panics when it cannot (no driver installed).
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(|| Device::new_cuda(0));
    std::panic::set_hook(previous);
    let e = match opened {
        Ok(Ok(d)) => return Some(d),
        Ok(Err(e)) => e.to_string(),
        Err(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    };
    assert!(
        is_missing_device(&e) && std::env::var_os("EGGROLL_REQUIRE_GPU").is_none(),
        "{test}: opening CUDA device 0 failed: {e}"
    );
    let short = e.split(" - searched").next().unwrap_or(&e);
    skipped(&format!("{test}: no CUDA device ({short})"));
    None
}

/// Whether a CUDA initialisation error means "there is no GPU here" (as opposed to a GPU
/// whose driver is broken).
fn is_missing_device(e: &str) -> bool {
    [
        "CUDA_ERROR_NO_DEVICE",
        "CUDA_ERROR_STUB_LIBRARY",
        "no CUDA-capable device",
        "not compiled with cuda support",
        "Unable to dynamically load the \"cuda\" shared library",
    ]
    .iter()
    .any(|k| e.contains(k))
}

#[test]
fn only_a_missing_device_counts_as_no_gpu() {
    assert!(is_missing_device(
        "DriverError(CUDA_ERROR_NO_DEVICE, \"no CUDA-capable device is detected\")"
    ));
    assert!(is_missing_device(
        "DriverError(CUDA_ERROR_STUB_LIBRARY, \"CUDA driver is a stub library\")"
    ));
    assert!(!is_missing_device(
        "DriverError(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, \"system has unsupported display driver / cuda driver combination\")"
    ));
    assert!(!is_missing_device(
        "DriverError(CUDA_ERROR_UNKNOWN, \"unknown error\")"
    ));
    // No driver installed at all (cudarc's dynamic loading), versus a missing CUDA library.
    assert!(is_missing_device(
        "Unable to dynamically load the \"cuda\" shared library - searched for library names: [\"libcuda.so\"]"
    ));
    assert!(!is_missing_device(
        "Unable to dynamically load the \"cublas\" shared library - searched for library names: [\"libcublas.so.13\"]"
    ));
    assert!(!is_missing_device(
        "DriverError(CUDA_ERROR_INSUFFICIENT_DRIVER, \"CUDA driver version is insufficient for CUDA runtime version\")"
    ));
}

/// Every tensor of one parameter's noise, as host vectors (none for frozen parameters).
fn noise_tensors(n: &eggroll_core::Noise) -> Vec<Vec<f32>> {
    use eggroll_core::Noise;
    let host = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    match n {
        Noise::None => vec![],
        Noise::LowRank { a, b, .. } => vec![host(a), host(b)],
        Noise::Full { eps } => vec![host(eps)],
    }
}

/// Every configuration of the reference test, through both device paths on the CPU device.
#[test]
fn device_forward_equals_cpu_forward_and_reference() {
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
                    let (params, pop) = setup(&cfg, es, simple, &Device::Cpu);
                    let rows = 200;
                    let members: Vec<u32> = (0..rows as u32).map(|i| (i * 7) % 40).collect();
                    let x = inputs(rows, 6);
                    let mut cpu = vec![0.0; rows * 4];
                    let mut slow = vec![0.0; rows * 4];
                    PopulationForward::new(&cfg, &params, Some(&pop))
                        .unwrap()
                        .forward(&x, Some(&members), &mut cpu)
                        .unwrap();
                    materialized_forward(&cfg, &params, &pop, &x, Some(&members), &mut slow)
                        .unwrap();
                    for path in [LowRankPath::Fused, LowRankPath::Ops] {
                        let mut dev = vec![0.0; rows * 4];
                        DeviceForward::new(&cfg, &params, Some(&pop), &Device::Cpu)
                            .unwrap()
                            .with_path(path)
                            .forward(&x, Some(&members), &mut dev)
                            .unwrap();
                        let tag = format!(
                            "{path:?} bias={bias} act={act:?} r={rank} simple={simple} freeze={freeze}"
                        );
                        assert!(max_abs_diff(&dev, &cpu) <= 1e-4, "{tag}: vs cpu");
                        assert!(max_abs_diff(&dev, &slow) <= 1e-4, "{tag}: vs reference");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 32);
}

#[test]
fn device_plain_inference_and_shared_batch_match_cpu() {
    let cfg = MlpConfig {
        sizes: vec![12, 20, 5],
        activation: Activation::Tanh,
        bias: true,
    };
    let es = EsConfig {
        population_size: 10,
        rank: 2,
        sigma: 0.2,
        ..EsConfig::default()
    };
    let (params, pop) = setup(&cfg, es, false, &Device::Cpu);
    let x = inputs(7, 12);
    // Plain inference (no population).
    let (mut a, mut b) = (vec![0.0; 35], vec![0.0; 35]);
    PopulationForward::new(&cfg, &params, None)
        .unwrap()
        .forward(&x, None, &mut a)
        .unwrap();
    DeviceForward::new(&cfg, &params, None, &Device::Cpu)
        .unwrap()
        .forward(&x, None, &mut b)
        .unwrap();
    assert!(max_abs_diff(&a, &b) <= 1e-5);
    // Shared batch: members 3..9 on the same 7 inputs.
    let (mut a, mut b) = (vec![0.0; 6 * 35], vec![0.0; 6 * 35]);
    PopulationForward::new(&cfg, &params, Some(&pop))
        .unwrap()
        .forward_shared(&x, 3..9, &mut a)
        .unwrap();
    DeviceForward::new(&cfg, &params, Some(&pop), &Device::Cpu)
        .unwrap()
        .forward_shared(&x, 3..9, &mut b)
        .unwrap();
    assert!(max_abs_diff(&a, &b) <= 1e-4);
    // Forward picks the fused CPU path for CPU parameters.
    assert!(matches!(
        Forward::new(&cfg, &params, Some(&pop)).unwrap(),
        Forward::Host(_)
    ));
}

#[test]
fn device_forward_bad_shapes_are_typed_errors() {
    let cfg = MlpConfig {
        sizes: vec![3, 4, 2],
        activation: Activation::Tanh,
        bias: true,
    };
    let params = cfg.init(0, &Device::Cpu).unwrap();
    let f = DeviceForward::new(&cfg, &params, None, &Device::Cpu).unwrap();
    let mut out = vec![0.0; 4];
    assert!(f.forward(&[0.0; 5], None, &mut out).is_err());
    assert!(f.forward(&[0.0; 6], None, &mut [0.0; 3]).is_err());
    assert!(f.forward(&[0.0; 6], Some(&[0]), &mut out).is_err());
    let bad = Tensor::zeros((2, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
    let e = f.forward_tensor(&bad, None).unwrap_err().to_string();
    assert!(e.contains("input"), "{e}");
}

/// GPU 0, when there is one: the CUDA forward (both paths) equals the CPU forward within
/// 1e-3 relative (to the output's scale), and the noise is the same on both devices.
#[test]
#[cfg_attr(not(feature = "cuda"), ignore = "needs --features cuda and a GPU")]
fn cuda_forward_equals_cpu_forward() {
    let Some(gpu) = gpu_or_skip("cuda_forward_equals_cpu_forward") else {
        return;
    };
    for (sizes, rank, simple) in [
        (vec![4, 64, 64, 2], 1, false),
        (vec![256, 256, 256, 256], 1, false),
        (vec![33, 70, 9], 4, false),
        (vec![12, 20, 5], 1, true),
    ] {
        let cfg = MlpConfig {
            sizes: sizes.clone(),
            activation: Activation::Tanh,
            bias: true,
        };
        let es = EsConfig {
            population_size: 512,
            rank,
            sigma: 0.1,
            ..EsConfig::default()
        };
        let (cpu_params, cpu_pop) = setup(&cfg, es.clone(), simple, &Device::Cpu);
        let (gpu_params, gpu_pop) = setup(&cfg, es, simple, &gpu);
        // Same counters → same noise on both devices: every tensor of every parameter (A, B,
        // full ε of weights and biases), bit for bit.
        assert_eq!(cpu_pop.noise.len(), gpu_pop.noise.len());
        let mut compared = 0;
        for (i, (nc, ng)) in cpu_pop.noise.iter().zip(&gpu_pop.noise).enumerate() {
            let (tc, tg) = (noise_tensors(nc), noise_tensors(ng));
            assert_eq!(tc.len(), tg.len(), "parameter {i}: noise kinds differ");
            for (c, g) in tc.iter().zip(&tg) {
                let bits = |v: &Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(c), bits(g), "parameter {i}: noise bits differ");
                compared += 1;
            }
        }
        assert!(
            compared >= cpu_pop.noise.len(),
            "only {compared} noise tensors compared"
        );
        let rows = 1000;
        let members: Vec<u32> = (0..rows as u32).map(|i| (i * 13) % 512).collect();
        let x = inputs(rows, sizes[0]);
        let dout = *sizes.last().unwrap();
        let mut cpu = vec![0.0; rows * dout];
        PopulationForward::new(&cfg, &cpu_params, Some(&cpu_pop))
            .unwrap()
            .forward(&x, Some(&members), &mut cpu)
            .unwrap();
        let scale = cpu.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        for path in [LowRankPath::Fused, LowRankPath::Ops] {
            let mut dev = vec![0.0; rows * dout];
            DeviceForward::new(&cfg, &gpu_params, Some(&gpu_pop), &gpu)
                .unwrap()
                .with_path(path)
                .forward(&x, Some(&members), &mut dev)
                .unwrap();
            let rel = max_abs_diff(&dev, &cpu) / scale;
            assert!(
                rel <= 1e-3,
                "{sizes:?} r={rank} {path:?}: relative error {rel}"
            );
        }
    }
}

#[test]
fn device_materialized_baseline_equals_host_reference() {
    let cfg = MlpConfig {
        sizes: vec![5, 11, 3],
        activation: Activation::Relu,
        bias: true,
    };
    for simple in [false, true] {
        let es = EsConfig {
            population_size: 24,
            rank: 2,
            sigma: 0.3,
            ..EsConfig::default()
        };
        let (params, pop) = setup(&cfg, es, simple, &Device::Cpu);
        let x = inputs(24, 5);
        let mut host = vec![0.0; 24 * 3];
        materialized_forward(&cfg, &params, &pop, &x, None, &mut host).unwrap();
        let xt = Tensor::from_vec(x, (24, 5), &Device::Cpu).unwrap();
        let dev = eggroll_policies::device::materialized_forward_tensor(&cfg, &params, &pop, &xt)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(max_abs_diff(&host, &dev) <= 1e-4, "simple={simple}");
    }
}

/// CartPole-v1 trained with parameters, noise, forward and update on GPU 0 (environments on
/// the CPU) reaches a 100-episode mean of 475 within 30 generations.
#[test]
#[cfg_attr(not(feature = "cuda"), ignore = "needs --features cuda and a GPU")]
fn cuda_cartpole_training_reaches_475() {
    let Some(gpu) = gpu_or_skip("cuda_cartpole_training_reaches_475") else {
        return;
    };
    let params = cartpole_policy().init(0, &Device::Cpu).unwrap();
    let params = params.to_device(&gpu).unwrap();
    assert!(params.device().is_cuda());
    assert_cartpole_solves(params, &mut cartpole_evaluator(), "cuda");
}

/// The device benchmark's code path, run on the CPU device with a small shape.
#[test]
fn device_benchmark_runs_on_the_cpu_device() {
    let r = eggroll_policies::bench::ForwardBench {
        population: 64,
        layers: vec![8, 16, 4],
        rank: 2,
        rounds: 1,
        materialized_rows: 16,
        device: Device::Cpu,
    }
    .run_device()
    .unwrap();
    assert!(r.eggroll_ops_members_per_s.is_some_and(|v| v > 0.0));
    assert!(r.inference_members_per_s > 0.0 && r.materialized_members_per_s > 0.0);
    assert_eq!(r.device, "cpu");
}

/// The CUDA kernel itself (`kernels/lowrank.cu`), run by a CPU emulator of CUDA threads,
/// barriers and warp shuffles (`kernels/emulate.cpp`) against a plain reference: its
/// indexing, shared-memory layout and reductions are tested without a GPU. Needs g++ ≥ 10.
#[test]
fn cuda_kernel_matches_reference_under_cpu_emulation() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("emulate");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/emulate.cpp");
    if !std::path::Path::new(src).exists() {
        // A test binary copied to another machine (scripts/gpu-check.sh) has no sources.
        skipped(&format!("cuda kernel emulation: {src} is not here"));
        return;
    }
    let built = std::process::Command::new("g++")
        .args(["-std=c++20", "-O1", "-pthread", "-x", "c++", src, "-o"])
        .arg(&exe)
        .output();
    let built = match built {
        Ok(o) => o,
        Err(e) => {
            skipped(&format!("cuda kernel emulation: no g++ ({e})"));
            return;
        }
    };
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let run = std::process::Command::new(&exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    assert!(stdout.contains("8 cases, 0 failed"), "{stdout}");
}

/// GPU training's forward path end to end on the CPU device: rollouts through `DeviceForward`
/// (members leaving the batch as episodes end). CartPole reaches a 100-episode mean of 475
/// within 30 generations. (The update's device path is tested in core's engine tests.)
#[test]
fn device_path_cartpole_training_reaches_475() {
    let params = cartpole_policy().init(0, &Device::Cpu).unwrap();
    let mut ev = cartpole_evaluator().with_device_forward();
    assert_cartpole_solves(params, &mut ev, "device path on the CPU");
}

/// Bad member ids and inconsistent noise never reach a kernel: every public entry point of the
/// CPU, device and materialised forwards checks them on the host and returns a typed error
/// naming the field (before the checks, an out-of-range id read out of bounds).
#[test]
fn member_ids_and_noise_shapes_are_checked_before_any_kernel() {
    use eggroll_core::{Error, Noise};
    let cfg = MlpConfig {
        sizes: vec![5, 7, 3],
        activation: Activation::Tanh,
        bias: true,
    };
    let es = EsConfig {
        population_size: 8,
        rank: 2,
        ..EsConfig::default()
    };
    let (params, pop) = setup(&cfg, es, false, &Device::Cpu);
    let x = inputs(4, 5);
    let mut out = vec![0.0; 4 * 3];
    let names = |e: Error, field: &str| {
        let msg = e.to_string();
        assert!(msg.contains(field), "error does not name `{field}`: {msg}");
    };
    // Member id 8 in a population of 8, explicitly or implicitly (9 rows without ids).
    let ids = [0u32, 3, 8, 1];
    let x9 = inputs(9, 5);
    let mut out9 = vec![0.0; 9 * 3];
    let cpu = PopulationForward::new(&cfg, &params, Some(&pop)).unwrap();
    names(
        cpu.forward(&x, Some(&ids), &mut out).unwrap_err(),
        "members",
    );
    names(cpu.forward(&x9, None, &mut out9).unwrap_err(), "members");
    let mut shared = vec![0.0; 3 * 4 * 3];
    names(
        cpu.forward_shared(&x, 6..9, &mut shared).unwrap_err(),
        "members",
    );
    for path in [LowRankPath::Fused, LowRankPath::Ops] {
        let dev = DeviceForward::new(&cfg, &params, Some(&pop), &Device::Cpu)
            .unwrap()
            .with_path(path);
        names(
            dev.forward(&x, Some(&ids), &mut out).unwrap_err(),
            "members",
        );
        names(dev.forward(&x9, None, &mut out9).unwrap_err(), "members");
        names(
            dev.forward_shared(&x, 6..9, &mut shared).unwrap_err(),
            "members",
        );
    }
    names(
        materialized_forward(&cfg, &params, &pop, &x, Some(&ids), &mut out).unwrap_err(),
        "members",
    );
    // In range: all fine.
    let ok = [0u32, 3, 7, 1];
    cpu.forward(&x, Some(&ok), &mut out).unwrap();
    // Too few noise blocks for the population, a wrong rank, a missing noise entry.
    let mut short = pop.clone();
    if let Noise::LowRank { a, .. } = &mut short.noise[0] {
        *a = a.narrow(0, 0, 2).unwrap();
    } else {
        panic!("layers.0.weight has low-rank noise");
    }
    let mut wrong_rank = pop.clone();
    if let Noise::LowRank { rank, .. } = &mut wrong_rank.noise[0] {
        *rank = 3;
    }
    let mut missing = pop.clone();
    missing.noise.pop();
    for (what, bad) in [
        ("layers.0.weight", &short),
        ("layers.0.weight", &wrong_rank),
    ] {
        names(
            PopulationForward::new(&cfg, &params, Some(bad))
                .err()
                .unwrap(),
            what,
        );
        names(
            DeviceForward::new(&cfg, &params, Some(bad), &Device::Cpu)
                .err()
                .unwrap(),
            what,
        );
        names(
            materialized_forward(&cfg, &params, bad, &x, None, &mut out).unwrap_err(),
            what,
        );
    }
    names(
        PopulationForward::new(&cfg, &params, Some(&missing))
            .err()
            .unwrap(),
        "population.noise",
    );
}

/// The population layers on GPU 0 (`Model::forward_shared` and `Model::forward` take the
/// candle-ops path when the parameters live there): the MNIST CNN and charlm's transformer
/// and minGRU equal the CPU fused path (relative error ≤ 1e-3) at ranks 1 and 4.
#[test]
#[cfg_attr(not(feature = "cuda"), ignore = "needs --features cuda and a GPU")]
fn cuda_layers_equal_the_cpu_path() {
    use eggroll_core::{Eggroll, Strategy};
    let Some(gpu) = gpu_or_skip("cuda_layers_equal_the_cpu_path") else {
        return;
    };
    let lm = |kind| eggroll_policies::charlm::LmSpec {
        kind,
        width: 32,
        depth: 1,
        heads: 4,
        context: 32,
        alibi: Some(0.5),
    };
    let models: Vec<(&str, eggroll_policies::nn::Model, Vec<f32>)> = vec![
        (
            "mnist cnn",
            eggroll_policies::mnist::cnn(28, 28, &[8, 16]).unwrap(),
            inputs(4 * 784, 3),
        ),
        (
            "charlm transformer",
            lm(eggroll_policies::charlm::LmKind::Transformer)
                .build()
                .unwrap(),
            (0..4 * 32).map(|i| ((i * 37) % 256) as f32).collect(),
        ),
        (
            "charlm mingru",
            lm(eggroll_policies::charlm::LmKind::Mingru)
                .build()
                .unwrap(),
            (0..4 * 32).map(|i| ((i * 11) % 256) as f32).collect(),
        ),
    ];
    for (name, model, x) in &models {
        for rank in [1, 4] {
            let params = model.init(2, &Device::Cpu).unwrap();
            let es = EsConfig {
                population_size: 16,
                rank,
                sigma: 0.05,
                ..EsConfig::default()
            };
            let pop = Eggroll::new(es.clone(), &params)
                .unwrap()
                .ask(&params, 0)
                .unwrap();
            let cpu = model.forward_shared(&params, &pop, x, 0..16).unwrap();
            let on_gpu = params.to_device(&gpu).unwrap();
            let gpu_pop = Eggroll::new(es, &on_gpu).unwrap().ask(&on_gpu, 0).unwrap();
            let y = model.forward_shared(&on_gpu, &gpu_pop, x, 0..16).unwrap();
            let scale = cpu.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let err = max_abs_diff(&cpu, &y) / scale;
            assert!(err <= 1e-3, "{name} rank {rank}: relative error {err}");
            let plain_cpu = model.forward(&params, None, x, None).unwrap();
            let plain_gpu = model.forward(&on_gpu, None, x, None).unwrap();
            assert!(
                max_abs_diff(&plain_cpu, &plain_gpu) / scale <= 1e-3,
                "{name} plain"
            );
        }
        // Five EGGROLL generations on the GPU (forward and update there) end where the CPU's do.
        struct Mean<'m> {
            model: &'m eggroll_policies::nn::Model,
            x: &'m [f32],
        }
        impl eggroll_core::Evaluator for Mean<'_> {
            fn evaluate_members(
                &mut self,
                params: &eggroll_core::Params,
                population: &eggroll_core::Population,
                members: std::ops::Range<usize>,
            ) -> eggroll_core::Result<Vec<f32>> {
                let n = members.len();
                let y = self
                    .model
                    .forward_shared(params, population, self.x, members)?;
                Ok(y.chunks(y.len() / n)
                    .map(|c| c.iter().sum::<f32>())
                    .collect())
            }
        }
        let train = |device: &Device| {
            let params = model
                .init(2, &Device::Cpu)
                .unwrap()
                .to_device(device)
                .unwrap();
            let es = EsConfig {
                population_size: 16,
                sigma: 0.05,
                learning_rate: 0.01,
                ..EsConfig::default()
            };
            let mut t = eggroll_core::Trainer::new(Eggroll::new(es, &params).unwrap(), params);
            let mut eval = Mean { model, x };
            for _ in 0..5 {
                t.step(&mut eval).unwrap();
            }
            t.params().to_host().unwrap().concat()
        };
        let (cpu, on_gpu) = (train(&Device::Cpu), train(&gpu));
        let scale = cpu.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        let err = max_abs_diff(&cpu, &on_gpu) / scale;
        assert!(err <= 1e-3, "{name}: trained parameters differ by {err}");
    }
}
