//! Resource limits checked before a run starts: the memory a run needs (computed up front from
//! its sizes, in overflow-free arithmetic) against what the machine has, and a cap on threads.

use crate::error::{Error, Result};

/// Bytes of memory a new allocation can get without swapping: `MemAvailable` of
/// `/proc/meminfo` on Linux; None where unknown (then only absurd sizes are refused).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `bytes` for people: `512 B`, `3.2 MiB`, `1.5 TiB`.
pub fn human(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A memory estimate: named parts, each a number of f32 values (saturating arithmetic, so a
/// product of user sizes can never overflow).
#[derive(Debug, Clone, Default)]
pub struct Estimate {
    parts: Vec<(String, u128)>,
}

impl Estimate {
    /// An empty estimate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add the product of `factors` f32 values to the part named `what`.
    pub fn add(&mut self, what: impl Into<String>, factors: &[usize]) -> &mut Self {
        let count = factors
            .iter()
            .fold(1u128, |acc, &f| acc.saturating_mul(f as u128));
        let what = what.into();
        match self.parts.iter_mut().find(|(w, _)| *w == what) {
            Some((_, c)) => *c = c.saturating_add(count),
            None => self.parts.push((what, count)),
        }
        self
    }

    /// Total bytes (4 per value).
    pub fn bytes(&self) -> u128 {
        self.parts
            .iter()
            .fold(0u128, |acc, (_, c)| acc.saturating_add(c.saturating_mul(4)))
    }

    /// The parts, largest first, for messages.
    pub fn describe(&self) -> String {
        let mut parts: Vec<&(String, u128)> = self.parts.iter().collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.1));
        parts
            .iter()
            .take(3)
            .map(|(w, c)| format!("{w} {}", human(c.saturating_mul(4))))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Fail with [`Error::TooBig`] (naming `key`, the settings that size the run) unless the
    /// estimate fits in 90% of the available memory (or, where that is unknown, in 1 PiB).
    pub fn check(&self, key: &str) -> Result<u128> {
        self.check_against(available_memory(), key)
    }

    /// [`check`](Self::check) against an explicit amount of available memory.
    pub fn check_against(&self, available: Option<u64>, key: &str) -> Result<u128> {
        let need = self.bytes();
        let limit = available.map_or(1u128 << 50, |a| a as u128 / 10 * 9);
        if need > limit {
            return Err(Error::TooBig {
                need: human(need),
                available: available
                    .map_or_else(|| "an unknown amount".into(), |a| human(a.into())),
                what: self.describe(),
                key: key.to_string(),
            });
        }
        Ok(need)
    }
}

/// The largest worker-thread count accepted: 4 × the cores (more only adds scheduling cost).
pub fn max_threads() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `requested` worker threads (0 = one per core) capped at [`max_threads`]; the warning says
/// when the cap applied.
pub fn cap_threads(requested: usize) -> (usize, Option<String>) {
    let max = max_threads();
    if requested > max {
        (
            max,
            Some(format!(
                "warning: `threads` = {requested} is more than 4 × the {} cores; using {max}",
                max / 4
            )),
        )
    } else {
        (requested, None)
    }
}

/// Refuse a forward benchmark (`eggroll bench forward`) whose buffers would not fit: `layers`
/// widths (at least two, each ≥ 1), `population` members, `batch` inputs per member.
pub fn check_forward_bench(
    population: usize,
    layers: &[usize],
    rank: usize,
    batch: usize,
) -> Result<()> {
    if layers.len() < 2 || layers.contains(&0) {
        return Err(Error::Input {
            what: "--layers".into(),
            reason: format!("needs at least two widths, each ≥ 1, got {layers:?}"),
        });
    }
    let widest = layers.iter().copied().max().unwrap_or(1);
    let mut need = Estimate::new();
    need.add("rows of the forward", &[population, batch, 4, widest]);
    for w in layers.windows(2) {
        need.add("weights", &[2, w[0], w[1]]);
        need.add(
            "noise",
            &[population, w[0].saturating_add(w[1]), rank.max(1)],
        );
    }
    need.check("--population, --layers, --rank or --shared-batch")?;
    Ok(())
}
