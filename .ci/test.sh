#!/usr/bin/env bash
# The README's test command: install dependencies, build, run the whole suite.
#   1. a sanitizer build (ASan + UBSan) runs the unit tests and fuzz replays;
#   2. a normal build runs everything, integration tests against a real PostgreSQL 15 included.
# Exits non-zero if any step or any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/install-deps.sh

jobs=$(nproc)
werror=ON

echo "== sanitizer build: unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DWALVAULT_SANITIZE=ON -DWALVAULT_WERROR=$werror >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest -L unit -j"$jobs" --output-on-failure)

echo "== release build: the whole suite"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWALVAULT_WERROR=$werror >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest -j"$jobs" --output-on-failure)
