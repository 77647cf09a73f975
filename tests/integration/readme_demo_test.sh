#!/usr/bin/env bash
# Runs the README's demo (demo.sh) and checks that it leaves nothing behind: no process still running on its
# work directory (a streamer, a server, the app) and no work directory.
# Usage: readme_demo_test.sh SOURCE_DIR   (WALVAULT_BIN: the binary under test)
set -euo pipefail
before=$(ls -d /tmp/walvault-demo.* 2>/dev/null || true)
bash "$1/demo.sh"
sleep 1
left=$(pgrep -af 'walvault-demo\.[A-Za-z0-9]+' || true)
if [[ -n $left ]]; then
  echo "FAILED: the demo left processes running:"
  echo "$left"
  exit 1
fi
after=$(ls -d /tmp/walvault-demo.* 2>/dev/null || true)
if [[ $after != "$before" ]]; then
  echo "FAILED: the demo left its work directory: $after"
  exit 1
fi
echo "the demo cleaned up after itself"
