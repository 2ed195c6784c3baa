"""Multi-node clusters of real raftd processes on loopback: the seed's
walkthrough (join, replicate, kill the leader, restart without -join, the
redirect), loss of quorum, five nodes with two and three failures, leaving
with DELETE /members/{name}, bad join requests and refused joiners.

Every wait polls with a deadline (harness.poll_until); no sleep stands in for
an event. Tests that must watch writes being refused run with
-write-timeout 1s so a 504 comes back quickly; the walkthrough runs with the
defaults."""

import json
import shutil
import subprocess
import threading
import time

import harness
from harness import (ClusterNode, member_map, poll_until,
                     request_following, split_location, status_or_none,
                     tree_snapshot, snapshot_diff, TRANSIENT_ERRORS)

NOT_LEADER_BODY = b"raft.Server: Not current leader\n"
FAILOVER_LIMIT = 5.0  # s from kill -9 of the leader to a committed write
STEP_DOWN_LIMIT = 3.0  # s for a leader without quorum to step down
REFUSE_LIMIT = 10.0  # s until writes without a quorum are refused
EXIT_TIMEOUT = 15.0  # s for a refused joiner to exit
QUICK = ["-write-timeout", "1s"]  # tests that wait for 504s
LEVELDB_INFO = ("LOCK", "LOG", "LOG.old")  # LevelDB's lock and text log


def log(msg):
    print("    [cluster] " + msg, flush=True)


