"""A raftd cluster for the linearizability test: real processes, each in its
own network namespace (so that partitions can be made) or, where namespaces
cannot be made, all on loopback.

Network namespaces (root only): one namespace per node, named
rlin<pid>n<i>, joined by veth pairs to a bridge rlin<pid>b in the root
namespace. Nodes get private test addresses 10.251.S.<i+1>/24 inside their
namespaces; the bridge gets 10.251.S.254, so the clients (in the root
namespace) reach every node through it. Nothing is ever sent to an address
that is not one of these (or 127.0.0.1 on loopback): every request checks its
target against the cluster's own addresses.

Partitions drop traffic between groups of nodes, silently, on each node's
egress: an htb qdisc on the node's veth with a class whose queue holds 0
packets, and u32 filters steering packets for the other group's addresses
into it (no iptables or nft needed; the clients' traffic is not touched).
Where tc cannot do that, blackhole routes are used instead (the sender gets
an immediate error rather than silence), and where neither works a node can
only be isolated by setting its link down (clients lose it too).

Everything made is removed again: processes by PID (SIGCONT, SIGTERM, then
SIGKILL), namespaces, links. Leftovers of an earlier run whose PID is dead
are removed at setup. Standard library only.
"""

import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _child_setup():
    """In the child before exec: die with the test runner, even on SIGKILL
    (`ip netns exec` execs raftd in place, so the PID is raftd's)."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setpgrp()  # a ^C to the runner reaches the runner only


def run(argv, timeout=10.0, check=True):
    """Runs a short command (ip, tc); returns (rc, output)."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        if check:
            raise RuntimeError("%s timed out" % " ".join(argv))
        return 124, "timeout"
    except OSError as e:
        if check:
            raise RuntimeError("%s: %s" % (" ".join(argv), e))
        return 127, str(e)
    out = p.stdout.decode("utf-8", "replace").strip()
    if check and p.returncode != 0:
        raise RuntimeError("%s -> %d: %s" % (" ".join(argv), p.returncode,
                                             out))
    return p.returncode, out


class NetUnavailable(Exception):
    pass


# -- network: loopback or namespaces ---------------------------------------------------


class Loopback:
    """All nodes on 127.0.0.1, each with its own free port pair."""

    kind = "loopback"
    partitions = False
    partition_method = None

    def __init__(self, n):
        self.n = n
        self.ports = [_free_port_pair() for _ in range(n)]

    def setup(self):
        pass

    def host(self, i):
        return "127.0.0.1"

    def http_port(self, i):
        return self.ports[i][0]

    def raft_port(self, i):
        return self.ports[i][1]

    def wrap(self, i, argv):
        return argv

    def allowed(self):
        return {("127.0.0.1", p[0]) for p in self.ports}

    pairwise = False

    def partition(self, groups):
        raise NetUnavailable("no partitions on loopback")

    def block(self, pairs):
        raise NetUnavailable("no partitions on loopback")

    def heal(self):
        pass

    def teardown(self):
        pass


_used_ports = set()


def _bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _free_port_pair():
    import random as _r
    rng = _r.Random()
    for _ in range(500):
        p = rng.randint(20000, 31000)
        if p in _used_ports or p + 1000 in _used_ports:
            continue
        if _bindable(p) and _bindable(p + 1000):
            _used_ports.update((p, p + 1000))
            return p, p + 1000
    raise RuntimeError("no free loopback port pair in 20000-31000")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def cleanup_stale():
    """Removes namespaces and links of earlier runs of this test whose
    runner PID is gone (left by a SIGKILLed runner)."""
    rc, out = run(["ip", "netns", "list"], check=False)
    if rc == 0:
        for line in out.splitlines():
            name = line.split()[0] if line.split() else ""
            m = re.match(r"^rlin(\d+)n\d+$", name)
            if m and not _pid_alive(int(m.group(1))):
                run(["ip", "netns", "del", name], check=False)
    rc, out = run(["ip", "-o", "link", "show"], check=False)
    if rc == 0:
        for line in out.splitlines():
            m = re.match(r"^\d+:\s+(rlin(\d+)[bh]\d*)[@:]", line)
            if m and not _pid_alive(int(m.group(2))):
                run(["ip", "link", "del", m.group(1)], check=False)


