#!/usr/bin/env python3
"""Failover time of a raftd cluster on loopback.

Starts a 3-node cluster of real `raftd` processes (the first node alone, the
others joining it), then runs N trials. Each trial:
  1. finds the leader (polling /status of the live nodes),
  2. kill -9s it (by PID) and starts the clock,
  3. POSTs the same key to the live nodes in turn, every 10 ms, following
     307 redirects like `curl -L`, until one answers 200: that is the
     failover time,
  4. restarts the killed node on its data directory without -join and waits
     until it follows the new leader and has applied the trial's write.
Prints each time and min / median / p90 / max. Exits 0 when every trial
ended with a committed write, 1 otherwise (2 on a usage error).

    python3 bench/failover.py --bin-dir build --trials 10

Everything is bounded: --trials is capped, each trial has a deadline
(--trial-timeout) and the whole run one too (--max-seconds); every process is
stopped by its own PID at the end, on errors and on SIGINT/SIGTERM.
Standard library only; it reuses tests/process/harness.py.
"""

import argparse
import math
import os
import shlex
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "process"))

import harness  # noqa: E402

MAX_TRIALS = 1000
KEY = "failover_bench"


def percentile(sorted_values, p):
    """Nearest-rank percentile (p in 0..100) of a sorted non-empty list."""
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def first_write(cluster, value, t0, deadline, interval, request_timeout):
    """Retries POST /db/KEY on the live nodes in turn (following 307s)
    until a 200. Returns (the time of the 200 or None at the deadline,
    [(start offset s, node label, answer, duration s)] of every attempt)."""
    attempts = []
    i = 0
    while time.monotonic() < deadline:
        live = cluster.live()
        n = live[i % len(live)]
        i += 1
        a0 = time.monotonic()
        try:
            st, _, _, hops = harness.request_following(
                n.port, "POST", "/db/" + KEY, value,
                timeout=min(request_timeout,
                            max(0.05, deadline - time.monotonic())))
            answer = str(st) + ("(via 307)" if hops else "")
        except harness.TRANSIENT_ERRORS as e:
            st, answer = None, type(e).__name__
        now = time.monotonic()
        attempts.append((a0 - t0, n.label, answer, now - a0))
        if st == 200:
            return now, attempts
        time.sleep(interval)
    return None, attempts


def explain(attempts):
    """The attempts as runs of the same answer, e.g.
    "+0.012..0.140s 503 x12 from f1,f2 (longest 0.004s)"; a gap of more
    than 50 ms between attempts (this client starved) starts a new run."""
    runs = []
    prev_end = None
    for off, label, answer, took in attempts:
        gap = prev_end is not None and off - prev_end > 0.05
        if runs and runs[-1]["answer"] == answer and not gap:
            r = runs[-1]
        else:
            r = {"answer": answer, "first": off, "n": 0, "nodes": set(),
                 "longest": 0.0, "gap": off - prev_end if gap else 0.0}
            runs.append(r)
        r["n"] += 1
        r["last"] = off + took
        r["nodes"].add(label)
        r["longest"] = max(r["longest"], took)
        prev_end = off + took
    return "\n".join(
        "      +%.3f..%.3fs %s x%d from %s (longest %.3fs)%s"
        % (r["first"], r["last"], r["answer"], r["n"],
           ",".join(sorted(r["nodes"])), r["longest"],
           "  [after a %.3fs gap between attempts]" % r["gap"]
           if r["gap"] else "")
        for r in runs)


