//! `eggroll compare`: evolution strategies against backprop on MNIST, one model definition
//! and two kinds of trainer. Every (model, method) pair trains MNIST for the same wall-clock
//! budget on the same thread pool — EGGROLL and SimpleES through the population forward, SGD
//! and AdamW (candle-nn) by backprop through the same layers' differentiable forward
//! ([`eggroll_policies::nn::Model::forward_tensor`]) — and is scored on the test set along the
//! way. The directory gets `results.jsonl`, `results.md` and the plots `accuracy_vs_time` and
//! `accuracy_vs_forward_passes` (png and svg).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use candle_nn::Optimizer;
use eggroll_core::{EsConfig, Evaluator, OptimizerConfig, Params, Strategy, StrategyKind, Trainer};
use eggroll_envs::mnist::{Dataset, Split, mnist_dir};
use eggroll_policies::mnist::{
    MnistEvaluator, MnistFitness, ModelMnistEvaluator, accuracy, cnn, draw_batch, model_accuracy,
    transformer,
};
use eggroll_policies::nn::Model;
use eggroll_policies::{Activation, MlpConfig};
use serde::{Deserialize, Serialize};

use crate::dir::RunDir;
use crate::error::{Error, Result};
use eggroll_core::checkpoint::write_atomic;

/// The models compared.
pub const MODELS: [&str; 3] = ["mlp", "cnn", "transformer"];
/// The methods compared.
pub const METHODS: [&str; 4] = ["eggroll", "simplees", "sgd", "adam"];

/// What the ES methods maximise (backprop always minimises the cross-entropy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// The mean log-likelihood of the true label (the negative of backprop's loss).
    LogLikelihood,
    /// The accuracy on the batch itself (the bandit reward; not differentiable, so backprop
    /// still trains on the cross-entropy surrogate).
    Accuracy,
}

/// A comparison's settings (saved as `compare.json` in its directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareSpec {
    /// Models (from [`MODELS`]).
    pub models: Vec<String>,
    /// Methods (from [`METHODS`]).
    pub methods: Vec<String>,
    /// Wall-clock seconds of training per pair (test evaluations excluded).
    pub budget_s: f64,
    /// Seed.
    pub seed: u64,
    /// ES objective.
    pub objective: Objective,
    /// MNIST directory (None: `EGGROLL_MNIST_DIR`, else `data/mnist`).
    pub data_dir: Option<PathBuf>,
    /// Test evaluations along each run.
    pub eval_points: usize,
}

/// The settings of a comparison, in its directory.
pub const COMPARE_FILE: &str = "compare.json";
/// The finished pairs, one JSON [`Row`] per line.
pub const RESULTS_FILE: &str = "results.jsonl";

/// What a comparison produced.
#[derive(Debug)]
pub struct CompareReport {
    /// The settings.
    pub spec: CompareSpec,
    /// One row per finished pair (failed pairs carry their error), in (model, method) order.
    pub rows: Vec<Row>,
    /// Rows already in the directory when resumed.
    pub resumed: usize,
    /// Pairs in all.
    pub total: usize,
    /// Ctrl-C/SIGTERM stopped it: the pair in flight is dropped, the finished ones are kept
    /// and [`resume`] runs the rest.
    pub interrupted: bool,
    /// The directory.
    pub dir: PathBuf,
}

/// One (model, method) cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Model.
    pub model: String,
    /// Method.
    pub method: String,
    /// What the method optimised ("log_likelihood", "accuracy" or "cross_entropy").
    pub objective: String,
    /// Trainable parameters.
    pub params: usize,
    /// Final test accuracy (None if the pair failed).
    pub test_accuracy: Option<f64>,
    /// Training seconds.
    pub wall_s: f64,
    /// Forward passes of one image (ES: members × batch per generation; backprop: batch per
    /// step).
    pub forward_passes: u64,
    /// ES: member evaluations.
    pub member_evals: u64,
    /// Generations (ES) or optimiser steps (backprop).
    pub steps: u64,
    /// (seconds, forward passes, test accuracy) along the run.
    pub curve: Vec<(f64, u64, f64)>,
    /// Why the pair has no number.
    pub error: Option<String>,
}