class ClusterTest(harness.NodeTestCase):
    # -- helpers --------------------------------------------------------------

    def new_cluster(self, size, args=()):
        return self.cluster(size, args=args, label=self._testMethodName[5:9])

    def assertMembersEverywhere(self, nodes, expected, timeout=5.0):
        """Polls until /status of every node in `nodes` lists exactly the
        members `expected` ({name: (http, raft)})."""
        for n in nodes:
            last = {}

            def same():
                s = status_or_none(n)
                if s is None:
                    return False
                last["m"] = member_map(s)
                return last["m"] == expected
            try:
                poll_until(same, timeout, "members of %s" % n.label)
            except harness.PollTimeout:
                self.fail("%s lists members %r, expected %r"
                          % (n.label, last.get("m"), expected))

    def assertStatusShape(self, s):
        """The documented /status fields, with their types."""
        for key, kind in (("name", str), ("state", str), ("term", int),
                          ("leader", str), ("leader_http", str),
                          ("commit_index", int), ("applied_index", int),
                          ("last_index", int), ("members", list)):
            self.assertIsInstance(s.get(key), kind, "/status %s: %r"
                                  % (key, s))
        self.assertIn(s["state"], ("leader", "follower", "candidate",
                                   "pre-candidate"), repr(s))
        self.assertLessEqual(s["applied_index"], s["commit_index"], repr(s))
        self.assertLessEqual(s["commit_index"], s["last_index"], repr(s))
        for m in s["members"]:
            for key, kind in (("name", str), ("http", str), ("raft", str),
                              ("role", str), ("match_index", int),
                              ("reachable", bool)):
                self.assertIsInstance(m.get(key), kind, "/status member %s: "
                                      "%r" % (key, m))

    def expected_members(self, nodes):
        return {n.name(): (n.http_addr, n.raft_addr) for n in nodes}

    def assertWritesRefused(self, nodes, key, timeout=REFUSE_LIMIT):
        """Writes to each node (following 307s) until each one has refused
        with 503 or 504. A 200 fails at once: there is no quorum. Returns
        {label: [answers]} and the seconds it took."""
        t0 = time.monotonic()
        answers = {n.label: [] for n in nodes}
        for n in nodes:
            def refused():
                try:
                    st, _, body, hops = request_following(
                        n.port, "POST", "/db/" + key, b"no-quorum",
                        timeout=harness.HTTP_TIMEOUT)
                except TRANSIENT_ERRORS as e:
                    answers[n.label].append(type(e).__name__)
                    return False
                answers[n.label].append(st if not hops else "%d(via 307)"
                                        % st)
                if st == 200:
                    self.fail("a write to %s was acknowledged (200) without "
                              "a quorum; answers so far: %r"
                              % (n.label, answers))
                return st in (503, 504)
            try:
                poll_until(refused, max(0.0, t0 + timeout - time.monotonic()),
                           "write to %s refused" % n.label, interval=0.05)
            except harness.PollTimeout:
                self.fail("writes to %s were not refused (503/504) within "
                          "%.0f s; answers: %r" % (n.label, timeout, answers))
        return answers, time.monotonic() - t0

    def join_post(self, node, doc, follow=False):
        """POST /join with doc (bytes, or an object to encode as JSON)."""
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        if follow:
            st, h, b, _ = request_following(node.port, "POST", "/join", body,
                                            timeout=15.0)
            return st, h, b
        return node.request("POST", "/join", body,
                            {"Content-Type": "application/json"},
                            timeout=15.0)

    # -- the seed's walkthrough -----------------------------------------------

    def test_seed_walkthrough(self):
        """README of the seed, with 3 nodes: join through node 1, set on the
        leader, read everywhere, kill -9 the leader, a new one takes writes,
        restart node 1 without -join, its write gets the redirect."""
        c = self.new_cluster(3)
        n1, n2, n3 = c.nodes
        lead, lst = c.leader()
        self.assertIs(lead, n1, "the first node should lead the cluster it "
                      "made (%r)" % lst)
        self.assertEqual(lst["leader_http"], n1.http_addr)
        everyone = self.expected_members(c.nodes)
        self.assertMembersEverywhere(c.nodes, everyone)
        for n in c.nodes:
            self.assertStatusShape(n.status())
        for n in (n2, n3):
            s = n.status()
            self.assertEqual(s["state"], "follower", repr(s))
            self.assertEqual(s["leader"], lst["name"], repr(s))
            self.assertEqual(s["leader_http"], n1.http_addr, repr(s))

        # $ curl -XPOST localhost:4001/db/foo -d 'bar'
        self.assertStatus(n1.put("foo", b"bar"), 200, "POST /db/foo on the "
                          "leader")
        # $ curl localhost:400{1,2,3}/db/foo -> bar (followers may lag a bit)
        c.wait_value("foo", b"bar", timeout=5.0, stale=True)
        for n in c.nodes:
            st, _, body = n.get("foo")
            self.assertEqual((st, body), (200, b"bar"), n.label)

        # Killing the leader will automatically elect a new leader.
        old_term = lst["term"]
        self.assertEqual(c.kill9(n1), -9)
        elapsed, history = c.write("foo", b"baz", timeout=15.0,
                                   nodes=[n2, n3])
        log("failover (kill -9 of the leader -> first committed write): "
            "%.3f s, %d refused attempts before" % (elapsed, len(history)))
        self.assertLess(elapsed, FAILOVER_LIMIT,
                        "no write committed within %.1f s of killing the "
                        "leader: %r" % (FAILOVER_LIMIT, history[-5:]))
        new_lead, nst = c.leader(among=[n2, n3], agree=True)
        self.assertGreater(nst["term"], old_term)
        c.wait_value("foo", b"baz", nodes=[n2, n3], timeout=5.0)

        # Restart node 1 without -join: a follower of the new leader that
        # catches up.
        s1 = c.restart(n1)
        self.assertEqual(s1["name"], n1.name())
        s1 = poll_until(lambda: (lambda s: s if s and s["state"] == "follower"
                                 and s["leader"] == nst["name"] else None)(
                                     status_or_none(n1)), 5.0,
                        "%s follows %s" % (n1.label, new_lead.label))
        self.assertEqual(s1["leader_http"], new_lead.http_addr, repr(s1))
        c.wait_value("foo", b"baz", nodes=[n1], timeout=5.0, stale=True)
        st, _, body = n1.get("foo")
        self.assertEqual((st, body), (200, b"baz"))
        self.assertMembersEverywhere(c.nodes, everyone)

        # $ curl -XPOST localhost:4001/db/foo -d 'bar' on the restarted node
        st, hdrs, body = n1.put("foo", b"bar")
        self.assertEqual(st, 307, "write to a follower: %d %r" % (st, body))
        location = hdrs.get("location")
        self.assertEqual(location, "http://%s/db/foo" % new_lead.http_addr)
        self.assertEqual(body, NOT_LEADER_BODY)
        for method, path in (("PUT", "/db/foo"), ("DELETE", "/db/foo"),
                             ("POST", "/db/a%20b")):
            st, h, body = n1.request(method, path, b"x"
                                     if method != "DELETE" else None)
            self.assertEqual((st, h.get("location"), body),
                             (307, "http://%s%s" % (new_lead.http_addr, path),
                              NOT_LEADER_BODY), "%s %s on a follower"
                             % (method, path))
        # Following the Location (curl -L) commits it.
        host, port, path = split_location(location)
        self.assertStatus(harness.http_request(port, "POST", path, b"bar",
                                               host=host), 200,
                          "POST to the Location")
        c.wait_value("foo", b"bar", timeout=5.0)

        curl = shutil.which("curl")
        if curl:  # the README's own client, verbatim with -L
            p = subprocess.run(
                [curl, "-sS", "-L", "-XPOST",
                 "http://127.0.0.1:%d/db/foo" % n1.port, "-d", "qux",
                 "-o", "/dev/null", "-w", "%{http_code} %{num_redirects}",
                 "--max-time", "10"], capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, b"200 1", "curl -L to a follower")
            c.wait_value("foo", b"qux", timeout=5.0)

    # -- losing the quorum ----------------------------------------------------

    def test_two_nodes_lose_quorum(self):
        """2 nodes, one killed: the survivor refuses writes (503 or 504,
        never a 200); a leader without a quorum steps down (check-quorum)
        and then, with no leader known, answers 503. After a restart writes
        commit again. Both ways: the follower killed, then the leader."""
        c = self.new_cluster(2, args=QUICK)
        c.write("k", b"v0", timeout=5.0)
        for round_, victim_is_leader in enumerate((False, True)):
            key = "k%d" % round_
            lead, lst = c.leader(agree=True)
            fol = [n for n in c.nodes if n is not lead][0]
            victim, survivor = (lead, fol) if victim_is_leader \
                else (fol, lead)
            what = "leader" if victim_is_leader else "follower"
            c.kill9(victim)
            t0 = time.monotonic()
            write = {}
            if not victim_is_leader:
                # A write sent to the leader at once (it still leads) while
                # we watch it step down.
                def send():
                    try:
                        write["r"] = survivor.put(key, b"lost-quorum")
                    except Exception as e:  # reported below
                        write["r"] = e
                    write["t"] = time.monotonic() - t0
                th = threading.Thread(target=send, daemon=True)
                th.start()
            s = poll_until(lambda: (lambda s: s if s and s["state"] != "leader"
                                    and not s.get("leader") else None)(
                                        status_or_none(survivor)),
                           STEP_DOWN_LIMIT + 2.0,
                           "%s without a leader" % survivor.label)
            down = time.monotonic() - t0
            log("2 nodes, %s killed: survivor leaderless (%s) %.3f s after "
                "the kill" % (what, s["state"], down))
            if not victim_is_leader:
                self.assertLess(down, STEP_DOWN_LIMIT, "the leader kept "
                                "leading without a quorum")
                th.join(harness.HTTP_TIMEOUT + 2)
                self.assertIn("r", write, "the write did not return")
                r = write["r"]
                self.assertNotIsInstance(r, Exception, repr(r))
                log("2 nodes, follower killed: the write sent at once got "
                    "%d after %.3f s" % (r[0], write["t"]))
                self.assertIn(r[0], (503, 504), "write without a quorum: "
                              "%d %r" % (r[0], r[2]))
            answers, took = self.assertWritesRefused([survivor], key)
            st, _, body = survivor.put(key, b"no-leader")
            self.assertEqual(st, 503, "write with no leader known: %d %r"
                             % (st, body))
            self.assertTrue(body.strip(), "503 without a reason")
            c.restart(victim)
            elapsed, _ = c.write(key, b"back", timeout=10.0)
            c.wait_value(key, b"back", timeout=5.0)
            log("2 nodes: writes commit again %.3f s after the restart"
                % elapsed)
        self.assertMembersEverywhere(c.nodes, self.expected_members(c.nodes))

    def test_five_nodes_two_then_three_failures(self):
        """5 nodes: kill the leader and a follower, writes still commit (and
        reach the 3 survivors); kill a third: writes are refused."""
        c = self.new_cluster(5, args=QUICK)
        lead, _ = c.leader(agree=True)
        fol = [n for n in c.nodes if n is not lead]
        c.write("five", b"all", timeout=5.0)
        c.kill9(lead)
        c.kill9(fol[0])
        elapsed, history = c.write("five", b"three-left", timeout=15.0)
        log("5 nodes, leader + 1 killed: first committed write after %.3f s"
            % elapsed)
        self.assertLess(elapsed, FAILOVER_LIMIT, repr(history[-5:]))
        c.wait_value("five", b"three-left", timeout=5.0)
        new_lead, _ = c.leader(agree=True)
        dead = {lead.name(), fol[0].name()}

        def reachability():
            s = status_or_none(new_lead)
            if s is None:
                return None
            got = {m["name"]: m.get("reachable") for m in s["members"]}
            want = {n.name(): n.name() not in dead for n in c.nodes}
            return got if got == want else None
        try:
            poll_until(reachability, 5.0, "reachable flags at the leader")
        except harness.PollTimeout as e:
            self.fail("the leader's /status should mark exactly the killed "
                      "members unreachable: %s" % e)
        for i in range(5):  # and it keeps committing
            self.assertStatus(new_lead.put("five%d" % i, b"x"), 200)
        third = [n for n in c.live() if n is not new_lead][0]
        c.kill9(third)
        survivors = c.live()
        self.assertEqual(len(survivors), 2)
        answers, took = self.assertWritesRefused(survivors, "five")
        log("5 nodes, 3 killed: writes refused on both survivors after "
            "%.2f s: %r" % (took, answers))
        # What was committed is still readable locally.
        for n in survivors:
            st, _, body = n.get("five", stale=True)
            self.assertEqual((st, body), (200, b"three-left"), n.label)

    # -- leaving --------------------------------------------------------------

    def test_leave(self):
        """DELETE /members/{name} on the leader, then on a follower (which
        forwards it): each removal answers 200, the others stop listing the
        node and writes keep committing."""
        c = self.new_cluster(4)
        lead, lst = c.leader(agree=True)
        a, b, d = [n for n in c.nodes if n is not lead]
        st, _, body = lead.request("DELETE", "/members/" + a.name())
        self.assertEqual(st, 200, "DELETE /members/%s on the leader: %d %r"
                         % (a.name(), st, body))
        rest = [lead, b, d]
        self.assertMembersEverywhere(rest, self.expected_members(rest))
        c.write("left1", b"x", timeout=5.0, nodes=rest)
        c.wait_value("left1", b"x", nodes=rest, timeout=5.0)

        st, hdrs, body = d.request("DELETE", "/members/" + b.name())
        self.assertEqual(st, 200, "DELETE /members/%s on a follower: %d %r %r"
                         % (b.name(), st, hdrs.get("location"), body))
        rest = [lead, d]
        self.assertMembersEverywhere(rest, self.expected_members(rest))
        term = lead.status()["term"]
        t0 = time.monotonic()
        for i in range(10):
            elapsed, _ = c.write("left2_%d" % i, b"y", timeout=5.0,
                                 nodes=rest)
        c.wait_value("left2_9", b"y", nodes=rest, timeout=5.0)
        after, lst2 = c.leader(among=rest, agree=True)
        log("leave: 10 writes on the 2 remaining nodes in %.2f s; leader %s "
            "term %d -> %s term %d" % (time.monotonic() - t0, lead.label,
                                       term, after.label, lst2["term"]))
        # The removed nodes (still running) must not disturb the rest.
        self.assertIs(after, lead, "the leader changed after the removals")
        self.assertEqual(lst2["term"], term, "the term moved after the "
                         "removals (removed nodes disrupting?)")

    # -- joining --------------------------------------------------------------

    def test_bad_join_requests(self):
        """Malformed and conflicting POST /join requests are refused (400,
        400, 409, 409) and leave the membership as it was; re-joining a
        member with its own name and addresses is a no-op 200."""
        c = self.new_cluster(3)
        lead, lst = c.leader(agree=True)
        f = [n for n in c.nodes if n is not lead][0]
        before = member_map(lst)
        self.assertEqual(before, self.expected_members(c.nodes))
        p, rp = harness.free_port_pair()
        free_http, free_raft = "127.0.0.1:%d" % p, "127.0.0.1:%d" % rp
        cases = [
            ("malformed JSON", b'{"name": "abc1234", "connectionString": ',
             400),
            ("not an object", b'["abc1234"]', 400),
            ("unknown field", {"name": "fresh00",
                               "connectionString": "http://" + free_http,
                               "raftAddress": free_raft, "weight": 3}, 400),
            ("duplicate name", {"name": f.name(),
                                "connectionString": "http://" + free_http,
                                "raftAddress": free_raft}, 409),
            ("duplicate HTTP address", {"name": "fresh01",
                                        "connectionString":
                                            "http://" + f.http_addr,
                                        "raftAddress": free_raft}, 409),
            ("duplicate raft address", {"name": "fresh02",
                                        "connectionString":
                                            "http://" + free_http,
                                        "raftAddress": f.raft_addr}, 409),
        ]
        problems = []
        for what, doc, want in cases:
            st, _, body = self.join_post(lead, doc)
            if st != want or not body.strip():
                problems.append("%s: expected %d with a reason, got %d %r"
                                % (what, want, st, body[:200]))
        # Through a follower (forwarded or redirected), the same verdict.
        st, _, body = self.join_post(f, cases[3][1], follow=True)
        if st != 409:
            problems.append("duplicate name via a follower: expected 409, "
                            "got %d %r" % (st, body[:200]))
        # The member itself, identical: idempotent.
        same = {"name": f.name(), "connectionString": "http://" + f.http_addr,
                "raftAddress": f.raft_addr}
        st, _, body = self.join_post(lead, same)
        if st != 200:
            problems.append("identical re-join: expected 200, got %d %r"
                            % (st, body[:200]))
        self.assertMembersEverywhere(c.nodes, before)
        c.write("after_bad_joins", b"ok", timeout=5.0)
        c.wait_value("after_bad_joins", b"ok", timeout=5.0)
        self.assertFalse(problems, "\n".join(problems))

    def test_joiner_retries_until_cluster_has_quorum(self):
        """A joiner sent to a cluster that has lost its quorum (no leader:
        503) keeps retrying; once the quorum is back it joins."""
        c = self.new_cluster(2)
        n1, n2 = c.nodes
        c.kill9(n2)
        poll_until(lambda: (lambda s: s and not s.get("leader"))(
            status_or_none(n1)), STEP_DOWN_LIMIT + 2.0, "n1 leaderless")
        st, _, body = self.join_post(n1, {"name": "probe01",
                                          "connectionString":
                                              "http://127.0.0.1:1",
                                          "raftAddress": "127.0.0.1:2"})
        self.assertEqual(st, 503, "POST /join with no leader: %d %r"
                         % (st, body))
        j = c.new_node(join=n1.http_addr)
        j.start()
        poll_until(lambda: j.stderr_text().lower().count("retry") >= 2,
                   10.0, "the joiner retrying twice")
        self.assertTrue(j.running(), "the joiner gave up on a 503\n"
                        + j.diagnostics())
        c.restart(n2)
        c.wait_joined(j, timeout=harness.JOIN_TIMEOUT)
        self.assertMembersEverywhere(c.nodes, self.expected_members(c.nodes))
        c.write("after_retry_join", b"ok", timeout=5.0)
        c.wait_value("after_retry_join", b"ok", timeout=5.0)

    def test_joiner_with_foreign_data_dir(self):
        """A data directory that holds another cluster's log cannot join:
        exit 1, a clear error, nothing in the directory lost (LevelDB may
        reorganise its files when opened, so the check is what a restart
        reads back, not the bytes), the cluster unchanged."""
        c = self.new_cluster(2)
        lead, lst = c.leader(agree=True)
        before = member_map(lst)
        other = self.node(label="foreign")
        other.start_and_wait()  # its own one-node cluster
        self.assertStatus(other.put("mine", b"foreign"), 200)
        other_name = other.status()["name"]
        rc, killed = other.stop()
        self.assertEqual((rc, killed), (0, False))
        j = ClusterNode(join=lead.http_addr, data_dir=other.data_dir,
                        port=other.port, raft_port=other.raft_port,
                        label="foreign-joiner")
        self.nodes.append(j)
        j.start()
        try:
            rc = j.wait_exit(EXIT_TIMEOUT)
        except Exception:
            j.kill9()
            self.fail("a joiner with another cluster's log did not exit "
                      "within %.0f s\n%s" % (EXIT_TIMEOUT, j.diagnostics()))
        err = j.stderr_text()
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, r"(?i)join", "the error should say the join "
                         "failed")
        self.assertRegex(err, r"(?i)log|member|cluster", err)
        self.assertRegex(err, r"another cluster", err)
        self.assertMembersEverywhere(c.nodes, before)
        self.assertNotIn(other_name, before)
        # Its own cluster still works from that directory, data intact.
        other.start_and_wait()
        self.assertEqual(other.status()["name"], other_name)
        st, _, body = other.get("mine", stale=True)
        self.assertEqual((st, body), (200, b"foreign"))

    def test_joiner_refused_exits_1(self):
        """A joiner that the cluster refuses (4xx: here a new name at a dead
        member's addresses) exits 1 with the reason on stderr at once (no 60
        s of retries); the cluster keeps its members and the dead member
        comes back on its own data directory."""
        c = self.new_cluster(3)
        lead, lst = c.leader(agree=True)
        before = member_map(lst)
        f = [n for n in c.nodes if n is not lead][0]
        c.kill9(f)
        j = ClusterNode(join=lead.http_addr, port=f.port,
                        raft_port=f.raft_port, label="impostor")
        self.nodes.append(j)
        t0 = time.monotonic()
        j.start()
        try:
            rc = j.wait_exit(EXIT_TIMEOUT)
        except Exception:
            j.kill9()
            self.fail("a refused joiner did not exit within %.0f s\n%s"
                      % (EXIT_TIMEOUT, j.diagnostics()))
        err = j.stderr_text()
        said = [l for l in err.splitlines() if l.startswith("raftd:")]
        log("refused joiner exited %d after %.2f s: %s"
            % (rc, time.monotonic() - t0, said[-1] if said else "<nothing>"))
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, r"(?i)join", err)
        self.assertRegex(err, r"409|in use|already|refus", err)
        self.assertMembersEverywhere([n for n in c.nodes if n.running()],
                                     before)
        c.restart(f)
        c.write("after_impostor", b"ok", timeout=5.0)
        c.wait_value("after_impostor", b"ok", timeout=5.0)
        self.assertMembersEverywhere(c.nodes, before)


if __name__ == "__main__":
    harness.main()
