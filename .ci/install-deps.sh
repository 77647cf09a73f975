#!/usr/bin/env bash
# Installs walvault's build and test dependencies from Debian packages.
# Idempotent: does nothing when every package is already installed. Works as root or through sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libpq-dev libzstd-dev libxxhash-dev libcli11-dev catch2 nlohmann-json3-dev libhowardhinnant-date-dev
  libcurl4-openssl-dev libssl-dev
  postgresql-15 postgresql-client-15 zstd
  # The S3 storage tests' server (a throwaway Ceph radosgw, tests/s3/radosgw.sh) and independent client.
  ceph-mon ceph-osd radosgw ceph-common awscli
)
# Peers used by benchmarks and as test oracles.
[[ "${WALVAULT_WITH_PEERS:-0}" == 1 ]] && packages+=(pgbackrest)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "error: missing packages (${missing[*]}) and not root; HINT: run as root or install sudo" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