/// Check names against the valid ones (the message lists them).
pub fn parse_names(what: &str, list: &str, valid: &[&str]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !valid.contains(&name) {
            return Err(Error::Input {
                what: what.into(),
                reason: format!("`{name}` is unknown; valid: {}", valid.join(", ")),
            });
        }
        if !out.iter().any(|n: &String| n == name) {
            out.push(name.to_string());
        }
    }
    if out.is_empty() {
        return Err(Error::Input {
            what: what.into(),
            reason: format!("is empty; valid: {}", valid.join(", ")),
        });
    }
    Ok(out)
}

fn mlp_config(pixels: usize) -> MlpConfig {
    MlpConfig {
        sizes: vec![pixels, 128, 10],
        activation: Activation::Tanh,
        bias: true,
    }
}

/// The model definition of `name` for `rows × cols` images.
fn model_of(name: &str, rows: usize, cols: usize) -> Result<Model> {
    Ok(match name {
        "mlp" => mlp_config(rows * cols).model()?,
        "cnn" => cnn(rows, cols, &[8, 16])?,
        _ => transformer(rows, cols, 32, 2)?,
    })
}

/// Test evaluation for either network kind.
fn test_accuracy(name: &str, model: &Model, params: &Params, test: &Dataset) -> Result<f64> {
    Ok(if name == "mlp" {
        accuracy(&mlp_config(test.pixels()), params, test)?
    } else {
        model_accuracy(model, params, test)?
    })
}

/// The longest wall-clock budget per pair, in seconds (one week).
pub const MAX_BUDGET_S: f64 = 604_800.0;

/// Run every pair into `out` (a new directory). Pairs run one after another; one that fails
/// is reported in its row and the others still run. The outputs are rewritten after every
/// pair; raising `cancel` (Ctrl-C) drops the pair in flight and keeps the finished ones for
/// [`resume`].
pub fn run(
    spec: &CompareSpec,
    out: &Path,
    force: bool,
    cancel: &AtomicBool,
    progress: impl Fn(&Row),
) -> Result<CompareReport> {
    let (train, test) = check_and_load(spec)?;
    let (run_dir, _) = RunDir::create(out, force)?;
    run_dir.write_settings(COMPARE_FILE, spec)?;
    run_pairs(
        spec,
        run_dir.path(),
        Vec::new(),
        cancel,
        progress,
        |model, method| pair(spec, model, method, &train, &test, cancel),
    )
}

/// Continue the comparison in `dir` (its settings from `compare.json`): finished pairs are
/// kept, failed and missing ones run.
pub fn resume(dir: &Path, cancel: &AtomicBool, progress: impl Fn(&Row)) -> Result<CompareReport> {
    let run_dir = RunDir::open(dir)?;
    let spec: CompareSpec = run_dir.read_settings(COMPARE_FILE, "compare")?;
    let done = read_rows(&run_dir.join(RESULTS_FILE))?;
    let (train, test) = check_and_load(&spec)?;
    run_pairs(
        &spec,
        run_dir.path(),
        done,
        cancel,
        progress,
        |model, method| pair(&spec, model, method, &train, &test, cancel),
    )
}

/// The finished (error-free) rows of a results file; a bad line is [`Error::Corrupt`].
fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(crate::error::io(path)(e)),
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let row: Row = serde_json::from_str(line).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("line {} is not a compare row: {e}", i + 1),
        })?;
        if row.error.is_none() {
            rows.push(row);
        }
    }
    Ok(rows)
}

fn check_and_load(spec: &CompareSpec) -> Result<(Arc<Dataset>, Dataset)> {
    if !(spec.budget_s > 0.0 && spec.budget_s <= MAX_BUDGET_S) {
        return Err(Error::Input {
            what: "--budget-s".into(),
            reason: format!(
                "is {}; must be > 0 and at most {MAX_BUDGET_S} (a week per pair)",
                spec.budget_s
            ),
        });
    }
    let dir = mnist_dir(spec.data_dir.as_deref());
    let train = Arc::new(Dataset::load(&dir, Split::Train)?);
    let test = Dataset::load(&dir, Split::Test)?;
    if (train.rows, train.cols) != (test.rows, test.cols) {
        return Err(Error::Input {
            what: format!("MNIST in {}", dir.display()),
            reason: "training and test images differ in size".into(),
        });
    }
    Ok((train, test))
}

