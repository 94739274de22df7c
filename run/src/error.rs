//! Errors of the run layer.

use std::path::PathBuf;

/// Everything that can go wrong in `eggroll-run`; each names the path, key or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid; names the key (and where its value came from).
    #[error("invalid config: `{key}` {reason}")]
    Config {
        /// The dotted key (`es.sigma`, `policy.hidden[0]`).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// An input other than a config key is invalid: a flag, a file, a value.
    #[error("{what}: {reason}")]
    Input {
        /// The flag, file or value.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The ES engine failed.
    #[error(transparent)]
    Core(#[from] eggroll_core::Error),
    /// An environment or data set failed.
    #[error(transparent)]
    Env(#[from] eggroll_envs::EnvError),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Drawing a plot failed.
    #[error("{path}: drawing the plot failed: {reason}")]
    Plot {
        /// The image file.
        path: PathBuf,
        /// The drawing backend's message.
        reason: String,
    },
    /// The directory of a new run already holds files.
    #[error(
        "output directory {path} is not empty ({entries}); choose another --out, resume it with \
         --resume, or pass --force to move its contents aside to a new sibling directory"
    )]
    NotEmpty {
        /// The directory.
        path: PathBuf,
        /// Some of its entries.
        entries: String,
    },
    /// Another process holds the run's lock.
    #[error(
        "run directory {path} is in use by another eggroll process{holder} (it holds {path}/{lock}); \
         wait for it to finish or stop it"
    )]
    Locked {
        /// The directory.
        path: PathBuf,
        /// ", pid N" when the holder wrote its pid.
        holder: String,
        /// The lock file's name.
        lock: &'static str,
    },
    /// A run to resume does not exist or is not a run directory.
    #[error("{path} is not a run directory: {reason}")]
    NotARun {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A file of the run cannot be read as it must be; it was left unchanged.
    #[error("{path}: {reason} (left unchanged)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line or byte offset.
        reason: String,
    },
    /// A run would need more memory than the machine has.
    #[error(
        "this run needs about {need} of memory ({what}); the machine has {available} available; \
         reduce {key}"
    )]
    TooBig {
        /// Human-readable size needed.
        need: String,
        /// Human-readable size available.
        available: String,
        /// What the estimate consists of.
        what: String,
        /// The config keys or flags that set the size.
        key: String,
    },
    /// An I/O operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
