#!/usr/bin/env bash
# The sweeps behind the default hyperparameters of `eggroll train cartpole|pendulum`.
# Each line: the setting, then [eval_mean over 100 fresh episodes, training seconds, generations].
# Usage: scripts/sweep-control.sh [cartpole|pendulum|all]   (release build, ~10 min for all)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p eggroll-cli
bin=target/release/eggroll
what="${1:-all}"
run() { "$bin" train "$@" --json --quiet | tail -1 | python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); print([round(j["eval_mean"],1), round(j["train_s"],3), j["generations"]])'; }
if [ "$what" = cartpole ] || [ "$what" = all ]; then
  for pop in 64 256 1024; do
    for sigma in 0.05 0.2 0.5; do
      for seed in 0 1 2; do
        echo "cartpole population=$pop sigma=$sigma seed=$seed: $(run cartpole --population $pop --sigma $sigma --seed $seed)"
      done
    done
  done
fi
if [ "$what" = pendulum ] || [ "$what" = all ]; then
  for sigma in 0.1 0.2; do
    for lr in 0.03 0.1; do
      echo "pendulum sigma=$sigma lr=$lr (300 generations): $(run pendulum --generations 300 --sigma $sigma --lr $lr --set evaluation.eval_every=0)"
    done
  done
fi
