//! The files of a run directory: resolved config, metrics, checkpoints, exported policies and
//! plots.
//!
//! Every file is written atomically (temporary file + rename) except `metrics.jsonl`, which is
//! appended and flushed one line per generation (a crash loses at most the line being written).
//! The rules that protect existing directories (no overwrite, one process per run, stale
//! temporaries) live in [`crate::RunDir`].

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::layout::{EVALS, METRICS, VALIDATION};
use candle_core::{Device, Tensor};
use eggroll_core::checkpoint::{load_safetensors, save_safetensors};
use eggroll_core::{GenStats, Params};
use eggroll_policies::ObsTransform;

pub use crate::net::Net;

/// Tensor names of an observation normaliser in a policy file: `x ↦ clamp((x − mean) / std,
/// −clip, clip)` before the network, with `clip` in the metadata key [`OBS_CLIP`].
pub const OBS_MEAN: &str = "obs_norm.mean";
/// See [`OBS_MEAN`].
pub const OBS_STD: &str = "obs_norm.std";
/// See [`OBS_MEAN`].
pub const OBS_CLIP: &str = "obs_clip";

/// An exported policy, read back by [`load_policy`].
#[derive(Debug)]
pub struct LoadedPolicy {
    /// The task it was trained on.
    pub task: String,
    /// Its network.
    pub net: Net,
    /// The network's parameters.
    pub params: Params,
    /// The observation normaliser to apply before the network, if it was trained with one.
    pub obs: Option<ObsTransform>,
}

/// Export parameters as safetensors with PyTorch `nn.Linear` names and layouts
/// (`layers.<l>.weight` is out × in), metadata naming the task and the network and, when the
/// run normalised observations, the normaliser (see [`OBS_MEAN`]).
pub fn save_policy(
    path: &Path,
    params: &Params,
    task: &str,
    net: Option<&Net>,
    obs: Option<&ObsTransform>,
) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = params
        .iter()
        .map(|p| (p.name().to_string(), p.tensor().clone()))
        .collect();
    let mut meta = HashMap::new();
    if let Some(t) = obs {
        let d = t.mean.len();
        tensors.push((
            OBS_MEAN.into(),
            Tensor::from_slice(&t.mean, d, &Device::Cpu)?,
        ));
        tensors.push((OBS_STD.into(), Tensor::from_slice(&t.std, d, &Device::Cpu)?));
        meta.insert(
            OBS_CLIP.to_string(),
            serde_json::to_string(&t.clip).expect("f32"),
        );
    }
    meta.insert("format".to_string(), "eggroll-policy".to_string());
    meta.insert("task".to_string(), task.to_string());
    if let Some(net) = net {
        let (key, json) = net.to_metadata();
        meta.insert(key, json);
    }
    save_safetensors(path, &tensors, meta)?;
    Ok(())
}

/// Load an exported policy: its task, network, parameters and normaliser (validated against
/// each other).
pub fn load_policy(path: &Path) -> Result<LoadedPolicy> {
    let (meta, tensors) = load_safetensors(path, &Device::Cpu)?;
    let bad = |reason: String| Error::Input {
        what: path.display().to_string(),
        reason,
    };
    let task = meta
        .get("task")
        .cloned()
        .ok_or_else(|| bad("not an eggroll policy (no `task` metadata)".into()))?;
    if !Net::in_metadata(&meta) && (task == "sphere" || task == "rastrigin") {
        return Err(bad(format!(
            "a `{task}` policy is a point, not a network: {task} policies have no environment \
             to evaluate and no inputs (its fitness is in the run's JSON and metrics)"
        )));
    }
    let net = Net::from_metadata(&meta).map_err(bad)?;
    let inputs = net.inputs();
    let mut params = Params::new();
    let (mut mean, mut std) = (None, None);
    for (name, t) in tensors {
        match name.as_str() {
            OBS_MEAN => mean = Some(t.flatten_all()?.to_vec1::<f32>()?),
            OBS_STD => std = Some(t.flatten_all()?.to_vec1::<f32>()?),
            _ => params.push(name, t)?,
        }
    }
    let obs = match (mean, std, meta.get(OBS_CLIP)) {
        (None, None, None) => None,
        (Some(mean), Some(std), Some(clip)) => {
            let clip: f32 = serde_json::from_str(clip)
                .map_err(|e| bad(format!("metadata `{OBS_CLIP}`: {e}")))?;
            let t = ObsTransform { mean, std, clip };
            t.validate("obs_norm", inputs)
                .map_err(|e| bad(e.to_string()))?;
            Some(t)
        }
        _ => {
            return Err(bad(format!(
                "an observation normaliser needs all of `{OBS_MEAN}`, `{OBS_STD}` and \
                 metadata `{OBS_CLIP}`"
            )));
        }
    };
    for (p, v) in params.iter().zip(params.to_host()?) {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!(
                "tensor `{}` holds a non-finite value ({} at index {i}); the policy is unusable",
                p.name(),
                v[i]
            )));
        }
    }
    // Safetensors stores tensors sorted by name: a layered model's parameters are put back
    // in its declaration order.
    if let Some(names) = net.param_names().map_err(|e| bad(e.to_string()))? {
        let mut by_name: HashMap<String, Tensor> = params
            .iter()
            .map(|p| (p.name().to_string(), p.tensor().clone()))
            .collect();
        let mut ordered = Params::new();
        for name in names {
            let t = by_name
                .remove(&name)
                .ok_or_else(|| bad(format!("tensor `{name}` missing")))?;
            ordered.push(name, t)?;
        }
        if let Some(extra) = by_name.keys().next() {
            return Err(bad(format!("tensor `{extra}` is not part of the network")));
        }
        params = ordered;
    }
    net.check_params(&params)
        .map_err(|e| bad(format!("tensors do not match the network: {e}")))?;
    Ok(LoadedPolicy {
        task,
        net,
        params,
        obs,
    })
}

