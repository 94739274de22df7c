#!/usr/bin/env bash
# The grid behind the default hyperparameters of the sphere and rastrigin tasks.
# Usage: scripts/sweep-benchmarks.sh   (prints one line per setting: final fitness, wall seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p eggroll-cli
bin=target/release/eggroll
for lr in 0.05 0.1 0.2; do
  for sched in "kind=linear --set es.lr_schedule.floor=0.01 --set es.lr_schedule.generations=800" "kind=exponential --set es.lr_schedule.decay=0.995"; do
    echo "sphere lr=$lr lr_schedule.$sched: $($bin train sphere --json --quiet --generations 800 --lr $lr --set es.lr_schedule.$sched | tail -1)"
  done
done
for s in 0.3 0.5 1.0; do
  for d in 0.99 0.995; do
    echo "rastrigin sigma=$s decay=$d: $($bin train rastrigin --json --quiet --sigma $s --set es.sigma_schedule.kind=exponential --set es.sigma_schedule.decay=$d --set es.lr_schedule.kind=exponential --set es.lr_schedule.decay=$d | tail -1)"
  done
done
