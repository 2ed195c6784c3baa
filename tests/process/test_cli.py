"""raftd's command line and data directory (README.md, "Command line"):
usage errors exit 2, unusable data directories and ports exit 1 without
touching anything, the flag forms of Go, and the `name` file."""

import os
import re
import shutil
import signal
import socket

import harness
from harness import run_raftd, tree_snapshot, snapshot_diff

# LevelDB's informational files (lock, text log); not data.
LEVELDB_INFO = ("LOCK", "LOG", "LOG.old")
EXIT_TIMEOUT = 10.0  # a refused start must end within this


class CommandLine(harness.NodeTestCase):
    def _fresh_path(self):
        return os.path.join(harness.make_tmp_dir(), "never-created")

    def _ports(self):
        p, rp = harness.free_port_pair()
        return ["-h", "127.0.0.1", "-p", str(p), "-raft-port", str(rp)]

    def assertUsageError(self, args, offending, data_path=None):
        """raftd args -> exit 2, a one-line error naming `offending` first,
        then the usage, on stderr; the data path is not created."""
        rc, out, err, _ = run_raftd(args, timeout=EXIT_TIMEOUT)
        text = err.decode("utf-8", "replace")
        msg = "raftd %s -> rc %d\nstdout: %r\nstderr: %s" % (
            " ".join(args), rc, out, text)
        self.assertEqual(rc, 2, msg)
        lines = text.splitlines()
        self.assertTrue(lines and lines[0].strip(), "no error line: " + msg)
        self.assertTrue(any(o in lines[0] for o in offending),
                        "the first line should name one of %r: %s"
                        % (offending, msg))
        self.assertIn("usage", text.lower(), "usage missing: " + msg)
        if data_path is not None:
            self.assertFalse(os.path.exists(data_path),
                             "a usage error must not create the data path")

    # -- exit 2 -------------------------------------------------------------------

    def test_no_data_path(self):
        rc, out, err, _ = run_raftd(self._ports(), timeout=EXIT_TIMEOUT)
        text = err.decode("utf-8", "replace")
        self.assertEqual(rc, 2, text)
        lines = text.splitlines()
        self.assertTrue(lines and lines[0].strip(), "no error line")
        self.assertIn("usage", text.lower())
        self.assertNotIn("usage", lines[0].lower()[:6],
                         "the one-line error comes before the usage")

    def test_no_arguments_at_all(self):
        rc, _, err, _ = run_raftd([], timeout=EXIT_TIMEOUT)
        self.assertEqual(rc, 2, err)
        self.assertIn(b"usage", err.lower())

    def test_unknown_flag(self):
        path = self._fresh_path()
        self.assertUsageError(self._ports() + ["-bogus", path], ["bogus"], path)
        self.assertUsageError(self._ports() + ["--bogus=1", path], ["bogus"],
                              path)

    def test_bad_values(self):
        path = self._fresh_path()
        cases = [
            (["-p", "notaport"], ["notaport", "-p"]),
            (["-p", "70000"], ["70000", "-p"]),
            (["-p", "-1"], ["-1", "-p"]),
            (["-raft-port", "notaport"], ["notaport", "raft-port"]),
            (["-join", "127.0.0.1:99999"], ["99999", "join"]),
            (["-join", "nohostport"], ["nohostport", "join"]),
            (["-election-timeout", "xyz"], ["xyz", "election-timeout"]),
            (["-heartbeat", "10parsecs"], ["10parsecs", "heartbeat"]),
            (["-idle-timeout", "soon"], ["soon", "idle-timeout"]),
            (["-write-timeout", "ms"], ["ms", "write-timeout"]),
            (["-max-value-size", "big"], ["big", "max-value-size"]),
            (["-max-conns", "many"], ["many", "max-conns"]),
        ]
        base = ["-h", "127.0.0.1"]
        for flag_args, offending in cases:
            with self.subTest(args=flag_args):
                self.assertUsageError(base + flag_args + [path], offending,
                                      path)

    def test_bad_benchmark_knob(self):
        """A RAFTD_* override with a bad value stops the start (exit 2)
        naming the variable; nothing is created."""
        path = self._fresh_path()
        for var, value in (("RAFTD_SCHEDULER_THREADS", "abc"),
                           ("RAFTD_SM_DETACHED", "yes")):
            env = dict(os.environ, **{var: value})
            rc, out, err, _ = harness.run_program(
                [harness.bin_path("raftd")] + self._ports() + [path],
                timeout=EXIT_TIMEOUT, env=env)
            text = err.decode("utf-8", "replace")
            self.assertEqual(rc, 2, text)
            self.assertTrue(text.splitlines()[0].startswith("raftd: " + var),
                            text)
            self.assertFalse(os.path.exists(path), text)

    def test_flag_without_value(self):
        path = self._fresh_path()
        # "-p" swallows the path as its value, which is not a port.
        self.assertUsageError(["-h", "127.0.0.1", "-p", path], ["-p", path])
        self.assertFalse(os.path.exists(path))

    def test_help(self):
        for flag in ("-help", "--help"):
            with self.subTest(flag=flag):
                rc, out, err, _ = run_raftd([flag], timeout=EXIT_TIMEOUT)
                self.assertEqual(rc, 0, err)
                text = out.decode("utf-8", "replace")
                self.assertIn("usage", text.lower(), "usage on stdout")
                for f in ("-p", "-raft-port", "-join", "-max-value-size",
                          "-election-timeout", "-idle-timeout"):
                    self.assertIn(f, text, "usage should list " + f)

    # -- flag forms ---------------------------------------------------------------

    def test_equals_form(self):
        n = self.node(port_flag_style="equals", label="equals")
        st = n.start_and_wait()
        self.assertEqual(st["state"], "leader")
        self.assertStatus(n.put("k", b"v"), 200)

    def test_double_dash_form(self):
        n = self.node(port_flag_style="double", label="double")
        n.start_and_wait()
        self.assertStatus(n.put("k", b"v"), 200)

    def test_logging_flags_and_format(self):
        for flag in ("-v", "-debug", "-trace"):
            with self.subTest(flag=flag):
                n = self.node(args=[flag], label="log" + flag)
                n.start_and_wait()
                self.assertStatus(n.put("k", b"v"), 200)
                rc, killed = n.stop()
                self.assertFalse(killed, "SIGTERM must stop the node")
                self.assertEqual(rc, 0)
                lines = n.stderr_text().splitlines()
                self.assertTrue(lines, flag + " logs nothing")
                bad = [l for l in lines
                       if not re.match(r"^\d+(\.\d+)? \[[A-Z]+\] \S", l)]
                self.assertFalse(bad, "log lines not '<unix time> [LEVEL] "
                                 "message': %r" % bad[:5])

    # -- the data directory ---------------------------------------------------------

    def test_name_file(self):
        n = self.node(label="named")
        st = n.start_and_wait()
        path = os.path.join(n.data_dir, "name")
        with open(path, "rb") as f:
            name = f.read()
        self.assertRegex(name, rb"^[0-9a-f]{7}$",
                         "DATA/name: 7 lowercase hex characters, no newline")
        self.assertEqual(st["name"].encode(), name)
        self.assertTrue(os.path.isdir(os.path.join(n.data_dir, "log")))
        self.assertTrue(os.path.isdir(os.path.join(n.data_dir, "kv")))
        for restart in range(2):
            rc, killed = n.stop()
            self.assertEqual((rc, killed), (0, False))
            n.start()
            st = n.wait_leader()
            with open(path, "rb") as f:
                self.assertEqual(f.read(), name, "the name is kept")
            self.assertEqual(st["name"].encode(), name)
        # Kept after a crash too.
        n.kill9()
        st = n.start_and_wait()
        self.assertEqual(st["name"].encode(), name)

    def test_existing_empty_directory_is_fine(self):
        d = harness.make_tmp_dir()
        n = self.node(data_dir=d, label="emptydir")
        n.start_and_wait()
        self.assertTrue(os.path.isfile(os.path.join(d, "name")))

    def _expect_refused(self, data_dir, what, ignore=LEVELDB_INFO):
        """Starting on data_dir exits 1 with an error; nothing changes."""
        before = tree_snapshot(data_dir, ignore) \
            if os.path.isdir(data_dir) else None
        n = self.node(data_dir=data_dir, label=what)
        n.start()
        try:
            rc = n.wait_exit(EXIT_TIMEOUT)
        except Exception:
            n.kill9()
            self.fail("%s: raftd did not exit within %.0f s (it should refuse "
                      "the data directory)\n%s"
                      % (what, EXIT_TIMEOUT, n.diagnostics()))
        err = n.stderr_text()
        self.assertEqual(rc, 1, "%s: exit code\n%s" % (what, err))
        self.assertTrue(err.strip(), what + ": no error printed")
        if before is not None:
            after = tree_snapshot(data_dir, ignore)
            self.assertEqual(snapshot_diff(before, after), "",
                             what + ": the data directory was modified")
        return err

    def test_not_a_raftd_directory(self):
        d = harness.make_tmp_dir()
        with open(os.path.join(d, "notes.txt"), "wb") as f:
            f.write(b"my precious notes\n")
        self._expect_refused(d, "unrelated file", ignore=())
        with open(os.path.join(d, "notes.txt"), "rb") as f:
            self.assertEqual(f.read(), b"my precious notes\n")
        self.assertEqual(sorted(os.listdir(d)), ["notes.txt"])

    def test_data_path_is_a_file(self):
        d = harness.make_tmp_dir()
        path = os.path.join(d, "plainfile")
        with open(path, "wb") as f:
            f.write(b"not a directory")
        self._expect_refused(path, "data path is a file")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"not a directory")

    def _make_good_dir(self):
        """A data dir with one key, shut down cleanly; returns its path."""
        n = self.node(label="good")
        n.start_and_wait()
        self.assertStatus(n.put("survivor", b"alive"), 200)
        rc, killed = n.stop()
        self.assertEqual((rc, killed), (0, False))
        return n.data_dir

    def _copy(self, src):
        dst = os.path.join(harness.make_tmp_dir(), "copy")
        shutil.copytree(src, dst)
        return dst

    def test_corrupt_data_directories(self):
        good = self._make_good_dir()

        def bad_name(d):
            with open(os.path.join(d, "name"), "wb") as f:
                f.write(b"zz")

        def empty_name(d):
            open(os.path.join(d, "name"), "wb").close()

        def no_log(d):
            shutil.rmtree(os.path.join(d, "log"))

        def garbage_current(d):
            with open(os.path.join(d, "log", "CURRENT"), "wb") as f:
                f.write(b"\x00garbage\x00")

        def log_is_a_file(d):
            shutil.rmtree(os.path.join(d, "log"))
            with open(os.path.join(d, "log"), "wb") as f:
                f.write(b"not leveldb")

        def no_kv(d):
            shutil.rmtree(os.path.join(d, "kv"))

        def no_name(d):
            os.remove(os.path.join(d, "name"))

        for corrupt in (bad_name, empty_name, no_log, garbage_current,
                        log_is_a_file, no_kv, no_name):
            with self.subTest(case=corrupt.__name__):
                d = self._copy(good)
                corrupt(d)
                self._expect_refused(d, corrupt.__name__)
        # The uncorrupted copy still starts, with its data.
        d = self._copy(good)
        n = self.node(data_dir=d, label="good-copy")
        n.start_and_wait()
        got = n.get("survivor")
        self.assertEqual((got[0], got[2]), (200, b"alive"))

    def test_two_nodes_on_one_data_dir(self):
        first = self.node(label="first")
        first.start_and_wait()
        second = self.node(data_dir=first.data_dir, label="second")
        second.start()
        try:
            rc = second.wait_exit(EXIT_TIMEOUT)
        except Exception:
            self.fail("the second raftd on the same data directory kept "
                      "running\n" + second.diagnostics())
        self.assertEqual(rc, 1, second.stderr_text())
        self.assertTrue(second.stderr_text().strip(), "no error printed")
        self.assertTrue(first.running(), "the first node must keep running")
        self.assertStatus(first.put("still", b"mine"), 200)
        self.assertEqual(first.get("still")[2], b"mine")

    def _port_taken(self, which):
        n = self.node(label="port-taken-" + which)
        taken = n.port if which == "http" else n.raft_port
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            blocker.bind(("127.0.0.1", taken))
            blocker.listen(1)
            n.start()
            try:
                rc = n.wait_exit(EXIT_TIMEOUT)
            except Exception:
                self.fail("raftd kept running with its %s port taken\n%s"
                          % (which, n.diagnostics()))
            err = n.stderr_text()
            self.assertEqual(rc, 1, err)
            self.assertTrue(err.strip(), "no error printed")
            self.assertTrue(str(taken) in err or "in use" in err.lower(),
                            "the error should name the port or say it is "
                            "in use: " + err)
        finally:
            blocker.close()

    def test_http_port_in_use(self):
        self._port_taken("http")

    def test_raft_port_in_use(self):
        self._port_taken("raft")

    def test_sigterm_exit_code(self):
        n = self.node(label="sigterm")
        n.start_and_wait()
        rc, killed = n.stop(signal.SIGTERM)
        self.assertFalse(killed, "SIGTERM did not stop raftd in time")
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    harness.main()
