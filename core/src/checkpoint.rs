//! Safetensors files: atomic writes and validated reads (checkpoints, exported policies).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use safetensors::tensor::{Dtype, TensorView};

use crate::error::{Error, Result};

/// The contents of a safetensors file: string metadata and named tensors in file order.
pub type SafetensorsContents = (HashMap<String, String>, Vec<(String, Tensor)>);

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
/// On any error the destination is untouched and the temporary file removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string());
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp-{}",
        name.unwrap_or_else(|| "out".into()),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// The one safetensors metadata key eggroll writes: its value is a JSON object of all our
/// metadata with sorted keys. (safetensors writes its metadata map in hash order, so several
/// keys would make the bytes of identical files differ from run to run.)
pub const METADATA_KEY: &str = "eggroll";

/// Serialise f32 tensors plus string metadata into safetensors bytes (deterministic: the same
/// tensors and metadata always give the same bytes).
pub fn to_safetensors_bytes(
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let host: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| {
            let v = t.flatten_all()?.to_vec1::<f32>()?;
            let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            Ok((n.clone(), t.dims().to_vec(), bytes))
        })
        .collect::<Result<_>>()?;
    let views: Vec<(String, TensorView<'_>)> = host
        .iter()
        .map(|(n, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Param {
                    name: n.clone(),
                    reason: e.to_string(),
                })
        })
        .collect::<Result<_>>()?;
    let sorted: std::collections::BTreeMap<String, String> = metadata.into_iter().collect();
    let mut packed = HashMap::new();
    if !sorted.is_empty() {
        packed.insert(
            METADATA_KEY.to_string(),
            serde_json::to_string(&sorted).expect("string map serialises"),
        );
    }
    safetensors::serialize(views, Some(packed)).map_err(|e| Error::Param {
        name: "*".into(),
        reason: e.to_string(),
    })
}

/// Write tensors and metadata to a safetensors file atomically.
pub fn save_safetensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    write_atomic(path, &to_safetensors_bytes(tensors, metadata)?)
}

/// The checkpoint metadata key of a caller's own state (see
/// [`Trainer::save_checkpoint_with`](crate::Trainer::save_checkpoint_with)).
pub const CALLER_STATE_KEY: &str = "caller";

/// The caller's state saved in the checkpoint at `path`, if any.
pub fn read_caller_state(path: &Path) -> Result<Option<String>> {
    let (meta, _) = load_safetensors(path, &Device::Cpu)?;
    Ok(meta.get(CALLER_STATE_KEY).cloned())
}

/// Read a safetensors file of f32 tensors: `(metadata, tensors in file order)`. Truncated or
/// corrupt files and non-f32 tensors are errors naming the file.
pub fn load_safetensors(path: &Path, device: &Device) -> Result<SafetensorsContents> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_safetensors(path, &bytes, device)
}

/// Parse safetensors bytes (see [`load_safetensors`]); `path` only names the source in errors.
pub fn parse_safetensors(
    path: &Path,
    bytes: &[u8],
    device: &Device,
) -> Result<SafetensorsContents> {
    let bad = |reason: String| Error::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let mut names: Vec<(usize, String)> = meta
        .tensors()
        .iter()
        .map(|(n, info)| (info.data_offsets.0, n.clone()))
        .collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for (_, name) in names {
        let view = st.tensor(&name).map_err(|e| bad(format!("{name}: {e}")))?;
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor `{name}` has dtype {:?}, expected F32",
                view.dtype()
            )));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.push((name, Tensor::from_vec(data, view.shape(), device)?));
    }
    let mut raw = meta.metadata().clone().unwrap_or_default();
    let metadata = match raw.remove(METADATA_KEY) {
        Some(packed) => serde_json::from_str(&packed).map_err(|e| {
            bad(format!(
                "metadata `{METADATA_KEY}` is not a JSON string map: {e}"
            ))
        })?,
        None => raw,
    };
    Ok((metadata, out))
}
