"""Partitions really cut traffic: the network namespaces and tc filters that
the linearizability test (tests/lin/cluster.py) partitions nodes with are
checked here on their own, so that a filter that drops nothing cannot pass
for a partition.

  * Plain TCP between namespaces: a connection across a partition times out
    (silently dropped, not refused), one within a side and one from the
    clients' (root) namespace still succeed, and after the heal the cut one
    succeeds again. The same for a single blocked pair.
  * raftd: with its leader cut off, the majority elects a leader in a newer
    term, a write sent to the old leader is not acknowledged, and after the
    heal the old leader follows the new one and a write through it lands.

Needs root and iproute2 (network namespaces); otherwise the test is SKIPPED
(exit 77, CTest's SKIP_RETURN_CODE), never passed. A missing raftd fails.

Run as: python3 tests/process/test_partition.py --bin-dir build"""

import atexit
import os
import subprocess
import sys
import tempfile
import shutil
import threading
import time
import unittest
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from lin import driver, runner  # noqa: E402
from lin.cluster import (Cluster, Namespaces, NetUnavailable,  # noqa: E402
                         _child_setup)

PORT = 4999  # inside our own namespaces only
CONNECT_TIMEOUT = 1.0  # s: a connection within the test subnet takes < 1 ms

LISTENER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
print("ready", flush=True)
s.settimeout(120)  # bounded: the test stops us long before
while True:
    c, _ = s.accept()
    c.sendall(b"ok")
    c.close()
"""

CLIENT = r"""
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])),
                                 timeout=float(sys.argv[3]))
    c.settimeout(float(sys.argv[3]))
    print("ok" if c.recv(2) == b"ok" else "bad answer")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error %s" % e.__class__.__name__)
