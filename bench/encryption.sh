#!/usr/bin/env bash
# Encryption benchmark (issue 21): streaming into a plain and into an encrypted local repository, and replay
# through wal-fetch from each, all on the same WAL of one throwaway PostgreSQL 15 cluster.
#
#   bash bench/encryption.sh [walvault binary]     (as root; default build-bench/walvault, or $WALVAULT_BIN)
#
# TARGET_MB (default 1024): WAL the slots retain for the catch-up. ROUNDS (3): restores from each repository.
# CATCHUP_ROUNDS (2): catch-ups into each kind of repository (each round has a plain and an encrypted repository
# with slots of their own, so every catch-up fetches the same WAL).
#
# 1. 2 x CATCHUP_ROUNDS repositories, plain-N (no encryption) and enc-N (`init --encrypt`, a raw 32-byte key file),
#    each with its own slot. Their streamers run while each repository takes a base backup of the empty cluster,
#    then stop; pgbench then writes ~TARGET_MB of WAL that every slot retains.
# 2. Catch-up: `walvault stream` into one repository at a time, alternating which kind goes first from round to
#    round (the first of a run meets cold caches); each is stopped (SIGTERM) once the flush position it reported
#    to the server reaches the end LSN and `walvault status --json` confirms its durable_lsn there. CPU seconds
#    (user + sys), CPU s per GB of WAL and peak RSS from /usr/bin/time -v; wall time.
# 3. Replay: `walvault restore --latest --start` from plain-1 and enc-1, ROUNDS times, alternately (which goes first
#    alternates too): start-to-promoted and PostgreSQL's own redo time, MiB/s = 16 MiB x segments replayed / time.
# 4. `walvault wal-fetch` of every segment (no spool, one process per segment, as restore_command without prefetch)
#    from each, alternately, under /usr/bin/time -v: CPU s per GB served and peak RSS.
# Targets (issue 21): capture CPU of the encrypted repository at most 110 % of the plain one; replay from the
# encrypted repository at least 90 % of the plain one.
# Prints a markdown report on stdout and writes it to bench/results/encryption.md. Everything else it creates is
# removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
root=$PWD
bin=$(realpath "${1:-${WALVAULT_BIN:-$root/build-bench/walvault}}")
pgbin=/usr/lib/postgresql/15/bin
target_mb=${TARGET_MB:-1024}
rounds=${ROUNDS:-3}
catchup_rounds=${CATCHUP_ROUNDS:-2}
port=55438
now() { date +%s.%N; }
t_begin=$(now)
load_before=$(uptime | sed 's/.*load average: //')

work=$(mktemp -d /tmp/walvault-bench-encryption.XXXXXX)
chmod 755 "$work"
chown postgres: "$work"
declare -A streamers=()  # running streamers: name -> pid of the background job that runs it

