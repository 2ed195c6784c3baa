#!/usr/bin/env bash
# Installs what raftd needs from Debian 12 packages, and only what is missing.
# Idempotent: a second run installs nothing and takes about a second.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds wrk and etcd-server)
set -euo pipefail

pkgs=(g++ cmake make pkg-config libcaf-dev libleveldb-dev nlohmann-json3-dev
      libhttp-parser-dev libgoogle-perftools-dev curl ccache python3 iproute2 procps
      clang-14 libclang-rt-14-dev) # clang: the libFuzzer targets (fuzz/)
if [[ "${1:-}" == "--bench" ]]; then pkgs+=(wrk etcd-server etcd-client); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
