#!/usr/bin/env bash
# Restore benchmark: PostgreSQL's replay rate, on the same WAL, through `walvault wal-fetch` (with the prefetch
# spool, the default, and with --prefetch 0), from a local pg_wal, and through pgBackRest's archive-get;
# per-segment fetch latency (walvault wal-fetch and pgbackrest archive-get); and the restore time split into
# extraction (walvault restore) and replay (pg_ctl start until promoted).
#
#   bash bench/restore.sh [SCALE] [SECONDS]     (defaults 50 and 30; as root; needs PostgreSQL 15, pgbench, pgbackrest)
#
# WALVAULT_BIN (default build-restore/walvault) selects the binary. It starts a throwaway PostgreSQL 15 that
# archives into a pgBackRest repository (archive_command = pgbackrest archive-push, compress-type=zst) while
# `walvault stream` writes the same WAL into a walvault repository. It takes a walvault backup of the (empty)
# cluster, then loads pgbench at SCALE and runs pgbench for SECONDS, switches WAL and waits until both
# repositories hold every segment. Then it restores --latest four ways from the same base backup:
#   spool    walvault restore --start (wal-fetch, --prefetch 8)
#   nospool  walvault restore --start --prefetch 0
#   local    walvault restore, every segment placed in pg_wal first, restore_command=/bin/false
#   pgbr     a copy of the local run's extracted directory (before the segments were placed),
#            restore_command = 'pgbackrest --stanza=bench archive-get %f "%p"'
# ROUNDS (default 2) repeats the four restores; the summary gives the median of each method over the rounds.
# Two replay times per restore: start-to-promoted = `pg_ctl start -W` until pg_is_in_recovery() is false (50 ms
# polls; walvault --start does the same for the first two), so server start, the end-of-recovery checkpoint and
# promotion are included; and redo = PostgreSQL's own "redo done ... elapsed" from the server log (the startup
# process's redo loop alone, where restore_command's cost shows). Per-segment latency runs one process per
# segment (walvault wal-fetch without a spool, pgbackrest archive-get), runuser included.
# MiB/s = 16 MiB x the segments from the backup's start to the end of the archive / time.
# pgBackRest reads its own config file in the work dir (--config), nothing under /etc is touched.
# Everything it creates is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-50}
seconds=${2:-30}
bin=${WALVAULT_BIN:-$PWD/build-restore/walvault}
bindir=/usr/lib/postgresql/15/bin
port=55497
as_pg() { runuser -u postgres -- "$@"; }
now() { date +%s.%N; }
t_begin=$(now)

