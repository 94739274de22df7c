//! Helpers shared by the CLI integration tests.
#![allow(dead_code, clippy::needless_range_loop)]

/// Write a separable synthetic 10-class "MNIST" (12×12 images: class c lights its own 2×2
/// block, plus deterministic noise) as IDX files: `train` and `t10k` splits.
pub fn synthetic_mnist(dir: &std::path::Path, train: usize, test: usize) {
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

/// A scratch working directory for the CLI under test (one per test process, under the
/// system's temporary folder), so default `runs/` directories never land in the source tree.
pub fn scratch_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
        .path()
}

/// Run the `eggroll` binary in the scratch directory.
pub fn eggroll(args: &[&str]) -> std::process::Output {
    // Runs without --out go to runs/ under the working directory: a scratch folder, never
    // the source tree.
    std::process::Command::new(env!("CARGO_BIN_EXE_eggroll"))
        .args(args)
        .current_dir(scratch_dir())
        .output()
        .expect("run eggroll")
}

/// A small generated English-like corpus split into train/valid/test.
pub fn generated_text(dir: &std::path::Path) {
    let words = [
        "the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "its", "home",
    ];
    let mut text = String::new();
    let mut h = 7u64;
    while text.len() < 40_000 {
        for _ in 0..8 {
            h = eggroll_core::noise::mix64(h);
            text.push_str(words[(h % words.len() as u64) as usize]);
            text.push(' ');
        }
        text.push_str(".\n");
    }
    let b = text.as_bytes();
    std::fs::write(dir.join("train.txt"), &b[..32_000]).unwrap();
    std::fs::write(dir.join("valid.txt"), &b[32_000..36_000]).unwrap();
    std::fs::write(dir.join("test.txt"), &b[36_000..]).unwrap();
}
