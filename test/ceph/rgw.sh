#!/usr/bin/env bash
# Throwaway single-node Ceph (1 mon, 1 memstore OSD, no cephx) with radosgw on
# loopback, for the s3gate test suite. See test/ceph/README.md.
#
#   rgw.sh start | stop | status | env
#
# Environment: S3GATE_CEPH_DIR (default /tmp/s3gate-ceph),
#              S3GATE_CEPH_PORT (default 7480), S3GATE_CEPH_MON_PORT (default 3300),
#              S3GATE_CEPH_MEMSTORE_BYTES (default 2 GiB: all objects live in the OSD's memory).
set -euo pipefail

DIR="${S3GATE_CEPH_DIR:-/tmp/s3gate-ceph}"
DIR="${DIR%/}"
PORT="${S3GATE_CEPH_PORT:-7480}"
MON_PORT="${S3GATE_CEPH_MON_PORT:-3300}"
CONF="$DIR/ceph.conf"
# The lock lives next to the data dir, not in it: `stop` removes the data dir.
LOCK="$DIR.lock"
DNS_NAME="s3.ceph.test"
RGW_NAME="client.rgw.s3gate"

USER_A="s3gate-a"
ACCESS_A="S3GATEAKEY0000000001"
SECRET_A="s3gate-a-secret-0000000000000000000000000"
USER_B="s3gate-b"
ACCESS_B="S3GATEBKEY0000000002"
SECRET_B="s3gate-b-secret-0000000000000000000000000"

log() { printf 'rgw.sh: %s\n' "$*" >&2; }

die() {
  log "$1"
  shift
  local f
  for f in "$@"; do
    if [[ -f "$f" ]]; then
      printf -- '--- tail of %s ---\n' "$f" >&2
      tail -n 40 "$f" >&2 || true
    fi
  done
  exit 1
}

# Anonymous GET / answered with XML (ListAllMyBucketsResult) means RGW serves S3.
# Plain bash /dev/tcp so the script needs no curl.
answers() {
  local resp
  resp="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
    cat <&3' _ "$PORT" 2>/dev/null)" || return 1
  [[ "$resp" == HTTP/1.1\ * && "$resp" == *"<?xml"* ]]
}

endpoint() { printf 'http://127.0.0.1:%s' "$PORT"; }

install_packages() {
  command -v radosgw >/dev/null 2>&1 && return 0
  if [[ "$(id -u)" != 0 ]]; then
    die "radosgw is not installed and this is not root; install it with: apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-common radosgw"
  fi
  log "installing ceph-mon ceph-osd ceph-common radosgw (apt, ~20 s)"
  local apt_log
  apt_log="$(dirname "$DIR")/s3gate-ceph-apt.log"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >"$apt_log" 2>&1 || die "apt-get update failed" "$apt_log"
  apt-get install -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    ceph-mon ceph-osd ceph-common radosgw >>"$apt_log" 2>&1 \
    || die "apt-get install failed" "$apt_log"
  command -v radosgw >/dev/null 2>&1 || die "radosgw still missing after install" "$apt_log"
}

