#!/usr/bin/env bash
# Same-machine anchor for integer EGGROLL language-model training: egg-rs (github.com/
# deltartificial/egg-rs, an integer minGRU LM trained by EGGROLL, NEON-only upstream) ported to
# x86 by replacing its NEON helpers with portable loops that LLVM vectorises
# (-C target-cpu=native), nothing else changed; then `eggroll train charlm --model egg` at
# egg-rs's configuration (width 128, 2 layers, sequence 512, population 32), both on the same
# training text for the same number of seconds, one after the other.
#
#   scripts/bench-egg.sh [EGG_RS_GIT_DIR] [SECONDS] [TEXT_DIR]
#
# EGG_RS_GIT_DIR: a git directory of egg-rs (a clone or mirror; default: clone it into a
# temporary directory). SECONDS: each side's run (default 40). TEXT_DIR: train.txt etc. from
# scripts/get-text.sh (default data/text). Prints egg-rs's last Tok/s lines and one line per
# side in egg-rs's counting (a step consumes one 512-byte sequence: tokens/s = 512 · steps/s)
# and in member-tokens/s (32 members × 512 positions per step).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${2:-40}
text=${3:-$here/data/text}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
src=${1:-}
if [ -z "$src" ]; then
  git clone -q https://github.com/deltartificial/egg-rs "$w/egg-rs-src"
  src="$w/egg-rs-src"
fi
mkdir -p "$w/egg-rs/src"
git -C "$src" show HEAD:Cargo.toml > "$w/egg-rs/Cargo.toml"
git -C "$src" show HEAD:src/main.rs > "$w/egg-rs/src/upstream.rs"
python3 - "$w/egg-rs/src/upstream.rs" "$w/egg-rs/src/main.rs" <<'PY'
import sys
s = open(sys.argv[1]).read()
s = s.replace("use std::arch::aarch64::*;\n", "")
def cut(s, start, end, body):
    a, b = s.index(start), s.index(end)
    return s[:a] + body + s[b:]
s = cut(s, "#[inline(always)]\nfn gen_noise_vector_neon", "#[inline(always)]\nfn matmul_perturbed", '''#[inline(always)]
fn gen_noise_vector_neon(rng: &mut u32, out: &mut [i8]) {
    for o in out.iter_mut() {
        let r = xorshift32(rng);
        let sign = if r & 1 != 0 { 1 } else { -1 };
        *o = sign * ((r >> 1) & 31) as i8;
    }
}

#[inline(always)]
unsafe fn dot_product_neon(a: &[i8], b: &[i8]) -> i32 {
    let len = a.len().min(b.len());
    a[..len].iter().zip(&b[..len]).map(|(&x, &y)| x as i32 * y as i32).sum()
}

''')
s = cut(s, "fn egg_ln(", "fn forward_pass(", '''fn egg_ln(x: &[i8], w: &[i8], out: &mut [i8]) {
    let sum: i32 = x[..HIDDEN_DIM].iter().map(|&v| (v as i32).abs()).sum();
    let mean = (sum / HIDDEN_DIM as i32).max(1);
    for i in 0..HIDDEN_DIM {
        out[i] = ((x[i] as i32 * w[i] as i32) / mean).clamp(MIN_VAL as i32, MAX_VAL as i32) as i8;
    }
}

''')
s = cut(s, "unsafe fn dot_product_16(", "fn update_matrix_with_buf(", '''unsafe fn dot_product_16(a: &[i8], b: &[i8]) -> i32 {
    a[..16].iter().zip(&b[..16]).map(|(&x, &y)| x as i32 * y as i32).sum()
}

''')
open(sys.argv[2], "w").write(s)
PY
rm "$w/egg-rs/src/upstream.rs"
(cd "$w/egg-rs" && RUSTFLAGS="-C target-cpu=native" cargo build --release -q 2>&1 | tail -3)
cp "$text/train.txt" "$w/egg-rs/input.txt"
echo "== egg-rs (x86 port), ${secs} s"
out=$(cd "$w/egg-rs" && timeout "$secs" ./target/release/egg-rs | grep -E "Tok/s" || true)
echo "$out" | tail -3
egg_tps=$(echo "$out" | tail -1 | sed -E 's/.*Tok\/s: ([0-9.]+).*/\1/')
echo "== eggroll train charlm --model egg at egg-rs's configuration, ${secs} s"
bin=${EGGROLL_BIN:-$here/target/release/eggroll}
line=$("$bin" train charlm --model egg --data-dir "$text" --population 32 \
  --set 'policy.hidden=[128,128]' --set data.context=512 --time-budget "$secs" \
  --out "$w/run" 2>&1 | grep -E "generations, .* evals in" | tail -1)
echo "$line"
python3 - "$line" "$egg_tps" <<'PY'
import re, sys
m = re.search(r"(\d+) generations, (\d+) evals in ([0-9.]+)s", sys.argv[1])
gens, evals, secs = int(m[1]), int(m[2]), float(m[3])
ours = gens * 512 / secs
print(f"eggroll: {gens / secs:.2f} steps/s = {ours:.0f} tokens/s (egg-rs's counting), "
      f"{evals * 512 / secs:.0f} member-tokens/s")
theirs = float(sys.argv[2]) if sys.argv[2] else float("nan")
print(f"egg-rs:  {theirs / 512:.2f} steps/s = {theirs:.0f} tokens/s, "
      f"{theirs * 32:.0f} member-tokens/s")
print(f"ratio (eggroll / egg-rs): {ours / theirs:.1f}x")
PY
