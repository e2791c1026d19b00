#!/usr/bin/env bash
# The wal-azure walkthrough, each step its own process, every step checked
# (scripts/test.sh runs it; so can you, see README.md here):
#   1. run 1 appends LSN 1..300 and exits;
#   2. a follower starts tailing from LSN 1 and waits for LSN 600;
#   3. run 2 (a new process) recovers the log, continues at LSN 301 and
#      appends up to 600; the follower must receive 1..600 in order;
#   4. truncate removes LSN 1..200; a replay from LSN 1 must start at 201;
#   5. run 3 appends 10 more: LSN 601..610 (truncation never resets LSNs).
# Store: $ISLE_TEST_AZURE_URL (Azurite) with AZURE_STORAGE_ACCOUNT/KEY; when
# unset they are read from /tmp/isle-objstores/azure.env. Any other store
# URL works too: WAL_URL=file:///tmp/wal-demo examples/wal-azure/run.sh
# Each run writes under a fresh prefix, so reruns never collide; on exit,
# pass or fail, that prefix is deleted again (`isle destroy`; a failed
# cleanup is a warning, not a failure).
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${ISLE_BUILD_DIR:-build}/bin
for prog in wal-azure isle; do
  if [[ ! -x $bin/$prog ]]; then
    echo "wal-azure: $bin/$prog is missing: build first (see README.md; ISLE_BUILD_DIR names another build folder)" >&2
    exit 1
  fi
done
env_file=${ISLE_OBJSTORES_DIR:-/tmp/isle-objstores}/azure.env
if [[ -z ${WAL_URL:-} && -z ${ISLE_TEST_AZURE_URL:-} && -f $env_file ]]; then
  set -a
  # shellcheck source=/dev/null
  . "$env_file"
  set +a
fi
url=${WAL_URL:-${ISLE_TEST_AZURE_URL:-}}
if [[ -z $url ]]; then
  echo "wal-azure: no store: set WAL_URL, or start Azurite (bash scripts/objstores/start-azurite.sh)" >&2
  exit 1
fi
prefix=examples/wal-azure/$(date -u +%Y%m%dT%H%M%S)-$$-$RANDOM
wal() { "$bin/wal-azure" "$url" "$prefix" "$@"; }
echo "store $url, prefix $prefix"
follower=
on_exit() {  # stop the follower, then delete the run's objects (warn only)
  [[ -z $follower ]] || kill "$follower" 2>/dev/null || true
  local out
  if out=$("$bin/isle" --store "$url" --prefix "$prefix" destroy --yes 2>&1); then
    echo "cleanup: ${out#destroy: }"
  else
    echo "wal-azure: warning: could not delete the prefix $prefix: $out" >&2
  fi
}
trap on_exit EXIT

echo "--- run 1: append LSN 1..300"
wal append 300 50

echo "--- follower: tail from LSN 1, live, until LSN 600 (in the background)"
wal replay 1 --until 600 --timeout 30 &
follower=$!

echo "--- run 2: a new process recovers and continues"
wal append 300 50
if ! wait "$follower"; then
  echo "wal-azure: the follower did not receive LSN 1..600 exactly once, in order" >&2
  exit 1
fi
follower=

echo "--- truncate everything below LSN 201, then replay from LSN 1"
wal truncate 201
wal replay 1 --expect-first 201 --expect-last 600

echo "--- run 3: appends continue after the last LSN, not after the truncation"
wal append 10
wal replay 595 --expect-first 595 --expect-last 610
wal status
echo "wal-azure: ok"
