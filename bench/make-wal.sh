#!/usr/bin/env bash
# Generates the WAL that bench/decode.sh reads, with throwaway PostgreSQL 15 clusters (16 MiB segments):
#   bench/work/pgbench/   ~TARGET_MB of pgbench WAL (checkpoint_timeout=30s, so full-page images dominate)
#   bench/work/inserts/   ~TARGET_MB of single-row INSERT WAL (one small Heap INSERT record per row)
# bench/work/ is gitignored. Usage: bench/make-wal.sh   (TARGET_MB=1024 by default; as root the servers run
# as the postgres OS user)
set -euo pipefail

BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
ROOT="$(cd "$(dirname "$0")" && pwd)"
TARGET_MB=${TARGET_MB:-1024}
PORT=55433

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

generate() {
  local name=$1 workload=$2
  local tmp; tmp="$(mktemp -d)"
  [ "$(id -u)" = 0 ] && chown postgres "$tmp"
  as_pg "$BIN/initdb" -D "$tmp/data" -A trust -U postgres --no-sync >/dev/null
  cat >>"$tmp/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$tmp'
port = $PORT
fsync = off
synchronous_commit = off
wal_keep_size = 4GB
max_wal_size = 4GB
checkpoint_timeout = 30s
autovacuum = off
CONF
  as_pg "$BIN/pg_ctl" -D "$tmp/data" -l "$tmp/log" -w start >/dev/null
  local psql=(as_pg "$BIN/psql" -h "$tmp" -p $PORT -U postgres -X -q -At -v ON_ERROR_STOP=1)
  local first; first=$("${psql[@]}" -c "SELECT pg_walfile_name(pg_switch_wal())")
  first=$("${psql[@]}" -c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
  local start; start=$("${psql[@]}" -c "SELECT pg_current_wal_insert_lsn()")
  "$workload" "$tmp"
  while [ "$("${psql[@]}" -c "SELECT (pg_current_wal_insert_lsn() - '$start') / 1048576 < $TARGET_MB")" = t ]; do
    "$workload" "$tmp"
  done
  local last; last=$("${psql[@]}" -c "SELECT pg_walfile_name(pg_switch_wal())")
  as_pg "$BIN/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null
  rm -rf "${ROOT:?}/work/$name" && mkdir -p "$ROOT/work/$name"
  for f in "$tmp"/data/pg_wal/*; do
    local b; b=$(basename "$f")
    if [[ ${#b} = 24 && ! "$b" < "$first" && ! "$b" > "$last" ]]; then cp "$f" "$ROOT/work/$name/"; fi
  done
  rm -rf "$tmp"
  echo "$name: $(ls "$ROOT/work/$name" | wc -l) segments $first..$last" >&2
}

pgbench_workload() {
  local tmp=$1
  if [ ! -f "$tmp/.initialized" ]; then
    as_pg "$BIN/pgbench" -h "$tmp" -p $PORT -U postgres -i -s 20 -q postgres >/dev/null 2>&1
    touch "$tmp/.initialized"
  fi
  as_pg "$BIN/pgbench" -h "$tmp" -p $PORT -U postgres -c 2 -T 15 -n postgres >/dev/null 2>&1
}

inserts_workload() {
  local tmp=$1
  as_pg "$BIN/psql" -h "$tmp" -p $PORT -U postgres -X -q -v ON_ERROR_STOP=1 \
    -c "SET client_min_messages = warning" -c "CREATE TABLE IF NOT EXISTS t (id bigint, v int)" \
    -c "INSERT INTO t SELECT g, g FROM generate_series(1, 2000000) g" >/dev/null
}

mkdir -p "$ROOT/work"
generate pgbench pgbench_workload
generate inserts inserts_workload
