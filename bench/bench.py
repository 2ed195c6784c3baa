#!/usr/bin/env python3
"""Side-by-side benchmark of raftd and etcd on loopback (run by bench/run.sh).

Starts a 3-node raftd cluster (HTTP 17001-17003, peers 18001-18003) and a
3-node etcd cluster (v2 API, default fsync; clients 17379/17389/17399, peers
17380/17390/17400), prefills 10k keys in each, then drives both with wrk and
the Lua scripts beside this file: random keys of 10k, 100-byte values.

Scenarios, each run against the leader, raftd and etcd back to back (the
order alternates from one scenario to the next so a drifting load on a
shared machine hits both alike):
    writes at 1, 16, 64 and 256 connections,
    linearizable reads at 64 (raftd GET /db/k, etcd GET ?quorum=true),
    stale reads at 64 (raftd ?consistency=stale, etcd plain GET).
Around every run: CPU seconds of the three nodes (utime+stime from
/proc/PID/stat), fsync+fdatasync calls of each node (perf stat on the
syscall tracepoints; strace -c when perf cannot), the machine's busy share.
Then: the disk's own fsync ceiling (fsync_probe.py), a perf profile of the
raftd leader under 64-connection writes when a goal is missed, each node's
RSS after loading 1M keys, and bench/failover.py (20 leader kills).

Prints the tables and appends them, with the conditions of the run, to
bench/RESULTS.md. Every step has a deadline; every process started here is
stopped by its PID at the end, on errors and on SIGINT/SIGTERM; the data
directories live in one temporary directory that is removed at the end.
Standard library only (plus wrk, etcd, perf/strace as programs).
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import resource
import shutil
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "process"))

import harness  # noqa: E402

RAFTD_HTTP = (17001, 17002, 17003)
RAFTD_PEER = (18001, 18002, 18003)
ETCD_CLIENT = (17379, 17389, 17399)
ETCD_PEER = (17380, 17390, 17400)

SCENARIOS = [  # (id, kind, connections)
    ("w1", "write", 1),
    ("w16", "write", 16),
    ("w64", "write", 64),
    ("w256", "write", 256),
    ("lin64", "lin_read", 64),
    ("stale64", "stale_read", 64),
]
LABELS = {"write": "writes", "lin_read": "linearizable reads",
          "stale_read": "stale reads"}
SCRIPTS = {
    "raftd": {"write": "put.lua", "lin_read": "get.lua",
              "stale_read": "get_stale.lua"},
    "etcd": {"write": "etcd_put.lua", "lin_read": "etcd_get.lua",
             "stale_read": "etcd_get_stale.lua"},
}
SYSTEMS = ("raftd", "etcd")
CLK_TCK = os.sysconf("SC_CLK_TCK")

_procs = []  # every helper process we started (etcd, wrk, perf, strace)
_base_dir = None  # the temporary directory of this run
_keep = False


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# -- processes -------------------------------------------------------------------


def spawn(argv, **kw):
    """Popen that dies with us (PDEATHSIG) and is remembered for cleanup."""
    p = subprocess.Popen(argv, preexec_fn=harness._child_setup, **kw)
    _procs.append(p)
    return p


def stop_proc(p, sig=signal.SIGTERM, timeout=10.0):
    """Signals our own child by PID and reaps it (SIGKILL after timeout)."""
    if p.poll() is not None:
        return p.returncode
    try:
        os.kill(p.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return p.wait(timeout=10)


def cleanup():
    for p in reversed(_procs):
        try:
            stop_proc(p, timeout=5)
        except Exception:  # keep going: stop the others
            pass
    harness.cleanup()
    if _base_dir and not _keep:
        shutil.rmtree(_base_dir, ignore_errors=True)


def on_signal(signum, _frame):
    sys.stdout.write("\nsignal %d: stopping everything we started\n" % signum)
    sys.stdout.flush()
    cleanup()
    os._exit(128 + signum)


# -- /proc ------------------------------------------------------------------------


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), seconds; 0 if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def du_mib(path):
    total = 0
    for dp, _, files in os.walk(path):
        for fn in files:
            try:
                total += os.lstat(os.path.join(dp, fn)).st_size
            except OSError:
                pass
    return total / 1048576.0


def cmd_out(argv, timeout=20):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout,
                              text=True).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return "(%s)" % e


# -- HTTP -------------------------------------------------------------------------


def http(method, port, path, body=None, headers=None, timeout=3.0):
    """(status, headers, body) of one request to 127.0.0.1:port."""
    return harness.http_request(port, method, path, body, headers, timeout)


def poll(fn, timeout, what, interval=0.05):
    return harness.poll_until(fn, timeout, what, interval=interval)


# -- syscall counting (fsync) -------------------------------------------------------

FSYNC_EVENTS = ("syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync")
# Counted alongside: the price of thread hand-offs and of I/O per request.
COST_EVENTS = ("context-switches", "raw_syscalls:sys_enter")


def perf_tracepoints_work():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e",
                        ",".join(FSYNC_EVENTS + COST_EVENTS),
                        "true"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=20)
    return r.returncode == 0 and "not supported" not in r.stderr \
        and re.search(r"^\d+,", r.stderr, re.M) is not None


class FsyncCounter:
    """Counts fsync + fdatasync calls of some processes while running:
    `perf stat` on the syscall tracepoints (no slowdown), or `strace -c`
    (slows the traced process: marked in the results)."""

    method = None  # "perf", "strace" or None

    def __init__(self, pids, tmp):
        self.pids = pids
        self.tmp = tmp
        self.running = []

    def __enter__(self):
        for i, pid in enumerate(self.pids):
            out = os.path.join(self.tmp, "fsync.%d.%d.txt" % (pid, i))
            if FsyncCounter.method == "perf":
                argv = ["perf", "stat", "-x,", "-o", out, "-e",
                        ",".join(FSYNC_EVENTS + COST_EVENTS), "-p", str(pid)]
            elif FsyncCounter.method == "strace":
                argv = ["strace", "-c", "-f", "-e", "trace=fsync,fdatasync",
                        "-o", out, "-p", str(pid)]
            else:
                continue
            self.running.append((pid, spawn(argv, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL), out))
        if self.running:
            time.sleep(0.3)  # let them attach
        return self

    def __exit__(self, *exc):
        self.counts = {}
        for pid, p, out in self.running:
            stop_proc(p, signal.SIGINT, timeout=15)
            self.counts[pid] = self._parse(out)
        return False

    @staticmethod
    def _parse(path):
        """{"fsync": n, "ctx": n, "syscalls": n} (None where not counted)."""
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            return {"fsync": None, "ctx": None, "syscalls": None}
        out = {"fsync": None, "ctx": None, "syscalls": None}
        if FsyncCounter.method == "perf":
            for line in text.splitlines():
                parts = line.split(",")
                if len(parts) < 3 or not parts[0].strip().isdigit():
                    continue
                n = int(parts[0])
                if parts[2] in FSYNC_EVENTS:
                    out["fsync"] = (out["fsync"] or 0) + n
                elif parts[2] == "context-switches":
                    out["ctx"] = n
                elif parts[2] == "raw_syscalls:sys_enter":
                    out["syscalls"] = n
        else:  # strace -c: "% time seconds usecs/call calls errors syscall"
            for line in text.splitlines():
                parts = line.split()
                # calls is the 4th column; errors may be blank
                if len(parts) >= 5 and parts[-1] in ("fsync", "fdatasync") \
                        and parts[3].isdigit():
                    out["fsync"] = (out["fsync"] or 0) + int(parts[3])
            if out["fsync"] is None and "total" in text:
                out["fsync"] = 0
        return out


# -- clusters ---------------------------------------------------------------------


def missing_keys(port, n, path_pattern):
    """Which i in 0..n-1 have no 200 at path_pattern % i on 127.0.0.1:port,
    over one keep-alive connection."""
    conn = harness.http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    missing = []
    try:
        for i in range(n):
            st, _, _ = harness.conn_request(conn, "GET", path_pattern % i)
            if st != 200:
                missing.append(i)
    finally:
        conn.close()
    return missing


class RaftdCluster:
    name = "raftd"

    def __init__(self, args):
        self.cluster = harness.Cluster(args=args, label="raftd")
        self.nodes = []

    def start(self):
        first = self.cluster.new_node(port=RAFTD_HTTP[0],
                                      raft_port=RAFTD_PEER[0])
        first.start_and_wait(timeout=20)
        self.nodes.append(first)
        for i in (1, 2):
            n = self.cluster.new_node(port=RAFTD_HTTP[i],
                                      raft_port=RAFTD_PEER[i])
            self.cluster.add(via=first, node=n, timeout=30)
            self.nodes.append(n)
        return self

    def pids(self):
        return [n.pid for n in self.nodes]

    def leader(self):
        """(http port, pid) of the leader every node agrees on."""
        node, _ = self.cluster.leader(timeout=20, agree=True)
        return node.port, node.pid

    def data_dirs(self):
        return [n.data_dir for n in self.nodes]

    def settle(self, timeout=120):
        """Waits until every node has applied the leader's commit index."""
        port, _ = self.leader()

        def done():
            target = json.loads(http("GET", port, "/status")[2])["commit_index"]
            return all(json.loads(http("GET", n.port, "/status")[2])
                       ["applied_index"] >= target for n in self.nodes)
        poll(done, timeout, "raftd followers caught up", interval=0.2)

    def check_keys(self, n, prefix="k"):
        """Keys of 0..n-1 absent on the leader (stale reads)."""
        return missing_keys(self.leader()[0], n,
                            "/db/%s%%d?consistency=stale" % prefix)

    def put(self, key, value):
        port, _ = self.leader()
        return http("POST", port, "/db/" + key, value, timeout=10)[0]

    def progress(self, port):
        """The leader's commit index (for load progress)."""
        return json.loads(http("GET", port, "/status")[2])["commit_index"]

    def is_leader(self, port):
        """False once the node on `port` says it is not the leader; None
        when it does not answer in time (busy, not evidence)."""
        try:
            return json.loads(http("GET", port, "/status", timeout=2)[2]) \
                ["state"] == "leader"
        except harness.TRANSIENT_ERRORS + (ValueError, KeyError):
            return None

    def describe(self):
        """One line per node: role, term, leader, commit/applied/last index,
        and the last lines of its log, for a load that lost its leader."""
        lines = []
        for n in self.nodes:
            try:
                d = json.loads(http("GET", n.port, "/status", timeout=2)[2])
                lines.append("  port %d: %s term %s leader %s commit %s "
                             "applied %s last %s" % (
                                 n.port, d["state"], d["term"], d["leader"],
                                 d["commit_index"], d["applied_index"],
                                 d["last_index"]))
            except harness.TRANSIENT_ERRORS + (ValueError, KeyError) as e:
                lines.append("  port %d: no status (%r)" % (n.port, e))
            tail = n.stderr_text().strip().splitlines()[-4:]
            lines += ["    " + t for t in tail]
        return "\n".join(lines)

    def stop(self):
        self.cluster.stop_all()


