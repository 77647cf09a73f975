#!/usr/bin/env bash
# Reproduces every benchmark in bench/RESULTS.md in one run, side by side with the peers (pg_waldump,
# pg_receivewal, pgBackRest, pg_basebackup, the zstd CLI), on this machine.
#
#   bash bench/run-all.sh              run everything (about 35-45 minutes on 2 cores; as root or a sudoer)
#   bash bench/run-all.sh --assemble   only rebuild bench/RESULTS.md from bench/results/*.md
#
# Each area's script writes its report to bench/results/<area>.md; this script then assembles RESULTS.md with the
# machine's details. Run it on an otherwise idle machine: the figures are wall and CPU times.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
results=$root/bench/results

machine() {
  echo "- CPU: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  echo "- memory: $(free -g | awk '/^Mem:/ {print $2}') GiB; kernel $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "- PostgreSQL $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}'), $(pgbackrest version 2>/dev/null || echo 'pgBackRest not installed'), zstd $(zstd --version 2>/dev/null | grep -o 'v[0-9.]*' || echo '?')"
  echo "- walvault $(git -C "$root" rev-parse --short HEAD)"
}

# Each area's command, run from the repository root in this order. decode.sh writes its report itself; the others'
# output is their report. restore runs 4 rounds: the first restore after the workload is the noisy one.
areas=(decode format stream backup restore verify s3 encryption)
declare -A commands=(
  [decode]="bash bench/make-wal.sh && bash bench/decode.sh build-bench/walvault"
  [format]="BUILD=build-bench bash bench/format.sh"
  [stream]="bash bench/stream.sh build-bench/walvault"
  [backup]="bash bench/backup.sh 70"
  [restore]="ROUNDS=4 bash bench/restore.sh 100 45"
  [verify]="bash bench/verify.sh 1024"
  [s3]="bash bench/s3.sh build-bench/walvault"
  [encryption]="bash bench/encryption.sh build-bench/walvault"
)

assemble() {
  {
    echo "# walvault benchmark results"
    echo
    echo "Every figure here comes from a script in bench/, run against the real peers on the same data in the same"
    echo "run. Reproduce them all with \`bash bench/run-all.sh\`; each section names the exact command that produced it."
    echo
    echo "## Machine of the last assembly ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    machine
    echo
    echo "The sections below are the reports of the last run. On a small VM, CPU seconds and bytes are the reliable"
    echo "figures; wall times and MB/s vary from run to run."
    echo
    cat "$root/bench/summary.md"
    for area in "${areas[@]}"; do
      echo
      echo "---"
      echo
      echo "## $area"
      echo
      echo "Produced by \`${commands[$area]}\` (in \`bash bench/run-all.sh\`):"
      echo
      # decode, stream, s3 and encryption write markdown (headings demoted to nest here); the others write plain text.
      if [[ $area == decode || $area == stream || $area == s3 || $area == encryption ]]; then
        sed 's/^#/###/' "$results/$area.md"
      else
        echo '```'
        cat "$results/$area.md"
        echo '```'
      fi
    done
  } >"$root/bench/RESULTS.md"
  echo "wrote bench/RESULTS.md"
}

if [[ ${1:-} == --assemble ]]; then
  assemble
  exit 0
fi

WALVAULT_WITH_PEERS=1 bash .ci/install-deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DWALVAULT_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target walvault walvault_core >/dev/null
export WALVAULT_BIN=$root/build-bench/walvault

for area in "${areas[@]}"; do
  if [[ $area == decode ]]; then
    bash -c "${commands[$area]}"
  else
    bash -c "${commands[$area]}" >"$results/$area.md"
  fi
done
assemble
