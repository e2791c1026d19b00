#!/usr/bin/env bash
# The durable-put and tail-latency benchmarks against Ceph RGW through
# isle-proxy with the s3_standard profile (bench/proxy/s3_standard.yaml):
# the same figures as over LatencyStore, on a real server.
#
#   bench/proxy/rgw_latency.sh [BUILD_DIR]        (default build)
#
# Starts RGW if it is not running (scripts/objstores/start-ceph-rgw.sh),
# starts BUILD_DIR/bin/isle-proxy in front of it, points
# ISLE_BENCH_STORE_URL at the proxy (bench/proxy/bench_store_url.h), runs
# BM_DurablePut (isle_engine_bench) and BM_TailLatency (isle_tail_bench),
# then stops the proxy (SIGTERM; its stats line ends its log).
#
# Environment: PROXY_PORT (17480), PROXY_CONFIG (bench/proxy/s3_standard.yaml),
# DURABLE_FILTER (BM_DurablePut), TAIL_FILTER (BM_TailLatency), DIRECT=1 to
# run the same benchmarks against RGW without the proxy (the server's own
# latency, for comparison), OUT (a directory for the logs; default a temp dir).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
PROXY_PORT=${PROXY_PORT:-17480}
PROXY_CONFIG=${PROXY_CONFIG:-$HERE/s3_standard.yaml}
DURABLE_FILTER=${DURABLE_FILTER:-BM_DurablePut}
TAIL_FILTER=${TAIL_FILTER:-BM_TailLatency}
OUT=${OUT:-$(mktemp -d /tmp/isle-rgw-latency.XXXXXX)}
mkdir -p "$OUT"

for bin in isle-proxy isle_engine_bench isle_tail_bench; do
  [[ -x $BUILD/bin/$bin ]] || { echo "rgw_latency.sh: $BUILD/bin/$bin is missing (ninja -C $BUILD $bin)" >&2; exit 1; }
done

bash "$ROOT/scripts/objstores/start-ceph-rgw.sh"
set -a
# shellcheck disable=SC1091
. "${ISLE_OBJSTORES_DIR:-/tmp/isle-objstores}/s3.env"
set +a

# ISLE_TEST_S3_URL with its endpoint replaced.
url_with_endpoint() {
  local url=$ISLE_TEST_S3_URL ep=$1
  echo "$url" | sed -E "s#endpoint=[^&]*#endpoint=$ep#"
}

PROXY_PID=
stop_proxy() {
  if [[ -n $PROXY_PID ]]; then
    kill -TERM "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=
  fi
}
trap stop_proxy EXIT

run_benches() {
  local tag=$1
  echo "== $tag: ISLE_BENCH_STORE_URL=$ISLE_BENCH_STORE_URL" >&2
  "$BUILD/bin/isle_engine_bench" --benchmark_filter="$DURABLE_FILTER" \
    --benchmark_counters_tabular=true 2>&1 | tee "$OUT/$tag-durable.txt"
  "$BUILD/bin/isle_tail_bench" --benchmark_filter="$TAIL_FILTER" \
    --benchmark_counters_tabular=true 2>&1 | tee "$OUT/$tag-tail.txt"
}

if [[ ${DIRECT:-0} == 1 ]]; then
  export ISLE_BENCH_STORE_URL
  ISLE_BENCH_STORE_URL=$(url_with_endpoint "$ISLE_TEST_S3_ENDPOINT")
  run_benches direct
fi

"$BUILD/bin/isle-proxy" --config "$PROXY_CONFIG" --listen "127.0.0.1:$PROXY_PORT" \
  2>"$OUT/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$OUT/proxy.log" 2>/dev/null && break
  kill -0 "$PROXY_PID" 2>/dev/null || { cat "$OUT/proxy.log" >&2; exit 1; }
  sleep 0.1
done
export ISLE_BENCH_STORE_URL
ISLE_BENCH_STORE_URL=$(url_with_endpoint "http://127.0.0.1:$PROXY_PORT")
run_benches proxy
stop_proxy
echo "== isle-proxy: $(grep 'stats:' "$OUT/proxy.log" || echo 'no stats line')" >&2
echo "== logs in $OUT" >&2