class EtcdCluster:
    name = "etcd"

    def __init__(self, base):
        self.base = base
        self.procs = []
        self.dirs = []

    def start(self):
        initial = ",".join("e%d=http://127.0.0.1:%d" % (i + 1, ETCD_PEER[i])
                           for i in range(3))
        for i in range(3):
            d = os.path.join(self.base, "etcd%d" % (i + 1))
            self.dirs.append(d)
            logf = open(os.path.join(self.base, "etcd%d.log" % (i + 1)), "wb")
            c, p = ETCD_CLIENT[i], ETCD_PEER[i]
            argv = ["etcd", "--name", "e%d" % (i + 1), "--data-dir", d,
                    "--enable-v2=true", "--logger", "zap",
                    "--log-level", "warn",
                    "--listen-client-urls", "http://127.0.0.1:%d" % c,
                    "--advertise-client-urls", "http://127.0.0.1:%d" % c,
                    "--listen-peer-urls", "http://127.0.0.1:%d" % p,
                    "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % p,
                    "--initial-cluster", initial,
                    "--initial-cluster-token", "raftd-bench",
                    "--initial-cluster-state", "new"]
            self.procs.append(spawn(argv, stdin=subprocess.DEVNULL,
                                    stdout=logf, stderr=logf))
            logf.close()
        self.leader(timeout=60)
        return self

    def pids(self):
        return [p.pid for p in self.procs]

    def data_dirs(self):
        return self.dirs

    def leader(self, timeout=20):
        """(client port, pid) of the node whose /v2/stats/self says leader."""
        def find():
            for i, port in enumerate(ETCD_CLIENT):
                if self.procs[i].poll() is not None:
                    raise AssertionError("etcd e%d exited with %d; see %s"
                                         % (i + 1, self.procs[i].returncode,
                                            os.path.join(self.base,
                                                         "etcd%d.log" % (i + 1))))
                try:
                    st, _, body = http("GET", port, "/v2/stats/self")
                except harness.TRANSIENT_ERRORS:
                    continue
                if st == 200 and json.loads(body).get("state") == "StateLeader":
                    h = http("GET", port, "/health")
                    if h[0] == 200:
                        return port, self.procs[i].pid
            return None
        return poll(find, timeout, "an etcd leader", interval=0.1)

    def index(self, port):
        st, hdrs, _ = http("GET", port, "/v2/keys/k0")
        return int(hdrs.get("x-etcd-index", "0"))

    progress = index

    def is_leader(self, port):
        try:
            st, _, body = http("GET", port, "/v2/stats/self", timeout=2)
            return st == 200 and json.loads(body).get("state") == "StateLeader"
        except harness.TRANSIENT_ERRORS + (ValueError,):
            return None

    def describe(self):
        lines = []
        for port in ETCD_CLIENT:
            try:
                st, _, body = http("GET", port, "/v2/stats/self", timeout=2)
                d = json.loads(body)
                lines.append("  port %d: %s, leader %s" % (
                    port, d.get("state"),
                    d.get("leaderInfo", {}).get("leader")))
            except harness.TRANSIENT_ERRORS + (ValueError,) as e:
                lines.append("  port %d: no stats (%r)" % (port, e))
        return "\n".join(lines)

    def settle(self, timeout=120):
        port, _ = self.leader()
        target = self.index(port)
        poll(lambda: all(self.index(p) >= target for p in ETCD_CLIENT),
             timeout, "etcd followers caught up", interval=0.2)

    def check_keys(self, n, prefix="k"):
        return missing_keys(self.leader()[0], n, "/v2/keys/%s%%d" % prefix)

    def put(self, key, value):
        port, _ = self.leader()
        return http("PUT", port, "/v2/keys/" + key, b"value=" + value,
                    {"Content-Type": "application/x-www-form-urlencoded"},
                    timeout=10)[0]

    def stop(self):
        for p in self.procs:
            stop_proc(p)


