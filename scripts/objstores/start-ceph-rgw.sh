#!/usr/bin/env bash
# Starts a throw-away Ceph RGW (S3) on 127.0.0.1 for the tests and writes
# $ISLE_OBJSTORES_DIR/s3.env (default /tmp/isle-objstores/s3.env).
#
# One monitor, one OSD on memstore (objects live in RAM), no cephx, no mgr,
# radosgw with the beast frontend. An S3 user with fixed test keys and the
# bucket isle-test are created. If RGW already answers on the port, only the
# bucket is checked and the env file rewritten.
#
# Installs ceph-mon ceph-osd radosgw from Debian when missing (about 290 MB).
# Progress goes to stderr; on failure one line says why and where the logs are.
#
# Environment:
#   ISLE_OBJSTORES_DIR  base run dir (default /tmp/isle-objstores)
#   ISLE_CEPH_DIR       cluster dir (default $ISLE_OBJSTORES_DIR/ceph)
#   ISLE_RGW_PORT       S3 port (default 7480)
#   ISLE_CEPH_MON_PORT  monitor port (default 6789); the OSD binds 6800-6900
#   ISLE_CEPH_MEMSTORE_BYTES  memstore size cap (default 2 GiB)
#   ISLE_OBJSTORES_TIMEOUT    seconds to wait for each daemon (default 60)
# Stop with scripts/objstores/stop.sh ceph.
set -euo pipefail

BASE=${ISLE_OBJSTORES_DIR:-/tmp/isle-objstores}
DIR=${ISLE_CEPH_DIR:-$BASE/ceph}
PORT=${ISLE_RGW_PORT:-7480}
MON_PORT=${ISLE_CEPH_MON_PORT:-6789}
MEMSTORE_BYTES=${ISLE_CEPH_MEMSTORE_BYTES:-2147483648}
TIMEOUT=${ISLE_OBJSTORES_TIMEOUT:-60}
ACCESS=isletestaccess
SECRET=isletestsecret
REGION=us-east-1
BUCKET=isle-test
ENDPOINT="http://127.0.0.1:$PORT"
ENV_FILE="$BASE/s3.env"
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

START=$EPOCHREALTIME
say() {
  local now=$EPOCHREALTIME
  printf '[ceph-rgw %5.1fs] %s\n' "$(awk -v a="$now" -v b="$START" 'BEGIN { print a - b }')" "$*" >&2
}
WHERE="logs: $DIR/log/"
die() {
  echo "start-ceph-rgw.sh: FAILED: $* ($WHERE)" >&2
  exit 1
}

# HTTP status of a plain GET / on the RGW port, 000 when nothing answers.
rgw_status() {
  curl -s -o /dev/null -m 5 -w '%{http_code}' "$ENDPOINT/" 2>/dev/null || true
}

# A SigV4-signed request without a body: s3_status METHOD PATH -> HTTP status.
# RGW rejects SigV4 without x-amz-content-sha256, which curl does not add.
s3_status() {
  local method=(-X "$1")
  # -X HEAD would make curl wait for the body that Content-Length announces.
  [[ $1 == HEAD ]] && method=(-I)
  curl -s -o /dev/null -m 10 -w '%{http_code}' "${method[@]}" \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS:$SECRET" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$ENDPOINT$2" 2>/dev/null || true
}

# Creates the bucket when missing; fails when the keys are rejected.
ensure_bucket() {
  local st
  st=$(s3_status HEAD "/$BUCKET")
  if [[ $st == 200 ]]; then return 0; fi
  if [[ $st == 403 ]]; then
    die "the S3 server on $ENDPOINT rejects the test keys ($ACCESS)"
  fi
  st=$(s3_status PUT "/$BUCKET")
  [[ $st == 200 ]] || die "creating bucket $BUCKET on $ENDPOINT gave HTTP $st"
  say "bucket $BUCKET created"
}

