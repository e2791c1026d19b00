#!/usr/bin/env bash
# The eventhub-s3 walkthrough: an event hub on S3 (the test Ceph RGW) built
# from the real daemons, every step checked (scripts/test.sh runs it; so can
# you, see README.md here).
#   1. starts writerd, tailerd, retentiond and readerd from conf/ on a fresh
#      prefix of the bucket, each on a free port;
#   2. a consumer starts reading the change feed from the beginning and
#      stops after 250 events, while three producers send 200 events each;
#   3. the consumer resumes from its stored seq and reads the other 350:
#      every acknowledged event must arrive exactly once, in seq order;
#   4. time-window retention: once the first 600 events are older than the
#      window, 50 late events are produced and a retention cycle runs; the
#      hub then holds exactly the late events, and the consumer, resuming
#      again, gets exactly those 50;
#   5. SIGTERM to every daemon; each must exit 0.
# Exit 0 = every check held. Any loss, duplicate, reordering or daemon
# failure exits 1 and prints what went wrong (and the daemons' logs).
# On exit, pass or fail, the run's prefix is deleted from the bucket again
# (`isle destroy`); a failed cleanup is a warning, not a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=examples/eventhub-s3

build=${ISLE_BUILD_DIR:-build}
for prog in writerd tailerd retentiond readerd isle; do
  if [[ ! -x $build/bin/$prog ]]; then
    echo "eventhub-s3: $build/bin/$prog is missing: build first (see README.md; ISLE_BUILD_DIR names another build folder)" >&2
    exit 1
  fi
done
for tool in jq curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "eventhub-s3: $tool is required but not installed" >&2
    exit 1
  fi
done
bin=$(realpath "$build")/bin
env_file=${ISLE_OBJSTORES_DIR:-/tmp/isle-objstores}/s3.env
if [[ -z ${ISLE_TEST_S3_URL:-} && -f $env_file ]]; then
  set -a
  # shellcheck source=/dev/null
  . "$env_file"
  set +a
fi
if [[ -z ${ISLE_TEST_S3_URL:-} ]]; then
  echo "eventhub-s3: ISLE_TEST_S3_URL is not set: start Ceph RGW (bash scripts/objstores/start-ceph-rgw.sh)" >&2
  exit 1
fi
url=$ISLE_TEST_S3_URL
prefix=examples/eventhub-s3/$(date -u +%Y%m%dT%H%M%S)-$$-$RANDOM
work=$(mktemp -d /tmp/isle-eventhub.XXXXXX)
echo "store $url, prefix $prefix, work files in $work"

# --- 1. the daemons ---------------------------------------------------------
roles=(writerd tailerd retentiond readerd)
declare -A pid
stop_daemons() {  # SIGTERM each; returns 1 unless every one exits 0
  local r rc=0 code
  for r in "${!pid[@]}"; do kill -TERM "${pid[$r]}" 2>/dev/null || true; done
  for r in "${!pid[@]}"; do
    if wait "${pid[$r]}"; then code=0; else code=$?; fi
    ((code == 0)) || { echo "eventhub-s3: $r exited $code" >&2; rc=1; }
    unset "pid[$r]"
  done
  return $rc
}
die() {
  echo "eventhub-s3: FAILED: $*" >&2
  for r in "${roles[@]}"; do
    [[ -s $work/$r.log ]] && { echo "--- $r log (last lines):" >&2; tail -n 15 "$work/$r.log" >&2; }
  done
  stop_daemons || true
  exit 1
}
remove_prefix() {  # the run's objects; only a warning when it fails
  local out
  if out=$("$bin/isle" --store "$url" --prefix "$prefix" destroy --yes 2>&1); then
    echo "cleanup: ${out#destroy: }"
  else
    echo "eventhub-s3: warning: could not delete the prefix $prefix: $out" >&2
  fi
}
trap 'stop_daemons || true; remove_prefix; rm -rf "$work"' EXIT

for r in "${roles[@]}"; do
  "$bin/$r" --config "$here/conf/$r.yaml" \
    --set "store.url=$url" --set "store.prefix=$prefix" \
    --set "server.address_file=$work/$r.addr" 2>"$work/$r.log" &
  pid[$r]=$!
