//! # eggroll-core
//!
//! The Evolution Strategies engine of eggroll: named parameters, counter-based noise, the
//! EGGROLL (low-rank) and SimpleES (full-rank) strategies behind the [`Strategy`] trait,
//! fitness shaping, optimisers, schedules, evaluators, the [`Trainer`] with observers and
//! checkpoints.
//!
//! Data flow of one generation: [`Strategy::ask`] → [`Population`] (base parameters + noise
//! handles) → [`Evaluator::evaluate`] (a closure per member, or a batched forward) →
//! [`Strategy::tell`] (shaping, one GEMM per matrix, optimiser step) → [`Observer`]s.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use eggroll_core::*;
//!
//! // Maximise −‖W − 1‖² over a 16×16 matrix.
//! let params = Params::new()
//!     .with("w", Tensor::zeros((16, 16), DType::F32, &Device::Cpu).unwrap())
//!     .unwrap();
//! let config = EsConfig { population_size: 64, sigma: 0.05, learning_rate: 0.05, ..EsConfig::default() };
//! let mut trainer = Trainer::new(Eggroll::new(config, &params).unwrap(), params);
//! let mut eval = FnEvaluator::new(|p: &ParamView| {
//!     -p.values(0).iter().map(|x| (x - 1.0) * (x - 1.0)).sum::<f32>()
//! });
//! let stop = StopCondition { max_generations: Some(200), ..Default::default() };
//! let summary = trainer.run(&mut eval, &stop).unwrap();
//! assert!(summary.last_mean > -20.0); // started at −256
//! ```
#![warn(missing_docs)]

pub mod checkpoint;
pub use strategy::cmaes;
pub mod commands;
pub mod error;
pub mod eval;
pub mod kernels;
pub mod minimize;
pub mod noise;
pub mod optim;
pub mod params;
pub mod population;
pub mod problems;
pub mod schedule;
pub mod shaping;
pub mod simd;
pub mod strategy;
pub mod termination;
pub mod trainer;

pub use cmaes::{CmaConfig, CmaEs, CmaStop, CmaStrategy, Covariance};
pub use commands::{Command, Controller};
pub use error::{Error, Result};
pub use eval::{Evaluator, FnEvaluator};
pub use minimize::{MinimizeOptions, MinimizeResult, Restarts, minimize};
pub use optim::{Optimizer, OptimizerConfig};
pub use params::{Param, ParamKind, ParamView, Params};
pub use population::{Noise, NoiseSpec, Pairing, Population};
pub use schedule::Schedule;
pub use shaping::Shaping;
pub use strategy::{
    Eggroll, EsConfig, MAX_RANK, Scaling, SimpleEs, Strategy, StrategyKind, StrategyState,
    TellReport,
};
pub use termination::{Control, StopReason};
pub use trainer::{
    Best, ChannelObserver, GenStats, NonFinitePolicy, Observer, RunSummary, StopCondition, Trainer,
};