as_pg() { runuser -u postgres -- "$@"; }
# Stops a streamer: SIGTERM to walvault itself (the child of /usr/bin/time, whose pid its wrapper wrote), at most
# 60 s for it to exit (then SIGKILL), and reaps the wrapper.
stop_bench_streamer() {  # name
  local w i
  w=$(pgrep -P "$(cat "$work/$1.pid")" || true)
  [[ -z $w ]] || kill -TERM "$w" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do kill -0 "${streamers[$1]}" 2>/dev/null || break; sleep 0.1; done
  [[ -z $w ]] || kill -KILL "$w" 2>/dev/null || true
  wait "${streamers[$1]}" 2>/dev/null || true
  unset "streamers[$1]"
}
cleanup() {
  set +e
  for n in "${!streamers[@]}"; do stop_bench_streamer "$n"; done
  for d in "$work"/r-* "$work/data"; do
    [[ -f $d/postmaster.pid ]] && as_pg "$pgbin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

# The key: 32 random bytes, the first one non-printable (a raw key, not a passphrase), readable by postgres alone.
key=$work/bench.key
{ printf '\001'; head -c 31 /dev/urandom; } >"$key"
chmod 600 "$key"
chown postgres: "$key"
key_args() {  # repository name -> the key options it needs (none for a plain one)
  [[ $1 == enc-* ]] && printf '%s\n' --key-file "$key"
  return 0
}

# --- PostgreSQL -----------------------------------------------------------------------------------------------
as_pg "$pgbin/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
write_bench_pg_conf "$work/data" "$port" "$work"
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
conn="host=127.0.0.1 port=$port user=postgres dbname=postgres"
psql() { as_pg "$pgbin/psql" -h 127.0.0.1 -p $port -U postgres -X -q -At -v ON_ERROR_STOP=1 "$@"; }
lsn_py='
def lsn(t):
    hi, lo = t.split("/"); return (int(hi, 16) << 32) | int(lo, 16)'
slot_flush() {  # slot -> flush_lsn its streamer reported to the server ('' while not connected)
  psql -c "SELECT r.flush_lsn FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid
           WHERE s.slot_name = '$1'"
}
lsn_ge() { python3 -c "$lsn_py
import sys; sys.exit(0 if lsn('$1') >= lsn('$2') else 1)"; }
slot_of() { echo "walvault_${1//-/_}"; }

names=()
for r in $(seq "$catchup_rounds"); do names+=("plain-$r" "enc-$r"); done
for n in "${names[@]}"; do
  mapfile -t k < <(key_args "$n")
  encrypt=()
  [[ $n == enc-* ]] && encrypt=(--encrypt)
  as_pg "$bin" -q init --repo "$work/$n" -d "$conn" --slot "$(slot_of "$n")" "${encrypt[@]}" "${k[@]}" >/dev/null
done

start_streamer() {  # repository name
  local n=$1 i k
  mapfile -t k < <(key_args "$n")
  rm -f "$work/$n.pid"
  # shellcheck disable=SC2016
  as_pg sh -c 'echo $$ >"$1"; shift; exec /usr/bin/time -v -o "$@"' sh "$work/$n.pid" "$work/$n.time" \
    "$bin" -q stream --repo "$work/$n" "${k[@]}" 2>"$work/$n.stream.log" &
  streamers[$n]=$!
  for ((i = 0; i < 100; i++)); do [[ -s $work/$n.pid ]] && pgrep -P "$(cat "$work/$n.pid")" >/dev/null && break; sleep 0.05; done
}
wait_flushed() {  # LSN: until every repository's streamer reported flushing up to it (at most 60 s)
  local i n f ok
  for ((i = 0; i < 600; i++)); do
    ok=1
    for n in "${names[@]}"; do
      f=$(slot_flush "$(slot_of "$n")")
      if [[ -z $f ]] || ! lsn_ge "$f" "$1"; then ok=0; break; fi
    done
    ((ok)) && return 0
    sleep 0.1
  done
  echo "the streamers did not reach $1; see $work/*.stream.log" >&2
  return 1
}
# Base backups of the empty cluster, one per repository, while every streamer runs; then every slot at the same
# segment boundary, so that every catch-up fetches the same WAL.
for n in "${names[@]}"; do start_streamer "$n"; done
sleep 2
for n in "${names[@]}"; do
  mapfile -t k < <(key_args "$n")
  as_pg "$bin" -q backup --repo "$work/$n" --fast "${k[@]}" >/dev/null
done
psql -c "SELECT pg_switch_wal()" >/dev/null
wait_flushed "$(psql -c "SELECT pg_current_wal_lsn()")"
for n in "${names[@]}"; do stop_bench_streamer "$n"; done

# --- WAL the slots retain ---------------------------------------------------------------------------------------
start_lsn=$(psql -c "SELECT min(restart_lsn) FROM pg_replication_slots")
as_pg "$pgbin/pgbench" -h 127.0.0.1 -p $port -U postgres -q -i -s 10 postgres >/dev/null 2>&1
while [[ $(psql -c "SELECT (pg_current_wal_lsn() - '$start_lsn') / 1048576 < $target_mb") == t ]]; do
  as_pg "$pgbin/pgbench" -h 127.0.0.1 -p $port -U postgres -c 4 -T 10 postgres >/dev/null 2>&1
done
psql -c "SELECT pg_switch_wal()" >/dev/null
end_lsn=$(psql -c "SELECT pg_current_wal_lsn()")
as_pg "$pgbin/pg_ctl" -D "$work/data" -m fast stop >/dev/null  # restarted for the catch-ups: no load beside them
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null

# "user sys maxrss_kb" from a /usr/bin/time -v log.
time_fields() {
  awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {r=$2} END {print u, s, r}' "$1"
}
durable_lsn() {  # repository name -> its durable LSN per walvault status --json
  local k
  mapfile -t k < <(key_args "$1")
  as_pg "$bin" status --repo "$work/$1" --json "${k[@]}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["durable_lsn"] or "0/0")'
}

# --- catch-up, one streamer at a time ---------------------------------------------------------------------------
catch_up() {  # repository name, round
  local n=$1 slot wal t0 t1 f user sys rss
  slot=$(slot_of "$n")
  wal=$(python3 -c "$lsn_py
print(lsn('$end_lsn') - lsn('$(psql -c "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '$slot'")') // 16777216 * 16777216)")
  t0=$(now)
  start_streamer "$n"
  while :; do
    f=$(slot_flush "$slot")
    if [[ -n $f ]] && lsn_ge "$f" "$end_lsn" && lsn_ge "$(durable_lsn "$n")" "$end_lsn"; then break; fi
    sleep 0.1
  done
  t1=$(now)
  stop_bench_streamer "$n"
  read -r user sys rss < <(time_fields "$work/$n.time")
  echo "${n%-*} $2 $wal $(echo "$t1 - $t0" | bc -l) $user $sys $rss $(du -sb --apparent-size "$work/$n" | cut -f1)" \
    >>"$work/catchup.rows"
}
for r in $(seq "$catchup_rounds"); do
  if ((r % 2 == 1)); then
    catch_up "plain-$r" "$r"
    catch_up "enc-$r" "$r"
  else
    catch_up "enc-$r" "$r"
    catch_up "plain-$r" "$r"
  fi
done
catchup_report=$(python3 - "$work/catchup.rows" <<'PY'
import statistics, sys
rows = {}
print("| into | round | WAL bytes fetched | wall s | CPU s | CPU s/GB | peak RSS MiB | repository bytes |")
print("|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    kind, r, wal, wall, user, sys_, rss, stored = line.split()
    cpu, gb = float(user) + float(sys_), int(wal) / 1e9
    rows.setdefault(kind, []).append((cpu / gb, int(rss) / 1024))
    print(f"| {kind} | {r} | {int(wal):,} | {float(wall):.1f} | {cpu:.2f} | {cpu / gb:.2f} | {int(rss) / 1024:.1f} | "
          f"{int(stored):,} |")
cpu = {k: statistics.median(x[0] for x in v) for k, v in rows.items()}
rss = {k: max(x[1] for x in v) for k, v in rows.items()}
print()
print(f"Median CPU per GB: plain {cpu['plain']:.2f} s, encrypted {cpu['enc']:.2f} s = "
      f"**{100 * cpu['enc'] / cpu['plain']:.0f} %** of plain (target: ≤ 110 %); peak RSS plain {rss['plain']:.1f} MiB, "
      f"encrypted {rss['enc']:.1f} MiB.")
PY
)
as_pg "$pgbin/pg_ctl" -D "$work/data" -m fast stop >/dev/null

# --- replay through wal-fetch -----------------------------------------------------------------------------------
restore_round() {  # repository name, round
  local n=$1 name=$1-r$2 p=$((55800 + 10 * $2 + ${#1})) k
  mapfile -t k < <(key_args "$n")
  as_pg "$bin" restore --repo "$work/$n" --target-dir "$work/r-$name" --latest --start --port "$p" --json "${k[@]}" \
    >"$work/$name.json"
  python3 - "$work/$name.json" "${n%-*}" "$2" "$work/r-$name/walvault-restore.log" >>"$work/replay.rows" <<'PY'
import json, re, sys
j = json.load(open(sys.argv[1]))
m = re.findall(r"redo done at .*elapsed: ([0-9.]+) s", open(sys.argv[4]).read())
redo = float(m[-1]) if m else float("nan")
print(sys.argv[2], sys.argv[3], j["segments"], j["extract"]["seconds"], j["start"]["recovery_seconds"], redo)
PY
  as_pg "$pgbin/pg_ctl" -D "$work/r-$name" -m immediate stop >/dev/null
  rm -rf "$work/r-$name"
}
for r in $(seq "$rounds"); do
  if ((r % 2 == 1)); then
    restore_round plain-1 "$r"
    restore_round enc-1 "$r"
  else
    restore_round enc-1 "$r"
    restore_round plain-1 "$r"
  fi
done
replay_report=$(python3 - "$work/replay.rows" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, r, segs, ext, rec, redo = line.split()
    rows.setdefault(name, []).append((int(r), int(segs) * 16, float(ext), float(rec), float(redo)))
print("| from | round | segments | extract s | start-to-promoted s | MiB/s | redo s | redo MiB/s |")
print("|---|---|---|---|---|---|---|---|")
for name in ("plain", "enc"):
    for r, mib, ext, rec, redo in rows[name]:
        print(f"| {name} | {r} | {mib // 16} | {ext:.2f} | {rec:.2f} | {mib / rec:.0f} | {redo:.2f} | {mib / redo:.0f} |")
med = {n: (statistics.median(x[1] / x[3] for x in rows[n]), statistics.median(x[1] / x[4] for x in rows[n]))
       for n in rows}
print()
print(f"Median over {len(rows['enc'])} rounds: start-to-promoted encrypted {med['enc'][0]:.0f} MiB/s vs plain "
      f"{med['plain'][0]:.0f} MiB/s = **{100 * med['enc'][0] / med['plain'][0]:.0f} %**; redo encrypted "
      f"{med['enc'][1]:.0f} MiB/s vs plain {med['plain'][1]:.0f} MiB/s = **{100 * med['enc'][1] / med['plain'][1]:.0f} %** "
      f"(target: encrypted ≥ 90 % of plain).")
PY
)

# --- wal-fetch alone: CPU and RSS per segment served ------------------------------------------------------------
mkdir -p "$work/fetch"
chown postgres: "$work/fetch"
segs=$(cd "$work/plain-1/wal" && printf '%s\n' 0*.wvs | sed 's/\.wvs$//')
: >"$work/fetch.rows"
for f in $segs; do
  for n in plain-1 enc-1; do
    mapfile -t k < <(key_args "$n")
    as_pg /usr/bin/time -v -o "$work/fetch/time" "$bin" wal-fetch --repo "$work/$n" "${k[@]}" "$f" "$work/fetch/$f"
    echo "${n%-*} $(time_fields "$work/fetch/time")" >>"$work/fetch.rows"
    rm -f "$work/fetch/$f"
  done
done
fetch_report=$(python3 - "$work/fetch.rows" <<'PY'
import sys
v = {}
for line in open(sys.argv[1]):
    n, user, sys_, rss = line.split()
    v.setdefault(n, []).append((float(user) + float(sys_), int(rss) / 1024))
for n in ("plain", "enc"):
    xs = v[n]
    gb = len(xs) * 16 * 2**20 / 1e9
    cpu = sum(x[0] for x in xs)
    print(f"- {n}: {len(xs)} segments, CPU {cpu:.2f} s = {cpu / gb:.2f} s/GB served, peak RSS {max(x[1] for x in xs):.1f} MiB")
PY
)

load_after=$(uptime | sed 's/.*load average: //')
wal_total=$(python3 -c "$lsn_py
print(lsn('$end_lsn') - lsn('$start_lsn'))")
cat <<MD | tee "$root/bench/results/encryption.md"
Run of $(date -u +%Y-%m-%dT%H:%MZ), walvault $(git -C "$root" rev-parse --short HEAD) ($bin), PostgreSQL 15, local
repositories on $(df --output=fstype "$work" | tail -1). Load average (1, 5, 15 min) before: $load_before; after: $load_after.
$(nproc) cores. $(grep -m1 -o -w aes /proc/cpuinfo >/dev/null && echo "The CPU has AES-NI." || echo "The CPU has no AES-NI.")
Whole script: $(echo "$(now) - $t_begin" | bc -l | cut -d. -f1) s.

# Catch-up

WAL every slot retained: $wal_total bytes ($start_lsn → $end_lsn: pgbench -i -s 10, then pgbench -c 4 -T 10 until
$target_mb MiB, checkpoint_timeout 30s). One streamer at a time, the server otherwise idle; the kind that goes first
alternates from round to round. plain = no encryption; enc = \`init --encrypt\` with a raw key file.

$catchup_report

# Replay through wal-fetch

\`walvault restore --latest --start\` (as postgres, prefetch spool, default --prefetch 8) of the same
(empty-cluster) backup and the same WAL from plain-1 and enc-1, alternately; the source server stopped.
MiB/s = 16 MiB x segments / time; redo = PostgreSQL's "redo done ... elapsed".

$replay_report

# wal-fetch alone

Every segment fetched once from each repository (no spool, one process per segment, alternately), under
/usr/bin/time -v:
$fetch_report
MD
