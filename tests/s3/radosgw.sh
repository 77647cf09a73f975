#!/usr/bin/env bash
# A throwaway one-node Ceph with radosgw on 127.0.0.1: the real S3 server the S3 storage tests run against.
#
#   radosgw.sh start DIR   start (after stopping whatever a previous run left in DIR), wait until S3 answers, and
#                          write DIR/endpoint (http://127.0.0.1:PORT on a free port) and DIR/env (the test user's
#                          AWS_* variables, for /usr/bin/aws)
#   radosgw.sh stop DIR    stop every daemon started from DIR and remove DIR
#   radosgw.sh gateway-stop DIR    kill -9 only the radosgw daemon started from DIR (S3 is gone; the objects stay
#                                  in the OSD), for fault tests; `stop` still stops everything
#   radosgw.sh gateway-start DIR   start that radosgw again on the same port and wait until S3 answers
#
# One monitor, one OSD on memstore (objects live in RAM: keep test data small), no manager, radosgw's beast
# frontend. Inside the cluster auth is off (S3 requests are still signed and checked by radosgw); see
# /work/shared/reference/s3-test-server.md for why each setting is here. Start-up takes about 4 s. The beast frontend
# needs tcp_nodelay=1: without it radosgw sends a small body after its headers only once the client's delayed ACK
# (40 ms) arrives, so every small ranged GET takes about 44 ms (a full verify of a 5 MiB repository: 43 s, not 1 s).
set -euo pipefail

readonly kAccessKey=WALVAULTTESTKEY00001
readonly kSecretKey=walvault-test-secret-0000000000000000000

usage() {
  echo "usage: $0 start|stop|gateway-stop|gateway-start DIR" >&2
  exit 2
}
(($# == 2)) || usage
cmd=$1
dir=$(realpath -m "$2")

# Stops the daemons whose pid files are in DIR/run, waiting until each has exited (radosgw may take 6 s).
stop_daemons() {
  local pidfile pid i
  [[ -d $dir/run ]] || return 0
  for pidfile in "$dir"/run/*.pid; do
    [[ -e $pidfile ]] || continue
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pidfile in "$dir"/run/*.pid; do
    [[ -e $pidfile ]] || continue
    pid=$(cat "$pidfile")
    for ((i = 0; i < 150; i++)); do
      # A zombie (state Z) has exited; kill -0 would still succeed on it.
      state=$(ps -o state= -p "$pid" 2>/dev/null || true)
      [[ -z $state || $state == Z* ]] && break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

# Waits up to 60 s until the S3 endpoint $1 answers; exits 1 if it does not.
wait_for_s3() {
  local i
  for ((i = 0; i < 600; i++)); do
    curl -s -o /dev/null "$1/" && return 0
    sleep 0.1
  done
  curl -s -o /dev/null "$1/" && return 0
  echo "radosgw did not answer on $1; logs in $dir/log" >&2
  exit 1
}

# The radosgw daemon alone: killed at once (a crash, and no 6 s SIGTERM wait), then started again from DIR's
# ceph.conf, so on the same port, over the same OSD and so the same buckets and objects.
gateway_stop() {
  local pidfile=$dir/run/client.rgw.pid pid state i
  [[ -e $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    state=$(ps -o state= -p "$pid" 2>/dev/null || true)
    [[ -z $state || $state == Z* ]] && break
    sleep 0.1
  done
  rm -f "$pidfile"
}

gateway_start() {
  [[ -e $dir/endpoint ]] || {
    echo "no radosgw was started in $dir" >&2
    exit 1
  }
  [[ -e $dir/run/client.rgw.pid ]] && return 0
  radosgw -c "$dir/ceph.conf" -n client.rgw
  wait_for_s3 "$(cat "$dir/endpoint")"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  stop_daemons
  rm -rf "$dir"
  mkdir -p "$dir"/{run,log,mon,osd}
  local port mon_port osd_port fsid conf
  port=$(free_port)
  mon_port=$(free_port)
  osd_port=$(free_port)
  fsid=$(cat /proc/sys/kernel/random/uuid)
  conf=$dir/ceph.conf
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
run dir = $dir/run
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
keyring = $dir/keyring
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms bind msgr1 = false
ms bind port min = $osd_port
ms bind port max = $((osd_port + 20))
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
osd crush chooseleaf type = 0
paxos propose interval = 0.1
paxos min wait = 0.01
mon data = $dir/mon
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = 1073741824
rgw frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1
rgw init timeout = 60
rgw data = $dir/rgw
rgw gc obj min wait = 10
EOF
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
  ceph-mon -c "$conf" -i a
  local uuid osd_id
  uuid=$(cat /proc/sys/kernel/random/uuid)
  osd_id=$(ceph -c "$conf" --connect-timeout 30 osd new "$uuid")
  ceph-osd -c "$conf" -i "$osd_id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
  ceph-osd -c "$conf" -i "$osd_id" 2>>"$dir/log/osd-start.log"
  radosgw -c "$conf" -n client.rgw
  radosgw-admin -c "$conf" user create --uid walvault-test --display-name walvault-test \
    --access-key "$kAccessKey" --secret-key "$kSecretKey" >/dev/null
  wait_for_s3 "http://127.0.0.1:$port"
  echo "http://127.0.0.1:$port" >"$dir/endpoint"
  cat >"$dir/env" <<EOF
export AWS_ACCESS_KEY_ID=$kAccessKey
export AWS_SECRET_ACCESS_KEY=$kSecretKey
export AWS_DEFAULT_REGION=us-east-1
EOF
}

case $cmd in
  start)
    # Whatever fails during start-up (set -e), the daemons started so far are stopped.
    trap 'if (($? != 0)); then stop_daemons; fi' EXIT
    start
    ;;
  stop)
    stop_daemons
    rm -rf "$dir"
    ;;
  gateway-stop) gateway_stop ;;
  gateway-start) gateway_start ;;
  *) usage ;;
esac
