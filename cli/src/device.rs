//! `--device`: where parameters, noise and the population forward live.
//!
//! `auto` (the default) uses GPU 0 when this binary has CUDA support and a usable GPU, and the
//! CPU otherwise. A build with the `cuda` feature opens the CUDA libraries at run time (candle's
//! cudarc with `dynamic-loading`, see `vendor/candle-core/VENDORED.md`), so it starts and runs
//! every CPU command on a machine without a GPU or CUDA libraries.

use anyhow::{Context, Result, bail};
use candle_core::Device;

/// Parse `auto` (default), `cpu`, `cuda` (GPU 0) or `cuda:N`.
pub fn parse(spec: Option<&str>) -> Result<Device> {
    let spec = spec.unwrap_or("auto");
    match spec {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(if cfg!(feature = "cuda") {
            open_cuda(0).unwrap_or(Device::Cpu)
        } else {
            Device::Cpu
        }),
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
                     scripts/build-cuda.sh (README, section CUDA), or use --device auto"
                );
            }
            open_cuda(ordinal).map_err(|e| anyhow::anyhow!("--device {s}: {e}"))
        }
        other => {
            bail!("--device: unknown device `{other}` (expected auto, cpu, cuda or cuda:N)")
        }
    }
}

/// Open GPU `ordinal`. cudarc loads the driver and libraries on first use and panics when
/// they are missing; that panic becomes an error ("no CUDA driver found: …") here.
fn open_cuda(ordinal: usize) -> std::result::Result<Device, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(|| Device::new_cuda(ordinal));
    std::panic::set_hook(previous);
    match opened {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => {
            // The driver's message, without a captured backtrace.
            let e = match e {
                candle_core::Error::WithBacktrace { inner, .. } => *inner,
                e => e,
            };
            let e = e.to_string();
            Err(if e.contains("CUDA_ERROR_STUB_LIBRARY") {
                format!("no CUDA driver found: {e}")
            } else if e.contains("CUDA_ERROR_NO_DEVICE") {
                format!("no CUDA device found: {e}")
            } else {
                format!("opening GPU {ordinal}: {e}")
            })
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "CUDA initialisation failed".into());
            // cudarc lists every file name it tried; the first sentence says what is missing.
            let msg = msg.split(" - searched").next().unwrap_or(&msg).to_string();
            Err(format!(
                "no CUDA driver found: {msg} (libcuda.so.1 comes with the NVIDIA driver; \
                 put its folder on LD_LIBRARY_PATH)"
            ))
        }
    }
}
