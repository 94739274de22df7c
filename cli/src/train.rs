//! `eggroll train`: one training loop for every task; only the evaluator differs.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use candle_core::Device;
use eggroll_core::problems::{Objective, Problem};
use eggroll_core::{
    Control, Eggroll, Evaluator, FnEvaluator, GenStats, Observer, ParamView, Params, Population,
    SimpleEs, StopReason, Strategy, Trainer,
};
use eggroll_envs::mnist::{Dataset, Split, mnist_dir};
use eggroll_envs::vec::{CartPoleVec, PendulumVec, VecEnv};
use eggroll_policies::mnist::{MnistEvaluator, accuracy};
use eggroll_policies::{EvalReport, Head, MlpConfig, RolloutEvaluator};
use std::sync::Arc;

use crate::TrainArgs;
use crate::config::{StrategyKind, TrainConfig, resolve};

fn flags(args: &TrainArgs) -> Vec<(&'static str, toml::Value)> {
    let mut f = Vec::new();
    let int = |v: u64| toml::Value::Integer(v as i64);
    if let Some(v) = args.seed {
        f.push(("es.seed", int(v)));
    }
    if let Some(v) = args.generations {
        f.push(("generations", int(v)));
    }
    if let Some(v) = args.population {
        f.push(("es.population_size", int(v as u64)));
    }
    if let Some(v) = args.rank {
        f.push(("es.rank", int(v as u64)));
    }
    if let Some(v) = args.sigma {
        f.push(("es.sigma", toml::Value::Float(v as f64)));
    }
    if let Some(v) = args.lr {
        f.push(("es.learning_rate", toml::Value::Float(v as f64)));
    }
    if let Some(v) = args.threads {
        f.push(("threads", int(v as u64)));
    }
    if let Some(v) = args.episodes {
        f.push(("episodes", int(v as u64)));
    }
    if let Some(v) = &args.data_dir {
        f.push(("data_dir", toml::Value::String(v.display().to_string())));
    }
    if let Some(v) = args.batch {
        f.push(("batch", int(v as u64)));
    }
    if let Some(v) = args.time_budget {
        f.push(("time_budget_s", toml::Value::Float(v)));
    }
    f
}

/// Build the strategy named by the config.
pub fn build_strategy(config: &TrainConfig, params: &Params) -> Result<Box<dyn Strategy>> {
    Ok(match config.strategy {
        StrategyKind::Eggroll => Box::new(Eggroll::new(config.es.clone(), params)?),
        StrategyKind::SimpleEs => Box::new(SimpleEs::new(config.es.clone(), params)?),
    })
}

/// Progress lines on stderr (at most two per second; one line rewritten on a terminal).
struct Progress {
    total: u64,
    last: Option<Instant>,
    tty: bool,
}

impl Observer for Progress {
    fn on_generation(&mut self, s: &GenStats) -> Control {
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if due || s.generation + 1 == self.total {
            self.last = Some(Instant::now());
            let line = format!(
                "gen {:>5}/{} mean {:>11.5} best {:>11.5} σ {:.4} lr {:.4} |Δ| {:.3e} {:>9.0} evals/s",
                s.generation + 1,
                self.total,
                s.mean,
                s.best_ever,
                s.sigma,
                s.lr,
                s.update_norm,
                s.evals_per_s
            );
            if self.tty {
                eprint!("\r{line}");
            } else {
                eprintln!("{line}");
            }
        }
        Control::Continue
    }
    fn on_finish(&mut self, _: &eggroll_core::RunSummary) {
        if self.tty {
            eprintln!();
        }
    }
}

/// Appends one JSON line per generation to `metrics.jsonl`, flushed every line.
struct MetricsFile {
    out: BufWriter<File>,
    path: PathBuf,
}

impl Observer for MetricsFile {
    fn on_generation(&mut self, s: &GenStats) -> Control {
        let line = serde_json::to_string(s).expect("stats serialise");
        if let Err(e) = writeln!(self.out, "{line}").and_then(|_| self.out.flush()) {
            eprintln!("error: writing {}: {e}; stopping", self.path.display());
            return Control::Stop;
        }
        Control::Continue
    }
}

/// What a task contributes: its parameters, its evaluator and its final evaluation.
enum Task {
    Benchmark(Problem),
    Control {
        policy: MlpConfig,
        head: Head,
        env: fn(usize) -> Box<dyn VecEnv>,
    },
    Mnist {
        policy: MlpConfig,
        train: Arc<Dataset>,
        test: Arc<Dataset>,
    },
}

