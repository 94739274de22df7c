//! The MuJoCo tasks through the CLI: a missing library is an error naming the script (and
//! other tasks still run); with the library, every task trains, exports, evaluates and
//! resumes, and `bench env` reports its keys. Without the library the second part says why
//! and passes, unless `EGGROLL_REQUIRE_MUJOCO=1` (CI).

mod common;

use std::process::{Command, Output};

const TASKS: [&str; 9] = [
    "halfcheetah",
    "hopper",
    "walker2d",
    "ant",
    "swimmer",
    "humanoid",
    "inverted-pendulum",
    "inverted-double-pendulum",
    "reacher",
];

fn eggroll_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eggroll"));
    c.args(args).current_dir(common::scratch_dir());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run eggroll")
}

fn last_json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}) in stdout {text:?}, stderr {:?}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_missing_library_names_the_script_and_the_variable_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let missing = [("EGGROLL_MUJOCO_LIB", "/nonexistent/libmujoco.so.4.0.1")];
    for task in ["hopper", "humanoid"] {
        let out = eggroll_env(
            &["train", task, "--out", out_dir.to_str().unwrap()],
            &missing,
        );
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("scripts/get-mujoco.sh") && err.contains("EGGROLL_MUJOCO_LIB"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out_dir.exists(), "a failed start leaves no run directory");
    }
    let out = eggroll_env(&["bench", "env", "--task", "ant", "--json"], &missing);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("scripts/get-mujoco.sh"));
    // Everything else works without MuJoCo.
    let out = eggroll_env(
        &["train", "cartpole", "--generations", "1", "--json"],
        &missing,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mujoco_here() -> bool {
    match eggroll_envs::mujoco::ffi::library() {
        Ok(_) => true,
        Err(e) => {
            let required = std::env::var("EGGROLL_REQUIRE_MUJOCO").is_ok_and(|v| v == "1");
            assert!(!required, "EGGROLL_REQUIRE_MUJOCO=1 but: {e}");
            eprintln!("skipping: {e}");
            false
        }
    }
}

#[test]
fn every_mujoco_task_trains_exports_evaluates_and_resumes() {
    if !mujoco_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for task in TASKS {
        let run = dir.path().join(task);
        let run_s = run.to_str().unwrap();
        let common = [
            "--population",
            "4",
            "--set",
            "evaluation.eval_episodes=2",
            "--set",
            "evaluation.eval_every=1",
            "--json",
            "--quiet",
        ];
        let mut args = vec!["train", task, "--generations", "2", "--out", run_s];
        args.extend(common);
        let out = eggroll_env(&args, &[]);
        assert!(
            out.status.success(),
            "{task}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j = last_json(&out);
        assert!(
            j["eval_mean"].as_f64().is_some_and(f64::is_finite),
            "{task}: {j}"
        );
        assert_eq!(j["generations"], 2, "{task}: {j}");
        let policy = run.join("policy.safetensors");
        let out = eggroll_env(
            &[
                "eval",
                task,
                "--policy",
                policy.to_str().unwrap(),
                "--episodes",
                "2",
                "--json",
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "{task}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            last_json(&out)["eval_mean"]
                .as_f64()
                .is_some_and(f64::is_finite)
        );
        let out = eggroll_env(
            &[
                "train",
                "--resume",
                run_s,
                "--generations",
                "3",
                "--json",
                "--quiet",
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "{task}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(last_json(&out)["generations"], 3, "{task}");
    }
}

#[test]
fn bench_env_reports_both_rates() {
    if !mujoco_here() {
        return;
    }
    let out = eggroll_env(
        &[
            "bench",
            "env",
            "--task",
            "reacher",
            "--population",
            "6",
            "--steps",
            "20",
            "--json",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = last_json(&out);
    for k in ["env_steps_per_s", "rollout_steps_per_s"] {
        assert!(j[k].as_f64().is_some_and(|v| v > 0.0), "{k}: {j}");
    }
    assert_eq!(j["population"], 6);
    // Reacher never terminates: one generation is population × 50 steps.
    assert_eq!(j["rollout_steps"], 6 * 50);
    let bad = eggroll_env(&["bench", "env", "--task", "cartpole", "--json"], &[]);
    assert!(!bad.status.success());
    let bad = eggroll_env(&["bench", "env", "--task", "ant", "--population", "0"], &[]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--population"));
}
