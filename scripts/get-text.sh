#!/usr/bin/env bash
# Fetch a real English corpus for `eggroll train charlm` into data/text/ (or DEST): the plain
# text of Debian's `fortunes` package (fortune-mod 1.99.1, BSD licence; about 2.5 MB of
# quotations, jokes and literature excerpts), from the Debian archive with `apt-get download`.
#
#   scripts/get-text.sh [DEST]
#
# The files of /usr/share/games/fortunes without an extension (the .dat indices and .u8 links
# are skipped) are concatenated in name order and split by bytes: the first 90% train.txt,
# the next 5% valid.txt, the last 5% test.txt.
set -euo pipefail
dest="${1:-data/text}"
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
echo "fetching Debian's fortunes package (about 0.9 MB)..." >&2
apt-get download fortunes >/dev/null 2>&1 || {
  echo "apt-get download fortunes failed; run 'apt-get update' first (needs the Debian archive)" >&2
  exit 1
}
dpkg-deb -x fortunes_*.deb x
src=x/usr/share/games/fortunes
find "$src" -maxdepth 1 -type f ! -name '*.*' | LC_ALL=C sort | xargs cat > all.txt
cd - >/dev/null
python3 - "$tmp/all.txt" "$dest" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
assert len(data) >= 1_000_000, f"only {len(data)} bytes"
a, b = int(len(data) * 0.90), int(len(data) * 0.95)
for name, part in (("train", data[:a]), ("valid", data[a:b]), ("test", data[b:])):
    open(f"{sys.argv[2]}/{name}.txt", "wb").write(part)
print(f"{len(data)} bytes: train {a}, valid {b - a}, test {len(data) - b} in {sys.argv[2]}")
PY
