#!/usr/bin/env bash
# A long linearizability run (Jepsen-style, tests/lin/driver.py): a real raftd
# cluster, concurrent clients, kill -9 / SIGSTOP / partitions on a seeded
# schedule, then a heal and the checks. The history of a failing run is kept
# (JSON lines, with the nodes' stderr and the fault schedule) and its path
# printed; a passing run's directory is removed unless --keep.
#
#   scripts/lin-long.sh [--seed S] [--duration SECONDS] [--nodes 3|5]
#                       [--bin-dir build] [--out-dir DIR] [--keep]
#                       [-- extra driver flags, e.g. --keys 8 --think 0.05]
#
# Defaults: a random seed (printed), 1800 s, 3 nodes, bin dir build/, run
# directories under <bin-dir>/lin-runs. Partitions need root (network
# namespaces); without them the run goes on without partitions and says so.
# Replay the checker on a kept history:
#   python3 -m lin.checker <history.jsonl>   (from tests/)
set -euo pipefail
cd "$(dirname "$0")/.."

seed=""
duration=1800
nodes=3
bin_dir=build
out_dir=""
keep=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --nodes) nodes="$2"; shift 2 ;;
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --out-dir) out_dir="$2"; shift 2 ;;
    --keep) keep=(--keep); shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "lin-long.sh: unknown argument $1" >&2; sed -n '7,10p' "$0" >&2
       exit 2 ;;
  esac
done
case "$nodes" in 3|5) ;; *) echo "lin-long.sh: --nodes must be 3 or 5" >&2
  exit 2 ;; esac
if [ ! -x "$bin_dir/raftd" ]; then
  echo "lin-long.sh: no raftd in $bin_dir (build first: scripts/build.sh)" >&2
  exit 2
fi
[ -n "$seed" ] || seed=$(( (RANDOM << 15 | RANDOM) % 1000000 + 1 ))
[ -n "$out_dir" ] || out_dir="$bin_dir/lin-runs"
mkdir -p "$out_dir"

echo "lin-long: seed $seed, $duration s, $nodes nodes, runs in $out_dir"
# Fewer ops per second than the CI run (clients think up to 50 ms) and more
# keys, so that a half-hour history stays quick to check.
set +e
python3 tests/lin/driver.py --bin-dir "$bin_dir" --seed "$seed" \
  --duration "$duration" --nodes "$nodes" --out-dir "$out_dir" \
  --keys 8 --think 0.05 --checker-budget 1800 ${keep[@]+"${keep[@]}"} \
  ${extra[@]+"${extra[@]}"}
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "lin-long: FAILED (seed $seed); the history and node logs are kept" \
       "under $out_dir (path printed above)"
else
  echo "lin-long: passed (seed $seed)"
fi
exit $rc
