//! `eggroll bench env`: environment throughput of a control task, without and with its policy.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::resolve::resolve;
use crate::session::build_strategy;

/// What `bench env` measures.
#[derive(Debug, Clone, Serialize)]
pub struct EnvBench {
    /// The task.
    pub task: String,
    /// Members stepped together.
    pub population: usize,
    /// Environment steps per member in the first measurement.
    pub steps: usize,
    /// Rayon threads.
    pub threads: usize,
    /// Environment (control) steps per second with random actions and no policy, members
    /// running on past terminations (as `mujoco.rollout`).
    pub env_steps_per_s: f64,
    /// Environment steps per second of one training generation: the task's default policy
    /// (its initial parameters, `population` perturbed members) through the batched forward,
    /// one episode per member, each member until its episode ends.
    pub rollout_steps_per_s: f64,
    /// Environment steps that generation took.
    pub rollout_steps: u64,
    /// Seconds of the two measurements.
    pub env_s: f64,
    /// Seconds of the rollout generation.
    pub rollout_s: f64,
}

/// Measure `task` (a MuJoCo task) at `population` members, `steps` steps each.
pub fn env(task: &str, population: usize, steps: usize, seed: u64) -> Result<EnvBench> {
    let t = crate::task::find(task)?;
    t.ready()?;
    if population == 0 || population > 1 << 20 {
        return Err(Error::Input {
            what: "--population".into(),
            reason: "must be 1..=1048576".into(),
        });
    }
    if steps == 0 || steps > 1_000_000 {
        return Err(Error::Input {
            what: "--steps".into(),
            reason: "must be 1..=1000000".into(),
        });
    }
    let env_s = t
        .time_env_steps(population, steps, seed)
        .ok_or_else(|| Error::Input {
            what: format!("task `{task}`"),
            reason: "bench env measures the MuJoCo tasks (halfcheetah, hopper, walker2d, ant, \
                 swimmer, humanoid, inverted-pendulum, inverted-double-pendulum, reacher)"
                .into(),
        })??;
    let population_even = population + population % 2;
    let config = resolve(
        task,
        None,
        &[],
        &[
            ("es.population_size", (population_even as i64).into()),
            ("evaluation.episodes", 1i64.into()),
            ("es.seed", (seed as i64).into()),
        ],
    )?;
    let mut built = t.build(&config)?;
    let mut strategy = build_strategy(&config, &built.params)?;
    let pop = strategy.ask(&built.params, 0)?;
    let start = std::time::Instant::now();
    built
        .evaluator
        .evaluate_members(&built.params, &pop, 0..population_even)?;
    let rollout_s = start.elapsed().as_secs_f64();
    let rollout_steps = built.evaluator.env_steps();
    Ok(EnvBench {
        task: task.into(),
        population,
        steps,
        threads: rayon::current_num_threads(),
        env_steps_per_s: (population * steps) as f64 / env_s,
        rollout_steps_per_s: rollout_steps as f64 / rollout_s,
        rollout_steps,
        env_s,
        rollout_s,
    })
}

/// What `bench forward` measures: the MLP given by `layers` (default), with `shared_batch`
/// inputs shared by every member, or one of the task models (`cnn`, `transformer`, `mingru`).
#[derive(Debug, Clone)]
pub struct ForwardRequest {
    /// Members.
    pub population: usize,
    /// MLP widths (input, hidden…, output).
    pub layers: Vec<usize>,
    /// Low-rank rank.
    pub rank: usize,
    /// Interleaved measurement rounds.
    pub rounds: usize,
    /// Inputs shared by every member (MNIST-style); the models' default when `None`.
    pub shared_batch: Option<usize>,
    /// `mlp` (default), `cnn`, `transformer` or `mingru`.
    pub model: Option<String>,
    /// `f32` (default) or `int8` (the MLP on the CPU: int8 inference, int8 EGGROLL and the f32
    /// inference of the same shape, side by side).
    pub dtype: String,
    /// Where to run.
    pub device: candle_core::Device,
}

fn input(what: &str, reason: impl Into<String>) -> Error {
    Error::Input {
        what: what.into(),
        reason: reason.into(),
    }
}

