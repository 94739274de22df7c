#!/usr/bin/env bash
# The README's MPI scaling table: generations per second with 1, 2 and 4 ranks on this machine.
#   scripts/mpi-scaling.sh [BIN]     (BIN built with --features mpi; MNIST in data/mnist or
#                                     EGGROLL_MNIST_DIR, see scripts/get-mnist.sh)
# Each rank gets --threads max(1, cores / ranks). Prints every command it runs, then one line
# per (task, ranks): generations / train_s from the run's JSON.
set -euo pipefail
bin=${1:-target/release/eggroll}
cores=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # task ranks extra...
  local task=$1 np=$2; shift 2
  local threads=$(( cores / np > 0 ? cores / np : 1 ))
  local cmd=(mpirun --allow-run-as-root --oversubscribe -np "$np" "$bin" train "$task" --distributed mpi
             --threads "$threads" --quiet --json --out "$tmp/$task-$np" "$@")
  echo "\$ ${cmd[*]}" >&2
  local json
  json=$("${cmd[@]}" | tail -1)
  python3 - "$json" "$task" "$np" <<'PY'
import json, sys
j, task, np = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
g, t = j["generations"], j["train_s"]
print(f"{task:8} ranks={np} generations={g} train_s={t:.2f} gen_per_s={g / t:.1f} "
      f"evals_by_rank={j.get('evals_by_rank')}")
PY
}
for np in 1 2 4; do
  run cartpole "$np" --population 256 --generations 30 --set evaluation.eval_every=0
done
for np in 1 2 4; do
  run mnist "$np" --population 512 --batch 256 --generations 100
done