write_env() {
  mkdir -p "$BASE"
  local tmp="$ENV_FILE.tmp.$$"
  cat >"$tmp" <<EOF
ISLE_TEST_S3_URL='s3://$BUCKET?endpoint=$ENDPOINT&region=$REGION&path_style=true'
AWS_ACCESS_KEY_ID='$ACCESS'
AWS_SECRET_ACCESS_KEY='$SECRET'
AWS_REGION='$REGION'
ISLE_TEST_S3_ENDPOINT='$ENDPOINT'
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

if [[ $(rgw_status) != 000 ]]; then
  WHERE="something already answers on port $PORT: not this script's RGW? stop it or set ISLE_RGW_PORT"
  ensure_bucket
  write_env
  say "already running at $ENDPOINT (env: $ENV_FILE)"
  exit 0
fi

# --- install --------------------------------------------------------------
need=()
for bin in ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw \
  radosgw-admin:radosgw monmaptool:ceph-mon ceph-authtool:ceph-mon ceph:ceph-mon \
  curl:curl awk:gawk; do
  command -v "${bin%%:*}" >/dev/null 2>&1 || need+=("${bin#*:}")
done
if ((${#need[@]})); then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo); fi
  t0=$SECONDS
  say "installing ${need[*]} (apt, --no-install-recommends)"
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends)
  if ! "${SUDO[@]}" apt-get install "${apt_opts[@]}" "${need[@]}" >/dev/null 2>&1; then
    "${SUDO[@]}" apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null 2>&1 || true
    "${SUDO[@]}" apt-get install "${apt_opts[@]}" "${need[@]}" >/dev/null ||
      die "apt-get install ${need[*]} failed"
  fi
  say "installed in $((SECONDS - t0)) s"
fi

# --- a fresh cluster dir --------------------------------------------------
if [[ -d $DIR/run ]]; then
  say "stopping leftovers of an earlier run in $DIR"
  ISLE_CEPH_DIR=$DIR KEEP_DATA=0 bash "$HERE/stop.sh" ceph >/dev/null 2>&1 || true
fi
rm -rf "$DIR"
mkdir -p "$DIR"/{run,log,mon,osd,rgw,crash}
FSID=$(cat /proc/sys/kernel/random/uuid)
CONF="$DIR/ceph.conf"
# paxos_propose_interval: the default 1 s makes each of the ~20 map updates of
# the start wait (12 s instead of 2). tcp_nodelay=1: without it small
# responses (GET, 412) take ~44 ms each (Nagle + delayed ACK).
cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon_host = v1:127.0.0.1:$MON_PORT
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
ms_bind_msgr2 = false
ms_bind_port_min = 6800
ms_bind_port_max = 6900
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
auth_allow_insecure_global_id_reclaim = true
mon_warn_on_insecure_global_id_reclaim_allowed = false
run_dir = $DIR/run
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.pid
log_file = $DIR/log/\$name.log
mon_cluster_log_file = $DIR/log/cluster.log
crash_dir = $DIR/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
paxos_propose_interval = 0.05
paxos_min_wait = 0.01
rgw_rados_pool_pg_num_min = 8

[mon]
mon_data = $DIR/mon/\$cluster-\$id

[osd]
osd_data = $DIR/osd/\$cluster-\$id
osd_objectstore = memstore
memstore_device_bytes = $MEMSTORE_BYTES
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1
# The script puts the OSD into the crush map itself: the OSD's own update at
# start can race with its first monmap (it then exits with 'wrong fsid').
osd_crush_update_on_start = false
osd_class_update_on_start = false

[client.rgw.isle]
rgw_frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw_data = $DIR/rgw
# Overwritten and deleted objects' data is reclaimed by RGW's garbage
# collector, by default 2 hours later: on a 2 GiB memstore a benchmark of
# 8 MiB overwrites fills the OSD and blocks every write. Reclaim within
# minutes instead.
rgw_gc_obj_min_wait = 60
rgw_gc_processor_period = 60
EOF
export CEPH_CONF="$CONF"
ceph_cli() { timeout 20 ceph --connect-timeout 5 "$@"; }

# --- monitor --------------------------------------------------------------
say "starting ceph-mon on 127.0.0.1:$MON_PORT (dir $DIR)"
# --addv with an explicit v1 address: plain --add makes any port but 6789 a
# msgr2 address, which this v1-only cluster's clients never reach.
monmaptool --create --clobber --fsid "$FSID" --addv isle "[v1:127.0.0.1:$MON_PORT]" "$DIR/monmap" \
  >"$DIR/log/mkfs.log" 2>&1 || die "monmaptool failed"
ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' \
  >>"$DIR/log/mkfs.log" 2>&1 || die "ceph-authtool failed"
ceph-mon --mkfs -i isle --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" \
  >>"$DIR/log/mkfs.log" 2>&1 || die "ceph-mon --mkfs failed"
ceph-mon -i isle </dev/null >>"$DIR/log/daemons.log" 2>&1 || die "ceph-mon did not start (port $MON_PORT in use?)"
mon_up() { ceph_cli mon stat >/dev/null 2>&1; }
wait_until "$TIMEOUT" mon_up || die "ceph-mon did not answer within $TIMEOUT s"

# --- osd ------------------------------------------------------------------
say "starting ceph-osd (memstore)"
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(ceph_cli osd new "$OSD_UUID" 2>>"$DIR/log/mkfs.log") || die "ceph osd new failed"
mkdir -p "$DIR/osd/ceph-$OSD_ID"
ceph-osd -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >>"$DIR/log/mkfs.log" 2>&1 || die "ceph-osd --mkfs failed"
ceph_cli osd crush add "osd.$OSD_ID" 1.0 host=localhost root=default >>"$DIR/log/mkfs.log" 2>&1 ||
  die "ceph osd crush add failed"
ceph-osd -i "$OSD_ID" </dev/null >>"$DIR/log/daemons.log" 2>&1 || die "ceph-osd did not start"
osd_up() { ceph_cli osd dump 2>/dev/null | grep -q "^osd\.$OSD_ID up"; }
wait_until "$TIMEOUT" osd_up || die "osd.$OSD_ID was not up within $TIMEOUT s"

# --- radosgw --------------------------------------------------------------
say "starting radosgw on $ENDPOINT"
radosgw -n client.rgw.isle </dev/null >>"$DIR/log/daemons.log" 2>&1 || die "radosgw did not start"
rgw_up() { [[ $(rgw_status) != 000 ]]; }
wait_until "$TIMEOUT" rgw_up || die "radosgw did not answer on $ENDPOINT within $TIMEOUT s"

radosgw-admin user create --uid=isletest --display-name="IsleDB tests" \
  --access-key="$ACCESS" --secret-key="$SECRET" >>"$DIR/log/mkfs.log" 2>&1 ||
  die "radosgw-admin user create failed"
# The new user can take a moment to be seen by radosgw's user cache.
keys_ok() { [[ $(s3_status GET /) == 200 ]]; }
wait_until "$TIMEOUT" keys_ok || die "radosgw did not accept the test keys within $TIMEOUT s"
ensure_bucket
write_env
say "ready: $ENDPOINT bucket $BUCKET (env: $ENV_FILE)"
