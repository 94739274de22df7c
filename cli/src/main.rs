//! `eggroll`: train, evaluate and benchmark Evolution Strategies from the command line.

// A caching allocator: the forward pass and the noise draw allocate large buffers every
// generation; glibc serves them with fresh (page-faulting) memory each time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bbob;
mod es_vs_backprop;
mod eval;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "eggroll",
    version,
    about = "Evolution Strategies with low-rank EGGROLL noise"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a task: a benchmark, classic control, MuJoCo locomotion, mnist or charlm (the
    /// TASK argument lists them all).
    Train(Box<TrainArgs>),
    /// Evaluate an exported policy (policy.safetensors) on fresh seeded episodes, or on the
    /// MNIST test set.
    Eval {
        /// Task: a control task (classic control or MuJoCo, as `train` lists them) or mnist.
        task: String,
        /// The policy file.
        #[arg(long)]
        policy: PathBuf,
        /// Episodes (control tasks).
        #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
        episodes: usize,
        /// Seed of the episodes.
        #[arg(long, default_value_t = 12345, allow_negative_numbers = true)]
        seed: u64,
        /// MNIST directory (mnist).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The live dashboard: replay a metrics file, or train several configurations side by side.
    Dashboard(DashboardArgs),
    /// Use an exported policy directly.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Generate text with a language model trained by `eggroll train charlm`.
    Sample {
        /// The policy file.
        #[arg(long)]
        policy: PathBuf,
        /// The text to continue (any bytes; may be empty).
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        prompt: std::ffi::OsString,
        /// Bytes to generate.
        #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
        bytes: usize,
        /// Seed of the sampling stream.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Softmax temperature (0: always the most likely byte).
        #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
        temperature: f32,
        /// Print one JSON object instead of the raw bytes.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// EGGROLL against backprop: every (model, method) pair trains MNIST for the same wall-clock
    /// budget; a table and accuracy curves.
    Compare(es_vs_backprop::CompareArgs),
    /// The bbob benchmark suite (COCO's 24 noiseless functions): evaluate, run a strategy,
    /// run a suite.
    Bbob {
        #[command(subcommand)]
        command: bbob::BbobCommand,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// Arguments of `eggroll dashboard`.
#[derive(clap::Args, Debug, Clone)]
pub struct DashboardArgs {
    /// Show a finished or still-running run (tails the file), or the directory of an
    /// `eggroll compare` (overlays every pair's test accuracy against time).
    #[arg(long, value_name = "METRICS_JSONL|COMPARE_DIR")]
    pub replay: Option<PathBuf>,
    /// Train several configurations concurrently and overlay them.
    #[arg(long)]
    pub compare: bool,
    /// Task of the compared runs.
    #[arg(long, default_value = "cartpole")]
    pub task: String,
    /// Ranks to compare (one run each).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub ranks: Vec<usize>,
    /// σ values to compare (one run each).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub sigmas: Vec<f32>,
    /// Generations of each compared run.
    #[arg(long, allow_negative_numbers = true)]
    pub generations: Option<u64>,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Print the network's outputs (before the action head) for one input row, as JSON.
    Forward {
        /// The policy file.
        #[arg(long)]
        policy: PathBuf,
        /// Comma-separated input values.
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true, value_parser = finite_f32)]
        input: Vec<f32>,
    },
}

/// One finite f32 as written: `1e39` (beyond f32) or `nan` is an error quoting the text.
fn finite_f32(s: &str) -> std::result::Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!(
            "`{s}` is not a finite number in f32's range (|x| ≤ 3.4e38)"
        )),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Environment steps/s of a MuJoCo task: random actions without a policy
    /// (`env_steps_per_s`), and one training generation with the task's default policy
    /// through the batched forward (`rollout_steps_per_s`).
    Env {
        /// halfcheetah | hopper | walker2d | ant | swimmer | humanoid | inverted-pendulum |
        /// inverted-double-pendulum | reacher.
        #[arg(long)]
        task: String,
        /// Members stepped together.
        #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
        population: usize,
        /// Steps per member (random actions).
        #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
        steps: usize,
        /// Seed of the initial states and actions.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Microseconds per generation of CMA-ES's own work (ask + tell, the objective excluded).
    Strategy {
        /// cmaes | sep-cmaes.
        #[arg(long, default_value = "cmaes")]
        strategy: String,
        /// Dimension.
        #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
        dim: usize,
        /// λ (0 = the default 4 + ⌊3 ln n⌋).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        population: usize,
        /// Generations timed (the median is reported).
        #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
        generations: u64,
    },
    /// Members/s of plain inference, EGGROLL (cached noise / noise drawn in the timed region)
    /// and the materialised per-member baseline, measured side by side.
    Forward {
        /// Members (rows).
        #[arg(long, default_value_t = 4096, allow_negative_numbers = true)]
        population: usize,
        /// Layer widths including input and output.
        #[arg(long, default_value = "256,256,256", value_delimiter = ',')]
        layers: Vec<usize>,
        /// Low-rank rank.
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        rank: usize,
        /// Interleaved measurement rounds (the median is reported).
        #[arg(long, default_value_t = 11, allow_negative_numbers = true)]
        rounds: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// MNIST-style: every member sees the same batch of this many inputs; compares the
        /// shared-input forward with plain inference on members × batch rows.
        #[arg(long, allow_negative_numbers = true)]
        shared_batch: Option<usize>,
        /// `cnn`: benchmark MNIST's `--model cnn` (channels 8,16 on 28×28 images; `--layers`
        /// is ignored) with every member on the same `--shared-batch` images (default 64).
        /// `transformer` or `mingru`: charlm's default model on `--shared-batch` byte
        /// sequences (default 16) per member, in member-tokens/s, with the materialised
        /// baseline.
        #[arg(long)]
        model: Option<String>,
        /// auto (default: GPU 0 when this build has CUDA and a GPU is usable, else the CPU),
        /// cpu, cuda (GPU 0) or cuda:N.
        #[arg(long)]
        device: Option<String>,
        /// f32 (default) or int8: int8 inference, int8 EGGROLL and f32 inference of the MLP.
        #[arg(long, default_value = "f32")]
        dtype: String,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the full default configuration of a task as TOML.
    Show {
        /// Task name.
        task: String,
    },
}

/// Arguments of `eggroll train`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrainArgs {
    /// Task to train: sphere | rastrigin | cartpole | pendulum | acrobot | mountaincar |
    /// mountaincar-continuous | mnist | charlm | halfcheetah | hopper | walker2d | ant |
    /// swimmer | humanoid | inverted-pendulum | inverted-double-pendulum | reacher (the MuJoCo
    /// tasks need scripts/get-mujoco.sh).
    #[arg(required_unless_present = "resume")]
    pub task: Option<String>,
    /// Continue the run in DIR from its last checkpoint (same config; --generations may
    /// raise the total).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "sets", "seed", "population", "rank", "sigma", "lr", "out", "model"])]
    pub resume: Option<PathBuf>,
    /// TOML configuration file (see `eggroll config show TASK`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. `--set es.optimizer.kind=sgd` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Noise seed (es.seed).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Generations to run.
    #[arg(long, allow_negative_numbers = true)]
    pub generations: Option<u64>,
    /// Population size (es.population_size).
    #[arg(long, allow_negative_numbers = true)]
    pub population: Option<usize>,
    /// Low-rank rank (es.rank).
    #[arg(long, allow_negative_numbers = true)]
    pub rank: Option<usize>,
    /// Noise scale σ (es.sigma).
    #[arg(long, allow_negative_numbers = true)]
    pub sigma: Option<f32>,
    /// Learning rate (es.learning_rate).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// Worker threads (0 = all cores).
    #[arg(long, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// Run directory (default runs/TASK-TIMESTAMP): config.toml, metrics.jsonl,
    /// checkpoint.safetensors, policy.safetensors, policy_best.safetensors, fitness.png/svg.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With --out: if the directory holds anything, move its contents aside to a new sibling
    /// directory `<name>.replaced-<timestamp>` first (nothing is deleted or mixed). Without it
    /// a non-empty --out is refused.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Episodes per member per generation (control tasks).
    #[arg(long, allow_negative_numbers = true)]
    pub episodes: Option<usize>,
    /// MNIST directory (mnist; else EGGROLL_MNIST_DIR, else data/mnist).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Images per generation (mnist).
    #[arg(long, allow_negative_numbers = true)]
    pub batch: Option<usize>,
    /// The network: `mlp` (control tasks, mnist), `cnn` (mnist; widths in `policy.channels`),
    /// `transformer`, `mingru` or `egg` (charlm; `egg`: nano-egg's int8 LM, strategy egg).
    #[arg(long)]
    pub model: Option<String>,
    /// Stop after this many seconds of training.
    #[arg(long, allow_negative_numbers = true)]
    pub time_budget: Option<f64>,
    /// Open the live dashboard while training runs on its own thread.
    #[arg(long)]
    pub gui: bool,
    /// Split the population across processes: `mpi` (run under mpirun; needs the `mpi`
    /// feature). Rank 0 writes the run directory.
    #[arg(long, value_name = "BACKEND")]
    pub distributed: Option<String>,
    /// auto (default: GPU 0 when this build has CUDA and a GPU is usable, else the CPU), cpu,
    /// cuda (GPU 0) or cuda:N: where parameters, noise, the population forward and the update
    /// run (environments stay on the CPU). The JSON output names the device used.
    #[arg(long)]
    pub device: Option<String>,
    /// Print one JSON object as the last stdout line.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

/// The error and its causes joined by ": ", each cause only once: a cause whose text the
/// message already holds (an I/O error shown by its wrapper) is not repeated.
fn describe(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => match train::run(&args) {
            Ok(train::Done::Interrupted) => return ExitCode::from(130),
            other => other.map(|_| ()),
        },
        Command::Bench {
            command:
                BenchCommand::Env {
                    task,
                    population,
                    steps,
                    seed,
                    json,
                },
        } => eggroll_run::bench::env(&task, population, steps, seed)
            .map_err(anyhow::Error::from)
            .and_then(|r| {
                if json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    println!("{r}");
                }
                Ok(())
            }),
        Command::Bench {
            command:
                BenchCommand::Strategy {
                    strategy,
                    dim,
                    population,
                    generations,
                },
        } => eggroll_core::StrategyKind::parse(&strategy, "strategy")
            .map_err(anyhow::Error::from)
            .and_then(|m| {
                let r = eggroll_bbob::experiment::overhead(m, dim, population, generations)?;
                println!("{}", serde_json::to_string(&r)?);
                Ok(())
            }),
        Command::Bench {
            command:
                BenchCommand::Forward {
                    population,
                    layers,
                    rank,
                    rounds,
                    json,
                    shared_batch,
                    device,
                    model,
                    dtype,
                },
        } => (|| {
            if shared_batch.is_some()
                && device.as_deref().is_some_and(|d| d != "cpu" && d != "auto")
            {
                anyhow::bail!("--shared-batch runs on the CPU only; drop --device");
            }
            let plain_mlp = model.as_deref().is_none_or(|m| m == "mlp") && shared_batch.is_none();
            let j = eggroll_run::bench::forward(eggroll_run::bench::ForwardRequest {
                population,
                layers,
                rank,
                rounds,
                shared_batch,
                model,
                dtype,
                device: eggroll_policies::device::open(device.as_deref())
                    .map_err(anyhow::Error::msg)?,
            })?;
            if json || !plain_mlp {
                println!("{j}");
            } else {
                println!("{}", eggroll_run::bench::forward_table(&j));
            }
            Ok(())
        })(),
        Command::Eval {
            task,
            policy,
            episodes,
            seed,
            data_dir,
            json,
        } => eval::run(&task, &policy, episodes, seed, data_dir.as_deref(), json),
        Command::Policy {
            command: PolicyCommand::Forward { policy, input },
        } => eval::forward(&policy, &input),
        Command::Dashboard(d) => dashboard(d),
        Command::Bbob {
            command: bbob::BbobCommand::Suite(a),
        } => match bbob::suite(&a) {
            Ok(bbob::SuiteEnd::Interrupted) => return ExitCode::from(130),
            other => other.map(|_| ()),
        },
        Command::Bbob { command } => bbob::main(command),
        Command::Compare(a) => match es_vs_backprop::main(&a) {
            Ok(false) => return ExitCode::from(130),
            other => other.map(|_| ()),
        },
        Command::Sample {
            policy,
            prompt,
            bytes,
            seed,
            temperature,
            json,
        } => {
            use std::os::unix::ffi::OsStrExt;
            eval::sample(&policy, prompt.as_bytes(), bytes, seed, temperature, json)
        }
        Command::Config {
            command: ConfigCommand::Show { task },
        } => eggroll_run::task_default(&task)
            .map_err(anyhow::Error::from)
            .and_then(|c| {
                print!("{}", toml::to_string_pretty(&c)?);
                Ok(())
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

fn dashboard(d: DashboardArgs) -> anyhow::Result<()> {
    if let Some(path) = &d.replay {
        return eggroll_gui::launch::replay(path).map_err(anyhow::Error::msg);
    }
    anyhow::ensure!(
        d.compare,
        "give --replay FILE or --compare with --ranks/--sigmas"
    );
    let mut variants: Vec<(String, String)> = d
        .ranks
        .iter()
        .map(|r| (format!("rank {r}"), format!("es.rank={r}")))
        .collect();
    variants.extend(
        d.sigmas
            .iter()
            .map(|s| (format!("σ {s}"), format!("es.sigma={s}"))),
    );
    anyhow::ensure!(!variants.is_empty(), "--compare needs --ranks or --sigmas");
    let parent = eggroll_run::default_dir(&format!("compare-{}", d.task));
    let (task, generations) = (d.task.clone(), d.generations);
    eggroll_gui::launch::side_by_side(&variants, move |label, set, tx| {
        let args = TrainArgs {
            task: Some(task.clone()),
            sets: vec![set.to_string()],
            generations,
            quiet: true,
            out: Some(parent.join(label.replace(' ', "-"))),
            ..TrainArgs::default()
        };
        let link = train::GuiLink {
            tx,
            label: label.to_string(),
        };
        train::run_with(&args, Some(link))
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    })
    .map_err(anyhow::Error::msg)
}
