//! `eggroll bbob eval|run|suite` and CMA-ES through `eggroll train`.

mod common;
use common::eggroll;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn last_json(o: &std::process::Output) -> serde_json::Value {
    let s = stdout(o);
    serde_json::from_str(s.lines().last().expect("output")).expect("JSON last line")
}

#[test]
fn eval_prints_cocos_values() {
    let tmp = tempfile::tempdir().unwrap();
    let pts = tmp.path().join("p.json");
    // From the vendored cocoex fixture: bbob_f001_i01_d02.
    std::fs::write(
        &pts,
        "[[0.0, 0.0], [0.11821624700256717, 4.504636963259353]]",
    )
    .unwrap();
    let o = eggroll(&[
        "bbob",
        "eval",
        "--function",
        "1",
        "--instance",
        "1",
        "--dim",
        "2",
        "--points",
        pts.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = last_json(&o)["values"].clone();
    let want = [80.88209408, 111.54998127553017];
    for (g, w) in v.as_array().unwrap().iter().zip(want) {
        assert!((g.as_f64().unwrap() - w).abs() <= 1e-9 * w, "{g} vs {w}");
    }
    // Bad input: wrong point length, not JSON, missing file, bad function — exit ≠ 0, named.
    std::fs::write(&pts, "[[0.0, 0.0, 1.0]]").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--function", "1", "--instance", "1", "--dim", "2"],
            "point 0",
        ),
        (
            &["--function", "0", "--instance", "1", "--dim", "2"],
            "`function`",
        ),
        (
            &["--function", "1", "--instance", "1", "--dim", "1"],
            "`dim`",
        ),
        (
            &["--function", "1", "--instance", "0", "--dim", "2"],
            "`instance`",
        ),
    ];
    for (args, want) in cases {
        let mut a = vec!["bbob", "eval", "--points", pts.to_str().unwrap()];
        a.extend_from_slice(args);
        let o = eggroll(&a);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    std::fs::write(&pts, "{not json").unwrap();
    let o = eggroll(&[
        "bbob",
        "eval",
        "--function",
        "1",
        "--instance",
        "1",
        "--dim",
        "2",
        "--points",
        pts.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("JSON list of points"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_reaches_the_target_and_prints_the_documented_line() {
    let o = eggroll(&[
        "bbob",
        "run",
        "--strategy",
        "cmaes",
        "--function",
        "10",
        "--instance",
        "1",
        "--dim",
        "5",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = last_json(&o);
    for k in [
        "function",
        "instance",
        "dim",
        "evals_to_target",
        "best_f",
        "f_opt",
        "evals",
    ] {
        assert!(j.get(k).is_some(), "missing {k}: {j}");
    }
    let hit = j["evals_to_target"].as_u64().expect("reached");
    assert!(hit <= j["evals"].as_u64().unwrap());
    assert!(j["best_f"].as_f64().unwrap() - j["f_opt"].as_f64().unwrap() <= 1e-8);
    // Not reached within a tiny budget: null, and the budget is respected.
    let o = eggroll(&[
        "bbob",
        "run",
        "--function",
        "15",
        "--instance",
        "1",
        "--dim",
        "10",
        "--budget-per-dim",
        "20",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = last_json(&o);
    assert!(j["evals_to_target"].is_null(), "{j}");
    assert!(j["evals"].as_u64().unwrap() < 200 + 20);
    for bad in [
        vec!["--strategy", "nelder-mead"],
        vec!["--restarts", "sometimes"],
        vec!["--budget-per-dim", "0"],
    ] {
        let mut a = vec![
            "bbob",
            "run",
            "--function",
            "1",
            "--instance",
            "1",
            "--dim",
            "2",
        ];
        a.extend(bad.iter());
        let o = eggroll(&a);
        assert!(!o.status.success(), "{bad:?}");
        let e = stderr(&o);
        assert!(
            e.contains("strategy") || e.contains("restarts") || e.contains("budget"),
            "{e}"
        );
    }
}

#[test]
fn suite_writes_the_table_and_the_ecdf_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("suite");
    let args = [
        "bbob",
        "suite",
        "--strategy",
        "cmaes",
        "--functions",
        "1,2",
        "--dims",
        "2,3",
        "--instances",
        "1-2",
        "--budget-per-dim",
        "2000",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    let o = eggroll(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = last_json(&o);
    assert_eq!(j["runs"], 8);
    assert_eq!(j["solved"], 8);
    for f in ["results.jsonl", "ert.md", "ecdf.png", "ecdf.svg"] {
        assert!(out.join(f).metadata().unwrap().len() > 0, "{f}");
    }
    let table = std::fs::read_to_string(out.join("ert.md")).unwrap();
    assert!(
        table.contains("| f1 |") && table.contains("(2/2)"),
        "{table}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("results.jsonl"))
            .unwrap()
            .lines()
            .count(),
        8
    );
    // A second suite into the same directory is refused and leaves it as it was.
    let before = std::fs::read(out.join("results.jsonl")).unwrap();
    let o = eggroll(&args);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(out.join("results.jsonl")).unwrap(), before);
    for (flag, value) in [
        ("--dims", "1"),
        ("--functions", "0-3"),
        ("--instances", "3-1"),
        ("--dims", "x"),
    ] {
        let o = eggroll(&[
            "bbob",
            "suite",
            flag,
            value,
            "--out",
            tmp.path().join("x").to_str().unwrap(),
        ]);
        assert!(!o.status.success(), "{flag} {value}");
        assert!(
            !tmp.path().join("x").exists(),
            "{flag} {value}: nothing is created on bad input"
        );
    }
}

/// CMA-ES behind the Strategy trait: `eggroll train` with `strategy = cmaes`, resumed from a
/// checkpoint, ends with the same policy bytes as an uninterrupted run.
#[test]
fn cmaes_trains_and_resumes_bit_identically() {
    for strategy in ["cmaes", "sep_cmaes"] {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        let set = format!("strategy={strategy}");
        let common: [&str; 11] = [
            "--quiet",
            "--set",
            &set,
            "--set",
            "problem.rows=6",
            "--set",
            "problem.cols=5",
            "--population",
            "12",
            "--set",
            "checkpoint_every=10",
        ];
        let mut args = vec![
            "train",
            "sphere",
            "--generations",
            "40",
            "--out",
            a.to_str().unwrap(),
        ];
        args.extend(common);
        let o = eggroll(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut args = vec![
            "train",
            "sphere",
            "--generations",
            "20",
            "--out",
            b.to_str().unwrap(),
        ];
        args.extend(common);
        assert!(eggroll(&args).status.success());
        let o = eggroll(&[
            "train",
            "--resume",
            b.to_str().unwrap(),
            "--generations",
            "40",
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            std::fs::read(a.join("policy.safetensors")).unwrap(),
            std::fs::read(b.join("policy.safetensors")).unwrap(),
            "{strategy}"
        );
    }
    // IPOP restarts behind the trainer: λ doubles when a run converges.
    let tmp = tempfile::tempdir().unwrap();
    let o = eggroll(&[
        "train",
        "sphere",
        "--set",
        "strategy=cmaes",
        "--set",
        "es.restarts=ipop",
        "--set",
        "problem.rows=3",
        "--set",
        "problem.cols=3",
        "--population",
        "8",
        "--generations",
        "300",
        "--json",
        "--quiet",
        "--out",
        tmp.path().join("ipop").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(last_json(&o)["population"], 16, "one restart doubled λ");
    // Restarts are for the CMA-ES strategies only: an error naming the key, nothing created.
    let out = tmp.path().join("bad");
    let o = eggroll(&[
        "train",
        "sphere",
        "--set",
        "es.restarts=ipop",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("es.restarts"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // Full CMA-ES on 64×64 = 4096 parameters is refused before training, naming the way out.
    let o = eggroll(&[
        "train",
        "sphere",
        "--set",
        "strategy=cmaes",
        "--generations",
        "1",
        "--quiet",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("sep-cmaes"), "{}", stderr(&o));
}

/// `bench forward --model transformer|mingru|cnn`: inference, EGGROLL and the materialised
/// baseline, side by side.
#[test]
fn bench_forward_layered_models() {
    // The sequence models count member-tokens, the CNN member-images; three columns each.
    for (m, unit) in [
        ("transformer", "tokens"),
        ("mingru", "tokens"),
        ("cnn", "inputs"),
    ] {
        let o = eggroll(&[
            "bench",
            "forward",
            "--model",
            m,
            "--population",
            "4",
            "--shared-batch",
            "2",
            "--rounds",
            "1",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let j = last_json(&o);
        assert_eq!((&j["model"], &j["device"]), (&m.into(), &"cpu".into()));
        for way in ["inference", "eggroll", "materialized"] {
            let k = format!("{way}_member_{unit}_per_s");
            assert!(j[&k].as_f64().unwrap() > 0.0, "{m} {k}: {j}");
        }
    }
    let o = eggroll(&["bench", "forward", "--model", "rnn"]);
    assert!(!o.status.success() && stderr(&o).contains("transformer"));
}

/// Ctrl-C (SIGINT) during a suite: exit 130, a message saying what was kept and how to go
/// on, every finished run in `results.jsonl`; `--resume DIR` runs the rest and the suite ends
/// with the table and plots. Resuming a directory that is not a suite is a clear error.
#[test]
fn an_interrupted_suite_keeps_its_runs_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("suite");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args([
            "bbob",
            "suite",
            "--functions",
            "15-24",
            "--dims",
            "20",
            "--instances",
            "1-2",
            "--budget-per-dim",
            "5000",
            "--out",
            out.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let results = out.join("results.jsonl");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&results).map_or(0, |t| t.lines().count()) < 2 {
        assert!(start.elapsed().as_secs() < 120, "no results after 120 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the suite ended too soon"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted") && err.contains("--resume"),
        "{err}"
    );
    let kept = std::fs::read_to_string(&results).unwrap();
    assert!(kept.lines().count() >= 2);
    for line in kept.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("whole lines only");
    }
    assert!(!out.join("ert.md").exists());
    let o = eggroll(&["bbob", "suite", "--resume", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = last_json(&o);
    assert_eq!(j["runs"], 20);
    assert!(j["resumed"].as_u64().unwrap() >= 2, "{j}");
    assert!(out.join("ert.md").exists() && out.join("ecdf.png").exists());
    // --resume takes the settings from the directory: other settings are refused.
    let o = eggroll(&[
        "bbob",
        "suite",
        "--resume",
        out.to_str().unwrap(),
        "--dims",
        "5",
    ]);
    assert!(!o.status.success() && stderr(&o).contains("--dims"));
    let o = eggroll(&["bbob", "suite", "--resume", tmp.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("suite.json"), "{}", stderr(&o));
}
