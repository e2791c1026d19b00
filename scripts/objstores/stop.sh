#!/usr/bin/env bash
# Stops the test object stores started by start-ceph-rgw.sh / start-azurite.sh.
#   usage: stop.sh [ceph|azurite|all]      (default all)
# Only the PIDs those scripts recorded are signalled, and only when the
# process still is the expected program. Then the run data and the env file
# are removed, unless KEEP_DATA=1 (the env file goes either way: it says a
# server is there).
# Same environment as the start scripts: ISLE_OBJSTORES_DIR, ISLE_CEPH_DIR,
# ISLE_AZURITE_DIR.
set -uo pipefail

BASE=${ISLE_OBJSTORES_DIR:-/tmp/isle-objstores}
CEPH_DIR=${ISLE_CEPH_DIR:-$BASE/ceph}
AZ_DIR=${ISLE_AZURITE_DIR:-$BASE/azurite}
what=${1:-all}

# alive PID: the process exists and is not a zombie.
alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# stop_pidfile GRACE_SECONDS PATTERN PIDFILE...: SIGTERM each recorded PID
# whose command line matches PATTERN, SIGKILL what is left after the grace.
stopped=0
stop_pidfiles() {
  local grace=$1 pattern=$2 f pid pids=()
  shift 2
  for f in "$@"; do
    [[ -f $f ]] || continue
    pid=$(tr -dc '0-9' <"$f")
    [[ -n $pid ]] || continue
    if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "$pattern"; then
      kill "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  ((${#pids[@]})) || return 0
  local end=$((SECONDS + grace)) any
  while ((SECONDS < end)); do
    any=0
    for pid in "${pids[@]}"; do alive "$pid" && any=1; done
    ((any)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  stopped=$((stopped + ${#pids[@]}))
}

stop_ceph() {
  stopped=0
  # radosgw first (it takes ~5 s to exit on its own and holds no state), then
  # the OSD, then the monitor: with the monitor gone the others hang.
  local grace=2
  [[ ${KEEP_DATA:-0} == 1 ]] && grace=10
  stop_pidfiles 2 'radosgw' "$CEPH_DIR"/run/client.rgw.*.pid
  stop_pidfiles "$grace" 'ceph-osd' "$CEPH_DIR"/run/osd.*.pid
  stop_pidfiles "$grace" 'ceph-mon' "$CEPH_DIR"/run/mon.*.pid
  rm -f "$BASE/s3.env"
  [[ ${KEEP_DATA:-0} == 1 ]] || rm -rf "$CEPH_DIR"
  echo "[stop] ceph: stopped $stopped daemon(s)" >&2
}

stop_azurite() {
  stopped=0
  stop_pidfiles 5 'azurite' "$AZ_DIR/azurite.pid"
  rm -f "$BASE/azure.env"
  [[ ${KEEP_DATA:-0} == 1 ]] || rm -rf "$AZ_DIR"
  echo "[stop] azurite: stopped $stopped process(es)" >&2
}

case $what in
  ceph) stop_ceph ;;
  azurite) stop_azurite ;;
  all)
    stop_ceph
    stop_azurite
    ;;
  *)
    echo "usage: $0 [ceph|azurite|all]" >&2
    exit 2
    ;;
esac
rmdir "$BASE" 2>/dev/null || true
exit 0
