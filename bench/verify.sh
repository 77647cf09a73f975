#!/usr/bin/env bash
# Full-verify throughput: `walvault verify --full` over ~1 GB of stored pgbench WAL, on one core (taskset -c 0),
# beside zstd's own decompression of the same WAL (the zstd CLI, one core), which bounds what any verify that
# checks raw checksums can reach.
#
#   bash bench/verify.sh [WAL_MB]        (default 1024; needs PostgreSQL 15, the zstd CLI and a built walvault)
#
# WALVAULT_BIN (default build-verify/walvault) selects the binary. Two workloads, each on a throwaway PostgreSQL 15
# on loopback, whose WAL is streamed into a fresh repository while pgbench (scale 20, -c 4) generates WAL_MB of it:
#   - checkpoints every 30 s: stream.sh's WAL (issue 5's "this machine's pgbench WAL"), rich in full-page images;
#   - checkpoint_timeout at its default, 5 min (max_wal_size 4GB): after the first minutes, small records almost
#     only, the least compressible pgbench WAL and the slowest to decompress.
# Per workload: the streamer is stopped, verify --full runs three times (the first cold-ish; the page cache holds
# the repository afterwards) and prints raw GB/s per run; then every segment is fetched back with wal-fetch and
# `zstd -b1 -B256K --zstd=mml=5` (the container's level, chunk size and minimum match) decompresses it on the same
# core. Everything it creates is removed at exit. Run as root (uses the postgres OS user) or as a normal user.
# WALVAULT_BENCH_KEEP=DIR keeps a copy of each repository there (DIR/checkpoint-30s and DIR/checkpoint-5min, for
# profiling).
set -euo pipefail
cd "$(dirname "$0")/.."
wal_mb=${1:-1024}
bin=${WALVAULT_BIN:-$PWD/build-verify/walvault}
bindir=/usr/lib/postgresql/15/bin
if [[ $(id -u) -eq 0 ]]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
command -v zstd >/dev/null || { echo "bench/verify.sh: the zstd CLI is missing; hint: apt-get install zstd" >&2; exit 2; }

work=
stream_pid=
# shellcheck source=bench/lib.sh
source bench/lib.sh  # the working directory is the repository root (see the cd above)
cleanup() {
  set +e
  [[ -n $work ]] || return 0
  stop_streamer
  [[ -f $work/data/postmaster.pid ]] && as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$work"
  work=
}
trap cleanup EXIT

# measure SLUG TITLE CHECKPOINT_CONF: one workload, from an empty cluster to its report.
measure() {
  local slug=$1 title=$2 checkpoint_conf=$3
  work=$(mktemp -d /tmp/walvault-bench-verify.XXXXXX)
  chmod 755 "$work"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$work"
  local port=$((20000 + RANDOM % 30000))
  as_pg "$bindir/initdb" -D "$work/data" -U postgres --auth=trust --no-sync >/dev/null
  cat >>"$work/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work'
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
fsync = off
$checkpoint_conf
CONF
  printf 'host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n' >>"$work/data/pg_hba.conf"
  as_pg "$bindir/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
  export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres

  as_pg "$bin" init --repo "$work/repo" -d "host=127.0.0.1 port=$port user=postgres" >/dev/null
  as_pg "$bin" stream --repo "$work/repo" >"$work/stream.log" 2>&1 &
  stream_pid=$!
  sleep 1
  local start_lsn bytes last_segment
  start_lsn=$("$bindir/psql" -XAtc "SELECT pg_current_wal_lsn()")
  as_pg "$bindir/pgbench" -i -q -s 20 >/dev/null 2>&1
  while :; do
    bytes=$("$bindir/psql" -XAtc "SELECT pg_current_wal_lsn() - '$start_lsn'::pg_lsn")
    ((bytes >= wal_mb * 1024 * 1024)) && break
    as_pg "$bindir/pgbench" -n -c 4 -j 2 -T 10 >/dev/null 2>&1
  done
  last_segment=$("$bindir/psql" -XAtc "SELECT pg_walfile_name(pg_current_wal_lsn())")
  "$bindir/psql" -XAtc "SELECT pg_switch_wal()" >/dev/null
  until [[ -f $work/repo/wal/$last_segment.wvs ]]; do sleep 1; done
  sleep 2
  stop_streamer
  as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null
  [[ -n ${WALVAULT_BENCH_KEEP:-} ]] && mkdir -p "$WALVAULT_BENCH_KEEP" && cp -a "$work/repo" "$WALVAULT_BENCH_KEEP/$slug"

  local segments stored
  segments=$(ls "$work/repo/wal" | grep -c '\.wvs$')
  stored=$(du -sb "$work/repo/wal" | cut -f1)
  echo "### $title"
  echo "repository: $segments segment containers, $((stored >> 20)) MiB stored in wal/"
  echo "command: taskset -c 0 walvault verify --repo REPO --full --json"
  local run out
  for run in 1 2 3; do
    # Exit 5 (problems found) still measures; the problems are printed below the figures.
    out=$(as_pg taskset -c 0 "$bin" verify --repo "$work/repo" --full --json) || true
    python3 - "$run" "$out" <<'PY'
import json, sys
d = json.loads(sys.argv[2])
c = d["counts"]
s = d["elapsed_seconds"]
cpu = d["cpu_seconds"]
print(f"run {sys.argv[1]}: {c['raw_bytes']/2**20:.0f} MiB raw ({c['stored_bytes']/2**20:.0f} MiB read) in {s:.2f} s wall"
      f" = {c['raw_bytes']/s/1e9:.2f} GB/s raw; {cpu:.2f} s CPU = {c['raw_bytes']/cpu/1e9:.2f} GB/s raw per CPU second;"
      f" ok={d['ok']}")
for p in d["problems"][:5]:
    print(f"  problem: {p['kind']} {p['object']}: {p['message']}")
PY
  done

  # The same WAL, decompressed by the zstd CLI alone: fetch every segment back, then benchmark it compressed as the
  # containers are (level 1, minimum match 5, 256 KiB blocks); its report's last figure is decompression, MB/s of raw
  # output.
  mkdir "$work/raw"
  local container
  for container in "$work/repo"/wal/*.wvs; do
    container=$(basename "$container" .wvs)
    "$bin" -q wal-fetch --repo "$work/repo" "$container" "$work/raw/$container"
  done
  cat "$work"/raw/* >"$work/all.raw"
  rm -r "$work/raw"
  echo "zstd's own decompression of the same raw WAL: taskset -c 0 zstd -b1 -B256K --zstd=mml=5 (zstd $(zstd --version | grep -o 'v[0-9.]*'))"
  taskset -c 0 zstd -b1 -B256K --zstd=mml=5 "$work/all.raw" 2>&1 | tr '\r' '\n' | grep 'MB/s, *[0-9.]* MB/s' | tail -1 |
    sed -E 's/.*\(x([0-9.]+)\), *([0-9.]+) MB\/s, *([0-9.]+) MB\/s.*/zstd: ratio \1, compress \2 MB\/s, decompress \3 MB\/s (MB = 10^6 bytes of raw WAL)/'
  echo
  cleanup
}

measure checkpoint-30s "checkpoints every 30 s (stream.sh's WAL)" "checkpoint_timeout = 30s
max_wal_size = 4GB"
measure checkpoint-5min "checkpoint_timeout 5 min, the default (few full-page images)" "max_wal_size = 4GB"
