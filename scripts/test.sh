#!/usr/bin/env bash
# README command 2: installs what is missing, builds, runs every test (CTest).
# Extra arguments go to ctest (e.g. scripts/test.sh -R raft).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 -j"${JOBS:-2}" "$@"
