#!/usr/bin/env bash
# On a GPU machine, from a directory holding the output of scripts/build-cuda.sh
# (target/cuda-dist): the CUDA tests, the forward benchmarks of the CUDA issue, a CartPole run
# on the GPU and, if PyTorch is installed, the same shapes through PyTorch. JSON lines go to
# stdout and to ${OUT:-.}/gpu-check.jsonl. Any failing step (a test, a benchmark, the
# CartPole run) fails the script; with EGGROLL_REQUIRE_GPU=1 a GPU test never skips.
set -euo pipefail
export EGGROLL_REQUIRE_GPU=1
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-.}/gpu-check.jsonl
: > "$out"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
echo "== CUDA tests"
"$here/device-tests" --include-ignored --test-threads 1 2>&1 | tail -15
echo "== forward benchmarks"
for shape in "16384 1024,1024,1024,1024" "65536 4,64,64,2" "1024 8192,8192"; do
  set -- $shape
  "$here/eggroll" bench forward --device cuda --population "$1" --layers "$2" --rank 1 \
    --rounds 7 --json | tee -a "$out"
done
echo "== CartPole on the GPU"
(cd /tmp && "$here/eggroll" train cartpole --device cuda --json --quiet --out /tmp/eggroll-cartpole-gpu) \
  | tail -1 | tee -a "$out"
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  echo "== PyTorch reference"
  python3 "$here/torch-forward-bench.py" | tee -a "$out"
fi
