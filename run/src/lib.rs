//! The run layer, shared by every front end (CLI, `--gui`, compare mode, MPI workers, library
//! users):
//!
//! * [`config`]: the typed [`RunConfig`] (task, strategy, stop rules, evaluation, checkpoints,
//!   output) resolved from task defaults, a TOML file, `key=value` overrides and flags, with
//!   errors that name the key and where its value came from;
//! * [`task`]: a task is one definition in a [`task::registry`];
//! * [`Session`]: the one training loop (stop rules, validation, checkpoints, dashboard
//!   commands, export, final evaluation);
//! * [`RunDir`]: run directories that never destroy a user's earlier runs (exclusive lock, no
//!   overwrite, unreadable history never truncated, stale temporaries removed);
//! * [`artifacts`] (policies, validation, plots), [`observers`] (progress, metrics file) and
//!   [`exported`] (evaluate an exported policy, run its network);
//! * [`limits`]: the memory a run needs, checked before anything is allocated, and a cap on
//!   threads.

pub mod artifacts;
pub mod bbob;
pub mod bench;
pub mod config;
mod dir;
#[cfg(feature = "mpi")]
pub mod distributed;
mod error;
pub mod es_vs_backprop;
pub mod exported;
pub mod flags;
pub mod layout;
pub mod limits;
pub mod net;
pub mod observers;
pub mod plot;
pub mod resolve;
pub mod session;
pub mod task;

pub use config::{RunConfig, StrategyKind};
pub use dir::{RunDir, default_dir, truncate_metrics};
pub use error::{Error, Result};
pub use layout::{LOCK_FILE, METRICS};
pub use resolve::{resolve, task_default};
pub use session::{Options, Outcome, RunReport, Session, Start};

/// The process's interrupt flag, set by Ctrl-C and SIGTERM: one handler per process, every
/// session and suite of the command line watches the same flag.
pub fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, OnceLock};
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
        flag
    })
    .clone()
}