/// The best validation score, its parameters and the observation transform they were scored
/// with.
pub type Validation = (f64, Params, Option<ObsTransform>);

/// Save the best validation score, parameters and transform (for resume).
pub fn save_validation(dir: &Path, (score, params, obs): &Validation) -> Result<()> {
    let tensors: Vec<(String, Tensor)> = params
        .iter()
        .map(|p| (p.name().to_string(), p.tensor().clone()))
        .collect();
    let mut meta = HashMap::new();
    meta.insert("score".to_string(), format!("{score:e}"));
    if let Some(t) = obs {
        meta.insert(
            "obs_norm".to_string(),
            serde_json::to_string(t).expect("a transform serialises"),
        );
    }
    save_safetensors(&dir.join(VALIDATION), &tensors, meta)?;
    Ok(())
}

/// Load the best validation score, parameters and transform, if saved.
pub fn load_validation(dir: &Path, like: &Params) -> Result<Option<Validation>> {
    let path = dir.join(VALIDATION);
    if !path.exists() {
        return Ok(None);
    }
    let (meta, tensors) = load_safetensors(&path, &like.device())?;
    let bad = |reason: String| Error::Input {
        what: path.display().to_string(),
        reason,
    };
    let score: f64 = meta
        .get("score")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no score".into()))?;
    // Safetensors stores tensors sorted by name: restore the run's parameter order.
    let mut by_name: HashMap<String, Tensor> = tensors.into_iter().collect();
    let mut params = Params::new();
    for p in like.iter() {
        let t = by_name
            .remove(p.name())
            .ok_or_else(|| bad(format!("tensor `{}` missing", p.name())))?;
        params.push(p.name(), t)?;
    }
    like.check_same_layout(&params)
        .map_err(|e| bad(e.to_string()))?;
    let obs = meta
        .get("obs_norm")
        .map(|s| serde_json::from_str::<ObsTransform>(s))
        .transpose()
        .map_err(|e| bad(format!("metadata `obs_norm`: {e}")))?;
    Ok(Some((score, params, obs)))
}

/// Append one evaluation line to `evals.jsonl` (flushed; created if missing).
pub fn append_eval(dir: &Path, line: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
    use std::io::Write;
    let path = dir.join(EVALS);
    let text = serde_json::to_string(line).expect("JSON values serialise");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{text}"))
        .map_err(|source| Error::Io { path, source })
}

/// Read `metrics.jsonl` back for `--resume` (see [`crate::truncate_metrics`]: an unreadable
/// file is an error and stays as it was), dropping generations ≥ `generation`.
pub fn read_metrics(dir: &Path, generation: u64) -> Result<Vec<GenStats>> {
    crate::truncate_metrics(dir, generation)?
        .iter()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| Error::Corrupt {
                path: dir.join(METRICS),
                reason: format!("line {} is not valid metrics JSON: {e}", i + 1),
            })
        })
        .collect()
}
