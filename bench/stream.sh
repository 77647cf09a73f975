#!/usr/bin/env bash
# Streaming benchmark (issue 5): catch-up from physical slots that retained ~TARGET_MB of pgbench WAL, walvault
# stream against pg_receivewal (no compression, --compress=lz4, --compress=gzip), all on the same WAL; then the
# flush lag of walvault under pgbench (server LSN minus the flush position walvault acknowledged, which is its
# durable LSN, sampled every 100 ms from pg_stat_replication).
# Prints a markdown report on stdout (bench/results/stream.md is one such run).
# Usage: bench/stream.sh [walvault binary]   (TARGET_MB=1536, LAG_SECONDS=30; as root the server and the clients
# run as the postgres OS user)
set -euo pipefail

BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
WALVAULT=$(realpath "${1:-$ROOT/build/walvault}")
TARGET_MB=${TARGET_MB:-1536}
LAG_SECONDS=${LAG_SECONDS:-30}
PORT=55434
WORK="$(mktemp -d)"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() { as_pg "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$WORK"

as_pg "$BIN/initdb" -D "$WORK/data" -A trust -U postgres --no-sync >/dev/null
write_bench_pg_conf "$WORK/data" "$PORT" "$WORK"
as_pg "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w start >/dev/null
CONN="host=127.0.0.1 port=$PORT user=postgres"
psql() { as_pg "$BIN/psql" -h 127.0.0.1 -p $PORT -U postgres -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# Slots first, so they retain all the WAL generated below.
as_pg "$WALVAULT" -q init --repo "$WORK/repo" -d "$CONN" >/dev/null
# More walvault repositories with their own slots: the same catch-up at zstd levels 3 and -1, for comparison.
as_pg "$WALVAULT" -q init --repo "$WORK/repo_l3" -d "$CONN" --slot walvault_l3 >/dev/null
as_pg "$WALVAULT" -q init --repo "$WORK/repo_lm1" -d "$CONN" --slot walvault_lm1 >/dev/null
for s in rw_none rw_lz4 rw_gzip; do psql -c "SELECT pg_create_physical_replication_slot('$s', true)" >/dev/null; done
START=$(psql -c "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'walvault'")

as_pg "$BIN/pgbench" -h 127.0.0.1 -p $PORT -U postgres -q -i -s 20 postgres >/dev/null 2>&1
while [ "$(psql -c "SELECT (pg_current_wal_lsn() - '$START') / 1048576 < $TARGET_MB")" = t ]; do
  as_pg "$BIN/pgbench" -h 127.0.0.1 -p $PORT -U postgres -c 4 -T 20 postgres >/dev/null 2>&1
done
psql -c "SELECT pg_switch_wal()" >/dev/null
END=$(psql -c "SELECT pg_current_wal_lsn()")
# Everything from the start segment to the end: what every client must fetch.
WAL_BYTES=$(python3 -c "
def lsn(t):
    hi, lo = t.split('/'); return (int(hi, 16) << 32) | int(lo, 16)
print(lsn('$END') - lsn('$START') // 16777216 * 16777216)")

# "user sys maxrss_kb" from a /usr/bin/time -v log.
time_fields() {
  awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {r=$2} END {print u, s, r}' "$1"
}
report() {  # name, time log, stored bytes, wall seconds
  read -r user sys rss < <(time_fields "$2")
  python3 - "$1" "$user" "$sys" "$rss" "$3" "$4" "$WAL_BYTES" <<'PY'
import sys
name, user, sys_, rss, stored, wall, wal = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
cpu = user + sys_
print(f"| {name} | {wall:.1f} | {cpu:.2f} | {cpu / (wal / 1e9):.2f} | {rss / 1024:.1f} | {stored:,} | {wal / stored:.2f} |")
PY
}

ROWS=()
INDEX_NOTES=()  # the index's share of walvault's bytes stored
# walvault: stream until its durable LSN reaches END, then SIGTERM. Args: repository, zstd level.
catch_up() {
  local repo=$1 level=$2
  t0=$(date +%s.%N)
  as_pg /usr/bin/time -v -o "$repo.time" "$WALVAULT" -q stream --repo "$repo" --compress-level="$level" &
  until python3 - "$repo/tip/stream.state" "$END" <<'PY'
import json, sys
def lsn(t):
    hi, lo = t.split('/'); return (int(hi, 16) << 32) | int(lo, 16)
try:
    s = json.loads(open(sys.argv[1]).read())
except Exception:
    sys.exit(1)
sys.exit(0 if lsn(s["durable_lsn"]) >= lsn(sys.argv[2]) else 1)
PY
  do sleep 0.1; done
  t1=$(date +%s.%N)
  kill -TERM "$(cat "$repo/locks/stream.lock")"; wait
  STORED=$(du -scb --apparent-size "$repo/wal" "$repo/index" | tail -1 | cut -f1)
  INDEX=$(du -sb --apparent-size "$repo/index" | cut -f1)
  ROWS+=("$(report "walvault stream (zstd $level)" "$repo.time" "$STORED" "$(echo "$t1 - $t0" | bc)")")
  INDEX_NOTES+=("$(python3 -c "print(f'zstd $level: {$INDEX:,} bytes ({100 * $INDEX / $STORED:.1f} %)')")")
}
catch_up "$WORK/repo" 1
catch_up "$WORK/repo_l3" 3
catch_up "$WORK/repo_lm1" -1

for mode in none lz4 gzip; do
  dir="$WORK/rw_$mode"; mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
  comp=(); [ $mode != none ] && comp=(--compress=$mode)
  t0=$(date +%s.%N)
  as_pg /usr/bin/time -v -o "$WORK/rw_$mode.time" "$BIN/pg_receivewal" -d "$CONN" -D "$dir" -S "rw_$mode" \
    --no-loop -E "$END" "${comp[@]}" 2>/dev/null || true
  t1=$(date +%s.%N)
  STORED=$(du -sb --apparent-size "$dir" | cut -f1)
  ROWS+=("$(report "pg_receivewal ${comp[*]:-(none)}" "$WORK/rw_$mode.time" "$STORED" "$(echo "$t1 - $t0" | bc)")")
done

# Flush lag under pgbench: the streamer runs, caught up; sample server LSN - acknowledged flush every 100 ms.
as_pg "$WALVAULT" -q stream --repo "$WORK/repo" &
sleep 2
LAG_START=$(psql -c "SELECT pg_current_wal_lsn()"); LAG_T0=$(date +%s.%N)
as_pg "$BIN/pgbench" -h 127.0.0.1 -p $PORT -U postgres -c 4 -T "$LAG_SECONDS" postgres > "$WORK/pgbench.out" 2>&1 &
PGB=$!
python3 - "$PORT" "$LAG_SECONDS" > "$WORK/lag.txt" <<'PY' &
import subprocess, sys, time, os
port, seconds = sys.argv[1], float(sys.argv[2])
q = ("SELECT pg_current_wal_lsn() - flush_lsn FROM pg_stat_replication WHERE application_name = 'walvault'")
cmd = ["psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-XAtq", "-c", q]
if os.geteuid() == 0: cmd = ["runuser", "-u", "postgres", "--"] + cmd
end = time.time() + seconds
while time.time() < end:
    t = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    if out: print(out)
    time.sleep(max(0, 0.1 - (time.time() - t)))
PY
SAMPLER=$!
wait $PGB; LAG_T1=$(date +%s.%N); LAG_END=$(psql -c "SELECT pg_current_wal_lsn()"); wait $SAMPLER
RATE=$(psql -c "SELECT round(('$LAG_END'::pg_lsn - '$LAG_START'::pg_lsn) / ($LAG_T1 - $LAG_T0))")
TPS=$(grep -o 'tps = [0-9.]*' "$WORK/pgbench.out" | head -1)
kill -TERM "$(cat "$WORK/repo/locks/stream.lock")"; wait
LAG=$(python3 - "$WORK/lag.txt" "$RATE" <<'PY'
import sys
v = sorted(int(x) for x in open(sys.argv[1]) if x.strip())
rate = float(sys.argv[2])
def p(q): return v[min(len(v) - 1, int(q * len(v)))]
def s(b): return f"{b:,} bytes = {b / rate:.3f} s"
print(f"{len(v)} samples at a WAL rate of {rate / 1e6:.1f} MB/s; p50 {s(p(0.50))}, p99 {s(p(0.99))}, max {s(v[-1])}")
PY
)

cat <<MD
WAL fetched: $WAL_BYTES bytes ($START → $END, pgbench scale 20, checkpoint_timeout 30s).

| client | wall s | CPU s | CPU s/GB | peak RSS MiB | bytes stored | ratio |
|---|---|---|---|---|---|---|
$(printf '%s\n' "${ROWS[@]}")

Of walvault's bytes stored, the index (index/, format version 2 runs): $(IFS=';'; echo "${INDEX_NOTES[*]}" | sed 's/;/; /g').

Flush lag under pgbench -c 4 for ${LAG_SECONDS}s ($TPS): $LAG
MD
