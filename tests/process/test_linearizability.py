"""The linearizability test (Jepsen-style), CI length: a 3-node raftd
cluster, 8 concurrent clients writing unique values and reading 4 keys on
random nodes, 45 s of faults (kill -9 and restart of the leader and of random
nodes, SIGSTOP/SIGCONT pauses, and partitions in network namespaces where
the test may make them), then a heal. The history must be linearizable and
every acknowledged write must survive (tests/lin/driver.py has the details).

The second case demonstrates that the test has teeth: the same driver with
reads forced to ?consistency=stale at followers must be caught by the
checker (up to 3 seeds).

Run as: python3 tests/process/test_linearizability.py --bin-dir build
Environment: RAFTD_LIN_SEED (the fault schedule's seed; random if unset),
RAFTD_LIN_DURATION (seconds of faults, default 45), RAFTD_LIN_NODES (3 or 5),
RAFTD_LIN_NO_NETNS=1 (loopback only, no partitions)."""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from lin import driver, runner  # noqa: E402


def bin_dir():
    d = runner.BIN_DIR
    if not d or not os.access(os.path.join(d, "raftd"), os.X_OK):
        raise unittest.SkipTest("no raftd in --bin-dir %r" % d)
    return d


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v else default


class Linearizability(unittest.TestCase):
    def test_1_linearizable_under_faults(self):
        seed = env_int("RAFTD_LIN_SEED", random.randrange(1, 10 ** 6))
        cfg = driver.Config(
            seed=seed,
            duration=float(env_int("RAFTD_LIN_DURATION", 45)),
            nodes=env_int("RAFTD_LIN_NODES", 3),
            clients=8, keys=4,
            netns=not os.environ.get("RAFTD_LIN_NO_NETNS"),
            checker_budget=90.0)
        print("\nseed %d (rerun: RAFTD_LIN_SEED=%d)" % (seed, seed))
        sys.stdout.flush()
        rep = driver.run(cfg, bin_dir(), log=_log)
        print(rep.text())
        sys.stdout.flush()
        self.assertTrue(rep.ok, "seed %d: %s\nhistory: %s"
                        % (seed, "; ".join(rep.problems), rep.history_path))
        self.assertIs(rep.result.valid, True)
        # The run did something worth checking.
        self.assertGreaterEqual(len(rep.faults), 5, rep.faults)
        self.assertGreaterEqual(rep.summary["write"]["ok"], 100)
        self.assertGreaterEqual(rep.summary["read"]["ok"], 100)

    def test_2_stale_reads_are_caught(self):
        """Demonstration of power: stale follower reads are not
        linearizable, and the checker must say so."""
        base = env_int("RAFTD_LIN_SEED", random.randrange(1, 10 ** 6))
        tried = []
        for attempt in range(3):
            seed = base + 7919 * (attempt + 1)
            cfg = driver.Config(
                seed=seed, duration=12.0, nodes=3, clients=8, keys=4,
                stale=True, netns=not os.environ.get("RAFTD_LIN_NO_NETNS"),
                checker_budget=60.0)
            print("\nstale-read demonstration, seed %d" % seed)
            sys.stdout.flush()
            rep = driver.run(cfg, bin_dir(), log=_log)
            tried.append(seed)
            if rep.result is not None and rep.result.valid is False:
                v = rep.result.violations()[0]
                for line in rep.lines:
                    if not line.startswith("checker:"):
                        print(line)
                print("first violation:\n" + v.explain())
                print("the checker found the violation with seed %d "
                      "(attempt %d)" % (seed, attempt + 1))
                return
            print(rep.text())
            print("no violation with seed %d" % seed)
        self.fail("stale follower reads were never caught (seeds %s)"
                  % tried)


def _log(msg):
    print(msg)
    sys.stdout.flush()


if __name__ == "__main__":
    driver.install_cleanup_handlers()
    sys.exit(runner.main())
