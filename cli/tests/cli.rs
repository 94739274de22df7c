//! The `eggroll` binary end to end.

use std::process::{Command, Output};

fn eggroll(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args(args)
        .output()
        .expect("run eggroll")
}

fn last_json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().expect("stdout has a line");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// Sphere 64×64 reaches final fitness ≥ −1e-3 (mean squared error ≤ 1e-3, from 0.33) within
/// the default 800 generations, for two seeds.
#[test]
fn sphere_converges_via_cli() {
    for seed in ["0", "1"] {
        let out = eggroll(&["train", "sphere", "--json", "--quiet", "--seed", seed]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j = last_json(&out);
        for key in [
            "task",
            "seed",
            "generations",
            "wall_s",
            "evals",
            "best_fitness",
            "final_fitness",
            "solved",
        ] {
            assert!(j.get(key).is_some(), "missing {key}: {j}");
        }
        assert_eq!(j["generations"], 800);
        assert!(j["final_fitness"].as_f64().unwrap() >= -1e-3, "{j}");
        assert_eq!(j["solved"], true);
    }
}

/// Rastrigin 16×16 (optimum offset up to ±2, many local optima) reaches ≥ −0.5 within 400
/// generations (it starts near −11).
#[test]
fn rastrigin_converges_via_cli() {
    let out = eggroll(&["train", "rastrigin", "--json", "--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = last_json(&out);
    assert!(j["final_fitness"].as_f64().unwrap() >= -0.5, "{j}");
    assert_eq!(j["solved"], true);
}

#[test]
fn simple_es_runs_via_config_key() {
    let out = eggroll(&[
        "train",
        "sphere",
        "--json",
        "--quiet",
        "--set",
        "strategy=simple_es",
        "--generations",
        "20",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(last_json(&out)["strategy"], "simple_es");
}

#[test]
fn bad_input_exits_nonzero_naming_the_problem() {
    let cases: &[(&[&str], &str)] = &[
        (&["--population", "0"], "population_size"),
        (&["--population", "7"], "population_size"),
        (&["--rank", "0"], "rank"),
        (&["--rank", "65"], "rank"),
        (&["--sigma", "0"], "sigma"),
        (&["--sigma=-1"], "sigma"),
        (&["--lr", "NaN"], "learning_rate"),
        (&["--lr", "inf"], "learning_rate"),
        (&["--set", "es.group_size=3"], "group_size"),
        (&["--set", "es.noise_reuse=0"], "noise_reuse"),
        (&["--set", "es.bogus=1"], "bogus"),
        (&["--set", "bogus=1"], "bogus"),
        (&["--set", "es.sigma=\"big\""], "sigma"),
        (&["--set", "novalue"], "key=value"),
        (
            &["--config", "/nonexistent/config.toml"],
            "/nonexistent/config.toml",
        ),
        (&["--generations", "0"], "generations"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["train", "sphere", "--quiet"];
        args.extend_from_slice(extra);
        let out = eggroll(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} should fail");
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(
            err.contains(needle),
            "{extra:?}: stderr lacks `{needle}`: {err}"
        );
        assert!(!err.contains("panicked"), "{extra:?} panicked: {err}");
    }
    let out = eggroll(&["train", "nosuchtask"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown task"));
}

/// `config show` prints a config that loads back; `--out` writes the run directory.
#[test]
fn config_roundtrip_and_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = eggroll(&["config", "show", "sphere"]);
    assert!(out.status.success());
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, &out.stdout).unwrap();
    let run = dir.path().join("run");
    let out = eggroll(&[
        "train",
        "sphere",
        "--quiet",
        "--json",
        "--config",
        cfg.to_str().unwrap(),
        "--generations",
        "30",
        "--set",
        "checkpoint_every=10",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 30);
    for line in metrics.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["mean"].is_number() && v["best_ever"].is_number());
    }
    for f in [
        "config.toml",
        "checkpoint.safetensors",
        "params.safetensors",
    ] {
        assert!(run.join(f).exists(), "{f}");
    }
    // The resolved config records the override.
    let resolved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(resolved.contains("generations = 30"), "{resolved}");
}

/// CartPole-v1 with the default config: the unperturbed policy's mean return over 100 fresh
/// episodes is ≥ 475 (solved), for three seeds.
#[test]
fn cartpole_default_config_solves() {
    for seed in ["0", "1", "2"] {
        let out = eggroll(&["train", "cartpole", "--json", "--quiet", "--seed", seed]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j = last_json(&out);
        assert_eq!(j["eval_episodes"], 100, "{j}");
        assert!(
            j["eval_mean"].as_f64().unwrap() >= 475.0,
            "seed {seed}: {j}"
        );
        assert_eq!(j["solved"], true);
    }
}

#[test]
fn bench_forward_json_has_all_keys() {
    let out = eggroll(&[
        "bench",
        "forward",
        "--population",
        "64",
        "--layers",
        "8,16,4",
        "--rank",
        "2",
        "--rounds",
        "1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = last_json(&out);
    for key in [
        "inference_members_per_s",
        "eggroll_members_per_s",
        "eggroll_noise_members_per_s",
        "materialized_members_per_s",
        "eggroll_vs_inference",
        "eggroll_noise_vs_inference",
        "materialized_vs_inference",
    ] {
        assert!(j[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {j}");
    }
    let bad = eggroll(&["bench", "forward", "--population", "3"]);
    assert!(!bad.status.success());
}

/// Write a separable synthetic 10-class "MNIST" (12×12 images: class c lights its own 2×2
/// block, plus deterministic noise) as IDX files: `train` and `t10k` splits.
fn synthetic_mnist(dir: &std::path::Path, train: usize, test: usize) {
    use eggroll_envs::mnist::encode_idx;
    let make = |n: usize, salt: u64| {
        let mut images = vec![0u8; n * 144];
        let mut labels = vec![0u8; n];
        for i in 0..n {
            let h = eggroll_core::noise::mix64(i as u64 ^ salt);
            let c = (h % 10) as usize;
            labels[i] = c as u8;
            let (r0, c0) = ((c / 5) * 6 + 2, (c % 5) * 2 + 1);
            for p in 0..144 {
                images[i * 144 + p] = (eggroll_core::noise::mix64(h ^ p as u64) % 60) as u8;
            }
            for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                images[i * 144 + (r0 + dr) * 12 + c0 + dc] = 255;
            }
        }
        (encode_idx(&[n, 12, 12], &images), encode_idx(&[n], &labels))
    };
    let (ti, tl) = make(train, 1);
    let (vi, vl) = make(test, 2);
    std::fs::write(dir.join("train-images-idx3-ubyte"), ti).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), tl).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), vi).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), vl).unwrap();
}

/// IDX → bandit → shared-input batched forward → update, end to end on the synthetic fixture:
/// test accuracy ≥ 0.95 within 600 generations (chance is 0.10).
#[test]
fn mnist_task_learns_a_synthetic_fixture() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_mnist(dir.path(), 3000, 1000);
    let out = eggroll(&[
        "train", "mnist", "--json", "--quiet", "--data-dir", dir.path().to_str().unwrap(),
        "--generations", "600", "--batch", "128", "--population", "128", "--set", "policy.hidden=[32]",
        "--set", "solved_at=0.95",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = last_json(&out);
    assert!(j["test_accuracy"].as_f64().unwrap() >= 0.95, "{j}");
    assert_eq!(j["solved"], true);
}

#[test]
fn mnist_missing_data_points_at_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let out = eggroll(&["train", "mnist", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scripts/get-mnist.sh") && err.contains("train-images-idx3-ubyte"), "{err}");
    // Incomplete: images without labels.
    synthetic_mnist(dir.path(), 10, 10);
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let out = eggroll(&["train", "mnist", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("t10k-labels-idx1-ubyte"));
    // Corrupt: truncated images file.
    synthetic_mnist(dir.path(), 10, 10);
    let p = dir.path().join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 5]).unwrap();
    let out = eggroll(&["train", "mnist", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}
