//! MNIST as a contextual bandit: an IDX reader (raw or gzip), the dataset, and
//! [`MnistBandit`] — observation = one image, action = a digit, reward 1 if correct.
//!
//! Real data is never downloaded at run time: `scripts/get-mnist.sh` fetches the four IDX files
//! into `data/mnist/`; loaders take the directory from a flag or `EGGROLL_MNIST_DIR`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::rng::Pcg64;
use crate::{Action, EnvError, Environment, Episode, Space, Step, discrete_action};

/// Largest decompressed IDX file accepted (guards against gzip bombs).
pub const MAX_IDX_BYTES: u64 = 1 << 30;

/// A parsed IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The payload, row-major.
    pub data: Vec<u8>,
}

/// An IDX error; [`read_idx`] and [`Dataset::load`] replace the placeholder path with the
/// file's.
fn idx_err(reason: String) -> EnvError {
    EnvError::Data {
        path: "IDX data".into(),
        reason,
    }
}

/// Parse IDX bytes (already decompressed). Validates the magic number, the element type
/// (unsigned byte, 0x08), the number of dimensions (1–4) and that the payload length equals the
/// product of the dimensions; never allocates more than the input's size.
pub fn parse_idx(bytes: &[u8]) -> Result<Idx, EnvError> {
    if bytes.len() < 4 {
        return Err(idx_err(format!(
            "truncated header: {} bytes, need at least 4 at offset 0",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(idx_err(format!(
            "bad magic number {:02x}{:02x}{:02x}{:02x} at offset 0 (expected 0000 08 0N)",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )));
    }
    if bytes[2] != 0x08 {
        return Err(idx_err(format!(
            "element type 0x{:02x} at offset 2 is not supported (expected 0x08, unsigned byte)",
            bytes[2]
        )));
    }
    let ndims = bytes[3] as usize;
    if !(1..=4).contains(&ndims) {
        return Err(idx_err(format!(
            "{ndims} dimensions at offset 3; expected 1 to 4"
        )));
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(idx_err(format!(
            "truncated header: {} bytes, the {ndims} dimensions need {header}",
            bytes.len()
        )));
    }
    let mut dims = Vec::with_capacity(ndims);
    let mut total: usize = 1;
    for d in 0..ndims {
        let off = 4 + 4 * d;
        let v = u32::from_be_bytes([bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]])
            as usize;
        total = total.checked_mul(v).ok_or_else(|| {
            idx_err(format!(
                "dimension {d} ({v}) at offset {off} overflows the size"
            ))
        })?;
        dims.push(v);
    }
    let payload = bytes.len() - header;
    if payload != total {
        return Err(idx_err(format!(
            "payload is {payload} bytes from offset {header}, but the dimensions {dims:?} need {total}{}",
            if payload < total {
                " (file truncated?)"
            } else {
                " (trailing bytes)"
            }
        )));
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Encode an IDX file of unsigned bytes (for fixtures and tests).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "dims match data"
    );
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Read an IDX file, gunzipping it when it starts with the gzip magic.
pub fn read_idx(path: &Path) -> Result<Idx, EnvError> {
    let with_path = |reason: String| EnvError::Data {
        path: path.display().to_string(),
        reason,
    };
    let raw = std::fs::read(path).map_err(|e| with_path(e.to_string()))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_IDX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| with_path(format!("corrupt gzip stream: {e}")))?;
        if out.len() as u64 > MAX_IDX_BYTES {
            return Err(with_path(format!(
                "decompresses to more than {MAX_IDX_BYTES} bytes"
            )));
        }
        out
    } else {
        raw
    };
    parse_idx(&bytes).map_err(|e| match e {
        EnvError::Data { reason, .. } => with_path(reason),
        other => other,
    })
}

/// Train or test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// 60,000 training images (`train-*`).
    Train,
    /// 10,000 test images (`t10k-*`).
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// Images and labels of one split.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Pixels, `len × rows × cols`, 0–255.
    pub images: Vec<u8>,
    /// Labels 0–9.
    pub labels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
}

impl Dataset {
    /// Build from parsed IDX images (3-D) and labels (1-D); counts must match and labels be
    /// digits.
    pub fn from_idx(images: Idx, labels: Idx) -> Result<Dataset, EnvError> {
        if images.dims.len() != 3 {
            return Err(idx_err(format!(
                "images must have 3 dimensions (count, rows, cols), found {:?}",
                images.dims
            )));
        }
        if labels.dims.len() != 1 {
            return Err(idx_err(format!(
                "labels must have 1 dimension, found {:?}",
                labels.dims
            )));
        }
        if images.dims[0] != labels.dims[0] {
            return Err(idx_err(format!(
                "{} images but {} labels",
                images.dims[0], labels.dims[0]
            )));
        }
        if images.dims[0] == 0 {
            return Err(idx_err("the split holds 0 images".into()));
        }
        if images.dims[1] == 0 || images.dims[2] == 0 {
            return Err(idx_err(format!("empty image size {:?}", &images.dims[1..])));
        }
        if let Some(i) = labels.data.iter().position(|&l| l > 9) {
            return Err(idx_err(format!(
                "label {} at index {i} (byte offset {}) is not a digit",
                labels.data[i],
                8 + i
            )));
        }
        Ok(Dataset {
            rows: images.dims[1],
            cols: images.dims[2],
            images: images.data,
            labels: labels.data,
        })
    }