# -- wrk --------------------------------------------------------------------------


def wrk(port, script, conns, duration, args=(), env=None, stop_when=None,
        max_seconds=None):
    """Runs wrk against 127.0.0.1:port; returns the BENCHJSON dict plus
    "seconds". stop_when(): polled every 0.2 s; when true wrk gets SIGINT
    (it then reports what it did so far)."""
    threads = min(2, conns)
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration,
            "--timeout", "10s", "--latency", "-s", os.path.join(HERE, script),
            "http://127.0.0.1:%d" % port]
    if args:
        argv += ["--"] + [str(a) for a in args]
    e = dict(os.environ)
    e.update(env or {})
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e,
              text=True)
    t0 = time.monotonic()
    limit = (max_seconds or duration) + 30
    if stop_when is not None:
        while p.poll() is None and time.monotonic() - t0 < limit:
            if stop_when():
                os.kill(p.pid, signal.SIGINT)
                break
            time.sleep(0.2)
    try:
        out, _ = p.communicate(timeout=max(5, limit - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        stop_proc(p, signal.SIGKILL)
        raise AssertionError("wrk did not finish: %s" % " ".join(argv))
    seconds = time.monotonic() - t0
    for line in out.splitlines():
        if line.startswith("BENCHJSON "):
            r = json.loads(line[len("BENCHJSON "):])
            r["seconds"] = seconds
            r["text"] = out
            return r
    raise AssertionError("wrk printed no BENCHJSON line (exit %s):\n%s"
                         % (p.returncode, out[-3000:]))


def summarize(r):
    """req/s of 2xx answers, p50/p99 ms, errors (non-2xx + socket errors)."""
    ok = sum(n for code, n in r["statuses"].items() if code.startswith("2"))
    bad_status = sum(n for code, n in r["statuses"].items()
                     if not code.startswith("2"))
    sock = r["connect_errors"] + r["read_errors"] + r["write_errors"] + \
        r["timeouts"]
    dur = r["duration_us"] / 1e6
    return {"ok": ok, "rps": ok / dur if dur else 0.0,
            "p50_ms": r["p50_us"] / 1e3, "p99_ms": r["p99_us"] / 1e3,
            "max_ms": r["max_us"] / 1e3, "errors": bad_status + sock,
            "statuses": r["statuses"], "socket_errors": sock,
            "duration": dur}


def measured_run(cl, kind, conns, duration, tmp):
    """One scenario against cluster cl, with CPU, fsync and load figures."""
    port, leader_pid = cl.leader()
    pids = cl.pids()
    script = SCRIPTS[cl.name][kind]
    la0 = loadavg()
    cpu0 = {pid: cpu_seconds(pid) for pid in pids}
    with FsyncCounter(pids, tmp) as fc:
        m0 = machine_cpu()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = wrk(port, script, conns, duration)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        m1 = machine_cpu()
    cpu1 = {pid: cpu_seconds(pid) for pid in pids}
    s = summarize(r)
    nodes_cpu = sum(cpu1[p] - cpu0[p] for p in pids)
    s.update({
        "load_before": la0, "load_after": loadavg(),
        "cpu_nodes_s": nodes_cpu,
        "cpu_leader_s": cpu1[leader_pid] - cpu0[leader_pid],
        "cpu_s_per_1k": nodes_cpu / (s["ok"] / 1000.0) if s["ok"] else None,
        "machine_busy": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
        # cores used by wrk, and by everything else (other sessions too)
        "wrk_cores": (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime
                      - ru0.ru_stime) / max(1e-9, r["seconds"]),
        "wall_s": r["seconds"],
        "fsync_method": FsyncCounter.method,
    })
    counts = getattr(fc, "counts", {})
    none = {"fsync": None, "ctx": None, "syscalls": None}
    lead = counts.get(leader_pid, none)
    allc = [counts.get(p, none)["fsync"] for p in pids]
    per_k = (lambda n: n / (s["ok"] / 1000.0) if n is not None and s["ok"]
             else None)
    s["fsync_leader"] = lead["fsync"]
    s["fsync_total"] = sum(allc) if allc and None not in allc else None
    s["fsync_leader_per_s"] = (lead["fsync"] / s["duration"]
                               if lead["fsync"] is not None else None)
    s["writes_per_fsync"] = (s["ok"] / lead["fsync"]) \
        if (kind == "write" and lead["fsync"]) else None
    ncpu = os.cpu_count() or 1
    s["other_cores"] = max(0.0, s["machine_busy"] * ncpu - s["wrk_cores"]
                           - nodes_cpu / max(1e-9, r["seconds"]))
    s["ctx_per_req"] = per_k(lead["ctx"]) and per_k(lead["ctx"]) / 1000.0
    s["syscalls_per_req"] = per_k(lead["syscalls"]) and \
        per_k(lead["syscalls"]) / 1000.0
    # the server's own view of the requests that failed, for odd results
    if s["errors"]:
        s["note"] = "statuses %s, socket errors %d" % (
            json.dumps(s["statuses"], sort_keys=True), s["socket_errors"])
    return s


def fill(cl, n, prefix, conns, max_seconds, tmp):
    """Writes keys prefix0..prefix(n-1) with fill.lua; returns the summary
    (wrk stops as soon as every thread has written its slice). When the
    leader moves, the load says so (with every node's state) and starts
    again at the new leader: a follower answers writes with a redirect,
    which wrk does not follow. The keys are written again from the first
    (a put of the same value changes nothing); the bound covers it all."""
    threads = min(2, conns)
    t0 = time.monotonic()
    last = [t0, None]
    moves = 0
    ok_before = 0  # 2xx answers of the loads cut short by a leader change
    while True:
        port, _ = cl.leader()
        mark = os.path.join(tmp, "fill-%s-%s-%d-%d" % (
            cl.name, prefix, time.time(), moves))
        checked = [time.monotonic()]
        moved = [False]

        def done():
            return len(glob.glob(mark + ".*")) >= threads

        def finished():
            now = time.monotonic()
            if now - last[0] >= 30:  # progress, for a load that slows down
                try:
                    i = cl.progress(port)
                    log("%s: index %d after %.0f s%s" % (
                        cl.name, i, now - t0, "" if last[1] is None else
                        " (%.0f/s over the last %.0f s)"
                        % ((i - last[1]) / (now - last[0]), now - last[0])))
                    last[1] = i
                except harness.TRANSIENT_ERRORS + (KeyError,) as e:
                    log("%s: no progress figure: %r" % (cl.name, e))
                last[0] = now
            if now - checked[0] >= 5:
                checked[0] = now
                if cl.is_leader(port) is False:
                    moved[0] = True
                    return True
            return done()
        left = max_seconds - (time.monotonic() - t0)
        r = wrk(port, "fill.lua", conns, max(1, int(left)),
                args=(cl.name, n, threads, prefix),
                env={"BENCH_FILL_MARK": mark}, stop_when=finished,
                max_seconds=max(1, left))
        if not moved[0] or done() or time.monotonic() - t0 >= max_seconds - 5:
            break
        moves += 1
        ok_before += summarize(r)["ok"]
        log("%s: the leader on port %d stepped down after %.0f s of the "
            "load; every node now:\n%s" % (cl.name, port,
                                            time.monotonic() - t0,
                                            cl.describe()))
        log("%s: writing the keys again at the new leader" % cl.name)
    s = summarize(r)
    s["complete"] = done()
    s["wall_s"] = time.monotonic() - t0
    s["leader_moves"] = moves
    s["ok_before"] = ok_before
    return s


def prefill(cl, tmp):
    s = fill(cl, 10000, "k", 64, 120, tmp)
    missing = cl.check_keys(10000)
    for i in missing:  # a write that failed while wrk ran: write it again
        cl.put("k%d" % i, b"x" * 100)
    missing = cl.check_keys(10000)
    if missing:
        raise AssertionError("%s: %d of the 10k keys still missing after the "
                             "prefill (first: %r)" % (cl.name, len(missing),
                                                      missing[:5]))
    log("%s: 10k keys prefilled in %.1f s (%.0f writes/s, %d errors)"
        % (cl.name, s["wall_s"], s["rps"], s["errors"]))


# -- profile ----------------------------------------------------------------------


def profile_leader(cl, duration, tmp):
    """perf record of the raftd leader under 64-connection writes, plus the
    CPU split of the whole machine. Returns text for RESULTS.md."""
    port, pid = cl.leader()
    pids = cl.pids()
    data = os.path.join(tmp, "perf.data")
    tids = {}
    for t in glob.glob("/proc/%d/task/*" % pid):
        try:
            with open(os.path.join(t, "comm")) as f:
                tids[int(os.path.basename(t))] = f.read().strip()
        except OSError:
            pass
    t_cpu0 = {tid: cpu_seconds_task(pid, tid) for tid in tids}
    cpu0 = {p: cpu_seconds(p) for p in pids}
    m0 = machine_cpu()
    rec = spawn(["perf", "record", "-e", "cpu-clock", "-F", "499", "-g",
                 "-p", str(pid), "-o", data],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    r = wrk(port, SCRIPTS["raftd"]["write"], 64, duration)
    stop_proc(rec, signal.SIGINT, timeout=30)
    m1 = machine_cpu()
    cpu1 = {p: cpu_seconds(p) for p in pids}
    t_cpu1 = {tid: cpu_seconds_task(pid, tid) for tid in tids}
    s = summarize(r)
    wall = s["duration"]
    ncpu = os.cpu_count() or 1
    lines = ["Profiled run: raftd leader (pid %d) under 64-connection writes "
             "for %d s (%.0f writes/s under perf, 499 Hz cpu-clock)."
             % (pid, duration, s["rps"], ), ""]
    busy = (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
    lines.append("Machine CPU during the run: %.0f%% busy of %d cores; "
                 "leader %.2f cores, each follower %s cores, rest (wrk, "
                 "perf, other sessions) %.2f cores." % (
                     busy * 100, ncpu, (cpu1[pid] - cpu0[pid]) / wall,
                     " / ".join("%.2f" % ((cpu1[p] - cpu0[p]) / wall)
                                for p in pids if p != pid),
                     busy * ncpu - sum(cpu1[p] - cpu0[p] for p in pids) / wall))
    per_thread = sorted(((t_cpu1.get(t, 0) - t_cpu0.get(t, 0), tids[t], t)
                         for t in tids), reverse=True)
    lines.append("Leader threads (cores): " + ", ".join(
        "%s/%d %.2f" % (name, tid, c / wall) for c, name, tid in per_thread
        if c / wall >= 0.01))
    rep = cmd_out(["perf", "report", "-i", data, "--stdio", "--no-children",
                   "--sort", "dso,symbol", "--percent-limit", "0.7",
                   "-g", "none"], timeout=120)
    top = [tidy(ln) for ln in rep.splitlines() if ln.strip() and
           not ln.startswith("#")][:40]
    lines += ["", "Self time by symbol (perf report --no-children, >= 0.7%):",
              "", "```"] + top + ["```"]
    rep2 = cmd_out(["perf", "report", "-i", data, "--stdio", "--no-children",
                    "--sort", "dso", "-g", "none"], timeout=120)
    top2 = [tidy(ln) for ln in rep2.splitlines() if ln.strip() and
            not ln.startswith("#")][:12]
    lines += ["", "By library:", "", "```"] + top2 + ["```"]
    return "\n".join(lines), s


def tidy(line):
    """A perf report line without its padding and empty trailing columns."""
    line = re.sub(r"(\s+-)+\s*$", "", line.rstrip())
    return re.sub(r"\s{3,}", "  ", line)


def cpu_seconds_task(pid, tid):
    try:
        with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


# -- reporting --------------------------------------------------------------------


def fmt(v, spec="%.0f", none="n/a"):
    return none if v is None else spec % v


def ratio(a, b):
    return a / b if a is not None and b else None


def results_table(res):
    hdr = ("| scenario | raftd req/s | p50 ms | p99 ms | errors | etcd req/s "
           "| p50 ms | p99 ms | errors | raftd/etcd req/s |")
    rows = [hdr, "|" + "---|" * 10]
    for sid, kind, conns in SCENARIOS:
        a, b = res.get(("raftd", sid)), res.get(("etcd", sid))
        if not a or not b:
            continue
        rows.append("| %s at %d | %s | %s | %s | %d | %s | %s | %s | %d | %s |"
                    % (LABELS[kind], conns, fmt(a["rps"]),
                       fmt(a["p50_ms"], "%.2f"), fmt(a["p99_ms"], "%.2f"),
                       a["errors"], fmt(b["rps"]), fmt(b["p50_ms"], "%.2f"),
                       fmt(b["p99_ms"], "%.2f"), b["errors"],
                       fmt(ratio(a["rps"], b["rps"]), "%.2fx")))
    return "\n".join(rows)


def resources_table(res, probe, probe_after=None):
    rows = ["| scenario | system | CPU s / 1k req (3 nodes) | leader CPU s / 1k "
            "| machine busy | leader fsyncs/s | writes per leader fsync "
            "| fsyncs/s, 3 nodes | leader context switches / req "
            "| leader syscalls / req | cores: nodes / wrk / rest of the "
            "machine |", "|" + "---|" * 11]
    for sid, kind, conns in SCENARIOS:
        for sysname in SYSTEMS:
            s = res.get((sysname, sid))
            if not s:
                continue
            rows.append("| %s at %d | %s | %s | %s | %.0f%% | %s | %s | %s "
                        "| %s | %s | %.2f / %.2f / %.2f |" % (
                            LABELS[kind], conns, sysname,
                            fmt(s["cpu_s_per_1k"], "%.3f"),
                            fmt(s["cpu_leader_s"] / (s["ok"] / 1000.0)
                                if s["ok"] else None, "%.3f"),
                            s["machine_busy"] * 100,
                            fmt(s["fsync_leader_per_s"]),
                            fmt(s["writes_per_fsync"], "%.1f", "-"),
                            fmt(s["fsync_total"] / s["duration"]
                                if s["fsync_total"] is not None else None),
                            fmt(s["ctx_per_req"], "%.1f"),
                            fmt(s["syscalls_per_req"], "%.1f"),
                            s["cpu_nodes_s"] / s["wall_s"], s["wrk_cores"],
                            s["other_cores"]))
    for when, p in (("at the start", probe), ("at the end", probe_after)):
        if not p:
            continue
        rows.append("")
        rows.append("Disk ceiling %s (fsync_probe.py, one %d-byte append + "
                    "sync at a time, same disk): fdatasync %.0f/s (p50 %.3f "
                    "ms, p99 %.3f ms); fsync %.0f/s (p50 %.3f ms)." % (
                        when, p["size"], p["fdatasync"]["per_s"],
                        p["fdatasync"]["p50_ms"], p["fdatasync"]["p99_ms"],
                        p["fsync"]["per_s"], p["fsync"]["p50_ms"]))
    return "\n".join(rows)


def goals(res, failover):
    def g(sysname, sid):
        return res.get((sysname, sid))
    out = []

    def line(name, ok, detail):
        out.append("| %s | %s | %s |" % (name, "n/a" if ok is None else
                                         ("**met**" if ok else "**missed**"),
                                         detail))
    a, b = g("raftd", "w64"), g("etcd", "w64")
    if a and b:
        r = ratio(a["rps"], b["rps"])
        line("writes at 64: >= 2x etcd req/s", r is not None and r >= 2,
             "%.2fx (%.0f vs %.0f)" % (r or 0, a["rps"], b["rps"]))
        line("writes at 64: p99 <= etcd's", a["p99_ms"] <= b["p99_ms"],
             "%.2f ms vs %.2f ms" % (a["p99_ms"], b["p99_ms"]))
    a, b = g("raftd", "w1"), g("etcd", "w1")
    if a and b:
        line("writes at 1: p50 <= etcd's", a["p50_ms"] <= b["p50_ms"],
             "%.2f ms vs %.2f ms" % (a["p50_ms"], b["p50_ms"]))
    a, b = g("raftd", "lin64"), g("etcd", "lin64")
    if a and b:
        r = ratio(a["rps"], b["rps"])
        line("linearizable reads at 64: >= 2x etcd quorum reads",
             r is not None and r >= 2, "%.2fx (%.0f vs %.0f)"
             % (r or 0, a["rps"], b["rps"]))
    c = g("etcd", "stale64")
    if a and c:
        r = ratio(a["rps"], c["rps"])
        line("(aim) raftd linearizable reads >= etcd stale reads",
             r is not None and r >= 1, "%.2fx (%.0f vs %.0f)"
             % (r or 0, a["rps"], c["rps"]))
    if failover and failover.get("median") is not None:
        line("failover: median <= 500 ms", failover["median"] <= 0.5,
             "%.0f ms" % (failover["median"] * 1e3))
        line("failover: max <= 1.5 s", failover["max"] <= 1.5,
             "%.0f ms over %d trials" % (failover["max"] * 1e3,
                                         failover["trials"]))
    elif failover is not None:
        line("failover", False, failover.get("error", "did not finish"))
    return ["| goal | result | measured |", "|---|---|---|"] + out


def conditions(args, la_before, la_after, started, finished, probe):
    caf = cmd_out(["dpkg-query", "-W", "-f", "${Version}", "libcaf-dev"])
    etcdv = cmd_out(["etcd", "--version"]).splitlines()
    wrkv = cmd_out(["dpkg-query", "-W", "-f", "${Version}", "wrk"])
    free = cmd_out(["free", "-g"])
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rev = cmd_out(["git", "-C", ROOT, "describe", "--always", "--dirty"])
    binary = os.path.join(args.bin_dir, "raftd")
    try:
        import hashlib
        with open(binary, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        built = datetime.datetime.utcfromtimestamp(
            os.path.getmtime(binary)).strftime("%Y-%m-%d %H:%M")
    except OSError:
        digest, built = "?", "?"
    return "\n".join([
        "- started %s, finished %s (UTC), host `%s`" % (started, finished,
                                                        socket.gethostname()),
        "- machine: nproc %d (%s), kernel %s" % (os.cpu_count(), model,
                                                 platform.release()),
        "- memory (`free -g`):", "", "```", free, "```", "",
        "- raftd: work tree %s (git describe), binary `%s` built %s UTC "
        "(sha256 %s), default flags%s" % (
            rev, binary, built, digest,
            (", env " + " ".join(args.raftd_env)) if args.raftd_env else "")
        + ((", flags " + " ".join(args.raftd_flag)) if args.raftd_flag
           else ""),
        "- CAF %s (libcaf-dev), %s (%s), wrk %s" % (
            caf, etcdv[0] if etcdv else "etcd ?",
            etcdv[-1] if len(etcdv) > 1 else "", wrkv),
        "- etcd: 3 nodes, v2 API (--enable-v2), default fsync and snapshot "
        "count, --logger zap --log-level warn",
        "- %d s per scenario (wrk -t2, -t1 at 1 connection, --timeout 10s), "
        "the two systems back to back in each scenario, the one to go first "
        "alternating; both clusters up during every run; fsync counting: %s"
        % (args.duration, FsyncCounter.method or "unavailable"),
        "- load average (1/5/15 min) before: %s, after: %s; other sessions "
        "share the machine" % (la_before, la_after),
    ])


# -- failover ---------------------------------------------------------------------


def run_failover(args):
    argv = [sys.executable, os.path.join(HERE, "failover.py"), "--bin-dir",
            args.bin_dir, "--trials", str(args.failover_trials),
            "--max-seconds", str(args.failover_max_seconds)]
    log("failover: %s" % " ".join(argv))
    try:
        p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                  text=True)
        out, _ = p.communicate(timeout=args.failover_max_seconds + 120)
    except subprocess.TimeoutExpired:
        stop_proc(p)
        return {"error": "failover.py did not finish in time", "text": ""}
    sys.stdout.write(out)
    m = re.search(r"failover over (\d+) trials: min ([\d.]+) s, median "
                  r"([\d.]+) s, p90 ([\d.]+) s, max ([\d.]+) s", out)
    if not m:
        return {"error": "failover.py exited %d without a summary"
                % p.returncode, "text": out}
    return {"trials": int(m.group(1)), "min": float(m.group(2)),
            "median": float(m.group(3)), "p90": float(m.group(4)),
            "max": float(m.group(5)), "summary": m.group(0),
            "exit": p.returncode, "text": out}


# -- main -------------------------------------------------------------------------


def run_probe():
    """fsync_probe.py on the disk of the data directories (2 s per mode)."""
    try:
        probe = json.loads(cmd_out([sys.executable,
                                    os.path.join(HERE, "fsync_probe.py"),
                                    "--dir", _base_dir, "--seconds", "2",
                                    "--json"], timeout=60))
    except ValueError:
        return None
    log("disk: fdatasync %.0f/s p50 %.3f ms; fsync %.0f/s p50 %.3f ms"
        % (probe["fdatasync"]["per_s"], probe["fdatasync"]["p50_ms"],
           probe["fsync"]["per_s"], probe["fsync"]["p50_ms"]))
    return probe


def check_ports():
    busy = [p for p in RAFTD_HTTP + RAFTD_PEER + ETCD_CLIENT + ETCD_PEER
            if not harness.bindable(p, reuse=True)]
    if busy:
        raise SystemExit("bench: loopback ports in use: %s (another bench "
                         "run?)" % busy)


def main():
    global _base_dir, _keep
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--duration", type=int, default=10,
                    help="seconds per scenario and system (default 10)")
    ap.add_argument("--rss-keys", type=int, default=1000000,
                    help="keys to load for the RSS figure, 0 to skip "
                    "(default 1000000)")
    ap.add_argument("--rss-max-seconds", type=int, default=400,
                    help="bound of each system's bulk load (default 400)")
    ap.add_argument("--failover-trials", type=int, default=20,
                    help="leader kills, 0 to skip (default 20)")
    ap.add_argument("--failover-max-seconds", type=int, default=600)
    ap.add_argument("--profile", choices=("auto", "always", "never"),
                    default="auto", help="perf profile of the raftd leader: "
                    "when a goal is missed (auto), always or never")
    ap.add_argument("--scenarios", default=",".join(s[0] for s in SCENARIOS),
                    help="subset, e.g. w1,w64,lin64")
    ap.add_argument("--systems", default="raftd,etcd")
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"),
                    help="file to append to ('' for none)")
    ap.add_argument("--raftd-env", action="append", default=[],
                    help="KEY=VALUE for the raftd processes, e.g. "
                    "RAFTD_SCHEDULER_POLICY=stealing")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (data, logs)")
    ap.add_argument("--raftd-flag", action="append", default=[],
                    help="extra raftd flags, repeatable, e.g. "
                    "--raftd-flag='-snapshot-entries 0'")
    args = ap.parse_args()
    if not 1 <= args.duration <= 600:
        ap.error("--duration must be 1..600")
    if not 0 <= args.rss_keys <= 10000000:
        ap.error("--rss-keys must be 0..10M")
    wanted = set(args.scenarios.split(","))
    systems = [s for s in SYSTEMS if s in args.systems.split(",")]
    _keep = args.keep
    args.bin_dir = os.path.abspath(args.bin_dir)
    harness.BIN_DIR = args.bin_dir
    for kv in args.raftd_env:
        k, _, v = kv.partition("=")
        os.environ[k] = v

    import atexit
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    check_ports()
    _base_dir = tempfile.mkdtemp(prefix="raftd-bench-")
    tempfile.tempdir = _base_dir  # harness puts node dirs and logs in here
    tmp = os.path.join(_base_dir, "tmp")
    os.makedirs(tmp)
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
    la_before = loadavg()
    log("load average %s; data in %s" % (la_before, _base_dir))

    FsyncCounter.method = "perf" if perf_tracepoints_work() else \
        ("strace" if shutil.which("strace") else None)
    log("fsync counting: %s" % FsyncCounter.method)

    probe = run_probe()
    clusters = {}
    if "raftd" in systems:
        flags = []
        for v in args.raftd_flag:
            flags += shlex.split(v)
        clusters["raftd"] = RaftdCluster(flags).start()
        log("raftd cluster up: pids %s, leader %s" % (
            clusters["raftd"].pids(), clusters["raftd"].leader()))
    if "etcd" in systems:
        os.makedirs(os.path.join(_base_dir, "etcd"))
        clusters["etcd"] = EtcdCluster(os.path.join(_base_dir, "etcd")).start()
        log("etcd cluster up: pids %s, leader %s" % (
            clusters["etcd"].pids(), clusters["etcd"].leader()))
    for cl in clusters.values():
        prefill(cl, tmp)
    rss_start = {name: [rss_mib(p) for p in cl.pids()]
                 for name, cl in clusters.items()}

    res = {}
    order = list(systems)
    for sid, kind, conns in SCENARIOS:
        if sid not in wanted:
            continue
        for name in order:
            s = measured_run(clusters[name], kind, conns, args.duration, tmp)
            res[(name, sid)] = s
            log("%-5s %-18s c=%-3d %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  "
                "errors %d  CPU %.3f s/1k  leader fsyncs/s %s  load %s"
                % (name, LABELS[kind], conns, s["rps"], s["p50_ms"],
                   s["p99_ms"], s["errors"], s["cpu_s_per_1k"] or 0,
                   fmt(s["fsync_leader_per_s"]), s["load_after"]))
        order.reverse()

    # Goals so far (failover comes later): profile when one is missed.
    profile_text = None
    missed = any("**missed**" in g for g in goals(res, None))
    if "raftd" in clusters and (args.profile == "always" or
                                (args.profile == "auto" and missed)):
        if shutil.which("perf"):
            log("profiling the raftd leader under 64-connection writes")
            try:
                profile_text, _ = profile_leader(clusters["raftd"],
                                                 args.duration, tmp)
            except Exception as e:  # a missing profile must not lose the run
                profile_text = "profile failed: %r" % e
        else:
            profile_text = "perf is not installed: no profile"

    rss = {}
    if args.rss_keys:
        for name, cl in clusters.items():
            log("%s: loading %d keys for the RSS figure (at most %d s)"
                % (name, args.rss_keys, args.rss_max_seconds))
            cpu0 = sum(cpu_seconds(p) for p in cl.pids())
            s = fill(cl, args.rss_keys, "m", 64, args.rss_max_seconds, tmp)
            cpu1 = sum(cpu_seconds(p) for p in cl.pids())
            try:
                cl.settle(timeout=120)
            except AssertionError as e:
                log("%s: followers not caught up: %s" % (name, e))
            time.sleep(1.0)
            try:
                entries = cl.progress(cl.leader()[0])
            except harness.TRANSIENT_ERRORS + (KeyError,):
                entries = None
            rss[name] = {"rss": [rss_mib(p) for p in cl.pids()],
                         "entries": entries,
                         "loaded": s["ok"], "complete": s["complete"],
                         "rps": s["rps"], "wall_s": s["wall_s"],
                         "errors": s["errors"],
                         "leader_moves": s["leader_moves"],
                         "ok_before": s["ok_before"],
                         # every load's writes: a restarted load's CPU
                         # counts too
                         "cpu_s_per_1k": (cpu1 - cpu0)
                         / ((s["ok"] + s["ok_before"]) / 1000.0)
                         if s["ok"] + s["ok_before"] else None,
                         "disk": [du_mib(d) for d in cl.data_dirs()]}
            log("%s: %d keys in %.0f s (%.0f/s); RSS MiB %s; disk MiB %s"
                % (name, s["ok"], s["wall_s"], s["rps"],
                   ["%.0f" % (x or 0) for x in rss[name]["rss"]],
                   ["%.0f" % x for x in rss[name]["disk"]]))

    for cl in clusters.values():
        cl.stop()
    probe_after = run_probe()  # the disk is shared too: once more at the end

    failover = None
    if args.failover_trials and "raftd" in systems:
        failover = run_failover(args)

    la_after = loadavg()
    finished = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")

    # -- the report ---------------------------------------------------------
    parts = ["## %s UTC: raftd vs etcd, 3 nodes each" % started, "",
             conditions(args, la_before, la_after, started, finished, probe),
             "", "### Throughput and latency (req/s counts 2xx answers; "
             "errors are non-2xx answers and socket errors)", "",
             results_table(res), "",
             "### Cost: CPU, fsyncs", "",
             resources_table(res, probe, probe_after), ""]
    notes = ["- %s %s: %s" % (name, sid, s["note"])
             for (name, sid), s in sorted(res.items()) if s.get("note")]
    if notes:
        parts += ["Errors seen:", ""] + notes + [""]
    if rss:
        parts += ["### Memory after %d keys (100-byte values)" % args.rss_keys,
                  "", "| system | keys written | load rate | CPU s / 1k "
                  "writes | RSS per node, MiB (at 10k keys) | RSS per node, "
                  "MiB (after the load) | log index (all writes so far) "
                  "| data dir per node, MiB |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, r in rss.items():
            parts.append("| %s | %d%s%s | %.0f/s | %s | %s | %s | %s | %s |" % (
                name, r["loaded"], "" if r["complete"] else " (time bound hit)",
                "" if not r["leader_moves"] else " (the leader moved %d "
                "time(s); %d writes went to the old leader(s) first, then "
                "the load started again at the new one)"
                % (r["leader_moves"], r["ok_before"]),
                r["rps"], fmt(r["cpu_s_per_1k"], "%.3f"),
                " / ".join(fmt(x) for x in rss_start.get(name, [])),
                " / ".join(fmt(x) for x in r["rss"]), fmt(r["entries"]),
                " / ".join("%.0f" % x for x in r["disk"])))
        parts.append("")
    if failover is not None:
        parts += ["### Failover (bench/failover.py, kill -9 of the leader, "
                  "default timeouts)", "",
                  failover.get("summary") or failover.get("error", ""), ""]
    parts += ["### Goals", ""] + goals(res, failover) + [""]
    if profile_text:
        parts += ["### Profile of the raftd leader", "", profile_text, ""]
    report = "\n".join(parts)
    print()
    print(report)
    if args.results:
        new = not os.path.exists(args.results)
        with open(args.results, "a") as f:
            if new:
                f.write("# Benchmark results\n\nAppended by `bench/run.sh`, "
                        "newest last. See README.md, \"Benchmarks\".\n\n")
            f.write(report + "\n")
        log("appended to %s" % args.results)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (AssertionError, harness.PollTimeout) as e:
        print("bench: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
