#!/usr/bin/env bash
# Fan-out of one write to many Server-Sent-Events tails on one tailerd
# (issue 13): tailerd's RSS per idle stream, ack -> last subscriber and the
# fan-out's own spread (first -> last subscriber), CPU per write. Runs 256
# tails, then 10,000, against writerd + tailerd on a file:// bucket.
# With a second build directory (an older commit), the 256-tail case runs
# on both, interleaved, so before/after is a ratio from one run. Each round
# also measures the floor: as many loopback sends and receives with no
# IsleDB in the way (isle_fanout_bench --floor).
#
#   bench/fanout/fanout_bench.sh [BUILD_DIR [OLD_BUILD_DIR]]
# Environment: WRITES (20 per case), ROUNDS (3; each figure: the median
# round), BIG (10000 tails; 0 skips that case).
# File descriptors: BIG sockets in the bench process and BIG in tailerd,
# both under the 20,000 per-process hard limit of this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
new=$(realpath "${1:-build}")/bin
old=${2:+$(realpath "$2")/bin}
WRITES=${WRITES:-20} ROUNDS=${ROUNDS:-3} BIG=${BIG:-10000}
bench=$new/isle_fanout_bench
[[ -x $bench ]] || { echo "missing $bench: build first" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

run_case() {  # run_case BIN_DIR N LABEL
  local bin=$1 n=$2 label=$3 dir pids=()
  dir=$(mktemp -d /tmp/isle-fanout.XXXXXX)
  for name in writerd tailerd; do
    "$bin/$name" --set "store.url=file://$dir/bucket" --set server.listen=127.0.0.1:0 \
      --set "server.address_file=$dir/$name.addr" --set log.access=false --set log.level=warn \
      --set server.max_streams=$((n + 100)) --set server.max_connections=$((n + 200)) \
      2>>"$dir/$name.log" &
    pids+=($!)
    for _ in $(seq 100); do [[ -s $dir/$name.addr ]] && break; sleep 0.1; done
  done
  echo "== $label: $n tails"
  "$bench" --writer "$(cat "$dir/writerd.addr")" --tailer "$(cat "$dir/tailerd.addr")" \
    --tailer-pid "${pids[1]}" --n "$n" --writes "$WRITES" || echo "(failed; see $dir)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$dir"
}

for r in $(seq "$ROUNDS"); do
  echo "### round $r"
  [[ -n $old ]] && run_case "$old" 256 "before ($old)"
  run_case "$new" 256 "after ($new)"
  if ((BIG > 0)); then
    run_case "$new" "$BIG" "after ($new)"
    # The floor: the same number of loopback sends and receives with no
    # IsleDB at all (both ends in one process: 2 x 9,000 descriptors at
    # most under the 20,000 limit).
    floor_n=$((BIG < 9000 ? BIG : 9000))
    echo "== floor: $floor_n loopback sockets"
    "$bench" --floor --n "$floor_n" --writes "$WRITES" --threads 2
  fi
done
