//! Observers of a run: the progress display and the metrics file.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use eggroll_core::{Control, GenStats, Observer};

/// Progress on stderr: an indicatif bar on a terminal, plain log lines (at most two a second)
/// otherwise.
pub struct Progress {
    total: u64,
    last: Option<Instant>,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// Progress towards `total` generations, starting at `start_at`.
    pub fn new(total: u64, start_at: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} gen {pos}/{len} {msg} [{elapsed_precise} ETA {eta}]",
                )
                .expect("valid template"),
            );
            b.set_position(start_at);
            b
        });
        Self {
            total,
            last: None,
            bar,
        }
    }
}

impl Observer for Progress {
    fn on_generation(&mut self, s: &GenStats) -> Control {
        let msg = format!(
            "mean {:.5} best {:.5} σ {:.4} lr {:.4} {:.0} evals/s",
            s.mean, s.best_ever, s.sigma, s.lr, s.evals_per_s
        );
        if let Some(b) = &self.bar {
            b.set_position(s.generation + 1);
            b.set_message(msg);
            return Control::Continue;
        }
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if due || s.generation + 1 == self.total {
            self.last = Some(Instant::now());
            eprintln!("gen {:>5}/{} {msg}", s.generation + 1, self.total);
        }
        Control::Continue
    }
    fn on_finish(&mut self, _: &eggroll_core::RunSummary) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}

/// Appends one JSON line per generation to `metrics.jsonl`, flushed every line.
pub struct MetricsFile {
    out: BufWriter<File>,
    path: PathBuf,
}

impl MetricsFile {
    /// Append to the file at `path` (created if missing).
    pub fn append(path: PathBuf) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(Self {
            out: BufWriter::new(file),
            path,
        })
    }
}

impl Observer for MetricsFile {
    fn on_generation(&mut self, s: &GenStats) -> Control {
        let line = serde_json::to_string(s).expect("stats serialise");
        if let Err(e) = writeln!(self.out, "{line}").and_then(|_| self.out.flush()) {
            eprintln!("error: writing {}: {e}; stopping", self.path.display());
            return Control::Stop;
        }
        Control::Continue
    }
}
