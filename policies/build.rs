//! With the `cuda` feature, compile `kernels/*.cu` to PTX with nvcc (the same nvcc candle's
//! own kernels need). Without it, nothing happens and no CUDA toolkit is needed.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=kernels/lowrank.cu");
    println!("cargo:rerun-if-env-changed=NVCC");
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let nvcc = std::env::var("NVCC").unwrap_or_else(|_| "nvcc".into());
    // PTX for a virtual architecture is JIT-compiled by the driver for newer GPUs too.
    let cap = std::env::var("CUDA_COMPUTE_CAP")
        .ok()
        .and_then(|c| c.trim().parse::<u32>().ok())
        .unwrap_or(80);
    let ptx = out.join("lowrank.ptx");
    let status = Command::new(&nvcc)
        .args(["--ptx", "-O3", &format!("-arch=compute_{cap}"), "-o"])
        .arg(&ptx)
        .arg("kernels/lowrank.cu")
        .status()
        .unwrap_or_else(|e| {
            panic!("could not run nvcc ({nvcc}): {e}; set NVCC or CUDA_ROOT (see README, 'CUDA')")
        });
    assert!(status.success(), "nvcc failed on kernels/lowrank.cu");
}
