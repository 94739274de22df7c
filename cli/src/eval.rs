//! `eggroll eval` and `eggroll policy forward`: use an exported policy.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use eggroll_envs::mnist::{Dataset, Split, mnist_dir};
use eggroll_policies::RolloutEvaluator;
use eggroll_policies::forward::PopulationForward;

use eggroll_run::artifacts::load_policy;

/// Evaluate the policy in `path` on `task`.
pub fn run(
    task: &str,
    path: &Path,
    episodes: usize,
    seed: u64,
    data_dir: Option<&Path>,
    json: bool,
) -> Result<()> {
    let (saved_task, net, params) = load_policy(path)?;
    if saved_task != task {
        bail!(
            "{} was trained on `{saved_task}`, not `{task}`",
            path.display()
        );
    }
    anyhow::ensure!(episodes >= 1, "--episodes must be ≥ 1");
    let widest = net.sizes.iter().copied().max().unwrap_or(1);
    eggroll_run::limits::Estimate::new()
        .add("episodes × network width", &[episodes, 4, widest])
        .check("--episodes")?;
    let control = eggroll_run::task::find(task)?.control();
    let out = if let Some(c) = control {
        let mut ev = RolloutEvaluator::new(net, c.head, Box::new(c.env), 1, seed)?;
        let r = ev.evaluate_plain(&params, episodes, seed)?;
        serde_json::json!({
            "task": task, "policy": path.display().to_string(), "eval_mean": r.mean,
            "eval_std": r.std, "eval_min": r.min, "eval_max": r.max, "eval_episodes": r.episodes,
        })
    } else if task == "mnist" {
        let dir = mnist_dir(data_dir);
        let test = Arc::new(Dataset::load(&dir, Split::Test)?);
        let acc = eggroll_policies::mnist::accuracy(&net, &params, &test)?;
        serde_json::json!({
            "task": task, "policy": path.display().to_string(), "test_accuracy": acc,
            "test_images": test.len(),
        })
    } else {
        bail!("eval supports control tasks and mnist, not `{task}`");
    };
    if json {
        println!("{out}");
    } else {
        for (k, v) in out.as_object().expect("object") {
            println!("{k}: {v}");
        }
    }
    Ok(())
}

/// Print the pre-head outputs of the policy in `path` for one input row (JSON array).
pub fn forward(path: &Path, input: &[f32]) -> Result<()> {
    let (_, net, params) = load_policy(path)?;
    let fwd = PopulationForward::new(&net, &params, None)?;
    anyhow::ensure!(
        input.len() == fwd.in_dim(),
        "the policy takes {} inputs, got {}",
        fwd.in_dim(),
        input.len()
    );
    if let Some(i) = input.iter().position(|x| !x.is_finite()) {
        bail!(
            "--input: value {} (position {i}) is not a finite number",
            input[i]
        );
    }
    let mut out = vec![0.0f32; fwd.out_dim()];
    fwd.forward(input, None, &mut out).context("forward pass")?;
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
