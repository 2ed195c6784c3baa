"""Backup and restore with real raftd processes (README "Backup and
restore"): `GET /snapshot` from a follower and `raftctl snapshot save` from
the leader of a 3-node cluster that compacts often (-snapshot-entries 100
-snapshot-trailing 20) and takes writes meanwhile; each file restored with
`raftd -restore` into a new directory gives a one-member cluster holding
exactly the source's state at the snapshot's index, which a fresh node can
then -join. A truncated or damaged file, or a non-empty directory, is
refused with nothing written.

How "exactly the state at the snapshot's index" is checked without knowing
each write's log index: before the snapshot, a stable key set (binary keys
and values, some deleted) is written and applied on the node that serves
the snapshot, so the snapshot must hold it exactly. During the snapshot a
background writer overwrites a separate churn key set, one acknowledged
write at a time, round robin: the commit order is the writer's order, so the
snapshot at any index holds, for each churn key, its last value among the
first k writes, for one k. The check finds the k the restored values imply
and verifies that no churn key contradicts it (a torn, non-point-in-time
snapshot would).

Every wait polls /status or the data with a deadline (harness.poll_until)."""

import os
import struct
import threading
import time

import harness
from harness import conn_request, pct, poll_until, status_or_none

SNAP = ["-snapshot-entries", "100", "-snapshot-trailing", "20"]
STABLE_KEYS = 300
CHURN_KEYS = 20
BIG_KEYS = 40
BIG_VALUE = 100 * 1024
WRITER_MAX_WRITES = 4000
WRITER_MAX_SECONDS = 30.0


def log(msg):
    print("    [backup] " + msg, flush=True)


def stable_key(i):
    # Binary-safe keys: a control byte, a space, UTF-8 (no '/').
    return "s%04d \x01\u00e9" % i


def stable_value(i):
    return bytes([i % 256, 0, 255]) + b"v%d\r\n" % i


def churn_key(i):
    return "c%02d" % i


def read_varint(data, pos):
    x, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        x |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return x, pos


def parse_snapshot(data):
    """The header and pairs of a snapshot file (storage/snapshot_file.hpp),
    read independently of the C++ reader."""
    assert data[:8] == b"raftdsnp", data[:16]
    assert data[8] == 1
    index, term, config_index = struct.unpack(">QQQ", data[9:33])
    n, pos = read_varint(data, 33)
    pos += n
    pairs = {}
    while data[pos:pos + 1] == b"p":
        n, pos = read_varint(data, pos + 1)
        k = data[pos:pos + n]
        pos += n
        n, pos = read_varint(data, pos)
        pairs[k] = data[pos:pos + n]
        pos += n
    assert data[pos:pos + 1] == b"e"
    count = struct.unpack(">Q", data[pos + 1:pos + 9])[0]
    assert pos + 25 == len(data), (pos, len(data))
    assert count == len(pairs)
    return {"index": index, "term": term, "config_index": config_index,
            "pairs": pairs}


class Writer(threading.Thread):
    """Overwrites the churn keys round robin through the leader, one
    acknowledged write at a time, until stopped (bounded in count and
    time). `writes` is the sequence acknowledged, in order."""

    def __init__(self, node):
        super().__init__(daemon=True)
        self.node = node
        self.writes = []
        self.error = None
        self.stop_event = threading.Event()

    def run(self):
        conn = self.node.connection()
        t0 = time.monotonic()
        try:
            n = 0
            while (not self.stop_event.is_set() and n < WRITER_MAX_WRITES
                   and time.monotonic() - t0 < WRITER_MAX_SECONDS):
                key = churn_key(n % CHURN_KEYS)
                value = b"w%d" % n
                st, _, body = conn_request(conn, "POST", "/db/" + key, value)
                if st != 200:
                    self.error = "POST %s -> %d %r" % (key, st, body[:80])
                    return
                self.writes.append((key, value))
                n += 1
        except Exception as e:  # reported by the test
            self.error = repr(e)
        finally:
            conn.close()

    def stop(self):
        self.stop_event.set()
        self.join(WRITER_MAX_SECONDS + 10)


