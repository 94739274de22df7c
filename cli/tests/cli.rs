//! The `eggroll` binary end to end.
#![allow(clippy::needless_range_loop)]

use std::process::{Command, Output};

mod common;
use common::eggroll;
use common::{generated_text, synthetic_mnist};

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
        (&["--rank", "5000"], "rank"),
        (&["--sigma", "-1"], "sigma"),
        (&["--lr", "-0.5"], "learning_rate"),
        (&["--time-budget", "-3"], "time_budget_s"),
        (&["--population", "-4"], "--population"),
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
        // Invalid values exit 1; a value the flag's type cannot hold is a usage error (2).
        let code = if needle.starts_with("--") { 2 } else { 1 };
        assert_eq!(out.status.code(), Some(code), "{extra:?}: {err}");
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
        "policy.safetensors",
        "policy_best.safetensors",
        "fitness.png",
        "fitness.svg",
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
    let out = eggroll(&[
        "bench",
        "forward",
        "--population",
        "8",
        "--layers",
        "12,6,10",
        "--shared-batch",
        "16",
        "--rounds",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = last_json(&out);
    for key in [
        "inference_member_inputs_per_s",
        "eggroll_member_inputs_per_s",
        "eggroll_vs_inference",
    ] {
        assert!(j[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {j}");
    }
}

/// IDX → bandit → shared-input batched forward → update, end to end on the synthetic fixture:
/// test accuracy ≥ 0.95 within 600 generations (chance is 0.10).
#[test]
fn mnist_task_learns_a_synthetic_fixture() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_mnist(dir.path(), 3000, 1000);
    let out = eggroll(&[
        "train",
        "mnist",
        "--json",
        "--quiet",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--generations",
        "600",
        "--batch",
        "128",
        "--population",
        "128",
        "--set",
        "policy.hidden=[32]",
        "--set",
        "solved_at=0.95",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = last_json(&out);
    assert!(j["test_accuracy"].as_f64().unwrap() >= 0.95, "{j}");
    assert_eq!(j["solved"], true);
}

/// `--model cnn`: a conv net trained on the population layers learns the synthetic fixture
/// with the log-likelihood fitness; the JSON names the model, its parameter count and the
/// fitness; the exported policy holds PyTorch-layout conv kernels and `eggroll eval`
/// reproduces the test accuracy; `--model cnn` on a control task is an error.
#[test]
fn mnist_cnn_learns_the_synthetic_fixture_and_exports() {
    use eggroll_core::checkpoint::load_safetensors;
    let dir = tempfile::tempdir().unwrap();
    synthetic_mnist(dir.path(), 3000, 1000);
    let out_dir = dir.path().join("run");
    let out = eggroll(&[
        "train",
        "mnist",
        "--model",
        "cnn",
        "--json",
        "--quiet",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--generations",
        "300",
        "--batch",
        "64",
        "--population",
        "128",
        "--set",
        "fitness=log_likelihood",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = last_json(&out);
    assert_eq!(j["model"], "cnn", "{j}");
    assert_eq!(j["fitness"], "log_likelihood", "{j}");
    // 12×12 images: conv 1→8 (5×5) → 6×6, conv 8→16 (3×3) → 3×3, linear 144 → 10.
    assert_eq!(
        j["params"],
        8 * 25 + 8 + 16 * 72 + 16 + 144 * 10 + 10,
        "{j}"
    );
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.9, "{j}");
    let policy = out_dir.join("policy.safetensors");
    let (meta, tensors) = load_safetensors(&policy, &candle_core::Device::Cpu).unwrap();
    let conv = &tensors
        .iter()
        .find(|(n, _)| n == "convs.0.weight")
        .unwrap()
        .1;
    assert_eq!(conv.dims(), &[8, 1, 5, 5]);
    assert!(meta.contains_key("cnn"));
    let out = eggroll(&[
        "eval",
        "mnist",
        "--policy",
        policy.to_str().unwrap(),
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(last_json(&out)["test_accuracy"].as_f64().unwrap(), acc);
    let out = eggroll(&["train", "cartpole", "--model", "cnn", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy.model"));
}

/// `charlm`: both models train on a generated corpus and lower the held-out bits per byte
/// by more than 0.5 from where one generation leaves them; the report has the baselines and throughput; missing or empty
/// data and a wrong model are errors naming the problem.
#[test]
fn charlm_trains_both_models_and_reports_bits_per_byte() {
    let dir = tempfile::tempdir().unwrap();
    generated_text(dir.path());
    let run = |model: &str, generations: &str| {
        let out = eggroll(&[
            "train",
            "charlm",
            "--model",
            model,
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--generations",
            generations,
            "--population",
            "64",
            "--batch",
            "8",
            "--set",
            "data.context=16",
            "--set",
            "policy.hidden=[16]",
            "--set",
            "es.sigma=0.05",
            "--set",
            "es.learning_rate=0.03",
            "--json",
            "--quiet",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        last_json(&out)
    };
    for model in ["transformer", "mingru"] {
        let before = run(model, "1");
        let after = run(model, "60");
        let (b0, b1) = (
            before["test_bpb"].as_f64().unwrap(),
            after["test_bpb"].as_f64().unwrap(),
        );
        assert!(b1 < b0 - 0.5, "{model}: test_bpb {b0} -> {b1}");
        assert_eq!(after["model"], model);
        let (uni, bi) = (
            after["unigram_bpb"].as_f64().unwrap(),
            after["bigram_bpb"].as_f64().unwrap(),
        );
        assert!(bi < uni && uni < 8.0, "{after}");
        assert!(after["member_tokens_per_s"].as_f64().unwrap() > 0.0);
        assert!(after["params"].as_u64().unwrap() > 0);
        assert_eq!(after["solved"], serde_json::json!(b1 < bi));
    }
    // The policy carries the model: `eggroll sample` continues a prompt deterministically for
    // a seed; an empty prompt and arbitrary bytes are fine; --bytes 0 and a non-LM policy are
    // errors.
    let out_dir = dir.path().join("lm");
    let out = eggroll(&[
        "train",
        "charlm",
        "--model",
        "mingru",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--generations",
        "5",
        "--set",
        "data.context=16",
        "--set",
        "policy.hidden=[16]",
        "--set",
        "evaluation.eval_every=2",
        "--quiet",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The bpb-vs-time curve: evals.jsonl gets test_bpb every 2 generations.
    let evals = std::fs::read_to_string(out_dir.join("evals.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = evals
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{evals}");
    assert_eq!(lines[0]["generation"], 2);
    assert_eq!(lines[1]["generation"], 4);
    for l in &lines {
        let bpb = l["test_bpb"].as_f64().unwrap();
        assert!(
            bpb > 0.0 && bpb < 9.0 && l["train_s"].as_f64().unwrap() >= 0.0,
            "{l}"
        );
    }
    let written = std::fs::read(out_dir.join("sample.txt")).unwrap();
    assert!(written.starts_with(b"The ") && written.len() == 4 + 400 + 1);
    let policy = out_dir.join("policy.safetensors");
    let sample = |prompt: &str, bytes: &str| {
        eggroll(&[
            "sample",
            "--policy",
            policy.to_str().unwrap(),
            "--prompt",
            prompt,
            "--bytes",
            bytes,
            "--json",
        ])
    };
    let a = sample("the cat ", "40");
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(last_json(&a)["bytes"], 40);
    assert_eq!(a.stdout, sample("the cat ", "40").stdout);
    assert!(sample("", "10").status.success());
    assert!(sample("\u{7f}\u{1}ÿ", "10").status.success());
    let zero = sample("x", "0");
    assert_eq!(zero.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--bytes"));
    // Missing and empty data, a wrong model.
    let empty = tempfile::tempdir().unwrap();
    let out = eggroll(&[
        "train",
        "charlm",
        "--data-dir",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("train.txt") && err.contains("scripts/get-text.sh"),
        "{err}"
    );
    std::fs::write(empty.path().join("train.txt"), b"").unwrap();
    let out = eggroll(&[
        "train",
        "charlm",
        "--data-dir",
        empty.path().to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is empty"));
    let out = eggroll(&[
        "train",
        "charlm",
        "--model",
        "cnn",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy.model"));
}

#[test]
fn mnist_missing_data_points_at_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let out = eggroll(&["train", "mnist", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scripts/get-mnist.sh") && err.contains("train-images-idx3-ubyte"),
        "{err}"
    );
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

/// Every shipped config in examples/configs/ loads and runs one generation.
#[test]
fn shipped_configs_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs");
    let tmp = tempfile::tempdir().unwrap();
    let mnist = tmp.path().join("mnist");
    std::fs::create_dir(&mnist).unwrap();
    synthetic_mnist(&mnist, 50, 20);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let table: toml::Table = text.parse().unwrap();
        let task = table["task"].as_str().unwrap();
        let mut args = vec![
            "train",
            task,
            "--quiet",
            "--generations",
            "1",
            "--config",
            path.to_str().unwrap(),
        ];
        let out_dir = tmp.path().join(format!("run{n}"));
        args.extend(["--out", out_dir.to_str().unwrap()]);
        if task == "mnist" {
            // The synthetic fixture has 12×12 images; the config's network adapts to it.
            args.extend(["--data-dir", mnist.to_str().unwrap()]);
        }
        let out = eggroll(&args);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        n += 1;
    }
    assert!(n >= 4, "only {n} configs found");
}

fn non_timing(line: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    for k in ["evals_per_s", "gen_s", "wall_s"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

/// `--resume` continues from the last checkpoint and ends bit-identical to an uninterrupted
/// run: same policy.safetensors bytes, same metrics lines (timing fields aside), for a control
/// task and a benchmark.
#[test]
fn resume_is_bit_identical_via_cli() {
    // Acrobot normalises observations: the normaliser's state resumes bit-identically too.
    for (task, total, half) in [
        ("pendulum", "40", "20"),
        ("sphere", "60", "30"),
        ("acrobot", "40", "20"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        let common = [
            "--quiet",
            "--set",
            "checkpoint_every=10",
            "--set",
            "eval_every=10",
        ];
        let mut args = vec![
            "train",
            task,
            "--generations",
            total,
            "--out",
            a.to_str().unwrap(),
        ];
        args.extend(common);
        assert!(eggroll(&args).status.success());
        let mut args = vec![
            "train",
            task,
            "--generations",
            half,
            "--out",
            b.to_str().unwrap(),
        ];
        args.extend(common);
        assert!(eggroll(&args).status.success());
        let out = eggroll(&[
            "train",
            "--resume",
            b.to_str().unwrap(),
            "--generations",
            total,
            "--quiet",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let same = std::fs::read(a.join("policy.safetensors")).unwrap()
            == std::fs::read(b.join("policy.safetensors")).unwrap();
        assert!(same, "{task}: policy.safetensors bytes differ");
        let ma = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
        let mb = std::fs::read_to_string(b.join("metrics.jsonl")).unwrap();
        let la: Vec<_> = ma.lines().map(non_timing).collect();
        let lb: Vec<_> = mb.lines().map(non_timing).collect();
        assert_eq!(la.len(), total.parse::<usize>().unwrap());
        assert_eq!(la, lb, "{task}: metrics differ");
    }
}

#[test]
fn resume_and_output_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    assert!(
        eggroll(&[
            "train",
            "sphere",
            "--quiet",
            "--generations",
            "5",
            "--out",
            run.to_str().unwrap()
        ])
        .status
        .success()
    );
    let ck = run.join("checkpoint.safetensors");
    let good = std::fs::read(&ck).unwrap();
    let resume = |what: &str| {
        let out = eggroll(&[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--generations",
            "10",
            "--quiet",
        ]);
        assert_eq!(out.status.code(), Some(1), "{what}");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!err.contains("panicked"), "{what}: {err}");
        err
    };
    // Truncated checkpoint.
    std::fs::write(&ck, &good[..good.len() / 2]).unwrap();
    assert!(resume("truncated").contains("checkpoint"));
    // Wrong version.
    let needle = b"\\\"version\\\":\\\"1\\\"";
    let pos = good
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut wrong = good.clone();
    wrong[pos + needle.len() - 3] = b'7';
    std::fs::write(&ck, &wrong).unwrap();
    assert!(resume("version").contains("version"));
    // Shape mismatch: the saved config now describes a different problem.
    std::fs::write(&ck, &good).unwrap();
    let cfg = run.join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("rows = 64", "rows = 32")).unwrap();
    assert!(resume("shape").contains("shape"));
    std::fs::write(&cfg, &text).unwrap();
    // Flags that would change the fitness are refused; the others apply.
    for flag in [["--episodes", "3"], ["--batch", "64"]] {
        let out = eggroll(&[
            "train",
            "--resume",
            run.to_str().unwrap(),
            flag[0],
            flag[1],
            "--quiet",
        ]);
        assert_eq!(out.status.code(), Some(1), "{flag:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag[0]) && err.contains("--resume"), "{err}");
    }
    // A metrics file with an invalid UTF-8 line before its last: an error, the file untouched.
    let metrics = run.join("metrics.jsonl");
    let before = std::fs::read(&metrics).unwrap();
    let mut bad = before.clone();
    let first_nl = bad.iter().position(|&b| b == b'\n').unwrap();
    bad.insert(first_nl, 0xff);
    std::fs::write(&metrics, &bad).unwrap();
    let err = resume("invalid utf-8");
    assert!(
        err.contains("metrics.jsonl") && err.contains("UTF-8"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&metrics).unwrap(),
        bad,
        "metrics.jsonl was changed"
    );
    std::fs::write(&metrics, &before).unwrap();
    let out = eggroll(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--generations",
        "7",
        "--time-budget",
        "1e300",
        "--threads",
        "1",
        "--quiet",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(last_json(&out)["generations"], 7);
    // Missing run directory.
    let out = eggroll(&["train", "--resume", "/nonexistent/run", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    // Non-writable output: a path under a regular file.
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let out = eggroll(&[
        "train",
        "sphere",
        "--quiet",
        "--out",
        file.join("sub").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("output directory"));
}

/// Ctrl-C mid-run: exit code 130, a loadable checkpoint, intact metrics and both policy files
/// (which `eggroll policy forward` loads); --resume finishes.
#[test]
fn ctrl_c_saves_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args([
            "train",
            "pendulum",
            "--quiet",
            "--generations",
            "100000",
            "--set",
            "eval_every=0",
            "--out",
            run.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    // SAFETY: plain signal to our own child process.
    unsafe { libc_kill(child.id() as i32, 2) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let n = metrics.lines().count();
    assert!(n > 0);
    for line in metrics.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    assert!(run.join("fitness.png").exists() && run.join("fitness.svg").exists());
    for f in ["policy.safetensors", "policy_best.safetensors"] {
        let out = eggroll(&[
            "policy",
            "forward",
            "--policy",
            run.join(f).to_str().unwrap(),
            "--input",
            "0.1,-0.2,0.3",
        ]);
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = eggroll(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--generations",
        &(n + 5).to_string(),
        "--quiet",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(last_json(&out)["generations"], (n + 5) as u64);
}

/// Run `eggroll` in `dir` with no display (the dashboard window cannot open; the runs go on).
fn headless(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args(args)
        .current_dir(dir)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap()
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// `eggroll dashboard --compare --ranks 1,4,16` starts one training run per rank (headless
/// here: the window cannot open, the runs still complete and write their directories).
#[test]
fn dashboard_compare_starts_one_run_per_rank() {
    let tmp = tempfile::tempdir().unwrap();
    let out = headless(
        tmp.path(),
        &[
            "dashboard",
            "--compare",
            "--task",
            "sphere",
            "--ranks",
            "1,4,16",
            "--generations",
            "5",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = std::fs::read_dir(tmp.path().join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut names: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["rank-1", "rank-16", "rank-4"]);
    for n in &names {
        let cfg = std::fs::read_to_string(runs.join(n).join("config.toml")).unwrap();
        assert!(cfg.contains(&format!("rank = {}", &n[5..])), "{n}: {cfg}");
        assert_eq!(
            std::fs::read_to_string(runs.join(n).join("metrics.jsonl"))
                .unwrap()
                .lines()
                .count(),
            5
        );
    }
}

/// README's example: `dashboard --compare --task cartpole --ranks 1,4,16` (CartPole's 4-16-2
/// network has a 2-wide layer: ranks above 2 are valid, as in the official implementation).
/// A compared run that fails reports at once on the terminal, names itself, and the command
/// exits non-zero after the others finish.
#[test]
fn dashboard_compare_readme_example_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| headless(tmp.path(), args);
    let out = run(&[
        "dashboard",
        "--compare",
        "--task",
        "cartpole",
        "--ranks",
        "1,4,16",
        "--generations",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "dashboard",
        "--compare",
        "--task",
        "sphere",
        "--sigmas",
        "0.1,-1",
        "--generations",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("compared run `σ -1` failed") && err.contains("sigma"),
        "{err}"
    );
    assert!(err.contains("1 of 2 compared runs failed"), "{err}");
}

/// `--device`: unknown devices are errors naming the flag; on a build without the `cuda`
/// feature `--device cuda` says how to rebuild (with it but no GPU, the driver's error).
#[test]
fn device_flag_errors_are_clear() {
    let out = eggroll(&["train", "sphere", "--device", "tpu", "--quiet"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--device: unknown device `tpu`"), "{err}");
    let out = eggroll(&["bench", "forward", "--device", "cuda:x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a GPU index"));
    let out = eggroll(&["bench", "forward", "--device", "cuda", "--population", "8"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "cuda") {
        assert!(err.contains("--device cuda"), "{err}");
    } else {
        assert!(err.contains("built without CUDA support"), "{err}");
    }
    // `auto` is the default and the JSON names the device it chose.
    for extra in [&[][..], &["--device", "auto"][..], &["--device", "cpu"][..]] {
        let mut args = vec!["train", "sphere", "--generations", "2", "--json", "--quiet"];
        args.extend_from_slice(extra);
        let out = eggroll(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let device = last_json(&out)["device"].as_str().unwrap().to_string();
        if cfg!(feature = "cuda") && extra != ["--device", "cpu"] {
            assert!(device == "cpu" || device.starts_with("cuda:"), "{device}");
        } else {
            assert_eq!(device, "cpu", "{extra:?}");
        }
    }
}

/// README's CLI reference names every subcommand and every flag that `--help` lists.
#[test]
fn readme_cli_reference_lists_every_flag() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme
        .find("## CLI reference")
        .expect("a CLI reference section");
    let rest = &readme[start + 3..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let flags = |help: &str| -> Vec<String> {
        help.lines()
            .filter_map(|l| l.trim_start().strip_prefix("--"))
            .map(|l| format!("--{}", l.split([' ', ',', '<']).next().unwrap()))
            .filter(|f| f != "--help" && f != "--version")
            .collect()
    };
    // Every top-level subcommand of `eggroll --help` appears.
    let top = String::from_utf8_lossy(&eggroll(&["--help"]).stdout).to_string();
    let commands = &top[top.find("Commands:").expect("a Commands section")..];
    for line in commands
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
    {
        let sub = line.split_whitespace().next().unwrap();
        if sub != "help" {
            assert!(
                section.contains(&format!("eggroll {sub}")),
                "README lacks `eggroll {sub}`"
            );
        }
    }
    let mut checked = 0;
    for cmd in [
        vec!["train"],
        vec!["eval"],
        vec!["dashboard"],
        vec!["policy", "forward"],
        vec!["bench", "forward"],
        vec!["bench", "strategy"],
        vec!["compare"],
        vec!["bbob", "eval"],
        vec!["bbob", "run"],
        vec!["bbob", "suite"],
        vec!["config", "show"],
        vec!["sample"],
    ] {
        let name = format!("eggroll {}", cmd.join(" "));
        assert!(section.contains(&name), "README lacks `{name}`");
        let mut args = cmd.clone();
        args.push("--help");
        let out = eggroll(&args);
        assert!(out.status.success());
        for f in flags(&String::from_utf8_lossy(&out.stdout)) {
            assert!(
                section.contains(&f),
                "README's CLI reference lacks `{name} {f}`"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} flags found in --help");
}

/// Acrobot-v1 with the default config: the unperturbed policy's mean return over 100 fresh
/// episodes reaches Gymnasium's threshold (≥ −100); the MountainCar tasks run and report.
#[test]
fn new_classic_control_tasks_train() {
    // Each default solves seed 0 by Gymnasium's threshold on 100 fresh episodes.
    for (task, threshold) in [
        ("acrobot", -100.0),
        ("mountaincar", -110.0),
        ("mountaincar-continuous", 90.0),
        ("pendulum", -200.0),
    ] {
        let out = eggroll(&["train", task, "--json", "--quiet", "--seed", "0"]);
        assert!(
            out.status.success(),
            "{task}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j = last_json(&out);
        assert!(j["eval_mean"].as_f64().unwrap() >= threshold, "{task}: {j}");
        assert_eq!(j["solved"], true, "{task}: {j}");
        assert_eq!(j["eval_episodes"], 100, "{task}: {j}");
    }
}

/// `policy.obs_norm`: the same bits at 1 and 2 threads; the exported policy carries the
/// normaliser, and `eggroll eval` and `policy forward` apply it (checked against the same
/// policy with the normaliser stripped and applied by hand).
#[test]
fn observation_normaliser_is_deterministic_exported_and_applied() {
    use eggroll_core::checkpoint::{load_safetensors, save_safetensors};
    let tmp = tempfile::tempdir().unwrap();
    let run = |threads: &str| {
        let dir = tmp.path().join(format!("t{threads}"));
        let out = eggroll(&[
            "train",
            "mountaincar-continuous",
            "--generations",
            "3",
            "--set",
            "evaluation.eval_every=0",
            "--set",
            "policy.obs_norm=true",
            "--threads",
            threads,
            "--json",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, last_json(&out))
    };
    let (a, ja) = run("1");
    let (b, _) = run("2");
    let policy = a.join("policy.safetensors");
    assert_eq!(
        std::fs::read(&policy).unwrap(),
        std::fs::read(b.join("policy.safetensors")).unwrap(),
        "1 and 2 threads differ"
    );
    // The file holds the normaliser of ~3 generations of steps: not the identity.
    let (mut meta, tensors) = load_safetensors(&policy, &candle_core::Device::Cpu).unwrap();
    let get = |name: &str| {
        let t = &tensors.iter().find(|(n, _)| n == name).unwrap().1;
        t.to_vec1::<f32>().unwrap()
    };
    let (mean, std) = (get("obs_norm.mean"), get("obs_norm.std"));
    assert_eq!((mean.len(), std.len()), (2, 2));
    assert!(std[1] < 0.1 && std[1] > 0.0, "velocity std {std:?}");
    assert_eq!(meta.get("obs_clip").map(String::as_str), Some("5.0"));
    // The same network without the normaliser.
    meta.remove("obs_clip");
    let bare: Vec<_> = tensors
        .iter()
        .filter(|(n, _)| !n.starts_with("obs_norm."))
        .cloned()
        .collect();
    let stripped = tmp.path().join("stripped.safetensors");
    save_safetensors(&stripped, &bare, meta).unwrap();
    // `eggroll eval` with the final evaluation's seed reproduces the run's eval_mean; the
    // stripped policy scores differently.
    let eval = |p: &std::path::Path| {
        let out = eggroll(&[
            "eval",
            "mountaincar-continuous",
            "--policy",
            p.to_str().unwrap(),
            "--seed",
            &(0x5eed_f1a1u64).to_string(),
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        last_json(&out)["eval_mean"].as_f64().unwrap()
    };
    assert_eq!(eval(&policy), ja["eval_mean"].as_f64().unwrap());
    assert_ne!(eval(&policy), eval(&stripped));
    // `policy forward` normalises its input: raw input through the full file equals the
    // hand-normalised input through the stripped one.
    let raw = [-0.5f32, 0.01];
    let normed: Vec<String> = raw
        .iter()
        .zip(mean.iter().zip(&std))
        .map(|(x, (m, s))| ((x - m) / s).clamp(-5.0, 5.0).to_string())
        .collect();
    let forward = |p: &std::path::Path, input: &str| {
        let input = format!("--input={input}");
        let out = eggroll(&["policy", "forward", "--policy", p.to_str().unwrap(), &input]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let full = forward(&policy, "-0.5,0.01");
    assert_eq!(full, forward(&stripped, &normed.join(",")));
    assert_ne!(full, forward(&stripped, "-0.5,0.01"));
    // A half-present normaliser is a typed error naming what is missing.
    let (meta, _) = load_safetensors(&policy, &candle_core::Device::Cpu).unwrap();
    let half: Vec<_> = tensors
        .iter()
        .filter(|(n, _)| n != "obs_norm.std")
        .cloned()
        .collect();
    let broken = tmp.path().join("half.safetensors");
    save_safetensors(&broken, &half, meta).unwrap();
    let out = eggroll(&[
        "policy",
        "forward",
        "--policy",
        broken.to_str().unwrap(),
        "--input=0,0",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("obs_norm.std"));
}
