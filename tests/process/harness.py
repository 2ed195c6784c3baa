"""Shared helpers for the process tests: real `raftd`/`raftctl` on loopback.

Each tests/process/test_*.py file is a unittest script run as
    python3 tests/process/test_X.py --bin-dir <dir with raftd and raftctl>
and ends with `harness.main()`, which parses --bin-dir, runs the tests, prints
"N passed, M failed" and exits non-zero on any failure.

Clusters: `Cluster` (or NodeTestCase.cluster(size)) starts a first node and
joiners one at a time, finds the leader by polling /status, kills (-9) and
restarts nodes by PID and retries writes through any node (following 307s);
`poll_until` is the one way to wait for an event.

Everything here is bounded: every wait has a deadline, every socket a timeout,
and every process we start is stopped by its own PID (SIGTERM, then SIGKILL),
from tearDown, from atexit, and when the runner itself gets SIGTERM/SIGINT.
Standard library only.
"""

import argparse
import atexit
import ctypes
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN_DIR = None  # set by main() from --bin-dir

READY_TIMEOUT = 10.0  # seconds for a node to become leader
POLL_INTERVAL = 0.02  # seconds between readiness polls
STOP_TIMEOUT = 10.0  # seconds for SIGTERM before SIGKILL
TERM_BOUND = 5.0  # seconds a node has to exit 0 after SIGTERM at teardown
SKIP_RETURN_CODE = 77  # CTest's SKIP_RETURN_CODE (CMakeLists.txt)
HTTP_TIMEOUT = 10.0  # socket timeout of one HTTP exchange

_all_nodes = []  # every Node ever started, for cleanup at exit
_used_ports = set()  # ports handed out by this process
_tmp_dirs = []  # temporary directories to remove at exit
_keep_tmp = bool(os.environ.get("RAFTD_KEEP_TMP"))


def bin_path(name):
    """Absolute path of a program in --bin-dir."""
    return os.path.join(BIN_DIR, name)


def make_tmp_dir(prefix="raftd-proc-"):
    """A fresh temporary directory, removed at exit (unless RAFTD_KEEP_TMP)."""
    d = tempfile.mkdtemp(prefix=prefix)
    _tmp_dirs.append(d)
    return d


# -- ports ----------------------------------------------------------------------


