"""raftctl against a real raftd over its CAF peer port (README.md, "CAF
remote-actor clients"): exit 0 on success, 1 when the key is absent or the
node refuses, 2 on a usage error or when the node cannot be reached."""

import socket

import harness
from harness import raftctl

MAX_VALUE = 4096
UNREACHABLE_LIMIT = 6.0  # seconds: "exit 2 within a few seconds"


class Raftctl(harness.NodeTestCase):
    @classmethod
    def setUpClass(cls):
        cls.node_ = harness.Node(label="ctl",
                                 args=["-max-value-size", str(MAX_VALUE)])
        cls.class_nodes = [cls.node_]
        cls.node_.start_and_wait()

    @property
    def n(self):
        return self.node_

    def ctl(self, *args, input=None):
        return raftctl(self.n.raft_port, *args, input=input)

    def assertCtl(self, result, rc, what):
        got_rc, out, err, _ = result
        self.assertEqual(got_rc, rc, "%s: exit %d, want %d\nstdout: %r\n"
                         "stderr: %r" % (what, got_rc, rc, out, err))

    # -- the README's walkthrough ---------------------------------------------

    def test_set_get_del(self):
        self.assertCtl(self.ctl("set", "foo", "bar"), 0, "set foo bar")
        r = self.ctl("get", "foo")
        self.assertCtl(r, 0, "get foo")
        self.assertEqual(r[1], b"bar", "get prints the value, exactly")
        r = self.ctl("get", "foo", "-stale")
        self.assertCtl(r, 0, "get foo -stale")
        self.assertEqual(r[1], b"bar")
        got = self.n.get("foo")
        self.assertEqual((got[0], got[2]), (200, b"bar"),
                         "raftctl's write is visible over HTTP")
        self.assertCtl(self.ctl("del", "foo"), 0, "del foo")
        r = self.ctl("get", "foo")
        self.assertCtl(r, 1, "get of a deleted key")
        self.assertTrue(r[2].strip(), "an absent key prints an error")
        self.assertEqual(r[1], b"", "nothing on stdout for an absent key")
        self.assertCtl(self.ctl("get", "foo", "-stale"), 1, "get -stale absent")
        self.assertCtl(self.ctl("del", "foo"), 1, "del of an absent key")
        self.assertStatus(self.n.get("foo"), 404)

    def test_status(self):
        r = self.ctl("status")
        self.assertCtl(r, 0, "status")
        name = self.n.status()["name"]
        self.assertIn(name.encode(), r[1], "status shows the node's name")
        self.assertIn(b"leader", r[1])

    # -- values ---------------------------------------------------------------------

    def test_value_from_stdin_binary(self):
        value = bytes(range(256)) + b"\n\x00tail"
        self.assertCtl(self.ctl("set", "stdin_key", "-", input=value), 0,
                       "set stdin_key -")
        got = self.n.get("stdin_key")
        self.assertEqual((got[0], got[2]), (200, value),
                         "stdin value must reach HTTP exactly")
        r = self.ctl("get", "stdin_key")
        self.assertCtl(r, 0, "get stdin_key")
        self.assertEqual(r[1], value)

    def test_http_value_readable_by_raftctl(self):
        value = b"\xff\xfe from http \x00\r\n"
        self.assertStatus(self.n.put("from_http", value), 200)
        for extra in ((), ("-stale",)):
            r = self.ctl("get", "from_http", *extra)
            self.assertCtl(r, 0, "get from_http %s" % " ".join(extra))
            self.assertEqual(r[1], value)
        # HTTP keys are percent-decoded: /db/a%20b is the key "a b".
        self.assertStatus(self.n.request("PUT", "/db/a%20b", body=b"sp"), 200)
        r = self.ctl("get", "a b")
        self.assertCtl(r, 0, "get 'a b'")
        self.assertEqual(r[1], b"sp")
        self.assertCtl(self.ctl("del", "a b"), 0, "del 'a b'")
        self.assertStatus(self.n.request("GET", "/db/a%20b"), 404)

    def test_empty_value(self):
        self.assertCtl(self.ctl("set", "empty", ""), 0, "set empty ''")
        got = self.n.get("empty")
        self.assertEqual((got[0], got[2]), (200, b""))
        r = self.ctl("get", "empty")
        self.assertCtl(r, 0, "get empty")
        self.assertEqual(r[1], b"")

    def test_value_too_large_refused(self):
        r = self.ctl("set", "huge", "-", input=b"h" * (MAX_VALUE + 1000))
        self.assertCtl(r, 1, "set over -max-value-size")
        self.assertTrue(r[2].strip(), "the refusal is printed")
        self.assertStatus(self.n.get("huge"), 404)

    # -- errors ----------------------------------------------------------------------

    def test_unreachable_node(self):
        port = harness.closed_port()
        r = raftctl(port, "get", "foo", timeout=20)
        self.assertCtl(r, 2, "raftctl against a closed port")
        self.assertTrue(r[2].strip(), "a clear error on stderr")
        self.assertLess(r[3], UNREACHABLE_LIMIT,
                        "took %.1f s to give up" % r[3])
        r = raftctl(port, "status", timeout=20)
        self.assertCtl(r, 2, "status against a closed port")

    def test_hung_node(self):
        """A peer that accepts TCP and then says nothing must not hang
        raftctl forever (README: bounded waits instead of hangs)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            port = s.getsockname()[1]
            r = raftctl(port, "get", "foo", timeout=30)
            self.assertCtl(r, 2, "raftctl against a silent peer")
            self.assertLess(r[3], 20.0, "took %.1f s" % r[3])
        finally:
            s.close()

    def test_usage_errors(self):
        cases = [
            (),  # no command at all
            ("frobnicate",),
            ("get",),
            ("set", "onlykey"),
            ("del",),
            ("get", "foo", "-bogus"),
            ("set", "a", "b", "c"),
        ]
        for args in cases:
            with self.subTest(args=args):
                r = self.ctl(*args)
                self.assertCtl(r, 2, "raftctl %s" % " ".join(args))
                self.assertTrue(r[2].strip(), "usage errors print something")

    def test_bad_connect_address(self):
        # The last one overflows unsigned long: std::stoul threw and raftctl
        # died in terminate() (SIGABRT) instead of a usage error.
        for addr in ("nohostport", "127.0.0.1:notaport", "127.0.0.1:70000",
                     "127.0.0.1:0", ":5001",
                     "127.0.0.1:" + "9" * 25):
            with self.subTest(addr=addr):
                r = harness.run_program([harness.bin_path("raftctl"), "-c",
                                         addr, "status"], timeout=20)
                self.assertCtl(r, 2, "raftctl -c " + addr)
                self.assertIn(b"for flag -c: ", r[2].split(b"\n")[0],
                              "a one-line usage error that says why")

    def test_default_peer_port(self):
        """Without -raft-port the peer port is the HTTP port + 1000."""
        n = self.node(label="default-raft-port", port_flag_style="http-only")
        n.start_and_wait()
        r = raftctl(n.port + 1000, "set", "dk", "dv")
        self.assertCtl(r, 0, "set via the default peer port")
        self.assertEqual(n.get("dk")[2], b"dv")


if __name__ == "__main__":
    harness.main()
