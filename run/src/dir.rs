//! Run directories: one run per directory, held under an exclusive OS file lock, never
//! overwritten, never truncated when unreadable.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, io};
use crate::layout::{LOCK_FILE, METRICS};

/// A default run directory `runs/<task>-<timestamp>` that does not exist yet (`-2`, `-3`, …
/// are appended when two runs start within the same second).
pub fn default_dir(task: &str) -> PathBuf {
    let ts = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let base = PathBuf::from("runs").join(format!("{task}-{ts}"));
    unused_sibling(&base, "")
}

/// `base` + `infix` if that path does not exist, else the first free `base + infix + -k`.
fn unused_sibling(base: &Path, infix: &str) -> PathBuf {
    let name = base
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    let first = base.with_file_name(format!("{name}{infix}"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|k| base.with_file_name(format!("{name}{infix}-{k}")))
        .find(|p| !p.exists())
        .expect("some suffix is free")
}

/// A run directory held by this process: the lock is released when the value is dropped.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    _lock: File,
    /// This process created the directory (it did not exist before the run).
    created: bool,
}

impl RunDir {
    /// The directory of a NEW run. A missing directory is created and an empty one is used.
    /// A directory that holds anything else is refused ([`Error::NotEmpty`]) unless `replace`
    /// is set; then its contents are moved, as a whole, to a new sibling directory
    /// `<name>.replaced-<timestamp>` (returned), so nothing is deleted and the new run never
    /// shares a directory with the old one. A directory another process holds is refused
    /// ([`Error::Locked`], naming its pid) in both cases.
    pub fn create(path: &Path, replace: bool) -> Result<(RunDir, Option<PathBuf>)> {
        // A symbolic link to a directory stands for that directory: the run goes into the
        // target, and --force moves the target's contents aside, leaving the link in place.
        let resolved;
        let path = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() && path.is_dir() => {
                resolved = std::fs::canonicalize(path).map_err(io(path))?;
                resolved.as_path()
            }
            _ => path,
        };
        let mut moved = None;
        let mut created = !path.exists();
        if path.is_dir() {
            let leftover = user_entries(path)?;
            if !leftover.is_empty() {
                // Whoever runs in it must finish first, whether we refuse or replace (and a
                // refused directory is not touched: no lock file is created in it).
                let old = lock_existing(path)?;
                if !replace {
                    return Err(Error::NotEmpty {
                        path: path.to_path_buf(),
                        entries: summarize(&leftover),
                    });
                }
                let ts = chrono::Local::now().format("%Y%m%d-%H%M%S");
                let aside = unused_sibling(path, &format!(".replaced-{ts}"));
                std::fs::rename(path, &aside).map_err(io(path))?;
                drop(old);
                moved = Some(aside);
                created = true;
            }
        }
        std::fs::create_dir_all(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                source.kind(),
                format!("creating the output directory: {source}"),
            ),
        })?;
        let lock = lock(path)?;
        remove_stale_temporaries(path)?;
        Ok((
            RunDir {
                path: path.to_path_buf(),
                _lock: lock,
                created,
            },
            moved,
        ))
    }

    /// Undo a new run that failed before anything worth resuming was written: remove the
    /// files a run writes (`names`, then the lock file) and, when this process created the
    /// directory, the directory itself once empty — so the same command can simply be run
    /// again. Files of any other name are left alone, and so is their directory.
    pub fn discard(self, names: &[&str]) {
        for name in names {
            let _ = std::fs::remove_file(self.path.join(name));
        }
        let _ = remove_stale_temporaries(&self.path);
        let _ = std::fs::remove_file(self.path.join(LOCK_FILE));
        if self.created {
            // Fails, leaving it, unless it is empty.
            let _ = std::fs::remove_dir(&self.path);
        }
    }

    /// The directory of an EXISTING run (to resume it): it must exist and must not be held by
    /// another process. Temporary files left by a killed process are removed.
    pub fn open(path: &Path) -> Result<RunDir> {
        if !path.is_dir() {
            return Err(Error::NotARun {
                path: path.to_path_buf(),
                reason: "no such directory".into(),
            });
        }
        let lock = lock(path)?;
        remove_stale_temporaries(path)?;
        Ok(RunDir {
            path: path.to_path_buf(),
            _lock: lock,
            created: false,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(name)`.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Save the settings of a multi-run command (a suite, a comparison) as `name`, JSON,
    /// atomically, so `--resume` can read them back.
    pub fn write_settings<T: serde::Serialize>(&self, name: &str, settings: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(settings).expect("settings serialise");
        eggroll_core::checkpoint::write_atomic(&self.join(name), text.as_bytes())?;
        Ok(())
    }

    /// The settings saved by [`RunDir::write_settings`]; `what` names the kind of directory
    /// ("bbob suite") in the errors: a missing file is [`Error::NotARun`], an unreadable one
    /// [`Error::Corrupt`].
    pub fn read_settings<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        what: &str,
    ) -> Result<T> {
        let path = self.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::NotARun {
            path: self.path.clone(),
            reason: format!("not a {what} directory: cannot read {name} ({e})"),
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path,
            reason: format!("not the settings of a {what}: {e}"),
        })
    }
}

/// If `dir` has a lock file, take it (fails when another process holds it); creates nothing.
fn lock_existing(dir: &Path) -> Result<Option<File>> {
    let path = dir.join(LOCK_FILE);
    let mut f = match OpenOptions::new().read(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    try_lock(dir, &path, &mut f)?;
    Ok(Some(f))
}

/// Lock `f` (the lock file of `dir`, at `path`) exclusively without blocking; when another
/// process holds it, [`Error::Locked`] names that process's pid (the file's contents).
fn try_lock(dir: &Path, path: &Path, f: &mut File) -> Result<()> {
    match f.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = f.read_to_string(&mut text);
            let holder = text
                .trim()
                .parse::<u32>()
                .map_or_else(|_| String::new(), |pid| format!(", pid {pid}"));
            Err(Error::Locked {
                path: dir.to_path_buf(),
                holder,
                lock: LOCK_FILE,
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io(path)(e)),
    }
}

/// Take the run's lock (exclusive, non-blocking) and write our pid into the lock file.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io(&path))?;
    try_lock(dir, &path, &mut f)?;
    f.set_len(0).map_err(io(&path))?;
    f.rewind().map_err(io(&path))?;
    write!(f, "{}", std::process::id()).map_err(io(&path))?;
    f.flush().map_err(io(&path))?;
    Ok(f)
}

/// Whether `name` is a temporary file of an atomic write (`.NAME.tmp-PID`, `.NAME.tmp.EXT`)
/// or the writability probe: never a finished file of a run.
fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
        && (name.contains(".tmp-") || name.contains(".tmp.") || name == ".write-test")
}

/// The entries of `dir` that belong to a user or a finished run (not the lock file, not
/// temporaries), sorted.
fn user_entries(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let name = e
            .map_err(io(dir))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name != LOCK_FILE && !is_temporary(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn summarize(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
    let more = names.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Remove temporary files of atomic writes that a killed process left behind. Only called
/// while holding the lock, so no live writer owns them.
fn remove_stale_temporaries(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if is_temporary(&name) && e.file_type().map_err(io(dir))?.is_file() {
            std::fs::remove_file(e.path()).map_err(io(&e.path()))?;
        }
    }
    Ok(())
}

/// Read `metrics.jsonl` of `dir`, keep the lines of generations `< generation` (dropping any
/// written after the last checkpoint, and a torn last line from a crash), and rewrite it
/// atomically. Returns the kept lines.
///
/// A missing file is an empty history. A file that cannot be read, is not UTF-8 or has a
/// corrupt line before its last is an error ([`Error::Corrupt`], naming the line or byte),
/// and the file is left exactly as it was.
pub fn truncate_metrics(dir: &Path, generation: u64) -> Result<Vec<String>> {
    truncate_jsonl(dir, METRICS, generation)
}

/// [`truncate_metrics`] for any of the run's JSON-lines files (`metrics.jsonl`,
/// `evals.jsonl`): keep the lines whose `generation` is `< generation`.
pub fn truncate_jsonl(dir: &Path, name: &str, generation: u64) -> Result<Vec<String>> {
    let path = dir.join(name);
    let text = match std::fs::read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let bad = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let last_line = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                if bad < last_line {
                    return Err(Error::Corrupt {
                        path,
                        reason: format!(
                            "not UTF-8 at byte {bad}; fix or remove the file to resume"
                        ),
                    });
                }
                // A torn last line (cut inside a character): dropped below.
                String::from_utf8_lossy(&bytes[..last_line]).into_owned()
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(&path)(e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let g = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("generation").and_then(serde_json::Value::as_u64));
        let Some(g) = g else {
            // A torn last line from a crash: drop it; anything else is corruption.
            if i + 1 == lines.len() {
                break;
            }
            return Err(Error::Corrupt {
                path,
                reason: format!("line {} is not valid JSON with a `generation`", i + 1),
            });
        };
        if g < generation {
            kept.push(line.to_string());
        }
    }
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    eggroll_core::checkpoint::write_atomic(&path, out.as_bytes())?;
    Ok(kept)
}
