//! Run-directory rules: nothing of the user's is ever overwritten, truncated or deleted.

use std::path::Path;

use eggroll_run::{Error, LOCK_FILE, RunDir, limits, truncate_metrics};

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_new_run_refuses_a_directory_that_holds_anything_and_leaves_it_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("run");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("policy.safetensors"), b"earlier run").unwrap();
    std::fs::write(d.join("notes.txt"), b"mine").unwrap();
    let before = snapshot(&d);
    let err = RunDir::create(&d, false).unwrap_err();
    assert!(matches!(err, Error::NotEmpty { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("notes.txt") && msg.contains("--force"),
        "{msg}"
    );
    assert_eq!(snapshot(&d), before, "a refused directory was changed");
    // Missing and empty directories are fine.
    let (_, moved) = RunDir::create(&tmp.path().join("new/nested"), false).unwrap();
    assert!(moved.is_none());
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    RunDir::create(&empty, false).unwrap();
}

#[test]
fn replace_moves_the_old_run_aside_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("run");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("metrics.jsonl"), b"{\"generation\":0}\n").unwrap();
    let before = snapshot(&d);
    let (run, moved) = RunDir::create(&d, true).unwrap();
    let moved = moved.expect("the old contents moved aside");
    assert!(
        moved
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("run.replaced-")
    );
    assert_eq!(snapshot(&moved), before, "the old run changed when moved");
    // The new run's directory holds nothing but its lock.
    let names: Vec<String> = snapshot(run.path()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec![LOCK_FILE.to_string()]);
}

#[test]
fn a_held_run_directory_is_refused_naming_the_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("run");
    let (held, _) = RunDir::create(&d, false).unwrap();
    std::fs::write(d.join("metrics.jsonl"), b"").unwrap();
    let pid = std::process::id().to_string();
    for err in [
        RunDir::open(&d).unwrap_err(),
        RunDir::create(&d, true).unwrap_err(),
    ] {
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        assert!(err.to_string().contains(&pid), "{err}");
    }
    assert!(d.join("metrics.jsonl").exists(), "--force moved a held run");
    drop(held);
    RunDir::open(&d).unwrap();
}

#[test]
fn temporaries_of_killed_writers_are_removed_when_the_run_is_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("run");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("checkpoint.safetensors"), b"ck").unwrap();
    std::fs::write(d.join(".checkpoint.safetensors.tmp-99999"), b"half").unwrap();
    std::fs::write(d.join(".fitness.png.tmp.png"), b"half").unwrap();
    let _run = RunDir::open(&d).unwrap();
    let names: Vec<String> = snapshot(&d).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        vec![LOCK_FILE.to_string(), "checkpoint.safetensors".into()]
    );
}

#[test]
fn unreadable_metrics_are_an_error_and_stay_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let good = "{\"generation\":0}\n{\"generation\":1}\n{\"generation\":2}\n";
    // Invalid UTF-8 in the middle; a corrupt line before the last.
    let mut bad_utf8 = good.as_bytes().to_vec();
    bad_utf8.insert(3, 0xff);
    for bad in [
        bad_utf8,
        b"{\"generation\":0}\nnot json\n{\"generation\":2}\n".to_vec(),
    ] {
        std::fs::write(d.join("metrics.jsonl"), &bad).unwrap();
        let err = truncate_metrics(d, 2).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read(d.join("metrics.jsonl")).unwrap(), bad);
    }
    // A torn last line is dropped; later generations too.
    std::fs::write(d.join("metrics.jsonl"), format!("{good}{{\"gener")).unwrap();
    assert_eq!(truncate_metrics(d, 2).unwrap().len(), 2);
    assert_eq!(
        std::fs::read_to_string(d.join("metrics.jsonl")).unwrap(),
        "{\"generation\":0}\n{\"generation\":1}\n"
    );
}

#[test]
fn memory_estimates_refuse_what_the_machine_cannot_hold() {
    let mut e = limits::Estimate::new();
    e.add("noise", &[500_000_000_000, 64, 2]);
    let err = e
        .check_against(Some(8 << 30), "es.population_size")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("es.population_size") && msg.contains("TiB") && msg.contains("8.0 GiB"),
        "{msg}"
    );
    // Products of user sizes saturate instead of overflowing.
    let mut huge = limits::Estimate::new();
    huge.add("x", &[usize::MAX, usize::MAX, usize::MAX]);
    assert!(huge.check_against(None, "k").is_err());
    let mut small = limits::Estimate::new();
    small.add("params", &[1000, 1000]);
    assert_eq!(small.check_against(Some(8 << 30), "k").unwrap(), 4_000_000);
    let (n, warn) = limits::cap_threads(10_000);
    assert_eq!(n, limits::max_threads());
    assert!(warn.unwrap().contains("10000"));
    assert_eq!(limits::cap_threads(2), (2, None));
}
