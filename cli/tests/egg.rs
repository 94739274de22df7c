//! `charlm --model egg` (nano-egg's int8 minGRU LM, strategy `egg`) through the CLI: it learns,
//! its policy bytes are the same at every SIMD level and thread count and after a resume, and
//! bad input is a typed error.

use std::path::Path;

mod common;
use common::{eggroll, generated_text};

/// A small EGG run on the generated corpus: width 16, 2 layers, 16-byte windows, N = 32.
fn train(data: &Path, out: &Path, generations: &str, extra: &[&str], env: &[(&str, &str)]) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_eggroll"));
    cmd.args([
        "train",
        "charlm",
        "--model",
        "egg",
        "--data-dir",
        data.to_str().unwrap(),
        "--generations",
        generations,
        "--population",
        "32",
        "--set",
        "data.context=16",
        "--set",
        "policy.hidden=[16,16]",
        "--set",
        "evaluation.eval_every=0",
        "--quiet",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ])
    .args(extra)
    .current_dir(common::scratch_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn report(out: &Path) -> serde_json::Value {
    let m = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    serde_json::from_str(m.lines().last().unwrap()).unwrap()
}

#[test]
fn egg_learns_the_generated_corpus_and_writes_a_sample() {
    let dir = tempfile::tempdir().unwrap();
    generated_text(dir.path());
    let score = |gens: &str| {
        let out = dir.path().join(format!("run{gens}"));
        let o = eggroll(&[
            "train",
            "charlm",
            "--model",
            "egg",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--generations",
            gens,
            "--population",
            "64",
            "--set",
            "data.context=32",
            "--set",
            "policy.hidden=[32]",
            "--quiet",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let j: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap())
                .unwrap();
        assert!(out.join("sample.txt").exists());
        j
    };
    let (before, after) = (score("1"), score("1500"));
    // The exported policy carries the model: `sample` continues a prompt (also an empty one),
    // the same bytes for the same seed; `policy forward` points at `sample`.
    let policy = dir.path().join("run1500/policy.safetensors");
    let policy = policy.to_str().unwrap();
    let sample = |prompt: &str, seed: &str| {
        let o = eggroll(&[
            "sample", "--policy", policy, "--prompt", prompt, "--bytes", "50", "--seed", seed,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    assert_eq!(sample("the ", "1"), sample("the ", "1"));
    assert_ne!(sample("the ", "1"), sample("the ", "2"));
    assert!(sample("", "0").len() >= 50);
    let o = eggroll(&["policy", "forward", "--policy", policy, "--input", "1"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("sample"));
    let (b0, b1) = (
        before["test_bpb"].as_f64().unwrap(),
        after["test_bpb"].as_f64().unwrap(),
    );
    // From about 8 bits (random int8 logits) to below the unigram's ~3 bits of this corpus.
    assert!(b1 < b0 - 2.0, "test_bpb {b0} -> {b1}");
    let uni = after["unigram_bpb"].as_f64().unwrap();
    assert!(b1 < uni + 0.5, "test_bpb {b1}, unigram {uni}");
    assert_eq!(after["strategy"], "egg");
    assert_eq!(after["model"], "egg");
    assert!(after["member_tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(after["params"].as_u64().unwrap() > 0);
}

#[test]
fn egg_policy_bytes_do_not_depend_on_simd_level_threads_or_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    generated_text(dir.path());
    let policy = |name: &str, env: &[(&str, &str)], threads: &str| {
        let out = dir.path().join(name);
        train(dir.path(), &out, "6", &["--threads", threads], env);
        std::fs::read(out.join("policy.safetensors")).unwrap()
    };
    let reference = policy("ref", &[], "2");
    for (name, env, threads) in [
        ("scalar", &[("EGGROLL_SIMD", "scalar")][..], "1"),
        ("avx2", &[("EGGROLL_SIMD", "avx2")][..], "3"),
        ("vnni256", &[("EGGROLL_SIMD", "vnni256")][..], "2"),
        ("one", &[][..], "1"),
    ] {
        assert!(policy(name, env, threads) == reference, "{name} differs");
    }
    // 3 generations, then resumed to 6: the same bytes as 6 in one go.
    let out = dir.path().join("resumed");
    train(dir.path(), &out, "3", &[], &[]);
    let o = eggroll(&[
        "train",
        "--resume",
        out.to_str().unwrap(),
        "--generations",
        "6",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(out.join("policy.safetensors")).unwrap() == reference);
    assert_eq!(report(&out)["generation"], 5);
    // The policy moved: its parameters differ from the initial ones.
    let first = dir.path().join("first");
    train(dir.path(), &first, "1", &[], &[]);
    assert!(std::fs::read(first.join("policy.safetensors")).unwrap() != reference);
}

#[test]
fn egg_bad_input_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    generated_text(dir.path());
    let err = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "charlm",
            "--model",
            "egg",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--generations",
            "2",
            "--set",
            "policy.hidden=[16]",
            "--set",
            "data.context=16",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let o = eggroll(&args);
        assert!(!o.status.success(), "{extra:?} succeeded");
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!e.contains("panicked"), "{e}");
        e
    };
    assert!(err(&["--set", "strategy=eggroll"]).contains("strategy"));
    assert!(err(&["--sigma", "0.1"]).contains("power of two"));
    assert!(err(&["--lr", "2"]).contains("learning_rate"));
    assert!(err(&["--set", "policy.hidden=[10]"]).contains("multiple of 4"));
    assert!(err(&["--set", "policy.hidden=[16,32]"]).contains("same width"));
    assert!(err(&["--population", "7"]).contains("population"));
    assert!(err(&["--set", "es.noise_reuse=4"]).contains("noise_reuse"));
    assert!(err(&["--set", "es.group_size=4"]).contains("group_size"));
    assert!(
        err(&[
            "--set",
            "es.sigma_schedule.kind=exponential",
            "--set",
            "es.sigma_schedule.decay=0.99"
        ])
        .contains("sigma_schedule")
    );
}

#[test]
fn bench_forward_int8_reports_all_three_rates_and_refuses_bad_input() {
    let json = |args: &[&str]| -> serde_json::Value {
        let o = eggroll(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap()
    };
    let base = [
        "bench", "forward", "--dtype", "int8", "--rounds", "1", "--json",
    ];
    let mlp = json(&[&base[..], &["--population", "64", "--layers", "8,20,3"]].concat());
    for k in [
        "int8_inference_members_per_s",
        "eggroll_members_per_s",
        "f32_inference_members_per_s",
        "eggroll_vs_f32_inference",
    ] {
        assert!(mlp[k].as_f64().unwrap() > 0.0, "{k}: {mlp}");
    }
    let egg = json(
        &[
            &base[..],
            &["--model", "egg", "--population", "8", "--shared-batch", "8"],
        ]
        .concat(),
    );
    assert!(
        egg["eggroll_member_tokens_per_s"].as_f64().unwrap() > 0.0,
        "{egg}"
    );
    assert_eq!(egg["model"], "egg");
    for (args, what) in [
        (&["--dtype", "int4"][..], "--dtype"),
        (
            &["--dtype", "int8", "--population", "7"][..],
            "--population",
        ),
        (&["--dtype", "int8", "--rank", "0"][..], "--rank"),
        (&["--dtype", "int8", "--shared-batch", "4"][..], "--dtype"),
        (&["--dtype", "int8", "--layers", "8,70000,2"][..], "70000"),
    ] {
        let o = eggroll(&[&["bench", "forward", "--rounds", "1"][..], args].concat());
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && e.contains(what) && !e.contains("panicked"),
            "{args:?}: {e}"
        );
    }
}