/// Every pair not in `done` through `train_pair`, in (model, method) order; a failing pair
/// becomes a row with its error and the others still run. The outputs are rewritten after
/// every pair. Once `cancel` is raised the pair in flight is dropped and no other starts.
pub fn run_pairs(
    spec: &CompareSpec,
    dir: &Path,
    done: Vec<Row>,
    cancel: &AtomicBool,
    progress: impl Fn(&Row),
    mut train_pair: impl FnMut(&str, &str) -> Result<Row>,
) -> Result<CompareReport> {
    let resumed = done.len();
    let total = spec.models.len() * spec.methods.len();
    let mut rows = Vec::new();
    let mut interrupted = false;
    'pairs: for model in &spec.models {
        for method in &spec.methods {
            if let Some(r) = done
                .iter()
                .find(|r| &r.model == model && &r.method == method)
            {
                rows.push(r.clone());
                continue;
            }
            if cancel.load(Ordering::SeqCst) {
                interrupted = true;
                break 'pairs;
            }
            let result = train_pair(model, method);
            if cancel.load(Ordering::SeqCst) {
                // Cut short: not a result. Whatever was finished stays written.
                interrupted = true;
                break 'pairs;
            }
            let row = result.unwrap_or_else(|e| Row {
                model: model.clone(),
                method: method.clone(),
                objective: String::new(),
                params: 0,
                test_accuracy: None,
                wall_s: 0.0,
                forward_passes: 0,
                member_evals: 0,
                steps: 0,
                curve: Vec::new(),
                error: Some(e.to_string()),
            });
            progress(&row);
            rows.push(row);
            write_outputs(dir, &rows, spec)?;
        }
    }
    Ok(CompareReport {
        spec: spec.clone(),
        rows,
        resumed,
        total,
        interrupted,
        dir: dir.to_path_buf(),
    })
}

fn pair(
    spec: &CompareSpec,
    model: &str,
    method: &str,
    train: &Arc<Dataset>,
    test: &Dataset,
    cancel: &AtomicBool,
) -> Result<Row> {
    let net = Arc::new(model_of(model, train.rows, train.cols)?);
    let params = net.init(spec.seed, &Device::Cpu)?;
    match method {
        "eggroll" | "simplees" => es_pair(spec, model, method, &net, params, train, test, cancel),
        _ => backprop_pair(spec, model, method, &net, params, train, test, cancel),
    }
}

/// The ES settings per model (from the mnist task's defaults and the CNN sweep).
fn es_settings(model: &str) -> (usize, usize, f32, f32) {
    // (population, batch, σ, learning rate)
    match model {
        "mlp" => (512, 256, 0.05, 0.01),
        _ => (128, 64, 0.05, 0.01),
    }
}

#[allow(clippy::too_many_arguments)]
fn es_pair(
    spec: &CompareSpec,
    model: &str,
    method: &str,
    net: &Arc<Model>,
    params: Params,
    train: &Arc<Dataset>,
    test: &Dataset,
    cancel: &AtomicBool,
) -> Result<Row> {
    let (population, batch, sigma, lr) = es_settings(model);
    let fitness = match spec.objective {
        Objective::LogLikelihood => MnistFitness::LogLikelihood,
        Objective::Accuracy => MnistFitness::Bandit,
    };
    let es = EsConfig {
        population_size: population,
        sigma,
        learning_rate: lr,
        seed: spec.seed,
        optimizer: OptimizerConfig::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        ..EsConfig::default()
    };
    let strategy: Box<dyn Strategy> =
        StrategyKind::parse(method, "methods")?.build(&es, &params)?;
    let mut evaluator: Box<dyn Evaluator> = if model == "mlp" {
        Box::new(
            MnistEvaluator::new(mlp_config(train.pixels()), train.clone(), batch, spec.seed)?
                .with_fitness(fitness),
        )
    } else {
        Box::new(ModelMnistEvaluator::new(
            net.clone(),
            train.clone(),
            batch,
            spec.seed,
            fitness,
        )?)
    };
    let mut trainer = Trainer::from_boxed(strategy, params);
    let mut clock = 0.0f64;
    let mut curve = vec![(0.0, 0, test_accuracy(model, net, trainer.params(), test)?)];
    let step_s = spec.budget_s / spec.eval_points.max(1) as f64;
    let mut next_eval = step_s;
    while clock < spec.budget_s && !cancel.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        trainer.step(evaluator.as_mut())?;
        clock += t0.elapsed().as_secs_f64();
        if clock >= next_eval || clock >= spec.budget_s {
            let passes = trainer.evals() * batch as u64;
            curve.push((
                clock,
                passes,
                test_accuracy(model, net, trainer.params(), test)?,
            ));
            next_eval += step_s;
        }
    }
    Ok(Row {
        model: model.into(),
        method: method.into(),
        objective: match spec.objective {
            Objective::LogLikelihood => "log_likelihood",
            Objective::Accuracy => "accuracy",
        }
        .into(),
        params: net.num_params(),
        test_accuracy: curve.last().map(|c| c.2),
        wall_s: clock,
        forward_passes: trainer.evals() * batch as u64,
        member_evals: trainer.evals(),
        steps: trainer.generation(),
        curve,
        error: None,
    })
}

