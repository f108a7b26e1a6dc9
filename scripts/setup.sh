#!/usr/bin/env bash
# Installs what building and testing fapiao needs, skipping whatever is already
# there at the right version. Sourced by scripts/run.sh and scripts/test.sh.
#
#   scripts/setup.sh            everything (build + browser tests)
#   scripts/setup.sh --build    only what building the package needs
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
say() { echo "setup: $*" >&2; }

# System packages: Chromium and its driver for browser tests, a CJK font so that
# screenshots of Chinese pages are readable, Prometheus for its promtool.
if [ "$mode" = all ]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || missing+=(fonts-noto-cjk)
  # promtool checks and unit-tests deploy/prometheus/alerts.yml.
  command -v promtool >/dev/null || missing+=(prometheus)
  if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null; then
      say "apt-get install ${missing[*]}"
      SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
      $SUDO apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
    else
      say "please install: ${missing[*]} (Chromium, ChromeDriver, Noto CJK fonts, Prometheus's promtool)"; exit 1
    fi
  fi
fi

# Rust: the wasm32 target, and wasm-bindgen-cli at exactly the version of the
# wasm-bindgen crate in Cargo.lock (the two must match).
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || { say "rustup target add wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown >&2; }
wb=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb" ]; then
  say "cargo install wasm-bindgen-cli $wb (about 4 minutes, once)"
  cargo install wasm-bindgen-cli --version "=$wb" --force >&2
fi
if ! command -v wasm-pack >/dev/null; then
  say "cargo install wasm-pack (about 3 minutes, once)"
  cargo install wasm-pack --version "=0.15.1" >&2
fi

# Node tools from package-lock.json: binaryen's wasm-opt (wasm-pack finds it on
# PATH; do not use Debian's older binaryen, its output fails to load),
# playwright-core (drives the system Chromium; it never downloads a browser),
# TypeScript and Vite for the packaging tests.
if [ ! -x node_modules/.bin/wasm-opt ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
