//! Hostile and careless inputs: each is a clear error (exit ≠ 0, no panic, no abort) that names
//! the key, flag, file or offset, and leaves every earlier file byte-identical.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::eggroll;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails unless `out` is a clean error whose message contains every needle.
fn clear_error(out: &Output, what: &str, needles: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "{what}: succeeded\n{err}");
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "{what}: {err}"
    );
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "{what}: {:?} {err}",
        out.status
    );
    for n in needles {
        assert!(err.contains(n), "{what}: stderr lacks `{n}`: {err}");
    }
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            out.insert(
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            );
        }
    }
    out
}

fn finished_run(dir: &Path) {
    let out = eggroll(&[
        "train",
        "sphere",
        "--quiet",
        "--generations",
        "4",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Class 1: `--out` at an existing run (finished, or any non-empty folder) is refused and left
/// byte-identical, also when the new run would fail; `--force` moves it aside whole.
#[test]
fn out_never_overwrites_an_existing_run() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    finished_run(&run);
    let before = tree(&run);
    for extra in [&[][..], &["--sigma", "1e30"][..]] {
        let mut args = vec![
            "train",
            "sphere",
            "--quiet",
            "--generations",
            "3",
            "--out",
            run.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        clear_error(
            &eggroll(&args),
            "--out existing",
            &["not empty", "--force", "config.toml"],
        );
        assert_eq!(tree(&run), before, "the earlier run changed");
    }
    // A folder of the user's is refused too.
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("thesis.tex"), b"do not touch").unwrap();
    clear_error(
        &eggroll(&[
            "train",
            "sphere",
            "--quiet",
            "--out",
            mine.to_str().unwrap(),
        ]),
        "--out user folder",
        &["thesis.tex"],
    );
    assert_eq!(
        std::fs::read(mine.join("thesis.tex")).unwrap(),
        b"do not touch"
    );
    // --force: the old run moves aside unchanged; the new run has the directory to itself.
    let out = eggroll(&[
        "train",
        "sphere",
        "--quiet",
        "--generations",
        "3",
        "--force",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let moved: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("run.replaced-")
        })
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(stderr(&out).contains(moved[0].file_name().unwrap().to_str().unwrap()));
    assert_eq!(tree(&moved[0]), before, "--force changed the old run");
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "a mix of two runs");
}

/// Class 3: two processes on one run directory: the second fails at once naming the pid.
#[test]
fn a_second_process_on_a_run_fails_at_once_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut first = Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args([
            "train",
            "pendulum",
            "--quiet",
            "--generations",
            "100000",
            "--set",
            "eval_every=0",
        ])
        .args([
            "--set",
            "checkpoint_every=1",
            "--out",
            run.to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !run.join("checkpoint.safetensors").exists() {
        assert!(t.elapsed() < Duration::from_secs(30), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let out = eggroll(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--generations",
        "200000",
        "--quiet",
    ]);
    let pid = first.id().to_string();
    clear_error(&out, "second --resume", &["in use", &pid]);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the second process did not fail at once"
    );
    clear_error(
        &eggroll(&[
            "train",
            "sphere",
            "--quiet",
            "--force",
            "--out",
            run.to_str().unwrap(),
        ]),
        "--force on a held run",
        &["in use", &pid],
    );
    // SAFETY: a signal to our own child.
    unsafe { libc_kill(first.id() as i32, 15) };
    let status = first.wait().unwrap();
    // Class (weak): SIGTERM is handled like Ctrl-C: the run saves and exits with 130.
    assert_eq!(status.code(), Some(130), "SIGTERM: {status:?}");
    assert!(run.join("policy.safetensors").exists());
    let out = eggroll(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--generations",
        "1",
        "--quiet",
    ]);
    clear_error(
        &out,
        "--resume below the current generation",
        &["already at generation", "--generations 1"],
    );
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Class 4 and 5: sizes a machine cannot hold are refused up front with the bytes needed;
/// absurd thread counts are capped with a warning.
#[test]
fn sizes_beyond_the_machine_are_refused_up_front() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "train",
                "sphere",
                "--set",
                "es.population_size=1000000000000",
            ],
            &["needs about", "es.population_size"],
        ),
        (
            &["train", "cartpole", "--set", "policy.hidden=[100000000000]"],
            &["needs about", "policy.hidden"],
        ),
        (
            &[
                "train",
                "sphere",
                "--set",
                "problem.rows=10000000",
                "--set",
                "problem.cols=10000000",
            ],
            &["needs about", "problem.rows"],
        ),
        (
            &[
                "bench",
                "forward",
                "--population",
                "1000000000",
                "--layers",
                "4096,4096",
            ],
            &["needs about", "--population"],
        ),
        (
            &[
                "train",
                "sphere",
                "--time-budget",
                "1e300",
                "--generations",
                "2",
                "--set",
                "es.population_size=1000000000000",
            ],
            &["needs about"],
        ),
    ];
    for (args, needles) in cases {
        clear_error(&eggroll(args), &format!("{args:?}"), needles);
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let out = eggroll(&[
        "train",
        "cartpole",
        "--quiet",
        "--generations",
        "2",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    clear_error(
        &eggroll(&[
            "eval",
            "cartpole",
            "--policy",
            run.join("policy.safetensors").to_str().unwrap(),
            "--episodes",
            "100000000000",
        ]),
        "eval --episodes",
        &["needs about", "--episodes"],
    );
    let t = Instant::now();
    let out = eggroll(&[
        "train",
        "sphere",
        "--quiet",
        "--generations",
        "2",
        "--threads",
        "10000",
        "--out",
        tmp.path().join("t").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("threads") && stderr(&out).contains("10000"),
        "{}",
        stderr(&out)
    );
    assert!(t.elapsed() < Duration::from_secs(20));
}

/// Class 6: nonsense never reports success.
#[test]
fn nonsense_is_never_a_success() {
    let tmp = tempfile::tempdir().unwrap();
    // An MNIST test split with 0 images.
    let data = tmp.path().join("mnist");
    std::fs::create_dir(&data).unwrap();
    common::synthetic_mnist(&data, 50, 0);
    clear_error(
        &eggroll(&[
            "train",
            "mnist",
            "--data-dir",
            data.to_str().unwrap(),
            "--generations",
            "1",
        ]),
        "0 test images",
        &["0 images", "t10k-images-idx3-ubyte"],
    );
    // An all-NaN policy.
    let run = tmp.path().join("run");
    assert!(
        eggroll(&[
            "train",
            "cartpole",
            "--quiet",
            "--generations",
            "1",
            "--out",
            run.to_str().unwrap()
        ])
        .status
        .success()
    );
    let p = run.join("policy.safetensors");
    let mut bytes = std::fs::read(&p).unwrap();
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for c in bytes[header..].chunks_mut(4) {
        c.copy_from_slice(&f32::NAN.to_le_bytes());
    }
    let nan = tmp.path().join("nan.safetensors");
    std::fs::write(&nan, &bytes).unwrap();
    clear_error(
        &eggroll(&["eval", "cartpole", "--policy", nan.to_str().unwrap()]),
        "NaN policy",
        &["non-finite", "layers."],
    );
    clear_error(
        &eggroll(&[
            "policy",
            "forward",
            "--policy",
            p.to_str().unwrap(),
            "--input",
            "NaN,0,0,0",
        ]),
        "NaN input",
        &["--input", "NaN"],
    );
}

/// Weak class: errors name the key, flag, file or offset.
#[test]
fn errors_name_the_key_the_flag_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("my.toml");
    std::fs::write(&cfg, "generations = \"ten\"\n").unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--config", cfg.to_str().unwrap()],
            vec!["generations", "my.toml"],
        ),
        (
            vec!["--set", "policy.hidden=[-4]"],
            vec!["policy.hidden", "--set"],
        ),
        (
            vec!["--set", "es.population_size=8.0"],
            vec!["es.population_size"],
        ),
        (
            vec!["--seed", "18446744073709551615"],
            vec!["--seed", "9223372036854775807"],
        ),
        (
            vec!["--set", "es.seed=9223372036854775808"],
            vec!["es.seed", "64-bit"],
        ),
        (
            vec!["--set", "es.sigma=1e308"],
            vec!["es.sigma", "out of range"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args = vec!["train", "cartpole", "--quiet"];
        args.extend(extra.iter().copied());
        clear_error(&eggroll(&args), &format!("{extra:?}"), &needles);
    }
    // A sphere policy has no environment.
    let run = tmp.path().join("sphere");
    finished_run(&run);
    let p = run.join("policy.safetensors");
    for args in [
        vec!["eval", "sphere", "--policy", p.to_str().unwrap()],
        vec![
            "policy",
            "forward",
            "--policy",
            p.to_str().unwrap(),
            "--input",
            "1",
        ],
    ] {
        clear_error(
            &eggroll(&args),
            "sphere policy",
            &["sphere policies have no environment"],
        );
    }
    // MNIST errors name the files; a train/test image size mismatch is found before training.
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    common::synthetic_mnist(&a, 20, 20);
    // b: 28×28-sized test images (from a 12×12 fixture re-headed) are a mismatch.
    common::synthetic_mnist(&b, 20, 20);
    let ti = b.join("t10k-images-idx3-ubyte");
    let mut bytes = std::fs::read(&ti).unwrap();
    bytes[8..12].copy_from_slice(&6u32.to_be_bytes());
    bytes[12..16].copy_from_slice(&24u32.to_be_bytes());
    std::fs::write(&ti, &bytes).unwrap();
    clear_error(
        &eggroll(&[
            "train",
            "mnist",
            "--data-dir",
            b.to_str().unwrap(),
            "--generations",
            "1",
        ]),
        "image size mismatch",
        &["12×12", "6×24"],
    );
    // Labels out of range: the message names both files instead of a placeholder.
    let tl = a.join("t10k-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&tl).unwrap();
    bytes[9] = 42;
    std::fs::write(&tl, &bytes).unwrap();
    let out = eggroll(&[
        "train",
        "mnist",
        "--data-dir",
        a.to_str().unwrap(),
        "--generations",
        "1",
    ]);
    clear_error(
        &out,
        "bad label",
        &["t10k-labels-idx1-ubyte", "not a digit"],
    );
    assert!(!stderr(&out).contains("<idx>"));
}

/// Weak class: a failed final plot (here `fitness.png` cannot be replaced) is reported, but the
/// policy files are written before it.
#[test]
fn a_failed_plot_does_not_skip_the_policy_export() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    finished_run(&run);
    std::fs::remove_file(run.join("fitness.png")).unwrap();
    std::fs::create_dir_all(run.join("fitness.png/blocker")).unwrap();
    std::fs::remove_file(run.join("policy.safetensors")).unwrap();
    let out = eggroll(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--generations",
        "6",
        "--quiet",
    ]);
    clear_error(&out, "plot failure", &["fitness.png"]);
    let err = stderr(&out);
    assert_eq!(
        err.matches("Is a directory").count(),
        1,
        "repeated text: {err}"
    );
    // The image itself cannot be drawn (its temporary file is blocked): the cause in words,
    // not plotters' Debug dump.
    std::fs::remove_dir_all(run.join("fitness.png")).unwrap();
    let _ = std::fs::remove_file(run.join(".fitness.png.tmp.png"));
    std::fs::create_dir_all(run.join(".fitness.png.tmp.png/blocker")).unwrap();
    let out = eggroll(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--generations",
        "8",
        "--quiet",
    ]);
    clear_error(
        &out,
        "drawing failure",
        &["fitness.png", "drawing the plot failed"],
    );
    let err = stderr(&out);
    assert!(
        !err.contains("BackendError") && !err.contains("DrawingError"),
        "a Debug dump: {err}"
    );
    assert!(
        run.join("policy.safetensors").exists(),
        "the policy was not exported"
    );
}