/// Run `req`; the JSON object `bench forward --json` prints.
pub fn forward(req: ForwardRequest) -> Result<serde_json::Value> {
    let ForwardRequest {
        population,
        layers,
        rank,
        rounds,
        shared_batch,
        model,
        dtype,
        device,
    } = req;
    let rounds = rounds.max(1);
    match dtype.as_str() {
        "f32" => {}
        "int8" => {
            return forward_int8(
                population,
                &layers,
                rank,
                rounds,
                shared_batch,
                model,
                &device,
            );
        }
        d => {
            return Err(input(
                "--dtype",
                format!("`{d}` is unknown; f32 (the default) or int8"),
            ));
        }
    }
    match model.as_deref() {
        Some("cnn") => {
            let batch = shared_batch.unwrap_or(64);
            check_model_bench("cnn", population, rank, batch)?;
            // Per member-image: the tiled input, conv1's output, conv2's patches and outputs
            // (twice, for the inference and the EGGROLL pass).
            crate::limits::Estimate::new()
                .add("CNN rows", &[2, population, batch, 784 + 1568 + 3528 + 784])
                .check("--population, --shared-batch")?;
            let net = eggroll_policies::mnist::cnn(28, 28, &[8, 16])?;
            let r = eggroll_policies::bench::model_shared_batch(
                &net, population, batch, rank, rounds, &device,
            )?;
            let mut j = serde_json::to_value(&r).expect("serialisable");
            j["params"] = serde_json::json!(net.num_params());
            Ok(with_model(j, "cnn", &device))
        }
        Some(m @ ("transformer" | "mingru")) => {
            let batch = shared_batch.unwrap_or(16);
            check_model_bench(m, population, rank, batch)?;
            let spec = eggroll_policies::charlm::LmSpec {
                kind: if m == "transformer" {
                    eggroll_policies::charlm::LmKind::Transformer
                } else {
                    eggroll_policies::charlm::LmKind::Mingru
                },
                width: 32,
                depth: 1,
                heads: 2,
                context: 32,
                alibi: (m == "transformer").then_some(0.0),
            };
            // Per member-token: logits (256), activations (a few × width), twice.
            crate::limits::Estimate::new()
                .add(
                    "sequence rows",
                    &[2, population, batch, spec.context, 256 + 8 * spec.width],
                )
                .check("--population, --shared-batch")?;
            let net = spec.build()?;
            let r = eggroll_policies::bench::sequence_model(
                &net,
                eggroll_policies::charlm::VOCAB,
                population,
                batch,
                rank,
                rounds,
                &device,
            )?;
            Ok(with_model(
                serde_json::to_value(&r).expect("serialisable"),
                m,
                &device,
            ))
        }
        Some(m) if m != "mlp" => Err(input(
            "--model",
            format!(
                "`{m}` is unknown; bench forward knows mlp (the default), cnn, transformer and mingru"
            ),
        )),
        _ => match shared_batch {
            Some(b) if !(1..=4096).contains(&b) => Err(input(
                "--shared-batch",
                format!("must be 1..=4096 images per member, got {b}"),
            )),
            Some(b) => {
                crate::limits::check_forward_bench(population, &layers, rank, b)?;
                let r =
                    eggroll_policies::bench::shared_batch(population, b, &layers, rank, rounds)?;
                Ok(serde_json::to_value(&r).expect("serialisable"))
            }
            None => {
                if population < 2 || !population.is_multiple_of(2) {
                    return Err(input("--population", "must be even and ≥ 2"));
                }
                crate::limits::check_forward_bench(population, &layers, rank, 1)?;
                let r = eggroll_policies::bench::ForwardBench {
                    population,
                    layers,
                    rank,
                    rounds,
                    materialized_rows: 256,
                    device,
                }
                .run()?;
                Ok(serde_json::to_value(&r).expect("serialisable"))
            }
        },
    }
}

/// `bench forward --dtype int8`: the MLP `layers` on the CPU.
fn forward_int8(
    population: usize,
    layers: &[usize],
    rank: usize,
    rounds: usize,
    shared_batch: Option<usize>,
    model: Option<String>,
    device: &candle_core::Device,
) -> Result<serde_json::Value> {
    if !device.is_cpu() {
        return Err(input("--dtype", "int8 runs on the CPU; use --device cpu"));
    }
    if model.as_deref() == Some("egg") {
        // egg-rs's sizes (width 128, 2 blocks); --shared-batch is the window length.
        let context = shared_batch.unwrap_or(128);
        check_model_bench("egg", population, rank, context)?;
        if !population.is_multiple_of(2) {
            return Err(input("--population", "must be even (antithetic pairs)"));
        }
        crate::limits::Estimate::new()
            .add(
                "sequence rows (bytes)",
                &[population, context, 16 * 128 + 2 * 256],
            )
            .check("--population, --shared-batch")?;
        let r = eggroll_policies::bench::int8::egg(population, 128, 2, context, rank, rounds)?;
        return Ok(serde_json::to_value(&r).expect("serialisable"));
    }
    if model.as_deref().is_some_and(|m| m != "mlp") || shared_batch.is_some() {
        return Err(input(
            "--dtype",
            "int8 benchmarks the MLP (`--layers`) or `--model egg`; drop --shared-batch",
        ));
    }
    if population < 2 || !population.is_multiple_of(2) {
        return Err(input("--population", "must be even and ≥ 2"));
    }
    if !(1..=64).contains(&rank) {
        return Err(input(
            "--rank",
            format!("must be 1..=64 for --dtype int8, got {rank}"),
        ));
    }
    crate::limits::check_forward_bench(population, layers, rank, 1)?;
    let r = eggroll_policies::bench::int8::mlp(population, layers, rank, rounds)?;
    Ok(serde_json::to_value(&r).expect("serialisable"))
}

