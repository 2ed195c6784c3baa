#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and starts one node.
# With no arguments: raftd -p 4001 ./data/node.1 (the embedded default).
# With arguments: they are passed to raftd as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
if [[ $# -eq 0 ]]; then
  set -- -p 4001 ./data/node.1
fi
exec build/raftd "$@"
