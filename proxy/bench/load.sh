#!/usr/bin/env bash
# Load benchmark on loopback (not run by CI): accepted orders per second, p50/p99
# latency and proxy memory, through the sandbox provider with the durable store.
#
#   bash proxy/bench/load.sh [seconds=20] [connections=64]
#
# Needs `oha` (cargo install oha --locked) or `wrk` (apt-get install wrk). Every
# request is a new order (a fresh order id and a signed order token), so each one
# is validated, token-checked, written durably to SQLite and issued by the worker.
# BENCH_DATABASE_URL=postgres://… measures the PostgreSQL store instead, e.g.
#   bash scripts/with-postgres.sh bash -c 'BENCH_DATABASE_URL=$FAPIAO_TEST_POSTGRES bash proxy/bench/load.sh 10 64'
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
conns=${2:-64}
port=${BENCH_PORT:-18080}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cargo build --release -q -p fapiao-proxy
export FAPIAO_LISTEN=127.0.0.1:$port FAPIAO_DATABASE_URL=${BENCH_DATABASE_URL:-sqlite:$dir/bench.sqlite} \
  FAPIAO_MERCHANT_KEY=bench-merchant-key-0123456789abcdef FAPIAO_RATE_LIMIT=0 \
  FAPIAO_SANDBOX_LATENCY_MS=${FAPIAO_SANDBOX_LATENCY_MS:-5} FAPIAO_SANDBOX_ISSUE_DELAY_MS=${FAPIAO_SANDBOX_ISSUE_DELAY_MS:-200-800} \
  FAPIAO_LOG=warn FAPIAO_WORKERS=${FAPIAO_WORKERS:-64}
"${CARGO_TARGET_DIR:-target}/release/fapiao-proxy" & pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

# wrk: a Lua script that builds a new order per request from pre-minted tokens.
n=$(( secs * 8000 ))
echo "minting $n order tokens…" >&2
python3 - "$n" "$dir/orders.lua" <<'PY'
import base64, hashlib, hmac, json, sys, time
n, out = int(sys.argv[1]), sys.argv[2]
key = b"bench-merchant-key-0123456789abcdef"
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
line = {"name": "午餐", "taxCode": "3070401000000000000", "amount": "106.00", "taxRate": "0.06"}
now = int(time.time())
with open(out + ".bodies", "w") as bf, open(out, "w") as f:
    f.write("bodies = {}\nfor l in io.lines(\"%s\") do bodies[#bodies + 1] = l end\n" % (out + ".bodies"))
    for i in range(n):
        oid = f"L{now % 100000}-{i}"
        claims = {"v": 1, "merchant": "339902999999789113", "purpose": "issue", "orderId": oid, "issuedAt": now,
                  "expiresAt": now + 3600, "priceIncludesTax": True, "lines": [line], "totals": {"amountInclTax": "106.00"}}
        p = b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
        t = "FP1." + p + "." + b64(hmac.new(key, ("FP1." + p).encode(), hashlib.sha256).digest())
        body = {"request": {"schemaVersion": 1, "orderId": oid, "invoiceType": "normal",
                "buyer": {"type": "company", "name": "北京某某科技有限公司", "taxId": "91110000600037341L"},
                "priceIncludesTax": True, "lines": [line]}, "orderToken": t}
        bf.write(json.dumps(body, ensure_ascii=False) + "\n")
    f.write("""
counter = 0
request = function()
  counter = counter + 1
  local b = bodies[((counter - 1) % #bodies) + 1]
  return wrk.format("POST", "/v1/invoices", {["Content-Type"] = "application/json"}, b)
end
done = function(summary, latency, requests)
  io.write(string.format("requests %d, errors %d (non-2xx %d)\\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
  io.write(string.format("throughput %.0f req/s\\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
""")
PY
threads=$(( conns < 2 ? conns : 2 ))
# With more than one wrk thread each thread has its own counter; give each thread
# its own slice so that no order id repeats.
cat >> "$dir/orders.lua" <<'LUA'
local nthreads = 0
setup = function(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end
init = function() counter = tid * math.floor(#bodies / 2) end
LUA
if command -v wrk >/dev/null; then
  wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$dir/orders.lua" "http://127.0.0.1:$port" | tail -n 4
else
  echo "wrk not found: apt-get install wrk" >&2; exit 1
fi
echo "proxy memory (RSS): $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) MiB, peak $(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status) / 1024 )) MiB"
sleep 2
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^fapiao_(orders|order_outcomes_total|orders_accepted_total)'
