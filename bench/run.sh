#!/usr/bin/env bash
# Side-by-side benchmark: a 3-node raftd cluster and a 3-node etcd cluster on
# loopback, driven by wrk; prints the tables and appends them to
# bench/RESULTS.md. See bench/bench.py for what is measured and how.
#
#   bench/run.sh [--duration 10] [--bin-dir build] [--no-build] [bench.py flags]
#
# Installs what is missing (wrk, etcd-server, strace, perf), builds raftd into
# ./build when --bin-dir is the default (an incremental build: nothing to do
# when it is up to date; --no-build skips it). The whole run is bounded
# (--max-seconds, default 3600); everything started is stopped by PID at the
# end, also on errors and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=build
build=1
max_seconds=3600
pass=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; pass+=("$1" "$2"); shift 2 ;;
    --bin-dir=*) bin_dir="${1#*=}"; pass+=("$1"); shift ;;
    --no-build) build=0; shift ;;
    --max-seconds) max_seconds="$2"; shift 2 ;;
    --max-seconds=*) max_seconds="${1#*=}"; shift ;;
    -h|--help)
      sed -n '2,12p' "$0"; echo; exec python3 bench/bench.py --help ;;
    *) pass+=("$1"); shift ;;
  esac
done

scripts/install-deps.sh --bench
# Best effort: syscall counting and profiling (the bench runs without them).
for p in strace:strace perf:linux-perf; do
  if ! command -v "${p%%:*}" >/dev/null 2>&1; then
    echo "bench: installing ${p#*:}" >&2
    apt-get install -y -qq --no-install-recommends "${p#*:}" >/dev/null 2>&1 \
      || (apt-get update -qq && apt-get install -y -qq --no-install-recommends \
            "${p#*:}" >/dev/null 2>&1) \
      || echo "bench: could not install ${p#*:}; going on without it" >&2
  fi
done

if [[ "$build" == 1 && "$bin_dir" == build ]]; then
  scripts/build.sh >/dev/null
fi
if [[ ! -x "$bin_dir/raftd" ]]; then
  echo "bench: no $bin_dir/raftd (build it with scripts/build.sh)" >&2
  exit 2
fi

child=""
stop_child() {
  if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
}
trap 'stop_child' EXIT
trap 'stop_child; exit 130' INT
trap 'stop_child; exit 143' TERM

# bench.py stops its own children (by PID) on SIGTERM; timeout bounds the run.
timeout --signal=TERM --kill-after=60 "$max_seconds" \
  python3 bench/bench.py "${pass[@]}" &
child=$!
rc=0
wait "$child" || rc=$?
child=""
exit $rc