#[allow(clippy::too_many_arguments)]
fn backprop_pair(
    spec: &CompareSpec,
    model: &str,
    method: &str,
    net: &Model,
    params: Params,
    train: &Arc<Dataset>,
    test: &Dataset,
    cancel: &AtomicBool,
) -> Result<Row> {
    const BATCH: usize = 64;
    let vars: Vec<Var> = params
        .iter()
        .map(|p| Var::from_tensor(p.tensor()))
        .collect::<candle_core::Result<_>>()?;
    let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    enum Opt {
        Sgd(candle_nn::SGD),
        Adam(Box<candle_nn::AdamW>),
    }
    let mut opt = if method == "sgd" {
        Opt::Sgd(candle_nn::SGD::new(vars.clone(), 0.05)?)
    } else {
        Opt::Adam(Box::new(candle_nn::AdamW::new(
            vars.clone(),
            candle_nn::ParamsAdamW {
                lr: 1e-3,
                weight_decay: 0.0,
                ..Default::default()
            },
        )?))
    };
    let snapshot = |vars: &[Var]| -> Result<Params> {
        let mut p = params.clone();
        for (i, v) in vars.iter().enumerate() {
            p.set(i, v.as_tensor().detach())?;
        }
        Ok(p)
    };
    let mut input = vec![BATCH];
    input.extend(net.input_shape());
    let mut clock = 0.0f64;
    let mut steps = 0u64;
    let mut curve = vec![(0.0, 0, test_accuracy(model, net, &params, test)?)];
    let step_s = spec.budget_s / spec.eval_points.max(1) as f64;
    let mut next_eval = step_s;
    let mut x = Vec::new();
    while clock < spec.budget_s && !cancel.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        let idx = draw_batch(train, spec.seed ^ 0xbac_c0de, steps, BATCH, &mut x);
        let labels: Vec<u32> = idx.iter().map(|&i| u32::from(train.labels[i])).collect();
        let xt = Tensor::from_slice(&x, input.as_slice(), &Device::Cpu)?;
        let yt = Tensor::from_vec(labels, BATCH, &Device::Cpu)?;
        let logits = net.forward_tensor(&xt, &tensors)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &yt)?;
        match &mut opt {
            Opt::Sgd(o) => o.backward_step(&loss)?,
            Opt::Adam(o) => o.backward_step(&loss)?,
        }
        steps += 1;
        clock += t0.elapsed().as_secs_f64();
        if clock >= next_eval || clock >= spec.budget_s {
            let acc = test_accuracy(model, net, &snapshot(&vars)?, test)?;
            curve.push((clock, steps * BATCH as u64, acc));
            next_eval += step_s;
        }
    }
    Ok(Row {
        model: model.into(),
        method: method.into(),
        objective: "cross_entropy".into(),
        params: net.num_params(),
        test_accuracy: curve.last().map(|c| c.2),
        wall_s: clock,
        forward_passes: steps * BATCH as u64,
        member_evals: 0,
        steps,
        curve,
        error: None,
    })
}

