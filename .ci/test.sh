#!/usr/bin/env bash
# The README's test command: install dependencies, build, run the whole suite.
#   1. a sanitizer build (ASan + UBSan) runs the unit tests and fuzz replays (label unit);
#   2. a normal build runs everything else: integration tests against real PostgreSQL 15 (Debian) and 18 (the
#      whole suite), the per-version tests against 16 and 17 (server binaries from .ci/install-pg.sh), and the S3
#      tests against radosgw.
# Both carry line tables only as debug information (-g1: backtraces and sanitizer reports keep file and line): full
# -g made the release build's compilations 25 to 40% slower, and building is most of this command's time.
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
cmake -S . -B "$builds/build-asan" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DWALVAULT_SANITIZE=ON \
  -DWALVAULT_WERROR=ON >/dev/null
cmake --build "$builds/build-asan" -j"$jobs" --target walvault_unit_suite
(cd "$builds/build-asan" && ctest -L unit -j"$jobs" --output-on-failure)

echo "== release build: the rest of the suite, against real servers"
cmake -S . -B "$builds/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
  -DWALVAULT_WERROR=ON >/dev/null
cmake --build "$builds/build" -j"$jobs" --target walvault_server_suite
# (The unit tests, not built here, leave a placeholder test that would fail: it is excluded by name.)
(cd "$builds/build" && ctest -LE unit -E "^walvault_unit_tests_NOT_BUILT" -j"$jobs" --output-on-failure)