class Namespaces:
    """One network namespace per node, bridged; see the module doc."""

    kind = "netns"
    partitions = True
    HTTP_PORT = 4001
    RAFT_PORT = 5001

    def __init__(self, n):
        self.n = n
        self.tag = "rlin%d" % os.getpid()
        self.ns = ["%sn%d" % (self.tag, i) for i in range(n)]
        self.bridge = "%sb" % self.tag
        self.host_veth = ["%sh%d" % (self.tag, i) for i in range(n)]
        self.subnet = None
        self.made_ns = []
        self.made_links = []
        self.partition_method = None
        self.partitioned = False
        self._routes = []  # (ns, addr) blackholes in place

    def host(self, i):
        return "10.251.%d.%d" % (self.subnet, i + 1)

    def http_port(self, i):
        return self.HTTP_PORT

    def raft_port(self, i):
        return self.RAFT_PORT

    def wrap(self, i, argv):
        return ["ip", "netns", "exec", self.ns[i]] + list(argv)

    def allowed(self):
        return {(self.host(i), self.HTTP_PORT) for i in range(self.n)}

    def _pick_subnet(self):
        _, addrs = run(["ip", "-4", "-o", "addr", "show"], check=False)
        _, routes = run(["ip", "-4", "route", "show"], check=False)
        used = set(int(m) for m in re.findall(r"10\.251\.(\d+)\.",
                                              addrs + "\n" + routes))
        start = os.getpid() % 250
        for k in range(250):
            s = 1 + (start + k) % 250
            if s not in used:
                return s
        raise NetUnavailable("no free 10.251.x.0/24 test subnet")

    def setup(self):
        if os.geteuid() != 0:
            raise NetUnavailable("not root (uid %d): cannot make network "
                                 "namespaces" % os.geteuid())
        if shutil.which("ip") is None:
            raise NetUnavailable("iproute2's `ip` is not installed")
        cleanup_stale()
        try:
            self._setup()
        except (RuntimeError, OSError) as e:
            self.teardown()
            raise NetUnavailable(str(e).splitlines()[0][:300])

    def _setup(self):
        self.subnet = self._pick_subnet()
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self.made_links.append(self.bridge)
        run(["ip", "addr", "add", "10.251.%d.254/24" % self.subnet, "dev",
             self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        for i in range(self.n):
            ns = self.ns[i]
            run(["ip", "netns", "add", ns])
            self.made_ns.append(ns)
            peer = "%sp%d" % (self.tag, i)
            run(["ip", "link", "add", self.host_veth[i], "type", "veth",
                 "peer", "name", peer])
            self.made_links.append(self.host_veth[i])
            run(["ip", "link", "set", peer, "netns", ns])
            run(["ip", "-n", ns, "link", "set", peer, "name", "eth0"])
            run(["ip", "link", "set", self.host_veth[i], "master",
                 self.bridge])
            run(["ip", "link", "set", self.host_veth[i], "up"])
            run(["ip", "-n", ns, "addr", "add", "%s/24" % self.host(i),
                 "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        # The route to every node must go through our bridge, never out.
        for i in range(self.n):
            _, out = run(["ip", "route", "get", self.host(i)])
            if ("dev %s " % self.bridge) not in out + " ":
                raise RuntimeError("route to %s is not via %s: %s"
                                   % (self.host(i), self.bridge, out))
        self._probe()
        self._setup_partitions()

    def _probe(self):
        """A program runs inside a namespace (`ip netns exec` needs to
        remount /sys) and the root namespace reaches a listener there."""
        import sys
        code = ("import socket,sys\n"
                "s=socket.socket()\n"
                "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                "s.bind((sys.argv[1],int(sys.argv[2])))\n"
                "s.listen(1)\n"
                "print('ready',flush=True)\n"
                "s.settimeout(5)\n"
                "c,_=s.accept()\n"
                "c.sendall(b'ok')\n"
                "c.close()\n")
        p = subprocess.Popen(self.wrap(0, [sys.executable, "-c", code,
                                           self.host(0),
                                           str(self.HTTP_PORT)]),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT,
                             preexec_fn=_child_setup)
        try:
            line = p.stdout.readline()
            if not line.startswith(b"ready"):
                raise RuntimeError("cannot run a program in a namespace: %s"
                                   % (line + p.stdout.read(500)).decode(
                                       "utf-8", "replace").strip())
            c = socket.create_connection((self.host(0), self.HTTP_PORT),
                                         timeout=3)
            try:
                c.settimeout(3)
                if c.recv(2) != b"ok":
                    raise RuntimeError("no answer through the bridge")
            finally:
                c.close()
        except OSError as e:
            raise RuntimeError("cannot reach a namespace through the "
                               "bridge: %s" % e)
        finally:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
            p.stdout.close()

    def _setup_partitions(self):
        """Picks how partitions are made: tc (silent drops), else blackhole
        routes, else links down (isolation only)."""
        try:
            for ns in self.ns:
                run(["tc", "-n", ns, "qdisc", "add", "dev", "eth0", "root",
                     "handle", "1:", "htb", "default", "1"])
                run(["tc", "-n", ns, "class", "add", "dev", "eth0", "parent",
                     "1:", "classid", "1:1", "htb", "rate", "10gbit"])
                run(["tc", "-n", ns, "class", "add", "dev", "eth0", "parent",
                     "1:", "classid", "1:2", "htb", "rate", "10gbit"])
                run(["tc", "-n", ns, "qdisc", "add", "dev", "eth0", "parent",
                     "1:2", "handle", "20:", "pfifo", "limit", "0"])
            # One filter, added and removed, proves u32 works here.
            self._tc_drop(0, self.host(1 % self.n))
            self._tc_clear(0)
            self.partition_method = "tc"
            return
        except RuntimeError as e:
            tc_err = str(e)
            for ns in self.ns:
                run(["tc", "-n", ns, "qdisc", "del", "dev", "eth0", "root"],
                    check=False)
        try:
            run(["ip", "-n", self.ns[0], "route", "add", "blackhole",
                 "%s/32" % self.host(1 % self.n)])
            run(["ip", "-n", self.ns[0], "route", "del", "blackhole",
                 "%s/32" % self.host(1 % self.n)])
            self.partition_method = "blackhole routes (tc: %s)" % tc_err[:80]
            return
        except RuntimeError:
            pass
        self.partition_method = "links down (isolation only)"

    def _tc_drop(self, i, addr):
        run(["tc", "-n", self.ns[i], "filter", "add", "dev", "eth0",
             "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match",
             "ip", "dst", "%s/32" % addr, "classid", "1:2"])

    def _tc_clear(self, i):
        run(["tc", "-n", self.ns[i], "filter", "del", "dev", "eth0",
             "parent", "1:", "prio", "1"], check=False)

    @property
    def pairwise(self):
        """True if any pair of nodes can be cut off (not just one node)."""
        return self.partition_method == "tc" or \
            (self.partition_method or "").startswith("blackhole")

    def partition(self, groups):
        """groups: lists of node indices; traffic between nodes of
        different groups is dropped both ways until heal()."""
        grp = {}
        for g, members in enumerate(groups):
            for i in members:
                grp[i] = g
        if not self.pairwise:
            # Links down: only minorities of one node can be cut off.
            self.heal()
            self.partitioned = True
            for members in groups:
                if len(members) == 1 and len(groups) > 1 and \
                        len(members) <= self.n // 2:
                    run(["ip", "-n", self.ns[members[0]], "link", "set",
                         "eth0", "down"])
            return
        self.block({(i, j) for i in range(self.n) for j in range(self.n)
                    if i < j and grp.get(i) != grp.get(j)})

    def block(self, pairs):
        """Drops traffic both ways between each pair (i, j) of nodes,
        replacing whatever was blocked before, until heal()."""
        self.heal()
        self.partitioned = True
        for i, j in pairs:
            for a, b in ((i, j), (j, i)):
                if self.partition_method == "tc":
                    self._tc_drop(a, self.host(b))
                else:
                    run(["ip", "-n", self.ns[a], "route", "add",
                         "blackhole", "%s/32" % self.host(b)])
                    self._routes.append((self.ns[a], self.host(b)))

    def heal(self):
        if not self.partitioned:
            return
        if self.partition_method == "tc":
            for i in range(self.n):
                self._tc_clear(i)
        elif self.partition_method and \
                self.partition_method.startswith("blackhole"):
            for ns, addr in self._routes:
                run(["ip", "-n", ns, "route", "del", "blackhole",
                     "%s/32" % addr], check=False)
            self._routes = []
        else:
            for ns in self.ns:
                run(["ip", "-n", ns, "link", "set", "eth0", "up"],
                    check=False)
        self.partitioned = False

    def teardown(self):
        for ns in self.made_ns:
            rc, out = run(["ip", "netns", "pids", ns], check=False)
            # Our own nodes are stopped before this; anything left is a
            # raftd of ours that escaped (its PID is in our namespace).
            for p in out.split() if rc == 0 else []:
                try:
                    os.kill(int(p), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
            run(["ip", "netns", "del", ns], check=False)
        self.made_ns = []
        for link in reversed(self.made_links):
            run(["ip", "link", "del", link], check=False)
        self.made_links = []


# -- nodes --------------------------------------------------------------------------------


class Node:
    """One raftd process (the i-th of the cluster)."""

    def __init__(self, cluster, i):
        self.cluster = cluster
        self.i = i
        self.label = "n%d" % (i + 1)
        self.dir = os.path.join(cluster.run_dir, self.label)
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.paused = False
        self.starts = 0
        self.log_paths = []
        self.name = None

    @property
    def host(self):
        return self.cluster.net.host(self.i)

    @property
    def port(self):
        return self.cluster.net.http_port(self.i)

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    def argv(self, join=None):
        net = self.cluster.net
        a = [self.cluster.raftd, "-h", self.host, "-p", str(self.port),
             "-raft-port", str(net.raft_port(self.i))]
        a += list(self.cluster.args)
        if join:
            a += ["-join", join]
        a.append(self.data_dir)
        return net.wrap(self.i, a)

    def start(self, join=None):
        assert not self.running(), "%s already running" % self.label
        self.starts += 1
        path = os.path.join(self.dir, "stderr.%d.log" % self.starts)
        self.log_paths.append(path)
        with open(path, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv(join), stdin=subprocess.DEVNULL,
                stdout=err, stderr=err, preexec_fn=_child_setup)
        self.paused = False
        self.cluster.all_pids.add(self.proc.pid)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill9(self):
        if self.running():
            self.signal(signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.paused = False

    def pause(self):
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout=5.0):
        """SIGCONT + SIGTERM, then SIGKILL after timeout. Returns how it
        ended: the exit code (0 is clean), "hung" (killed after timeout),
        "exited by itself with code N" (before this stop), or None if it
        never started."""
        if self.proc is None:
            return None
        if not self.running():
            return "exited by itself with code %s" % self.proc.returncode
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
            self.paused = False
            return rc
        except subprocess.TimeoutExpired:
            self.kill9()
            return "hung (still running %.0f s after SIGTERM: killed)" \
                % timeout

    def status(self, timeout=1.0):
        """GET /status as a dict, or None."""
        if not self.running() or self.paused:
            return None
        try:
            st, _, body = self.cluster.http(self.host, self.port, "GET",
                                            "/status", timeout=timeout)
            if st != 200:
                return None
            return json.loads(body.decode("utf-8"))
        except (OSError, http.client.HTTPException, ValueError):
            return None

    def stderr_tail(self, lines=40, pattern=None):
        out = []
        for k, path in enumerate(self.log_paths):
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            if pattern is not None:
                text = [ln for ln in text if re.search(pattern, ln)]
            for ln in text[-lines:]:
                out.append("%s[start %d] %s" % (self.label, k + 1, ln))
        return out


class Cluster:
    """n raftd nodes: the first starts alone, the others join it."""

    def __init__(self, raftd, n, run_dir, args=(), netns=True, log=print):
        self.raftd = raftd
        self.n = n
        self.run_dir = run_dir
        self.args = list(args)
        self.log = log
        self.all_pids = set()
        self.skip_reason = None
        self.net = None
        if netns:
            ns = Namespaces(n)
            try:
                ns.setup()
                self.net = ns
            except NetUnavailable as e:
                self.skip_reason = str(e)
        else:
            self.skip_reason = "namespaces not requested"
        if self.net is None:
            self.net = Loopback(n)
            self.net.setup()
        self._allowed = self.net.allowed()
        self.nodes = [Node(self, i) for i in range(n)]

    # -- HTTP to our own nodes only ------------------------------------------------------

    def check_target(self, host, port):
        if (host, port) not in self._allowed:
            raise ValueError("refusing to send to %s:%s: not a node of this "
                             "test's cluster" % (host, port))

    def http(self, host, port, method, path, body=None, timeout=3.0):
        self.check_target(host, port)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request(method, path, body=body)
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    # -- lifecycle --------------------------------------------------------------------

    def start(self, timeout=30.0):
        first = self.nodes[0]
        first.start()
        self.wait(lambda: (first.status() or {}).get("state") == "leader",
                  timeout, "%s to lead" % first.label, [first])
        first.name = first.status()["name"]
        for node in self.nodes[1:]:
            node.start(join=first.addr)
            deadline = time.monotonic() + timeout

            def joined():
                s = node.status()
                if not s or not s.get("leader"):
                    return False
                names = [m.get("name") for m in s.get("members", [])]
                return s.get("name") in names
            self.wait(joined, max(1.0, deadline - time.monotonic()),
                      "%s to join" % node.label, [node])
            node.name = node.status()["name"]
        # Everyone agrees on the leader and the membership.
        self.wait(lambda: self.agreed_leader() is not None, timeout,
                  "an agreed leader with %d members" % self.n)

    def wait(self, cond, timeout, what, must_run=None):
        deadline = time.monotonic() + timeout
        while True:
            for nd in must_run or []:
                if nd.proc is not None and nd.proc.poll() is not None:
                    raise RuntimeError("%s exited (%s) while waiting for %s:"
                                       "\n%s" % (nd.label, nd.proc.returncode,
                                                 what,
                                                 "\n".join(nd.stderr_tail())))
            if cond():
                return
            if time.monotonic() > deadline:
                raise RuntimeError("timed out after %.0f s waiting for %s; "
                                   "statuses: %r" % (timeout, what,
                                                     self.brief()))
            time.sleep(0.05)

    def statuses(self, timeout=1.0):
        return {nd.i: nd.status(timeout) for nd in self.nodes}

    def brief(self):
        out = {}
        for nd in self.nodes:
            s = nd.status(0.5)
            out[nd.label] = (None if s is None else
                             (s.get("state"), s.get("term"), s.get("leader"),
                              s.get("commit_index"), s.get("applied_index")))
            if nd.paused:
                out[nd.label] = "paused"
            elif not nd.running():
                out[nd.label] = "down"
        return out

    def leader(self, timeout=0.5):
        """The Node that says it is leader in the highest term, or None."""
        best = None
        for nd in self.nodes:
            s = nd.status(timeout)
            if s and s.get("state") == "leader":
                if best is None or s.get("term", 0) > best[1].get("term", 0):
                    best = (nd, s)
        return best[0] if best else None

    def agreed_leader(self, timeout=1.0):
        """(leader Node, its status) if every node is up, the leader has all
        n members, and every node names that leader; else None."""
        sts = self.statuses(timeout)
        if any(s is None for s in sts.values()):
            return None
        leaders = [(i, s) for i, s in sts.items() if s.get("state") ==
                   "leader"]
        if len(leaders) != 1:
            return None
        li, ls = leaders[0]
        if len(ls.get("members", [])) != self.n:
            return None
        if any(s.get("leader") != ls.get("name") for s in sts.values()):
            return None
        return self.nodes[li], ls

    def stop_all(self, timeout=5.0):
        """Stops every node by PID; returns {label: how it ended} (see
        Node.stop: 0 is a clean exit)."""
        exits = {}
        for nd in self.nodes:
            try:
                exits[nd.label] = nd.stop(timeout)
            except Exception as e:  # keep stopping the others
                exits[nd.label] = "stop failed: %r" % (e,)
        return exits

    def teardown(self, stop_timeout=5.0):
        """Stops the nodes, removes the network; returns stop_all's
        {label: how it ended}."""
        if getattr(self, "_torn_down", False):
            return {}
        self._torn_down = True
        exits = self.stop_all(stop_timeout)
        try:
            self.net.heal()
        except Exception:
            pass
        self.net.teardown()
        return exits
