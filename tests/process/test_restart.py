"""Durability across restarts of one raftd node: kill -9 and SIGTERM, on the
same data directory with no -join. Every acknowledged write and delete must be
there afterwards, exactly, and the node must keep serving."""

import random
import signal
import threading
import time

import harness
from harness import conn_request


class Restart(harness.NodeTestCase):
    def setUp(self):
        super().setUp()
        self.rng = random.Random(0x5eed)

    def _value(self, i):
        n = self.rng.randint(0, 300)
        return bytes(self.rng.randrange(256) for _ in range(n)) + b"#%d" % i

    def _write_all(self, node, model, puts, deletes=()):
        """Writes puts {key: value} and deletes keys on one keep-alive
        connection, updating model (key -> value or None)."""
        conn = node.connection()
        try:
            for key, value in puts.items():
                got = conn_request(conn, "POST", "/db/" + key, value)
                self.assertStatus(got, 200, "POST " + key)
                model[key] = value
            for key in deletes:
                got = conn_request(conn, "DELETE", "/db/" + key)
                self.assertStatus(got, 200, "DELETE " + key)
                model[key] = None
        finally:
            conn.close()

    def _verify(self, node, model, stale=False):
        conn = node.connection()
        suffix = "?consistency=stale" if stale else ""
        try:
            for key, value in sorted(model.items()):
                st, _, body = conn_request(conn, "GET", "/db/" + key + suffix)
                if value is None:
                    self.assertEqual((st, body), (404, b""),
                                     "deleted key %s came back" % key)
                else:
                    self.assertEqual(st, 200, "key %s lost" % key)
                    self.assertEqual(body, value, "key %s changed" % key)
        finally:
            conn.close()

    def _restart_and_check(self, node, model, before):
        node.start()
        st = node.wait_leader()
        self.assertEqual(st["name"], before["name"])
        self.assertGreaterEqual(st["applied_index"], before["applied_index"],
                                "applied index went back after a restart")
        self.assertGreater(st["term"], before["term"],
                           "a restart must elect in a newer term (the term "
                           "is durable)")
        self._verify(node, model, stale=True)
        self._verify(node, model)
        st = node.status()
        self.assertGreaterEqual(st["commit_index"], before["commit_index"])
        self.assertGreaterEqual(st["applied_index"], before["applied_index"])
        return st

    def test_kill9_restart_200_keys(self):
        n = self.node(label="kill9")
        n.start_and_wait()
        model = {}
        self._write_all(n, model,
                        {"key%03d" % i: self._value(i) for i in range(200)})
        # Overwrite some, delete some.
        self._write_all(n, model,
                        {"key%03d" % i: b"second-%d" % i for i in range(10, 20)},
                        deletes=["key%03d" % i for i in range(0, 10)]
                        + ["key199"])
        before = n.status()
        rc = n.kill9()
        self.assertEqual(rc, -signal.SIGKILL)
        self._restart_and_check(n, model, before)
        # Writes after the restart work, and so do deletes.
        self._write_all(n, model, {"key000": b"reborn", "new": b"n"},
                        deletes=["key050"])
        self._verify(n, model)

    def test_kill9_three_times(self):
        n = self.node(label="kill9x3")
        n.start_and_wait()
        model = {}
        for round_ in range(3):
            puts = {"r%d_k%02d" % (round_, i): self._value(i) for i in range(25)}
            deletes = ["r%d_k00" % round_]
            if round_:
                deletes.append("r%d_k01" % (round_ - 1))
                puts["r%d_k02" % (round_ - 1)] = b"updated in round %d" % round_
            self._write_all(n, model, puts, deletes)
            before = n.status()
            self.assertEqual(n.kill9(), -signal.SIGKILL)
            self._restart_and_check(n, model, before)
        self._write_all(n, model, {"final": b"ok"})
        self._verify(n, model)

    def test_sigterm_clean_then_restart(self):
        n = self.node(label="sigterm")
        n.start_and_wait()
        model = {}
        self._write_all(n, model, {"t%02d" % i: self._value(i)
                                   for i in range(30)}, deletes=["t05"])
        before = n.status()
        rc, killed = n.stop(signal.SIGTERM)
        self.assertFalse(killed, "SIGTERM did not stop raftd within %.0f s"
                         % harness.STOP_TIMEOUT)
        self.assertEqual(rc, 0, "SIGTERM must exit 0\n" + n.diagnostics())
        self._restart_and_check(n, model, before)
        self._write_all(n, model, {"after": b"sigterm"})
        self._verify(n, model)
        # And once more with SIGINT (Ctrl-C).
        rc, killed = n.stop(signal.SIGINT)
        self.assertFalse(killed, "SIGINT did not stop raftd")
        self.assertEqual(rc, 0)
        n.start()
        n.wait_leader()
        self._verify(n, model)

    def test_kill9_during_writes_keeps_acknowledged(self):
        """Writes stream in; kill -9 lands in the middle. Every write that was
        acknowledged (200) must survive; the one in flight may or may not."""
        n = self.node(label="kill9-midway")
        n.start_and_wait()
        acked = {}
        in_flight = []
        enough = threading.Event()
        done = threading.Event()
        errors = []

        def writer():
            conn = n.connection(timeout=10)
            try:
                deadline = time.monotonic() + 20
                for i in range(5000):
                    if time.monotonic() > deadline:
                        break
                    key, value = "w%04d" % i, b"v%04d" % i
                    in_flight[:] = [key]
                    try:
                        st, _, _ = conn_request(conn, "PUT", "/db/" + key,
                                                value)
                    except Exception:  # the node died under us: expected
                        break
                    if st != 200:
                        errors.append((key, st))
                        break
                    acked[key] = value
                    in_flight[:] = []
                    if len(acked) >= 60:
                        enough.set()
            finally:
                conn.close()
                enough.set()
                done.set()

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        self.assertTrue(enough.wait(30), "writer stuck")
        self.assertFalse(errors, "write refused before the crash: %r" % errors)
        n.kill9()
        self.assertTrue(done.wait(15), "writer did not notice the crash")
        t.join(5)
        self.assertGreaterEqual(len(acked), 60)
        n.start()
        n.wait_leader()
        self._verify(n, dict(acked))
        self.assertStatus(n.put("after_crash", b"x"), 200)


if __name__ == "__main__":
    harness.main()
