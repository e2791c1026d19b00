#!/usr/bin/env bash
# Starts Azurite (the Azure Blob emulator, from npm) on 127.0.0.1 for the
# tests and writes $ISLE_OBJSTORES_DIR/azure.env (default
# /tmp/isle-objstores/azure.env).
#
# Blob service only, account devstoreaccount1 with its well-known public key,
# loose mode off, telemetry off (otherwise it tries to reach an Azure host),
# data in memory. Creates the container isle-test. The env file carries an
# account SAS (blob service, rwdlac, valid to 2099) made here with openssl.
# If Azurite already answers on the port, only the container is checked and
# the env file rewritten.
#
# Installs azurite and @azure/storage-blob (pinned) with npm into a prefix
# of its own when missing, and nodejs/npm from Debian when there is no npm.
# Progress goes to stderr; on failure one line says why and where the log is.
#
# Environment:
#   ISLE_OBJSTORES_DIR     base run dir (default /tmp/isle-objstores)
#   ISLE_AZURITE_DIR       run dir (default $ISLE_OBJSTORES_DIR/azurite)
#   ISLE_AZURITE_PREFIX    npm prefix (default /opt/isle-objstores/azurite)
#   ISLE_AZURITE_PORT      blob port (default 10000)
#   ISLE_AZURITE_INMEMORY  1 (default): data in RAM; 0: under $ISLE_AZURITE_DIR/data
#   ISLE_OBJSTORES_TIMEOUT seconds to wait for the server (default 60)
# Stop with scripts/objstores/stop.sh azurite.
set -euo pipefail

BASE=${ISLE_OBJSTORES_DIR:-/tmp/isle-objstores}
DIR=${ISLE_AZURITE_DIR:-$BASE/azurite}
PREFIX=${ISLE_AZURITE_PREFIX:-/opt/isle-objstores/azurite}
PORT=${ISLE_AZURITE_PORT:-10000}
INMEMORY=${ISLE_AZURITE_INMEMORY:-1}
TIMEOUT=${ISLE_OBJSTORES_TIMEOUT:-60}
AZURITE_VERSION=3.35.0
BLOB_SDK_VERSION=12.32.0
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
CONTAINER=isle-test
ENDPOINT="http://127.0.0.1:$PORT/$ACCOUNT"
ENV_FILE="$BASE/azure.env"
API_VERSION=2021-08-06

START=$EPOCHREALTIME
say() {
  local now=$EPOCHREALTIME
  printf '[azurite %5.1fs] %s\n' "$(awk -v a="$now" -v b="$START" 'BEGIN { print a - b }')" "$*" >&2
}
WHERE="log: $DIR/azurite.log"
die() {
  echo "start-azurite.sh: FAILED: $* ($WHERE)" >&2
  exit 1
}

# An account SAS, computed as the service does: base64(HMAC-SHA256(key,
# string-to-sign)), the string-to-sign for versions >= 2020-12-06 (account,
# permissions, services, resource types, start, expiry, IP, protocol,
# version, encryption scope, each followed by a newline).
make_sas() {
  local perms=rwdlac services=b types=sco start=2020-01-01T00:00:00Z expiry=2099-01-01T00:00:00Z
  local proto=https,http hexkey sig
  hexkey=$(printf '%s' "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
  sig=$(printf '%s\n' "$ACCOUNT" "$perms" "$services" "$types" "$start" "$expiry" "" "$proto" "$API_VERSION" "" |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64 -w0)
  sig=${sig//+/%2B}
  sig=${sig//\//%2F}
  sig=${sig//=/%3D}
  printf 'sv=%s&ss=%s&srt=%s&sp=%s&st=%s&se=%s&spr=%s&sig=%s' "$API_VERSION" "$services" "$types" \
    "$perms" "${start//:/%3A}" "${expiry//:/%3A}" "${proto//,/%2C}" "$sig"
}
SAS=$(make_sas)

# HTTP status of a SAS request: az_status METHOD PATH_AND_QUERY (no SAS in it).
az_status() {
  local extra=()
  [[ $1 == PUT ]] && extra=(-H 'Content-Length: 0')
  curl -s -o /dev/null -m 10 -w '%{http_code}' -X "$1" -H "x-ms-version: $API_VERSION" "${extra[@]}" \
    "$ENDPOINT$2&$SAS" 2>/dev/null || true
}
answers() {
  curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$PORT/" 2>/dev/null | grep -qv '^000$'
}

# Creates the container when missing and checks the SAS by listing it.
ensure_container() {
  local st
  st=$(az_status PUT "/$CONTAINER?restype=container")
  case $st in
    201) say "container $CONTAINER created" ;;
    409) ;; # ContainerAlreadyExists
    403) die "the server on 127.0.0.1:$PORT rejects the devstoreaccount1 SAS" ;;
    *) die "creating container $CONTAINER on $ENDPOINT gave HTTP $st" ;;
  esac
  st=$(az_status GET "/$CONTAINER?restype=container&comp=list")
  [[ $st == 200 ]] || die "listing container $CONTAINER with the SAS gave HTTP $st"
}

