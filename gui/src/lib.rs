//! # eggroll-gui
//!
//! A live egui/eframe dashboard for eggroll training runs: fitness over generations
//! (mean, max, min, best-ever, ±std band; x axis by generation, evaluations or wall time), this
//! generation's fitness distribution and shaped weights, σ / learning rate / update norm,
//! overlaid runs in compare mode (e.g. ranks 1, 4, 16), a live view of the task driven by the
//! current mean policy, and controls (pause, resume, single step, σ and lr, save checkpoint,
//! stop).
//!
//! The UI is a function of [`Dashboard`] state. Training runs on its own threads and talks to
//! the UI over channels: statistics arrive on a bounded channel that drops messages when the UI
//! is slow (training never waits for drawing), commands go back as [`Command`]s applied between
//! generations by [`eggroll_core::Controller`] (the same path the CLI uses).
//!
//! Layout: [`feed`] (what runs send), `app` (the dashboard's state and window), one module
//! per panel under `panels/`, `linalg` (the rank panel's singular values) and `widgets`.
#![warn(missing_docs)]

mod app;
pub mod feed;
pub mod launch;
mod linalg;
mod panels;
mod sim;
mod widgets;

pub use app::{Dashboard, RunState, XAxis, run_native};
pub use eggroll_core::Command;
pub use feed::{
    LiveChannels, NoiseInfo, RunFeed, Snapshot, SnapshotSender, compare_feeds, live_channels,
    replay_feed, spawn_run,
};
pub use linalg::singular_values;
pub use panels::live::grid_predictions;
