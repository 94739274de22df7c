#!/usr/bin/env bash
# Screenshot of the live dashboard under Xvfb: trains Pendulum for a few seconds and saves a PNG.
#   scripts/screenshot-dashboard.sh [OUT.png]      (needs: apt-get install xvfb imagemagick libgl1-mesa-dri x11-utils)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/dashboard.png}"
cargo build --release -q -p eggroll-cli
# The binary cargo just built, wherever CARGO_TARGET_DIR puts it.
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/eggroll
test -x "$bin" || { echo "no eggroll binary at $bin" >&2; exit 1; }
display=:97
Xvfb "$display" -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1
run=$(mktemp -d)
DISPLAY="$display" LIBGL_ALWAYS_SOFTWARE=1 "$bin" train pendulum --gui --quiet \
  --set evaluation.eval_every=0 --generations 100000 --out "$run" >/dev/null 2>&1 &
app=$!
# Wait for the window's first frame (software GL can take well over 8 s here): the window
# must exist and a screenshot of it must show more than a blank background; then let training
# run a little before the final picture.
deadline=$((SECONDS + ${FIRST_FRAME_TIMEOUT:-120}))
mkdir -p "$(dirname "$out")"
while :; do
  if DISPLAY="$display" xwininfo -root -tree 2>/dev/null | grep -q '"eggroll'; then
    DISPLAY="$display" import -window root "$out" 2>/dev/null || true
    colors=$(identify -format %k "$out" 2>/dev/null || echo 0)
    if [ "${colors:-0}" -gt 50 ]; then break; fi
  fi
  if ! kill -0 "$app" 2>/dev/null; then
    echo "the dashboard ($bin) exited before its first frame" >&2; exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "no dashboard frame within ${FIRST_FRAME_TIMEOUT:-120} s" >&2; exit 1
  fi
  sleep 1
done
sleep "${SECONDS_TO_TRAIN:-6}"
DISPLAY="$display" import -window root "$out"
kill -INT "$app" 2>/dev/null || true
sleep 1
kill "$app" 2>/dev/null || true
echo "saved $out"
