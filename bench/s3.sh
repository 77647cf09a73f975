#!/usr/bin/env bash
# S3 benchmark (issue 20): streaming into a bucket of a real S3 server (Ceph radosgw on memstore, started by
# tests/s3/radosgw.sh) against streaming into a local directory, and replay through wal-fetch from each, all on
# the same WAL of one throwaway PostgreSQL 15 cluster.
#
#   bash bench/s3.sh [walvault binary]     (as root; default build-bench/walvault, or $WALVAULT_BIN)
#
# TARGET_MB (default 350): WAL the two slots retain for the catch-up. LAG_SECONDS (30) and LAG_TPS (300): the
# rate-limited pgbench (-c 4 -R LAG_TPS) of the lag phase. ROUNDS (3): restores from each repository.
#
# 1. Two repositories, local (a directory) and s3 (s3://walvault-bench/repo), each with its own slot. Both
#    streamers run while each takes a base backup of the empty cluster, then stop; pgbench then writes ~TARGET_MB
#    of WAL that both slots retain.
# 2. Catch-up: `walvault stream` into s3, then into local, one after the other; each is stopped (SIGTERM) once the
#    flush position it reported to the server reaches the end LSN and `walvault status --json` confirms its
#    durable_lsn there. CPU seconds, peak RSS (/usr/bin/time -v), wall time, and the S3 requests it made.
# 3. Flush lag: both streamers run at once (side by side, on the same WAL) under pgbench -R; every 100 ms the
#    server LSN minus each walvault slot's flush_lsn in pg_stat_replication. PUTs per second at that WAL rate, and
#    for 10 s with no writes at all.
# 4. Replay: `walvault restore --latest --start` from each repository, ROUNDS times, alternately (which goes first
#    alternates too: the first restore of a run meets cold caches): start-to-promoted
#    and PostgreSQL's own redo time, MiB/s = 16 MiB x the segments replayed / time. Then per-segment latency of
#    `walvault wal-fetch` (no spool, one process per segment, as restore_command without prefetch) from each.
#
# Requests are counted on radosgw's side: the perf counters of its admin socket (`ceph --admin-daemon ... perf
# dump`, section rgw): req = every HTTP request, put = object PUTs (PutObject and multipart parts; not bucket
# creation), get = GetObject and HeadObject that found the object (not 404s, not listings); checked against the
# access log on the same runs. The per-method breakdown comes from radosgw's access log (its beast frontend logs
# each request at debug level 1, the default), with the 404 answers (probes of append files, which are logs of
# pieces: a GET of the plain object, then a listing of its pieces). walvault status calls made by this
# script to check the catch-up are excluded (counted around each call and subtracted).
# Prints a markdown report on stdout (bench/results/s3.md is one such run). Everything it creates is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
root=$PWD
bin=$(realpath "${1:-${WALVAULT_BIN:-$root/build-bench/walvault}}")
pgbin=/usr/lib/postgresql/15/bin
target_mb=${TARGET_MB:-350}
lag_seconds=${LAG_SECONDS:-30}
lag_tps=${LAG_TPS:-300}
rounds=${ROUNDS:-3}
port=55437
now() { date +%s.%N; }
t_begin=$(now)
load_before=$(uptime | sed 's/.*load average: //')

work=$(mktemp -d /tmp/walvault-bench-s3.XXXXXX)
chmod 755 "$work"
chown postgres: "$work"
rgw=$work/rgw  # radosgw.sh's directory (daemons run as root; walvault reaches them over HTTP)
declare -A streamers=()  # running streamers: name -> pid of the background job that runs it

