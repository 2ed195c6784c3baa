"""Log compaction and InstallSnapshot with real raftd processes (§7): with
small thresholds (-snapshot-entries 100 -snapshot-trailing 20) the log stays
a short window behind the snapshot on every node, a follower that was down
while the leader compacted gets the state streamed, a fresh joiner gets a
snapshot instead of the history, and a cluster restarted after all that has
every acknowledged write.

Every wait polls /status or the data with a deadline (harness.poll_until)."""

import harness
from harness import conn_request, poll_until, status_or_none

SNAP = ["-snapshot-entries", "100", "-snapshot-trailing", "20"]
# The log may hold the trailing window, what was applied since the last
# sync, and the entries not yet applied: a generous bound that still fails
# if nothing is compacted (the tests write thousands).
LOG_BOUND = 100 + 20 + 400


def log(msg):
    print("    [compaction] " + msg, flush=True)


class Compaction(harness.NodeTestCase):
    def new_cluster(self, size):
        return self.cluster(size, args=SNAP, label=self._testMethodName[5:9])

    def write_keys(self, cl, first, count, prefix="k"):
        """Writes prefix<i> = v<i> for i in [first, first + count) to the
        leader over one keep-alive connection; returns {key: value}."""
        lead = cl.leader()[0]
        conn = lead.connection()
        model = {}
        try:
            for i in range(first, first + count):
                key, value = "%s%05d" % (prefix, i), b"v%d" % i
                st, _, body = conn_request(conn, "POST", "/db/" + key, value)
                self.assertEqual(st, 200, "POST %s: %r" % (key, body[:80]))
                model[key] = value
        finally:
            conn.close()
        return model

    def verify(self, node, model):
        """Every key of `model` on `node`, stale reads (its own state)."""
        conn = node.connection()
        try:
            for key, value in sorted(model.items()):
                st, _, body = conn_request(
                    conn, "GET", "/db/" + key + "?consistency=stale")
                self.assertEqual((st, body), (200, value),
                                 "%s: key %s" % (node.label, key))
        finally:
            conn.close()

    def wait_applied(self, node, index, timeout=15.0):
        def done():
            s = status_or_none(node)
            return s if s and s["applied_index"] >= index else None
        return poll_until(done, timeout, "%s applied %d" % (node.label,
                                                              index))

    def wait_compacted(self, node, timeout=15.0):
        """Polls until node's log is a bounded window behind a snapshot."""
        last = {}

        def bounded():
            s = status_or_none(node)
            last["s"] = s
            if s is None or s["snapshot_index"] == 0:
                return None
            if s["last_index"] - s["first_index"] + 1 > LOG_BOUND:
                return None
            return s
        try:
            return poll_until(bounded, timeout,
                              "%s compacted its log" % node.label)
        except harness.PollTimeout as e:
            raise harness.PollTimeout("%s; last /status %r"
                                      % (e, last.get("s"))) from None

    # -- tests ------------------------------------------------------------------

    def test_every_node_keeps_a_short_log(self):
        cl = self.new_cluster(3)
        model = self.write_keys(cl, 0, 1500)
        lead, ls = cl.leader()
        for n in cl.nodes:
            self.wait_applied(n, ls["commit_index"])
            s = self.wait_compacted(n)
            log("%s: first %d last %d snapshot %d" % (
                n.label, s["first_index"], s["last_index"],
                s["snapshot_index"]))
            self.assertGreater(s["first_index"], 1000, repr(s))
            self.assertLessEqual(s["first_index"], s["snapshot_index"] + 1,
                                 repr(s))
            self.verify(n, model)

    def test_a_follower_behind_the_log_gets_a_snapshot(self):
        cl = self.new_cluster(3)
        model = self.write_keys(cl, 0, 200)
        follower = cl.followers()[0]
        cl.kill9(follower)
        model.update(self.write_keys(cl, 200, 1500))
        # Some keys deleted and rewritten while it is down: the snapshot
        # must carry the state, not replay it.
        lead = cl.leader()[0]
        for i in range(0, 200, 7):
            key = "k%05d" % i
            st, _, _ = lead.delete(key)
            self.assertEqual(st, 200)
            del model[key]
        lead, ls = cl.leader()
        self.wait_compacted(lead)
        sent_before = ls["snapshots_sent"]
        s = cl.restart(follower, applied=ls["commit_index"])
        s = self.wait_applied(follower, ls["commit_index"])
        self.assertGreaterEqual(s["snapshots_installed"], 1, repr(s))
        self.assertGreater(s["first_index"], 200, repr(s))
        self.assertGreater(lead.status()["snapshots_sent"], sent_before)
        self.verify(follower, model)
        for i in range(0, 200, 7):
            st, _, _ = follower.get("k%05d" % i, stale=True)
            self.assertEqual(st, 404, "deleted key k%05d is back" % i)
        # It takes part again: a write commits with it.
        cl.write("after", b"snapshot")
        cl.wait_value("after", b"snapshot", nodes=[follower])

    def test_a_joiner_gets_a_snapshot_not_the_history(self):
        cl = self.new_cluster(3)
        model = self.write_keys(cl, 0, 1500)
        lead, ls = cl.leader()
        self.wait_compacted(lead)
        joiner = cl.add()
        s = self.wait_applied(joiner, ls["commit_index"])
        log("joiner: first %d last %d installed %d" % (
            s["first_index"], s["last_index"], s["snapshots_installed"]))
        self.assertGreaterEqual(s["snapshots_installed"], 1, repr(s))
        self.assertGreater(s["first_index"], 1000, repr(s))
        self.verify(joiner, model)

    def test_a_cluster_restarted_after_compaction_has_every_write(self):
        cl = self.new_cluster(3)
        model = self.write_keys(cl, 0, 1200)
        lead, ls = cl.leader()
        for n in cl.nodes:
            self.wait_applied(n, ls["commit_index"])
            self.wait_compacted(n)
        for n in cl.nodes:
            cl.kill9(n)
        for n in cl.nodes:
            n.start()
        lead, _ = cl.leader(timeout=10.0)
        model.update(self.write_keys(cl, 1200, 50))
        _, ls = cl.leader()
        for n in cl.nodes:
            self.wait_applied(n, ls["commit_index"])
            self.verify(n, model)


if __name__ == "__main__":
    harness.main()
