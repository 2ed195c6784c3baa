"""Every bad input README.md names, against real raftd processes: empty keys,
keys with '/', oversized values and headers, unknown routes, wrong methods,
malformed HTTP, bad query values, idle connections and the connection limit.
After all of it the nodes still serve and lost nothing."""

import socket
import time

import harness
from harness import raw_connect, RawReader, raw_exchange

MAX_VALUE = 1024
MAX_CONNS = 4


def _send_quietly(sock, data):
    """sendall that tolerates the server having closed already."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


class BadInput(harness.NodeTestCase):
    """One node with a small -max-value-size for the request-level cases, one
    with a short -idle-timeout and one with -max-conns 4 (separate nodes, so
    one limit never disturbs another test)."""

    @classmethod
    def setUpClass(cls):
        cls.main_ = harness.Node(label="limits",
                                 args=["-max-value-size", str(MAX_VALUE)])
        cls.idle_ = harness.Node(label="idle", args=["-idle-timeout", "300ms"])
        cls.conns_ = harness.Node(label="conns",
                                  args=["-max-conns", str(MAX_CONNS)])
        cls.class_nodes = [cls.main_, cls.idle_, cls.conns_]
        for n in cls.class_nodes:
            n.start()
        for n in cls.class_nodes:
            n.wait_leader()
        # Data written before any bad input; checked at the end.
        cls.before = {}
        for n in cls.class_nodes:
            for i in range(5):
                key, value = "before%d" % i, b"kept-%d-\x00\xff" % i
                st = n.put(key, value)
                if st[0] != 200:
                    raise AssertionError("setup write on %s: %r" % (n.label, st))
                cls.before[(n.label, key)] = value

    @property
    def n(self):
        return self.main_

    # -- keys ---------------------------------------------------------------------

    def test_empty_key_400(self):
        for method, body in (("GET", None), ("POST", b"v"), ("PUT", b"v"),
                             ("DELETE", None)):
            self.assertStatus(self.n.request(method, "/db/", body=body), 400,
                              "%s /db/" % method)

    def test_key_with_encoded_slash_400(self):
        for path in ("/db/a%2Fb", "/db/a%2fb", "/db/%2F"):
            self.assertStatus(self.n.request("POST", path, body=b"v"), 400,
                              "POST " + path)
            self.assertStatus(self.n.request("GET", path), 400, "GET " + path)
            self.assertStatus(self.n.request("DELETE", path), 400,
                              "DELETE " + path)

    # -- values -------------------------------------------------------------------

    def test_value_at_limit_accepted(self):
        value = b"v" * MAX_VALUE
        self.assertStatus(self.n.put("at_limit", value), 200)
        self.assertEqual(self.n.get("at_limit")[2], value)

    def test_value_over_limit_413_and_closed(self):
        for method in ("POST", "PUT"):
            body = b"x" * 2000
            req = (b"%s /db/too_big HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                   b"\r\n\r\n" % (method.encode(), len(body))) + body
            s = raw_connect(self.n.port)
            try:
                _send_quietly(s, req)
                reader = RawReader(s)
                r = reader.read_response()
                self.assertStatus(r, 413, method + " of 2000 bytes")
                self.assertTrue(reader.wait_eof(5.0),
                                "the connection must close after 413")
            finally:
                s.close()
        self.assertStatus(self.n.get("too_big"), 404,
                          "a refused value must not be stored")

    def test_value_one_over_limit_413(self):
        got = self.n.put("one_over", b"y" * (MAX_VALUE + 1))
        self.assertStatus(got, 413)
        self.assertStatus(self.n.get("one_over"), 404)

    # -- routes and methods -----------------------------------------------------------

    def test_unknown_route_404(self):
        for method, path in (("GET", "/"), ("GET", "/nope"), ("GET", "/db"),
                             ("POST", "/join2"), ("GET", "/status/extra"),
                             ("GET", "/dbx/a"), ("DELETE", "/")):
            got = self.n.request(method, path)
            self.assertStatus(got, 404, "%s %s" % (method, path))
            # Go's http.NotFound writes the text and one newline.
            self.assertIn(got[2], (b"404 page not found",
                                   b"404 page not found\n"),
                          "%s %s" % (method, path))

    def test_wrong_method_405_with_allow(self):
        for method in ("PATCH", "OPTIONS", "TRACE"):
            got = self.n.request(method, "/db/x")
            self.assertStatus(got, 405, method + " /db/x")
            allow = got[1].get("allow")
            self.assertIsNotNone(allow, "405 without an Allow header: %r"
                                 % (got[1],))
            allowed = {m.strip().upper() for m in allow.split(",")}
            self.assertTrue({"GET", "POST", "PUT", "DELETE"} <= allowed,
                            "Allow for /db/x: %r" % allow)
            self.assertNotIn(method, allowed)

    def test_status_wrong_method_405(self):
        for method in ("POST", "DELETE", "PUT"):
            got = self.n.request(method, "/status", body=b"")
            self.assertStatus(got, 405, method + " /status")
            allow = got[1].get("allow")
            self.assertIsNotNone(allow, "405 without an Allow header")
            self.assertIn("GET", {m.strip().upper() for m in allow.split(",")})

    def test_bad_consistency_400(self):
        self.assertStatus(self.n.put("cons", b"c"), 200)
        for q in ("consistency=bogus", "consistency=STALEX"):
            self.assertStatus(self.n.request("GET", "/db/cons?" + q), 400, q)

    # -- malformed HTTP -------------------------------------------------------------

    def _expect_400_and_close(self, data, what):
        s = raw_connect(self.n.port)
        try:
            _send_quietly(s, data)
            reader = RawReader(s)
            r = reader.read_response()
            self.assertStatus(r, 400, what)
            self.assertTrue(reader.wait_eof(5.0),
                            "%s: the connection must close after 400" % what)
        finally:
            s.close()

    def test_malformed_blah(self):
        self._expect_400_and_close(b"BLAH\r\n\r\n", "BLAH")

    def test_malformed_request_lines(self):
        cases = [
            (b"FOO BAR BAZ QUX\r\n\r\n", "unknown method"),
            (b"GET /db/x HTTP/1.1 trailing junk\r\nHost: x\r\n\r\n",
             "junk after the version"),
            (b"GET /db/x HTTP/9.Z\r\nHost: x\r\n\r\n", "bad version"),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
             "a TLS ClientHello"),
            (b"GET /status HTTP/1.1\r\nNo colon here\r\n\r\n",
             "header line without a colon"),
            (b"POST /db/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
             "non-numeric Content-Length"),
        ]
        for data, what in cases:
            with self.subTest(what=what):
                self._expect_400_and_close(data, what)

    def test_malformed_after_good_request(self):
        data = (b"GET /db/before0 HTTP/1.1\r\nHost: x\r\n\r\n"
                b"BLAH\r\n\r\n")
        resps, reader = raw_exchange(self.n.port, data, 2)
        try:
            self.assertEqual(resps[0].status, 200)
            self.assertStatus(resps[1], 400, "BLAH after a good request")
            self.assertTrue(reader.wait_eof(5.0))
        finally:
            reader.sock.close()

    def test_oversized_headers_431(self):
        big = b"a" * (17 * 1024)
        data = (b"GET /db/before0 HTTP/1.1\r\nHost: x\r\nX-Big: " + big
                + b"\r\n\r\n")
        s = raw_connect(self.n.port)
        try:
            _send_quietly(s, data)
            reader = RawReader(s)
            r = reader.read_response()
            self.assertStatus(r, 431, "17 KiB header")
        finally:
            s.close()
        # Many headers adding up to more than 16 KiB.
        many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(200))
        s = raw_connect(self.n.port)
        try:
            _send_quietly(s, b"GET /status HTTP/1.1\r\nHost: x\r\n" + many
                          + b"\r\n")
            r = RawReader(s).read_response()
            self.assertStatus(r, 431, "200 headers of 100 bytes")
        finally:
            s.close()

    def test_moderate_headers_accepted(self):
        got = self.n.request("GET", "/db/before0",
                             headers={"X-Mid": "m" * 4096})
        self.assertStatus(got, 200, "a 4 KiB header is fine")

    # -- idle timeout ---------------------------------------------------------------

    def test_idle_connection_closed(self):
        t0 = time.monotonic()
        s = raw_connect(self.idle_.port, timeout=10)
        try:
            closed = RawReader(s).wait_eof(10.0)
            elapsed = time.monotonic() - t0
        finally:
            s.close()
        self.assertTrue(closed, "an idle connection must be closed after "
                        "-idle-timeout 300ms (waited 10 s)")
        self.assertGreaterEqual(elapsed, 0.2, "closed far too early")
        self.assertLess(elapsed, 5.0)

    def test_idle_after_request_closed(self):
        s = raw_connect(self.idle_.port, timeout=10)
        try:
            s.sendall(b"GET /db/before0 HTTP/1.1\r\nHost: x\r\n\r\n")
            reader = RawReader(s)
            self.assertEqual(reader.read_response().status, 200)
            t0 = time.monotonic()
            self.assertTrue(reader.wait_eof(10.0),
                            "idle keep-alive connection must be closed")
            self.assertLess(time.monotonic() - t0, 5.0)
        finally:
            s.close()

    def test_busy_connection_not_closed(self):
        # Requests every 100 ms for about a second: never idle for 300 ms.
        s = raw_connect(self.idle_.port, timeout=10)
        try:
            reader = RawReader(s)
            for i in range(8):
                if i:
                    time.sleep(0.1)  # pacing is what is under test here
                s.sendall(b"GET /db/before0 HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(reader.read_response().status, 200,
                                 "request %d on a busy connection" % i)
        finally:
            s.close()

    # -- connection limit ---------------------------------------------------------

    def _open_counted(self, port):
        """A new connection with one request answered: (sock, reader, resp)."""
        s = raw_connect(port)
        try:
            _send_quietly(s, b"GET /db/before0 HTTP/1.1\r\nHost: x\r\n\r\n")
            r = RawReader(s)
            return s, r, r.read_response()
        except BaseException:
            s.close()
            raise

    def test_max_conns(self):
        port = self.conns_.port
        opened = []
        try:
            for i in range(MAX_CONNS):
                s, r, resp = self._open_counted(port)
                opened.append((s, r))
                self.assertStatus(resp, 200, "connection %d of %d"
                                  % (i + 1, MAX_CONNS))
            # The fifth: 503, then closed.
            s5 = raw_connect(port)
            try:
                _send_quietly(s5, b"GET /db/before0 HTTP/1.1\r\nHost: x\r\n\r\n")
                r5 = RawReader(s5)
                resp = r5.read_response()
                self.assertStatus(resp, 503, "connection %d" % (MAX_CONNS + 1))
                self.assertTrue(r5.wait_eof(5.0),
                                "the connection over the limit must close")
            finally:
                s5.close()
            # The first four still work.
            for i, (s, r) in enumerate(opened):
                s.sendall(b"GET /db/before1 HTTP/1.1\r\nHost: x\r\n\r\n")
                resp = r.read_response()
                self.assertStatus(resp, 200, "old connection %d" % (i + 1))
                self.assertEqual(resp.body, self.before[("conns", "before1")])
            # Closing one frees a slot (the server learns of the close
            # asynchronously: bounded retries).
            opened.pop(0)[0].close()
            deadline = time.monotonic() + 5.0
            last = None
            while time.monotonic() < deadline:
                try:
                    s, r, resp = self._open_counted(port)
                except (EOFError, ConnectionError, socket.timeout) as e:
                    last = e
                    time.sleep(harness.POLL_INTERVAL)
                    continue
                if resp.status == 200:
                    opened.append((s, r))
                    break
                last = resp
                s.close()
                time.sleep(harness.POLL_INTERVAL)
            else:
                self.fail("no slot freed after closing a connection: %r" % last)
        finally:
            for s, _ in opened:
                s.close()

    # -- afterwards ---------------------------------------------------------------

    def test_zz_still_serving_nothing_lost(self):
        """Runs last (unittest sorts by name)."""
        for n in self.class_nodes:
            self.assertTrue(n.running(), "%s died" % n.label)
            # Close any connection slots from the tests above first.
            deadline = time.monotonic() + 5.0
            while True:
                try:
                    got = n.request("GET", "/status")
                except (ConnectionError, socket.timeout) as e:
                    got = (0, {}, repr(e).encode())
                if got[0] == 200 or time.monotonic() > deadline:
                    break
                time.sleep(harness.POLL_INTERVAL)
            self.assertStatus(got, 200, n.label + " /status")
            for (label, key), value in self.before.items():
                if label != n.label:
                    continue
                got = n.get(key)
                self.assertStatus(got, 200, "%s %s" % (label, key))
                self.assertEqual(got[2], value)
            self.assertStatus(n.put("after_all", b"fine"), 200)
            self.assertEqual(n.get("after_all")[2], b"fine")
            self.assertEqual(n.status()["state"], "leader")


if __name__ == "__main__":
    harness.main()
