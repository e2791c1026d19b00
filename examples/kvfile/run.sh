#!/usr/bin/env bash
# The kvfile walkthrough, every step its own process and every answer
# checked (scripts/test.sh runs it; so can you, see README.md here). It
# uses a fresh folder under /tmp and removes it at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
kv=${ISLE_BUILD_DIR:-build}/bin/kvfile
dir=$(mktemp -d /tmp/isle-kvfile.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "folder $dir"

fail() { echo "kvfile: FAILED: $*" >&2; exit 1; }
expect() {  # expect WANT COMMAND...: COMMAND's stdout must equal WANT
  local want=$1 got
  shift
  got=$("$kv" "$dir" "$@") || fail "kvfile $* exited $?"
  [[ $got == "$want" ]] || fail "kvfile $*: expected '$want', got '$got'"
  echo "\$ kvfile DIR $*"$'\n'"$got"
}

"$kv" "$dir" put greeting "hello, world" | grep -q '^ok seq=' || fail "put greeting"
"$kv" "$dir" put user/1 alice >/dev/null
"$kv" "$dir" put user/2 bob >/dev/null
"$kv" "$dir" put user/3 carol >/dev/null
"$kv" "$dir" put user/2 bobby >/dev/null   # an overwrite: the newest wins
expect "hello, world" get greeting
expect "bobby" get user/2
expect $'user/1\talice\nuser/2\tbobby\nuser/3\tcarol' scan user/
"$kv" "$dir" del user/1 >/dev/null
# A deleted key reads as absent: get exits 1 and prints nothing.
if out=$("$kv" "$dir" get user/1 2>/dev/null); then fail "get user/1 after del: found '$out'"; fi
rc=0; "$kv" "$dir" get user/1 >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "get of a deleted key exited $rc, not 1"
expect $'greeting\thello, world\nuser/2\tbobby\nuser/3\tcarol' scan
# Bad input is a usage error (exit 2), never a crash.
rc=0; "$kv" "$dir" put onlykey >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "put without a value exited $rc, not 2"
echo "kvfile: ok"