/// Rewrite the JSON metadata entry `key` of a safetensors file with `edit`.
fn edit_metadata(path: &Path, key: &str, edit: impl Fn(&mut serde_json::Value)) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    // eggroll's metadata is one JSON map under `eggroll`; its values are strings (JSON text
    // for structured ones).
    let outer = header["__metadata__"]["eggroll"]
        .as_str()
        .unwrap()
        .to_string();
    let mut meta: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&outer).unwrap();
    let mut value = match meta.get(key).and_then(|v| v.as_str()) {
        Some(s) => serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.into())),
        None => serde_json::Value::Null,
    };
    edit(&mut value);
    let text = match value {
        serde_json::Value::String(s) => s,
        v => v.to_string(),
    };
    meta.insert(key.into(), serde_json::Value::String(text));
    header["__metadata__"]["eggroll"] =
        serde_json::Value::String(serde_json::Value::Object(meta).to_string());
    let mut h = serde_json::to_vec(&header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(&bytes[8 + n..]);
    std::fs::write(path, out).unwrap();
}

/// The third campaign's cases: each is a clear error that names its real source (the policy
/// file, the flag, the key) in words a user knows — no panic, no internal buffer sizes, no
/// Debug dumps, no serde jargon.
#[test]
fn campaign_three_errors_name_their_real_source() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("cp");
    let out = eggroll(&[
        "train",
        "cartpole",
        "--quiet",
        "--generations",
        "2",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A policy whose `policy.sizes` metadata is empty: the file is at fault, not a config.
    let empty = tmp.path().join("empty.safetensors");
    std::fs::copy(run.join("policy.safetensors"), &empty).unwrap();
    edit_metadata(&empty, "policy", |v| v["sizes"] = serde_json::json!([]));
    let e = empty.to_str().unwrap();
    for args in [
        vec!["eval", "cartpole", "--policy", e],
        vec!["policy", "forward", "--policy", e, "--input", "1,2,3,4"],
    ] {
        let o = eggroll(&args);
        clear_error(
            &o,
            "empty sizes",
            &["empty.safetensors", "metadata `policy`"],
        );
        assert!(!stderr(&o).contains("invalid config"), "{}", stderr(&o));
    }
    // A CartPole network labelled as an Acrobot policy: the file does not fit the task.
    let relabelled = tmp.path().join("relabelled.safetensors");
    std::fs::copy(run.join("policy.safetensors"), &relabelled).unwrap();
    edit_metadata(&relabelled, "task", |v| *v = serde_json::json!("acrobot"));
    let o = eggroll(&["eval", "acrobot", "--policy", relabelled.to_str().unwrap()]);
    clear_error(
        &o,
        "relabelled",
        &["relabelled.safetensors", "does not fit task `acrobot`"],
    );
    assert!(!stderr(&o).contains("invalid config"), "{}", stderr(&o));
    // --input beyond f32 is quoted as written, not as `inf`.
    let p = run.join("policy.safetensors");
    let o = eggroll(&[
        "policy",
        "forward",
        "--policy",
        p.to_str().unwrap(),
        "--input",
        "1,2,1e39,4",
    ]);
    clear_error(&o, "--input 1e39", &["--input", "`1e39`", "f32's range"]);
    assert!(!stderr(&o).contains("value inf"), "{}", stderr(&o));
    // Non-UTF-8 prompt bytes reach `sample` (here refused for not being a language model).
    {
        use std::os::unix::ffi::OsStrExt;
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_eggroll"))
            .arg("sample")
            .arg("--policy")
            .arg(&p)
            .arg("--prompt")
            .arg(std::ffi::OsStr::from_bytes(b"caf\xe9 \xff"))
            .output()
            .unwrap();
        clear_error(&o, "non-UTF-8 prompt", &["not a language model"]);
    }
    // --shared-batch 0 names the flag, not a buffer.
    let o = eggroll(&[
        "bench",
        "forward",
        "--shared-batch",
        "0",
        "--population",
        "8",
    ]);
    clear_error(&o, "--shared-batch 0", &["--shared-batch", "1..=4096"]);
    assert!(!stderr(&o).contains("buffer"), "{}", stderr(&o));
    // Config: a dotted key under a legacy flat key; a key set twice; a bad restart name.
    let o = eggroll(&["train", "sphere", "--set", "generations.x=1"]);
    clear_error(&o, "generations.x", &["stop.generations", "holds a value"]);
    assert!(!stderr(&o).contains("unknown field"), "{}", stderr(&o));
    let cfg = tmp.path().join("twice.toml");
    std::fs::write(&cfg, "generations = 5\n[stop]\ngenerations = 7\n").unwrap();
    let o = eggroll(&["train", "sphere", "--config", cfg.to_str().unwrap()]);
    clear_error(
        &o,
        "set twice",
        &["stop.generations", "`generations`", "twice"],
    );
    let o = eggroll(&[
        "train",
        "sphere",
        "--set",
        "strategy=cmaes",
        "--set",
        "es.restarts=5",
    ]);
    clear_error(&o, "es.restarts=5", &["es.restarts", "\"ipop\""]);
    assert!(!stderr(&o).contains("unit variant"), "{}", stderr(&o));
    // ARS's top-b and reward shift: out of range, on a strategy or task they do not apply to.
    for (sets, needles) in [
        (
            &["es.top_pairs=2", "es.group_size=4"][..],
            &["top_pairs", "group_size = 0"][..],
        ),
        (
            &["es.top_pairs=2", "strategy=cmaes"][..],
            &["es.top_pairs", "simple_es"][..],
        ),
        (
            &["es.cmean=0.5", "strategy=eggroll"][..],
            &["es.cmean", "cmaes"][..],
        ),
        (
            &["es.cmean=1.5", "strategy=cmaes"][..],
            &["cmean", "(0, 1]"][..],
        ),
        (
            &["evaluation.reward_shift=nan"][..],
            &["evaluation.reward_shift", "finite"][..],
        ),
    ] {
        let mut args = vec!["train", "cartpole", "--generations", "1", "--quiet"];
        for s in sets {
            args.extend(["--set", s]);
        }
        let o = eggroll(&args);
        clear_error(&o, &format!("{sets:?}"), needles);
    }
    let o = eggroll(&["train", "sphere", "--set", "evaluation.reward_shift=1"]);
    clear_error(
        &o,
        "reward_shift on sphere",
        &["evaluation.reward_shift", "`sphere`"],
    );
    // bbob: restarts with a strategy that cannot restart; a value JSON cannot hold.
    let o = eggroll(&[
        "bbob",
        "run",
        "--strategy",
        "eggroll",
        "--restarts",
        "ipop",
        "--function",
        "1",
        "--instance",
        "1",
        "--dim",
        "2",
    ]);
    clear_error(&o, "eggroll + ipop", &["restarts", "`eggroll`"]);
    let pts = tmp.path().join("pts.json");
    std::fs::write(&pts, "[[1e200, 1e200]]").unwrap();
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
    clear_error(&o, "bbob eval overflow", &["point 0", "inf", "JSON"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("null"));
    // compare: a budget no one can wait for is refused before anything is created.
    let o = eggroll(&[
        "compare",
        "--budget-s",
        "1e300",
        "--out",
        tmp.path().join("cmp").to_str().unwrap(),
    ]);
    clear_error(&o, "compare budget", &["--budget-s", "604800"]);
    assert!(!tmp.path().join("cmp").exists());
}

/// A run that fails before its first checkpoint leaves nothing that blocks the same command
/// again; `--resume` of such a directory says why there is nothing to resume; `--force` on a
/// symbolic link keeps the link and moves its target's contents aside.
#[test]
fn failed_starts_and_linked_outputs_leave_usable_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    // Sphere with σ = 1e30: every fitness overflows, generation 0 fails.
    let args = [
        "train",
        "sphere",
        "--quiet",
        "--generations",
        "3",
        "--set",
        "es.sigma=1e30",
        "--out",
        out.to_str().unwrap(),
    ];
    let first = eggroll(&args);
    clear_error(&first, "generation 0 fails", &[]);
    assert!(
        !out.exists(),
        "the failed run left {:?}",
        std::fs::read_dir(&out).map(|d| d.count())
    );
    let again = eggroll(&args);
    assert!(!stderr(&again).contains("not empty"), "{}", stderr(&again));
    assert_eq!(stderr(&first), stderr(&again));
    // A directory with a config but no checkpoint (a crash before the first one).
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("config.toml"), "task = \"sphere\"\n").unwrap();
    let o = eggroll(&["train", "--resume", out.to_str().unwrap(), "--quiet"]);
    clear_error(
        &o,
        "resume without checkpoint",
        &["no checkpoint.safetensors", "first checkpoint"],
    );
    // --force through a symbolic link.
    let target = tmp.path().join("target");
    finished_run(&target);
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = eggroll(&[
        "train",
        "sphere",
        "--quiet",
        "--generations",
        "2",
        "--out",
        link.to_str().unwrap(),
        "--force",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(target.join("policy.safetensors").exists());
    let aside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("target.replaced-")
        })
        .collect();
    assert_eq!(
        aside.len(),
        1,
        "the earlier run was moved aside next to its target"
    );
}

