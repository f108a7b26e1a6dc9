#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (the `wasm` cargo profile, tuned for
# size, then wasm-opt from the npm `binaryen` package) for the `web` target. The
# hand-written pkg/package.json, node.js and bundler.js are kept as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# wasm-pack removes a package.json it did not write, so the hand-written files are
# set aside during the build and put back afterwards.
keep=$(mktemp -d)
trap 'rm -rf "$keep"' EXIT
cp pkg/package.json pkg/README.md pkg/node.js pkg/bundler.js "$keep"/
wasm-pack build --profile wasm --target web --out-dir pkg --out-name fapiao \
  --no-pack --no-gitignore --mode no-install . >&2
cp "$keep"/* pkg/
cp LICENSE-MIT LICENSE-APACHE pkg/
# The 说明 of the tax classification codes ship beside the module, not inside it.
cp data/tax-codes-descriptions.txt pkg/
# Precompressed copy for servers that serve .gz files (fapiao-proxy does); not in
# the npm package's files.
gzip -9 -k -f pkg/fapiao_bg.wasm
raw=$(wc -c < pkg/fapiao_bg.wasm)
gz=$(wc -c < pkg/fapiao_bg.wasm.gz)
echo "pkg/fapiao_bg.wasm: $raw bytes, $gz bytes gzipped" >&2
# The size budget (scripts/wasm-size-budget.txt): fail rather than grow unnoticed.
max_raw=$(awk '$1 == "raw" {print $2}' scripts/wasm-size-budget.txt)
max_gz=$(awk '$1 == "gzip" {print $2}' scripts/wasm-size-budget.txt)
if [ "$raw" -gt "$max_raw" ] || [ "$gz" -gt "$max_gz" ]; then
  echo "pkg/fapiao_bg.wasm is over its budget of $max_raw bytes, $max_gz bytes gzipped" \
    "(scripts/wasm-size-budget.txt)" >&2
  exit 1
fi
echo "size budget: $max_raw bytes, $max_gz bytes gzipped: within" >&2
