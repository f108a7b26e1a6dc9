#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each); not part of CI.
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
#   bash fuzz/run.sh [seconds] [target…]
# Crashes land in fuzz/artifacts/<target>/; add each as a regression test.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tax_id amount request token from_json)
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  echo "== $t (${secs}s)"
  dict=()
  [ "$t" = tax_id ] || dict=(-dict=dict/invoice.dict)
  if ! cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 "${dict[@]}" 2>&1 | tee "artifacts-$t.log" | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==|SUMMARY|panicked)'; then
    :
  fi
  if grep -q -E 'SUMMARY|panicked|deadly signal' "artifacts-$t.log"; then
    echo "!! $t found a crash: see fuzz/artifacts/$t/ and fuzz/artifacts-$t.log"
    status=1
  fi
done
exit "$status"
