#!/usr/bin/env bash
# The main job: build the npm package and serve the demo pages that use it.
#   bash scripts/run.sh            then open http://127.0.0.1:8080/
# FAPIAO_LISTEN=host:port changes the address.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --build
bash scripts/build-pkg.sh
listen=${FAPIAO_LISTEN:-127.0.0.1:8080}
exec node scripts/serve.mjs --host "${listen%:*}" --port "${listen##*:}"
