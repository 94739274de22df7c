//! `eggroll eval` and `eggroll policy forward`: print what the run layer computes.

use std::path::Path;

use anyhow::Result;

/// Evaluate the policy in `path` on `task` and print the result.
pub fn run(
    task: &str,
    path: &Path,
    episodes: usize,
    seed: u64,
    data_dir: Option<&Path>,
    json: bool,
) -> Result<()> {
    let out = eggroll_run::policy::evaluate(task, path, episodes, seed, data_dir)?;
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
    let out = eggroll_run::policy::forward(path, input)?;
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