write_conf() {
  local fsid="$1"
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false

auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
# Without crc on every messenger mode radosgw loops on
# "get_initial_auth_request returned -13" when cephx is off.
ms cluster mode = crc
ms service mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms mon client mode = crc

keyring = $DIR/keyring
run dir = $DIR/run
log file = $DIR/\$name.log
log to stderr = false
err to stderr = false
mon cluster log file = $DIR/cluster.log

osd objectstore = memstore
memstore device bytes = ${S3GATE_CEPH_MEMSTORE_BYTES:-2147483648}
osd data = $DIR/\$name
osd fast shutdown = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
# Each mon map change otherwise waits paxos_propose_interval (1 s); radosgw's
# first start makes ~15 of them (pool create, application enable, pool set).
paxos propose interval = 0.01
paxos min wait = 0.001
osd class update on start = false
mon warn on pool no redundancy = false
mon data = $DIR/\$name

[mon]
admin socket = $DIR/run/\$name.asok
pid file = $DIR/\$name.pid

[osd]
admin socket = $DIR/run/\$name.asok
pid file = $DIR/\$name.pid

[$RGW_NAME]
admin socket = $DIR/run/\$name.asok
pid file = $DIR/\$name.pid
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw dns name = $DNS_NAME
rgw data = $DIR/\$name
# Deleted tails and aborted parts wait for RGW's garbage collection, by default 2 h and run hourly:
# longer than a suite, so a suite's deletes freed nothing in the 2 GiB memstore.
rgw gc obj min wait = 120
rgw gc processor period = 60
EOF
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Only pids whose command is the daemon we started: a stale pid file must not
# kill an unrelated process that reused the pid.
our_pid() {
  local pidfile="$1" comm="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || return 1
  printf '%s' "$pid"
}

# Everything is thrown away (memstore), so no orderly shutdown is needed: TERM
# all at once (a clean TERM takes 2-3.5 s per daemon), then KILL what is left after 1 s.
kill_daemons() {
  local pids=() pid i alive
  pid="$(our_pid "$DIR/$RGW_NAME.pid" radosgw)" && pids+=("$pid")
  pid="$(our_pid "$DIR/osd.0.pid" ceph-osd)" && pids+=("$pid")
  pid="$(our_pid "$DIR/mon.a.pid" ceph-mon)" && pids+=("$pid")
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 10; i++)); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  rm -f "$DIR"/*.pid
}

ceph_() { timeout 30 ceph --conf "$CONF" --connect-timeout 20 "$@"; }
admin() { timeout 30 radosgw-admin --conf "$CONF" "$@"; }

wait_pid_file() {
  local pidfile="$1" log_file="$2" i
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pidfile" && return 0
    sleep 0.1
  done
  die "daemon did not write $pidfile" "$log_file"
}

create_user() {
  local uid="$1" access="$2" secret="$3"
  if admin user info --uid="$uid" >/dev/null 2>&1; then return 0; fi
  admin user create --uid="$uid" --display-name="$uid" \
    --access-key="$access" --secret-key="$secret" >"$DIR/user-$uid.json" 2>"$DIR/user-$uid.err" \
    || die "radosgw-admin user create $uid failed" "$DIR/user-$uid.err" "$DIR/$RGW_NAME.log"
}

do_start() {
  if ! command -v radosgw >/dev/null 2>&1 && [[ "$(id -u)" != 0 ]]; then
    die "radosgw is not installed and this is not root; install it with: apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-common radosgw"
  fi
  mkdir -p "$(dirname "$DIR")"
  exec 9>"$LOCK"
  # Held across the install too: parallel apt-get runs would fight over dpkg's lock.
  flock -w 300 9 || die "timed out waiting for lock $LOCK"
  install_packages

  if [[ -f "$DIR/ready" ]] && answers; then
    return 0
  fi

  # Anything here that is not a ready, answering cluster is a leftover: start clean.
  if [[ -d "$DIR" ]]; then
    kill_daemons
    rm -rf "$DIR"
  fi
  if answers; then
    die "something else already answers on 127.0.0.1:$PORT (set S3GATE_CEPH_PORT)"
  fi
  mkdir -p "$DIR/run" "$DIR/mon.a" "$DIR/osd.0" "$DIR/$RGW_NAME"

  local fsid osd_uuid t0
  t0=$SECONDS
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  write_conf "$fsid"

  # mon
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >"$DIR/setup.log" 2>&1
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" \
    --set-min-mon-release pacific --enable-all-features "$DIR/monmap" >>"$DIR/setup.log" 2>&1 \
    || die "monmaptool failed" "$DIR/setup.log"
  ceph-mon --conf "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring" >>"$DIR/setup.log" 2>&1 \
    || die "ceph-mon --mkfs failed" "$DIR/setup.log" "$DIR/mon.a.log"
  ceph-mon --conf "$CONF" -i a 9>&- >>"$DIR/setup.log" 2>&1 || die "ceph-mon failed to start" "$DIR/setup.log" "$DIR/mon.a.log"
  wait_pid_file "$DIR/mon.a.pid" "$DIR/mon.a.log"

  # osd
  local id
  id="$(ceph_ osd new "$osd_uuid" 2>>"$DIR/setup.log")" || die "ceph osd new failed" "$DIR/setup.log" "$DIR/mon.a.log"
  [[ "$id" == 0 ]] || die "expected osd id 0, got '$id'" "$DIR/setup.log"
  ceph-osd --conf "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$DIR/setup.log" 2>&1 \
    || die "ceph-osd --mkfs failed" "$DIR/setup.log" "$DIR/osd.0.log"
  ceph-osd --conf "$CONF" -i 0 9>&- >>"$DIR/setup.log" 2>&1 || die "ceph-osd failed to start" "$DIR/setup.log" "$DIR/osd.0.log"
  wait_pid_file "$DIR/osd.0.pid" "$DIR/osd.0.log"

  # rgw (it creates its pools itself; it waits for the OSD to be up)
  radosgw --conf "$CONF" -n "$RGW_NAME" 9>&- >>"$DIR/setup.log" 2>&1 \
    || die "radosgw failed to start" "$DIR/setup.log" "$DIR/$RGW_NAME.log"
  wait_pid_file "$DIR/$RGW_NAME.pid" "$DIR/$RGW_NAME.log"

  local i
  for ((i = 0; i < 600; i++)); do
    answers && break
    pid_alive "$DIR/$RGW_NAME.pid" || die "radosgw exited" "$DIR/$RGW_NAME.log" "$DIR/osd.0.log"
    sleep 0.1
  done
  answers || die "radosgw did not answer on $(endpoint) within 60 s" "$DIR/$RGW_NAME.log" "$DIR/osd.0.log" "$DIR/mon.a.log"

  create_user "$USER_A" "$ACCESS_A" "$SECRET_A"
  create_user "$USER_B" "$ACCESS_B" "$SECRET_B"
  : >"$DIR/ready"
  log "ceph rgw up at $(endpoint) in $((SECONDS - t0)) s (data dir $DIR)"
}

do_stop() {
  mkdir -p "$(dirname "$DIR")"
  exec 9>"$LOCK"
  flock -w 300 9 || die "timed out waiting for lock $LOCK"
  if [[ -d "$DIR" ]]; then
    kill_daemons
    rm -rf "$DIR"
  fi
}

do_env() {
  cat <<EOF
S3GATE_CEPH_ENDPOINT=$(endpoint)
S3GATE_CEPH_DNS_NAME=$DNS_NAME
S3GATE_CEPH_A_USER=$USER_A
S3GATE_CEPH_A_ACCESS_KEY_ID=$ACCESS_A
S3GATE_CEPH_A_SECRET_ACCESS_KEY=$SECRET_A
S3GATE_CEPH_B_USER=$USER_B
S3GATE_CEPH_B_ACCESS_KEY_ID=$ACCESS_B
S3GATE_CEPH_B_SECRET_ACCESS_KEY=$SECRET_B
EOF
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) answers ;;
  env) do_env ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
