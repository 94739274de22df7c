//! Using an exported policy (`policy.safetensors`): evaluate it on its task, or run its
//! network on one input row.

use std::path::Path;
use std::sync::Arc;

use eggroll_envs::mnist::{Dataset, Split, mnist_dir};
use eggroll_policies::RolloutEvaluator;
use eggroll_policies::forward::PopulationForward;

use crate::artifacts::{LoadedPolicy, load_policy};
use crate::error::{Error, Result};

fn input_err(what: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Input {
        what: what.into(),
        reason: reason.into(),
    }
}

/// Evaluate the policy in `path` on `task`: the mean return over `episodes` fresh seeded
/// episodes (control tasks) or the accuracy on the test images (mnist). Returns the JSON
/// `eggroll eval` prints.
pub fn evaluate(
    task: &str,
    path: &Path,
    episodes: usize,
    seed: u64,
    data_dir: Option<&Path>,
) -> Result<serde_json::Value> {
    let LoadedPolicy {
        task: saved_task,
        net,
        params,
        obs,
    } = load_policy(path)?;
    if saved_task != task {
        return Err(input_err(
            path.display().to_string(),
            format!("was trained on `{saved_task}`, not `{task}`"),
        ));
    }
    if episodes == 0 {
        return Err(input_err("--episodes", "must be ≥ 1"));
    }
    let widest = net.sizes.iter().copied().max().unwrap_or(1);
    crate::limits::Estimate::new()
        .add("episodes × network width", &[episodes, 4, widest])
        .check("--episodes")?;
    let policy = path.display().to_string();
    if let Some(c) = crate::task::find(task)?.control() {
        let mut ev = RolloutEvaluator::new(net, c.head, Box::new(c.env), 1, seed)?;
        if let Some(t) = obs {
            ev = ev.with_obs_transform(t)?;
        }
        let r = ev.evaluate_plain(&params, episodes, seed)?;
        Ok(serde_json::json!({
            "task": task, "policy": policy, "eval_mean": r.mean, "eval_std": r.std,
            "eval_min": r.min, "eval_max": r.max, "eval_episodes": r.episodes,
        }))
    } else if task == "mnist" {
        let test = Arc::new(Dataset::load(&mnist_dir(data_dir), Split::Test)?);
        let acc = eggroll_policies::mnist::accuracy(&net, &params, &test)?;
        Ok(serde_json::json!({
            "task": task, "policy": policy, "test_accuracy": acc, "test_images": test.len(),
        }))
    } else {
        Err(input_err(
            format!("task `{task}`"),
            "eval supports control tasks and mnist",
        ))
    }
}

/// The pre-head outputs of the policy in `path` for one input row (normalised first when the
/// policy carries an observation normaliser).
pub fn forward(path: &Path, input: &[f32]) -> Result<Vec<f32>> {
    let LoadedPolicy {
        net, params, obs, ..
    } = load_policy(path)?;
    let fwd = PopulationForward::new(&net, &params, None)?;
    if input.len() != fwd.in_dim() {
        return Err(input_err(
            "--input",
            format!(
                "the policy takes {} inputs, got {}",
                fwd.in_dim(),
                input.len()
            ),
        ));
    }
    if let Some(i) = input.iter().position(|x| !x.is_finite()) {
        return Err(input_err(
            "--input",
            format!("value {} (position {i}) is not a finite number", input[i]),
        ));
    }
    let mut x = input.to_vec();
    if let Some(t) = &obs {
        t.apply(&mut x);
    }
    let mut out = vec![0.0f32; fwd.out_dim()];
    fwd.forward(&x, None, &mut out)?;
    Ok(out)
}
