"""One raftd node on loopback: the seed's walkthrough and the HTTP API of
README.md ("HTTP API"), driven over real sockets."""

import os
import shutil

import harness
from harness import conn_request, raw_connect, RawReader


class SingleNode(harness.NodeTestCase):
    @classmethod
    def setUpClass(cls):
        cls.node_ = harness.Node(label="single")
        cls.class_nodes = [cls.node_]
        cls.node_.start_and_wait()

    @property
    def n(self):
        return self.node_

    # -- the seed's first steps -------------------------------------------------

    def test_seed_walkthrough(self):
        # curl -X POST localhost:4001/db/my_key -d 'FOO'  (curl's own headers)
        curl_headers = {"User-Agent": "curl/7.88.1", "Accept": "*/*",
                        "Content-Type": "application/x-www-form-urlencoded"}
        got = self.n.request("POST", "/db/my_key", body=b"FOO",
                             headers=curl_headers)
        self.assertStatus(got, 200, "POST /db/my_key")
        self.assertEqual(got[2], b"", "a write answers with an empty body")
        # curl localhost:4001/db/my_key  -> FOO
        got = self.n.request("GET", "/db/my_key",
                             headers={"User-Agent": "curl/7.88.1",
                                      "Accept": "*/*"})
        self.assertStatus(got, 200, "GET /db/my_key")
        self.assertEqual(got[2], b"FOO")

    def test_seed_walkthrough_with_real_curl(self):
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("curl not installed")
        base = "http://127.0.0.1:%d/db/curl_key" % self.n.port
        rc, out, err, _ = harness.run_program(
            [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X",
             "POST", base, "-d", "FOO"], timeout=15)
        self.assertEqual((rc, out), (0, b"200"), err)
        rc, out, err, _ = harness.run_program([curl, "-sS", base], timeout=15)
        self.assertEqual((rc, out), (0, b"FOO"), err)

    # -- writes, reads, deletes ---------------------------------------------------

    def test_put_also_writes(self):
        self.assertStatus(self.n.put("put_key", b"via put", method="PUT"), 200)
        got = self.n.get("put_key")
        self.assertStatus(got, 200)
        self.assertEqual(got[2], b"via put")
        # A second write replaces the value.
        self.assertStatus(self.n.put("put_key", b"again", method="PUT"), 200)
        self.assertEqual(self.n.get("put_key")[2], b"again")

    def test_delete_then_404(self):
        self.assertStatus(self.n.put("del_key", b"x"), 200)
        self.assertStatus(self.n.delete("del_key"), 200, "DELETE present key")
        got = self.n.get("del_key")
        self.assertStatus(got, 404, "GET deleted key")
        self.assertEqual(got[2], b"", "404 for a missing key has an empty body")
        got = self.n.delete("del_key")
        self.assertStatus(got, 404, "DELETE absent key")

    def test_delete_never_written_key_404(self):
        self.assertStatus(self.n.delete("never_written_del"), 404)

    def test_missing_key_404_empty_body(self):
        got = self.n.get("no_such_key")
        self.assertStatus(got, 404)
        self.assertEqual(got[2], b"")

    def test_binary_value_every_byte(self):
        value = bytes(range(256)) * 3 + b"\r\n\r\n\x00"
        self.assertStatus(self.n.put("bin", value), 200)
        got = self.n.get("bin")
        self.assertStatus(got, 200)
        self.assertEqual(got[2], value, "binary value must round-trip exactly")
        got = self.n.get("bin", stale=True)
        self.assertEqual(got[2], value, "stale read of the binary value")
        # Invalid UTF-8 alone (the seed turned it into U+FFFD).
        self.assertStatus(self.n.put("bin2", b"\xff\xfe\xc3("), 200)
        self.assertEqual(self.n.get("bin2")[2], b"\xff\xfe\xc3(")

    def test_empty_value_is_a_value(self):
        self.assertStatus(self.n.put("empty_val", b""), 200)
        got = self.n.get("empty_val")
        self.assertStatus(got, 200, "an empty value exists (not 404)")
        self.assertEqual(got[2], b"")

    def test_percent_decoded_keys(self):
        self.assertStatus(self.n.request("POST", "/db/a%20b", body=b"spaced"),
                          200)
        # The same key, spelled with other escapes.
        for path in ("/db/a%20b", "/db/%61%20%62", "/db/%61%20b"):
            got = self.n.request("GET", path)
            self.assertStatus(got, 200, path)
            self.assertEqual(got[2], b"spaced", path)
        # A key with no escapes is a different key.
        self.assertStatus(self.n.request("GET", "/db/a%2520b"), 404,
                          "'a%20b' literally is another key")
        # UTF-8 key.
        self.assertStatus(self.n.request("PUT", "/db/%C3%A9t%C3%A9",
                                         body=b"summer"), 200)
        self.assertEqual(self.n.request("GET", "/db/%c3%a9t%c3%a9")[2],
                         b"summer")
        self.assertStatus(self.n.request("DELETE", "/db/a%20b"), 200)
        self.assertStatus(self.n.request("GET", "/db/%61%20%62"), 404)

    # -- connections ------------------------------------------------------------

    def test_keep_alive(self):
        conn = self.n.connection()
        try:
            self.assertStatus(conn_request(conn, "POST", "/db/ka", b"1"), 200)
            sock = conn.sock
            self.assertIsNotNone(sock, "the server closed a keep-alive "
                                 "connection after a write")
            got = conn_request(conn, "GET", "/db/ka")
            self.assertEqual((got[0], got[2]), (200, b"1"))
            self.assertStatus(conn_request(conn, "PUT", "/db/ka", b"2"), 200)
            self.assertEqual(conn_request(conn, "GET", "/db/ka")[2], b"2")
            self.assertStatus(conn_request(conn, "GET", "/db/ka_missing"), 404)
            self.assertStatus(conn_request(conn, "DELETE", "/db/ka"), 200)
            self.assertStatus(conn_request(conn, "GET", "/db/ka"), 404)
            st = conn_request(conn, "GET", "/status")
            self.assertStatus(st, 200)
            self.assertIs(conn.sock, sock,
                          "all requests must share one connection")
        finally:
            conn.close()

    def test_pipelined_reads_in_order(self):
        for i in range(3):
            self.assertStatus(self.n.put("pipe%d" % i, b"value-%d" % i), 200)
        req = b"".join(b"GET /db/pipe%d HTTP/1.1\r\nHost: x\r\n\r\n" % i
                       for i in range(3))
        resps, reader = harness.raw_exchange(self.n.port, req, 3)
        reader.sock.close()
        self.assertEqual([(r.status, r.body) for r in resps],
                         [(200, b"value-%d" % i) for i in range(3)])

    def test_pipelined_mixed_in_order(self):
        self.assertStatus(self.n.put("pipe_base", b"base"), 200)
        req = (b"POST /db/pipe_w1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
               b"\r\nw1"
               b"GET /db/pipe_nothing HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /db/pipe_base HTTP/1.1\r\nHost: x\r\n\r\n"
               b"PUT /db/pipe_w2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
               b"\r\nw2"
               b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        resps, reader = harness.raw_exchange(self.n.port, req, 5)
        reader.sock.close()
        self.assertEqual([r.status for r in resps], [200, 404, 200, 200, 200])
        self.assertEqual(resps[2].body, b"base")
        self.assertIn(b'"state"', resps[4].body)
        self.assertEqual(self.n.get("pipe_w1")[2], b"w1")
        self.assertEqual(self.n.get("pipe_w2")[2], b"w2")

    def test_many_pipelined_requests(self):
        conn = self.n.connection()
        try:
            for i in range(20):
                conn_request(conn, "POST", "/db/many%d" % i, b"m%d" % i)
        finally:
            conn.close()
        req = b"".join(b"GET /db/many%d HTTP/1.1\r\nHost: x\r\n\r\n" % i
                       for i in range(20))
        resps, reader = harness.raw_exchange(self.n.port, req, 20, timeout=10)
        reader.sock.close()
        self.assertEqual([(r.status, r.body) for r in resps],
                         [(200, b"m%d" % i) for i in range(20)])

    def test_connection_close_honoured(self):
        s = raw_connect(self.n.port)
        try:
            s.sendall(b"GET /db/my_key HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            reader = RawReader(s)
            reader.read_response()
            self.assertTrue(reader.wait_eof(5.0),
                            "Connection: close must close after the response")
        finally:
            s.close()

    def test_http10_closes(self):
        self.assertStatus(self.n.put("h10", b"ten"), 200)
        s = raw_connect(self.n.port)
        try:
            s.sendall(b"GET /db/h10 HTTP/1.0\r\n\r\n")
            reader = RawReader(s)
            r = reader.read_response()
            self.assertEqual((r.status, r.body), (200, b"ten"))
            self.assertTrue(reader.wait_eof(5.0),
                            "an HTTP/1.0 request without keep-alive closes")
        finally:
            s.close()

    # -- what curl sends for larger bodies ------------------------------------------

    def test_expect_100_continue(self):
        body = bytes(range(256)) * 8  # 2 KiB: curl asks before sending
        s = raw_connect(self.n.port)
        try:
            s.sendall(b"POST /db/expect HTTP/1.1\r\nHost: x\r\nContent-Length: "
                      b"%d\r\nExpect: 100-continue\r\n\r\n" % len(body))
            reader = RawReader(s)
            r = reader.read_response()
            self.assertEqual(r.status, 100, "Expect: 100-continue")
            s.sendall(body)
            r = reader.read_response()
            self.assertStatus(r, 200, "POST after 100 Continue")
        finally:
            s.close()
        self.assertEqual(self.n.get("expect")[2], body)

    def test_chunked_request_body(self):
        s = raw_connect(self.n.port)
        try:
            s.sendall(b"PUT /db/chunked HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
            r = RawReader(s).read_response()
            self.assertStatus(r, 200, "chunked PUT")
        finally:
            s.close()
        self.assertEqual(self.n.get("chunked")[2], b"hello, world")

    def test_real_curl_binary_file(self):
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("curl not installed")
        d = harness.make_tmp_dir()
        src = os.path.join(d, "value.bin")
        value = bytes(range(256)) * 20
        with open(src, "wb") as f:
            f.write(value)
        url = "http://127.0.0.1:%d/db/curl_bin" % self.n.port
        rc, out, err, _ = harness.run_program(
            [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}",
             "--data-binary", "@" + src, url], timeout=15)
        self.assertEqual((rc, out), (0, b"200"), err)
        rc, out, err, _ = harness.run_program([curl, "-sS", url], timeout=15)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, value)
        rc, out, err, _ = harness.run_program(
            [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X",
             "DELETE", url], timeout=15)
        self.assertEqual((rc, out), (0, b"200"), err)

    # -- /status ----------------------------------------------------------------

    def test_status(self):
        st = self.n.status()
        for field in ("name", "state", "term", "leader", "commit_index",
                      "applied_index", "members"):
            self.assertIn(field, st, "/status lacks %r: %r" % (field, st))
        self.assertRegex(st["name"], r"^[0-9a-f]{7}$")
        with open(os.path.join(self.n.data_dir, "name"), "rb") as f:
            self.assertEqual(f.read(), st["name"].encode(),
                             "/status name must equal DATA/name")
        self.assertEqual(st["state"], "leader")
        self.assertIsInstance(st["term"], int)
        self.assertGreaterEqual(st["term"], 1)
        self.assertIn(st["leader"], (st["name"], "127.0.0.1:%d" % self.n.port),
                      "a single node leads itself")
        self.assertIsInstance(st["members"], list)
        self.assertIn(st["name"], harness.member_names(st),
                      "members must list this node: %r" % st["members"])
        self.assertLessEqual(st["applied_index"], st["commit_index"])

    def test_status_indexes_grow_after_write(self):
        before = self.n.status()
        self.assertStatus(self.n.put("grow", b"g"), 200)
        after = self.n.status()
        self.assertGreater(after["commit_index"], before["commit_index"])
        self.assertGreater(after["applied_index"], before["applied_index"])
        # The write was acknowledged after apply: applied covers it at once.
        self.assertGreaterEqual(after["applied_index"],
                                before["commit_index"] + 1)

    # -- stale reads ----------------------------------------------------------------

    def test_stale_read(self):
        self.assertStatus(self.n.put("stale_key", b"S"), 200)
        got = self.n.get("stale_key", stale=True)
        self.assertStatus(got, 200)
        self.assertEqual(got[2], b"S")
        got = self.n.get("stale_missing", stale=True)
        self.assertStatus(got, 404)
        self.assertEqual(got[2], b"")


if __name__ == "__main__":
    harness.main()
