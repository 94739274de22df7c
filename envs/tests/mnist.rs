//! IDX parsing, the MNIST dataset and the bandit, on fixtures written by the tests themselves,
//! plus the real MNIST when it is present.
#![allow(clippy::needless_range_loop)]

use std::io::Write;
use std::sync::Arc;

use eggroll_envs::mnist::*;
use eggroll_envs::{Action, EnvError, Environment};

fn fixture(n: usize) -> (Vec<u8>, Vec<u8>) {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    // Image i: a bright pixel at position label, the rest a gradient.
    let mut images = vec![0u8; n * 4 * 4];
    for i in 0..n {
        for p in 0..16 {
            images[i * 16 + p] = (p * 3) as u8;
        }
        images[i * 16 + labels[i] as usize] = 255;
    }
    (encode_idx(&[n, 4, 4], &images), encode_idx(&[n], &labels))
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn loads_raw_and_gzipped_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let (img, lab) = fixture(30);
    std::fs::write(dir.path().join("train-images-idx3-ubyte"), &img).unwrap();
    std::fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), gz(&lab)).unwrap();
    let d = Dataset::load(dir.path(), Split::Train).unwrap();
    assert_eq!((d.len(), d.rows, d.cols), (30, 4, 4));
    let mut px = vec![0.0; 16];
    d.image_into(7, &mut px);
    assert_eq!(px[7], 1.0);
    assert_eq!(px[1], 3.0 / 255.0);
    // The test split is missing: a clear error pointing at the script.
    let err = Dataset::load(dir.path(), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("t10k-images-idx3-ubyte") && err.contains("scripts/get-mnist.sh"),
        "{err}"
    );
}

#[test]
fn corrupt_idx_files_are_typed_errors() {
    let (img, lab) = fixture(5);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "truncated header"),
        (vec![0, 0, 8], "truncated header"),
        (
            {
                let mut b = img.clone();
                b[0] = 1;
                b
            },
            "bad magic",
        ),
        (
            {
                let mut b = img.clone();
                b[2] = 0x0d;
                b
            },
            "element type",
        ),
        (
            {
                let mut b = img.clone();
                b[3] = 0;
                b
            },
            "dimensions",
        ),
        (
            {
                let mut b = img.clone();
                b[3] = 9;
                b
            },
            "dimensions",
        ),
        (img[..img.len() - 1].to_vec(), "truncated"),
        (
            {
                let mut b = img.clone();
                b.push(0);
                b
            },
            "trailing",
        ),
        (img[..10].to_vec(), "truncated header"),
        // Absurd dimensions: 4 × 0xFFFFFFFF — rejected without allocating.
        (
            vec![
                0, 0, 8, 4, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
                255, 255, 1,
            ],
            "overflows",
        ),
        // Large dimensions (60000 × 28 × 28) with a tiny payload: rejected, nothing allocated.
        (
            {
                let mut b = encode_idx(&[1, 28, 28], &[0; 784]);
                b[4..8].copy_from_slice(&60000u32.to_be_bytes());
                b
            },
            "need 47040000",
        ),
    ];
    for (bytes, needle) in cases {
        let err = parse_idx(&bytes).unwrap_err();
        assert!(matches!(err, EnvError::Data { .. }));
        assert!(
            err.to_string().contains(needle),
            "expected `{needle}` in: {err}"
        );
    }
    // Count mismatch and non-digit labels.
    let (img6, _) = fixture(6);
    let err = Dataset::from_idx(parse_idx(&img6).unwrap(), parse_idx(&lab).unwrap()).unwrap_err();
    assert!(err.to_string().contains("6 images but 5 labels"), "{err}");
    let bad_labels = encode_idx(&[5], &[1, 2, 3, 42, 0]);
    let err =
        Dataset::from_idx(parse_idx(&img).unwrap(), parse_idx(&bad_labels).unwrap()).unwrap_err();
    assert!(err.to_string().contains("index 3"), "{err}");
    // A corrupt gzip stream, read from disk: the error names the file.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.gz");
    let mut g = gz(&img);
    let len = g.len();
    g.truncate(len / 2);
    std::fs::write(&p, &g).unwrap();
    let err = read_idx(&p).unwrap_err().to_string();
    assert!(err.contains("x.gz") && err.contains("gzip"), "{err}");
}

