#!/usr/bin/env bash
# Runs every test of the repository, installing what a fresh machine lacks first:
#   bash scripts/test.sh
# Native unit, integration and doc tests (the proxy's on SQLite and on a throw-away
# PostgreSQL server, with the 20,000-order fault-injection run); the wasm boundary tests in Node and in
# headless Chromium; the npm package installed from its tarball and used from
# Node, from TypeScript, from a plain page and from a Vite build in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step() { echo; echo "==> $*"; }
run() { "$@" 2>&1 | tee -a "$log"; }

step "setup"
bash scripts/setup.sh

step "formatting and lints: cargo fmt --all --check, cargo clippy --workspace --all-targets -D warnings"
run cargo fmt --all --check
run cargo clippy --workspace --all-targets -- -D warnings

step "Prometheus alert rules: promtool check rules, promtool test rules"
run promtool check rules deploy/prometheus/alerts.yml
run promtool test rules deploy/prometheus/alerts.test.yml

step "native tests (cargo test --workspace), with a throw-away PostgreSQL server"
# scripts/with-postgres.sh starts the server (installing PostgreSQL if missing),
# sets FAPIAO_TEST_POSTGRES for the PostgreSQL tests, and stops it afterwards.
run bash scripts/with-postgres.sh bash -c '
  set -e
  cargo test --workspace -- --skip orders_survive_provider_faults
  echo; echo "==> the proxy API, crash, hostile-input, webhook/archive, probe, provider-conformance and alert tests again, on PostgreSQL"
  FAPIAO_TEST_BACKEND=postgres cargo test -p fapiao-proxy --test api --test crash --test batch --test hostile --test hooks --test probe --test conformance --test baiwang --test alerts --test sellers
  echo; echo "==> fault injection: 20,000 orders, three instances, SIGKILLs (proxy/tests/faults.rs)"
  cargo test -p fapiao-proxy --test faults -- --nocapture'

step "build the npm package"
bash scripts/build-pkg.sh

step "wasm tests in Node"
run wasm-pack test --node --mode no-install -- --test wasm_node

step "wasm tests in headless Chromium"
CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver)} \
  run wasm-pack test --headless --chrome --mode no-install -- --test wasm_browser

step "the package as users install it (npm pack, then import by name)"
dest=$(mktemp -d)
(cd pkg && npm pack --silent --pack-destination "$dest" >/dev/null)
tarball=$(ls "$dest"/fapiao-*.tgz)
npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$tarball"
run tsc -p tests/js/tsconfig.json && echo "tsc: 1 passed, 0 failed" | tee -a "$log"
run node --test --test-concurrency=1 tests/js/node.test.mjs tests/js/readme.test.mjs tests/js/browser.test.mjs tests/js/pages.test.mjs tests/js/batch.test.mjs

# One closing line over all runners.
passed=$(( $(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}') \
  + $(grep -E '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}') \
  + $(grep -E '^tsc: 1 passed' "$log" | wc -l) ))
failed=$(( $(grep -oE '[0-9]+ failed' "$log" | grep -v '^0 ' | awk '{s+=$1} END {print s+0}') \
  + $(grep -E '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}') ))
echo
echo "all tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
