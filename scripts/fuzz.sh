#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++-14 into ./build-fuzz and runs one
# (or each, one after another) for SECONDS on a copy of its seed corpus, in a
# single process (-jobs=1 -workers=1). fuzz/README.md says what each covers.
#
# Usage: scripts/fuzz.sh [options] TARGET|all SECONDS
#   --bin-dir DIR   run the binaries in DIR, do not build (CTest uses this);
#                   exits 77 (skipped) if the target is not there
#   --save-corpus   merge inputs that found new coverage into fuzz/corpus/
#                   (otherwise nothing is written into the tree)
#   -- ARGS         more libFuzzer flags (e.g. -- -seed=1234)
# Targets: http_parser http_router http_join storage_codec raft_membership
# A crashing input is kept as build-fuzz/runs/TARGET.*/crash-*; replay it with
#   build-fuzz/TARGET_fuzz FILE
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
all_targets=(http_parser http_router http_join storage_codec raft_membership)

bin_dir=""
save=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --save-corpus) save=1; shift ;;
    *) break ;;
  esac
done
if [[ $# -lt 2 ]]; then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2
[[ "${1:-}" == "--" ]] && shift
extra=("$@")

if [[ -z "$bin_dir" ]]; then
  if ! command -v clang++-14 >/dev/null; then
    echo "fuzz: clang++-14 not found: run scripts/install-deps.sh" >&2
    exit 77
  fi
  bin_dir=$root/build-fuzz
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
  cmake -S fuzz -B "$bin_dir" -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
  cmake --build "$bin_dir" -j"${JOBS:-2}"
fi
bin_dir=$(cd "$bin_dir" 2>/dev/null && pwd || echo "$bin_dir")

# Runs target $1 for $seconds seconds; prints the seconds and executions.
run_one() {
  local t=$1
  local bin=$bin_dir/${t}_fuzz
  if [[ ! -x "$bin" ]]; then
    echo "fuzz: $bin not built (clang++-14 or libclang-rt-14-dev missing?)" >&2
    return 77
  fi
  mkdir -p "$bin_dir/runs"
  local work
  work=$(mktemp -d "$bin_dir/runs/$t.XXXXXX")
  cp -r "fuzz/corpus/$t" "$work/corpus"
  local rc=0
  # -jobs=1 runs one child that logs to fuzz-0.log in the working directory.
  (cd "$work" && "$bin" -jobs=1 -workers=1 -max_total_time="$seconds" \
     -print_final_stats=1 -max_len=4096 -timeout=10 \
     -artifact_prefix="$work/" "${extra[@]}" corpus >/dev/null 2>&1) || rc=$?
  local log=$work/fuzz-0.log
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" \
            | grep -o '[0-9]*$' || echo "?")
  grep -m1 'INFO: Seed:' "$log" || true
  if [[ $rc -ne 0 ]] || ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* \
       "$work"/oom-* >/dev/null 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $t FAILED after ${seconds}s; inputs: $(ls "$work" \
      | grep -E '^(crash|leak|timeout|oom)-' | sed "s|^|$work/|" | tr '\n' ' ')" >&2
    return 1
  fi
  echo "fuzz: $t ok: ${seconds}s, $execs executions," \
       "corpus $(ls fuzz/corpus/"$t" | wc -l) -> $(ls "$work/corpus" | wc -l)"
  if [[ $save -eq 1 ]]; then
    "$bin" -merge=1 "fuzz/corpus/$t" "$work/corpus" >/dev/null 2>&1
    echo "fuzz: fuzz/corpus/$t now holds $(ls fuzz/corpus/"$t" | wc -l) inputs"
  fi
  rm -rf "$work"
}

if [[ "$target" == "all" ]]; then
  result=0 # a failure wins over a skip (77)
  for t in "${all_targets[@]}"; do
    rc=0
    run_one "$t" || rc=$?
    if [[ $rc -ne 0 && $rc -ne 77 ]]; then result=1; fi
    if [[ $rc -eq 77 && $result -eq 0 ]]; then result=77; fi
  done
  exit $result
fi
if [[ ! -d "fuzz/corpus/$target" ]]; then
  echo "fuzz: unknown target $target (${all_targets[*]})" >&2
  exit 2
fi
run_one "$target"