/// A cheap in-CI stand-in for the cargo-fuzz target: 20,000 seeded mutations of a valid file
/// never panic and either parse consistently or fail with a typed error.
#[test]
fn mutated_idx_never_panics() {
    let (img, _) = fixture(3);
    let mut rng = eggroll_envs::rng::Pcg64::new(1);
    for _ in 0..20_000 {
        let mut b = img.clone();
        for _ in 0..1 + rng.next_u64() % 4 {
            let i = (rng.next_u64() as usize) % b.len();
            b[i] = rng.next_u64() as u8;
        }
        let cut = (rng.next_u64() as usize) % (b.len() + 1);
        if rng.next_u64().is_multiple_of(4) {
            b.truncate(cut);
        }
        if let Ok(idx) = parse_idx(&b) {
            assert_eq!(idx.dims.iter().product::<usize>(), idx.data.len());
        }
    }
}

#[test]
fn bandit_rewards_correct_digits_only() {
    let (img, lab) = fixture(50);
    let d =
        Arc::new(Dataset::from_idx(parse_idx(&img).unwrap(), parse_idx(&lab).unwrap()).unwrap());
    let mut env = MnistBandit::new(d.clone(), 8).unwrap();
    assert_eq!(env.step(Action::Discrete(0)), Err(EnvError::NotReset));
    let obs = env.reset(Some(3));
    assert_eq!(obs.len(), 16);
    let first = env.episode_indices().to_vec();
    assert_eq!(first.len(), 8);
    let mut uniq = first.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 8, "distinct images in an episode");
    let mut total = 0.0;
    for t in 0..8 {
        let label = env.current_label().unwrap() as i64;
        // Answer correctly on even steps, wrongly on odd ones.
        let a = if t % 2 == 0 { label } else { (label + 1) % 10 };
        let s = env.step(Action::Discrete(a)).unwrap();
        assert_eq!(s.reward, if t % 2 == 0 { 1.0 } else { 0.0 });
        assert_eq!(s.terminated, t == 7);
        total += s.reward;
    }
    assert_eq!(total, 4.0);
    assert_eq!(
        env.step(Action::Discrete(0)),
        Err(EnvError::EpisodeFinished)
    );
    // Same seed, same images; another seed, other images.
    env.reset(Some(3));
    assert_eq!(env.episode_indices(), &first[..]);
    env.reset(Some(4));
    assert_ne!(env.episode_indices(), &first[..]);
    assert!(matches!(
        env.step(Action::Discrete(10)),
        Err(EnvError::InvalidAction(_))
    ));
}

/// On the real MNIST when it is here: `EGGROLL_MNIST_DIR`, else the repository's `data/mnist`
/// (where `scripts/get-mnist.sh` puts it; CI fetches it first, so there it always runs). When
/// absent the test prints a SKIPPED notice on the real stderr (visible under the harness).
#[test]
fn real_mnist_when_present() {
    let dir = std::env::var_os("EGGROLL_MNIST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/mnist")
        });
    if !dir.join("t10k-labels-idx1-ubyte.gz").exists()
        && !dir.join("t10k-labels-idx1-ubyte").exists()
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED real_mnist_when_present: no MNIST in {} (scripts/get-mnist.sh fetches it)",
            dir.display()
        );
        assert!(
            std::env::var_os("EGGROLL_REQUIRE_MNIST").is_none(),
            "EGGROLL_REQUIRE_MNIST is set but {} holds no MNIST",
            dir.display()
        );
        return;
    }
    let test = Dataset::load(&dir, Split::Test).unwrap();
    assert_eq!((test.len(), test.rows, test.cols), (10_000, 28, 28));
    assert_eq!(&test.labels[..5], &[7, 2, 1, 0, 4]);
    let train = Dataset::load(&dir, Split::Train).unwrap();
    assert_eq!(train.len(), 60_000);
    assert_eq!(&train.labels[..5], &[5, 0, 4, 1, 9]);
    let mut env = MnistBandit::new(Arc::new(test), 100).unwrap();
    let obs = env.reset(Some(0));
    assert_eq!(obs.len(), 784);
    assert!(obs.iter().all(|&x| (0.0..=1.0).contains(&x)));
}
