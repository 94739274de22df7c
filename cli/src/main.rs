//! `eggroll`: train, evaluate and benchmark Evolution Strategies from the command line.

mod config;
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
    /// Train a task (sphere, rastrigin).
    Train(TrainArgs),
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
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
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Task to train: sphere | rastrigin.
    pub task: String,
    /// TOML configuration file (see `eggroll config show TASK`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. `--set es.optimizer.kind=sgd` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Noise seed (es.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Generations to run.
    #[arg(long)]
    pub generations: Option<u64>,
    /// Population size (es.population_size).
    #[arg(long)]
    pub population: Option<usize>,
    /// Low-rank rank (es.rank).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Noise scale σ (es.sigma).
    #[arg(long)]
    pub sigma: Option<f32>,
    /// Learning rate (es.learning_rate).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Worker threads (0 = all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run directory: resolved config, metrics.jsonl, checkpoints, final parameters.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object as the last stdout line.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(&args),
        Command::Config {
            command: ConfigCommand::Show { task },
        } => config::task_default(&task).and_then(|c| {
            print!("{}", toml::to_string_pretty(&c)?);
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
