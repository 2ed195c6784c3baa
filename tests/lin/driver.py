"""The linearizability test's driver (Jepsen-style): a real raftd cluster,
concurrent clients recording every operation, faults on a seeded schedule,
then a heal, a check of the final state and a linearizability check of the
whole history.

  python3 tests/lin/driver.py --bin-dir build [--seed S] [--duration SEC]
      [--nodes 3|5] [--clients 8] [--keys 4] [--stale] [--no-netns]
      [--keep] [--out-dir DIR]

Clients (threads) write unique values (client id + counter) and read a few
keys on random nodes, following 307s to the leader, and record
(client, op, key, value, invoke, complete, outcome) with time.monotonic().
A write's outcome: 200 -> ok; 503, a 307 chain that never reaches a leader,
or a connection that could not be made -> failed (nothing was proposed);
504, a timeout or a connection lost after the request went out -> unknown.
A read: 200 -> value, 404 -> absent, anything else -> failed (no effect).

The nemesis (the main thread, so that processes it restarts are children of
a thread that lives as long as the run) injects one fault at a time, chosen
by random.Random(seed): kill -9 of the leader or of a random node (restarted
after a while), SIGSTOP/SIGCONT of the leader or of a random node for
0.2-2 s, and, in network namespaces, partitions (a random majority/minority
split, or the leader isolated in a minority), healed after a while. The
schedule's choices are seeded; what they hit also depends on timing.

After the fault phase: heal everything, restart dead nodes, wait for one
leader that all nodes follow, wait until every node has applied the
leader's commit index, then read every key on every node (linearizable, and
stale), require that they agree, that no acknowledged write was lost (the
final value is not older than any acknowledged write), and that the history,
final reads included, is linearizable.

With --stale the reads use ?consistency=stale and go to followers, mostly to
the one being paused or cut off: the demonstration that the checker finds
real violations.
"""

import argparse
import atexit
import http.client
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from lin import checker  # noqa: E402
from lin.cluster import Cluster  # noqa: E402

_active = []  # clusters to tear down at exit / on a signal


def _cleanup_all():
    while _active:
        c = _active.pop()
        try:
            c.teardown()
        except Exception as e:  # keep going
            sys.stderr.write("cleanup: %r\n" % (e,))


def install_cleanup_handlers():
    """atexit + SIGTERM/SIGINT: stop our nodes by PID, delete namespaces."""
    atexit.register(_cleanup_all)

    def on_signal(signum, _frame):
        sys.stdout.write("\nsignal %d: stopping nodes, removing namespaces\n"
                         % signum)
        sys.stdout.flush()
        _cleanup_all()
        os._exit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(s, on_signal)
        except (ValueError, OSError):  # not the main thread
            pass


class Config:
    def __init__(self, **kw):
        self.seed = 1
        self.duration = 45.0
        self.nodes = 3
        self.clients = 8
        self.keys = 4
        self.stale = False  # reads with ?consistency=stale, at followers
        self.netns = True
        self.faults = ("kill", "pause", "partition")
        # Timeouts as a client that fails over would set them: a commit
        # here takes milliseconds, an election a few hundred, so half a
        # second without an answer means a paused or cut-off node. (Longer
        # ones measure the clients: every client soon waits on the one
        # paused leader for its whole timeout.)
        self.write_timeout = "500ms"
        # Socket timeouts of one HTTP exchange: a write's is a little
        # longer than -write-timeout, so that a leader's 504 comes first.
        self.client_timeout = 0.7
        self.read_timeout = 0.6
        self.avoid = 1.0  # s a client avoids a node that timed out on it
        self.max_hops = 3
        self.quiet = (0.5, 2.0)  # s between faults
        self.down = (0.5, 3.0)  # s a killed node stays down
        self.pause = (0.2, 2.0)  # s a node stays stopped
        self.partition = (1.0, 4.0)  # s a partition lasts
        self.think = 0.0  # s a client sleeps between ops
        self.deletes = 0.08  # share of ops that are DELETEs (of the 50% writes)
        # Availability bounds (seconds without a successful write, or
        # read, overlapping a fault of a kind until the next fault): the
        # goals are 1 s for kills and pauses and 2 s for partitions; a run
        # fails only past these generous limits (two shared cores).
        self.gap_limit = {"kill": 3.0, "pause": 3.0, "partition": 5.0,
                          "kill-all-recovery": 10.0}
        self.new_term_timeout = 5.0  # s for the majority to elect, when the
        # leader is cut off
        self.stop_timeout = 5.0  # s a node has to exit 0 after SIGTERM
        self.out_dir = None  # where run directories go (default: tmp)
        self.keep = False  # keep the run directory even when it passes
        self.checker_budget = 120.0  # s for the linearizability search
        self.settle_timeout = 60.0  # s to heal and catch up at the end
        # Log compaction with small thresholds (issue 12): the leader
        # compacts every couple of hundred writes and keeps a short window,
        # so a node killed, paused or cut off for a second or more needs a
        # snapshot to catch up. Installs are counted in the report.
        self.snapshot_entries = 200
        self.snapshot_trailing = 50
        self.extra_args = ()
        for k, v in kw.items():
            if not hasattr(self, k):
                raise TypeError("unknown option %s" % k)
            setattr(self, k, v)


class Report:
    def __init__(self):
        self.ok = False
        self.lines = []
        self.problems = []  # strings: why the run failed
        self.suspicious = []  # strings worth a look, not failures
        self.result = None  # checker.Result
        self.snapshots_installed = 0  # over the run, from the nodes' logs
        self.history_path = None
        self.run_dir = None
        self.ops = []
        self.faults = []
        self.summary = {}
        self.fault_counts = {}
        self.gap = None
        self.gap_by_kind = {}
        self.partitions = None  # None, or why they were skipped
        self.seed = None
        self.unexpected = []  # distinct answers outside the HTTP contract
        self.scheduled = []  # fault kinds the nemesis meant to run
        self.missing_kinds = []  # ... of which these never ran
        self.isolations = []  # partition-leader faults: dicts
        self.read_gap = None
        self.read_gap_by_kind = {}
        self.gaps_over_limit = []  # strings: availability bounds exceeded
        self.exits = {}  # node label -> how it ended at teardown

    def text(self):
        return "\n".join(self.lines)


