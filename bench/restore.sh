#!/usr/bin/env bash
# Restore benchmark: PostgreSQL's replay rate through `walvault wal-fetch` (with and without the prefetch
# spool) against replay from a local pg_wal, on the same WAL; per-segment wal-fetch latency; and the restore
# time split into extraction (walvault restore) and replay (--start until promoted).
#
#   bash bench/restore.sh [SCALE] [SECONDS]     (defaults 20 and 60; as root; needs PostgreSQL 15 and pgbench)
#
# WALVAULT_BIN (default build-restore/walvault) selects the binary. It starts a throwaway PostgreSQL 15, runs
# `walvault init` + `stream`, loads pgbench at SCALE, takes a backup, runs pgbench for SECONDS, waits until
# the repository holds everything, then restores with --latest three ways: wal-fetch with the spool
# (--prefetch 8), wal-fetch without it (--prefetch 0), and local pg_wal (every segment fetched into pg_wal
# beforehand and restore_command set to /bin/false). Replay MiB/s = bytes of WAL between the backup's start
# and the end of the archive / seconds from `pg_ctl start` to promotion (walvault's own report).
# Everything it creates is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-20}
seconds=${2:-60}
bin=${WALVAULT_BIN:-$PWD/build-restore/walvault}
bindir=/usr/lib/postgresql/15/bin
port=55497
as_pg() { runuser -u postgres -- "$@"; }

work=$(mktemp -d /tmp/walvault-bench-restore.XXXXXX)
chmod 755 "$work"
chown postgres: "$work"
stream_pid=
cleanup() {
  set +e
  for d in "$work"/r-*; do
    [[ -f $d/postmaster.pid ]] && as_pg "$bindir/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1
  done
  [[ -n $stream_pid ]] && kill "$stream_pid" 2>/dev/null && wait "$stream_pid" 2>/dev/null
  [[ -f $work/data/postmaster.pid ]] && as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

as_pg "$bindir/initdb" -D "$work/data" -A trust >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
max_wal_size = 4GB
EOF
as_pg "$bindir/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
conn="host=127.0.0.1 port=$port user=postgres dbname=postgres"
as_pg "$bin" init --repo "$work/repo" -d "$conn" >/dev/null
as_pg "$bin" stream --repo "$work/repo" >"$work/stream.log" 2>&1 &
stream_pid=$!
sleep 2
as_pg "$bindir/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1
as_pg "$bin" backup --repo "$work/repo" --fast >/dev/null
as_pg "$bindir/pgbench" -h 127.0.0.1 -p "$port" -U postgres -c 4 -j 2 -T "$seconds" postgres >/dev/null 2>&1
as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc "SELECT pg_switch_wal()" >/dev/null
sleep 3
segments=$(ls "$work/repo/wal" | grep -c '\.wvs$')
echo "repository: $segments segment containers, $(du -sm "$work/repo/wal" | cut -f1) MiB stored"

# Per-segment wal-fetch latency, no spool (cold decompression + verification + write).
mkdir -p "$work/fetch" && chown postgres: "$work/fetch"
start=$(date +%s.%N)
for f in $(ls "$work/repo/wal" | grep '\.wvs$' | sed 's/\.wvs$//'); do
  as_pg "$bin" wal-fetch --repo "$work/repo" "$f" "$work/fetch/RECOVERYXLOG"
done
end=$(date +%s.%N)
echo "wal-fetch direct: $(echo "($end - $start) * 1000 / $segments" | bc -l | cut -c1-6) ms per segment (incl. runuser + process start)"

restore() {  # name, extra args...
  local name=$1
  shift
  as_pg "$bin" restore --repo "$work/repo" --target-dir "$work/r-$name" --latest "$@" --json >"$work/$name.json"
}
wal_mib() {  # WAL bytes from the backup start to the end of replay
  python3 - "$1" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
print(j["segments"] * 16)
EOF
}
report() {  # name
  python3 - "$work/$1.json" "$1" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
mib = j["segments"] * 16
ext = j["extract"]["seconds"]
rec = j["start"]["recovery_seconds"] if "start" in j else None
print(f"{sys.argv[2]:>16}: {j['segments']} segments ({mib} MiB WAL), extract {ext:.2f} s, "
      f"replay {rec:.2f} s = {mib / rec:.0f} MiB/s" if rec else f"{sys.argv[2]}: extract {ext:.2f} s")
EOF
}

restore spool --start --port 55601
report spool
as_pg "$bindir/pg_ctl" -D "$work/r-spool" -m immediate stop >/dev/null
restore nospool --start --port 55602 --prefetch 0
report nospool
as_pg "$bindir/pg_ctl" -D "$work/r-nospool" -m immediate stop >/dev/null

# Local pg_wal: the same restore, every segment placed in pg_wal first, restore_command disabled.
restore local --port 55603
for f in $(ls "$work/repo/wal" | grep '\.wvs$' | sed 's/\.wvs$//'); do
  as_pg "$bin" wal-fetch --repo "$work/repo" "$f" "$work/r-local/pg_wal/$f"
done
echo "restore_command = '/bin/false'" >>"$work/r-local/postgresql.auto.conf"
s=$(date +%s.%N)
as_pg "$bindir/pg_ctl" -D "$work/r-local" -l "$work/r-local/walvault-restore.log" -W start >/dev/null
until [[ $(as_pg "$bindir/psql" -h "$work" -p 55603 -U postgres -Atc "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]]; do
  sleep 0.05
done
e=$(date +%s.%N)
mib=$(wal_mib "$work/local.json")
echo "       local pg_wal: replay $(echo "$e - $s" | bc -l | cut -c1-5) s = $(echo "$mib / ($e - $s)" | bc -l | cut -d. -f1) MiB/s"
