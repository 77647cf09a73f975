#!/usr/bin/env bash
# Repository format benchmark: container compression speed and ratio per zstd level beside the zstd CLI and
# pgBackRest archive-push (zst, lz4), decompress + verify speed, index lookup latency with 10 M commits.
# Results go to stdout; bench/results/format.md records a run.
#
#   bench/format.sh            (as root; needs PostgreSQL 15, pgbench, pgbackrest, zstd, a build in build-format)
#
# WAL: a throwaway PG15 cluster + pgbench writes ~1 GB (64 segments) into bench/work/format-wal/ (reused when
# present). Its own WAL, not bench/make-wal.sh's, because pgBackRest's archive-push checks every segment's system
# identifier against the stanza, which needs that very cluster running.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/work
BUILD=${BUILD:-$ROOT/build-format}
PGBIN=/usr/lib/postgresql/15/bin
PORT=55491
SEGMENTS=${SEGMENTS:-64}
mkdir -p "$WORK"

as_pg() { runuser -u postgres -- "$@"; }
count_segments() { find "$1" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9A-F]{24}' 2>/dev/null | wc -l; }

# --- 1. WAL ----------------------------------------------------------------------------------------------------
PGDATA=$WORK/format-pg/data
WAL=$WORK/format-wal
start_cluster() {
  if [ ! -d "$PGDATA" ]; then
    mkdir -p "$WORK/format-pg" "$WAL"
    chown postgres: "$WORK/format-pg" "$WAL"
    as_pg "$PGBIN/initdb" -D "$PGDATA" --no-sync >/dev/null
    cat >> "$PGDATA/postgresql.conf" <<EOF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK/format-pg'
archive_mode = on
archive_command = 'cp %p $WAL/%f'
max_wal_size = 4GB
checkpoint_timeout = 30min
EOF
  fi
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/format-pg/log" -w start >/dev/null
}
stop_cluster() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true; }
trap stop_cluster EXIT
start_cluster
PGCONN=(-h "$WORK/format-pg" -p "$PORT")
if [ "$(count_segments "$WAL")" -lt "$SEGMENTS" ]; then
  as_pg "$PGBIN/pgbench" "${PGCONN[@]}" -i -s 20 -q postgres >/dev/null 2>&1
  # Alternate OLTP rounds (tpcb-like) with a re-initialisation (bulk COPY + index builds), so the WAL mixes
  # both kinds and 1 GB arrives in minutes on a small machine.
  while [ "$(count_segments "$WAL")" -lt "$SEGMENTS" ]; do
    as_pg "$PGBIN/pgbench" "${PGCONN[@]}" -c 4 -j 2 -T 15 postgres >/dev/null 2>&1
    as_pg "$PGBIN/pgbench" "${PGCONN[@]}" -i -s 20 -q postgres >/dev/null 2>&1
    as_pg "$PGBIN/psql" "${PGCONN[@]}" -qAtc 'select pg_switch_wal()' postgres >/dev/null
    sleep 1
  done
fi
mapfile -t SEGS < <(find "$WAL" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9A-F]{24}' | sort | head -n "$SEGMENTS")
RAW_BYTES=$(cat "${SEGS[@]}" | wc -c)
echo "wal: ${#SEGS[@]} segments, $RAW_BYTES bytes, from $WAL"

# --- 2. walvault containers --------------------------------------------------------------------------------------
cmake --build "$BUILD" --target walvault_core -j2 >/dev/null
BENCH=$WORK/format_bench
g++ -std=c++20 -O2 -I"$ROOT" -I"$ROOT/src" "$ROOT/bench/format_bench.cpp" -o "$BENCH" \
  "$BUILD/libwalvault_core.a" "$BUILD/libwalvault_format.a" "$BUILD/libwalvault_wal.a" -lzstd -lxxhash
OUT=$WORK/format-containers
for level in 1 3 6; do
  rm -rf "$OUT-$level" && mkdir -p "$OUT-$level"
  taskset -c 0 "$BENCH" compress "$level" "$OUT-$level" "${SEGS[@]}"
done
for level in 1 3; do
  taskset -c 0 "$BENCH" verify "$OUT-$level"/*.wvs | sed "s/^/level=$level /"
done

# --- 3. zstd CLI, single thread -----------------------------------------------------------------------------------
for level in 1 3; do
  cpu=$( { /usr/bin/time -f '%U %S' taskset -c 0 bash -c \
    'for f in "$@"; do zstd -q -T1 -'"$level"' -c "$f" >/dev/null; done' _ "${SEGS[@]}"; } 2>&1 | tail -1)
  stored=$(for f in "${SEGS[@]}"; do zstd -q -T1 -"$level" -c "$f" | wc -c; done | awk '{s+=$1} END {print s}')
  echo "zstd-cli level=$level stored_bytes=$stored ratio=$(awk "BEGIN {print $RAW_BYTES/$stored}") cpu_user_sys=$cpu"
done

# --- 4. pgBackRest archive-push (one process per segment, as archive_command runs it) ---------------------------
for type in zst lz4; do
  PGBR=$WORK/format-pgbr-$type
  rm -rf "$PGBR" && mkdir -p "$PGBR" && chown postgres: "$PGBR"
  cat > "$PGBR/pgbackrest.conf" <<EOF
[global]
repo1-path=$PGBR/repo
compress-type=$type
log-level-console=warn
log-level-file=off
lock-path=$PGBR/lock
[bench]
pg1-path=$PGDATA
pg1-port=$PORT
pg1-socket-path=$WORK/format-pg
EOF
  chown postgres: "$PGBR/pgbackrest.conf"
  as_pg pgbackrest --config="$PGBR/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
  chmod a+r "${SEGS[@]}"
  cpu=$( { /usr/bin/time -f '%U %S' taskset -c 0 runuser -u postgres -- bash -c \
    'for f in "$@"; do pgbackrest --config='"$PGBR"'/pgbackrest.conf --stanza=bench archive-push "$f"; done' _ \
    "${SEGS[@]}"; } 2>&1 | tail -1)
  stored=$(find "$PGBR/repo/archive" -type f -name '*-*' -printf '%s\n' | awk '{s+=$1} END {print s}')
  echo "pgbackrest compress-type=$type stored_bytes=$stored ratio=$(awk "BEGIN {print $RAW_BYTES/$stored}") cpu_user_sys=$cpu"
done

# --- 5. index lookups with 10 M commits ---------------------------------------------------------------------------
IDX=$WORK/format-index
rm -rf "$IDX"
"$BENCH" index-build "$IDX/compacted" 10000000 4000000
"$BENCH" index-lookup "$IDX/compacted" 200 | sed 's/^/compacted (3 runs): /'
"$BENCH" index-build "$IDX/level1" 10000000 262144
"$BENCH" index-lookup "$IDX/level1" 100 | sed 's/^/partly compacted (39 runs of 16 segments): /'
"$BENCH" index-build "$IDX/per-segment" 10000000 16384
"$BENCH" index-lookup "$IDX/per-segment" 50 | sed 's/^/uncompacted (611 runs): /'
du -sh "$IDX/compacted"
