#!/usr/bin/env bash
# Runs all five IsleDB daemons on one machine, on a file:// bucket under
# ./var (README command 1). Installs what is needed, builds, starts
# writerd, readerd, tailerd, compactord and retentiond from conf/*.yaml,
# waits until each answers /readyz, prints the endpoints, and stays in the
# foreground. Ctrl-C (or SIGTERM) stops them cleanly: each gets SIGTERM,
# the writer commits what it buffered, and the script reports how each
# exited.
#
#   deploy/local/run.sh [--no-build] [--var DIR] [--smoke]
#     --var DIR   where the bucket, logs and caches go (default ./var)
#     --smoke     start, write/read/tail one key through the HTTP API, stop
#                 (what the README's main job check runs)
# Ports: 7001..7005 on 127.0.0.1, as in conf/. ISLE_PORT_BASE=8000 moves them.
# ISLE_BUILD_DIR (default build) is where the binaries are.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

build=1 smoke=0 var=$root/var
while (($#)); do
  case $1 in
    --no-build) build=0 ;;
    --smoke) smoke=1 ;;
    --var) var=$2; shift ;;
    *) echo "usage: $0 [--no-build] [--var DIR] [--smoke]" >&2; exit 2 ;;
  esac
  shift
done

if ((build)); then
  bash scripts/install-deps.sh
  bash scripts/build.sh "${ISLE_BUILD_DIR:-build}" >/dev/null
fi
bin=$(realpath "${ISLE_BUILD_DIR:-build}")/bin
var=$(realpath -m "$var")
mkdir -p "$var/bucket" "$var/log" "$var/run" "$var/cache"
base=${ISLE_PORT_BASE:-7000}

roles=(writerd readerd tailerd compactord retentiond)
declare -A pid
stop_all() {
  trap - INT TERM
  echo
  echo "stopping: SIGTERM to every daemon"
  for r in "${roles[@]}"; do
    [[ -n ${pid[$r]:-} ]] && kill -TERM "${pid[$r]}" 2>/dev/null || true
  done
  local rc=0
  for r in "${roles[@]}"; do
    [[ -z ${pid[$r]:-} ]] && continue
    if wait "${pid[$r]}"; then code=0; else code=$?; fi
    echo "  $r exited $code"
    ((code == 0)) || rc=1
  done
  exit $rc
}
trap stop_all INT TERM

i=1
for r in "${roles[@]}"; do
  rm -f "$var/run/$r.addr"
  extra=()
  [[ $r == readerd ]] && extra=(--set "reader.cache_dir=$var/cache/readerd")
  "$bin/$r" --config "conf/$r.yaml" \
    --set "store.url=file://$var/bucket" \
    --set "server.listen=127.0.0.1:$((base + i))" \
    --set "server.address_file=$var/run/$r.addr" \
    "${extra[@]}" 2>"$var/log/$r.log" &
  pid[$r]=$!
  i=$((i + 1))
done

deadline=$((SECONDS + 30))
for r in "${roles[@]}"; do
  until [[ -s $var/run/$r.addr ]] && curl -fsS "http://$(cat "$var/run/$r.addr")/readyz" >/dev/null 2>&1; do
    if ! kill -0 "${pid[$r]}" 2>/dev/null; then
      echo "$r failed to start; its log ($var/log/$r.log):" >&2
      tail -20 "$var/log/$r.log" >&2
      stop_all
    fi
    if ((SECONDS > deadline)); then
      echo "$r not ready after 30 s; see $var/log/$r.log" >&2
      stop_all
    fi
    sleep 0.1
  done
done

addr() { cat "$var/run/$1.addr"; }
cat <<MSG
IsleDB is running on file://$var/bucket (logs in $var/log):
  writerd     http://$(addr writerd)     PUT/DELETE /v1/kv/{key}, POST /v1/batch, POST /v1/flush
  readerd     http://$(addr readerd)     GET /v1/kv/{key}, POST /v1/mget, GET /v1/scan, GET /v1/manifest
  tailerd     http://$(addr tailerd)     GET /v1/tail (NDJSON, or SSE with Accept: text/event-stream)
  compactord  http://$(addr compactord)     POST /v1/run, POST /v1/gc
  retentiond  http://$(addr retentiond)     POST /v1/run
Every daemon: /healthz /readyz /metrics /v1/status. Try:
  curl -X PUT --data-binary world http://$(addr writerd)/v1/kv/hello
  curl http://$(addr readerd)/v1/kv/hello
  curl -N 'http://$(addr tailerd)/v1/tail?after_seq=0'
MSG

if ((smoke)); then
  w=http://$(addr writerd) r=http://$(addr readerd) t=http://$(addr tailerd)
  value="hello from $(date -u +%FT%TZ)"
  bad=0
  check() {  # check WHAT GOT WANT-SUBSTRING
    if [[ $2 == *"$3"* ]]; then echo "smoke: $1 -> $2"; else echo "smoke: $1 FAILED: got '$2'" >&2; bad=1; fi
  }
  check PUT "$(curl -fsS -X PUT --data-binary "$value" "$w/v1/kv/quickstart%2Fhello" 2>&1)" '"seq":'
  curl -fsS -X POST "$r/v1/refresh" >/dev/null
  check GET "$(curl -fsS "$r/v1/kv/quickstart%2Fhello" 2>&1)" "$value"
  check scan "$(curl -fsS "$r/v1/scan?prefix=quickstart/&limit=3" 2>&1 | head -c 300)" '"key":"quickstart/hello"'
  check tail "$(curl -sS -N --max-time 3 "$t/v1/tail?prefix=quickstart/&after_seq=0" 2>/dev/null | head -1 || true)" "$value"
  check compaction "$(curl -fsS -X POST "http://$(addr compactord)/v1/run" 2>&1)" '"compacted":'
  check retention "$(curl -fsS -X POST "http://$(addr retentiond)/v1/run" 2>&1)" '"removed":'
  if ((bad)); then
    for r in "${roles[@]}"; do kill -TERM "${pid[$r]}" 2>/dev/null || true; done
    wait || true
    exit 1
  fi
  stop_all
fi

echo "Ctrl-C stops them all."
while true; do
  for r in "${roles[@]}"; do
    if ! kill -0 "${pid[$r]}" 2>/dev/null; then
      if wait "${pid[$r]}"; then code=0; else code=$?; fi
      echo "$r exited on its own with $code (log: $var/log/$r.log)" >&2
      unset "pid[$r]"
      stop_all
    fi
  done
  sleep 1
done