/// The Markdown table of the rows.
pub fn table(rows: &[Row], budget_s: f64) -> String {
    let mut s = format!(
        "MNIST, {budget_s} s of training per pair (test evaluations excluded), same thread pool.\n\n\
         | model | method | objective | params | test accuracy | steps | forward passes | wall s |\n\
         |---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        let acc = match (&r.test_accuracy, &r.error) {
            (Some(a), _) => format!("{a:.4}"),
            (None, Some(e)) => format!("failed: {e}"),
            (None, None) => "–".into(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {acc} | {} | {} | {:.1} |\n",
            r.model, r.method, r.objective, r.params, r.steps, r.forward_passes, r.wall_s
        ));
    }
    s
}

fn write_outputs(dir: &Path, rows: &[Row], spec: &CompareSpec) -> Result<()> {
    let mut jsonl = String::new();
    for r in rows {
        jsonl.push_str(&serde_json::to_string(r).expect("plain struct"));
        jsonl.push('\n');
    }
    write_atomic(&dir.join(RESULTS_FILE), jsonl.as_bytes())?;
    write_atomic(
        &dir.join("results.md"),
        table(rows, spec.budget_s).as_bytes(),
    )?;
    let label = |r: &Row| format!("{} {}", r.model, r.method);
    crate::plot::LineChart {
        title: "MNIST test accuracy against training time",
        x_desc: "seconds of training",
        y_desc: "test accuracy",
        x_range: (0.0, spec.budget_s * 1.02),
        y_range: (0.0, 1.0),
        series: rows
            .iter()
            .map(|r| (label(r), r.curve.iter().map(|c| (c.0, c.2)).collect()))
            .collect(),
    }
    .write(dir, "accuracy_vs_time")?;
    let max_passes = rows
        .iter()
        .flat_map(|r| r.curve.iter().map(|c| c.1))
        .max()
        .unwrap_or(1)
        .max(10) as f64;
    crate::plot::LineChart {
        title: "MNIST test accuracy against forward passes (one image each)",
        x_desc: "log10(forward passes)",
        y_desc: "test accuracy",
        x_range: (0.0, max_passes.log10() * 1.02),
        y_range: (0.0, 1.0),
        series: rows
            .iter()
            .map(|r| {
                (
                    label(r),
                    r.curve
                        .iter()
                        .map(|c| ((c.1.max(1) as f64).log10(), c.2))
                        .collect(),
                )
            })
            .collect(),
    }
    .write(dir, "accuracy_vs_forward_passes")
}

impl Objective {
    /// Parse `log_likelihood` or `accuracy`; the error names `--objective`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "log_likelihood" => Ok(Objective::LogLikelihood),
            "accuracy" => Ok(Objective::Accuracy),
            other => Err(Error::Input {
                what: "--objective".into(),
                reason: format!("`{other}` is unknown; valid: log_likelihood, accuracy"),
            }),
        }
    }
}

/// One progress line: a finished pair (`None` when `quiet`) or a failed one (always).
pub fn progress_line(r: &Row, quiet: bool) -> Option<String> {
    match (&r.test_accuracy, &r.error) {
        (Some(acc), _) if !quiet => Some(format!(
            "{} {}: test accuracy {acc:.4} after {} steps, {:.1} s",
            r.model, r.method, r.steps, r.wall_s
        )),
        (Some(_), _) => None,
        (None, e) => Some(format!(
            "{} {}: failed: {}",
            r.model,
            r.method,
            e.as_deref().unwrap_or("?")
        )),
    }
}

impl CompareReport {
    /// What to tell after Ctrl-C: what is kept and how to go on.
    pub fn interrupted_message(&self) -> String {
        let out = self.dir.display();
        format!(
            "interrupted: {} of {} pairs finished and are kept in {out} ({} from before); \
             `eggroll compare --resume {out}` runs the other {}",
            self.rows.len(),
            self.total,
            self.resumed,
            self.total - self.rows.len()
        )
    }

