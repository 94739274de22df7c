//! Multi-process training over MPI (`--features mpi`; needs `mpirun` from OpenMPI).
#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_eggroll");

fn mpirun(np: usize, args: &[&str]) -> Output {
    Command::new("mpirun")
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-np",
            &np.to_string(),
            BIN,
        ])
        .args(args)
        .arg("--distributed")
        .arg("mpi")
        .output()
        .expect("mpirun is installed (apt-get install openmpi-bin)")
}

fn single(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn policy_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("policy.safetensors")).unwrap()
}

/// `-np 2` and `-np 3` (an uneven split of 512 and of 128 members) end with parameters
/// bit-identical to the single-process run: a control task, a closure benchmark.
#[test]
fn ranks_end_bit_identical_to_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("text");
    std::fs::create_dir_all(&text).unwrap();
    common::generated_text(&text);
    for (label, task, extra) in [
        // charlm's int8 EGG (strategy egg): integer forward, integer votes.
        (
            "egg",
            "charlm",
            vec![
                "--model",
                "egg",
                "--generations",
                "6",
                "--population",
                "16",
                "--set",
                "data.context=16",
                "--set",
                "policy.hidden=[16]",
                "--data-dir",
                text.to_str().unwrap(),
            ],
        ),
        (
            "pendulum",
            "pendulum",
            vec!["--generations", "12", "--set", "eval_every=0"],
        ),
        ("sphere", "sphere", vec!["--generations", "40"]),
        // Acrobot normalises observations: the statistics are merged exactly across ranks.
        (
            "acrobot",
            "acrobot",
            vec!["--generations", "12", "--set", "evaluation.eval_every=0"],
        ),
        // CMA-ES behind the Strategy trait: every rank asks and tells the same f64 state.
        (
            "sphere-cmaes",
            "sphere",
            vec![
                "--generations",
                "30",
                "--set",
                "strategy=cmaes",
                "--set",
                "problem.rows=6",
                "--set",
                "problem.cols=5",
                "--population",
                "12",
            ],
        ),
    ] {
        let one = tmp.path().join(format!("{label}-1"));
        let mut args = vec!["train", task, "--quiet", "--out", one.to_str().unwrap()];
        args.extend(&extra);
        assert!(single(&args).status.success());
        for np in [2, 3] {
            let dir = tmp.path().join(format!("{label}-{np}"));
            let mut args = vec!["train", task, "--quiet", "--out", dir.to_str().unwrap()];
            args.extend(&extra);
            let out = mpirun(np, &args);
            assert!(
                out.status.success(),
                "np={np}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let same = policy_bytes(&one) == policy_bytes(&dir);
            assert!(
                same,
                "{label}: -np {np} differs from the single-process run"
            );
            // Rank 0 alone wrote metrics: one line per generation.
            let lines = std::fs::read_to_string(dir.join("metrics.jsonl"))
                .unwrap()
                .lines()
                .count();
            assert_eq!(
                lines,
                std::fs::read_to_string(one.join("metrics.jsonl"))
                    .unwrap()
                    .lines()
                    .count()
            );
        }
    }
}

/// MNIST splits its population across ranks: with `-np 2` each rank computes exactly half of
/// the member evaluations (counted by each rank and all-gathered into `evals_by_rank`), and
/// the run ends bit-identical to the single-process one.
#[test]
fn mnist_population_is_split_across_ranks() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    common::synthetic_mnist(&data, 400, 100);
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "mnist",
            "--quiet",
            "--json",
            "--generations",
            "6",
            "--population",
            "64",
            "--batch",
            "32",
            "--set",
            "policy.hidden=[16]",
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let one = tmp.path().join("one");
    let a = args(&one);
    let out = single(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let two = tmp.path().join("two");
    let a = args(&two);
    let out = mpirun(2, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let j: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(j["evals"], 6 * 64, "{j}");
    assert_eq!(
        j["evals_by_rank"],
        serde_json::json!([6 * 32, 6 * 32]),
        "{j}"
    );
    assert!(
        policy_bytes(&one) == policy_bytes(&two),
        "mnist -np 2 differs"
    );
}

/// Ranks whose parameters diverge abort with a clear error.
#[test]
fn divergence_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = Command::new("mpirun")
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-np",
            "2",
            "-x",
            "EGGROLL_FAULT_DIVERGE_AT=3",
            BIN,
        ])
        .args([
            "train",
            "sphere",
            "--quiet",
            "--generations",
            "30",
            "--out",
            dir.to_str().unwrap(),
        ])
        .args(["--distributed", "mpi"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ranks diverged at generation 5"), "{err}");
}

fn rank_pid(marker: &str, rank: &str) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        let env = String::from_utf8_lossy(&env);
        if cmd.contains(marker)
            && !cmd.starts_with("mpirun")
            && env.contains(&format!("OMPI_COMM_WORLD_RANK={rank}\0"))
        {
            return Some(pid);
        }
    }
    None
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// A rank killed mid-run makes the job fail within 60 s (no hang), and `--resume` from the
/// last checkpoint ends with the same parameters as an uninterrupted run.
#[test]
fn killed_rank_fails_the_job_and_resume_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let total = "400";
    let straight = tmp.path().join("straight");
    assert!(
        single(&[
            "train",
            "rastrigin",
            "--quiet",
            "--generations",
            total,
            "--set",
            "checkpoint_every=10",
            "--out",
            straight.to_str().unwrap()
        ])
        .status
        .success()
    );

    let dir = tmp.path().join("killed");
    let mut child = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "2", BIN])
        .args([
            "train",
            "rastrigin",
            "--quiet",
            "--generations",
            total,
            "--set",
            "checkpoint_every=10",
        ])
        .args(["--out", dir.to_str().unwrap(), "--distributed", "mpi"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for a checkpoint, then kill rank 1.
    let t0 = Instant::now();
    while !dir.join("checkpoint.safetensors").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let marker = dir.to_str().unwrap();
    let pid = rank_pid(marker, "1").expect("rank 1 is running");
    // SAFETY: a signal to a process this test started (through mpirun).
    unsafe { libc_kill(pid, 9) };
    let t1 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(60),
            "the job hung after a rank died"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "the job must fail when a rank dies");
    let out = single(&["train", "--resume", dir.to_str().unwrap(), "--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        policy_bytes(&straight) == policy_bytes(&dir),
        "resumed run differs"
    );
}

/// A time budget with a budget schedule: each rank has its own clock, so the stop and the
/// horizon the budget implies are rank 0's on every rank. The ranks stay bit-identical every
/// generation (lockstep check at each) and stop in the same generation.
#[test]
fn time_budget_and_its_horizon_agree_across_ranks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("budget");
    let out = mpirun(
        2,
        &[
            "train",
            "sphere",
            "--quiet",
            "--json",
            "--out",
            dir.to_str().unwrap(),
            "--generations",
            "1000000",
            "--time-budget",
            "3",
            "--set",
            "es.lr_schedule={ kind = \"budget\", floor = 0.1 }",
            "--set",
            "checkpoints.lockstep_every=1",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a JSON line")).unwrap();
    let horizon = report["schedule_horizon"]
        .as_u64()
        .expect("a horizon was set");
    let generations = report["generations"].as_u64().unwrap();
    assert!(horizon >= 1 && generations >= 2, "{report}");
}
