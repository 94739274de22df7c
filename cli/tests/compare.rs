//! `eggroll compare` end to end on a small synthetic MNIST.

mod common;
use common::{eggroll, synthetic_mnist};

#[test]
fn compare_writes_every_cell_table_and_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    synthetic_mnist(&data, 600, 200);
    let out = tmp.path().join("cmp");
    let o = eggroll(&[
        "compare",
        "--models",
        "mlp,cnn,transformer",
        "--methods",
        "eggroll,simplees,sgd,adam",
        "--budget-s",
        "0.3",
        "--eval-points",
        "2",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let j: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    for r in rows {
        let acc = r["test_accuracy"]
            .as_f64()
            .unwrap_or_else(|| panic!("no number: {r}"));
        assert!((0.0..=1.0).contains(&acc));
        assert!(r["params"].as_u64().unwrap() > 0 && r["forward_passes"].as_u64().unwrap() > 0);
        for k in ["model", "method", "wall_s", "steps", "member_evals"] {
            assert!(r.get(k).is_some(), "{k}");
        }
    }
    for f in [
        "results.jsonl",
        "results.md",
        "accuracy_vs_time.png",
        "accuracy_vs_time.svg",
        "accuracy_vs_forward_passes.png",
        "accuracy_vs_forward_passes.svg",
    ] {
        assert!(out.join(f).metadata().unwrap().len() > 0, "{f}");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("results.jsonl"))
            .unwrap()
            .lines()
            .count(),
        12
    );
    // The non-differentiable objective: ES maximises the batch accuracy.
    let o = eggroll(&[
        "compare",
        "--models",
        "mlp",
        "--methods",
        "eggroll",
        "--objective",
        "accuracy",
        "--budget-s",
        "0.2",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        tmp.path().join("acc").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let j: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(j["rows"][0]["objective"], "accuracy");
}

#[test]
fn compare_bad_input_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    for (args, want) in [
        (vec!["--models", "mlp,rnn"], "mlp, cnn, transformer"),
        (
            vec!["--methods", "adam,lbfgs"],
            "eggroll, simplees, sgd, adam",
        ),
        (vec!["--budget-s", "0"], "--budget-s"),
        (vec!["--budget-s", "-5"], "--budget-s"),
        (vec!["--objective", "loss"], "log_likelihood, accuracy"),
        (vec!["--task", "cartpole"], "mnist"),
    ] {
        let mut a = vec!["compare", "--out", out.to_str().unwrap()];
        a.extend(args.iter());
        let o = eggroll(&a);
        assert!(!o.status.success(), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(want), "{args:?}: {e}");
        assert!(!out.exists(), "{args:?}: nothing is created on bad input");
    }
}