class Backup(harness.NodeTestCase):
    @classmethod
    def setUpClass(cls):
        """One source cluster, two snapshot files, shared by the tests."""
        cls.class_nodes = []
        cls.tmp = harness.make_tmp_dir("raftd-backup-")
        cl = harness.Cluster(args=SNAP, owner=cls.class_nodes, label="src")
        cl.start(3)
        cls.src = cl
        lead, _ = cl.leader()
        conn = lead.connection()
        cls.stable = {}
        try:
            for i in range(STABLE_KEYS):
                st, _, body = conn_request(conn, "POST",
                                           "/db/" + pct(stable_key(i)),
                                           stable_value(i))
                assert st == 200, (st, body)
                cls.stable[stable_key(i)] = stable_value(i)
            # Big values: the snapshot spans several 1 MiB chunks, so the
            # stream's backpressure and chunk order are exercised.
            for i in range(BIG_KEYS):
                key, value = "big%02d" % i, bytes([i]) * BIG_VALUE
                st, _, body = conn_request(conn, "POST", "/db/" + key, value)
                assert st == 200, (st, body)
                cls.stable[key] = value
            for i in range(0, STABLE_KEYS, 6):
                st, _, _ = conn_request(conn, "DELETE",
                                        "/db/" + pct(stable_key(i)))
                assert st == 200, st
                cls.stable[stable_key(i)] = None
            for i in range(CHURN_KEYS):
                st, _, _ = conn_request(conn, "POST", "/db/" + churn_key(i),
                                        b"initial")
                assert st == 200, st
        finally:
            conn.close()
        commit = lead.status()["commit_index"]
        follower = cl.followers()[0]
        poll_until(lambda: (status_or_none(follower) or {}).get(
            "applied_index", 0) >= commit, 15.0, "the follower applied")
        writer = Writer(lead)
        writer.start()
        poll_until(lambda: len(writer.writes) >= 50, 15.0, "writes under way")
        # GET /snapshot from the follower, streamed to a file.
        cls.http_file = os.path.join(cls.tmp, "http.snap")
        st, headers, body = follower.request("GET", "/snapshot", timeout=60)
        assert st == 200, (st, body[:200])
        cls.http_headers = headers
        with open(cls.http_file, "wb") as f:
            f.write(body)
        cls.writes_between = len(writer.writes)
        # raftctl snapshot save from the leader's peer port.
        cls.ctl_file = os.path.join(cls.tmp, "ctl.snap")
        cls.ctl_result = harness.raftctl(lead.raft_port, "snapshot", "save",
                                         cls.ctl_file, timeout=60)
        writer.stop()
        cls.writer = writer
        log("%d churn writes, %d before the HTTP snapshot ended"
            % (len(writer.writes), cls.writes_between))

    # -- helpers ----------------------------------------------------------------

    def restore(self, path, data_dir=None):
        """Runs raftd -restore into a new directory; returns the node (not
        started) and the run's (rc, stdout, stderr)."""
        port, raft_port = harness.free_port_pair()
        if data_dir is None:
            data_dir = os.path.join(harness.make_tmp_dir(), "restored")
        rc = harness.run_raftd(["-restore", path, "-h", "127.0.0.1", "-p",
                                str(port), "-raft-port", str(raft_port),
                                data_dir])
        node = harness.ClusterNode(data_dir=data_dir, port=port,
                                   raft_port=raft_port, args=SNAP,
                                   label="restored")
        self.nodes.append(node)
        return node, rc

    def check_state(self, node, snap=None):
        """The node holds exactly the stable set, and churn values of one
        prefix of the writer's sequence (see the module's doc); with `snap`,
        exactly the file's pairs."""
        conn = node.connection()
        try:
            for key, value in sorted(self.stable.items()):
                st, _, body = conn_request(
                    conn, "GET", "/db/" + pct(key) + "?consistency=stale")
                if value is None:
                    self.assertEqual(st, 404, "deleted key %r is back" % key)
                else:
                    self.assertEqual((st, body), (200, value), repr(key))
            got = {}
            for i in range(CHURN_KEYS):
                st, _, body = conn_request(
                    conn, "GET", "/db/" + churn_key(i) + "?consistency=stale")
                self.assertEqual(st, 200)
                got[churn_key(i)] = body
        finally:
            conn.close()
        writes = self.writer.writes
        # The latest write each value reflects (-1: the initial value).
        at = {}
        for key, value in got.items():
            if value == b"initial":
                at[key] = -1
                continue
            idx = [j for j, w in enumerate(writes) if w == (key, value)]
            self.assertTrue(idx, "%s holds %r, never written" % (key, value))
            at[key] = idx[0]
        cut = max(at.values())
        for key, j in at.items():
            later = [w for w in writes[j + 1:cut + 1] if w[0] == key]
            self.assertFalse(later, "%s holds write %d but write %d, in the "
                             "snapshot, overwrote it: not point-in-time"
                             % (key, j, cut))
        if snap is None:
            return cut
        # The file says the same as the restored node, pair for pair.
        alive = {k.encode(): v for k, v in self.stable.items()
                 if v is not None}
        alive.update({k.encode(): v for k, v in got.items()})
        self.assertEqual(snap["pairs"], alive)
        return cut

    def run_restore_of(self, path):
        with open(path, "rb") as f:
            snap = parse_snapshot(f.read())
        node, (rc, out, err, _) = self.restore(path)
        self.assertEqual(rc, 0, err)
        self.assertIn(b"restored %d keys at index %d"
                      % (len(snap["pairs"]), snap["index"]), out)
        s = node.start_and_wait()
        self.assertEqual([m["name"] for m in s["members"]], [node.name()])
        self.assertGreaterEqual(s["commit_index"], snap["index"])
        self.assertGreater(s["term"], snap["term"])
        cut = self.check_state(node, snap)
        log("%s: index %d, %d keys, churn cut at write %d"
            % (os.path.basename(path), snap["index"], len(snap["pairs"]),
               cut))
        return node, snap

    def assertRefused(self, path, data_dir, what):
        before = harness.tree_snapshot(data_dir) \
            if os.path.exists(data_dir) else None
        rc, out, err, _ = harness.run_raftd(["-restore", path, "-h",
                                             "127.0.0.1", data_dir])
        self.assertEqual(rc, 1, err)
        lines = err.decode(errors="replace").strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertIn(what, lines[0])
        after = harness.tree_snapshot(data_dir) \
            if os.path.exists(data_dir) else None
        self.assertEqual(before, after, "the restore wrote into " + data_dir)

    # -- tests ------------------------------------------------------------------

    def test_http_snapshot_streams_chunked(self):
        self.assertEqual(self.http_headers.get("content-type"),
                         "application/octet-stream")
        self.assertEqual(self.http_headers.get("transfer-encoding"), "chunked")

    def test_http_snapshot_restores_to_the_same_state(self):
        self.run_restore_of(self.http_file)

    def test_raftctl_snapshot_restores_to_the_same_state(self):
        rc, out, err, _ = self.ctl_result
        self.assertEqual(rc, 0, err)
        self.assertIn(b"saved the snapshot at index", out)
        self.assertFalse(os.path.exists(self.ctl_file + ".tmp"))
        self.run_restore_of(self.ctl_file)

    def test_restored_node_takes_a_join_and_replicates(self):
        node, snap = self.run_restore_of(self.http_file)
        cl = harness.Cluster(args=SNAP, owner=self.nodes, label="r")
        cl.nodes.append(node)
        joiner = cl.add(via=node)
        st, _, _ = node.put("after-restore", b"new")
        self.assertEqual(st, 200)
        commit = node.status()["commit_index"]
        poll_until(lambda: (status_or_none(joiner) or {}).get(
            "applied_index", 0) >= commit, 15.0, "the joiner applied")
        st, _, body = joiner.get("after-restore", stale=True)
        self.assertEqual((st, body), (200, b"new"))
        self.check_state(joiner)

    def test_truncated_file_is_refused_and_nothing_written(self):
        with open(self.http_file, "rb") as f:
            data = f.read()
        for n in (0, 5, len(data) // 2, len(data) - 1):
            path = os.path.join(harness.make_tmp_dir(), "cut.snap")
            with open(path, "wb") as f:
                f.write(data[:n])
            target = os.path.join(harness.make_tmp_dir(), "dir")
            self.assertRefused(path, target, "snapshot file")
            self.assertFalse(os.path.exists(target))

    def test_corrupt_file_is_refused_and_nothing_written(self):
        with open(self.http_file, "rb") as f:
            data = bytearray(f.read())
        for i in (3, 20, len(data) // 2, len(data) - 3):
            bad = bytearray(data)
            bad[i] ^= 0x10
            path = os.path.join(harness.make_tmp_dir(), "bad.snap")
            with open(path, "wb") as f:
                f.write(bad)
            target = harness.make_tmp_dir()  # exists, empty
            self.assertRefused(path, target, "snapshot file")
            self.assertEqual(os.listdir(target), [])

    def test_non_empty_directory_is_refused(self):
        target = harness.make_tmp_dir()
        with open(os.path.join(target, "keep"), "wb") as f:
            f.write(b"mine")
        self.assertRefused(self.http_file, target, "is not empty")

    def test_missing_file_is_refused(self):
        target = os.path.join(harness.make_tmp_dir(), "dir")
        self.assertRefused(os.path.join(self.tmp, "nope.snap"), target,
                           "cannot open")
        self.assertFalse(os.path.exists(target))

    def test_raftctl_save_to_an_unwritable_path_fails_cleanly(self):
        lead, _ = self.src.leader()
        path = os.path.join(self.tmp, "no-such-dir", "x.snap")
        rc, _, err, _ = harness.raftctl(lead.raft_port, "snapshot", "save",
                                        path)
        self.assertEqual(rc, 1, err)
        self.assertIn(b"cannot create", err)


if __name__ == "__main__":
    harness.main()