/// The inputs a saved network rejects are the flag's or the data's, not a config key's: a
/// token id outside a language model's vocabulary is `--input`'s error; MNIST test images of
/// another size than an MLP policy name the policy and both sizes.
#[test]
fn inputs_a_network_rejects_name_the_flag_or_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    // A tiny language model on generated text.
    let text = tmp.path().join("text");
    std::fs::create_dir_all(&text).unwrap();
    let corpus: Vec<u8> = (0..20_000u32)
        .map(|i| b"the quick brown fox jumps over the lazy dog. "[(i % 45) as usize])
        .collect();
    for name in ["train.txt", "valid.txt", "test.txt"] {
        std::fs::write(text.join(name), &corpus).unwrap();
    }
    let lm = tmp.path().join("lm");
    let out = eggroll(&[
        "train",
        "charlm",
        "--model",
        "mingru",
        "--data-dir",
        text.to_str().unwrap(),
        "--generations",
        "1",
        "--population",
        "8",
        "--set",
        "data.context=8",
        "--set",
        "policy.hidden=[8]",
        "--quiet",
        "--out",
        lm.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = lm.join("policy.safetensors");
    let o = eggroll(&[
        "policy",
        "forward",
        "--policy",
        p.to_str().unwrap(),
        "--input",
        "1,2,3,4,5,6,7,300",
    ]);
    clear_error(&o, "token 300", &["--input", "300"]);
    assert!(!stderr(&o).contains("invalid config"), "{}", stderr(&o));
    // An MLP trained on 12×12 images, evaluated on 10×10 ones.
    let a = tmp.path().join("a");
    std::fs::create_dir_all(&a).unwrap();
    common::synthetic_mnist(&a, 20, 20);
    let run = tmp.path().join("mnist");
    let out = eggroll(&[
        "train",
        "mnist",
        "--data-dir",
        a.to_str().unwrap(),
        "--generations",
        "1",
        "--population",
        "8",
        "--batch",
        "4",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let b = tmp.path().join("b");
    std::fs::create_dir_all(&b).unwrap();
    let images = eggroll_envs::mnist::encode_idx(&[5, 10, 10], &[7u8; 500]);
    let labels = eggroll_envs::mnist::encode_idx(&[5], &[1u8; 5]);
    for split in ["train", "t10k"] {
        std::fs::write(b.join(format!("{split}-images-idx3-ubyte")), &images).unwrap();
        std::fs::write(b.join(format!("{split}-labels-idx1-ubyte")), &labels).unwrap();
    }
    let policy = run.join("policy.safetensors");
    let o = eggroll(&[
        "eval",
        "mnist",
        "--policy",
        policy.to_str().unwrap(),
        "--data-dir",
        b.to_str().unwrap(),
    ]);
    clear_error(
        &o,
        "image size",
        &["policy.safetensors", "144 inputs", "10×10"],
    );
    assert!(!stderr(&o).contains("buffer"), "{}", stderr(&o));
}
