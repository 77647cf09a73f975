#!/usr/bin/env bash
# The README's test command: install dependencies, build, run the whole suite.
#   1. a sanitizer build (ASan + UBSan) runs the unit tests and fuzz replays;
#   2. a normal build runs everything: integration tests against real PostgreSQL 15 (Debian) and 18 (the whole
#      suite), and the per-version tests against 16 and 17 (server binaries from .ci/install-pg.sh).
# Exits non-zero if any step or any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

bash .ci/install-deps.sh
bash .ci/install-pg.sh

jobs=$(nproc)
# As root, PostgreSQL runs as the postgres user and calls the walvault binary (restore_command), so the build
# must be somewhere that user can reach; a clone under /root is not.
builds=$src
if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$src"; then
  builds=/tmp/walvault-build-$(printf '%s' "$src" | cksum | cut -d' ' -f1)
  mkdir -p "$builds" && chmod 755 "$builds"
fi

echo "== sanitizer build: unit tests"
cmake -S . -B "$builds/build-asan" -DCMAKE_BUILD_TYPE=Debug -DWALVAULT_SANITIZE=ON -DWALVAULT_WERROR=ON >/dev/null
cmake --build "$builds/build-asan" -j"$jobs" --target walvault_unit_suite
(cd "$builds/build-asan" && ctest -L unit -j"$jobs" --output-on-failure)

echo "== release build: the whole suite"
cmake -S . -B "$builds/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWALVAULT_WERROR=ON >/dev/null
cmake --build "$builds/build" -j"$jobs"
(cd "$builds/build" && ctest -j"$jobs" --output-on-failure)
