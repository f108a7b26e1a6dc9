#!/usr/bin/env bash
# Builds the npm package into pkg/, in parts (scripts/pkg-parts.mjs lists them):
# for each part, the crate with that part's cargo features (the `wasm` profile,
# tuned for size) → wasm-bindgen (the exact version of the crate's wasm-bindgen)
# → wasm-opt (from the npm `binaryen` package) → pkg/wasm/<part>.js and
# pkg/wasm/<part>_bg.wasm; then the entry modules of every part (minified, with
# the lean boundary's js/*.js), precompressed copies for servers that serve .gz files, and the
# size report, which fails above scripts/size-budget.json.
#   bash scripts/build-pkg.sh            every part
#   bash scripts/build-pkg.sh taxid qr   only these (the size check is skipped)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
target=${CARGO_TARGET_DIR:-target}
mkdir -p pkg/wasm

# The flags match what current rustc emits for wasm32; --low-memory-unused lets
# wasm-opt fold constant offsets into loads and stores (about 1 KB gzipped):
# nothing lives in the first 1 KB of memory, the far end of the 1 MB stack (the
# crate's JSON reader, its only recursion, stops at a depth of 32).
opt=(--low-memory-unused --enable-bulk-memory --enable-nontrapping-float-to-int
     --enable-sign-ext --enable-mutable-globals)

only=("$@")
# Each part with its cargo profile: `wasm` (size, wasm-opt -Oz) or `wasm-speed`
# (speed, -O3; the batch part).
while read -r part features profile; do
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $part "* ]]; then continue; fi
  echo "build-pkg: $part (features: $features, profile: $profile)" >&2
  cargo build --quiet --lib --target wasm32-unknown-unknown --profile "$profile" \
    --no-default-features --features "$features"
  wasm-bindgen --target web --out-dir pkg/wasm --out-name "$part" \
    "$target/wasm32-unknown-unknown/$profile/fapiao.wasm"
  level=-Oz
  [ "$profile" = wasm-speed ] && level=-O3
  wasm-opt "$level" "${opt[@]}" "pkg/wasm/${part}_bg.wasm" -o "pkg/wasm/${part}_bg.wasm"
done < <(node scripts/pkg-parts.mjs list)

node scripts/pkg-parts.mjs entries
# Every module minified (the lean boundary's JavaScript side, js/*.js, comes in
# here); the TypeScript declarations keep the documentation.
cp js/*.js pkg/
for f in pkg/*.js pkg/wasm/*.js; do
  esbuild "$f" --minify --format=esm --legal-comments=none --log-level=warning --outfile="$f" --allow-overwrite
done
cp LICENSE-MIT LICENSE-APACHE pkg/
# The 说明 of the tax classification codes ship beside the modules, not inside them.
cp data/tax-codes-descriptions.txt pkg/
# The region names for the light parts (loadRegionNames): data/regions.txt from
# its third line, one name a line in code order (src/region.rs checks the count).
grep -v '^#' data/regions.txt | tail -n +3 > pkg/wasm/region-names.txt
# Precompressed copies for servers that serve .gz files (fapiao-proxy does); not
# in the npm package's files.
for f in pkg/*.js pkg/wasm/*.js pkg/wasm/*.wasm pkg/wasm/*.txt; do gzip -9 -k -f "$f"; done
if [ ${#only[@]} -eq 0 ]; then
  node scripts/pkg-parts.mjs sizes --check >&2
fi
