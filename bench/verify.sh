#!/usr/bin/env bash
# Full-verify throughput: `walvault verify --full` over ~1 GB of stored pgbench WAL, on one core (taskset -c 0).
#
#   bash bench/verify.sh [WAL_MB]        (default 1024; needs PostgreSQL 15 and a built walvault)
#
# WALVAULT_BIN (default build-verify/walvault) selects the binary. It starts a throwaway PostgreSQL 15 on
# loopback, streams its WAL into a fresh repository while pgbench generates WAL_MB of it, stops the streamer,
# then runs verify --full three times (first run cold-ish, the page cache holds the repository afterwards) and
# prints raw GB/s per run. Everything it creates is removed at exit. Run as root (uses the postgres OS user) or
# as a normal user. WALVAULT_BENCH_KEEP=DIR keeps a copy of the repository there (for profiling).
set -euo pipefail
cd "$(dirname "$0")/.."
wal_mb=${1:-1024}
bin=${WALVAULT_BIN:-$PWD/build-verify/walvault}
bindir=/usr/lib/postgresql/15/bin
if [[ $(id -u) -eq 0 ]]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi

work=$(mktemp -d /tmp/walvault-bench-verify.XXXXXX)
chmod 755 "$work"
[[ $(id -u) -eq 0 ]] && chown postgres: "$work"
stream_pid=
# shellcheck source=bench/lib.sh
source bench/lib.sh  # the working directory is the repository root (see the cd above)
cleanup() {
  set +e
  [[ -n ${WALVAULT_BENCH_KEEP:-} && -d $work/repo ]] && cp -a "$work/repo" "$WALVAULT_BENCH_KEEP"
  stop_streamer
  [[ -f $work/data/postmaster.pid ]] && as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 30000))
as_pg "$bindir/initdb" -D "$work/data" -U postgres --auth=trust --no-sync >/dev/null
cat >>"$work/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work'
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
max_wal_size = 4GB
fsync = off
CONF
printf 'host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n' >>"$work/data/pg_hba.conf"
as_pg "$bindir/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres

as_pg "$bin" init --repo "$work/repo" -d "host=127.0.0.1 port=$port user=postgres" >/dev/null
as_pg "$bin" stream --repo "$work/repo" >"$work/stream.log" 2>&1 &
stream_pid=$!
sleep 1
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
segments=$(ls "$work/repo/wal" | grep -c '\.wvs$')
stored=$(du -sb "$work/repo/wal" | cut -f1)
echo "repository: $segments segment containers, $((stored >> 20)) MiB stored in wal/"
echo "command: taskset -c 0 walvault verify --repo REPO --full --json"
for run in 1 2 3; do
  # Exit 5 (problems found) still measures; the problems are printed below the figures.
  out=$(as_pg taskset -c 0 "$bin" verify --repo "$work/repo" --full --json) || true
  python3 - "$run" <<PY
import json, sys
d = json.loads('''$out''')
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