as_pg() { runuser -u postgres -- "$@"; }  # runuser keeps the environment: the AWS_* exports reach walvault
# Stops a streamer: SIGTERM to walvault itself (the child of /usr/bin/time, whose pid its wrapper wrote), at most
# 60 s for it to exit (then SIGKILL), and reaps the wrapper.
stop_s3_bench_streamer() {  # name
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
  for n in "${!streamers[@]}"; do stop_s3_bench_streamer "$n"; done
  for d in "$work"/r-* "$work/data"; do
    [[ -f $d/postmaster.pid ]] && as_pg "$pgbin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1
  done
  bash "$root/tests/s3/radosgw.sh" stop "$rgw" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# --- radosgw and its bucket -----------------------------------------------------------------------------------
bash tests/s3/radosgw.sh start "$rgw" >/dev/null
# shellcheck disable=SC1091
source "$rgw/env"
AWS_ENDPOINT_URL=$(cat "$rgw/endpoint")
export AWS_ENDPOINT_URL
# tests/s3/radosgw.sh runs radosgw's frontend with tcp_nodelay=1: with Nagle's algorithm on (its default), a
# response written in two pieces waits for the client's delayed ACK, about 40 ms on every reused connection, which
# measures the test server, not walvault (strace of one wal-fetch: 3 of its 5 requests stalled 40-43 ms each).
rgw_frontend=$(grep '^rgw frontends' "$rgw/ceph.conf" | sed 's/^rgw frontends = //')
/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 mb s3://walvault-bench >/dev/null
s3repo=s3://walvault-bench/repo
localrepo=$work/repo

rgw_counters() {  # prints "req put get"
  ceph --admin-daemon "$rgw/run/client.rgw.asok" perf dump |
    python3 -c 'import json, sys; d = json.load(sys.stdin)["rgw"]; print(d["req"], d["put"], d["get"])'
}
rgw_log_mark() { wc -l <"$rgw/log/client.rgw.log"; }
# Requests in radosgw's access log after line $1, by method (a listing is a GET with list-type in its query).
rgw_log_breakdown() {
  tail -n +"$(($1 + 1))" "$rgw/log/client.rgw.log" | python3 -c '
import re, sys, collections
c, missing = collections.Counter(), collections.Counter()
for line in sys.stdin:
    m = re.search(r"beast: \S+ \S+ - \S+ \[[^]]*\] \"(\w+) (\S+) [^\"]*\" (\d+)", line)
    if not m: continue
    method, path, status = m.groups()
    kind = "LIST" if method == "GET" and "list-type" in path else method
    c[kind] += 1
    missing[kind] += status == "404"
print(", ".join(f"{k} {v}" + (f" ({missing[k]} answered 404)" if missing[k] else "") for k, v in sorted(c.items()))
      or "none")'
}
excluded_req=0 excluded_put=0 excluded_get=0  # requests of this script's own status calls
durable=
status_durable() {  # repository -> $durable, its durable LSN per walvault status --json (its requests excluded)
  local b a
  read -r -a b < <(rgw_counters)
  durable=$(as_pg "$bin" status --repo "$1" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["durable_lsn"])')
  read -r -a a < <(rgw_counters)
  excluded_req=$((excluded_req + a[0] - b[0])) excluded_put=$((excluded_put + a[1] - b[1]))
  excluded_get=$((excluded_get + a[2] - b[2]))
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

as_pg "$bin" -q init --repo "$s3repo" -d "$conn" --slot walvault_s3 >/dev/null
as_pg "$bin" -q init --repo "$localrepo" -d "$conn" --slot walvault_local >/dev/null
start_streamer() {  # name, repository
  rm -f "$work/$1.pid"
  # shellcheck disable=SC2016
  as_pg sh -c 'echo $$ >"$1"; exec /usr/bin/time -v -o "$2" "$3" -q stream --repo "$4"' sh "$work/$1.pid" \
    "$work/$1.time" "$bin" "$2" 2>"$work/$1.stream.log" &
  streamers[$1]=$!
  local i
  for ((i = 0; i < 100; i++)); do [[ -s $work/$1.pid ]] && pgrep -P "$(cat "$work/$1.pid")" >/dev/null && break; sleep 0.05; done
}
# Base backups of the empty cluster, one per repository, while both streamers run.
start_streamer s3 "$s3repo"
start_streamer local "$localrepo"
sleep 2
as_pg "$bin" -q backup --repo "$s3repo" --fast >/dev/null
as_pg "$bin" -q backup --repo "$localrepo" --fast >/dev/null
# Both slots at the same segment boundary, so that both catch-ups fetch the same WAL.
wait_flushed() {  # LSN: until both streamers reported flushing up to it (at most 60 s)
  local i fs fl
  for ((i = 0; i < 600; i++)); do
    fs=$(slot_flush walvault_s3) fl=$(slot_flush walvault_local)
    [[ -n $fs && -n $fl ]] && lsn_ge "$fs" "$1" && lsn_ge "$fl" "$1" && return 0
    sleep 0.1
  done
  echo "the streamers did not reach $1; see $work/*.stream.log" >&2
  return 1
}
psql -c "SELECT pg_switch_wal()" >/dev/null
wait_flushed "$(psql -c "SELECT pg_current_wal_lsn()")"
stop_s3_bench_streamer s3
stop_s3_bench_streamer local

# --- WAL the slots retain ---------------------------------------------------------------------------------------
start_lsn=$(psql -c "SELECT min(restart_lsn) FROM pg_replication_slots")
as_pg "$pgbin/pgbench" -h 127.0.0.1 -p $port -U postgres -q -i -s 10 postgres >/dev/null 2>&1
while [[ $(psql -c "SELECT (pg_current_wal_lsn() - '$start_lsn') / 1048576 < $target_mb") == t ]]; do
  as_pg "$pgbin/pgbench" -h 127.0.0.1 -p $port -U postgres -c 4 -T 10 postgres >/dev/null 2>&1
done
psql -c "SELECT pg_switch_wal()" >/dev/null
end_lsn=$(psql -c "SELECT pg_current_wal_lsn()")

# "user sys maxrss_kb" from a /usr/bin/time -v log.
time_fields() {
  awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {r=$2} END {print u, s, r}' "$1"
}

# --- catch-up, one streamer after the other ---------------------------------------------------------------------
catch_up() {  # name, repository, slot
  local name=$1 repo=$2 slot=$3 t0 t1 b a mark wal f
  wal=$(python3 -c "$lsn_py
print(lsn('$end_lsn') - lsn('$(psql -c "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '$slot'")') // 16777216 * 16777216)")
  excluded_req=0 excluded_put=0 excluded_get=0
  read -r -a b < <(rgw_counters)
  mark=$(rgw_log_mark)
  t0=$(now)
  start_streamer "$name" "$repo"
  while :; do
    f=$(slot_flush "$slot")
    if [[ -n $f ]] && lsn_ge "$f" "$end_lsn"; then
      status_durable "$repo"
      lsn_ge "$durable" "$end_lsn" && break
    fi
    sleep 0.1
  done
  t1=$(now)
  stop_s3_bench_streamer "$name"
  read -r -a a < <(rgw_counters)
  local req=$((a[0] - b[0] - excluded_req)) put=$((a[1] - b[1] - excluded_put)) get=$((a[2] - b[2] - excluded_get))
  read -r user sys rss < <(time_fields "$work/$name.time")
  python3 - "$name" "$user" "$sys" "$rss" "$(echo "$t1 - $t0" | bc -l)" "$wal" "$req" "$put" "$get" \
    >>"$work/catchup.rows" <<'PY'
import sys
name, user, sys_, rss, wall, wal, req, put, get = sys.argv[1:]
cpu, gb = float(user) + float(sys_), int(wal) / 1e9
print(f"| walvault stream into {name} | {int(wal):,} | {float(wall):.1f} | {cpu:.2f} | {cpu / gb:.2f} | "
      f"{int(rss) / 1024:.1f} | {req} ({int(req) / gb:.0f}) | {put} ({int(put) / gb:.0f}) | {get} |")
PY
  echo "$name: $(rgw_log_breakdown "$mark") (including the $excluded_req requests of the status calls, which the table leaves out)" \
    >>"$work/catchup.breakdown"
}
catch_up s3 "$s3repo" walvault_s3
catch_up local "$localrepo" walvault_local
stored_local=$(du -sb --apparent-size "$localrepo" | cut -f1)
stored_s3=$(/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 ls --recursive --summarize s3://walvault-bench/repo/ |
  awk '/Total Size/ {print $3}')
objects_s3=$(/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 ls --recursive --summarize s3://walvault-bench/repo/ |
  awk '/Total Objects/ {print $3}')

# --- flush lag under pgbench, both streamers side by side -------------------------------------------------------
start_streamer s3-lag "$s3repo"
start_streamer local-lag "$localrepo"
for _ in $(seq 300); do [[ -n $(slot_flush walvault_s3) && -n $(slot_flush walvault_local) ]] && break; sleep 0.1; done
sleep 3
# Idle: no WAL written for 10 s (PUTs a caught-up streamer makes on its own).
read -r -a b < <(rgw_counters)
sleep 10
read -r -a a < <(rgw_counters)
idle_put=$((a[1] - b[1])) idle_req=$((a[0] - b[0]))

read -r -a b < <(rgw_counters)
mark=$(rgw_log_mark)
lag_start=$(psql -c "SELECT pg_current_wal_lsn()")
lag_t0=$(now)
as_pg "$pgbin/pgbench" -h 127.0.0.1 -p $port -U postgres -c 4 -j 2 -R "$lag_tps" -T "$lag_seconds" postgres \
  >"$work/pgbench.out" 2>&1 &
pgb=$!
python3 - "$port" "$lag_seconds" >"$work/lag.txt" <<'PY' &
import os, subprocess, sys, time
port, seconds = sys.argv[1], float(sys.argv[2])
q = ("SELECT s.slot_name, pg_current_wal_lsn() - r.flush_lsn FROM pg_stat_replication r "
     "JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name IN ('walvault_s3', 'walvault_local')")
cmd = ["/usr/lib/postgresql/15/bin/psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-XAtq", "-F", " ",
       "-c", q]
if os.geteuid() == 0: cmd = ["runuser", "-u", "postgres", "--"] + cmd
end = time.time() + seconds
while time.time() < end:
    t = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    if out: print(out)
    time.sleep(max(0, 0.1 - (time.time() - t)))
PY
sampler=$!
wait $pgb
lag_t1=$(now)
lag_end=$(psql -c "SELECT pg_current_wal_lsn()")
wait $sampler
read -r -a a < <(rgw_counters)
lag_put=$((a[1] - b[1])) lag_req=$((a[0] - b[0]))
lag_breakdown=$(rgw_log_breakdown "$mark")
lag_rate=$(python3 -c "$lsn_py
print((lsn('$lag_end') - lsn('$lag_start')) / ($lag_t1 - $lag_t0))")
tps=$(grep -o 'tps = [0-9.]*' "$work/pgbench.out" | head -1)
lag_report=$(python3 - "$work/lag.txt" "$lag_rate" <<'PY'
import sys
rate = float(sys.argv[2])
v = {}
for line in open(sys.argv[1]):
    slot, lag = line.split()
    v.setdefault(slot, []).append(int(lag))
def p(xs, q): return xs[min(len(xs) - 1, int(q * len(xs)))]
for slot in ("walvault_s3", "walvault_local"):
    xs = sorted(v.get(slot, []))
    if not xs:
        print(f"| {slot} | no samples | | | |"); continue
    def s(b): return f"{b:,} B = {b / rate:.3f} s"
    print(f"| {slot[9:]} | {len(xs)} | {s(p(xs, 0.5))} | {s(p(xs, 0.99))} | {s(xs[-1])} |")
PY
)

# The end of the WAL for the restores: one more switch, both streamers durable there, then both stop.
psql -c "SELECT pg_switch_wal()" >/dev/null
final_lsn=$(psql -c "SELECT pg_current_wal_lsn()")
wait_flushed "$final_lsn"
stop_s3_bench_streamer s3-lag
stop_s3_bench_streamer local-lag
as_pg "$pgbin/pg_ctl" -D "$work/data" -m fast stop >/dev/null

# --- replay through wal-fetch -----------------------------------------------------------------------------------
restore_round() {  # name, repository, round
  local name=$1-$3 p=$((55700 + 10 * $3 + ${#1})) mark b a
  mark=$(rgw_log_mark)
  read -r -a b < <(rgw_counters)
  as_pg "$bin" restore --repo "$2" --target-dir "$work/r-$name" --latest --start --port "$p" --json \
    >"$work/$name.json"
  python3 - "$work/$name.json" "$1" "$3" "$work/r-$name/walvault-restore.log" >>"$work/replay.rows" <<'PY'
import json, re, sys
j = json.load(open(sys.argv[1]))
mib = j["segments"] * 16
rec = j["start"]["recovery_seconds"]
m = re.findall(r"redo done at .*elapsed: ([0-9.]+) s", open(sys.argv[4]).read())
redo = float(m[-1]) if m else float("nan")
print(sys.argv[2], sys.argv[3], j["segments"], j["extract"]["seconds"], rec, redo)
PY
  read -r -a a < <(rgw_counters)
  [[ $1 == s3 ]] && echo "- round $3: $((a[0] - b[0])) requests ($(rgw_log_breakdown "$mark"))" >>"$work/replay.requests"
  as_pg "$pgbin/pg_ctl" -D "$work/r-$name" -m immediate stop >/dev/null
  rm -rf "$work/r-$name"
}
# The order alternates too: the first restore of a run meets cold caches (PostgreSQL's programs, the page cache),
# and that must not always fall on the same side.
for r in $(seq "$rounds"); do
  if ((r % 2 == 1)); then
    restore_round s3 "$s3repo" "$r"
    restore_round local "$localrepo" "$r"
  else
    restore_round local "$localrepo" "$r"
    restore_round s3 "$s3repo" "$r"
  fi
done
replay_report=$(python3 - "$work/replay.rows" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, r, segs, ext, rec, redo = line.split()
    mib = int(segs) * 16
    rows.setdefault(name, []).append((int(r), mib, float(ext), float(rec), float(redo)))
print("| from | round | segments | extract s | start-to-promoted s | MiB/s | redo s | redo MiB/s |")
print("|---|---|---|---|---|---|---|---|")
for name in ("s3", "local"):
    for r, mib, ext, rec, redo in rows[name]:
        print(f"| {name} | {r} | {mib // 16} | {ext:.2f} | {rec:.2f} | {mib / rec:.0f} | {redo:.2f} | {mib / redo:.0f} |")
med = {n: (statistics.median(m / x[3] for x in rows[n] for m in [x[1]]),
           statistics.median(m / x[4] for x in rows[n] for m in [x[1]])) for n in rows}
print()
print(f"Median over {len(rows['s3'])} rounds: start-to-promoted s3 {med['s3'][0]:.0f} MiB/s vs local "
      f"{med['local'][0]:.0f} MiB/s = **{100 * med['s3'][0] / med['local'][0]:.0f} %**; redo s3 {med['s3'][1]:.0f} "
      f"MiB/s vs local {med['local'][1]:.0f} MiB/s = **{100 * med['s3'][1] / med['local'][1]:.0f} %** "
      f"(target: s3 ≥ 90 % of local).")
PY
)

# Per-segment fetch latency, no spool: one walvault process per segment (runuser included), alternately.
mkdir -p "$work/fetch"
chown postgres: "$work/fetch"
segs=$(cd "$localrepo/wal" && printf '%s\n' 0*.wvs | sed 's/\.wvs$//' | head -40)
: >"$work/lat"
mark=$(rgw_log_mark)
read -r -a b < <(rgw_counters)
for f in $segs; do
  for name in s3 local; do
    repo=$localrepo; [[ $name == s3 ]] && repo=$s3repo
    t0=$(now)
    as_pg "$bin" wal-fetch --repo "$repo" "$f" "$work/fetch/$f.$name"
    echo "$name $(echo "$(now) - $t0" | bc -l)" >>"$work/lat"
    rm -f "$work/fetch/$f.$name"
  done
done
read -r -a a < <(rgw_counters)
fetch_requests="$((a[0] - b[0])) requests for $(wc -w <<<"$segs") fetches ($(rgw_log_breakdown "$mark"))"
t0=$(now); for _ in $(seq 20); do as_pg /bin/true; done
runuser_ms=$(echo "($(now) - $t0) * 50" | bc -l | cut -c1-5)
lat_report=$(python3 - "$work/lat" <<'PY'
import statistics, sys
v = {}
for line in open(sys.argv[1]):
    n, t = line.split(); v.setdefault(n, []).append(float(t) * 1000)
for n in ("s3", "local"):
    xs = sorted(v[n])
    print(f"- {n}: {len(xs)} segments, median {statistics.median(xs):.0f} ms, mean {statistics.mean(xs):.0f} ms, "
          f"p90 {xs[int(0.9 * (len(xs) - 1))]:.0f} ms, max {xs[-1]:.0f} ms")
PY
)

load_after=$(uptime | sed 's/.*load average: //')
wal_total=$(python3 -c "$lsn_py
print(lsn('$end_lsn') - lsn('$start_lsn'))")
cat <<MD
Run of $(date -u +%Y-%m-%dT%H:%MZ), walvault $(git -C "$root" rev-parse --short HEAD) ($bin), PostgreSQL 15, radosgw
(Ceph $(ceph --version | awk '{print $3}'), memstore, frontend \`$rgw_frontend\`) on 127.0.0.1. Load average (1, 5, 15 min) before: $load_before;
after: $load_after. $(nproc) cores. Whole script: $(echo "$(now) - $t_begin" | bc -l | cut -d. -f1) s.

# Catch-up

WAL both slots retained: $wal_total bytes ($start_lsn → $end_lsn: pgbench -i -s 10, then pgbench -c 4 -T 10 until
$target_mb MiB, checkpoint_timeout 30s). Each streamer ran alone; the s3 one first. Requests from radosgw's perf
counters (req: all; put: object PUTs and multipart parts; get: GetObject and HeadObject that found the
object), per GB of WAL in parentheses.

| client | WAL bytes fetched | wall s | CPU s | CPU s/GB | peak RSS MiB | requests (/GB) | PUTs (/GB) | GETs |
|---|---|---|---|---|---|---|---|---|
$(cat "$work/catchup.rows")

By method, from radosgw's access log: $(sed 's/$/;/' "$work/catchup.breakdown" | tr '\n' ' ')
Stored after the catch-up: local $stored_local bytes (the whole repository directory); bucket $stored_s3 bytes in
$objects_s3 objects.

# Flush lag under pgbench

Both streamers at once, on the same WAL, under pgbench -c 4 -j 2 -R $lag_tps -T $lag_seconds ($tps); WAL rate
$(python3 -c "print(f'{$lag_rate / 1e6:.2f}')") MB/s. Lag = pg_current_wal_lsn() - flush_lsn of each slot's walsender,
sampled every 100 ms; in time at that WAL rate.

| into | samples | p50 | p99 | max |
|---|---|---|---|---|
$lag_report

S3 requests during those $lag_seconds s: $lag_req ($lag_breakdown); object PUTs $lag_put =
$(python3 -c "print(f'{$lag_put / ($lag_t1 - $lag_t0):.1f} PUTs/s = {$lag_put / ($lag_t1 - $lag_t0) * 3600:,.0f} PUTs/hour at {$lag_rate / 1e6:.2f} MB/s of WAL')").
Caught up with no writes for 10 s: $idle_put PUTs, $idle_req requests.

# Replay through wal-fetch

\`walvault restore --latest --start\` (as postgres, prefetch spool, default --prefetch 8) of the same
(empty-cluster) backup and the same WAL, from the bucket and from the local repository, alternately; the
source server stopped. MiB/s = 16 MiB x segments / time; redo = PostgreSQL's "redo done ... elapsed".

$replay_report

S3 requests during each restore from the bucket (extraction, then replay), by method:
$(cat "$work/replay.requests")

Per-segment latency of \`walvault wal-fetch\` without a spool (one process per segment, as restore_command
without prefetch; runuser + process start alone: $runuser_ms ms per call, included):
$lat_report

S3 requests of those fetches from the bucket: $fetch_requests.
MD