def bindable(port, reuse=False):
    """True unless something listens on (or holds) 127.0.0.1:port. With
    reuse (SO_REUSEADDR, as the servers bind), TIME_WAIT leftovers don't
    count."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port_pair(tries=200):
    """(http_port, raft_port = http_port + 1000), both bindable on 127.0.0.1,
    both below 32768 (outside Linux's ephemeral range), never handed out
    before by this process."""
    for _ in range(tries):
        p = random.randint(20000, 31000)
        if p in _used_ports or p + 1000 in _used_ports:
            continue
        if bindable(p) and bindable(p + 1000):
            _used_ports.update((p, p + 1000))
            return p, p + 1000
    raise RuntimeError("no free loopback port pair found in 20000-31000")


def closed_port():
    """A loopback port nobody listens on (bindable now, then released)."""
    for _ in range(200):
        p = random.randint(20000, 31000)
        if p not in _used_ports and bindable(p):
            _used_ports.add(p)
            return p
    raise RuntimeError("no closed loopback port found")


# -- child processes ------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _child_setup():
    """In the child before exec: die with the test runner, even on SIGKILL."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run_program(args, input=None, timeout=20.0, env=None):
    """Runs a program to completion with a bounded wait.
    Returns (returncode, stdout bytes, stderr bytes, elapsed seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None
                         else subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=_child_setup,
                         env=env)
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=10)
        raise AssertionError("%s did not exit within %.1f s\nstdout: %r\n"
                             "stderr: %r" % (args, timeout, out, err))
    return p.returncode, out, err, time.monotonic() - t0


def run_raftd(args, timeout=20.0):
    """Runs raftd with args to completion (for command-line errors)."""
    return run_program([bin_path("raftd")] + list(args), timeout=timeout)


def raftctl(raft_port, *args, input=None, timeout=20.0, host="127.0.0.1"):
    """Runs `raftctl -c host:raft_port args...`.
    Returns (returncode, stdout bytes, stderr bytes, elapsed)."""
    argv = [bin_path("raftctl"), "-c", "%s:%d" % (host, raft_port)]
    return run_program(argv + list(args), input=input, timeout=timeout)


class NodeExited(AssertionError):
    pass


class Node:
    """One raftd process. Ports are picked free unless given; the data
    directory is a fresh path inside a temporary directory unless given."""

    def __init__(self, data_dir=None, port=None, raft_port=None, args=(),
                 label="node", port_flag_style=None):
        if port is None:
            port, auto_raft = free_port_pair()
            if raft_port is None:
                raft_port = auto_raft
            self._auto_ports = True
        else:
            self._auto_ports = False
        if raft_port is None:
            raft_port = port + 1000
        self.port = port
        self.raft_port = raft_port
        if data_dir is None:
            data_dir = os.path.join(make_tmp_dir(), "node")
        self.data_dir = data_dir
        self.args = list(args)
        self.label = label
        self.port_flag_style = port_flag_style
        self.proc = None
        self.log_dir = make_tmp_dir(prefix="raftd-log-")
        self.log_paths = []  # one stderr file per start
        self.starts = 0
        self.exit_expected = False  # we signalled it, or a test awaited
        # its exit: an exit then is the test's business, not a crash

    # -- lifecycle --------------------------------------------------------------

    def argv(self):
        if self.port_flag_style == "equals":
            ports = ["-p=%d" % self.port, "-raft-port=%d" % self.raft_port]
        elif self.port_flag_style == "double":
            ports = ["--p", str(self.port), "--raft-port", str(self.raft_port)]
        elif self.port_flag_style == "http-only":  # peer port by default
            assert self.raft_port == self.port + 1000
            ports = ["-p", str(self.port)]
        else:
            ports = ["-p", str(self.port), "-raft-port", str(self.raft_port)]
        return ([bin_path("raftd"), "-h", "127.0.0.1"] + ports + self.args
                + [self.data_dir])

    def start(self):
        """Starts the process (does not wait for readiness)."""
        assert self.proc is None or self.proc.poll() is not None, \
            "%s already running" % self.label
        self.starts += 1
        self.exit_expected = False
        path = os.path.join(self.log_dir, "stderr.%d.log" % self.starts)
        self.log_paths.append(path)
        with open(path, "wb") as err, open(path + ".stdout", "wb") as out:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err,
                                         preexec_fn=_child_setup)
        if self not in _all_nodes:
            _all_nodes.append(self)
        return self

    def start_and_wait(self, timeout=READY_TIMEOUT):
        """Starts and waits until /status says leader. A node whose
        auto-picked ports were taken meanwhile is retried on new ports."""
        for attempt in range(3):
            self.start()
            try:
                return self.wait_leader(timeout)
            except NodeExited:
                if (self._auto_ports and self.starts == 1 + attempt
                        and "in use" in self.stderr_text().lower()
                        and attempt < 2):
                    self.port, self.raft_port = free_port_pair()
                    continue
                raise
        raise AssertionError("unreachable")

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Waits for the process to exit; returns its exit code."""
        self.exit_expected = True
        return self.proc.wait(timeout=timeout)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig to our own PID and waits; SIGKILL on timeout.
        Returns (exit code, True if it had to be killed)."""
        if self.proc is None:
            return None, False
        self.exit_expected = True
        if self.proc.poll() is not None:
            return self.proc.returncode, False
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return self.proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return self.proc.wait(timeout=10), True

    def stop_checked(self, timeout=TERM_BOUND):
        """Teardown: SIGTERM (SIGKILL after timeout). Returns None if the
        node exited 0 in time (or was already stopped or awaited by the
        test), else what went wrong: it hung, exited non-zero, or had
        exited non-zero by itself before (a crash no test asked for)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            rc = self.proc.returncode
            if self.exit_expected or rc == 0:
                return None
            return "%s (pid %d) had exited by itself with code %s" % (
                self.label, self.proc.pid, rc)
        rc, killed = self.stop(signal.SIGTERM, timeout)
        if killed:
            return "%s (pid %d) still ran %.0f s after SIGTERM (killed)" % (
                self.label, self.proc.pid, timeout)
        if rc != 0:
            return "%s (pid %d) exited with code %s on SIGTERM" % (
                self.label, self.proc.pid, rc)
        return None

    def kill9(self):
        """kill -9 by PID; returns the exit status."""
        return self.stop(signal.SIGKILL, timeout=10)[0]

    def restart(self, timeout=READY_TIMEOUT):
        self.stop()
        self.start()
        return self.wait_leader(timeout)

    # -- diagnostics ------------------------------------------------------------

    def stderr_text(self, which=-1):
        if not self.log_paths:
            return ""
        try:
            with open(self.log_paths[which], "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def diagnostics(self, limit=8000):
        parts = []
        for i, path in enumerate(self.log_paths):
            try:
                with open(path, "rb") as f:
                    data = f.read().decode("utf-8", "replace")
            except OSError:
                data = "<unreadable>"
            if len(data) > limit:
                data = "...<%d bytes cut>...\n" % (len(data) - limit) \
                    + data[-limit:]
            parts.append("---- %s (%s, http %d, raft %d) start %d stderr ----\n%s"
                         % (self.label, self.data_dir, self.port,
                            self.raft_port, i + 1, data))
        return "\n".join(parts)

    # -- HTTP -------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None,
                timeout=HTTP_TIMEOUT):
        """One request on a fresh connection: (status, headers dict with
        lower-case names, body bytes)."""
        return http_request(self.port, method, path, body, headers, timeout)

    def get(self, key, stale=False, quote=True):
        path = "/db/" + (pct(key) if quote else key)
        if stale:
            path += "?consistency=stale"
        return self.request("GET", path)

    def put(self, key, value, method="POST", quote=True):
        return self.request(method, "/db/" + (pct(key) if quote else key),
                            body=value)

    def delete(self, key, quote=True):
        return self.request("DELETE", "/db/" + (pct(key) if quote else key))

    def status(self, timeout=HTTP_TIMEOUT):
        st, _, body = self.request("GET", "/status", timeout=timeout)
        if st != 200:
            raise AssertionError("GET /status -> %d %r" % (st, body))
        return json.loads(body.decode("utf-8"))

    def connection(self, timeout=HTTP_TIMEOUT):
        """A keep-alive http.client connection to this node."""
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def wait_leader(self, timeout=READY_TIMEOUT):
        """Polls GET /status until state is "leader"; returns that status.
        Fails at once if the process exits, and at the deadline."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise NodeExited("%s exited with %d before becoming leader\n%s"
                                 % (self.label, rc, self.diagnostics()))
            try:
                s = self.status(timeout=1.0)
                last = s
                if s.get("state") == "leader":
                    return s
            except (OSError, http.client.HTTPException, ValueError,
                    AssertionError) as e:
                last = repr(e)
            if time.monotonic() >= deadline:
                raise AssertionError("%s not leader within %.1f s (last: %r)\n%s"
                                     % (self.label, timeout, last,
                                        self.diagnostics()))
            time.sleep(POLL_INTERVAL)


def pct(key):
    """Percent-encodes a key for a URL path (no '/' left unencoded)."""
    from urllib.parse import quote
    return quote(key, safe="")  # str (UTF-8) or bytes


def http_request(port, method, path, body=None, headers=None,
                 timeout=HTTP_TIMEOUT, host="127.0.0.1"):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def conn_request(conn, method, path, body=None, headers=None):
    """One request on an existing keep-alive connection."""
    if isinstance(body, str):
        body = body.encode()
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def member_names(status):
    """The names of the members in a /status JSON, whatever their shape:
    a string, {"name": ..}, or {"info": {"name": ..}}."""
    names = []
    for m in status.get("members", []):
        if isinstance(m, str):
            names.append(m)
        elif isinstance(m, dict):
            if isinstance(m.get("name"), str):
                names.append(m["name"])
            elif isinstance(m.get("info"), dict) and \
                    isinstance(m["info"].get("name"), str):
                names.append(m["info"]["name"])
    return names


# -- raw sockets ----------------------------------------------------------------


def raw_connect(port, timeout=5.0, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    return s


class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # dict, lower-case names
        self.body = body

    def __repr__(self):
        return "RawResponse(%d %s, %r, %r)" % (self.status, self.reason,
                                                self.headers, self.body[:200])


class RawReader:
    """Reads HTTP/1.x responses from a raw socket, bounded by a deadline."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.reset = False

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline reached")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
            self.reset = True
        if not data:
            self.eof = True
        self.buf += data
        return data

    def read_response(self, timeout=5.0, head_request=False):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if self.eof or not self._fill(deadline):
                raise EOFError("connection closed before a full response "
                               "head; got %r" % self.buf[:500])
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("iso-8859-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError("bad status line %r" % lines[0])
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if head_request or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked(deadline)
        elif "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                if self.eof or not self._fill(deadline):
                    raise EOFError("closed inside a body")
            body, self.buf = self.buf[:n], self.buf[n:]
        else:  # body until close
            while not self.eof:
                self._fill(deadline)
            body, self.buf = self.buf, b""
        return RawResponse(status, reason, headers, body)

    def _read_chunked(self, deadline):
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                if self.eof or not self._fill(deadline):
                    raise EOFError("closed inside a chunk size")
            line, self.buf = self.buf.split(b"\r\n", 1)
            n = int(line.split(b";")[0], 16)
            while len(self.buf) < n + 2:
                if self.eof or not self._fill(deadline):
                    raise EOFError("closed inside a chunk")
            body += self.buf[:n]
            self.buf = self.buf[n + 2:]
            if n == 0:
                return body  # (trailers are not expected)

    def wait_eof(self, timeout=5.0):
        """True if the peer closes (EOF or reset) within timeout with no
        further bytes; raises if it sends more bytes, False on timeout."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except socket.timeout:
                return False
        if self.buf:
            raise AssertionError("unexpected bytes before close: %r"
                                 % self.buf[:500])
        return True


def raw_exchange(port, data, n_responses=1, timeout=5.0):
    """Sends data in one send on a new connection and reads n responses.
    Returns (responses, reader) - the reader can check for EOF after."""
    s = raw_connect(port, timeout)
    s.sendall(data)
    reader = RawReader(s)
    out = [reader.read_response(timeout) for _ in range(n_responses)]
    return out, reader


# -- data directory snapshots ------------------------------------------------------


def tree_snapshot(root, ignore=()):
    """{relative path: bytes or "<dir>"} of everything under root, for
    checking that a refused start left a directory untouched. Names in
    `ignore` (basenames) are skipped."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for d in dirnames:
            if d not in ignore:
                snap[os.path.normpath(os.path.join(rel, d))] = "<dir>"
        for f in filenames:
            if f in ignore:
                continue
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                snap[os.path.normpath(os.path.join(rel, f))] = fh.read()
    return snap


def snapshot_diff(before, after):
    lines = []
    for k in sorted(set(before) | set(after)):
        if k not in after:
            lines.append("removed: %s" % k)
        elif k not in before:
            lines.append("added: %s" % k)
        elif before[k] != after[k]:
            lines.append("changed: %s" % k)
    return "\n".join(lines)


# -- polling ------------------------------------------------------------------

# What a poll treats as "not yet": the node is not listening, answered
# garbage, or answered a non-200 /status.
TRANSIENT_ERRORS = (OSError, http.client.HTTPException, ValueError,
                    EOFError)


class PollTimeout(AssertionError):
    pass


def poll_until(fn, timeout, what="the condition", interval=POLL_INTERVAL,
               transient=TRANSIENT_ERRORS):
    """Calls fn() until it returns something truthy and returns that. An
    exception in `transient` counts as "not yet". At the deadline raises
    PollTimeout naming `what` and the last value or exception. fn is called
    at least once, even with timeout 0."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = value
        except transient as e:
            last = e
        if time.monotonic() >= deadline:
            raise PollTimeout("%s not reached within %.1f s (last: %r)"
                              % (what, timeout, last))
        time.sleep(interval)


def status_or_none(node, timeout=1.0):
    """GET /status of a node as a dict, or None if it is down, not
    answering or answering anything but a 200 with JSON."""
    if not node.running():
        return None
    try:
        st, _, body = node.request("GET", "/status", timeout=timeout)
        if st != 200:
            return None
        return json.loads(body.decode("utf-8"))
    except TRANSIENT_ERRORS:
        return None


def member_map(status):
    """{name: (http, raft)} of the members in a /status JSON."""
    out = {}
    for m in status.get("members", []):
        if isinstance(m, dict) and isinstance(m.get("name"), str):
            out[m["name"]] = (m.get("http"), m.get("raft"))
    return out


# -- writes that follow the leader --------------------------------------------


def split_location(location):
    """("host", port, "/path?query") of an absolute http:// Location."""
    from urllib.parse import urlsplit
    u = urlsplit(location)
    if u.scheme != "http" or not u.hostname or not u.port:
        raise ValueError("not an absolute http URL with a port: %r"
                         % location)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    return u.hostname, u.port, path


def request_following(port, method, path, body=None, timeout=HTTP_TIMEOUT,
                      max_hops=3, host="127.0.0.1"):
    """Like `curl -L`: one request, then the same method and body again to
    each 307/308 Location, at most max_hops times. Returns (status, headers,
    body, hops) of the last answer; connection errors propagate."""
    hops = 0
    while True:
        st, hdrs, data = http_request(port, method, path, body, None, timeout,
                                      host=host)
        if st not in (307, 308) or "location" not in hdrs or hops >= max_hops:
            return st, hdrs, data, hops
        host, port, path = split_location(hdrs["location"])
        hops += 1


# -- clusters -----------------------------------------------------------------

JOIN_TIMEOUT = 20.0  # seconds for a joiner to show up as a member everywhere
ELECTION_TIMEOUT = 15.0  # seconds to wait for a leader (generous bound)


class ClusterNode(Node):
    """A Node that may carry `-join host:port` (dropped on restart: the
    membership is in its log)."""

    def __init__(self, join=None, **kw):
        super().__init__(**kw)
        self.join = join

    def argv(self):
        a = super().argv()
        if self.join:
            a[-1:-1] = ["-join", self.join]
        return a

    @property
    def http_addr(self):
        return "127.0.0.1:%d" % self.port

    @property
    def raft_addr(self):
        return "127.0.0.1:%d" % self.raft_port

    def name(self):
        """The node's name from DATA/name (written once at first start)."""
        with open(os.path.join(self.data_dir, "name"), "rb") as f:
            return f.read().decode("ascii").strip()


class Cluster:
    """Several raftd processes on loopback forming one cluster: the first
    starts alone (and leads), the others join one at a time. Every node is
    appended to `owner` (a list, e.g. NodeTestCase.nodes) so the owner's
    clean-up stops them by PID; all of them are also cleaned up at exit.

    Nothing here sleeps in place of an event: each wait polls /status (or
    the data) with a deadline and fails naming what it waited for."""

    def __init__(self, args=(), owner=None, label="n"):
        self.args = list(args)
        self.owner = owner if owner is not None else []
        self.label = label
        self.nodes = []

    # -- membership -----------------------------------------------------------

    def new_node(self, join=None, **kw):
        """A ClusterNode (not started) with this cluster's flags."""
        kw.setdefault("args", self.args)
        kw.setdefault("label", "%s%d" % (self.label, len(self.nodes) + 1))
        n = ClusterNode(join=join, **kw)
        self.owner.append(n)
        self.nodes.append(n)
        return n

    def start(self, size, timeout=JOIN_TIMEOUT):
        """Starts `size` nodes: the first alone, then joiners one at a time
        (each through the first node, as in the seed's walkthrough). Returns
        self."""
        assert size >= 1 and not self.nodes
        first = self.new_node()
        first.start_and_wait()
        for _ in range(size - 1):
            self.add(via=first, timeout=timeout)
        return self

    def add(self, via=None, timeout=JOIN_TIMEOUT, node=None):
        """Starts a joiner with `-join <via's HTTP address>` (via: a Node, a
        "host:port" string, or the current leader if None) and waits until
        the leader's /status lists it and its own /status shows it as a
        member following that leader. Returns the node."""
        if via is None:
            via = self.leader()[0]
        target = via if isinstance(via, str) else via.http_addr
        n = node if node is not None else self.new_node(join=target)
        n.join = target
        for attempt in range(3):
            n.start()
            try:
                self.wait_joined(n, timeout)
                return n
            except NodeExited:
                # Our free port was taken meanwhile: new ports, same dir
                # (a failed bind happens before any join, the log is empty).
                if attempt < 2 and "in use" in n.stderr_text().lower():
                    n.port, n.raft_port = free_port_pair()
                    continue
                raise
        raise AssertionError("unreachable")

    def wait_joined(self, n, timeout=JOIN_TIMEOUT):
        """Waits until n is a member in the leader's /status and in its own,
        and n knows that leader. Fails at once if n exits."""
        deadline = time.monotonic() + timeout

        def joined():
            rc = n.proc.poll()
            if rc is not None:
                raise NodeExited("%s exited with %d while joining\n%s"
                                 % (n.label, rc, n.diagnostics()))
            own = status_or_none(n)
            if own is None or own.get("name") not in member_map(own):
                return None
            try:
                lead = self.leader(timeout=0)  # one look
            except PollTimeout:
                return None
            lst = status_or_none(lead[0])
            if lst is None or lst.get("state") != "leader" \
                    or own["name"] not in member_map(lst):
                return None
            if own.get("leader") != lst["name"]:
                return None
            return own

        return poll_until(joined, timeout,
                          "%s joined (member at the leader and at itself)"
                          % n.label)

    def members(self, node):
        """{name: (http, raft)} from node's /status."""
        return member_map(node.status(timeout=2.0))

    def names(self):
        """{name: node} of the nodes that have started at least once."""
        out = {}
        for n in self.nodes:
            try:
                out[n.name()] = n
            except OSError:
                pass
        return out

    def by_name(self, name):
        return self.names()[name]

    # -- liveness -----------------------------------------------------------

    def live(self):
        return [n for n in self.nodes if n.running()]

    def leader(self, timeout=ELECTION_TIMEOUT, among=None, agree=False):
        """(node, status) of the leader: the live node whose /status says
        "leader" in the highest term. With agree=True also waits until every
        node in `among` (default: all live) names it as leader. Polls /status
        with a deadline; fails naming the last statuses seen."""
        seen = {}

        def find():
            nodes = among if among is not None else self.live()
            best = None
            for n in nodes:
                s = status_or_none(n)
                seen[n.label] = s and (s.get("state"), s.get("term"),
                                       s.get("leader"))
                if s and s.get("state") == "leader" and \
                        (best is None or s.get("term", 0) > best[1]["term"]):
                    best = (n, s)
            if best is None:
                return None
            if agree:
                for n in nodes:
                    s = status_or_none(n)
                    if s is None or s.get("leader") != best[1]["name"]:
                        return None
            return best

        try:
            return poll_until(find, timeout, "a leader")
        except PollTimeout as e:
            raise PollTimeout("%s; states (state, term, leader): %r"
                              % (e, seen)) from None

    def followers(self):
        """Live nodes other than the current leader."""
        lead = self.leader()[0]
        return [n for n in self.live() if n is not lead]

    def kill9(self, node):
        """kill -9 by PID and reap; returns the exit status (-9)."""
        return node.kill9()

    def restart(self, node, timeout=JOIN_TIMEOUT, applied=None):
        """Starts a stopped node again without -join (its membership is in
        its log) and waits until it is a member that knows a live leader
        (and, if given, has applied at least `applied`). Returns its
        /status."""
        assert not node.running(), "%s is still running" % node.label
        node.join = None
        node.start()
        name = node.name()

        def back():
            rc = node.proc.poll()
            if rc is not None:
                raise NodeExited("%s exited with %d after a restart\n%s"
                                 % (node.label, rc, node.diagnostics()))
            s = status_or_none(node)
            if s is None or name not in member_map(s) or not s.get("leader"):
                return None
            if s.get("state") not in ("follower", "leader"):
                return None
            if applied is not None and s.get("applied_index", 0) < applied:
                return None
            return s

        return poll_until(back, timeout, "%s back as a member" % node.label)

    def stop_all(self):
        for n in self.nodes:
            n.stop()

    # -- data -----------------------------------------------------------------

    def write(self, key, value, timeout=10.0, nodes=None, method="POST",
              request_timeout=HTTP_TIMEOUT):
        """Retries the write on the live nodes in turn (following 307s, as
        `curl -L`) until one answers 200. Returns (elapsed seconds, every
        (label, status or exception) seen before the 200). A 504 is retried
        too: the same key and value, so a late commit does not matter."""
        t0 = time.monotonic()
        history = []
        i = 0

        def once():
            nonlocal i
            pool = nodes if nodes is not None else self.live()
            if not pool:
                return None
            n = pool[i % len(pool)]
            i += 1
            try:
                st, _, body, _ = request_following(
                    n.port, method, "/db/" + pct(key), value,
                    timeout=request_timeout)
            except TRANSIENT_ERRORS as e:
                history.append((n.label, repr(e)))
                return None
            if st == 200:
                return True
            history.append((n.label, st, body[:80]))
            return None

        try:
            poll_until(once, timeout, "a committed write of %r" % key,
                       interval=0.01)
        except PollTimeout as e:
            raise PollTimeout("%s; answers: %r" % (e, history[-10:])) from None
        return time.monotonic() - t0, history

    def wait_value(self, key, value, nodes=None, timeout=10.0, stale=True):
        """Polls GET /db/key on each node (default: all live) until it
        returns 200 with `value`."""
        for n in (nodes if nodes is not None else self.live()):
            last = []

            def has():
                st, _, body = n.get(key, stale=stale)
                last[:] = [st, body[:100]]
                return st == 200 and body == value
            try:
                poll_until(has, timeout, "%s has %r=%r" % (n.label, key,
                                                           value))
            except PollTimeout as e:
                raise PollTimeout("%s; last GET: %r; its /status: %r; all: %r"
                                  % (e, last, status_or_none(n),
                                     self.brief_statuses())) from None

    def brief_statuses(self):
        """{label: (state, term, leader, commit, applied, last)} of the live
        nodes, for failure messages."""
        out = {}
        for n in self.live():
            s = status_or_none(n)
            out[n.label] = s and tuple(s.get(k) for k in (
                "state", "term", "leader", "commit_index", "applied_index",
                "last_index"))
        return out


# -- test case base and runner --------------------------------------------------


class NodeTestCase(unittest.TestCase):
    """Stops every node a test started (in tearDown, by PID) and keeps their
    stderr for the failure report. Class-level nodes go in cls.class_nodes."""

    class_nodes = []

    def setUp(self):
        self.nodes = []

    def tearDown(self):
        stop_checked(self.nodes, self.failureException)

    @classmethod
    def tearDownClass(cls):
        stop_checked(cls.class_nodes, AssertionError)

    def node(self, **kw):
        """A Node owned by this test (stopped in tearDown), not started."""
        n = Node(**kw)
        self.nodes.append(n)
        return n

    def started_node(self, **kw):
        """A Node owned by this test, started and leader."""
        n = self.node(**kw)
        n.start_and_wait()
        return n

    def cluster(self, size, args=(), label="n"):
        """A started Cluster of `size` nodes owned by this test (its nodes
        are stopped in tearDown and their stderr shown on failure)."""
        return Cluster(args=args, owner=self.nodes, label=label).start(size)

    def assertStatus(self, got, expected, what=""):
        """got is (status, headers, body) or a RawResponse."""
        if isinstance(got, RawResponse):
            st, body = got.status, got.body
        else:
            st, body = got[0], got[2]
        if st != expected:
            raise self.failureException("%sexpected HTTP %d, got %d (body %r)"
                                        % (what + ": " if what else "",
                                           expected, st, body[:300]))


def stop_checked(nodes, exc):
    """Stops every node (SIGTERM, TERM_BOUND each) and raises exc if one
    crashed, hung or exited non-zero: after the last assertion passes, a
    node must still shut down cleanly."""
    problems = [p for p in (n.stop_checked() for n in nodes) if p]
    if problems:
        raise exc("teardown: " + "; ".join(problems))


class _Result(unittest.TextTestResult):
    def _dump(self, test):
        nodes = list(getattr(test, "nodes", [])) + \
            list(getattr(type(test), "class_nodes", []))
        for n in nodes:
            self.stream.write("\n" + n.diagnostics() + "\n")
        self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._dump(test)


def cleanup():
    """Stops every node still running (by PID) and removes temp dirs."""
    for n in _all_nodes:
        try:
            if n.running():
                n.stop(timeout=5)
        except Exception:  # keep cleaning up the others
            pass
    if not _keep_tmp:
        for d in _tmp_dirs:
            shutil.rmtree(d, ignore_errors=True)


def _on_signal(signum, _frame):
    """SIGTERM/SIGINT to the runner (e.g. a CTest timeout): stop every node
    by PID, then exit at once (unittest would catch a SystemExit and go on)."""
    sys.stdout.write("\nsignal %d: stopping nodes and exiting\n" % signum)
    sys.stdout.flush()
    cleanup()
    os._exit(128 + signum)


def main():
    """Parses --bin-dir, runs the calling module's tests, exits 0 or 1."""
    global BIN_DIR
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--bin-dir", required=True)
    args, rest = parser.parse_known_args()
    BIN_DIR = os.path.abspath(args.bin_dir)
    for prog in ("raftd", "raftctl"):
        if not os.access(bin_path(prog), os.X_OK):
            print("missing executable: %s" % bin_path(prog), file=sys.stderr)
            sys.exit(2)
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_Result,
                                     stream=sys.stdout)
    prog = unittest.main(module="__main__", argv=[sys.argv[0]] + rest,
                         testRunner=runner, exit=False)
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    passed = r.testsRun - failed - len(r.skipped)
    line = "%d passed, %d failed" % (passed, failed)
    if r.skipped:
        line += ", %d skipped" % len(r.skipped)
    print(line)
    for test, why in r.skipped:
        print("SKIPPED %s: %s" % (test.id(), why))
    if failed or r.testsRun == 0:
        sys.exit(1)
    # A skipped test is not a pass: CTest shows the file as skipped.
    sys.exit(SKIP_RETURN_CODE if r.skipped else 0)
