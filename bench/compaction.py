#!/usr/bin/env python3
"""Compaction benchmark (issue 12: "bounded by its data, not its history"):
raftd and etcd 3.4 (v2 API, as bench.py runs it) side by side in one run.

    python3 bench/compaction.py [--bin-dir build] [--parts soak,restart,join]
        [--systems raftd,etcd] [--soak-seconds 600] [--etcd-soak-seconds N]
        [--join-keys 1000000] [--raftd-flag '-snapshot-entries 10000' ...]
        [--results [FILE]]

Parts (--parts, any subset; each system in turn, raftd first):

soak      3 nodes, 10k keys prefilled, then wrk -t2 -c64 (put.lua /
          etcd_put.lua: random keys of the same 10k, 100-byte values) against
          the leader for --soak-seconds, one wrk run without gaps. Every 5 s:
          the leader's commit index (raftd /status commit_index, etcd
          X-Etcd-Index), so writes/s per 5 s window come from the server's count
          of committed writes (plus the odd no-op or configuration entry; the
          report compares the total with wrk's 2xx count); each node's RSS
          (/proc VmRSS) and data directory size (apparent bytes, as bench.py).
          Reported: RSS and disk at 1 min and at the end, first- vs last-minute
          throughput, the lowest 5 s window against the median, and raftd's
          /status compaction fields at the end (n/a when the binary has none).
          Soaks shorter than 4 min use a quarter of the soak for "1 min".
restart   On the soak's data (a fresh prefilled cluster without soak): kill -9
          of one follower and start again (same data dir, flags), time from
          exec to the first 200 of GET /db/k0?consistency=stale on it (etcd: GET
          /v2/keys/k0, a local read); then kill -9 of all three, start all
          three, time from the first exec to the first 200 of a write (tried on
          each node in turn, 307s followed). Each --restart-trials times (3).
join      A fresh 3-node cluster filled with --join-keys distinct keys j0.. and
          then jlast (100-byte values), then a 4th node with -join <leader's
          HTTP address> and an empty data dir (HTTP 17004, peer 18004): time
          from exec to a 200 for GET /db/jlast?consistency=stale on it; its
          /status first_index/last_index, the size of its kv directory and
          that over the time (MB/s); a sample of 200 keys read on it. etcd:
          POST /v2/members (peer 17410), then etcd --initial-cluster-state
          existing (client 17409); time from the member add and from exec to a
          200 for GET /v2/keys/jlast on it. Plus the disk's sequential write
          rate: dd bs=1M conv=fdatasync in the same temporary directory.

A default run (two 600 s soaks, restarts, two fills of 1M keys) takes about
30 minutes on 2 cores; progress lines go to stdout as it runs.

The raftd binary is copied into the temporary directory once it has not
changed for 10 s (another build may replace it during the run); every raftd
process of the run uses that copy. Everything is bounded (--max-seconds for
the whole run, a deadline for every wait), every process started here is
stopped by its PID (at the end, on errors, on SIGINT/SIGTERM and at the
deadline), and the temporary directory is removed (--keep keeps it).
Prints the tables; appends them with the conditions to bench/RESULTS.md only
with --results. Standard library only (plus wrk, etcd, dd as programs).
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench  # noqa: E402  (also puts tests/process on sys.path)

harness = bench.harness

PARTS = ("soak", "restart", "join")
SAMPLE_S = 5  # seconds between soak samples
VALUE = b"x" * 100  # the value every script here writes (lib.lua's default)
KNOWN_KEY = "k0"  # prefilled, read after restarts
RAFTD_JOIN_HTTP, RAFTD_JOIN_PEER = 17004, 18004
ETCD_JOIN_CLIENT, ETCD_JOIN_PEER = 17409, 17410
STATUS_KEYS = ("state", "commit_index", "applied_index", "last_index",
               "snapshot_index", "snapshot_term", "first_index",
               "snapshots_installed", "snapshots_sent")


def log(msg):
    print("[compaction %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


fmt = bench.fmt


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def status_of(port, timeout=1.0):
    """GET /status of a raftd node as a dict, or None."""
    try:
        st, _, body = bench.http("GET", port, "/status", timeout=timeout)
        return json.loads(body) if st == 200 else None
    except harness.TRANSIENT_ERRORS:
        return None


def brief(status):
    return {k: status.get(k) for k in STATUS_KEYS} if status else None


# -- the raftd binary ---------------------------------------------------------


def stable_binary(bin_dir, dest_dir, timeout):
    """Waits until bin_dir/raftd exists, has not changed for 10 s and prints
    its usage, then copies it to dest_dir. Returns (copy dir, sha256, mtime,
    -help text)."""
    src = os.path.join(bin_dir, "raftd")
    deadline = time.monotonic() + timeout
    last, said = None, time.monotonic() - 25  # first word after 5 s
    while True:
        try:
            st = os.stat(src)
            sig = (st.st_size, st.st_mtime_ns)
        except OSError:
            st, sig = None, None
        if st and os.access(src, os.X_OK) and time.time() - st.st_mtime >= 10 \
                and sig == last:
            os.makedirs(dest_dir, exist_ok=True)
            dst = os.path.join(dest_dir, "raftd")
            shutil.copy2(src, dst)
            with open(dst, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()[:12]
            try:
                st2 = os.stat(src)
                same = (st2.st_size, st2.st_mtime_ns) == sig
                r = subprocess.run([dst, "-help"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=10,
                                   text=True, errors="replace")
                usage = r.stdout
            except (OSError, subprocess.TimeoutExpired) as e:
                same, usage = False, repr(e)
            if same and "Usage" in usage:
                return dest_dir, digest, st.st_mtime, usage
        last = sig
        now = time.monotonic()
        if now >= deadline:
            raise SystemExit("compaction: no finished %s within %d s"
                             % (src, timeout))
        if now - said >= 30:
            log("waiting for %s (missing, being rebuilt or just written)"
                % src)
            said = now
        time.sleep(2)


def parse_flags(values):
    """--raftd-flag values ("-snapshot-entries 10000" or
    "-snapshot-entries=10000") as one argv list."""
    out = []
    for v in values:
        out += shlex.split(v)
    return out


# -- soak -----------------------------------------------------------------------


def soak(cl, seconds, tmp):
    """wrk -t2 -c64 writes to the 10k keys for `seconds`, sampled every 5 s.
    Returns {"samples": [...], "wrk": summary}."""
    port, _ = cl.leader()
    pids = cl.pids()
    dirs = cl.data_dirs()
    raftd = cl.name == "raftd"
    samples = []

    def sample(t0):
        try:
            idx = cl.progress(port)
        except harness.TRANSIENT_ERRORS + (KeyError,):
            idx = None
        t = time.monotonic() - t0
        s = {"t": t, "index": idx,
             "rss": [bench.rss_mib(p) for p in pids],
             "disk": [bench.du_mib(d) for d in dirs]}
        if raftd:
            s["status"] = [brief(status_of(n.port)) for n in cl.nodes]
        samples.append(s)
        return s

    t0 = time.monotonic()
    sample(t0)
    k = [1]
    last_log = [0.0]

    def tick():
        now = time.monotonic() - t0
        if now < k[0] * SAMPLE_S:
            return False
        k[0] += 1
        s = sample(t0)
        if s["t"] - last_log[0] >= 30 or s["t"] >= seconds:
            prev = [p for p in samples if p["t"] <= s["t"] - 29.9]
            prev = prev[-1] if prev else samples[0]
            rate = (s["index"] - prev["index"]) / (s["t"] - prev["t"]) \
                if s["index"] is not None and prev["index"] is not None \
                else None
            extra = ""
            if raftd and s["status"][0]:
                extra = "; node 1 snapshot_index %s first_index %s" % (
                    s["status"][0].get("snapshot_index"),
                    s["status"][0].get("first_index"))
            log("%s soak %3.0f s of %d: %s writes/s over the last %.0f s; "
                "RSS MiB %s; disk MiB %s%s" % (
                    cl.name, s["t"], seconds, fmt(rate), s["t"] - prev["t"],
                    " / ".join(fmt(x) for x in s["rss"]),
                    " / ".join(fmt(x) for x in s["disk"]), extra))
            last_log[0] = s["t"]
        return s["t"] >= seconds  # true: wrk gets SIGINT and reports

    # wrk runs 5 s longer than the soak and is stopped right after the last
    # sample, so every window has writes in flight.
    r = bench.wrk(port, bench.SCRIPTS[cl.name]["write"], 64, seconds + 5,
                  stop_when=tick, max_seconds=seconds + 5)
    return {"samples": samples, "wrk": bench.summarize(r)}


def one_minute(seconds):
    """The "1 min" mark: 60 s, or a quarter of a soak shorter than 4 min (a
    multiple of the sampling interval)."""
    if seconds >= 240:
        return 60
    return max(SAMPLE_S, int(seconds / 4 / SAMPLE_S) * SAMPLE_S)


def at(samples, t):
    return min(samples, key=lambda s: abs(s["t"] - t))


def rate(a, b):
    if a["index"] is None or b["index"] is None or b["t"] <= a["t"]:
        return None
    return (b["index"] - a["index"]) / (b["t"] - a["t"])


def soak_figures(res, seconds):
    sm = res["samples"]
    w = one_minute(seconds)
    s0, s1, end = sm[0], at(sm, w), sm[-1]
    first = rate(s0, s1)
    last = rate(at(sm, end["t"] - w), end)
    windows = [(b["t"], rate(a, b)) for a, b in zip(sm, sm[1:])]
    windows = [(t, r) for t, r in windows if r is not None]
    med = median([r for _, r in windows])
    low = min(windows, key=lambda x: x[1]) if windows else (None, None)
    per_node = []
    for i in range(len(end["rss"])):
        per_node.append({
            "rss1": s1["rss"][i], "rss_end": end["rss"][i],
            "rss_ratio": bench.ratio(end["rss"][i], s1["rss"][i]),
            "disk1": s1["disk"][i], "disk_end": end["disk"][i],
            "disk_ratio": bench.ratio(end["disk"][i], s1["disk"][i])})
    idx_delta = (end["index"] - s0["index"]) \
        if end["index"] is not None and s0["index"] is not None else None
    return {"w": w, "t1": s1["t"], "t_end": end["t"], "first": first,
            "last": last, "last_share": bench.ratio(last, first),
            "median": med, "low": low[1], "low_t": low[0],
            "low_share": bench.ratio(low[1], med), "nodes": per_node,
            "windows": len(windows), "idx_delta": idx_delta,
            "status_end": end.get("status")}


# -- restart --------------------------------------------------------------------


def poll_get(port, path, t0, timeout, what, value_len=None):
    """Polls GET path on port until it answers 200 (with a body of value_len
    bytes if given: raftd answers the value itself, etcd a JSON node).
    Returns (seconds from t0 to that 200, seconds from t0 to the first HTTP
    answer of any status: the process listens and parses)."""
    first = []

    def ok():
        st, _, body = bench.http("GET", port, path, timeout=5.0)
        if not first:
            first.append(time.monotonic() - t0)
        return st == 200 and (value_len is None or len(body) == value_len)
    bench.poll(ok, timeout, what, interval=0.005)
    return time.monotonic() - t0, first[0]


def first_write(targets, method, path, body, headers, t0, timeout):
    """Writes through every port at once (one thread each, requests in a
    loop, 5 s socket timeout, so a request the node holds until it is ready
    counts when it is answered) until one answers 2xx. Without headers
    (raftd) 307s are followed as `curl -L` does; etcd forwards a follower's
    write itself. Returns (seconds from t0 to the first 2xx, its port,
    the answers seen before it)."""
    import threading
    done = threading.Event()
    lock = threading.Lock()
    seen, won = [], []
    deadline = time.monotonic() + timeout

    def probe(port):
        while not done.is_set() and time.monotonic() < deadline:
            try:
                if headers is None:
                    st = harness.request_following(port, method, path, body,
                                                   timeout=5.0)[0]
                else:
                    st = bench.http(method, port, path, body, headers,
                                    timeout=5.0)[0]
            except harness.TRANSIENT_ERRORS as e:
                st = type(e).__name__
            with lock:
                if done.is_set():
                    return
                if isinstance(st, int) and 200 <= st < 300:
                    won.append((time.monotonic() - t0, port))
                    done.set()
                    return
                seen.append(st)
            time.sleep(0.005)
    threads = [threading.Thread(target=probe, args=(p,), daemon=True)
               for p in targets]
    for th in threads:
        th.start()
    done.wait(timeout)
    done.set()
    for th in threads:  # a request in flight ends within its 5 s timeout
        th.join(6)
    if not won:
        raise harness.PollTimeout("no write answered 2xx within %.0f s "
                                  "(answers: %s)" % (timeout,
                                                     seen_text(seen)))
    return won[0][0], won[0][1], seen


def seen_text(seen):
    counts = {}
    for s in seen:
        counts[str(s)] = counts.get(str(s), 0) + 1
    return ", ".join("%s x%d" % kv for kv in sorted(counts.items())) or "none"


def raftd_back(cl, node, timeout=60):
    """Waits until a restarted node is a member that knows a leader."""
    def back():
        if not node.running():
            raise AssertionError("%s exited after a restart\n%s"
                                 % (node.label, node.diagnostics()))
        s = status_of(node.port)
        return s and s.get("leader") and s.get("state") in ("follower",
                                                            "leader")
    bench.poll(back, timeout, "%s back as a member" % node.label,
               interval=0.05)


def raftd_restarts(cl, trials, timeout):
    out = {"follower": [], "follower_first": [], "all": [],
           "notes": []}
    for i in range(trials):
        cl.settle(timeout=120)
        node = cl.cluster.followers()[0]
        node.kill9()
        node.join = None  # the membership is in its log
        t0 = time.monotonic()
        node.start()
        dt, first = poll_get(node.port, "/db/%s?consistency=stale"
                             % KNOWN_KEY, t0, timeout,
                             "a stale read on the restarted follower",
                             len(VALUE))
        out["follower"].append(dt)
        out["follower_first"].append(first)
        log("raftd follower restart %d/%d (%s): %.0f ms to a stale read "
            "(first HTTP answer at %.0f ms)" % (i + 1, trials, node.label,
                                                dt * 1e3, first * 1e3))
        raftd_back(cl, node)
    for i in range(trials):
        cl.settle(timeout=120)
        for n in cl.nodes:
            n.kill9()
        t0 = time.monotonic()
        for n in cl.nodes:
            n.join = None
            n.start()
        dt, port, seen = first_write([n.port for n in cl.nodes], "POST",
                                     "/db/" + KNOWN_KEY, VALUE, None, t0,
                                     timeout)
        out["all"].append(dt)
        out["notes"].append("all-three restart %d: first write at port %d; "
                            "answers before it: %s" % (i + 1, port,
                                                       seen_text(seen)))
        log("raftd restart of all three %d/%d: %.0f ms to a write (answers "
            "before it: %s)" % (i + 1, trials, dt * 1e3, seen_text(seen)))
        for n in cl.nodes:
            raftd_back(cl, n)
    cl.settle(timeout=120)
    return out


def etcd_respawn(cl, i, old):
    logf = open(os.path.join(cl.base, "etcd%d.log" % (i + 1)), "ab")
    try:
        p = bench.spawn(old.args, stdin=subprocess.DEVNULL, stdout=logf,
                        stderr=logf)
    finally:
        logf.close()
    cl.procs[i] = p
    return p


def etcd_restarts(cl, trials, timeout):
    out = {"follower": [], "follower_first": [], "all": [],
           "notes": []}
    for i in range(trials):
        cl.settle(timeout=120)
        lport, _ = cl.leader()
        j = [k for k, p in enumerate(bench.ETCD_CLIENT) if p != lport][0]
        old = cl.procs[j]
        bench.stop_proc(old, signal.SIGKILL)
        t0 = time.monotonic()
        etcd_respawn(cl, j, old)
        dt, first = poll_get(bench.ETCD_CLIENT[j], "/v2/keys/%s" % KNOWN_KEY,
                             t0, timeout,
                             "a read on the restarted etcd follower")
        out["follower"].append(dt)
        out["follower_first"].append(first)
        log("etcd follower restart %d/%d (e%d): %.0f ms to a read (first "
            "HTTP answer at %.0f ms)" % (i + 1, trials, j + 1, dt * 1e3,
                                         first * 1e3))
        cl.leader(timeout=60)
    for i in range(trials):
        cl.settle(timeout=120)
        olds = list(cl.procs)
        for p in olds:
            bench.stop_proc(p, signal.SIGKILL)
        t0 = time.monotonic()
        for j, p in enumerate(olds):
            etcd_respawn(cl, j, p)
        dt, port, seen = first_write(
            list(bench.ETCD_CLIENT), "PUT", "/v2/keys/" + KNOWN_KEY,
            b"value=" + VALUE,
            {"Content-Type": "application/x-www-form-urlencoded"}, t0,
            timeout)
        out["all"].append(dt)
        out["notes"].append("all-three restart %d: first write at port %d; "
                            "answers before it: %s" % (i + 1, port,
                                                       seen_text(seen)))
        log("etcd restart of all three %d/%d: %.0f ms to a write (answers "
            "before it: %s)" % (i + 1, trials, dt * 1e3, seen_text(seen)))
        cl.leader(timeout=60)
    cl.settle(timeout=120)
    return out


# -- join -----------------------------------------------------------------------


def dd_rate(directory, mib):
    """Sequential write rate of the disk under directory: dd of `mib` MiB of
    zeros with conv=fdatasync. Returns (MB/s, seconds) or (None, text)."""
    path = os.path.join(directory, "dd.tmp")
    t0 = time.monotonic()
    try:
        r = subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=1M",
                            "count=%d" % mib, "conv=fdatasync"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=300,
                           preexec_fn=harness._child_setup)
        dt = time.monotonic() - t0
        if r.returncode != 0:
            return None, r.stdout.strip()[-200:]
        return mib * 1048576 / 1e6 / dt, dt
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, repr(e)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def filled(cl, n, conns, max_seconds, tmp):
    """n keys j0.. then jlast; returns the fill summary."""
    log("%s: writing %d keys (j0..j%d, %d connections, at most %d s)"
        % (cl.name, n, n - 1, conns, max_seconds))
    s = bench.fill(cl, n, "j", conns, max_seconds, tmp)
    st = cl.put("jlast", VALUE)
    if st not in (200, 201):
        raise AssertionError("%s: the write of jlast answered %d"
                             % (cl.name, st))
    log("%s: %d keys in %.0f s (%.0f/s)%s; jlast written" % (
        cl.name, s["ok"] + s["ok_before"], s["wall_s"],
        (s["ok"] + s["ok_before"]) / max(1e-9, s["wall_s"]),
        "" if s["complete"] else " (time bound hit)"))
    cl.settle(timeout=300)
    return s


def sample_keys(port, n, path_pattern, count=200):
    """How many of `count` random keys j<i> (i < n) do not answer 200."""
    conn = harness.http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    missing = 0
    try:
        for i in random.sample(range(n), min(n, count)):
            st, _, _ = harness.conn_request(conn, "GET", path_pattern % i)
            missing += st != 200
    finally:
        conn.close()
    return missing, min(n, count)


def raftd_join(args, flags, tmp):
    cl = bench.RaftdCluster(flags).start()
    log("raftd join cluster up: pids %s" % cl.pids())
    try:
        fill = filled(cl, args.join_keys, args.fill_conns,
                      args.join_fill_seconds, tmp)
        lport, _ = cl.leader()
        lead0 = brief(status_of(lport))
        node = cl.cluster.new_node(join="127.0.0.1:%d" % lport,
                                   port=RAFTD_JOIN_HTTP,
                                   raft_port=RAFTD_JOIN_PEER, label="raftd4")
        log("raftd: starting a 4th node with -join 127.0.0.1:%d" % lport)
        t0 = time.monotonic()
        node.start()

        def served():
            if not node.running():
                raise AssertionError("the joining node exited\n%s"
                                     % node.diagnostics())
            st, _, body = bench.http("GET", node.port,
                                     "/db/jlast?consistency=stale",
                                     timeout=2.0)
            return st == 200 and body == VALUE
        bench.poll(served, args.join_wait_seconds,
                   "jlast served by the joining node", interval=0.01)
        dt = time.monotonic() - t0
        st4 = brief(status_of(node.port, timeout=5))
        # After an install the live kv directory is the one kv-current names.
        try:
            with open(os.path.join(node.data_dir, "kv-current")) as f:
                live = f.read().strip()
        except OSError:
            live = "kv"
        kv = bench.du_mib(os.path.join(node.data_dir, live)) * 1048576
        total = bench.du_mib(node.data_dir) * 1048576
        log("raftd: the 4th node served jlast %.2f s after exec; kv dir "
            "%.1f MB; /status %s" % (dt, kv / 1e6, st4))
        missing, checked = sample_keys(node.port, fill_count(fill, args),
                                       "/db/j%d?consistency=stale")
        lead1 = brief(status_of(cl.leader()[0], timeout=5))
        return {"keys": args.join_keys, "fill": fill, "seconds": dt,
                "kv_bytes": kv, "dir_bytes": total, "status": st4,
                "leader_before": lead0, "leader_after": lead1,
                "missing": missing, "checked": checked,
                "dirs_mib": [bench.du_mib(d) for d in cl.data_dirs()]}
    finally:
        cl.stop()


def fill_count(fill, args):
    """The range of keys surely written (all of them when the fill was
    complete; else a sample over all would count unwritten keys)."""
    return args.join_keys if fill["complete"] else 0


def set_arg(argv, flag, value):
    argv = list(argv)
    argv[argv.index(flag) + 1] = value
    return argv


def etcd_join(args, base, tmp):
    os.makedirs(base)
    cl = bench.EtcdCluster(base).start()
    log("etcd join cluster up: pids %s" % cl.pids())
    p4 = None
    try:
        fill = filled(cl, args.join_keys, args.fill_conns,
                      args.join_fill_seconds, tmp)
        lport, _ = cl.leader()
        peer4 = "http://127.0.0.1:%d" % ETCD_JOIN_PEER
        client4 = "http://127.0.0.1:%d" % ETCD_JOIN_CLIENT
        argv = cl.procs[0].args
        initial = argv[argv.index("--initial-cluster") + 1] + ",e4=" + peer4
        d4 = os.path.join(base, "etcd4")
        for flag, v in (("--name", "e4"), ("--data-dir", d4),
                        ("--listen-client-urls", client4),
                        ("--advertise-client-urls", client4),
                        ("--listen-peer-urls", peer4),
                        ("--initial-advertise-peer-urls", peer4),
                        ("--initial-cluster", initial),
                        ("--initial-cluster-state", "existing")):
            argv = set_arg(argv, flag, v)
        log("etcd: POST /v2/members (e4 at %s), then starting e4" % peer4)
        # etcd refuses a reconfiguration (500, "unhealthy cluster" in its
        # log) until the leader has been connected to a quorum for 5 s
        # (--strict-reconfig-check): try again; the time runs from the
        # attempt that succeeded.
        refused = []

        def add():
            t = time.monotonic()
            st, _, body = bench.http(
                "POST", lport, "/v2/members",
                json.dumps({"peerURLs": [peer4]}).encode(),
                {"Content-Type": "application/json"}, timeout=30)
            if st == 201:
                return t
            refused.append((st, body[:120]))
            if st != 500:
                raise AssertionError("etcd member add answered %d: %r"
                                     % (st, body[:300]))
            return None
        t0 = bench.poll(add, 60, "etcd member add", interval=0.5)
        t_added = time.monotonic()
        if refused:
            log("etcd: the member add was refused %d time(s) first (%r)"
                % (len(refused), refused[-1]))
        logf = open(os.path.join(base, "etcd4.log"), "wb")
        try:
            p4 = bench.spawn(argv, stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=logf)
        finally:
            logf.close()
        t_exec = time.monotonic()

        def served():
            if p4.poll() is not None:
                raise AssertionError("etcd e4 exited with %d; see %s"
                                     % (p4.returncode,
                                        os.path.join(base, "etcd4.log")))
            st, _, _ = bench.http("GET", ETCD_JOIN_CLIENT, "/v2/keys/jlast",
                                  timeout=2.0)
            return st == 200
        bench.poll(served, args.join_wait_seconds,
                   "jlast served by etcd e4", interval=0.01)
        t1 = time.monotonic()
        size = bench.du_mib(d4) * 1048576
        # what came over the network: the snapshot files and the bbolt db
        # (the WAL directory is mostly preallocated 64 MB segments)
        snap = bench.du_mib(os.path.join(d4, "member", "snap")) * 1048576
        log("etcd: e4 served jlast %.2f s after the member add (%.2f s after "
            "exec); data dir %.1f MB, member/snap %.1f MB"
            % (t1 - t0, t1 - t_exec, size / 1e6, snap / 1e6))
        missing, checked = sample_keys(ETCD_JOIN_CLIENT,
                                       fill_count(fill, args),
                                       "/v2/keys/j%d")
        out = {"keys": args.join_keys, "fill": fill, "seconds": t1 - t_exec,
               "from_add": t1 - t0, "add_s": t_added - t0,
               "dir_bytes": size, "snap_bytes": snap, "missing": missing,
               "checked": checked,
               "dirs_mib": [bench.du_mib(d) for d in cl.data_dirs()]}
        return out
    finally:
        if p4 is not None:
            bench.stop_proc(p4)
        cl.stop()


# -- report ---------------------------------------------------------------------


def ms_list(xs):
    return ", ".join("%.0f" % (x * 1e3) for x in xs) or "n/a"


def soak_tables(soaks):
    rows = ["| system | node | RSS MiB at %s | RSS MiB at the end | end / %s "
            "(goal <= 1.25) | data dir MiB at %s | at the end | end / %s "
            "(goal <= 2x) |", "|---|---|---|---|---|---|---|---|"]
    mark = None
    for name, (res, fig, secs) in soaks.items():
        mark = "%d s" % fig["w"]
        for i, nd in enumerate(fig["nodes"]):
            rows.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                name, i + 1, fmt(nd["rss1"], "%.1f"),
                fmt(nd["rss_end"], "%.1f"), fmt(nd["rss_ratio"], "%.2f"),
                fmt(nd["disk1"], "%.1f"), fmt(nd["disk_end"], "%.1f"),
                fmt(nd["disk_ratio"], "%.2f")))
    rows[0] = rows[0].replace("%s", mark or "1 min")
    out = ["Memory and disk (RSS from /proc VmRSS; data dir: apparent size of "
           "every file under it):", ""] + rows + [""]
    out += ["Throughput (writes/s from the leader's commit index sampled every "
            "%d s; wrk's own count of 2xx beside it, which also counts the "
            "moment between the last sample and wrk's stop):" % SAMPLE_S, "",
            "| system | soak | first %s | last %s | last / first (goal >= 90%%) "
            "| median %d s window | lowest %d s window (ending at) | lowest / "
            "median (goal >= 10%%) | wrk 2xx / errors | index delta | "
            "wrk p50 / p99 / max ms |" % (mark, mark, SAMPLE_S, SAMPLE_S),
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, (res, fig, secs) in soaks.items():
        w = res["wrk"]
        out.append("| %s | %d s | %s | %s | %s | %s | %s (%s s) | %s | %d / %d "
                   "| %s | %.1f / %.1f / %.0f |" % (
                       name, secs, fmt(fig["first"]), fmt(fig["last"]),
                       fmt(fig["last_share"] and fig["last_share"] * 100,
                           "%.0f%%"),
                       fmt(fig["median"]), fmt(fig["low"]),
                       fmt(fig["low_t"]),
                       fmt(fig["low_share"] and fig["low_share"] * 100,
                           "%.0f%%"),
                       w["ok"], w["errors"], fmt(fig["idx_delta"]),
                       w["p50_ms"], w["p99_ms"], w["max_ms"]))
    out.append("")
    # the run minute by minute (or quarter by quarter)
    names = list(soaks)
    hdr = "| t s |" + "".join(" %s writes/s | %s RSS MiB per node | %s data "
                              "dir MiB per node |" % (n, n, n) for n in names)
    if "raftd" in soaks:
        hdr += " raftd node 1 snapshot_index / first_index |"
    out += ["Over the soak (writes/s over the preceding interval):", "", hdr,
            "|" + "---|" * (hdr.count("|") - 1)]
    longest = max(soaks.values(), key=lambda v: v[2])
    step = longest[1]["w"]
    t = step
    while t <= longest[2] + 0.1:
        row = "| %d |" % t
        for n in names:
            res, fig, secs = soaks[n]
            sm = res["samples"]
            if t > secs + 0.1:
                row += " | | |"
                continue
            b = at(sm, t)
            a = at(sm, t - step)
            row += " %s | %s | %s |" % (
                fmt(rate(a, b)), " / ".join(fmt(x) for x in b["rss"]),
                " / ".join(fmt(x, "%.1f") for x in b["disk"]))
        if "raftd" in soaks:
            res, fig, secs = soaks["raftd"]
            s = at(res["samples"], t)["status"][0] if t <= secs + 0.1 \
                else None
            row += " %s |" % ("%s / %s" % (fmt(s.get("snapshot_index")),
                                           fmt(s.get("first_index")))
                              if s else "")
        out.append(row)
        t += step
    out.append("")
    if "raftd" in soaks:
        st = soaks["raftd"][1]["status_end"] or []
        out += ["raftd /status at the end of the soak (n/a: the binary "
                "reports no such field):", "",
                "| node | " + " | ".join(STATUS_KEYS) + " |",
                "|---|" + "---|" * len(STATUS_KEYS)]
        for i, s in enumerate(st):
            out.append("| %d | %s |" % (i + 1, " | ".join(
                fmt(s.get(k), "%s") if s else "down" for k in STATUS_KEYS)))
        out.append("")
    return "\n".join(out)


def restart_table(restarts):
    rows = ["| system | what | median ms | samples ms | first HTTP answer of "
            "any status, ms | goal |", "|---|---|---|---|---|---|"]
    for name, r in restarts.items():
        rows.append("| %s | kill -9 of a follower, exec to the first 200 of a "
                    "%s | %s | %s | %s | %s |" % (
                        name, "stale read (GET /db/k0?consistency=stale)"
                        if name == "raftd" else "local read (GET /v2/keys/k0)",
                        fmt(median(r["follower"]) and
                            median(r["follower"]) * 1e3),
                        ms_list(r["follower"]), ms_list(r["follower_first"]),
                        "<= 300 ms" if name == "raftd" else "-"))
        rows.append("| %s | kill -9 of all three, first exec to the first "
                    "2xx of a write (every node probed at once) | %s | %s | - "
                    "| %s |" % (
                        name, fmt(median(r["all"]) and median(r["all"]) * 1e3),
                        ms_list(r["all"]),
                        "<= 1000 ms" if name == "raftd" else "-"))
    notes = ["- %s %s" % (name, n) for name, r in restarts.items()
             for n in r["notes"]]
    return "\n".join(rows + [""] + notes)


def join_table(joins, dd):
    rows = ["| system | keys (+ jlast) | fill rate | exec to jlast served "
            "(goal <= 5 s) | member add to jlast served | new node "
            "first_index / last_index | new node kv dir MB (etcd: member/snap)"
            " | whole data dir MB | MB/s (kv dir or member/snap) | sample of "
            "keys missing on it | leader snapshot_index / first_index / "
            "snapshots_sent | data dir MiB per old node |",
            "|" + "---|" * 12]
    for name, j in joins.items():
        f = j["fill"]
        n = f["ok"] + f["ok_before"]
        common = (j["keys"], "" if f["complete"] else " (time bound hit)",
                  n / max(1e-9, f["wall_s"]), j["seconds"])
        sample = "%d of %d" % (j["missing"], j["checked"]) \
            if j["checked"] else "n/a"
        old = " / ".join(fmt(x) for x in j["dirs_mib"])
        if name == "raftd":
            s, ld = j["status"] or {}, j["leader_after"] or {}
            rows.append("| raftd | %d%s | %.0f/s | %.2f s | - (-join) | "
                        "%s / %s | %.1f | %.1f | %.1f | %s | %s / %s / %s "
                        "| %s |" % (common + (
                            fmt(s.get("first_index")),
                            fmt(s.get("last_index")), j["kv_bytes"] / 1e6,
                            j["dir_bytes"] / 1e6,
                            j["kv_bytes"] / 1e6 / j["seconds"], sample,
                            fmt(ld.get("snapshot_index")),
                            fmt(ld.get("first_index")),
                            fmt(ld.get("snapshots_sent")), old)))
        else:
            rows.append("| etcd | %d%s | %.0f/s | %.2f s | %.2f s (the add "
                        "%.0f ms) | - | %.1f | %.1f | %.1f | %s | - | %s |"
                        % (common + (
                            j["from_add"], j["add_s"] * 1e3,
                            j["snap_bytes"] / 1e6, j["dir_bytes"] / 1e6,
                            j["snap_bytes"] / 1e6 / j["seconds"], sample,
                            old)))
    rows.append("")
    if dd:
        rows.append("Disk, sequential write (dd if=/dev/zero bs=1M count=%d "
                    "conv=fdatasync, same directory): %s" % (
                        dd[0], "%.0f MB/s (%.1f s)" % (dd[1], dd[2])
                        if dd[1] is not None else "failed: %s" % dd[2]))
        rows.append("")
    rows.append("Sizes at the moment the new node first served jlast; MB = "
                "10^6 bytes; MB/s: that size over the time from exec to jlast "
                "served (raftd: what the issue counts as transferred, the kv "
                "directory). etcd's member/snap holds "
                "the snapshot files and the bbolt db (a new member gets a "
                "snapshot only once the leader has one: every 100k entries "
                "by default; before that it gets the log); its WAL is mostly "
                "preallocated 64 MB segments. Sample: 200 random keys of j0.. "
                "read on the new node right after (stale reads).")
    return "\n".join(rows)


def goals_table(soaks, restarts, joins):
    out = ["| goal | result | measured |", "|---|---|---|"]

    def line(name, ok, detail):
        out.append("| %s | %s | %s |" % (name, "n/a" if ok is None else
                                         ("**met**" if ok else "**missed**"),
                                         detail))

    def worst(fig, key):
        xs = [nd[key] for nd in fig["nodes"] if nd[key] is not None]
        return max(xs) if xs else None
    if "raftd" in soaks:
        res, fig, secs = soaks["raftd"]
        other = soaks.get("etcd")
        r, d = worst(fig, "rss_ratio"), worst(fig, "disk_ratio")
        line("RSS at the end <= 1.25x at %d s (worst node)" % fig["w"],
             None if r is None else r <= 1.25, "%s%s" % (
                 fmt(r, "%.2fx"), "; etcd %s" % fmt(
                     worst(other[1], "rss_ratio"), "%.2fx") if other else ""))
        line("data dir at the end <= 2x at %d s (worst node)" % fig["w"],
             None if d is None else d <= 2, "%s%s" % (
                 fmt(d, "%.2fx"), "; etcd %s" % fmt(
                     worst(other[1], "disk_ratio"), "%.2fx") if other else ""))
        s = fig["last_share"]
        line("last %d s >= 90%% of the first %d s (writes/s)" % (fig["w"],
                                                                fig["w"]),
             None if s is None else s >= 0.9, "%s (%s vs %s)" % (
                 fmt(s and s * 100, "%.0f%%"), fmt(fig["last"]),
                 fmt(fig["first"])))
        s = fig["low_share"]
        line("lowest %d s window >= 10%% of the median" % SAMPLE_S,
             None if s is None else s >= 0.1, "%s (%s vs %s)" % (
                 fmt(s and s * 100, "%.0f%%"), fmt(fig["low"]),
                 fmt(fig["median"])))
    if "raftd" in restarts:
        r = restarts["raftd"]
        m = median(r["follower"])
        line("follower restart to a stale read <= 300 ms (median)",
             None if m is None else m <= 0.3, "%s ms (samples %s)" % (
                 fmt(m and m * 1e3), ms_list(r["follower"])))
        m = median(r["all"])
        line("restart of all three to a write <= 1 s (median)",
             None if m is None else m <= 1.0, "%s ms (samples %s)" % (
                 fmt(m and m * 1e3), ms_list(r["all"])))
    if "raftd" in joins:
        j = joins["raftd"]
        line("a joining node serves the last key <= 5 s", j["seconds"] <= 5,
             "%.2f s after %d keys%s" % (
                 j["seconds"], j["keys"], "; etcd %.2f s (%.2f s from the "
                 "member add)" % (joins["etcd"]["seconds"],
                                  joins["etcd"]["from_add"])
                 if "etcd" in joins else ""))
    return "\n".join(out)


def mem_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return "memory %.1f GiB" % (int(line.split()[1]) / 1048576)
    except OSError:
        pass
    return "memory ?"


def conditions(args, flags, binary, started, finished, la0, la1):
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    src = os.path.join(args.bin_dir, "raftd")
    etcdv = bench.cmd_out(["etcd", "--version"]).splitlines()
    return "\n".join([
        "- started %s, finished %s (UTC), host `%s`" % (
            started, finished, socket.gethostname()),
        "- machine: nproc %d (%s), kernel %s, %s" % (
            os.cpu_count(), model, platform.release(), mem_total()),
        "- raftd: binary `%s` built %s UTC (sha256 %s, copied before the run); "
        "its work tree at the time of the report: %s (git describe), branch "
        "%s; flags: %s" % (
            src, datetime.datetime.utcfromtimestamp(binary[2]).strftime(
                "%Y-%m-%d %H:%M"), binary[1],
            bench.cmd_out(["git", "-C", args.bin_dir, "describe", "--always",
                           "--dirty"]),
            bench.cmd_out(["git", "-C", args.bin_dir, "rev-parse",
                           "--abbrev-ref", "HEAD"]),
            "`%s`" % " ".join(flags) if flags else "none (the daemon's "
            "defaults)"),
        "- bench script: %s (git describe of %s)" % (
            bench.cmd_out(["git", "-C", HERE, "describe", "--always",
                           "--dirty"]), HERE),
        "- %s, v2 API (--enable-v2), default snapshot count, 3 nodes; wrk %s"
        % (etcdv[0] if etcdv else "etcd ?",
           bench.cmd_out(["dpkg-query", "-W", "-f", "${Version}", "wrk"])),
        "- command: `%s`" % " ".join(shlex.quote(a) for a in sys.argv),
        "- parts: %s; soak: wrk -t2 -c64 --timeout 10s, put.lua / "
        "etcd_put.lua (random keys of 10k prefilled, 100-byte values) at the "
        "leader, raftd %d s, etcd %d s; restarts: %d trials; join: %d keys "
        "written with fill.lua at %d connections" % (
            args.parts, args.soak_seconds, args.etcd_soak_seconds,
            args.restart_trials, args.join_keys, args.fill_conns),
        "- load average (1/5/15 min) before: %s, after: %s; other sessions "
        "share the machine" % (la0, la1),
    ])


# -- main -----------------------------------------------------------------------


def on_alarm(_signum, _frame):
    sys.stdout.write("\ncompaction: --max-seconds reached: stopping "
                     "everything we started\n")
    sys.stdout.flush()
    bench.cleanup()
    os._exit(124)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default=os.path.join(bench.ROOT, "build"))
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--systems", default="raftd,etcd")
    ap.add_argument("--raftd-flag", action="append", default=[],
                    help="flags for every raftd process, repeatable; "
                    "e.g. --raftd-flag='-snapshot-entries 10000' or "
                    "--raftd-flag=-snapshot-trailing=1000 (default none)")
    ap.add_argument("--soak-seconds", type=int, default=600)
    ap.add_argument("--etcd-soak-seconds", type=int, default=None,
                    help="default: --soak-seconds")
    ap.add_argument("--restart-trials", type=int, default=3)
    ap.add_argument("--restart-wait-seconds", type=float, default=30,
                    help="bound of each restart measurement (default 30)")
    ap.add_argument("--join-keys", type=int, default=1000000)
    ap.add_argument("--fill-conns", type=int, default=128,
                    help="connections of the join part's fill (default 128)")
    ap.add_argument("--join-fill-seconds", type=int, default=480,
                    help="bound of each system's fill (default 480)")
    ap.add_argument("--join-wait-seconds", type=float, default=300,
                    help="bound of the wait for the 4th node (default 300)")
    ap.add_argument("--dd-mib", type=int, default=512)
    ap.add_argument("--bin-wait-seconds", type=int, default=900,
                    help="bound of the wait for a finished raftd binary")
    ap.add_argument("--max-seconds", type=int, default=2700,
                    help="bound of the whole run (default 2700)")
    ap.add_argument("--results", nargs="?", const=os.path.join(HERE,
                                                               "RESULTS.md"),
                    default=None, help="append the report to FILE (default "
                    "bench/RESULTS.md); without it the report is only printed")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (data, logs)")
    args = ap.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    systems = [s for s in args.systems.split(",") if s]
    if set(parts) - set(PARTS) or not parts:
        ap.error("--parts: a subset of %s" % ",".join(PARTS))
    if set(systems) - set(bench.SYSTEMS) or not systems:
        ap.error("--systems: a subset of raftd,etcd")
    if args.etcd_soak_seconds is None:
        args.etcd_soak_seconds = args.soak_seconds
    for v in (args.soak_seconds, args.etcd_soak_seconds):
        if not 10 <= v <= 3600:
            ap.error("soak seconds must be 10..3600")
    if not 1000 <= args.join_keys <= 10000000:
        ap.error("--join-keys must be 1000..10M")
    if not 1 <= args.restart_trials <= 20:
        ap.error("--restart-trials must be 1..20")
    flags = parse_flags(args.raftd_flag)
    args.bin_dir = os.path.abspath(args.bin_dir)
    bench._keep = args.keep

    import atexit
    atexit.register(bench.cleanup)
    signal.signal(signal.SIGTERM, bench.on_signal)
    signal.signal(signal.SIGINT, bench.on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.max_seconds)

    busy = [p for p in bench.RAFTD_HTTP + bench.RAFTD_PEER + bench.ETCD_CLIENT
            + bench.ETCD_PEER + (RAFTD_JOIN_HTTP, RAFTD_JOIN_PEER,
                                 ETCD_JOIN_CLIENT, ETCD_JOIN_PEER)
            if not harness.bindable(p, reuse=True)]
    if busy:
        raise SystemExit("compaction: loopback ports in use: %s (another "
                         "bench run?)" % busy)
    base = tempfile.mkdtemp(prefix="raftd-compaction-")
    bench._base_dir = base
    tempfile.tempdir = base  # harness puts node dirs and logs in here
    tmp = os.path.join(base, "tmp")
    os.makedirs(tmp)
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
    la0 = bench.loadavg()
    log("parts %s, systems %s, raftd flags %s; load average %s; data in %s; "
        "the run ends by %s at the latest" % (
            ",".join(parts), ",".join(systems), flags or "none", la0, base,
            time.strftime("%H:%M:%S", time.localtime(time.time()
                                                     + args.max_seconds))))
    binary = stable_binary(args.bin_dir, os.path.join(base, "bin"),
                           args.bin_wait_seconds)
    harness.BIN_DIR = binary[0]
    log("raftd binary: %s/raftd (sha256 %s), copied to %s" % (
        args.bin_dir, binary[1], binary[0]))
    for f in flags:
        name = f.split("=", 1)[0]
        if name.startswith("-") and name not in binary[3]:
            log("warning: %s is not in this binary's -help; raftd may refuse "
                "to start" % name)

    soaks, restarts, joins = {}, {}, {}
    errors = []  # (what, text): a part that failed; the others go on
    for name in systems:
        if "soak" not in parts and "restart" not in parts:
            break
        cl = None
        try:
            if name == "raftd":
                cl = bench.RaftdCluster(flags).start()
            else:
                os.makedirs(os.path.join(base, "etcd"))
                cl = bench.EtcdCluster(os.path.join(base, "etcd")).start()
            log("%s cluster up: pids %s, leader %s" % (name, cl.pids(),
                                                       cl.leader()))
            bench.prefill(cl, tmp)
            cl.settle(timeout=120)
            if "soak" in parts:
                secs = args.soak_seconds if name == "raftd" else \
                    args.etcd_soak_seconds
                log("%s: soak of %d s (wrk -t2 -c64, put to 10k keys)"
                    % (name, secs))
                res = soak(cl, secs, tmp)
                fig = soak_figures(res, secs)
                soaks[name] = (res, fig, secs)
                log("%s soak done: writes/s first %d s %s, last %s, lowest "
                    "5 s window %s of median %s; RSS ratios %s; disk ratios "
                    "%s" % (name, fig["w"], fmt(fig["first"]),
                            fmt(fig["last"]), fmt(fig["low"]),
                            fmt(fig["median"]),
                            [fmt(nd["rss_ratio"], "%.2f")
                             for nd in fig["nodes"]],
                            [fmt(nd["disk_ratio"], "%.2f")
                             for nd in fig["nodes"]]))
            if "restart" in parts:
                log("%s: restarts (%d trials each)" % (name,
                                                       args.restart_trials))
                fn = raftd_restarts if name == "raftd" else etcd_restarts
                restarts[name] = fn(cl, args.restart_trials,
                                    args.restart_wait_seconds)
        except (AssertionError, harness.PollTimeout) as e:
            errors.append(("%s soak/restart" % name, str(e)))
            log("%s soak/restart FAILED: %s" % (name, str(e)[:2000]))
        finally:
            if cl is not None:
                cl.stop()

    dd = None
    if "join" in parts:
        r = dd_rate(base, args.dd_mib)
        dd = (args.dd_mib,) + r
        log("disk: dd of %d MiB with fdatasync: %s" % (
            args.dd_mib, "%.0f MB/s" % r[0] if r[0] else r[1]))
        for name in systems:
            try:
                if name == "raftd":
                    joins[name] = raftd_join(args, flags, tmp)
                else:
                    joins[name] = etcd_join(
                        args, os.path.join(base, "etcd-join"), tmp)
            except (AssertionError, harness.PollTimeout) as e:
                errors.append(("%s join" % name, str(e)))
                log("%s join FAILED: %s" % (name, str(e)[:2000]))

    la1 = bench.loadavg()
    finished = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
    out = ["## %s UTC: compaction (issue 12), raftd%s" % (
        started, " vs etcd" if "etcd" in systems else ""), "",
        conditions(args, flags, binary, started, finished, la0, la1), ""]
    if soaks:
        out += ["### Soak: writes to 10k keys", "", soak_tables(soaks), ""]
    if restarts:
        out += ["### Restart (kill -9, same data dir and flags; %d trials)"
                % args.restart_trials, "", restart_table(restarts), ""]
    if joins:
        out += ["### Join: a 4th node with an empty data dir", "",
                join_table(joins, dd), ""]
    out += ["### Goals", "", goals_table(soaks, restarts, joins), ""]
    if errors:
        out += ["### Failed parts", ""]
        for what, text in errors:
            text = text if len(text) < 3000 else text[:3000] + " ..."
            out += ["%s:" % what, "", "```", text, "```", ""]
    report = "\n".join(out)
    print()
    print(report)
    if args.results:
        with open(args.results, "a") as f:
            f.write(report + "\n")
        log("appended to %s" % args.results)
    else:
        log("not appended anywhere (no --results)")
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (AssertionError, harness.PollTimeout) as e:
        print("compaction: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