def run(args):
    cluster = harness.Cluster(args=shlex.split(args.raftd_args), label="f")
    t_start = time.monotonic()
    cluster.start(args.nodes)
    print("cluster of %d nodes up in %.2f s (%s)" % (
        args.nodes, time.monotonic() - t_start,
        ", ".join("%s=%s http %d" % (n.label, n.name(), n.port)
                  for n in cluster.nodes)), flush=True)
    run_deadline = time.monotonic() + args.max_seconds
    times = []
    failures = 0
    for trial in range(1, args.trials + 1):
        if time.monotonic() >= run_deadline:
            print("stopping early: --max-seconds %.0f reached after %d trials"
                  % (args.max_seconds, trial - 1), flush=True)
            break
        lead, lst = cluster.leader(agree=True)
        value = b"trial-%d" % trial
        t0 = time.monotonic()
        lead.kill9()
        t_write, attempts = first_write(
            cluster, value, t0, t0 + args.trial_timeout, args.retry_interval,
            args.request_timeout)
        if t_write is None:
            failures += 1
            print("trial %3d: FAILED: no committed write within %.0f s of "
                  "killing %s (%d attempts)\n%s"
                  % (trial, args.trial_timeout, lead.label, len(attempts),
                     explain(attempts)), flush=True)
            for n in cluster.nodes:
                print(n.diagnostics(limit=3000), file=sys.stderr)
            break
        took = t_write - t0
        times.append(took)
        new_lead, nst = cluster.leader(agree=True)
        # Bring the killed node back and wait until it has the write.
        t1 = time.monotonic()
        back = cluster.restart(lead, timeout=args.trial_timeout,
                               applied=nst["commit_index"])
        cluster.wait_value(KEY, value, nodes=[lead],
                           timeout=args.trial_timeout)
        print("trial %3d: %7.3f s  (%s -> %s, term %d -> %d, %d attempts; "
              "%s back and caught up in %.2f s, applied %d)"
              % (trial, took, lead.label, new_lead.label, lst["term"],
                 nst["term"], len(attempts), lead.label,
                 time.monotonic() - t1, back["applied_index"]), flush=True)
        if took >= args.explain_over:
            print(explain(attempts), flush=True)
    cluster.stop_all()
    if times:
        s = sorted(times)
        print("failover over %d trials: min %.3f s, median %.3f s, "
              "p90 %.3f s, max %.3f s" % (len(s), s[0], statistics.median(s),
                                          percentile(s, 90), s[-1]))
    return 0 if failures == 0 and times else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default="build",
                    help="directory with raftd and raftctl (default build)")
    ap.add_argument("--trials", type=int, default=20,
                    help="leader kills (default 20, at most %d)" % MAX_TRIALS)
    ap.add_argument("--nodes", type=int, default=3,
                    help="cluster size, 3 to 7 (default 3)")
    ap.add_argument("--retry-interval", type=float, default=0.01,
                    help="seconds between write attempts (default 0.01)")
    ap.add_argument("--request-timeout", type=float, default=7.0,
                    help="socket timeout of one write, s (default 7)")
    ap.add_argument("--trial-timeout", type=float, default=30.0,
                    help="bound of each phase of a trial, s (default 30)")
    ap.add_argument("--max-seconds", type=float, default=900.0,
                    help="bound of the whole run, s (default 900)")
    ap.add_argument("--explain-over", type=float, default=1.0,
                    help="list the attempts of trials slower than this, s "
                    "(default 1)")
    ap.add_argument("--raftd-args", default="",
                    help="extra raftd flags, e.g. '-election-timeout 300ms'")
    args = ap.parse_args()
    if not 1 <= args.trials <= MAX_TRIALS:
        ap.error("--trials must be 1 to %d" % MAX_TRIALS)
    if not 3 <= args.nodes <= 7:
        ap.error("--nodes must be 3 to 7")
    if not 0.001 <= args.retry_interval <= 1.0:
        ap.error("--retry-interval must be 0.001 to 1")
    for name in ("request_timeout", "trial_timeout", "max_seconds"):
        if not 0 < getattr(args, name) <= 3600:
            ap.error("--%s must be in (0, 3600]" % name.replace("_", "-"))
    harness.BIN_DIR = os.path.abspath(args.bin_dir)
    for prog in ("raftd",):
        if not os.access(harness.bin_path(prog), os.X_OK):
            print("missing executable: %s" % harness.bin_path(prog),
                  file=sys.stderr)
            return 2
    import atexit
    atexit.register(harness.cleanup)
    signal.signal(signal.SIGTERM, harness._on_signal)
    signal.signal(signal.SIGINT, harness._on_signal)
    try:
        return run(args)
    except AssertionError as e:  # a bounded wait of the harness ran out
        print("FAILED: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