work=$(mktemp -d /tmp/walvault-bench-restore.XXXXXX)
chmod 755 "$work"
chown postgres: "$work"
stream_pid=
# shellcheck source=bench/lib.sh
source bench/lib.sh  # the working directory is the repository root (see the cd above)
cleanup() {
  set +e
  for d in "$work"/r-*; do
    [[ -f $d/postmaster.pid ]] && as_pg "$bindir/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1
  done
  stop_streamer
  [[ -f $work/data/postmaster.pid ]] && as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# pgBackRest: its own config, repository, log and lock dirs inside the work dir.
pgbr_conf=$work/pgbackrest.conf
mkdir -p "$work/pgbr-repo" "$work/pgbr-log" "$work/pgbr-lock"
chown postgres: "$work/pgbr-repo" "$work/pgbr-log" "$work/pgbr-lock"
cat >"$pgbr_conf" <<EOF
[global]
repo1-path=$work/pgbr-repo
compress-type=zst
log-path=$work/pgbr-log
lock-path=$work/pgbr-lock
log-level-console=warn
log-level-file=off
start-fast=y

[bench]
pg1-path=$work/data
pg1-port=$port
pg1-socket-path=$work
EOF
chmod 644 "$pgbr_conf"
pgbr() { as_pg pgbackrest --config="$pgbr_conf" --stanza=bench "$@"; }

as_pg "$bindir/initdb" -D "$work/data" -A trust >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
max_wal_size = 4GB
include_if_exists = '$work/archive.conf'
EOF
# Archiving lives in a file outside the data directory, removed once the WAL is archived, so that the restored
# servers (which inherit postgresql.conf) do not archive their new timeline into the pgBackRest repository.
cat >"$work/archive.conf" <<EOF
archive_mode = on
archive_command = 'pgbackrest --config=$pgbr_conf --stanza=bench archive-push %p'
EOF
chmod 644 "$work/archive.conf"
as_pg "$bindir/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
pgbr stanza-create
conn="host=127.0.0.1 port=$port user=postgres dbname=postgres"
as_pg "$bin" init --repo "$work/repo" -d "$conn" >/dev/null
as_pg "$bin" stream --repo "$work/repo" >"$work/stream.log" 2>&1 &
stream_pid=$!
sleep 2
as_pg "$bin" backup --repo "$work/repo" --fast >/dev/null
t_load=$(now)
as_pg "$bindir/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1
as_pg "$bindir/pgbench" -h 127.0.0.1 -p "$port" -U postgres -c 4 -j 2 -T "$seconds" postgres >/dev/null 2>&1
last=$(as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc "SELECT pg_walfile_name(pg_switch_wal())")
echo "workload: pgbench -i -s $scale + ${seconds} s pgbench in $(echo "$(now) - $t_load" | bc -l | cut -c1-5) s; last segment $last"
# Wait until both repositories hold the last switched segment (at most 10 minutes).
for _ in $(seq 6000); do
  archived=$(as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc \
    "SELECT coalesce(last_archived_wal, '') >= '$last' FROM pg_stat_archiver")
  [[ $archived == t && -f $work/repo/wal/$last.wvs ]] && break
  sleep 0.1
done
[[ $archived == t && -f $work/repo/wal/$last.wvs ]] || { echo "the repositories never caught up with $last" >&2; exit 1; }
rm -f "$work/archive.conf"  # the source server keeps its loaded settings; restored copies start without them
segments=$(ls "$work/repo/wal" | grep -c '\.wvs$')
pgbr_segs=$(find "$work/pgbr-repo/archive" -name '0*-*.zst' | wc -l)
echo "walvault repository: $segments segment containers, $(du -sm "$work/repo/wal" | cut -f1) MiB stored"
echo "pgBackRest repository: $pgbr_segs segments, $(du -sm "$work/pgbr-repo/archive" | cut -f1) MiB stored (zst)"

# Per-segment fetch latency, cold (no spool): one process per segment, as restore_command runs it.
latency() {  # label, then a command template where @F is the segment and @D the destination
  local label=$1 t0 t1
  shift
  : >"$work/lat-$label"
  for f in $(ls "$work/repo/wal" | grep '\.wvs$' | sed 's/\.wvs$//'); do
    [[ $f > $last ]] && continue  # the in-progress segment after the switch: pgBackRest does not have it
    local args=("${@//@F/$f}")
    args=("${args[@]//@D/$work/fetch-$label/$f}")
    t0=$(now)
    as_pg "${args[@]}"
    t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$work/lat-$label"
  done
  python3 - "$work/lat-$label" "$label" <<'EOF'
import statistics, sys
v = sorted(float(x) * 1000 for x in open(sys.argv[1]))
print(f"{sys.argv[2]:>20}: {len(v)} segments, per segment median {statistics.median(v):.0f} ms, "
      f"mean {statistics.mean(v):.0f} ms, p90 {v[int(0.9 * (len(v) - 1))]:.0f} ms, max {v[-1]:.0f} ms")
EOF
}
mkdir -p "$work/fetch-walvault" "$work/fetch-pgbackrest"
chown postgres: "$work/fetch-walvault" "$work/fetch-pgbackrest"
t0=$(now); for _ in $(seq 20); do as_pg /bin/true; done
echo "runuser + process start alone: $(echo "($(now) - $t0) * 50" | bc -l | cut -c1-5) ms per call (included below)"
latency walvault "$bin" wal-fetch --repo "$work/repo" @F @D
latency pgbackrest pgbackrest --config="$pgbr_conf" --stanza=bench archive-get @F @D
rm -rf "$work/fetch-pgbackrest"

restore() {  # name, extra args...
  local name=$1
  shift
  as_pg "$bin" restore --repo "$work/repo" --target-dir "$work/r-$name" --latest "$@" --json >"$work/$name.json"
}
report() {  # name, data dir [, replay seconds measured here [, "copy"]]
  python3 - "$work/$1.json" "$1" "$2/walvault-restore.log" "${3:-}" "${4:-}" >>"$work/results" <<'EOF'
import json, re, sys
j = json.load(open(sys.argv[1]))
mib = j["segments"] * 16
ext = j["extract"]["seconds"]
rec = float(sys.argv[4]) if sys.argv[4] else j["start"]["recovery_seconds"]
# PostgreSQL 15's own redo time: "redo done at ... system usage: ... elapsed: N s"
m = re.findall(r"redo done at .*elapsed: ([0-9.]+) s", open(sys.argv[3]).read())
redo = float(m[-1]) if m else float("nan")
ext_txt = f"extract {ext:.2f} s" if not sys.argv[5] else f"(extraction as local: {ext:.2f} s)"
print(f"{sys.argv[2]:>10}: {j['segments']} segments ({mib} MiB WAL), {ext_txt}, "
      f"start-to-promoted {rec:.2f} s = {mib / rec:.0f} MiB/s, redo {redo:.2f} s = {mib / redo:.0f} MiB/s, "
      f"total {ext + rec:.2f} s")
EOF
  tail -1 "$work/results"
}
start_and_wait() {  # dir, port -> prints seconds from pg_ctl start until promoted
  local d=$1 p=$2 s e
  s=$(now)
  as_pg "$bindir/pg_ctl" -D "$d" -l "$d/walvault-restore.log" -W start >/dev/null
  until [[ $(as_pg "$bindir/psql" -h "$work" -p "$p" -U postgres -Atc "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]]; do
    sleep 0.05
    (($(date +%s) - ${s%.*} < 600)) || { echo "$d did not finish recovery; see $d/walvault-restore.log" >&2; exit 1; }
  done
  e=$(now)
  echo "$e - $s" | bc -l
}

# One round: the four restores, each on a fresh directory, one after another.
round() {  # round number
  local r=$1 n
  local b=$((55600 + 10 * r))
  n=spool-$r
  restore "$n" --start --port $((b + 1))
  report "$n" "$work/r-$n"
  as_pg "$bindir/pg_ctl" -D "$work/r-$n" -m immediate stop >/dev/null
  rm -rf "$work/r-$n"
  n=nospool-$r
  restore "$n" --start --port $((b + 2)) --prefetch 0
  report "$n" "$work/r-$n"
  as_pg "$bindir/pg_ctl" -D "$work/r-$n" -m immediate stop >/dev/null
  rm -rf "$work/r-$n"

  # Local pg_wal: the same restore, every segment placed in pg_wal first, restore_command disabled.
  n=local-$r
  restore "$n" --port $((b + 3))
  cp -a "$work/r-$n" "$work/r-pgbr-$r"  # the same extracted base backup, for pgBackRest
  for f in $(ls "$work/repo/wal" | grep '\.wvs$' | sed 's/\.wvs$//'); do
    if [[ -f $work/fetch-walvault/$f ]]; then
      cp "$work/fetch-walvault/$f" "$work/r-$n/pg_wal/$f"
    else
      as_pg "$bin" wal-fetch --repo "$work/repo" "$f" "$work/r-$n/pg_wal/$f"
    fi
  done
  chown postgres: "$work/r-$n"/pg_wal/*
  echo "restore_command = '/bin/false'" >>"$work/r-$n/postgresql.auto.conf"
  sync
  report "$n" "$work/r-$n" "$(start_and_wait "$work/r-$n" $((b + 3)))"
  as_pg "$bindir/pg_ctl" -D "$work/r-$n" -m immediate stop >/dev/null
  rm -rf "$work/r-$n"

  # pgBackRest archive-get on the same base backup and the same WAL (its own copy, in its own repository).
  n=pgbr-$r
  cat >>"$work/r-$n/postgresql.auto.conf" <<EOF
port = $((b + 4))
restore_command = 'pgbackrest --config=$pgbr_conf --stanza=bench --pg1-path=$work/r-$n archive-get %f "%p"'
recovery_end_command = ''
EOF
  cp "$work/local-$r.json" "$work/$n.json"
  report "$n" "$work/r-$n" "$(start_and_wait "$work/r-$n" $((b + 4)))" copy
  as_pg "$bindir/pg_ctl" -D "$work/r-$n" -m immediate stop >/dev/null
  rm -rf "$work/r-$n"
}

rounds=${ROUNDS:-2}
for r in $(seq "$rounds"); do
  round "$r"
done
python3 - "$work/results" <<'EOF'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name = line.split(":")[0].strip().rsplit("-", 1)[0]
    mib = int(re.search(r"\((\d+) MiB WAL\)", line).group(1))
    wall = float(re.search(r"start-to-promoted ([0-9.]+) s", line).group(1))
    redo = float(re.search(r"redo ([0-9.na]+) s", line).group(1))
    rows.setdefault(name, []).append((mib, wall, redo))
def rate(name, k):
    return statistics.median(m / r[k] for r in rows[name] for m in [r[0]])
print("median over rounds (MiB/s, % of local):")
for name in rows:
    w, d = rate(name, 1), rate(name, 2)
    print(f"{name:>10}: start-to-promoted {w:.0f} MiB/s ({100 * w / rate('local', 1):.0f} %), "
          f"redo {d:.0f} MiB/s ({100 * d / rate('local', 2):.0f} %)")
EOF
echo "whole script: $(echo "$(now) - $t_begin" | bc -l | cut -d. -f1) s"
