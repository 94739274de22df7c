#!/usr/bin/env bash
# EGGROLL vs SimpleES (full-rank OpenAI-ES) on MNIST-as-a-bandit at the same population and
# the same wall-clock budget. Prints one line per strategy: test accuracy, generations, seconds.
#   scripts/mnist-comparison.sh [SECONDS] [DATA_DIR]     (defaults: 120, data/mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-120}"
data="${2:-${EGGROLL_MNIST_DIR:-data/mnist}}"
cargo build --release -q -p eggroll-cli
for strategy in eggroll simple_es; do
  out=$(mktemp -d)
  target/release/eggroll train mnist --quiet --json --data-dir "$data" --time-budget "$budget" \
    --generations 1000000 --set strategy="\"$strategy\"" --out "$out" | tail -1 |
    python3 -c "import json,sys; j=json.load(sys.stdin); print('%10s: test_accuracy %.4f after %d generations in %.0f s (population %d)' % (j['strategy'], j['test_accuracy'], j['generations'], j['train_s'], j['population']))"
  echo "            metrics: $out/metrics.jsonl"
done
