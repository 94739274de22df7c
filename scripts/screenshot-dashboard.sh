#!/usr/bin/env bash
# Screenshot of the live dashboard under Xvfb: trains Pendulum for a few seconds and saves a PNG.
#   scripts/screenshot-dashboard.sh [OUT.png]      (needs: apt-get install xvfb imagemagick libgl1-mesa-dri)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/dashboard.png}"
cargo build --release -q -p eggroll-cli
display=:97
Xvfb "$display" -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1
run=$(mktemp -d)
DISPLAY="$display" LIBGL_ALWAYS_SOFTWARE=1 target/release/eggroll train pendulum --gui --quiet \
  --set eval_every=0 --generations 100000 --out "$run" >/dev/null 2>&1 &
app=$!
sleep "${SECONDS_TO_TRAIN:-8}"
mkdir -p "$(dirname "$out")"
DISPLAY="$display" import -window root "$out"
kill -INT "$app" 2>/dev/null || true
sleep 1
kill "$app" 2>/dev/null || true
echo "saved $out"
