#!/usr/bin/env bash
# HTTP put (durable and not) and get throughput and latency over loopback,
# measured with wrk against writerd and readerd on a file:// bucket, next to
# the embedded API on the same kind of bucket (`isle bench`), so the HTTP
# overhead is visible. Results go to docs/BENCHMARKS.md by hand, with this
# command line.
#
#   bench/http/http_bench.sh [BUILD_DIR]   (default build; needs wrk, curl)
# Environment: DURATION (10s), CONNS (16), THREADS (1 wrk thread: the
# machine has 2 cores and the daemon needs one), KEYS (100000),
# VALUE_SIZE (100), ROUNDS (3: each figure is the median of the rounds).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:-build}")/bin
for p in writerd readerd isle; do
  [[ -x $bin/$p ]] || { echo "missing $bin/$p: build first (scripts/build.sh)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
DURATION=${DURATION:-10s} CONNS=${CONNS:-16} THREADS=${THREADS:-1}
export KEYS=${KEYS:-100000} VALUE_SIZE=${VALUE_SIZE:-100}
ROUNDS=${ROUNDS:-3}

dir=$(mktemp -d /tmp/isle-http-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

start() {  # start NAME extra-args... ; sets $addr
  local name=$1; shift
  "$bin/$name" --set "store.url=file://$dir/bucket" --set server.listen=127.0.0.1:0 \
    --set "server.address_file=$dir/$name.addr" --set log.access=false --set log.level=warn \
    "$@" 2>>"$dir/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do [[ -s $dir/$name.addr ]] && break; sleep 0.1; done
  addr=$(cat "$dir/$name.addr")
}

# wrk's summary -> "req/s p50 p99" (latencies in ms).
run_wrk() {  # run_wrk URL SCRIPT [QUERY]
  QUERY=${3:-} wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$2" "$1" |
    awk '/Requests\/sec/ {rps=$2}
         /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
         function ms(x) { if (x ~ /us$/) return x/1000; if (x ~ /ms$/) return x+0; if (x ~ /s$/) return x*1000; return x }
         END {printf "%.0f %.3f %.3f\n", rps, ms(p50), ms(p99)}'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
report() {  # report LABEL "rps p50 p99" lines...
  local label=$1; shift
  printf '%-34s %10s req/s  p50 %8s ms  p99 %8s ms\n' "$label" \
    "$(printf '%s\n' "$@" | awk '{print $1}' | median)" \
    "$(printf '%s\n' "$@" | awk '{print $2}' | median)" \
    "$(printf '%s\n' "$@" | awk '{print $3}' | median)"
}

start writerd; w=$addr
start readerd --set reader.refresh_interval=1s; r=$addr
echo "writerd $w, readerd $r, bucket $dir/bucket; wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, values $VALUE_SIZE B"

nd=() d=() g=()
for i in $(seq "$ROUNDS"); do
  nd+=("$(run_wrk "http://$w" bench/http/put.lua '?durable=false')")
  d+=("$(run_wrk "http://$w" bench/http/put.lua)")
done

# Load KEYS keys for the gets, flush, and let the reader see them.
python3 - "$w" <<'PY'
import os, sys, urllib.request
w, n, size = sys.argv[1], int(os.environ["KEYS"]), int(os.environ["VALUE_SIZE"])
val = "v" * size
for start in range(0, n, 5000):
    body = "".join('{"op":"put","key":"key-%08d","value":"%s"}\n' % (i, val)
                   for i in range(start, min(n, start + 5000))).encode()
    urllib.request.urlopen(urllib.request.Request("http://%s/v1/batch?durable=false" % w, body, method="POST")).read()
urllib.request.urlopen(urllib.request.Request("http://%s/v1/flush" % w, b"", method="POST")).read()
PY
curl -fsS -X POST "http://$r/v1/refresh" >/dev/null
run_wrk "http://$r" bench/http/get.lua >/dev/null  # warm the block cache
for i in $(seq "$ROUNDS"); do g+=("$(run_wrk "http://$r" bench/http/get.lua)"); done

echo
echo "HTTP over loopback (wrk, $CONNS connections):"
report "PUT durable=false (writerd)" "${nd[@]}"
report "PUT durable (writerd)" "${d[@]}"
report "GET, cached (readerd)" "${g[@]}"
echo
echo "Embedded API on the same kind of bucket (isle bench, $CONNS threads):"
"$bin/isle" --store "file://$dir/embedded" bench --ops 200000 --value-size "$VALUE_SIZE" --threads "$CONNS"
"$bin/isle" --store "file://$dir/embedded-durable" bench --ops 20000 --value-size "$VALUE_SIZE" --threads "$CONNS" --durable
