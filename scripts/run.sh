#!/usr/bin/env bash
# The main job: build the npm package, then start fapiao-proxy with the sandbox
# provider, the embedded database (./var/fapiao.sqlite) and the demo pages — no
# provider account needed.
#   bash scripts/run.sh            then open http://127.0.0.1:8080/
# FAPIAO_LISTEN=host:port changes the address; every FAPIAO_* variable of the
# README's "Proxy" section applies (FAPIAO_PROVIDER=nuonuo for the real provider).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --build
bash scripts/build-pkg.sh
export PATH="$HOME/.cargo/bin:$PATH"
export FAPIAO_LISTEN=${FAPIAO_LISTEN:-127.0.0.1:8080}
cargo build --release -p fapiao-proxy
exec target/release/fapiao-proxy
