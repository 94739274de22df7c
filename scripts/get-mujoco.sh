#!/usr/bin/env bash
# Fetch MuJoCo 4.0.1's C library and headers from PyPI, without any download at build or run time.
#
#   scripts/get-mujoco.sh [DEST]     # default: ~/.cache/eggroll/mujoco-4.0.1
#
# The `mujoco-core` wheel (a dependency of the `mujoco` wheel) ships `mujoco/libmujoco.so.4.0.1`
# and `mujoco/include/mujoco/*.h`. We take that wheel for CPython 3.11 / manylinux 2.28 x86_64
# (the C library inside does not depend on the Python version), unpack the library and the
# headers into DEST and check the version. Result:
#   DEST/lib/libmujoco.so.4.0.1, DEST/include/mujoco/*.h, DEST/VERSION
# Point eggroll at it with EGGROLL_MUJOCO_LIB=DEST/lib/libmujoco.so.4.0.1 (the default
# location is searched without it). Parity with Gymnasium depends on this exact version.
set -euo pipefail
version=4.0.1
dest="${1:-${HOME}/.cache/eggroll/mujoco-${version}}"
lib="$dest/lib/libmujoco.so.${version}"
if [ -f "$lib" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  echo "MuJoCo $version already in $dest" >&2
  echo "$lib"
  exit 0
fi
case "$(uname -m)" in
  x86_64) platform=manylinux_2_28_x86_64 ;;
  aarch64) platform=manylinux_2_28_aarch64 ;;
  *) echo "no mujoco-core $version wheel for $(uname -m)" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching the mujoco-core $version wheel from PyPI (about 10 MB)..." >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
  --platform "$platform" -d "$tmp/dl" "mujoco-core==${version}" >&2
wheel=$(find "$tmp/dl" -name "mujoco_core-${version}-*.whl" | head -n 1)
if [ -z "$wheel" ]; then echo "pip did not fetch mujoco-core ${version}" >&2; exit 1; fi
python3 - "$wheel" "$tmp/x" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist()
             if n.startswith("mujoco/include/mujoco/") or n.startswith("mujoco/libmujoco.so")]
    z.extractall(out, names)
PY
if [ ! -f "$tmp/x/mujoco/libmujoco.so.${version}" ]; then
  echo "the wheel holds no mujoco/libmujoco.so.${version}" >&2; exit 1
fi
header=$(grep -o 'mjVERSION_HEADER [0-9]*' "$tmp/x/mujoco/include/mujoco/mujoco.h" | awk '{print $2}')
want=$(echo "$version" | awk -F. '{printf "%d", $1*1000000 + $2*1000 + $3}')
if [ "$header" != "$want" ]; then
  echo "mujoco.h says version $header, expected $want ($version)" >&2; exit 1
fi
mkdir -p "$dest/lib" "$dest/include"
rm -rf "$dest/include/mujoco.tmp"
cp -r "$tmp/x/mujoco/include/mujoco" "$dest/include/mujoco.tmp"
rm -rf "$dest/include/mujoco" && mv "$dest/include/mujoco.tmp" "$dest/include/mujoco"
cp "$tmp/x/mujoco/libmujoco.so.${version}" "$lib.tmp" && mv "$lib.tmp" "$lib"
echo "$version" > "$dest/VERSION"
echo "MuJoCo $version ready in $dest" >&2
echo "$lib"