/// The bounds every `bench forward --model M` checks.
fn check_model_bench(kind: &str, population: usize, rank: usize, batch: usize) -> Result<()> {
    if !(1..=65_536).contains(&population) || !(1..=4096).contains(&batch) {
        return Err(input(
            "--population, --shared-batch",
            "--population must be 1..=65536 and --shared-batch 1..=4096",
        ));
    }
    if !(1..=64).contains(&rank) {
        return Err(input(
            "--rank",
            format!("must be 1..=64 for --model {kind}"),
        ));
    }
    Ok(())
}

/// A `--model` benchmark's JSON with its model and device.
fn with_model(
    mut j: serde_json::Value,
    kind: &str,
    device: &candle_core::Device,
) -> serde_json::Value {
    j["model"] = serde_json::json!(kind);
    j["device"] = serde_json::json!(crate::session::device_name(device));
    j
}

impl std::fmt::Display for EnvBench {
    /// `bench env`'s line for people.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} members × {} steps on {} threads: {:.0} env-steps/s (random actions); \
             {:.0} env-steps/s with the default policy ({} steps)",
            self.task,
            self.population,
            self.steps,
            self.threads,
            self.env_steps_per_s,
            self.rollout_steps_per_s,
            self.rollout_steps
        )
    }
}

/// `bench forward`'s table for people (the MLP benchmark without `--json`), from the JSON
/// object [`forward`] returns.
pub fn forward_table(j: &serde_json::Value) -> String {
    let f = |k: &str| j[k].as_f64().unwrap_or(f64::NAN);
    if j["dtype"] == "int8" {
        let mut out = format!(
            "N={} layers={} r={} int8 on the CPU ({} threads, {}; f32 {})",
            j["population"],
            j["layers"],
            j["rank"],
            j["threads"],
            j["int8_level"].as_str().unwrap_or("?"),
            j["simd"].as_str().unwrap_or("?")
        );
        for (name, rate, ratio) in [
            ("f32 inference", "f32_inference_members_per_s", 1.0),
            (
                "int8 inference",
                "int8_inference_members_per_s",
                f("inference_vs_f32_inference"),
            ),
            (
                "int8 eggroll",
                "eggroll_members_per_s",
                f("eggroll_vs_f32_inference"),
            ),
        ] {
            out += &format!(
                "\n  {name:<20}  {:>12.0} members/s  {ratio:.3}x f32",
                f(rate)
            );
        }
        out += &format!(
            "\n  int8 eggroll / int8 inference: {:.3}x",
            f("eggroll_vs_inference")
        );
        return out;
    }
    let mut out = format!(
        "N={} layers={} r={} on {} ({} threads, {})",
        j["population"],
        j["layers"],
        j["rank"],
        j["device"].as_str().unwrap_or("?"),
        j["threads"],
        j["simd"].as_str().unwrap_or("?")
    );
    let rows = [
        ("inference", "inference_members_per_s", None),
        (
            "eggroll (cached)",
            "eggroll_members_per_s",
            Some("eggroll_vs_inference"),
        ),
        (
            "eggroll (+noise)",
            "eggroll_noise_members_per_s",
            Some("eggroll_noise_vs_inference"),
        ),
        (
            "materialised",
            "materialized_members_per_s",
            Some("materialized_vs_inference"),
        ),
    ];
    for (name, rate, ratio) in rows {
        out += &format!(
            "\n  {name:<20}  {:>12.0} members/s  {:.3}x",
            f(rate),
            ratio.map_or(1.0, f)
        );
    }
    if let Some(ops) = j["eggroll_ops_members_per_s"].as_f64() {
        out += &format!(
            "\n  {:<20}  {ops:>12.0} members/s  {:.3}x",
            "eggroll (candle ops)",
            ops / f("inference_members_per_s")
        );
    }
    out
}
