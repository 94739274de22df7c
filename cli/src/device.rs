//! `--device`: where parameters, noise and the population forward live.

use anyhow::{Context, Result, bail};
use candle_core::Device;

/// Parse `cpu`, `cuda` (GPU 0) or `cuda:N`; None is the CPU.
pub fn parse(spec: Option<&str>) -> Result<Device> {
    let spec = spec.unwrap_or("cpu");
    match spec {
        "cpu" => Ok(Device::Cpu),
        s if s == "cuda" || s.starts_with("cuda:") => {
            let ordinal = match s.strip_prefix("cuda:") {
                Some(n) => n
                    .parse::<usize>()
                    .with_context(|| format!("--device {s}: `{n}` is not a GPU index"))?,
                None => 0,
            };
            if !cfg!(feature = "cuda") {
                bail!(
                    "--device {s}: this eggroll was built without CUDA support; rebuild with \
                     `cargo build --release -p eggroll-cli --features cuda` (README, section CUDA)"
                );
            }
            Device::new_cuda(ordinal).map_err(|e| {
                // The driver's message, without a captured backtrace.
                let e = match e {
                    candle_core::Error::WithBacktrace { inner, .. } => *inner,
                    e => e,
                };
                anyhow::anyhow!("--device {s}: opening GPU {ordinal}: {e}")
            })
        }
        other => bail!("--device: unknown device `{other}` (expected cpu, cuda or cuda:N)"),
    }
}