done
deadline=$((SECONDS + 20))
for r in "${roles[@]}"; do
  until [[ -s $work/$r.addr ]] && curl -fsS "http://$(cat "$work/$r.addr")/readyz" >/dev/null 2>&1; do
    kill -0 "${pid[$r]}" 2>/dev/null || die "$r did not start"
    ((SECONDS < deadline)) || die "$r not ready after 20 s"
    sleep 0.1
  done
done
w=http://$(cat "$work/writerd.addr") t=http://$(cat "$work/tailerd.addr")
ret=http://$(cat "$work/retentiond.addr") rd=http://$(cat "$work/readerd.addr")
echo "daemons ready: writerd $w, tailerd $t, retentiond $ret, readerd $rd"

# The exactly-once check: the feed in $work/feed.ndjson against the keys the
# producers saw acknowledged ($work/acked.*): same set, no key twice, seq
# strictly increasing, no error lines.
check_feed() {
  local what=$1
  jq -e -s 'all(.seq != null and .op == "put")' "$work/feed.ndjson" >/dev/null ||
    die "$what: a feed line is not a put event"
  jq -e -s '[.[].seq] as $s | $s == ($s | unique)' "$work/feed.ndjson" >/dev/null ||
    die "$what: seq is not strictly increasing"
  jq -r .key "$work/feed.ndjson" | sort >"$work/got"
  sort "$work"/acked.* >"$work/want"
  local dup missing extra
  dup=$(uniq -d "$work/got" | head -n 3)
  missing=$(comm -23 "$work/want" "$work/got" | head -n 3)
  extra=$(comm -13 "$work/want" <(sort -u "$work/got") | head -n 3)
  [[ -z $dup ]] || die "$what: delivered twice: $dup"
  [[ -z $missing ]] || die "$what: acknowledged but not delivered: $missing"
  [[ -z $extra ]] || die "$what: delivered but never acknowledged: $extra"
  echo "check: $(wc -l <"$work/got") events, each acknowledged event delivered exactly once, in seq order"
}

# --- 2. a consumer stops after 250 events while three producers write --------
echo "--- consumer reads the first 250 events while 3 producers send 200 each"
bash "$here/consume.sh" "$t" "$work/feed.ndjson" 250 &
consumer=$!
producers=()
for p in alpha beta gamma; do
  bash "$here/produce.sh" "$w" "$p" 200 25 >"$work/acked.$p" &
  producers+=($!)
done
for p in "${producers[@]}"; do wait "$p" || die "a producer failed"; done
wait "$consumer" || die "the first consumer run did not get 250 events"
[[ $(wc -l <"$work/feed.ndjson") == 250 ]] || die "the consumer did not stop at 250 events"
echo "producers: $(cat "$work"/acked.* | wc -l) events acknowledged"

# --- 3. it resumes from its stored seq -------------------------------------
echo "--- consumer resumes for the other 350"
bash "$here/consume.sh" "$t" "$work/feed.ndjson" 350 || die "the resumed consumer did not get 350 events"
check_feed "after resume"

# --- 4. time-window retention ----------------------------------------------
# The window is period 3s + segment 1s: after 4.5 s every segment holding
# the first 600 events has fully aged out.
echo "--- retention: wait until the 600 events are older than the window, add 50 late ones"
sleep 4.5
bash "$here/produce.sh" "$w" late 50 25 >"$work/acked.late" || die "the late producer failed"
report=$(curl -fsS -X POST "$ret/v1/run") || die "POST /v1/run to retentiond failed"
echo "retentiond: removed $(jq '.removed | length' <<<"$report") SSTs ($(jq .removed_bytes <<<"$report") bytes)"
(($(jq '.removed | length' <<<"$report") > 0)) || die "retention removed nothing: $report"
curl -fsS -X POST "$rd/v1/refresh" >/dev/null || die "POST /v1/refresh to readerd failed"
curl -fsS "$rd/v1/scan?prefix=events/" | jq -r .key | sort >"$work/held"
sort "$work/acked.late" | cmp -s - "$work/held" ||
  die "after retention the hub should hold exactly the 50 late events; it holds $(wc -l <"$work/held")"
echo "readerd: the hub now holds exactly the 50 late events"
bash "$here/consume.sh" "$t" "$work/feed.ndjson" 50 || die "the consumer did not get the 50 late events"
check_feed "after retention"

# --- 5. clean shutdown -----------------------------------------------------
stop_daemons || die "a daemon did not exit cleanly on SIGTERM"
echo "eventhub-s3: ok"