write_env() {
  mkdir -p "$BASE"
  local tmp="$ENV_FILE.tmp.$$"
  cat >"$tmp" <<EOF
ISLE_TEST_AZURE_URL='azblob://$CONTAINER?endpoint=$ENDPOINT'
AZURE_STORAGE_ACCOUNT='$ACCOUNT'
AZURE_STORAGE_KEY='$KEY'
ISLE_TEST_AZURE_SAS='$SAS'
ISLE_TEST_AZURE_ENDPOINT='$ENDPOINT'
EOF
  mv -f "$tmp" "$ENV_FILE"
}

# wait_until SECONDS COMMAND... : true once COMMAND succeeds, false on timeout.
wait_until() {
  local limit=$1
  shift
  local end=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < end)) || return 1
    sleep 0.1
  done
}

if answers; then
  WHERE="something already answers on port $PORT: not this script's Azurite? stop it or set ISLE_AZURITE_PORT"
  ensure_container
  write_env
  say "already running at $ENDPOINT (env: $ENV_FILE)"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo); fi

# --- install --------------------------------------------------------------
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  say "installing nodejs npm (apt, --no-install-recommends)"
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends)
  if ! "${SUDO[@]}" apt-get install "${apt_opts[@]}" nodejs npm >/dev/null 2>&1; then
    "${SUDO[@]}" apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null 2>&1 || true
    "${SUDO[@]}" apt-get install "${apt_opts[@]}" nodejs npm >/dev/null || die "apt-get install nodejs npm failed"
  fi
fi
installed_version() {  # installed_version PACKAGE -> its version under PREFIX, or nothing
  local pj="$PREFIX/node_modules/$1/package.json"
  [[ -f $pj ]] && sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pj" | head -n1
  return 0
}
if [[ $(installed_version azurite) != "$AZURITE_VERSION" ||
  $(installed_version @azure/storage-blob) != "$BLOB_SDK_VERSION" ||
  ! -e $PREFIX/node_modules/.bin/azurite-blob ]]; then
  t0=$SECONDS
  say "npm install azurite@$AZURITE_VERSION @azure/storage-blob@$BLOB_SDK_VERSION into $PREFIX"
  if ! mkdir -p "$PREFIX" 2>/dev/null || [[ ! -w $PREFIX ]]; then
    "${SUDO[@]}" mkdir -p "$PREFIX"
    "${SUDO[@]}" chown "$(id -u):$(id -g)" "$PREFIX"
  fi
  [[ -f $PREFIX/package.json ]] || echo '{ "name": "isle-objstores-azurite", "private": true }' >"$PREFIX/package.json"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" "@azure/storage-blob@$BLOB_SDK_VERSION" >"$PREFIX/npm-install.log" 2>&1 ||
    { tail -n 20 "$PREFIX/npm-install.log" >&2; die "npm install failed (see $PREFIX/npm-install.log)"; }
  say "installed in $((SECONDS - t0)) s"
fi

# Azurite's in-memory blob store sweeps unreferenced extents every 10
# minutes, and the sweep blocks the server: 13,883 extents took 209 s here,
# with every request timing out meanwhile. Test runs delete thousands of
# blobs, so push the sweep out to once a day (the emulator's memory is
# freed when it stops anyway). Re-applied on every start; harmless if
# already done.
gc_constants=$PREFIX/node_modules/azurite/dist/src/blob/utils/constants.js
if [[ -f $gc_constants ]] && grep -q '^exports.DEFAULT_GC_INTERVAL_MS = 10 \* 60 \* 1000;' "$gc_constants"; then
  sed -i 's/^exports.DEFAULT_GC_INTERVAL_MS = 10 \* 60 \* 1000;/exports.DEFAULT_GC_INTERVAL_MS = 24 * 60 * 60 * 1000;/' \
    "$gc_constants" || die "cannot patch Azurite's GC interval in $gc_constants"
  say "Azurite blob GC interval set to 24 h (the 10-minute sweep stalls the server)"
fi

# --- start ----------------------------------------------------------------
if [[ -f $DIR/azurite.pid ]]; then
  say "stopping leftovers of an earlier run in $DIR"
  ISLE_AZURITE_DIR=$DIR KEEP_DATA=0 bash "$(dirname "${BASH_SOURCE[0]}")/stop.sh" azurite >/dev/null 2>&1 || true
fi
rm -rf "$DIR"
mkdir -p "$DIR"
store=(--inMemoryPersistence)
if [[ $INMEMORY != 1 ]]; then
  mkdir -p "$DIR/data"
  store=(--location "$DIR/data")
fi
say "starting azurite-blob on 127.0.0.1:$PORT"
# setsid: its own session, so it outlives the shell that started it and
# no terminal signal reaches it.
(cd "$DIR" && exec setsid "$PREFIX/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$PORT" \
  --disableTelemetry --skipApiVersionCheck "${store[@]}" </dev/null >"$DIR/azurite.log" 2>&1) &
echo $! >"$DIR/azurite.pid"
up() {
  answers && return 0
  kill -0 "$(cat "$DIR/azurite.pid")" 2>/dev/null || die "azurite exited at start (port $PORT in use?)"
  return 1
}
wait_until "$TIMEOUT" up || die "azurite did not answer on 127.0.0.1:$PORT within $TIMEOUT s"
ensure_container
write_env
say "ready: $ENDPOINT container $CONTAINER (pid $(cat "$DIR/azurite.pid"), env: $ENV_FILE)"
