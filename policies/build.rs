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
    link_cuda_runtime_statically(&out);
}

/// candle-kernels links its MoE kernels against `-lcudart` (a load-time dependency on
/// `libcudart.so.13`, so the binary would not start without CUDA). Put a linker script named
/// `libcudart.so` first on the library path that resolves `-lcudart` to the toolkit's
/// `libcudart_static.a` instead: the static CUDA runtime opens the driver itself at run time,
/// and the binary needs no CUDA library to start (see README, "One binary").
fn link_cuda_runtime_statically(out: &std::path::Path) {
    println!("cargo:rerun-if-env-changed=CUDA_ROOT");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    println!("cargo:rerun-if-env-changed=CUDA_PATH");
    println!("cargo:rerun-if-env-changed=LIBRARY_PATH");
    let mut dirs: Vec<PathBuf> = ["CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(std::env::var_os)
        .flat_map(|root| {
            let root = PathBuf::from(root);
            [
                root.join("lib64"),
                root.join("lib"),
                root.join("targets/x86_64-linux/lib"),
            ]
        })
        .collect();
    if let Some(lp) = std::env::var_os("LIBRARY_PATH") {
        dirs.extend(std::env::split_paths(&lp));
    }
    dirs.push(PathBuf::from("/usr/local/cuda/lib64"));
    let Some(lib) = dirs
        .iter()
        .map(|d| d.join("libcudart_static.a"))
        .find(|p| p.is_file())
    else {
        println!(
            "cargo:warning=libcudart_static.a not found (set CUDA_ROOT): the binary will need \
             libcudart.so at start-up"
        );
        return;
    };
    let dir = out.join("cudart-static");
    std::fs::create_dir_all(&dir).expect("create OUT_DIR/cudart-static");
    std::fs::write(
        dir.join("libcudart.so"),
        format!(
            "/* eggroll: -lcudart is the static CUDA runtime, which opens libcuda at run time */\n\
             INPUT({} -ldl -lpthread -lrt)\n",
            lib.display()
        ),
    )
    .expect("write the linker script");
    println!("cargo:rustc-link-search=native={}", dir.display());
}