impl Task {
    fn new(config: &TrainConfig) -> Result<Task> {
        let policy = |din: usize, dout: usize| {
            let mut sizes = vec![din];
            sizes.extend(&config.policy.hidden);
            sizes.push(dout);
            MlpConfig {
                sizes,
                activation: config.policy.activation,
                bias: config.policy.bias,
            }
        };
        Ok(match config.task.as_str() {
            "sphere" | "rastrigin" => Task::Benchmark(Problem::new(
                if config.task == "sphere" {
                    Objective::Sphere
                } else {
                    Objective::Rastrigin
                },
                config.problem.rows,
                config.problem.cols,
                config.es.seed,
            )),
            "cartpole" => Task::Control {
                policy: policy(4, 2),
                head: Head::Argmax,
                env: |n| Box::new(CartPoleVec::new(n)),
            },
            "pendulum" => Task::Control {
                policy: policy(3, 1),
                head: Head::TanhScaled {
                    low: vec![-2.0],
                    high: vec![2.0],
                },
                env: |n| Box::new(PendulumVec::new(n)),
            },
            "mnist" => {
                let dir = mnist_dir(config.data_dir.as_deref().map(Path::new));
                let train = Dataset::load(&dir, Split::Train)?;
                let test = Dataset::load(&dir, Split::Test)?;
                Task::Mnist {
                    policy: policy(train.pixels(), 10),
                    train: Arc::new(train),
                    test: Arc::new(test),
                }
            }
            other => anyhow::bail!("unknown task `{other}`"),
        })
    }

    fn params(&self, config: &TrainConfig) -> Result<Params> {
        Ok(match self {
            Task::Benchmark(p) => p.params(&Device::Cpu)?,
            Task::Control { policy, .. } | Task::Mnist { policy, .. } => {
                policy.init(config.es.seed, &Device::Cpu)?
            }
        })
    }

    fn evaluator(&self, config: &TrainConfig) -> Result<Box<dyn TaskEvaluator>> {
        Ok(match self {
            Task::Benchmark(p) => {
                let p = p.clone();
                Box::new(FnEvaluator::new(move |v: &ParamView| {
                    p.fitness(v.values(0))
                }))
            }
            Task::Control { policy, head, env } => Box::new(RolloutEvaluator::new(
                policy.clone(),
                head.clone(),
                Box::new(*env),
                config.episodes,
                config.es.seed,
            )?),
            Task::Mnist {
                policy,
                train,
                test,
            } => Box::new(MnistTask {
                eval: MnistEvaluator::new(
                    policy.clone(),
                    train.clone(),
                    config.batch,
                    config.es.seed,
                )?,
                test: test.clone(),
            }),
        })
    }
}

/// The MNIST evaluator plus the test split for the final accuracy.
struct MnistTask {
    eval: MnistEvaluator,
    test: Arc<Dataset>,
}

impl Evaluator for MnistTask {
    fn evaluate(
        &mut self,
        params: &Params,
        population: &Population,
    ) -> eggroll_core::Result<Vec<f32>> {
        self.eval.evaluate(params, population)
    }
}

impl TaskEvaluator for MnistTask {
    fn final_score(
        &mut self,
        params: &Params,
        _: usize,
        _: u64,
    ) -> Result<(f64, Option<EvalReport>)> {
        Ok((accuracy(self.eval.policy(), params, &self.test)?, None))
    }
    fn score_name(&self) -> &'static str {
        "test_accuracy"
    }
}

/// An evaluator that can also score the unperturbed parameters.
trait TaskEvaluator: Evaluator {
    /// Final score of the mean parameters (fitness, mean return or test accuracy) and the
    /// report of control tasks.
    fn final_score(
        &mut self,
        params: &Params,
        episodes: usize,
        seed: u64,
    ) -> Result<(f64, Option<EvalReport>)>;
    /// The JSON key of the final score.
    fn score_name(&self) -> &'static str {
        "final_fitness"
    }
    /// Environment steps taken (control tasks).
    fn env_steps(&self) -> u64 {
        0
    }
}

impl<F: Fn(&ParamView) -> f32 + Send + Sync> TaskEvaluator for FnEvaluator<F> {
    fn final_score(
        &mut self,
        params: &Params,
        _: usize,
        _: u64,
    ) -> Result<(f64, Option<EvalReport>)> {
        Ok((self.call(params, &params.to_host()?) as f64, None))
    }
}

impl TaskEvaluator for RolloutEvaluator {
    fn final_score(
        &mut self,
        params: &Params,
        episodes: usize,
        seed: u64,
    ) -> Result<(f64, Option<EvalReport>)> {
        let r = self.evaluate_plain(params, episodes, seed)?;
        Ok((r.mean, Some(r)))
    }
    fn env_steps(&self) -> u64 {
        RolloutEvaluator::env_steps(self)
    }
}

fn prepare_out_dir(dir: &Path, config: &TrainConfig) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating output directory {}", dir.display()))?;
    let text = toml::to_string_pretty(config)?;
    eggroll_core::checkpoint::write_atomic(&dir.join("config.toml"), text.as_bytes())?;
    Ok(())
}

