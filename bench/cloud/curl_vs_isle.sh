#!/usr/bin/env bash
# Our S3 client (isle_store_bench over isle::open_object_store) against curl
# on the same S3 server and the same objects: whole-object GET and PUT of
# small and large objects, sequential (one connection, one request at a
# time) and parallel (THREADS at once). Results go to docs/BENCHMARKS.md by
# hand, with this command line.
#
#   set -a; . /tmp/isle-objstores/s3.env; set +a   # or any s3:// URL + keys
#   bench/cloud/curl_vs_isle.sh [BUILD_DIR]          (default build)
#
# Environment: ISLE_TEST_S3_URL (s3://BUCKET?endpoint=http://...&region=...
# &path_style=true; path style only), AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY; ROUNDS (3), THREADS (16), SIZES ("4096 8388608"),
# OBJECTS (16 objects per size, requests cycle over them), and requests per
# phase: SEQ_SMALL (200), PAR_SMALL (800), GET_SEQ_LARGE (32),
# GET_PAR_LARGE (192), PUT_SEQ_LARGE (16), PUT_PAR_LARGE (48), where "small"
# is any size below 1 MiB (large parallel GETs run 12 per thread: the first
# GETs of each thread touch fresh memory for their 8 MiB results, which
# costs ~1 s of CPU here, and a steady state is what a daemon sees);
# CURL_RANGE (1: GETs also run a third contender, "curl+range", curl
# sending the same `Range: bytes=0-(PART-1)`
# our store sends on a whole-object GET; PART = 8388608, the store's default
# part_size); ISLE_STORE_BENCH (default BUILD_DIR/bin/isle_store_bench: to
# compare another build of our client); AFTER_PUT (a command run after every
# PUT run, outside the timing).
#
# Every PUT overwrites an object, and RGW keeps the old data until its
# garbage collector runs (by default 2 hours later), so the large PUTs leave
# ~0.4 GB of garbage per run: a memstore RGW (2 GiB by default) fills up
# within one round and then blocks every write. Against such a server pass
#   AFTER_PUT="radosgw-admin -c /tmp/isle-objstores/ceph/ceph.conf -n client.rgw.isle gc process --include-all"
#
# Fairness:
#   * curl runs one invocation per phase with every URL of the phase in a
#     config file, so it reuses its connection(s) the way a pooled client
#     does (sequential: one connection; parallel: --parallel --parallel-max
#     THREADS, which opens THREADS connections and reuses them). Both start
#     with no open connection (isle opens its store with check=false).
#   * Both sign with SigV4 and send x-amz-content-sha256 = the real SHA-256
#     of the body (curl's is computed once here, outside the timing; ours is
#     computed per request, as the store does). curl keeps its `Expect:
#     100-continue` on bodies over 1 MiB (an empty `Expect:` header would
#     enter curl's SigV4 signed headers and fail): RGW answers it at once,
#     so it costs curl one loopback round trip, which is noise next to
#     an 8 MiB body.
#   * curl's body comes from a file (page cache) and its GET bodies go to
#     /dev/null; ours are in memory (the GET result is a std::string).
#   * Latency is per request: curl's %{time_total}, our clock around
#     get()/put(). Throughput is requests / span, the span running from the
#     start of the first request to the end of the last (curl's process
#     start-up, ~0.1 s here, is left out: each transfer's end is timestamped
#     as curl reports it on stderr, and its start is that minus time_total).
#   * Rounds interleave the contenders: for each phase, curl, isle, curl,
#     isle, ...; each figure is the median over the rounds.
set -euo pipefail
cd "$(dirname "$0")/../.."
bench_bin=${ISLE_STORE_BENCH:-$(realpath "${1:-build}")/bin/isle_store_bench}
[[ -x $bench_bin ]] || {
  echo "missing $bench_bin: build the isle_store_bench target first" >&2; exit 1; }
