#!/usr/bin/env bash
# The sweeps behind the default hyperparameters of the classic-control tasks.
#
# Usage: scripts/sweep-control.sh [cartpole|pendulum|acrobot|mountaincar|mountaincar-continuous|all]
# (release build; about 2 min for cartpole, 15 for pendulum, 3 for acrobot, 8 for mountaincar,
# 1 for mountaincar-continuous on a 2-core machine).
#
# Each line: the setting, then per seed 0-4 [eval_mean over 100 fresh episodes, training
# seconds, generations], then how many seeds reached the task's threshold and the slowest
# run. Every run uses the task's defaults except the flags shown.
#
# What the sweeps found (2026-11-30, this 2-core machine) and the defaults they chose:
# - pendulum (20 s budget): [64,64] × 512 members solved 4/5 (two seeds near 20 s); obs_norm
#   hurts here (two seeds stuck at ≈ −750: normalising cos θ while the pendulum hangs blows
#   up tiny differences). [32,32] × 256 without obs_norm solved 5/5 (and seeds 5-9) in
#   ≤ 11 s → the default. Validation episodes are the same every time (paired scores).
# - acrobot: both solve 5/5 in ≤ 2.4 s; obs_norm on ends a little higher (eval_mean −78.0 …
#   −83.8 vs −81.9 … −86.8 without) → the default.
# - mountaincar-continuous: without obs_norm the mean policy stands still (eval_mean ≈ 0)
#   on every seed; with it every seed solves (≥ 93) in 5 generations → obs_norm is the default.
# - mountaincar: with obs_norm, σ 0.5, 1 episode: 3/5 (−108.7 … −111.8); σ 1, 4 episodes per
#   member, [64]: 5/5 and seeds 5-9 too (−103.9 … −109.2), ≈ 8 s → the default.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p eggroll-cli
bin=target/release/eggroll
what="${1:-all}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# sweep TASK THRESHOLD FLAGS...: five seeds of one setting.
sweep() {
  local task=$1 threshold=$2
  shift 2
  local results=()
  for seed in 0 1 2 3 4; do
    rm -rf "$tmp/run"
    results+=("$("$bin" train "$task" --seed "$seed" --out "$tmp/run" --json --quiet "$@" | tail -1)")
  done
  printf '%s\n' "${results[@]}" | python3 -c '
import json, sys
runs = [json.loads(l) for l in sys.stdin]
t = float(sys.argv[1])
cells = [[round(j["eval_mean"], 1), round(j["train_s"], 1), j["generations"]] for j in runs]
solved = sum(j["eval_mean"] >= t for j in runs)
slowest = max(j["train_s"] for j in runs)
print(cells, "solved %d/5, slowest %.1f s" % (solved, slowest))
' "$threshold" | sed "s|^|$task $* : |"
}

if [ "$what" = cartpole ] || [ "$what" = all ]; then
  for pop in 64 256 1024; do
    for sigma in 0.05 0.2 0.5; do
      sweep cartpole 475 --population "$pop" --sigma "$sigma"
    done
  done
fi
if [ "$what" = pendulum ] || [ "$what" = all ]; then
  for hidden in "[64,64]" "[32,32]"; do
    for pop in 256 512; do
      for norm in false true; do
        sweep pendulum -200 --time-budget 20 --set "policy.hidden=$hidden" --population "$pop" \
          --set "policy.obs_norm=$norm"
      done
    done
  done
fi
if [ "$what" = acrobot ] || [ "$what" = all ]; then
  for norm in false true; do
    sweep acrobot -100 --set "policy.obs_norm=$norm"
  done
fi
if [ "$what" = mountaincar-continuous ] || [ "$what" = all ]; then
  for norm in false true; do
    sweep mountaincar-continuous 90 --set "policy.obs_norm=$norm"
  done
fi
if [ "$what" = mountaincar ] || [ "$what" = all ]; then
  sweep mountaincar -110 --set policy.obs_norm=false
  for sigma in 0.5 1.0; do
    for episodes in 1 4; do
      for hidden in "[32]" "[64]"; do
        sweep mountaincar -110 --sigma "$sigma" --set "evaluation.episodes=$episodes" \
          --set "policy.hidden=$hidden"
      done
    done
  done
fi
