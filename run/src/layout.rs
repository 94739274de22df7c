//! What a training run's directory holds, by file name: the one list of them (`--out` of
//! `eggroll train`; `bbob suite` and `compare` directories list their own files in
//! [`crate::bbob`] and [`crate::es_vs_backprop`]).
//!
//! | file | written | holds |
//! |---|---|---|
//! | [`LOCK_FILE`] | while the run is held | the writing process's pid, under an OS lock |
//! | [`CONFIG`] | at the start | the resolved configuration |
//! | [`METRICS`] | every generation (appended) | one JSON object per generation |
//! | [`EVALS`] | every `evaluation.eval_every` (appended) | validation scores |
//! | [`CHECKPOINT`] | every `checkpoints.every` and at the end | the full trainer state |
//! | [`VALIDATION`] | with a better validation | best validated parameters (resume) |
//! | [`POLICY`], [`POLICY_BEST`] | at the end | exported policies (PyTorch names) |
//! | [`FITNESS_PNG`], [`FITNESS_SVG`] | at the end | the fitness curve |
//! | tasks' own files | at the end | e.g. charlm's `sample.txt` |

/// The lock file inside a run directory: held (an OS advisory lock) by the process that
/// writes the run, with that process's pid as its contents.
pub const LOCK_FILE: &str = ".eggroll.lock";
/// The resolved configuration.
pub const CONFIG: &str = "config.toml";
/// The per-generation metrics file of a run.
pub const METRICS: &str = "metrics.jsonl";
/// Periodic evaluations (`evaluation.eval_every`): one JSON object per evaluation with
/// `generation` (generations completed), `train_s` and the task's score fields.
pub const EVALS: &str = "evals.jsonl";
/// The latest checkpoint.
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// The final (mean or best-validated) parameters.
pub const POLICY: &str = "policy.safetensors";
/// The best evaluated member's own parameters.
pub const POLICY_BEST: &str = "policy_best.safetensors";
/// Best validation parameters and score (control tasks, for resume).
pub const VALIDATION: &str = "validation.safetensors";
/// The fitness curve, as a bitmap.
pub const FITNESS_PNG: &str = "fitness.png";
/// The fitness curve, as a vector drawing.
pub const FITNESS_SVG: &str = "fitness.svg";