/// Run `eggroll train`.
pub fn run(args: &TrainArgs) -> Result<()> {
    let config = resolve(&args.task, args.config.as_deref(), &args.sets, &flags(args))?;
    if config.threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads)
            .build_global()
            .context("configuring the thread pool")?;
    }
    let task = Task::new(&config)?;
    let params = task.params(&config)?;
    let strategy = build_strategy(&config, &params)?;
    let mut evaluator = task.evaluator(&config)?;
    let mut trainer = Trainer::from_boxed(strategy, params).with_nonfinite(config.nonfinite);
    if !args.quiet {
        trainer.add_observer(Progress {
            total: config.generations,
            last: None,
            tty: std::io::stderr().is_terminal(),
        });
    }
    if let Some(dir) = &args.out {
        prepare_out_dir(dir, &config)?;
        let path = dir.join("metrics.jsonl");
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        trainer.add_observer(MetricsFile {
            out: BufWriter::new(file),
            path,
        });
    }

    // The loop: generations until the budget, the target or "solved".
    let start = Instant::now();
    let budget = config.time_budget_s.map(Duration::from_secs_f64);
    let mut solved_early = None;
    let mut best_eval: Option<(f64, Params)> = None;
    let reason = loop {
        if trainer.generation() >= config.generations {
            break StopReason::Generations;
        }
        if budget.is_some_and(|b| start.elapsed() >= b) {
            break StopReason::TimeBudget;
        }
        let (stats, control) = trainer.step(evaluator.as_mut())?;
        let g = trainer.generation();
        if let Some(dir) = &args.out
            && config.checkpoint_every > 0
            && g % config.checkpoint_every == 0
        {
            trainer.save_checkpoint(&dir.join("checkpoint.safetensors"))?;
        }
        if config.target_fitness.is_some_and(|t| stats.mean >= t) {
            break StopReason::Target;
        }
        if config.eval_every > 0 && g % config.eval_every == 0 {
            let (score, _) = evaluator.final_score(
                trainer.params(),
                config.eval_episodes,
                config.es.seed.wrapping_add(g),
            )?;
            if config.keep_best_eval && best_eval.as_ref().is_none_or(|(b, _)| score > *b) {
                best_eval = Some((score, trainer.params().clone()));
            }
            if config.early_stop_at.is_some_and(|t| score >= t as f64) {
                solved_early = Some(g);
                break StopReason::Target;
            }
        }
        if control == Control::Stop {
            break StopReason::Observer;
        }
    };
    let train_s = start.elapsed().as_secs_f64();
    let summary = trainer.summary(reason);
    // The parameters to report: the last ones, or the best on validation episodes.
    let final_params = match (&best_eval, solved_early) {
        (Some((_, p)), None) => p.clone(),
        _ => trainer.params().clone(),
    };
    // Final evaluation on fresh seeds (never those used for validation).
    let (final_score, report) = evaluator.final_score(
        &final_params,
        config.eval_episodes,
        config.es.seed ^ 0x5eed_f1a1,
    )?;
    if let Some(dir) = &args.out {
        trainer.save_checkpoint(&dir.join("checkpoint.safetensors"))?;
        save_params(&final_params, &dir.join("params.safetensors"))?;
    }
    let solved = final_score >= config.solved_at as f64;
    let mut json = serde_json::json!({
        "task": config.task,
        "strategy": trainer.strategy().name(),
        "seed": config.es.seed,
        "generations": summary.generations,
        "population": config.es.population_size,
        "rank": config.es.rank,
        "wall_s": start.elapsed().as_secs_f64(),
        "train_s": train_s,
        "evals": summary.evals,
        "evals_per_s": summary.evals as f64 / summary.wall_s.max(1e-12),
        "best_fitness": summary.best_fitness,
        "final_fitness": final_score,
        "solved": solved,
        "stop_reason": summary.stop_reason,
    });
    json[evaluator.score_name()] = serde_json::json!(final_score);
    if let Some(r) = &report {
        json["eval_mean"] = serde_json::json!(r.mean);
        json["eval_std"] = serde_json::json!(r.std);
        json["eval_episodes"] = serde_json::json!(r.episodes);
        json["env_steps"] = serde_json::json!(evaluator.env_steps());
        json["solved_at_generation"] = serde_json::json!(solved_early);
        json["best_validation"] = serde_json::json!(best_eval.as_ref().map(|(s, _)| *s));
    }
    if args.json {
        println!("{json}");
    } else {
        println!(
            "{}: {} generations, {} evals in {:.2}s; final {} {:.4} (best member {:.4}); solved: {}",
            config.task,
            summary.generations,
            summary.evals,
            train_s,
            if report.is_some() {
                "eval mean return"
            } else {
                "fitness"
            },
            final_score,
            summary.best_fitness,
            solved
        );
    }
    Ok(())
}

/// Save the parameters as a plain safetensors file (tensor names = parameter names).
pub fn save_params(params: &Params, path: &Path) -> Result<()> {
    let tensors: Vec<_> = params
        .iter()
        .map(|p| (p.name().to_string(), p.tensor().clone()))
        .collect();
    eggroll_core::checkpoint::save_safetensors(path, &tensors, Default::default())?;
    Ok(())
}