: "${ISLE_TEST_S3_URL:?set ISLE_TEST_S3_URL (. /tmp/isle-objstores/s3.env)}"
: "${AWS_ACCESS_KEY_ID:?}" "${AWS_SECRET_ACCESS_KEY:?}"
ROUNDS=${ROUNDS:-3} THREADS=${THREADS:-16} SIZES=${SIZES:-"4096 8388608"} OBJECTS=${OBJECTS:-16}
SEQ_SMALL=${SEQ_SMALL:-200} PAR_SMALL=${PAR_SMALL:-800}
GET_SEQ_LARGE=${GET_SEQ_LARGE:-32} GET_PAR_LARGE=${GET_PAR_LARGE:-192}
PUT_SEQ_LARGE=${PUT_SEQ_LARGE:-16} PUT_PAR_LARGE=${PUT_PAR_LARGE:-48}
AFTER_PUT=${AFTER_PUT:-}
CURL_RANGE=${CURL_RANGE:-1} PART=8388608

# s3://BUCKET?endpoint=E&region=R&... -> bucket, endpoint, region.
url=$ISLE_TEST_S3_URL
bucket=${url#s3://}; bucket=${bucket%%\?*}
query=${url#*\?}
param() { tr '&' '\n' <<<"$query" | sed -n "s/^$1=//p" | head -1; }
endpoint=$(param endpoint); region=$(param region); region=${region:-${AWS_REGION:-us-east-1}}
[[ -n $endpoint ]] || { echo "ISLE_TEST_S3_URL needs endpoint=" >&2; exit 1; }
isle_url="$url&check=false"
prefix="bench-curl-vs-isle-$$"

dir=$(mktemp -d /tmp/isle-curl-vs-isle.XXXXXX)
cleanup() {
  for size in $SIZES; do
    "$bench_bin" --url "$isle_url" --cleanup --size "$size" --objects "$OBJECTS" \
      --prefix "$prefix" >/dev/null 2>&1 || true
  done
  if [[ -n $AFTER_PUT ]]; then bash -c "$AFTER_PUT" >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# Turns curl's per-transfer lines "CODE TIME_TOTAL" (on stdin, as they are
# written) into the same summary line isle_store_bench prints.
# It starts (python takes up to seconds on a loaded machine) before curl
# does: it creates READY, then opens the FIFO curl writes to.
cat >"$dir/stamp.py" <<'PY'
import math, sys, time
tool, op, size, threads, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fifo, ready = sys.argv[6], sys.argv[7]
lat, starts, ends, errors, other = [], [], [], 0, []
open(ready, "w").close()
for line in open(fifo, "rb"):
    now = time.monotonic()
    parts = line.split()
    try:
        code, total = int(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        other.append(line.decode(errors="replace").rstrip())
        continue
    if not 200 <= code < 300:
        errors += 1
    lat.append(total * 1000.0)
    starts.append(now - total)
    ends.append(now)
def pct(v, p):
    v = sorted(v)
    return v[min(max(math.ceil(p / 100 * len(v)), 1), len(v)) - 1] if v else 0.0
errors += n - len(lat)
span = (max(ends) - min(starts)) if lat else float("nan")
rps = len(lat) / span if lat else 0.0
for o in other[:3]:
    print("curl said: " + o, file=sys.stderr)
print("%s %s %d %d n=%d errors=%d p50_ms=%.3f p99_ms=%.3f span_s=%.4f req_s=%.1f MB_s=%.2f"
      % (tool, op, size, threads, len(lat), errors, pct(lat, 50), pct(lat, 99), span, rps, rps * size / 1e6))
PY

empty_sha=$(sha256sum </dev/null | cut -d' ' -f1)

run_curl() {  # run_curl curl|curl+range OP SIZE THREADS N
  local tool=$1; shift
  local op=$1 size=$2 threads=$3 n=$4 cfg="$dir/curl.cfg" sha=$empty_sha kind=get
  [[ $op == put ]] && { sha=$(sha256sum <"$dir/body-$size" | cut -d' ' -f1); kind=put; }
  : >"$cfg"
  for ((i = 0; i < n; i++)); do
    echo "url = \"$endpoint/$bucket/$prefix/$kind-$size-$((i % OBJECTS))\""
    [[ $op == put ]] && echo "upload-file = \"$dir/body-$size\""
    echo 'output = "/dev/null"'
  done >>"$cfg"
  local par=()
  ((threads > 1)) && par=(--parallel --parallel-immediate --parallel-max "$threads")
  [[ $tool == curl+range ]] && par+=(--range "0-$((PART - 1))")
  rm -f "$dir/fifo" "$dir/ready"
  mkfifo "$dir/fifo"
  python3 "$dir/stamp.py" "$tool" "$op" "$size" "$threads" "$n" "$dir/fifo" "$dir/ready" &
  local stamper=$!
  while [[ ! -e $dir/ready ]]; do sleep 0.01; done
  curl --no-progress-meter --max-time 120 "${par[@]}" --aws-sigv4 "aws:amz:$region:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: $sha" \
    -w '%{stderr}%{http_code} %{time_total}\n' -K "$cfg" 2>"$dir/fifo" >/dev/null || true
  wait "$stamper"
}

run_isle() {  # run_isle OP SIZE THREADS N
  "$bench_bin" --url "$isle_url" --op "$1" --size "$2" --threads "$3" \
    --requests "$4" --objects "$OBJECTS" --prefix "$prefix"
}

echo "server $endpoint bucket $bucket (prefix $prefix), $ROUNDS rounds, $THREADS-way parallel, $OBJECTS objects per size"
echo "client $bench_bin; $(curl --version | head -1)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
for size in $SIZES; do
  # The same bytes for both contenders (the bench's payload), and the GET objects.
  "$bench_bin" --dump-payload "$dir/body-$size" --size "$size"
  "$bench_bin" --url "$isle_url" --prepare --size "$size" --objects "$OBJECTS" \
    --prefix "$prefix"
done

log="$dir/rounds.txt"
for size in $SIZES; do
  for op in get put; do
    if ((size < 1048576)); then
      seq_n=$SEQ_SMALL par_n=$PAR_SMALL
    elif [[ $op == get ]]; then
      seq_n=$GET_SEQ_LARGE par_n=$GET_PAR_LARGE
    else
      seq_n=$PUT_SEQ_LARGE par_n=$PUT_PAR_LARGE
    fi
    for mode in 1 "$THREADS"; do
      n=$seq_n; ((mode > 1)) && n=$par_n
      for ((r = 1; r <= ROUNDS; r++)); do
        run_curl curl "$op" "$size" "$mode" "$n" | tee -a "$log"
        if [[ $op == put && -n $AFTER_PUT ]]; then bash -c "$AFTER_PUT" >/dev/null 2>&1 || true; fi
        if [[ $op == get && $CURL_RANGE == 1 ]]; then
          run_curl curl+range "$op" "$size" "$mode" "$n" | tee -a "$log"
        fi
        run_isle "$op" "$size" "$mode" "$n" | tee -a "$log"
        if [[ $op == put && -n $AFTER_PUT ]]; then bash -c "$AFTER_PUT" >/dev/null 2>&1 || true; fi
      done
    done
  done
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$log" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) < 5 or p[0] not in ("curl", "curl+range", "isle"):
        continue
    kv = dict(x.split("=") for x in p[4:])
    runs.setdefault((p[1], int(p[2]), int(p[3])), {}).setdefault(p[0], []).append(kv)
def med(rows, k):
    return statistics.median(float(r[k]) for r in rows)
def size_name(s):
    return "%d MiB" % (s >> 20) if s >= 1 << 20 and s % (1 << 20) == 0 else \
           "%d KiB" % (s >> 10) if s % 1024 == 0 else "%d B" % s
def table(ref, title):
    rows = [(k, d) for k, d in runs.items() if d.get(ref) and d.get("isle")]
    if not rows:
        return
    print(title)
    print()
    print("| operation | size | mode | %s p50 ms | isle p50 ms | p50 isle/%s | %s p99 ms | isle p99 ms "
          "| %s req/s | isle req/s | req/s isle/%s | %s MB/s | isle MB/s | errors |" % ((ref,) * 6))
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (op, size, t), d in rows:
        c, i = d[ref], d["isle"]
        cp50, ip50 = med(c, "p50_ms"), med(i, "p50_ms")
        crps, irps = med(c, "req_s"), med(i, "req_s")
        print("| %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f | %.2f | %.1f | %.1f | %d/%d |" % (
            op.upper(), size_name(size), "sequential" if t == 1 else "%d-way" % t,
            cp50, ip50, ip50 / cp50, med(c, "p99_ms"), med(i, "p99_ms"),
            crps, irps, irps / crps, med(c, "MB_s"), med(i, "MB_s"),
            sum(int(r["errors"]) for r in c), sum(int(r["errors"]) for r in i)))
    print()
table("curl", "curl (plain whole-object GET/PUT) vs isle; medians over the rounds:")
table("curl+range", "GETs only: curl sending the Range header isle sends vs isle:")
PY
