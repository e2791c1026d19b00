#!/usr/bin/env bash
# Issue 15's latency table, before and after, from one run of one command.
#
#   bench/latency_before_after.sh [BUILD_DIR] [BEFORE_COMMIT]
#
# BUILD_DIR (default build) holds today's isle_engine_bench and
# isle_tail_bench. BEFORE_COMMIT (default 7c416fa, the last commit before
# issue 15) is exported with `git archive` into /tmp/isle-before-<commit>
# and its isle_tail_bench is built there once (RelWithDebInfo, tests off);
# the repository's own checkout and index are not touched.
#
# What runs, in this order, all over LatencyStore s3_standard (mem://):
#   1. BM_DurablePut, today's binary: config 0 (inline off, one flush in
#      flight, no hedging: the commit path before issue 15) and config 1
#      (today's defaults), 1 and 8 threads;
#   2. BM_TailLatency and BM_IdleRequests of the BEFORE binary (the tailer,
#      writer and reader as they were);
#   3. BM_TailLatency and BM_IdleRequests of today's binary (config 0 rows:
#      today's tailer behind the old commit path; config 1: everything new).
# Output: one directory under /tmp/isle-latency-<date> with each binary's
# stdout (the tables) and stderr (latency breakdowns), and a summary of the
# p50/p99/throughput counters on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BEFORE=${2:-7c416fa}
OUT=/tmp/isle-latency-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"

BDIR=/tmp/isle-before-$BEFORE
if [[ ! -x $BDIR/build/bin/isle_tail_bench ]]; then
  echo "building isle_tail_bench at $BEFORE in $BDIR" >&2
  rm -rf "$BDIR" && mkdir -p "$BDIR"
  git archive "$BEFORE" | tar -x -C "$BDIR"
  cmake -S "$BDIR" -B "$BDIR/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DISLE_BUILD_TESTS=OFF >/dev/null
  ninja -C "$BDIR/build" -j2 isle_tail_bench >/dev/null
fi
ninja -C "$BUILD" -j2 isle_engine_bench isle_tail_bench >/dev/null

run() {  # name binary args...
  local name=$1; shift
  echo "== $name: $*" >&2
  "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
}
run durable_put "$BUILD/bin/isle_engine_bench" --benchmark_filter='BM_DurablePut'
run tail_before "$BDIR/build/bin/isle_tail_bench" \
  --benchmark_filter='BM_TailLatency/keys:0/refresh_ms:100/durable:1|BM_TailLatency/keys:1/refresh_ms:100/durable:0|BM_IdleRequests/s3:1/refresh_ms:1000'
run tail_after "$BUILD/bin/isle_tail_bench"

echo "# results in $OUT"
for f in durable_put tail_before tail_after; do
  echo "## $f"
  grep -E '^BM_' "$OUT/$f.out" || true
done
