#!/usr/bin/env bash
# Runs the deterministic cluster simulation over many seeds and reports the
# failing ones; or replays one seed with every step printed.
#
#   scripts/sim.sh [N]               seeds 1..N (default 1000)
#   scripts/sim.sh N --first S       seeds S..S+N-1
#   scripts/sim.sh --seed S          replay seed S, printing every step
#   scripts/sim.sh N --bugs LIST     with known bugs on (vote_before_durable,
#                                    commit_old_terms, skip_log_check,
#                                    local_reads, delete_before_apply,
#                                    partial_snapshot)
#   scripts/sim.sh N --no-durable-check
#                                    leave out the "durable before reply" check
#   scripts/sim.sh N --membership M  which seeds join and remove servers:
#                                    off, half (default) or all
#   scripts/sim.sh N --snapshots M   which seeds compact their logs and
#                                    install snapshots (crashing at every
#                                    step of an install): off, half
#                                    (default) or all
#   scripts/sim.sh N --strict-changes
#                                    a committed leave must be answered as a
#                                    success (off: the leader's removal is
#                                    answered "outcome unknown" today)
#   scripts/sim.sh N --unguarded-changes
#                                    joins and leaves may reach a leader that
#                                    has not committed in its term (off: only
#                                    one that has; with it on, a committed
#                                    entry can be lost, or nobody elected)
#   scripts/sim.sh N -j J            J processes in parallel (default 1: the
#                                    build box has two cores, shared)
#   --build-dir DIR (default build-sim), --no-build (use the binary as is)
#
# Exit status: 0 if every seed passed, 1 if any failed, 2 on bad usage.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
count=1000
first=1
seed=""
bugs=""
durable=1
membership=half
snapshots=half
strict=0
unguarded=0
jobs=1
build_dir="$here/build-sim"
build=1

usage() { sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed) seed="$2"; shift 2 ;;
    --first) first="$2"; shift 2 ;;
    --bugs) bugs="$2"; shift 2 ;;
    --no-durable-check) durable=0; shift ;;
    --membership) membership="$2"; shift 2 ;;
    --snapshots) snapshots="$2"; shift 2 ;;
    --strict-changes) strict=1; shift ;;
    --unguarded-changes) unguarded=1; shift ;;
    -j) jobs="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    [0-9]*) count="$1"; shift ;;
    *) echo "sim.sh: unknown argument: $1" >&2; usage ;;
  esac
done

if [[ $build -eq 1 ]]; then
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build_dir" -j1 --target raftd-test-sim >/dev/null
fi
bin="$build_dir/raftd-test-sim"
[[ -x "$bin" ]] || { echo "sim.sh: no $bin (build it or drop --no-build)" >&2; exit 2; }

case "$membership" in off|half|all) ;; *) usage ;; esac
case "$snapshots" in off|half|all) ;; *) usage ;; esac
export RAFTD_SIM_BUGS="$bugs" RAFTD_SIM_DURABLE_CHECK="$durable" \
       RAFTD_SIM_MEMBERSHIP="$membership" RAFTD_SIM_SNAPSHOTS="$snapshots" \
       RAFTD_SIM_STRICT_CHANGES="$strict" \
       RAFTD_SIM_UNGUARDED_CHANGES="$unguarded"
suite='^sim\.cluster$'

if [[ -n "$seed" ]]; then
  set +e
  # Only the trace and the result, not the test runner's frame.
  RAFTD_SIM_SEED="$seed" "$bin" -n -r 0 -s "$suite" 2>&1 \
    | grep -v '^[+ ]\|^$\|^- \|->\|^ *(\|^  *[a-z]*:'
  exit "${PIPESTATUS[0]}"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
per=$(( (count + jobs - 1) / jobs ))
pids=()
for ((j = 0; j < jobs; ++j)); do
  s=$(( first + j * per ))
  n=$(( per < first + count - s ? per : first + count - s ))
  (( n > 0 )) || continue
  RAFTD_SIM_FIRST=$s RAFTD_SIM_SEEDS=$n "$bin" -n -r 0 -s "$suite" \
    > "$out/$j.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
secs=$(echo "$(date +%s.%N) - $start" | bc)

cat "$out"/*.log | grep '^SIM FAIL' | sort -t= -k2 -n > "$out/fail" || true
failed=$(wc -l < "$out/fail")
ran=$(cat "$out"/*.log | grep -c '^SIM SUMMARY' || true)
if [[ "$ran" -ne "${#pids[@]}" ]]; then
  echo "sim.sh: a test process did not finish; its output:" >&2
  tail -n 20 "$out"/*.log >&2
  exit 1
fi
cat "$out/fail"
echo "seeds $first..$((first + count - 1)): $count run, $failed failed," \
     "$(printf '%.1f' "$secs") s, $(echo "scale=1; $count / $secs" | bc) seeds/s"
if [[ $failed -gt 0 ]]; then
  echo "failing seeds: $(sed 's/.*seed=\([0-9]*\).*/\1/' "$out/fail" | tr '\n' ' ')"
  flags="${bugs:+ --bugs $bugs} --membership $membership"
  flags+=" --snapshots $snapshots"
  [[ $strict -eq 1 ]] && flags+=" --strict-changes"
  [[ $unguarded -eq 1 ]] && flags+=" --unguarded-changes"
  echo "replay one: scripts/sim.sh --seed S$flags"
  exit 1
fi