    /// `compare --json`'s object: the directory and the rows without their curves.
    pub fn summary_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).expect("plain struct");
                v.as_object_mut().expect("object").remove("curve");
                v
            })
            .collect();
        serde_json::json!({ "out": self.dir, "rows": rows })
    }

    /// The table and the files written, for people.
    pub fn summary_text(&self) -> String {
        format!(
            "{}\nwrote {}/{{compare.json, results.jsonl, results.md, accuracy_vs_time.png/svg, \
             accuracy_vs_forward_passes.png/svg}}",
            table(&self.rows, self.spec.budget_s),
            self.dir.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_pair_is_reported_in_its_cell_and_the_others_still_run() {
        let dir = tempfile::tempdir().unwrap();
        let spec = CompareSpec {
            models: vec!["mlp".into(), "cnn".into()],
            methods: vec!["eggroll".into(), "adam".into()],
            budget_s: 1.0,
            seed: 0,
            objective: Objective::LogLikelihood,
            data_dir: None,
            eval_points: 2,
        };
        let rows = run_pairs(
            &spec,
            dir.path(),
            Vec::new(),
            &AtomicBool::new(false),
            |_| {},
            |model, method| {
                if model == "cnn" && method == "eggroll" {
                    return Err(Error::Input {
                        what: "test".into(),
                        reason: "injected failure".into(),
                    });
                }
                Ok(row(model, method))
            },
        )
        .unwrap()
        .rows;
        assert_eq!(rows.len(), 4);
        assert!(
            rows[2]
                .error
                .as_deref()
                .unwrap()
                .contains("injected failure")
        );
        assert!(rows[2].test_accuracy.is_none());
        assert_eq!(rows[3].test_accuracy, Some(0.5));
        let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
        assert!(md.contains("failed: test: injected failure"), "{md}");
        for f in [
            "results.jsonl",
            "accuracy_vs_time.png",
            "accuracy_vs_forward_passes.svg",
        ] {
            assert!(dir.path().join(f).exists(), "{f}");
        }
    }

    fn row(model: &str, method: &str) -> Row {
        Row {
            model: model.into(),
            method: method.into(),
            objective: "x".into(),
            params: 1,
            test_accuracy: Some(0.5),
            wall_s: 1.0,
            forward_passes: 10,
            member_evals: 0,
            steps: 1,
            curve: vec![(0.0, 0, 0.1), (1.0, 10, 0.5)],
            error: None,
        }
    }

    /// Ctrl-C during the second pair: the first is kept (written), the second dropped, no
    /// third starts; a resume runs the second and third and keeps the first as it was.
    #[test]
    fn an_interrupted_comparison_keeps_its_pairs_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let spec = CompareSpec {
            models: vec!["mlp".into()],
            methods: vec!["eggroll".into(), "sgd".into(), "adam".into()],
            budget_s: 1.0,
            seed: 0,
            objective: Objective::LogLikelihood,
            data_dir: None,
            eval_points: 2,
        };
        let cancel = AtomicBool::new(false);
        let calls = std::cell::Cell::new(0);
        let report = run_pairs(
            &spec,
            dir.path(),
            Vec::new(),
            &cancel,
            |_| {},
            |m, k| {
                calls.set(calls.get() + 1);
                if k == "sgd" {
                    cancel.store(true, Ordering::SeqCst);
                }
                Ok(row(m, k))
            },
        )
        .unwrap();
        assert!(report.interrupted);
        assert_eq!((report.rows.len(), calls.get()), (1, 2));
        let done = read_rows(&dir.path().join(RESULTS_FILE)).unwrap();
        assert_eq!(done.len(), 1);
        let report = run_pairs(
            &spec,
            dir.path(),
            done,
            &AtomicBool::new(false),
            |_| {},
            |m, k| {
                assert_ne!(k, "eggroll", "a finished pair ran again");
                Ok(row(m, k))
            },
        )
        .unwrap();
        assert!(!report.interrupted);
        assert_eq!((report.resumed, report.rows.len()), (1, 3));
        let lines = std::fs::read_to_string(dir.path().join(RESULTS_FILE)).unwrap();
        assert_eq!(lines.lines().count(), 3);
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let e = parse_names("--models", "mlp,rnn", &MODELS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`rnn`") && e.contains("mlp, cnn, transformer"),
            "{e}"
        );
        let e = parse_names("--methods", "", &METHODS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("eggroll, simplees, sgd, adam"), "{e}");
        assert_eq!(
            parse_names("--models", "cnn, mlp,cnn", &MODELS).unwrap(),
            ["cnn", "mlp"]
        );
    }
}
