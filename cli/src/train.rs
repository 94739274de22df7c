//! `eggroll train`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use candle_core::Device;
use eggroll_core::problems::{Objective, Problem};
use eggroll_core::{
    Control, Eggroll, FnEvaluator, GenStats, Observer, ParamView, Params, RunSummary, SimpleEs,
    StopCondition, Strategy, Trainer,
};

use crate::TrainArgs;
use crate::config::{StrategyKind, TrainConfig, resolve};

fn flags(args: &TrainArgs) -> Vec<(&'static str, toml::Value)> {
    let mut f = Vec::new();
    if let Some(v) = args.seed {
        f.push(("es.seed", toml::Value::Integer(v as i64)));
    }
    if let Some(v) = args.generations {
        f.push(("generations", toml::Value::Integer(v as i64)));
    }
    if let Some(v) = args.population {
        f.push(("es.population_size", toml::Value::Integer(v as i64)));
    }
    if let Some(v) = args.rank {
        f.push(("es.rank", toml::Value::Integer(v as i64)));
    }
    if let Some(v) = args.sigma {
        f.push(("es.sigma", toml::Value::Float(v as f64)));
    }
    if let Some(v) = args.lr {
        f.push(("es.learning_rate", toml::Value::Float(v as f64)));
    }
    if let Some(v) = args.threads {
        f.push(("threads", toml::Value::Integer(v as i64)));
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

/// Progress lines on stderr (at most a few per second) unless quiet.
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
                if s.generation + 1 == self.total {
                    eprintln!();
                }
            } else {
                eprintln!("{line}");
            }
        }
        Control::Continue
    }
}

/// Appends one JSON line per generation to `metrics.jsonl`, flushed every line.
struct MetricsFile {
    out: BufWriter<File>,
    path: PathBuf,
    error: Option<String>,
}

impl Observer for MetricsFile {
    fn on_generation(&mut self, s: &GenStats) -> Control {
        let line = serde_json::to_string(s).expect("stats serialise");
        if let Err(e) = writeln!(self.out, "{line}").and_then(|_| self.out.flush()) {
            self.error = Some(format!("{}: {e}", self.path.display()));
            return Control::Stop;
        }
        Control::Continue
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
    let objective = match config.task.as_str() {
        "sphere" => Objective::Sphere,
        "rastrigin" => Objective::Rastrigin,
        other => anyhow::bail!("unknown task `{other}`"),
    };
    let problem = Problem::new(
        objective,
        config.problem.rows,
        config.problem.cols,
        config.es.seed,
    );
    let params = problem.params(&Device::Cpu)?;
    let strategy = build_strategy(&config, &params)?;
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
            error: None,
        });
    }
    let mut eval = {
        let problem = problem.clone();
        FnEvaluator::new(move |p: &ParamView| problem.fitness(p.values(0)))
    };
    let summary = run_loop(&mut trainer, &mut eval, &config, args.out.as_deref())?;
    let final_values = trainer.params().to_host()?;
    let final_fitness = eval.call(trainer.params(), &final_values);
    if let Some(dir) = &args.out {
        trainer.save_checkpoint(&dir.join("checkpoint.safetensors"))?;
        save_params(trainer.params(), &dir.join("params.safetensors"))?;
    }
    let solved = final_fitness >= config.problem.solved_at;
    let json = serde_json::json!({
        "task": config.task,
        "strategy": trainer.strategy().name(),
        "seed": config.es.seed,
        "generations": summary.generations,
        "population": config.es.population_size,
        "rank": config.es.rank,
        "wall_s": summary.wall_s,
        "evals": summary.evals,
        "evals_per_s": summary.evals as f64 / summary.wall_s.max(1e-12),
        "best_fitness": summary.best_fitness,
        "final_fitness": final_fitness,
        "solved": solved,
        "stop_reason": summary.stop_reason,
    });
    if args.json {
        println!("{json}");
    } else {
        println!(
            "{}: {} generations, {} evals in {:.2}s; final fitness {:.6} (best member {:.6}); solved: {}",
            config.task,
            summary.generations,
            summary.evals,
            summary.wall_s,
            final_fitness,
            summary.best_fitness,
            solved
        );
    }
    Ok(())
}

fn run_loop(
    trainer: &mut Trainer,
    eval: &mut dyn eggroll_core::Evaluator,
    config: &TrainConfig,
    out: Option<&Path>,
) -> Result<RunSummary> {
    let stop = StopCondition {
        max_generations: Some(config.generations),
        target_fitness: config.target_fitness,
        time_budget: config.time_budget_s.map(Duration::from_secs_f64),
    };
    match (out, config.checkpoint_every) {
        (Some(dir), every) if every > 0 => {
            // Run in slices of `every` generations, checkpointing after each slice.
            let mut summary;
            let start = Instant::now();
            loop {
                let next = (trainer.generation() / every + 1) * every;
                let slice = StopCondition {
                    max_generations: Some(next.min(config.generations)),
                    time_budget: stop.time_budget.map(|b| b.saturating_sub(start.elapsed())),
                    ..stop
                };
                summary = trainer.run(eval, &slice)?;
                trainer.save_checkpoint(&dir.join("checkpoint.safetensors"))?;
                if summary.stop_reason != eggroll_core::StopReason::Generations
                    || trainer.generation() >= config.generations
                {
                    break;
                }
            }
            Ok(summary)
        }
        _ => Ok(trainer.run(eval, &stop)?),
    }
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