    /// Load a split from `dir`, accepting `NAME` or `NAME.gz` for each file.
    pub fn load(dir: &Path, split: Split) -> Result<Dataset, EnvError> {
        let find = |kind: &str| -> Result<PathBuf, EnvError> {
            let base = format!("{}-{kind}-ubyte", split.prefix());
            for name in [base.clone(), format!("{base}.gz")] {
                let p = dir.join(&name);
                if p.is_file() {
                    return Ok(p);
                }
            }
            Err(EnvError::Data {
                path: dir.display().to_string(),
                reason: format!(
                    "MNIST file {base}[.gz] not found; run scripts/get-mnist.sh (or point --data-dir / EGGROLL_MNIST_DIR at a folder holding the four IDX files)"
                ),
            })
        };
        let (ip, lp) = (find("images-idx3")?, find("labels-idx1")?);
        let images = read_idx(&ip)?;
        let labels = read_idx(&lp)?;
        Dataset::from_idx(images, labels).map_err(|e| match e {
            EnvError::Data { reason, .. } => EnvError::Data {
                path: format!("{} and {}", ip.display(), lp.display()),
                reason,
            },
            e => e,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// Image `i` scaled to [0, 1] into `out` (length `pixels()`).
    pub fn image_into(&self, i: usize, out: &mut [f32]) {
        let p = self.pixels();
        for (o, &b) in out.iter_mut().zip(&self.images[i * p..(i + 1) * p]) {
            *o = f32::from(b) / 255.0;
        }
    }
}

/// The MNIST directory: the flag if given, else `EGGROLL_MNIST_DIR`, else `data/mnist`.
pub fn mnist_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("EGGROLL_MNIST_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data/mnist"))
}

/// `k` distinct indices below `n` drawn by `rng` (partial Fisher–Yates; all of them, shuffled,
/// when `k ≥ n`).
pub fn sample_indices(rng: &mut Pcg64, n: usize, k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let k = k.min(n);
    for i in 0..k {
        let j = i + (rng.next_u64() % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx
}

/// MNIST as a contextual bandit: each step shows one image; the action is a digit; the reward
/// is 1 when it is the image's label. An episode is `k` distinct images drawn by the reset seed
/// and ends (terminated) after the `k`-th answer.
#[derive(Debug, Clone)]
pub struct MnistBandit {
    data: Arc<Dataset>,
    k: usize,
    order: Vec<usize>,
    pos: usize,
    rng: Pcg64,
    episode: Episode,
}

impl MnistBandit {
    /// A bandit over `data` with `k` images per episode.
    pub fn new(data: Arc<Dataset>, k: usize) -> Result<Self, EnvError> {
        if data.is_empty() || k == 0 {
            return Err(idx_err(format!(
                "need a non-empty dataset and k ≥ 1 (got {} images, k = {k})",
                data.len()
            )));
        }
        Ok(Self {
            data,
            k,
            order: Vec::new(),
            pos: 0,
            rng: Pcg64::new(0),
            episode: Episode::default(),
        })
    }

    /// The label of the image currently shown.
    pub fn current_label(&self) -> Option<u8> {
        self.order.get(self.pos).map(|&i| self.data.labels[i])
    }

    /// Dataset indices of this episode's images.
    pub fn episode_indices(&self) -> &[usize] {
        &self.order
    }

    fn observe(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.data.pixels()];
        if let Some(&i) = self.order.get(self.pos) {
            self.data.image_into(i, &mut out);
        }
        out
    }
}

impl Environment for MnistBandit {
    fn observation_space(&self) -> Space {
        Space::uniform_box(0.0, 1.0, &[self.data.rows * self.data.cols])
    }
    fn action_space(&self) -> Space {
        Space::Discrete { n: 10 }
    }
    fn max_episode_steps(&self) -> Option<usize> {
        Some(self.k)
    }
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        if let Some(s) = seed {
            self.rng = Pcg64::new(s);
        }
        self.order = sample_indices(&mut self.rng, self.data.len(), self.k);
        self.pos = 0;
        self.episode.begin();
        self.observe()
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, EnvError> {
        let a = discrete_action(action, 10)?;
        self.episode.check()?;
        let label = self.current_label().expect("episode is running") as usize;
        self.pos += 1;
        let terminated = self.pos >= self.order.len();
        // The time limit equals the episode length, so this never truncates by itself.
        self.episode.advance(terminated, usize::MAX);
        Ok(Step {
            observation: self.observe(),
            reward: if a == label { 1.0 } else { 0.0 },
            terminated,
            truncated: false,
        })
    }
}
