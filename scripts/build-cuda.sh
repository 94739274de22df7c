#!/usr/bin/env bash
# Build eggroll with `--features cuda` into its own target directory, target/cuda/ (so
# target/release/eggroll stays the CPU build), and collect what a GPU machine needs in
# target/cuda-dist:
#   eggroll        the CLI (stripped)          device-tests   the CUDA test binary (stripped)
#   gpu-check.sh   runs tests + benchmarks there (see README, section CUDA)
# With CUDA_ROOT set (a normal CUDA install) that toolkit is used; otherwise a CUDA 13.0 toolkit
# is assembled from PyPI wheels into ${EGGROLL_CUDA_PREFIX:-$HOME/.cache/eggroll-cuda13}.
# CUDA_COMPUTE_CAP defaults to 90 (Hopper; use 80 for a build that also runs on Ampere).
# The first build takes ~10-15 min on 2 cores (candle's kernels); rebuilds take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CUDA_ROOT:-}" ]; then
  prefix=${EGGROLL_CUDA_PREFIX:-$HOME/.cache/eggroll-cuda13}
  echo "assembling a CUDA 13.0 toolkit from PyPI in $prefix" >&2
  eval "$(bash scripts/cuda/toolchain.sh "$prefix")"
else
  export CUDA_HOME=${CUDA_HOME:-$CUDA_ROOT} NVCC=${NVCC:-$CUDA_ROOT/bin/nvcc}
  export PATH=$CUDA_ROOT/bin:$PATH
fi
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR=${EGGROLL_CUDA_TARGET_DIR:-target/cuda}
cargo build --release -p eggroll-cli --features cuda
tests=$(cargo test --release -p eggroll-policies --features cuda --test device --no-run \
  --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "device":
        print(m["executable"])')
test -x "$tests" || { echo "build-cuda: no test binary" >&2; exit 1; }
dist=target/cuda-dist
mkdir -p "$dist"
strip -o "$dist/eggroll.tmp" "$CARGO_TARGET_DIR/release/eggroll" && mv "$dist/eggroll.tmp" "$dist/eggroll"
strip -o "$dist/device-tests.tmp" "$tests" && mv "$dist/device-tests.tmp" "$dist/device-tests"
cp scripts/gpu-check.sh scripts/torch-forward-bench.py "$dist/"
tar czf target/cuda-dist.tar.gz -C target cuda-dist
ls -la "$dist" target/cuda-dist.tar.gz
