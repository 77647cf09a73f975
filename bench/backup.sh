#!/usr/bin/env bash
# Base backup benchmark: `walvault backup` beside `pgbackrest backup --type=full` (compress-type=zst) and
# `pg_basebackup -Ft -Xnone --compress=client-zstd`, on the same pgbench database (scale 70 ≈ 1 GB).
#
#   bash bench/backup.sh [SCALE]        (default 70; as root; needs PostgreSQL 15, pgbench, pgbackrest)
#
# WALVAULT_BIN (default build-backup/walvault) selects the binary. It starts a throwaway PostgreSQL 15 (archiving
# through pgBackRest, so pgBackRest can back it up), loads pgbench, starts `walvault stream` (which backup
# requires), then runs each tool once with a fast checkpoint, the data in the page cache. Per tool it prints:
# wall seconds; client CPU seconds (user+sys of the tool and its children, /usr/bin/time); machine CPU seconds
# (every process, the server's walsender included, from /proc/stat); peak RSS of the client; bytes stored
# (backup files only, no WAL). MB/s and CPU s/GB are per raw data byte (the tar size walvault records).
# Everything it creates is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-70}
bin=${WALVAULT_BIN:-$PWD/build-backup/walvault}
bindir=/usr/lib/postgresql/15/bin
port=55493
as_pg() { runuser -u postgres -- "$@"; }

work=$(mktemp -d /tmp/walvault-bench-backup.XXXXXX)
chmod 755 "$work"
chown postgres: "$work"
stream_pid=
# shellcheck source=bench/lib.sh
source bench/lib.sh  # the working directory is the repository root (see the cd above)
cleanup() {
  set +e
  stop_streamer
  [[ -f $work/data/postmaster.pid ]] && as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/pgbackrest.conf" <<EOF
[global]
repo1-path=$work/pgbr
compress-type=zst
start-fast=y
log-level-console=warn
log-level-file=off
lock-path=$work/pgbr-lock
spool-path=$work/pgbr-spool

[bench]
pg1-path=$work/data
pg1-port=$port
pg1-socket-path=$work
EOF
chown postgres: "$work/pgbackrest.conf"
pgbr=(pgbackrest --config="$work/pgbackrest.conf" --stanza=bench)

as_pg "$bindir/initdb" -D "$work/data" -A trust --no-sync >/dev/null
cat >> "$work/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
archive_mode = on
archive_command = 'pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p'
max_wal_size = 4GB
checkpoint_timeout = 30min
EOF
as_pg "$bindir/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
echo "loading pgbench scale $scale ..." >&2
as_pg "$bindir/pgbench" -h "$work" -p "$port" -i -q -s "$scale" postgres >/dev/null 2>&1
# Flush pgbench's dirty pages now, so the first tool's fast checkpoint does not pay for them.
as_pg "$bindir/psql" -h "$work" -p "$port" -qc CHECKPOINT postgres
as_pg "${pgbr[@]}" stanza-create >/dev/null
db_bytes=$(as_pg "$bindir/psql" -h "$work" -p "$port" -Atc "SELECT sum(pg_database_size(oid)) FROM pg_database" postgres)

as_pg "$bin" init --repo "$work/repo" -d "host=127.0.0.1 port=$port user=postgres" >/dev/null
runuser -u postgres -- "$bin" stream --repo "$work/repo" >"$work/stream.log" 2>&1 &
stream_pid=$!
for _ in $(seq 100); do [[ -f $work/repo/tip/stream.state ]] && break; sleep 0.1; done

machine_cpu() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
ticks=$(getconf CLK_TCK)
# measure NAME STORED_DIR COMMAND...: one run, one result line.
measure() {
  local name=$1 stored_dir=$2
  shift 2
  sync
  local before after
  before=$(machine_cpu)
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" >"$work/$name.out" 2>"$work/$name.err"
  after=$(machine_cpu)
  read -r wall user sys rss_kb <"$work/time.txt"
  local stored
  stored=$(du -sb "$stored_dir" | cut -f1)
  results+=("$name $wall $user $sys $rss_kb $stored $(((after - before)))")
}
results=()
measure walvault "$work/repo/backup" runuser -u postgres -- "$bin" backup --repo "$work/repo" --fast --json
raw=$(grep -m1 '"raw_size"' "$work/walvault.out" | tr -dc 0-9)
measure pgbackrest "$work/pgbr/backup" runuser -u postgres -- "${pgbr[@]}" --type=full backup
mkdir "$work/pgbb" && chown postgres: "$work/pgbb"
measure pg_basebackup "$work/pgbb" runuser -u postgres -- "$bindir/pg_basebackup" -h "$work" -p "$port" \
  -D "$work/pgbb/b" -Ft -Xnone --compress=client-zstd -c fast

echo "database: $(numfmt --to=iec "$db_bytes") (pg_database_size), raw tar $(numfmt --to=iec "$raw") ($raw bytes)"
printf '%-14s %8s %8s %10s %12s %12s %9s %14s %7s\n' tool wall_s MB/s client_cpu cpu_s/GB machine_cpu peak_rss stored_bytes ratio
for line in "${results[@]}"; do
  read -r name wall user sys rss_kb stored mticks <<<"$line"
  awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss_kb" -v st="$stored" -v m="$mticks" \
      -v t="$ticks" -v raw="$raw" 'BEGIN {
    gb = raw / 1e9; cpu = u + s;
    printf "%-14s %8.2f %8.1f %10.2f %12.2f %12.2f %7.1fMB %14d %7.2f\n",
           n, w, raw / 1e6 / w, cpu, cpu / gb, m / t, r / 1024, st, raw / st }'
done
