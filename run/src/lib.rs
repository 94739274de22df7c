//! The run layer's foundations, shared by every front end (CLI, `--gui`, compare mode, MPI
//! rank 0): run directories that never destroy a user's earlier runs, and resource limits
//! checked before a run starts.
//!
//! * [`RunDir`]: a run directory held under an exclusive OS file lock for the run's lifetime.
//!   A new run never writes into a directory that holds anything (unless asked to replace it,
//!   and then the old contents are moved aside, never deleted or mixed); a resumed run's
//!   history is never truncated when it cannot be read; stale temporary files of killed
//!   processes are removed.
//! * [`limits`]: the memory a run needs, computed up front and compared with what the machine
//!   has, and a sane cap on worker threads.

mod dir;
mod error;
pub mod limits;

pub use dir::{LOCK_FILE, METRICS, RunDir, default_dir, truncate_metrics};
pub use error::{Error, Result};
