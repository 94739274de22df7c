//! Using an exported policy (`policy.safetensors`): evaluate it on its task, or run its
//! network on one input row.

use std::path::Path;
use std::sync::Arc;

use eggroll_envs::mnist::{Dataset, Split, mnist_dir};
use eggroll_policies::PopulationForward;
use eggroll_policies::RolloutEvaluator;

use crate::artifacts::{LoadedPolicy, load_policy};
use crate::error::{Error, Result};
use crate::net::Net;

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
    let policy = path.display().to_string();
    let found = crate::task::find(task)?;
    found.ready()?;
    if let Some(c) = found.control() {
        let Net::Mlp(net) = net else {
            return Err(input_err(policy, "a control policy must be an MLP"));
        };
        let widest = net.sizes.iter().copied().max().unwrap_or(1);
        crate::limits::Estimate::new()
            .add("episodes × network width", &[episodes, 4, widest])
            .check("--episodes")?;
        // The network comes from the policy file, not from a config: a mismatch is the file's.
        let mut ev =
            RolloutEvaluator::new(net, c.head, Box::new(c.env), 1, seed).map_err(|e| match e {
                eggroll_core::Error::InvalidConfig { reason, .. } => {
                    input_err(&policy, format!("does not fit task `{task}`: {reason}"))
                }
                e => e.into(),
            })?;
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
        let acc = match &net {
            Net::Mlp(net) => {
                if net.sizes[0] != test.rows * test.cols {
                    return Err(input_err(
                        policy,
                        format!(
                            "takes {} inputs, the test images have {}×{} = {} pixels",
                            net.sizes[0],
                            test.rows,
                            test.cols,
                            test.rows * test.cols
                        ),
                    ));
                }
                eggroll_policies::mnist::accuracy(net, &params, &test)?
            }
            Net::Lm(_) | Net::Egg(_) => {
                return Err(input_err(
                    policy,
                    "is a language model, not an mnist policy",
                ));
            }
            Net::Cnn(spec) => {
                let model = spec.build()?;
                if model.input_shape() != [1, test.rows, test.cols] {
                    return Err(input_err(
                        policy,
                        format!(
                            "takes {}×{} images, the test set has {}×{}",
                            spec.rows, spec.cols, test.rows, test.cols
                        ),
                    ));
                }
                eggroll_policies::mnist::model_accuracy(&model, &params, &test)?
            }
        };
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
    let (in_dim, run): (usize, Box<dyn Fn(&[f32]) -> Result<Vec<f32>>>) = match &net {
        Net::Mlp(net) => {
            let net = net.clone();
            (
                net.sizes[0],
                Box::new(move |x: &[f32]| {
                    let fwd = PopulationForward::new(&net, &params, None)?;
                    let mut out = vec![0.0f32; fwd.out_dim()];
                    fwd.forward(x, None, &mut out)?;
                    Ok(out)
                }),
            )
        }
        Net::Egg(_) => {
            return Err(input_err(
                path.display().to_string(),
                "is charlm's int8 EGG model: continue text with `eggroll sample`",
            ));
        }
        spec @ (Net::Cnn(_) | Net::Lm(_)) => {
            let model = spec.build()?;
            (
                model.input_shape().iter().product(),
                Box::new(move |x: &[f32]| {
                    // The only input is --input: a value the model rejects is that flag's.
                    model.forward(&params, None, x, None).map_err(|e| match e {
                        eggroll_core::Error::InvalidConfig { reason, .. } => {
                            input_err("--input", reason)
                        }
                        e => e.into(),
                    })
                }),
            )
        }
    };
    if input.len() != in_dim {
        return Err(input_err(
            "--input",
            format!("the policy takes {in_dim} inputs, got {}", input.len()),
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
    run(&x)
}

/// `bytes` bytes generated after `prompt` by the language model in `path` (a `charlm`
/// policy), sampled at `temperature` (0: the most likely byte) from a stream seeded by `seed`.
/// The model reads the last `context` bytes (a shorter history is padded with spaces on the
/// left); any prompt bytes are valid, and so is an empty prompt.
pub fn sample(
    path: &Path,
    prompt: &[u8],
    bytes: usize,
    seed: u64,
    temperature: f32,
) -> Result<Vec<u8>> {
    let LoadedPolicy { net, params, .. } = load_policy(path)?;
    // Ok: a model of population layers; Err: charlm's int8 EGG.
    let spec = match net {
        Net::Lm(spec) => Ok(spec),
        Net::Egg(e) => Err(e),
        _ => {
            return Err(input_err(
                path.display().to_string(),
                "is not a language model (train one with `eggroll train charlm`)",
            ));
        }
    };
    if bytes == 0 || bytes > 1 << 20 {
        return Err(input_err("--bytes", "must be 1..=1048576"));
    }
    if !(temperature >= 0.0 && temperature.is_finite()) {
        return Err(input_err("--temperature", "must be finite and ≥ 0"));
    }
    let spec = match spec {
        Ok(spec) => spec,
        Err(e) => {
            // EGG: the temperature scales its 1/16-bit logits the same way (0 = greedy).
            let model = eggroll_policies::egg::EggModel::new(e, &params)?;
            return Ok(model.sample(prompt, bytes, seed, f64::from(temperature)));
        }
    };
    let model = spec.build()?;
    Ok(eggroll_policies::charlm::sample(
        &model,
        &params,
        spec.context,
        prompt,
        bytes,
        seed,
        temperature,
    )?)
}
