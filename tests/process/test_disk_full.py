"""A node whose disk fills up, on a real small filesystem: a tmpfs of 16 MiB
that the test mounts (root only; elsewhere the test is skipped, visibly).

Once the filesystem is full the node refuses writes (507, or 504 for the one
in flight when the disk failed), says why in /status, keeps serving stale
reads, and loses nothing it acknowledged. Once space is back it reopens its
stores and takes writes again, without a restart."""

import errno
import os
import subprocess
import time

import harness
from harness import poll_until

FS_SIZE = "16m"
RECOVER_LIMIT = 10.0  # s from freeing space to an accepted write


def log(msg):
    print("    [disk full] " + msg, flush=True)


class DiskFull(harness.NodeTestCase):
    def setUp(self):
        super().setUp()
        self.mnt = harness.make_tmp_dir(prefix="raftd-tmpfs-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + FS_SIZE,
                            "tmpfs", self.mnt], capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs (needs root): %r"
                          % r.stderr.decode(errors="replace").strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt],
                        capture_output=True)

    def fill(self, path):
        """Writes zeros to `path` until the filesystem is full."""
        chunk = b"\0" * (256 << 10)
        with open(path, "wb") as f:
            try:
                for _ in range(1000):  # bounded: 250 MiB at most
                    f.write(chunk)
                    f.flush()
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC, repr(e))
                return
        self.fail("the filesystem never filled up")

    def status(self, n):
        return n.status()

    def test_full_disk_refuses_writes_and_recovers(self):
        n = self.started_node(data_dir=os.path.join(self.mnt, "node"))
        for i in range(20):
            self.assertStatus(n.put("k%d" % i, b"v%d" % i), 200)
        filler = os.path.join(self.mnt, "filler")
        self.fill(filler)
        log("filesystem full")
        # The first writes may still fit in buffers; soon one fails.
        answers = []

        def refused():
            st, _, body = n.put("big", os.urandom(64 << 10))
            answers.append(st)
            return (st, body) if st in (504, 507) else None
        st, body = poll_until(refused, 10.0, "a write refused on a full disk")
        log("writes after filling: %r" % answers)
        for a in answers:
            self.assertIn(a, (200, 504, 507), answers)
        st, _, body = n.put("after", b"x")
        self.assertEqual(st, 507, body)
        self.assertIn(b"disk", body)
        s = self.status(n)
        self.assertEqual(s["state"], "degraded", s)
        self.assertTrue(s["storage_error"], s)
        for i in range(20):  # stale reads still work, nothing lost
            st, _, body = n.get("k%d" % i, stale=True)
            self.assertEqual((st, body), (200, b"v%d" % i))
        st, _, _ = n.get("k0")  # a linearizable read needs the disk
        self.assertEqual(st, 503)
        self.assertTrue(n.running(), "the node must stay up")
        os.unlink(filler)
        t0 = time.monotonic()

        def accepted():
            return n.put("after", b"y")[0] == 200
        poll_until(accepted, RECOVER_LIMIT, "a write accepted after the "
                   "disk had space again")
        log("writes accepted %.2f s after freeing space"
            % (time.monotonic() - t0))
        s = self.status(n)
        self.assertEqual(s["state"], "leader", s)
        self.assertEqual(s["storage_error"], "", s)
        self.assertEqual(n.get("after")[2], b"y")
        for i in range(20):
            self.assertEqual(n.get("k%d" % i)[2], b"v%d" % i)


if __name__ == "__main__":
    harness.main()
