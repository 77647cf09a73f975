#!/usr/bin/env bash
# Decode throughput: `walvault dump --stats` (CRC check, block parsing, event tracking all on) against
# `pg_waldump --stats=record` on the same segment files made by bench/make-wal.sh. Files are read once first
# (warm page cache); each tool then runs RUNS times and the best wall time counts. Writes
# bench/results/decode.md. Usage: bench/decode.sh [path/to/walvault]   (default: build/walvault)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")" && pwd)"
WALVAULT=${1:-$ROOT/../build/walvault}
BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
RUNS=${RUNS:-3}
OUT="$ROOT/results/decode.md"

best_time() {  # best wall seconds of RUNS runs of "$@"
  local best=""
  for _ in $(seq "$RUNS"); do
    local s e t
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
  done
  echo "$best"
}

rows=""
for kind in pgbench inserts; do
  dir="$ROOT/work/$kind"
  files=("$dir"/*)
  first=$(basename "${files[0]}")
  last=$(basename "${files[-1]}")
  bytes=$(cat "${files[@]}" | wc -c)
  records=$("$WALVAULT" dump --stats --json "${files[@]}" | sed -E 's/.*"records":([0-9]+).*/\1/')
  "$BIN/pg_waldump" --stats=record -p "$dir" "$first" "$last" >/dev/null 2>&1 || true
  ours=$(best_time "$WALVAULT" dump --stats "${files[@]}")
  theirs=$(best_time "$BIN/pg_waldump" --stats=record -p "$dir" "$first" "$last")
  mb=$(echo "$bytes / 1048576" | bc -l)
  rows+=$(printf '| %s | %.0f MiB | %d | walvault dump --stats | %.2f | %.0f | %.2f M |\n' "$kind" "$mb" "$records" \
    "$ours" "$(echo "$mb / $ours" | bc -l)" "$(echo "$records / $ours / 1000000" | bc -l)")$'\n'
  rows+=$(printf '| %s | %.0f MiB | %d | pg_waldump --stats=record | %.2f | %.0f | %.2f M |\n' "$kind" "$mb" "$records" \
    "$theirs" "$(echo "$mb / $theirs" | bc -l)" "$(echo "$records / $theirs / 1000000" | bc -l)")$'\n'
done

cat >"$OUT" <<MD
# WAL decode throughput

Command: \`bench/make-wal.sh && bench/decode.sh ${1:-build/walvault}\` (RUNS=$RUNS, best wall time, warm page cache).
walvault verifies every record CRC (SSE4.2: $(grep -q sse4_2 /proc/cpuinfo && echo yes || echo no)), parses
block references and runs the event tracker (commits, destructive events) on every record.

| WAL | size | records | tool | seconds | MiB/s | records/s |
|---|---|---|---|---|---|---|
${rows}
Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores,
$(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr); $("$BIN/pg_waldump" --version);
walvault $(git -C "$ROOT" rev-parse --short HEAD). Date: $(date -u +%Y-%m-%dT%H:%M:%SZ).
Wall times on a 2-core VM: indicative; the ratios between the tools on the same WAL are the figure to read.
MD
cat "$OUT"
