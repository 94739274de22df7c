//! # eggroll-policies
//!
//! Population layers ([`nn`]: linear, conv, embedding, norms, attention, minGRU, …) whose
//! whole population runs in ONE batched forward pass with per-member low-rank perturbations;
//! the MLP policies are one such model ([`MlpConfig::model`]), whose dense chain runs through
//! the fused kernel [`PopulationForward`]; and rollouts of populations over vectorised
//! environments ([`RolloutEvaluator`]) that plug into `eggroll-core`'s trainer.
//!
//! The same forward runs on any candle device through [`DeviceForward`] (candle's matmul plus
//! one fused low-rank custom op per layer, with a CPU body and, with the `cuda` feature, a CUDA
//! body); [`device::Forward`] picks the path from where the parameters live.
#![warn(missing_docs)]

pub mod activation;
pub mod bench;
pub mod charlm;
pub mod device;
pub mod egg;
pub mod int8;
pub mod mlp;
pub mod mnist;
pub mod nn;
pub mod obsnorm;
pub mod rollout;

pub use activation::Activation;
pub use device::{DeviceForward, LowRankPath};
pub use mlp::{Head, MlpConfig};
pub use mlp::{materialized_forward, plain_row_forward, population_forward_tensor};
pub use nn::fused::{PopulationForward, shared_gemm};
pub use obsnorm::{ObsNorm, ObsStats, ObsTransform};
pub use rollout::{EnvFactory, EvalReport, RolloutEvaluator};