# -- HTTP for clients -------------------------------------------------------------


def _err_name(e):
    if isinstance(e, TimeoutError):  # socket.timeout
        return "timeout"
    return type(e).__name__


def _exchange(cluster, host, port, method, path, body, timeout):
    """One request on a fresh connection. Returns ("noconnect", err) when
    nothing was sent, ("lost", err) when the request may have gone out but
    no answer came, or ("resp", status, location, body)."""
    cluster.check_target(host, port)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError as e:
            return ("noconnect", _err_name(e))
        try:
            conn.request(method, path, body=body)
            r = conn.getresponse()
            data = r.read()
            return ("resp", r.status, r.getheader("Location"), data)
        except (OSError, http.client.HTTPException) as e:
            return ("lost", _err_name(e))
    finally:
        conn.close()


def _print_flush(msg):
    print(msg, flush=True)


class Run:
    def __init__(self, cfg, bin_dir, log=_print_flush):
        self.cfg = cfg
        self.raftd = os.path.join(os.path.abspath(bin_dir), "raftd")
        self.log = log
        self.ops = []  # checker.Op, appended by all threads
        self.ops_lock = threading.Lock()
        self.stop = threading.Event()
        self.t0 = None
        self.faults = []  # dicts: kind, nodes, start, end
        self.leader_hint = None  # Node believed to lead (for --stale)
        self.victims = []  # Nodes being paused / cut off now
        self.crashes = []
        self.unexpected = []
        self.read_redirects = []  # reads answered 307 (followed)
        self.scheduled = []  # the fault kinds the nemesis meant to run
        self.cluster = None

    def now(self):
        return time.monotonic() - self.t0

    def record(self, op):
        with self.ops_lock:
            op.id = len(self.ops)
            self.ops.append(op)

    # -- client operations ---------------------------------------------------------

    def do_write(self, cid, node, key, value):
        cfg = self.cfg
        host, port, path = node.host, node.port, "/db/" + key
        body = value.encode()
        inv = self.now()
        hops = 0
        outcome, extra = None, {"node": node.label}
        while True:
            try:
                res = _exchange(self.cluster, host, port, "POST", path, body,
                                cfg.client_timeout)
            except ValueError as e:  # a Location outside the cluster
                outcome = "failed"
                extra["error"] = str(e)
                self.unexpected.append("write redirected outside the "
                                       "cluster: %s" % e)
                break
            if res[0] == "noconnect":
                outcome = "failed"  # nothing sent (after 307s: refused)
                extra["error"] = "connect: " + res[1]
                break
            if res[0] == "lost":
                outcome = "unknown"
                extra["error"] = res[1]
                break
            st, loc = res[1], res[2]
            extra["status"] = st
            if st == 200:
                outcome = "ok"
            elif st == 503:
                outcome = "failed"
            elif st == 504:
                outcome = "unknown"
            elif st in (307, 308) and loc:
                if hops >= cfg.max_hops:
                    outcome = "failed"  # every hop refused: never proposed
                    extra["error"] = "too many redirects"
                    break
                u = urlsplit(loc)
                host, port = u.hostname, u.port
                path = u.path + ("?" + u.query if u.query else "")
                hops += 1
                extra["hops"] = hops
                continue
            else:
                outcome = "unknown"  # not in the contract: be conservative
                self.unexpected.append("write %s -> HTTP %d %r" % (
                    key, st, res[3][:100]))
            break
        comp = self.now()
        op = checker.Op("write", key, value, inv,
                        None if outcome == "unknown" else comp,
                        outcome, client=cid, extra=extra)
        self.record(op)
        return op

    def do_delete(self, cid, node, key):
        """DELETE /db/key, following 307s: 200 -> ok, the key existed;
        404 -> ok, it was absent (both decided when the entry is applied);
        503 or no connection -> failed; 504, a timeout or a lost connection
        -> unknown."""
        cfg = self.cfg
        host, port, path = node.host, node.port, "/db/" + key
        inv = self.now()
        hops = 0
        found = None
        outcome, extra = None, {"node": node.label}
        while True:
            try:
                res = _exchange(self.cluster, host, port, "DELETE", path,
                                None, cfg.client_timeout)
            except ValueError as e:  # a Location outside the cluster
                outcome = "failed"
                extra["error"] = str(e)
                self.unexpected.append("delete redirected outside the "
                                       "cluster: %s" % e)
                break
            if res[0] == "noconnect":
                outcome = "failed"
                extra["error"] = "connect: " + res[1]
                break
            if res[0] == "lost":
                outcome = "unknown"
                extra["error"] = res[1]
                break
            st, loc = res[1], res[2]
            extra["status"] = st
            if st in (200, 404):
                outcome, found = "ok", st == 200
            elif st == 503:
                outcome = "failed"
            elif st == 504:
                outcome = "unknown"
            elif st in (307, 308) and loc:
                if hops >= cfg.max_hops:
                    outcome = "failed"
                    extra["error"] = "too many redirects"
                    break
                u = urlsplit(loc)
                host, port = u.hostname, u.port
                path = u.path + ("?" + u.query if u.query else "")
                hops += 1
                extra["hops"] = hops
                continue
            else:
                outcome = "unknown"
                self.unexpected.append("delete %s -> HTTP %d %r" % (
                    key, st, res[3][:100]))
            break
        comp = self.now()
        op = checker.Op("delete", key, None, inv,
                        None if outcome == "unknown" else comp, outcome,
                        client=cid, extra=extra, found=found)
        self.record(op)
        return op

    def do_read(self, cid, node, key, stale=False, client=None):
        """A read; follows 307s like `curl -L` (a leader that steps down
        while a read waits answers 307, not 503)."""
        host, port = node.host, node.port
        path = "/db/" + key + ("?consistency=stale" if stale else "")
        extra = {"node": node.label}
        if stale:
            extra["stale"] = True
        value, outcome = None, "failed"
        hops = 0
        inv = self.now()
        while True:
            try:
                res = _exchange(self.cluster, host, port, "GET", path, None,
                                self.cfg.read_timeout)
            except ValueError as e:  # a Location outside the cluster
                extra["error"] = str(e)
                self.unexpected.append("read redirected outside the "
                                       "cluster: %s" % e)
                break
            if res[0] != "resp":
                extra["error"] = res[1]
                break
            st = res[1]
            extra["status"] = st
            if st == 200:
                value, outcome = res[3].decode("utf-8", "replace"), "ok"
            elif st == 404:
                outcome = "ok"
            elif st in (307, 308) and res[2] and hops < self.cfg.max_hops:
                self.read_redirects.append(node.label)
                u = urlsplit(res[2])
                host, port = u.hostname, u.port
                path = u.path + ("?" + u.query if u.query else "")
                hops += 1
                extra["hops"] = hops
                continue
            elif st != 503:
                self.unexpected.append("read %s on %s -> HTTP %d %r" % (
                    key, node.label, st, res[3][:100]))
            break
        comp = self.now()
        op = checker.Op("read", key, value, inv, comp, outcome,
                        client=client if client is not None else cid,
                        extra=extra)
        self.record(op)
        return op

    def client_loop(self, cid, end):
        rng = random.Random(self.cfg.seed * 1000 + cid)
        keys = ["k%d" % i for i in range(self.cfg.keys)]
        nodes = self.cluster.nodes
        counter = 0
        avoid = {}  # node -> monotonic time until which this client avoids it
        while not self.stop.is_set() and time.monotonic() < end:
            key = rng.choice(keys)
            # A random node, but not one that just timed out on us (a client
            # that fails over, as a real one would): otherwise every client
            # soon waits on the one paused node and the availability figures
            # measure the clients, not the cluster.
            t = time.monotonic()
            pool = [n for n in nodes if avoid.get(n, 0) <= t] or nodes
            node = rng.choice(pool)
            dice = rng.random()
            if dice < self.cfg.deletes:
                op = self.do_delete(cid, node, key)
                slow = op.extra.get("error") == "timeout"
            elif dice < 0.5:
                counter += 1
                op = self.do_write(cid, node, key, "c%d-%d" % (cid, counter))
                slow = op.extra.get("error") == "timeout"
            elif self.cfg.stale:
                node = self.stale_target(rng)
                op = self.do_read(cid, node, key, stale=True)
                slow = op.extra.get("error") == "timeout"
            else:
                op = self.do_read(cid, node, key)
                slow = op.extra.get("error") == "timeout"
            if slow:
                avoid[node] = time.monotonic() + self.cfg.avoid
            if op.outcome == "failed":
                # Back off a little: a refused connection or a 503 comes
                # back at once, and thousands of them a second would only
                # load the two cores and bloat the history.
                time.sleep(rng.uniform(0.01, 0.05))
            if self.cfg.think:
                time.sleep(rng.random() * self.cfg.think)

    def stale_target(self, rng):
        """For --stale: a follower, mostly one being paused or cut off."""
        victims = [v for v in self.victims if v is not self.leader_hint]
        if victims and rng.random() < 0.7:
            return rng.choice(victims)
        followers = [n for n in self.cluster.nodes if n is not
                     self.leader_hint]
        return rng.choice(followers)

    # -- nemesis ---------------------------------------------------------------------

    def fault_kinds(self):
        kinds = []
        cfg = self.cfg
        if cfg.stale:
            kinds = ["pause-follower"]
            if self.cluster.net.partitions and "partition" in cfg.faults:
                kinds += ["partition-follower", "partition-follower"]
            return kinds
        big = self.cluster.n >= 5
        net = self.cluster.net
        if "kill" in cfg.faults:
            kinds += ["kill-leader", "kill-random", "kill-all"]
            kinds += ["kill-minority"] if big else []
        if "pause" in cfg.faults:
            kinds += ["pause-leader", "pause-random"]
            kinds += ["pause-minority"] if big else []
        if "partition" in cfg.faults and net.partitions:
            kinds += ["partition-random", "partition-leader"]
            if net.pairwise:
                kinds += ["partition-bridge", "partition-flap"]
        return kinds

    def sleep_watching(self, seconds, down=()):
        """Sleeps, refreshing the leader hint and noticing crashes."""
        end = time.monotonic() + seconds
        while True:
            self.notice_crashes(down)
            left = end - time.monotonic()
            if left <= 0:
                return
            t = time.monotonic()
            ld = self.cluster.leader(timeout=0.3)
            if ld is not None:
                self.leader_hint = ld
            time.sleep(max(0.0, min(left, 0.3 - (time.monotonic() - t))))

    def notice_crashes(self, down=()):
        for nd in self.cluster.nodes:
            if nd in down or nd.proc is None:
                continue
            rc = nd.proc.poll()
            if rc is not None:
                tail = nd.stderr_tail(lines=15)
                self.crashes.append((self.now(), nd.label, rc, tail))
                self.log("!! %s exited by itself with %s at %.2f s; "
                         "restarting it" % (nd.label, rc, self.now()))
                nd.start()

    def pick(self, rng, kind):
        nodes = self.cluster.nodes
        leader = self.cluster.leader(timeout=0.5)
        if leader is not None:
            self.leader_hint = leader
        if kind.endswith("-leader"):
            # Right after a fault there may be an election going on: wait
            # (bounded) for a leader to hit rather than hit a random node.
            deadline = time.monotonic() + 3.0
            while leader is None and time.monotonic() < deadline:
                self.notice_crashes()
                time.sleep(0.05)
                leader = self.cluster.leader(timeout=0.5)
            if leader is not None:
                self.leader_hint = leader
            return leader or rng.choice(nodes)
        if kind.endswith("-follower"):
            fs = [n for n in nodes if n is not leader]
            return rng.choice(fs)
        return rng.choice(nodes)

    def pick_many(self, rng, kind):
        """The nodes a kill or pause hits: one, or for "-minority" a
        random minority (2 of 5; the leader is among them when the draw
        says so)."""
        if kind.endswith("-minority"):
            k = (self.cluster.n - 1) // 2
            return rng.sample(self.cluster.nodes, k)
        if kind.endswith("-all"):
            return list(self.cluster.nodes)
        return [self.pick(rng, kind)]

    def inject(self, rng, kind, deadline):
        """One fault: inject, hold, heal. Returns the fault record. No
        hold goes past the deadline (the end of the fault phase)."""
        cfg = self.cfg
        cl = self.cluster

        def capped(t):
            return max(0.05, min(t, deadline - time.monotonic()))
        hit = self.pick_many(rng, kind)
        victim = hit[0]
        f = {"kind": kind, "start": self.now(),
             "nodes": [v.label for v in hit]}
        self.faults.append(f)
        if kind.startswith("kill"):
            hold = rng.uniform(*cfg.down)
            for v in hit:
                v.kill9()
            self.sleep_watching(capped(hold), down=hit)
            for v in hit:
                v.start()
        elif kind.startswith("pause"):
            hold = rng.uniform(*cfg.pause)
            self.victims = list(hit)
            for v in hit:
                v.pause()
            try:
                self.sleep_watching(capped(hold))
            finally:
                for v in hit:
                    v.resume()
                self.victims = []
        elif kind in ("partition-bridge", "partition-flap"):
            hold = 0.0
            self.victims = []
            f["shapes"] = []
            try:
                for step in range(1 if kind == "partition-bridge"
                                  else rng.randint(3, 6)):
                    if kind == "partition-bridge" or rng.random() < 0.3:
                        pairs, desc = self.bridge_shape(rng)
                    else:
                        k = rng.randint(1, (cl.n - 1) // 2)
                        minority = sorted(rng.sample(range(cl.n), k))
                        pairs = {(i, j) for i in minority
                                 for j in range(cl.n) if j not in minority}
                        desc = "cut off %s" % ",".join(
                            cl.nodes[i].label for i in minority)
                    f["shapes"].append(desc)
                    cl.net.block(pairs)
                    t = (rng.uniform(*cfg.partition)
                         if kind == "partition-bridge"
                         else rng.uniform(0.3, 1.0))
                    t = capped(t)
                    hold += t
                    self.sleep_watching(t)
                    if time.monotonic() >= deadline:
                        break
            finally:
                cl.net.heal()
            f["nodes"] = ["; ".join(f["shapes"])]
        else:  # partitions
            hold = rng.uniform(*cfg.partition)
            idx = list(range(cl.n))
            if kind == "partition-random":
                k = rng.randint(1, (cl.n - 1) // 2)
                minority = rng.sample(idx, k)
            elif kind == "partition-leader":
                k = rng.randint(1, (cl.n - 1) // 2)
                others = [i for i in idx if i != victim.i]
                minority = [victim.i] + rng.sample(others, k - 1)
            else:  # partition-follower: one follower alone
                minority = [victim.i]
            majority = [i for i in idx if i not in minority]
            f["nodes"] = [cl.nodes[i].label for i in sorted(minority)]
            f["groups"] = [[cl.nodes[i].label for i in sorted(minority)],
                           [cl.nodes[i].label for i in majority]]
            if kind == "partition-leader":
                st = victim.status(0.5)
                f["leader_term"] = (st.get("term") if st and
                                    st.get("state") == "leader" else None)
                f["new_term"] = None
            self.victims = [cl.nodes[i] for i in minority]
            cl.net.partition([minority, majority])
            t_cut = time.monotonic()
            try:
                if f.get("leader_term") is not None:
                    # The majority must elect a leader in a newer term: the
                    # cut is real (awaited, bounded; the hold goes on after).
                    f["new_term"] = self.await_new_term(
                        [cl.nodes[i] for i in majority], f["leader_term"],
                        cfg.new_term_timeout)
                self.sleep_watching(max(0.0, capped(hold) - (
                    time.monotonic() - t_cut)))
            finally:
                cl.net.heal()
                self.victims = []
        f["end"] = self.now()
        f["hold"] = round(f["end"] - f["start"], 3)  # as held
        return f

    def await_new_term(self, nodes, term, timeout):
        """Waits until one of nodes leads in a term above `term`; returns
        [term, label, seconds waited], or None after timeout."""
        t = time.monotonic()
        while True:
            self.notice_crashes()
            for nd in nodes:
                s = nd.status(0.3)
                if s and s.get("state") == "leader" and \
                        s.get("term", 0) > term:
                    return [s["term"], nd.label,
                            round(time.monotonic() - t, 3)]
            if time.monotonic() - t > timeout:
                return None
            time.sleep(0.05)

    def bridge_shape(self, rng):
        """Jepsen's bridge: the nodes split into two halves that can reach
        each other only through one bridge node (no one sees everyone, but
        the bridge sees a majority). Returns (blocked pairs, description)."""
        cl = self.cluster
        idx = list(range(cl.n))
        rng.shuffle(idx)
        bridge, rest = idx[0], idx[1:]
        half = len(rest) // 2
        a, b = rest[:half], rest[half:]
        pairs = {(min(i, j), max(i, j)) for i in a for j in b}
        desc = "bridge %s between %s and %s" % (
            cl.nodes[bridge].label, ",".join(cl.nodes[i].label for i in a),
            ",".join(cl.nodes[i].label for i in b))
        return pairs, desc

    def nemesis(self, end):
        rng = random.Random(self.cfg.seed)
        kinds = self.fault_kinds()
        # Every kind once (in a seeded order), then seeded random choices.
        first = list(dict.fromkeys(kinds))
        rng.shuffle(first)
        self.scheduled = list(first)  # each must run (checked at the end)
        self.sleep_watching(min(1.0, self.cfg.duration / 4))
        while time.monotonic() < end - 1.0:
            q = rng.uniform(*self.cfg.quiet)
            if kinds:
                deadline = end
                if first:
                    # The first round runs every kind once: each gets an
                    # equal share of the time left (holds are cut to fit).
                    kind = first.pop(0)
                    share = (end - 1.0 - time.monotonic()) / (len(first) + 1)
                    q = min(q, 0.5)
                    deadline = min(end, time.monotonic() + max(0.5,
                                                               share - q))
                else:
                    kind = rng.choice(kinds)
                f = self.inject(rng, kind, deadline)
                self.log("  %6.2f s  %-18s %-10s held %.2f s%s" % (
                    f["start"], f["kind"], ",".join(f["nodes"]), f["hold"],
                    "" if "leader_term" not in f else
                    "; leader's term %s, new term %s" % (
                        f["leader_term"], f["new_term"])))
            self.sleep_watching(max(0.0, min(q, end - time.monotonic())))

    # -- the whole run -----------------------------------------------------------------

    def execute(self):
        cfg = self.cfg
        rep = Report()
        rep.seed = cfg.seed
        base = cfg.out_dir or os.environ.get("TMPDIR", "/tmp")
        os.makedirs(base, exist_ok=True)
        run_dir = os.path.join(base, "raftd-lin-%s-seed%d-%d" % (
            time.strftime("%Y%m%d-%H%M%S"), cfg.seed, os.getpid()))
        os.makedirs(run_dir)
        rep.run_dir = run_dir
        args = ["-write-timeout", cfg.write_timeout,
                "-snapshot-entries", str(cfg.snapshot_entries),
                "-snapshot-trailing", str(cfg.snapshot_trailing)]
        args += list(cfg.extra_args)
        self.cluster = cl = Cluster(self.raftd, cfg.nodes, run_dir, args,
                                    netns=cfg.netns and "partition" in
                                    cfg.faults, log=self.log)
        _active.append(cl)
        try:
            self._execute(rep)
        except Exception as e:
            import traceback
            rep.problems.append("driver error: %r" % (e,))
            rep.lines.append(traceback.format_exc())
        finally:
            try:
                rep.exits = cl.teardown(cfg.stop_timeout)
            finally:
                if cl in _active:
                    _active.remove(cl)
        bad = {lb: e for lb, e in rep.exits.items()
               if e is not None and e != 0}
        if bad:
            rep.problems.append(
                "nodes did not exit with code 0 within %.0f s of SIGTERM at "
                "teardown: %s" % (cfg.stop_timeout, ", ".join(
                    "%s %s" % kv for kv in sorted(bad.items()))))
            rep.lines.append("FAILED at teardown: " + rep.problems[-1])
        elif rep.exits:
            rep.lines.append("teardown: every node exited 0 within %.0f s of "
                             "SIGTERM" % cfg.stop_timeout)
        rep.ok = not rep.problems
        expected_violation = cfg.stale
        if rep.ops:
            rep.history_path = os.path.join(run_dir, "history.jsonl")
            checker.save_jsonl(rep.ops, rep.history_path)
            with open(os.path.join(run_dir, "faults.json"), "w") as f:
                json.dump({"seed": cfg.seed, "faults": rep.faults,
                           "config": {k: v for k, v in vars(cfg).items()
                                      if isinstance(v, (int, float, str,
                                                        bool, tuple, list,
                                                        type(None)))}},
                          f, indent=1)
        if (rep.ok and not cfg.keep) or (expected_violation and not
                                          cfg.keep):
            shutil.rmtree(run_dir, ignore_errors=True)
            rep.history_path = None
        else:
            rep.lines.append("history (JSON lines): %s" % rep.history_path)
            rep.lines.append("run directory (node stderr, data, faults): %s"
                             % run_dir)
        return rep

    def _execute(self, rep):
        cfg = self.cfg
        cl = self.cluster
        mode = ("%d nodes in network namespaces (partitions: %s)"
                % (cfg.nodes, cl.net.partition_method)
                if cl.net.kind == "netns" else "%d nodes on loopback"
                % cfg.nodes)
        if cl.net.kind != "netns":
            rep.partitions = cl.skip_reason
            if "partition" in cfg.faults:
                self.log("partitions SKIPPED: %s" % cl.skip_reason)
        rep.lines.append("lin run: seed %d, %s, %d clients, %d keys, %.0f s "
                         "of faults, %s reads" % (
                             cfg.seed, mode, cfg.clients, cfg.keys,
                             cfg.duration, "STALE (follower)" if cfg.stale
                             else "linearizable"))
        self.log(rep.lines[-1])
        cl.start()
        self.t0 = time.monotonic()
        end = time.monotonic() + cfg.duration
        threads = [threading.Thread(target=self.client_loop, args=(c, end),
                                    name="client-%d" % c, daemon=True)
                   for c in range(cfg.clients)]
        for t in threads:
            t.start()
        phase_start = self.now()
        try:
            self.nemesis(end)
        finally:
            # Heal before the clients' last ops finish.
            self.heal_all()
            rem = end - time.monotonic()
            if rem > 0:
                self.sleep_watching(rem)
            self.stop.set()
            join_deadline = time.monotonic() + cfg.client_timeout * (
                cfg.max_hops + 2) + 5
            for t in threads:
                t.join(max(0.1, join_deadline - time.monotonic()))
            stuck = [t.name for t in threads if t.is_alive()]
            if stuck:
                rep.problems.append("client threads did not stop: %s" % stuck)
        phase_end = self.now()
        self.settle_and_read(rep)
        with self.ops_lock:
            ops = list(self.ops)
        rep.ops = ops
        rep.faults = self.faults
        self.report_ops(rep, ops, phase_start, phase_end)
        self.check_final(rep, ops)
        t = time.monotonic()
        res = checker.check(ops, time_budget=cfg.checker_budget)
        rep.result = res
        took = time.monotonic() - t
        n_checked = sum(r.n_ops for r in res.keys.values())
        if res.valid:
            rep.lines.append("checker: LINEARIZABLE (%d keys, %d ops, %.1f s)"
                             % (len(res.keys), n_checked, took))
        elif res.valid is None:
            rep.lines.append("checker: INCONCLUSIVE after %.1f s:\n%s"
                             % (took, res.explain()))
            if not cfg.stale:
                rep.problems.append("linearizability check inconclusive")
        else:
            rep.lines.append("checker: NOT LINEARIZABLE (%.1f s):\n%s"
                             % (took, res.explain()))
            if not cfg.stale:
                rep.problems.append("history is not linearizable")
                rep.lines.append(self.node_evidence(res))
        for c in self.crashes:
            rep.problems.append("%s exited by itself (code %s) at %.2f s"
                                % (c[1], c[2], c[0]))
            rep.lines.append("stderr of %s before it exited:\n%s"
                             % (c[1], "\n".join(c[3])))
        if self.read_redirects:
            # README: "A read caught on a node that just lost the leadership
            # may get 307 to the new leader, as writes do."
            rep.lines.append("%d linearizable reads were answered 307 to the "
                             "leader (followed, as curl -L would)"
                             % len(self.read_redirects))
        rep.unexpected = sorted(set(self.unexpected))
        rep.suspicious.extend(rep.unexpected[:20])
        if self.unexpected:
            # Outside the documented answers (200, 404, 307, 503, and 504
            # for writes): e.g. a 500. A run with one fails.
            rep.problems.append("%d answers outside the HTTP contract (%d "
                                "distinct), e.g. %s"
                                % (len(self.unexpected),
                                   len(rep.unexpected),
                                   "; ".join(rep.unexpected[:5])))
            rep.lines.append("unexpected answers: %s"
                             % "; ".join(rep.unexpected[:10]))
        self.check_faults(rep)
        if rep.problems:
            rep.lines.append("FAILED: " + "; ".join(rep.problems))
        elif cfg.stale:
            rep.lines.append(
                "stale-read demonstration: %s" % (
                    "the checker found a violation, as it should"
                    if res.valid is False else "NO violation found"))
        else:
            rep.lines.append("PASSED")

    def check_faults(self, rep):
        """Every scheduled fault kind ran; every isolated leader was
        replaced by a leader in a newer term."""
        ran = {f["kind"] for f in self.faults if "end" in f}
        rep.scheduled = list(self.scheduled)
        rep.missing_kinds = [k for k in self.scheduled if k not in ran]
        if rep.missing_kinds:
            rep.problems.append("fault kinds scheduled but never run: %s"
                                % ", ".join(rep.missing_kinds))
        for f in self.faults:
            if f["kind"] != "partition-leader":
                continue
            rep.isolations.append(f)
            if f.get("leader_term") is None:
                rep.problems.append("partition-leader at %.2f s: %s was not "
                                    "the leader when cut off (no leader "
                                    "found)" % (f["start"],
                                                ",".join(f["nodes"])))
            elif f.get("new_term") is None:
                rep.problems.append(
                    "partition-leader at %.2f s: cutting off leader %s (term "
                    "%s) gave the majority no leader in a newer term within "
                    "%.0f s" % (f["start"], ",".join(f["nodes"]),
                                f["leader_term"], self.cfg.new_term_timeout))

    def heal_all(self):
        cl = self.cluster
        try:
            cl.net.heal()
        except Exception as e:
            self.log("heal: %r" % (e,))
        for nd in cl.nodes:
            if nd.paused:
                nd.resume()
        self.victims = []
        for nd in cl.nodes:
            if not nd.running():
                nd.start()

    def count_snapshots(self, rep):
        """Snapshots installed over the whole run, from every incarnation's
        log (a restart resets /status's counters), and how far each node's
        log is compacted now."""
        installed = sum(len(nd.stderr_tail(10 ** 6, "installed the snapshot "
                                                    "at index"))
                        for nd in self.cluster.nodes)
        firsts = {nd.label: (s or {}).get("first_index")
                  for nd, s in ((self.cluster.nodes[i], s) for i, s in
                                self.cluster.statuses().items())}
        rep.snapshots_installed = installed
        rep.lines.append("snapshots: %d installed (-snapshot-entries %d "
                         "-snapshot-trailing %d); first log index now %r"
                         % (installed, self.cfg.snapshot_entries,
                            self.cfg.snapshot_trailing, firsts))

    def settle_and_read(self, rep):
        """After the faults: one agreed leader, everyone caught up, then
        every key read on every node (linearizable and stale)."""
        cfg = self.cfg
        cl = self.cluster
        self.heal_all()
        deadline = time.monotonic() + cfg.settle_timeout
        agreed = None
        while time.monotonic() < deadline:
            self.notice_crashes()
            agreed = cl.agreed_leader()
            if agreed:
                break
            time.sleep(0.1)
        if not agreed:
            rep.problems.append("no agreed leader %.0f s after healing: %r"
                                % (cfg.settle_timeout, cl.brief()))
            return
        ld, ls = agreed
        commit = ls.get("commit_index", 0)
        lag = None
        while time.monotonic() < deadline:
            sts = cl.statuses()
            lag = {cl.nodes[i].label: (s or {}).get("applied_index")
                   for i, s in sts.items()}
            if all(s and s.get("applied_index", -1) >= commit
                   for s in sts.values()):
                break
            time.sleep(0.1)
        else:
            rep.problems.append("nodes did not catch up to commit index %d: "
                                "%r" % (commit, lag))
        rep.lines.append("settled: leader %s term %s, commit index %d, %.1f s "
                         "after the fault phase"
                         % (ld.label, ls.get("term"), commit,
                            time.monotonic() - (self.t0 + cfg.duration)))
        self.count_snapshots(rep)
        # Every key on every node; a round in which nodes disagree is
        # repeated (at most 3 rounds, 1 s apart) in case a write that timed
        # out committed in between. All rounds' reads go into the history.
        for rnd in range(3):
            self.final = self.final_round()
            split = [k for k in range(cfg.keys) if len(set(
                (v[0].value if v[0] is not None else "?", v[1])
                for (kk, _), v in self.final.items() if kk == "k%d" % k)) > 1]
            if not split:
                break
            self.log("final reads disagree on %s (round %d); again in 1 s"
                     % (["k%d" % k for k in split], rnd + 1))
            time.sleep(1.0)

    def final_round(self):
        cl = self.cluster
        final = {}
        for k in range(self.cfg.keys):
            key = "k%d" % k
            for nd in cl.nodes:
                lin = None
                for attempt in range(40):
                    op = self.do_read("final", nd, key, client="final")
                    if op.outcome == "ok":
                        lin = op
                        break
                    time.sleep(0.1)
                st = _exchange(cl, nd.host, nd.port, "GET",
                               "/db/%s?consistency=stale" % key, None, 3.0)
                stale = "?"
                if st[0] == "resp" and st[1] in (200, 404):
                    stale = (st[3].decode("utf-8", "replace")
                             if st[1] == 200 else None)
                final[(key, nd.label)] = (lin, stale)
        return final

    def check_final(self, rep, ops):
        final = getattr(self, "final", None)
        if final is None:
            return
        keys = ["k%d" % k for k in range(self.cfg.keys)]
        problems = final_state_problems(final, ops, keys)
        if problems:
            rep.problems.extend(problems)
            rep.lines.append("final state: PROBLEMS:\n  " +
                             "\n  ".join(problems))
        else:
            rep.lines.append("final state: %d nodes agree on %d keys "
                             "(linearizable and stale reads); every "
                             "acknowledged write survives"
                             % (self.cfg.nodes, self.cfg.keys))

    def report_ops(self, rep, ops, phase_start, phase_end):
        s = checker.summarize([o for o in ops if o.client != "final"])
        n_final = sum(1 for o in ops if o.client == "final")
        rep.summary = s
        rep.lines.append(
            "ops: %d writes (ok %d, failed %d, unknown %d), %d deletes (ok "
            "%d: %d existed, %d absent; failed %d, unknown %d), %d reads (ok "
            "%d, failed %d) + %d final reads"
            % (sum(s["write"].values()), s["write"]["ok"],
               s["write"]["failed"], s["write"]["unknown"],
               sum(s["delete"].values()), s["delete"]["ok"],
               sum(1 for o in ops if o.kind == "delete" and o.found),
               sum(1 for o in ops if o.kind == "delete"
                   and o.found is False),
               s["delete"]["failed"], s["delete"]["unknown"],
               sum(s["read"].values()), s["read"]["ok"], s["read"]["failed"],
               n_final))
        counts = {}
        for f in self.faults:
            counts[f["kind"]] = counts.get(f["kind"], 0) + 1
        rep.fault_counts = counts
        rep.lines.append("faults: %d (%s)%s" % (
            len(self.faults), ", ".join("%s %d" % kv for kv in
                                        sorted(counts.items())) or "none",
            "" if rep.partitions is None else
            "; partitions SKIPPED: %s" % rep.partitions))
        # Availability: gaps between successful writes' (and reads')
        # completions, overall and by the fault whose window they overlap.
        windows = []
        for i, f in enumerate(self.faults):
            nxt = (self.faults[i + 1]["start"] if i + 1 <
                   len(self.faults) else phase_end)
            windows.append((f["kind"], f["start"], nxt))
        kill_all_ends = [f["end"] for f in self.faults
                         if f["kind"] == "kill-all" and "end" in f]
        ops = [o for o in ops if o.client != "final" and o.outcome == "ok"]
        wtimes = sorted(o.complete for o in ops
                        if o.kind in ("write", "delete")
                        and phase_start <= o.complete <= phase_end)
        rtimes = sorted(o.complete for o in ops
                        if o.kind == "read" and not o.extra.get("stale")
                        and phase_start <= o.complete <= phase_end)
        over = []
        # (--stale runs make no linearizable reads: writes only there.)
        for what, times in (("write", wtimes),) + (
                () if self.cfg.stale else (("read", rtimes),)):
            g, by_kind = availability(times, windows, phase_start,
                                      phase_end, kill_all_ends)
            if what == "write":
                rep.gap, rep.gap_by_kind = g, by_kind
            else:
                rep.read_gap, rep.read_gap_by_kind = g, by_kind
            if g is None:
                continue
            rep.lines.append(
                "availability (%ss): longest stretch without a successful "
                "%s %.2f s (%.2f-%.2f s); by fault kind (longest gap "
                "overlapping such a fault until the next): %s"
                % (what, what, g[0], g[1], g[2], ", ".join(
                    "%s %.2f s" % kv for kv in sorted(by_kind.items()))
                   or "n/a"))
            goals, limits = [], []
            for kind, length in sorted(by_kind.items()):
                if kind == "kill-all":
                    continue  # the whole cluster was down: see recovery
                goal = 2.0 if kind.startswith("partition") else 1.0
                goals.append("%s %.2f s %s %.0f s" % (
                    kind, length, "<" if length < goal else "NOT <", goal))
                limit = self.cfg.gap_limit.get(
                    kind if kind == "kill-all-recovery"
                    else kind.split("-")[0])
                if limit is not None and length > limit:
                    limits.append("%s gap %s %.2f s > limit %.1f s"
                                  % (what, kind, length, limit))
            if goals:
                missed = [x for x in goals if "NOT" in x]
                rep.lines.append(
                    "%s availability goals (under 1 s for kills and pauses, "
                    "2 s for partitions): %s%s" % (
                        what, "met" if not missed else "MISSED",
                        "" if not missed else ": " + "; ".join(missed)))
            over.extend(limits)
        if not self.cfg.stale:  # stale runs read at cut-off followers
            rep.gaps_over_limit = over
            if over:
                rep.problems.append("availability below the bounds: %s"
                                    % "; ".join(over))

    def node_evidence(self, res):
        """Node stderr lines around a violation: warnings and errors."""
        out = ["node stderr (warnings/errors, last lines):"]
        for nd in self.cluster.nodes:
            out.extend("  " + ln for ln in nd.stderr_tail(
                lines=15, pattern=r"WARN|ERROR|error|fatal|term|leader"))
        return "\n".join(out)


def final_state_problems(final, ops, keys):
    """The final-state check. final: {(key, node label): (the linearizable
    read's Op or None, the stale read's value or "?")}, read on every node
    after the heal and catch-up; ops: the history (writes, deletes). Returns
    a list of problems: nodes that disagree, or whose stale read differs,
    and lost acknowledged writes (the final value is older than an
    acknowledged write or delete, or absent although no delete can explain
    it)."""
    muts = {}
    for o in ops:
        if o.kind in ("write", "delete") and o.client != "final":
            muts.setdefault(o.key, []).append(o)
    problems = []
    for key in keys:
        lins = {lab: v[0] for (kk, lab), v in final.items() if kk == key}
        stales = {lab: v[1] for (kk, lab), v in final.items() if kk == key}
        if not lins or any(v is None for v in lins.values()):
            problems.append("%s: no linearizable read succeeded on %s"
                            % (key, [lb for lb, v in lins.items()
                                     if v is None] or "any node"))
            continue
        vals = {lb: v.value for lb, v in lins.items()}
        if len(set(vals.values())) != 1:
            problems.append("%s: nodes disagree (linearizable reads): %r"
                            % (key, vals))
            continue
        value = next(iter(vals.values()))
        bad_stale = {lb: sv for lb, sv in stales.items() if sv != value}
        if bad_stale:
            problems.append("%s: stale reads after catch-up differ from "
                            "%r: %r" % (key, value, bad_stale))
        # Durability: the final value is not older than any acknowledged
        # write or delete (values are unique; deletes write None).
        ms = muts.get(key, [])
        oks = [m for m in ms if m.outcome == "ok"]
        if value is None:
            # Absent: some delete (or none at all) must have come last.
            dels = [m for m in ms if m.kind == "delete"
                    and m.outcome != "failed"]
            ok_writes = [m for m in oks if m.kind == "write"]
            if not ok_writes:
                continue
            last = max(ok_writes, key=lambda w: w.invoke)
            if not any(d.complete >= last.invoke for d in dels):
                problems.append("%s: LOST: absent at the end, but the "
                                "acknowledged write %s started after every "
                                "delete (%d) had completed"
                                % (key, last.describe(), len(dels)))
            continue
        w = {m.value: m for m in ms if m.kind == "write"
             and m.outcome != "failed"}.get(value)
        if w is None:
            problems.append("%s: final value %r was never written "
                            "(or only by a failed write)" % (key, value))
            continue
        newer = [o for o in oks if o is not w and w.complete < o.invoke]
        if newer:
            last = max(newer, key=lambda o: o.complete)
            problems.append("%s: LOST acknowledged write(s): final value "
                            "%r (%s) but %d acknowledged writes or deletes "
                            "started after it completed, e.g. %s"
                            % (key, value, w.describe(), len(newer),
                               last.describe()))
    return problems


def availability(times, windows, phase_start, phase_end, kill_all_ends=()):
    """Gaps between successes: times are the sorted completion times of
    successful ops in [phase_start, phase_end]; windows (kind, start, end)
    are the faults' windows (a fault's start until the next one's). Returns
    (longest gap as (length, from, to), {kind: longest gap overlapping such
    a window by more than 0.1 s}) plus, for kill-all, "kill-all-recovery":
    the longest time from the restart of every node to the next success.
    The first element is None without a phase."""
    pts = [phase_start] + list(times) + [phase_end]
    gaps = [(pts[i + 1] - pts[i], pts[i], pts[i + 1])
            for i in range(len(pts) - 1)]
    if not gaps:
        return None, {}
    by_kind = {}
    # A gap counts against a fault kind when it overlaps that fault's
    # window by more than 0.1 s: a gap that a new fault starts in its last
    # moments is the new fault's. A gap that overlaps the time every node
    # was down (a kill-all until its restart) is kill-all's alone: how soon
    # the cluster recovers is measured apart.
    downs = [(fs, e) for (kind, fs, _), e in
             zip([w for w in windows if w[0] == "kill-all"], kill_all_ends)]
    for length, a, b in gaps:
        if any(min(b, e) - max(a, fs) > 0 for fs, e in downs):
            by_kind["kill-all"] = max(by_kind.get("kill-all", 0.0), length)
            continue
        for kind, fs, fe in windows:
            if min(b, fe) - max(a, fs) > min(0.1, length / 2):
                by_kind[kind] = max(by_kind.get(kind, 0.0), length)
    recover = []
    for end in kill_all_ends:
        nxt = [t for t in times if t >= end]
        # No success after the last restart before the phase ended: the
        # time to the phase's end (a lower bound).
        recover.append((nxt[0] if nxt else phase_end) - end)
    if recover:
        by_kind["kill-all-recovery"] = max(recover)
    return max(gaps), by_kind


def run(cfg, bin_dir, log=_print_flush):
    """Runs one test; returns a Report (report.ok, report.text())."""
    r = Run(cfg, bin_dir, log=log)
    rep = r.execute()
    return rep


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin-dir", required=True)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--duration", type=float, default=45.0)
    p.add_argument("--nodes", type=int, default=3, choices=(3, 5))
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--keys", type=int, default=4)
    p.add_argument("--stale", action="store_true",
                   help="reads with ?consistency=stale at followers "
                        "(expect a violation)")
    p.add_argument("--no-netns", action="store_true",
                   help="loopback only: no partitions")
    p.add_argument("--faults", default="kill,pause,partition")
    p.add_argument("--keep", action="store_true",
                   help="keep the run directory even when the run passes")
    p.add_argument("--out-dir", default=None)
    p.add_argument("--checker-budget", type=float, default=600.0)
    p.add_argument("--think", type=float, default=0.0,
                   help="max seconds a client sleeps between ops (random)")
    a = p.parse_args(argv)
    seed = a.seed if a.seed is not None else random.randrange(1, 10 ** 6)
    cfg = Config(seed=seed, duration=a.duration, nodes=a.nodes,
                 clients=a.clients, keys=a.keys, stale=a.stale,
                 netns=not a.no_netns,
                 faults=tuple(x for x in a.faults.split(",") if x),
                 keep=a.keep, out_dir=a.out_dir,
                 checker_budget=a.checker_budget, think=a.think)
    install_cleanup_handlers()
    rep = run(cfg, a.bin_dir)
    print(rep.text())
    sys.stdout.flush()
    if cfg.stale:
        found = rep.result is not None and rep.result.valid is False
        print("stale reads: violation %s (seed %d)"
              % ("FOUND" if found else "not found", seed))
        return 0 if found else 1
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