"""


def namespaces(n):
    """Set-up Namespaces, or SkipTest saying why they cannot be made."""
    net = Namespaces(n)
    try:
        net.setup()
    except NetUnavailable as e:
        raise unittest.SkipTest("network namespaces unavailable: %s" % e)
    atexit.register(net.teardown)
    if net.partition_method != "tc":
        net.teardown()
        raise unittest.SkipTest("tc cannot drop packets here (partitions "
                                "use: %s)" % net.partition_method)
    return net


class Network(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = namespaces(3)
        cls.listeners = []
        for i in range(3):
            p = subprocess.Popen(
                cls.net.wrap(i, [sys.executable, "-c", LISTENER,
                                 cls.net.host(i), str(PORT)]),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, preexec_fn=_child_setup)
            cls.listeners.append(p)
            line = p.stdout.readline()  # the listener is up (an event)
            if not line.startswith(b"ready"):
                raise AssertionError("listener in namespace %d: %r"
                                     % (i, line + p.stdout.read(300)))

    @classmethod
    def tearDownClass(cls):
        for p in cls.listeners:
            if p.poll() is None:
                p.kill()  # our own child, by PID
            p.wait(timeout=10)
            p.stdout.close()
        cls.net.teardown()

    def connect(self, src, dst):
        """Connects from node src's namespace (None: the root namespace,
        where the clients are) to node dst's listener: "ok", "timeout" or
        "error ..."."""
        argv = [sys.executable, "-c", CLIENT, self.net.host(dst), str(PORT),
                str(CONNECT_TIMEOUT)]
        if src is not None:
            argv = self.net.wrap(src, argv)
        out = subprocess.run(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=20)
        return out.stdout.decode("utf-8", "replace").strip()

    def assertReach(self, pairs, expect):
        got = {(s, d): self.connect(s, d) for s, d in pairs}
        self.assertEqual(got, {p: expect for p in pairs})

    def test_1_connected_before(self):
        self.assertReach([(0, 1), (1, 0), (0, 2), (2, 1), (None, 0)], "ok")

    def test_2_partition_drops_across_and_heals(self):
        self.net.partition([[0], [1, 2]])
        try:
            # Across the cut, both ways: silence (a timeout, not a refusal).
            t = time.monotonic()
            self.assertReach([(0, 1), (1, 0), (2, 0), (0, 2)], "timeout")
            self.assertGreaterEqual(time.monotonic() - t,
                                    4 * CONNECT_TIMEOUT * 0.9)
            # Within a side, and from the clients' namespace: untouched.
            self.assertReach([(1, 2), (2, 1), (None, 0), (None, 1)], "ok")
        finally:
            self.net.heal()
        self.assertReach([(0, 1), (1, 0), (2, 0), (0, 2)], "ok")

    def test_3_block_one_pair(self):
        self.net.block({(0, 1)})
        try:
            self.assertReach([(0, 1), (1, 0)], "timeout")
            self.assertReach([(0, 2), (2, 0), (1, 2), (2, 1)], "ok")
        finally:
            self.net.heal()
        self.assertReach([(0, 1), (1, 0)], "ok")


class Raftd(unittest.TestCase):
    def new_cluster(self, args):
        """A 3-node Cluster in namespaces (not started), torn down at the
        end; SkipTest without tc partitions, a failure without raftd."""
        d = runner.BIN_DIR
        raftd = os.path.join(d or "", "raftd")
        if not d or not os.access(raftd, os.X_OK):
            raise AssertionError("no executable raftd in --bin-dir %r" % d)
        run_dir = tempfile.mkdtemp(prefix="raftd-partition-")
        self.addCleanup(shutil.rmtree, run_dir, True)
        cl = Cluster(raftd, 3, run_dir, args)
        driver._active.append(cl)
        if cl.net.kind != "netns" or cl.net.partition_method != "tc":
            self.end_cluster(cl)
            raise unittest.SkipTest("no tc partitions: %s"
                                    % (cl.skip_reason or
                                       cl.net.partition_method))
        return cl

    def end_cluster(self, cl):
        exits = cl.teardown()
        driver._active.remove(cl)
        return exits

    def test_follower_reads_go_to_the_new_leader(self):
        """Thesis §6.4 across a cut: followers whose leader is cut off ask
        the next leader for their reads' index; patient clients (10 s) on
        each follower get their first 200 well within 1 s of the cut, and no
        read waits out the 5 s write timeout."""
        cl = self.new_cluster([])
        exits = None
        try:
            cl.start()
            old, _ = cl.agreed_leader()
            rest = [nd for nd in cl.nodes if nd is not old]
            st, _, body = cl.http(old.host, old.port, "POST", "/db/k",
                                  body=b"v", timeout=5.0)
            self.assertEqual(st, 200, body)
            results = {nd.label: [] for nd in rest}

            def reader(nd, t_cut, out):
                while time.monotonic() - t_cut < 3.0:  # bounded: 3 s
                    t0 = time.monotonic()
                    try:
                        st = cl.http(nd.host, nd.port, "GET", "/db/k",
                                     timeout=10.0)[0]
                    except OSError as e:
                        st = repr(e)
                    t1 = time.monotonic()
                    out.append((t0 - t_cut, t1 - t_cut, st))
                    time.sleep(max(0.0, 0.05 - (t1 - t0)))  # pacing
            t_cut = time.monotonic()
            cl.net.partition([[old.i], [nd.i for nd in rest]])
            try:
                threads = [threading.Thread(target=reader, daemon=True,
                                            args=(nd, t_cut,
                                                  results[nd.label]))
                           for nd in rest]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join(20.0)
                    self.assertFalse(th.is_alive(), "a reader hung")
            finally:
                cl.net.heal()
            for label, rs in results.items():
                oks = [r for r in rs if r[2] == 200]
                self.assertTrue(oks, "%s: no read answered 200: %r"
                                % (label, rs))
                slowest = max(r[1] - r[0] for r in rs)
                print("    [partition] %s: first 200 read %.3f s after the "
                      "cut, slowest read %.3f s, %d reads"
                      % (label, oks[0][1], slowest, len(rs)), flush=True)
                self.assertLess(oks[0][1], 1.0, label)
                self.assertLess(slowest, 2.5, label)
                for r in rs:
                    self.assertIn(r[2], (200, 503), "%s: %r" % (label, r))
        finally:
            exits = self.end_cluster(cl)
        self.assertEqual(set(exits.values()), {0}, exits)

    def test_cut_off_leader_is_replaced(self):
        cl = self.new_cluster(["-write-timeout", "500ms"])
        exits = None
        try:
            cl.start()
            old, st = cl.agreed_leader()
            term = st["term"]
            rest = [nd for nd in cl.nodes if nd is not old]
            cl.net.partition([[old.i], [nd.i for nd in rest]])
            try:
                new = {}

                def elected():
                    for nd in rest:
                        s = nd.status(0.5)
                        if s and s.get("state") == "leader" and \
                                s.get("term", 0) > term:
                            new["node"], new["term"] = nd, s["term"]
                            return True
                    return False
                cl.wait(elected, 10.0, "a leader in a newer term among %s"
                        % [nd.label for nd in rest])
                # The old leader cannot commit: its write is not acknowledged
                # (504 after -write-timeout, or 503/307 once it steps down).
                st, _, body = cl.http(old.host, old.port, "POST", "/db/cut",
                                      body=b"lost", timeout=5.0)
                self.assertIn(st, (503, 504, 307), body)
                # The majority does not have it.
                st, _, body = cl.http(new["node"].host, new["node"].port,
                                      "GET", "/db/cut", timeout=5.0)
                self.assertEqual(st, 404, body)
            finally:
                cl.net.heal()
            # After the heal the old leader follows the new one (a term at
            # least as new), and a write through it lands everywhere.
            cl.wait(lambda: (cl.agreed_leader() or (None, {}))[1].get(
                "term", 0) >= new["term"], 15.0, "one agreed leader")
            st, hdrs, body = cl.http(old.host, old.port, "POST", "/db/cut",
                                     body=b"healed", timeout=5.0)
            if st == 307:  # the old leader is a follower now
                u = urlsplit(hdrs["location"])
                st, _, body = cl.http(u.hostname, u.port, "POST", u.path,
                                      body=b"healed", timeout=5.0)
            self.assertEqual(st, 200, body)
            for nd in cl.nodes:
                st, _, body = cl.http(nd.host, nd.port, "GET", "/db/cut",
                                      timeout=5.0)
                self.assertEqual((st, body), (200, b"healed"), nd.label)
        finally:
            exits = self.end_cluster(cl)
        self.assertEqual(set(exits.values()), {0}, exits)


if __name__ == "__main__":
    driver.install_cleanup_handlers()
    sys.exit(runner.main())
