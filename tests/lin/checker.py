"""A linearizability checker for histories of per-key read/write registers.

The model: every key is an independent register, absent (None) at first.
  write(v)  outcome "ok"      : took effect exactly once, somewhere inside
                                [invoke, complete].
            outcome "failed"  : definitely had no effect (503, a refused
                                connection): dropped before checking.
            outcome "unknown" : may take effect at any point after invoke, or
                                never (504, a timeout, a connection lost after
                                the request was sent): complete = +infinity
                                and it may be left out.
  read -> v or None           : only "ok" reads are checked; a failed read
                                had no effect and is dropped.
  delete                      : DELETE /db/k, decided when the entry is
                                applied. found=True (200, the key existed):
                                a write of "absent" (None); found=False (404):
                                the key was absent then, and stays absent, so
                                exactly a read of None; unknown: a write of
                                None that may or may not take effect; failed:
                                dropped. Deletes are the only writes whose
                                value (None) is not unique.

Each key is checked on its own (a register history is linearizable iff each
key's is: locality, Herlihy & Wing). The search is Wing & Gong's with Lowe's
just-in-time linearization, as in Knossos and Porcupine: the history becomes a
doubly linked list of call and return events in time order; the search
linearizes some call that comes before the first return still in the list
(an op whose response is the earliest must be linearized before anything
invoked after that response), and backtracks when it reaches a return whose
op it could not linearize. Configurations (set of linearized ops as an int
bitset, register value) already explored are memoized.

Two reductions keep unknown writes cheap, both exact for registers whose
written values are unique (the driver writes client-id + counter):
  * an unknown write whose value no read returned is dropped: linearizing it
    can only be followed by another write (which hides it) or by nothing;
  * an unknown write, once linearized, must be followed directly by a read
    of its value: "unknown write, then another write" reaches the same
    configuration as "that other write" alone, which the search tries too.

On a violation the checker explains it: a named pattern when one applies
(a read of a value never written, a read of a write that had not started yet,
a stale read after a completed write, two reads going back in time; the
patterns about an absent key only where nothing deletes it), and
always a small violating sub-history found by delta debugging on the ops up
to the response that could not be linearized, keeping every read's writer so
that the sub-history's violation implies the whole history's.

Standard library only.
"""

import json
import math
import time

INF = math.inf


class Op:
    """One operation of a history."""

    __slots__ = ("id", "client", "kind", "key", "value", "invoke", "complete",
                 "outcome", "extra", "found")

    def __init__(self, kind, key, value, invoke, complete, outcome="ok",
                 client=None, id=None, extra=None, found=None):
        assert kind in ("write", "read", "delete"), kind
        assert outcome in ("ok", "failed", "unknown"), outcome
        if kind == "delete":
            assert value is None, "a delete writes None"
            assert outcome != "ok" or found in (True, False), \
                "an ok delete says whether the key existed"
            if outcome != "ok":
                found = None
        self.found = found
        self.kind = kind
        self.key = key
        self.value = value
        self.invoke = float(invoke)
        if outcome == "unknown" or complete is None:
            complete = INF
        self.complete = float(complete)
        self.outcome = outcome
        self.client = client
        self.id = id
        self.extra = extra or {}

    @classmethod
    def from_dict(cls, d, id=None):
        kind = d.get("op") or d.get("kind")
        extra = {k: v for k, v in d.items()
                 if k not in ("op", "kind", "key", "value", "invoke",
                              "complete", "outcome", "client", "id",
                              "found")}
        return cls(kind, d["key"], d.get("value"), d["invoke"],
                   d.get("complete"), d.get("outcome", "ok"),
                   client=d.get("client"),
                   id=d.get("id", id), extra=extra, found=d.get("found"))

    def to_dict(self):
        d = {"id": self.id, "client": self.client, "op": self.kind,
             "key": self.key, "value": self.value, "invoke": self.invoke,
             "complete": None if self.complete == INF else self.complete,
             "outcome": self.outcome}
        if self.kind == "delete":
            d["found"] = self.found
        d.update(self.extra)
        return d

    def describe(self, t0=0.0):
        end = "inf" if self.complete == INF else "%.4f" % (self.complete - t0)
        if self.kind == "delete":
            what = "delete%s" % {True: " -> existed", False: " -> absent",
                                 None: ""}[self.found]
        else:
            what = ("write %r" % (self.value,) if self.kind == "write"
                    else "read -> %r" % (self.value,))
        via = ""
        if self.extra.get("node"):
            via = " via %s" % self.extra["node"]
            if self.extra.get("hops"):
                via += " (+%d redirect%s)" % (
                    self.extra["hops"], "s" if self.extra["hops"] > 1 else "")
        if self.extra.get("stale"):
            via += " STALE read"
        if self.extra.get("status") or self.extra.get("error"):
            via += " [%s]" % (self.extra.get("error") or
                              self.extra.get("status"))
        return "#%s client %s %s [%s %.4f .. %s]%s" % (
            self.id, self.client, what, self.outcome, self.invoke - t0, end,
            via)

    def __repr__(self):
        return "Op(%s)" % self.describe()


def ops_from_dicts(dicts):
    return [Op.from_dict(d, id=i) for i, d in enumerate(dicts)]


def load_jsonl(path):
    """Reads a history saved as JSON lines (one op a line)."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return ops_from_dicts(out)


def save_jsonl(ops, path):
    with open(path, "w") as f:
        for op in ops:
            f.write(json.dumps(op.to_dict(), sort_keys=True) + "\n")


# -- results ---------------------------------------------------------------------


class KeyResult:
    """The verdict for one key: valid is True, False, or None (the search ran
    out of its budget: inconclusive)."""

    def __init__(self, key, valid, n_ops, steps=0, seconds=0.0, reason="",
                 witness=None, pattern=None, failing_op=None, info=None):
        self.key = key
        self.valid = valid
        self.n_ops = n_ops
        self.steps = steps
        self.seconds = seconds
        self.reason = reason  # one line
        self.witness = witness or []  # the small violating sub-history
        self.pattern = pattern  # (name, [ops]) when a named pattern applies
        self.failing_op = failing_op
        self.info = info or {}

    def explain(self, t0=0.0):
        if self.valid:
            return "key %r: linearizable (%d ops)" % (self.key, self.n_ops)
        if self.valid is None:
            return "key %r: INCONCLUSIVE (%s)" % (self.key, self.reason)
        reason = self.reason
        if self.failing_op is not None:
            reason = reason.replace("{op}", self.failing_op.describe(t0))
        lines = ["key %r: NOT linearizable: %s" % (self.key, reason)]
        if self.pattern:
            lines.append("  pattern: %s" % self.pattern[0])
            for op in self.pattern[1]:
                lines.append("    " + op.describe(t0))
        if self.witness:
            lines.append("  smallest violating sub-history found "
                         "(%d ops, by invocation time):" % len(self.witness))
            for op in sorted(self.witness, key=lambda o: (o.invoke, o.id)):
                lines.append("    " + op.describe(t0))
        return "\n".join(lines)


class Result:
    def __init__(self, keys):
        self.keys = keys  # {key: KeyResult}

    @property
    def valid(self):
        vals = [r.valid for r in self.keys.values()]
        if any(v is False for v in vals):
            return False
        if any(v is None for v in vals):
            return None
        return True

    def violations(self):
        return [r for r in self.keys.values() if r.valid is False]

    def explain(self, t0=0.0):
        return "\n".join(self.keys[k].explain(t0) for k in sorted(
            self.keys, key=lambda k: (self.keys[k].valid is not False,
                                      str(k))))


# -- preprocessing -------------------------------------------------------------------


def _is_read(op):
    """Reads, and deletes answered 404 (the key was absent and stays so)."""
    return op.kind == "read" or (op.kind == "delete" and op.found is False
                                 and op.outcome == "ok")


def _is_write(op):
    """Writes, and deletes that (may) have removed the key."""
    return op.kind == "write" or (op.kind == "delete" and not _is_read(op))


def _prepare(ops):
    """The ops of one key that the search sees: ok and unknown writes (the
    unknown ones only if some ok read returned their value) and ok reads.
    Returns (kept ops, problem) where problem is (reason, [ops]) for a read
    that no write can explain."""
    writes_by_val = {}
    failed_by_val = {}
    deletes = []
    reads = []
    for op in ops:
        if op.kind == "delete" and _is_write(op):
            if op.outcome != "failed":
                deletes.append(op)
        elif op.kind == "write":
            if op.outcome == "failed":
                failed_by_val.setdefault(op.value, op)
            else:
                if op.value in writes_by_val:
                    raise ValueError("value %r written twice on key %r: the "
                                     "checker needs unique values"
                                     % (op.value, op.key))
                writes_by_val[op.value] = op
        elif op.outcome == "ok":  # reads, deletes answered 404
            reads.append(op)
    read_vals = set()
    for r in reads:
        if r.value is not None and r.value not in writes_by_val:
            if r.value in failed_by_val:
                return [], ("read returned the value of a write that FAILED "
                            "(nothing was proposed)",
                            [failed_by_val[r.value], r])
            return [], ("read returned a value that was never written", [r])
        read_vals.add(r.value)
    kept = [w for w in list(writes_by_val.values()) + deletes
            if w.outcome == "ok" or w.value in read_vals]
    return kept + reads, None


# -- the search ----------------------------------------------------------------------


class _Budget(Exception):
    pass


def _search(ops, deadline=None, max_steps=None):
    """Wing & Gong / Lowe on prepared ops of one key. Returns
    (valid, steps, deepest) with deepest = (depth, op that could not be
    linearized, register value then, last linearized ops) on failure.
    Raises _Budget when out of time or steps."""
    ops = sorted(ops, key=lambda o: o.invoke)
    n = len(ops)
    # Events: 1..; 0 is the head sentinel. A call's match is its return
    # event (or -1 for unknown writes, which never return).
    events = []
    for i, op in enumerate(ops):
        events.append((op.invoke, 0, i))
        if op.complete != INF:
            events.append((op.complete, 1, i))
    events.sort()  # at equal times calls come first (concurrent)
    m = len(events) + 1
    ev_op = [-1] * m
    ev_call = [False] * m
    match = [-1] * m
    call_of = [0] * n
    for e, (_, kind, i) in enumerate(events, 1):
        ev_op[e] = i
        if kind == 0:
            ev_call[e] = True
            call_of[i] = e
        else:
            match[call_of[i]] = e
    nxt = list(range(1, m)) + [-1]
    prv = [-1] + list(range(0, m - 1))

    is_read = [_is_read(op) for op in ops]
    is_unknown = [op.outcome == "unknown" for op in ops]
    vals = [op.value for op in ops]
    remaining = sum(1 for op in ops if op.complete != INF)

    cache = set()
    stack = []  # (call event, previous value, previous flag)
    bits = 0
    value = None
    flag = False  # the last linearized op is an unknown write
    entry = nxt[0]
    steps = 0
    deepest = None
    while remaining > 0:
        steps += 1
        if steps & 0x3fff == 0:
            if deadline is not None and time.monotonic() > deadline:
                raise _Budget("time")
            if max_steps is not None and steps > max_steps:
                raise _Budget("steps")
        if entry == -1:
            raise AssertionError("checker bug: ran off the event list")
        if ev_call[entry]:
            i = ev_op[entry]
            if is_read[i]:
                ok = vals[i] == value
                nv, nf = value, False
            else:
                ok = not flag
                nv, nf = vals[i], is_unknown[i]
            if ok:
                nb = bits | (1 << i)
                # The memo key: ops are numbered in invocation order, so
                # every op below the lowest unlinearized one is linearized;
                # keep only that index and the few bits above it (small
                # ints, whatever the history's length).
                low = (~nb & (nb + 1)).bit_length() - 1
                ck = (low, nb >> low, nv, nf)
                if ck not in cache:
                    cache.add(ck)
                    stack.append((entry, value, flag))
                    bits, value, flag = nb, nv, nf
                    # lift the call and its return out of the list
                    nxt[prv[entry]] = nxt[entry]
                    if nxt[entry] != -1:
                        prv[nxt[entry]] = prv[entry]
                    r = match[entry]
                    if r != -1:
                        nxt[prv[r]] = nxt[r]
                        if nxt[r] != -1:
                            prv[nxt[r]] = prv[r]
                        remaining -= 1
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
        else:
            # A return whose op is not linearized yet: backtrack.
            depth = len(stack)
            if deepest is None or depth > deepest[0]:
                deepest = (depth, ops[ev_op[entry]], value,
                           [ops[ev_op[s[0]]] for s in stack[-6:]])
            if not stack:
                return False, steps, deepest
            top, value, flag = stack.pop()
            i = ev_op[top]
            bits &= ~(1 << i)
            r = match[top]
            if r != -1:
                nxt[prv[r]] = r
                if nxt[r] != -1:
                    prv[nxt[r]] = r
                remaining += 1
            nxt[prv[top]] = top
            if nxt[top] != -1:
                prv[nxt[top]] = top
            entry = nxt[top]
    return True, steps, None


def _violates(ops, deadline=None, max_steps=None):
    """True if these ops of one key are certainly not linearizable."""
    kept, problem = _prepare(ops)
    if problem:
        return True
    try:
        valid, _, _ = _search(kept, deadline, max_steps)
    except _Budget:
        return False
    return not valid


# -- explanations --------------------------------------------------------------------


def _writer_map(ops):
    """value -> its (unique) write; deletes (value None) are not in it."""
    return {op.value: op for op in ops
            if op.kind == "write" and op.outcome != "failed"}


def find_pattern(ops, focus=None):
    """A named, small reason why the ops of one key are not linearizable, or
    None. Each pattern is sound on its own (values are unique, the register
    starts absent; the two about an absent key only apply where nothing
    deletes it). Prefers a pattern that involves `focus` (an op), otherwise
    the earliest one."""
    writers = _writer_map(ops)
    deletes = any(o.kind == "delete" and _is_write(o) and
                  o.outcome != "failed" for o in ops)
    reads = sorted((o for o in ops if _is_read(o) and o.outcome == "ok"),
                   key=lambda o: o.invoke)
    ok_writes = sorted((o for o in ops if _is_write(o)
                        and o.outcome == "ok"), key=lambda o: o.complete)
    found = []
    # 1. read from the future: the write started after the read ended.
    for r in reads:
        w = writers.get(r.value) if r.value is not None else None
        if w is not None and w.invoke > r.complete:
            found.append(("read of a write that had not been invoked yet "
                          "(the write started after the read returned)",
                          [w, r]))
    # 2. stale read: some ok write W2 completed before the read started and
    #    started after the read's writer completed (or the read saw nothing).
    #    Sweep ok writes by completion, keeping the one with the latest invoke.
    j = 0
    best = None
    for r in reads:  # by invoke
        while j < len(ok_writes) and ok_writes[j].complete < r.invoke:
            if best is None or ok_writes[j].invoke > best.invoke:
                best = ok_writes[j]
            j += 1
        if best is None:
            continue
        if r.value is None:
            if not deletes and best.kind == "write":
                found.append(("read saw the key absent after a write to it "
                              "had completed (lost or stale)", [best, r]))
            continue
        w = writers.get(r.value)
        if w is not None and w is not best and w.complete < best.invoke:
            found.append(("stale read: a newer write completed before the "
                          "read started (the read's write completed before "
                          "that newer write started)", [w, best, r]))
    # 3. reads going back in time: R1 ended before R2 started, R1 saw the
    #    value of W2, R2 that of W1, and W1 completed before W2 started.
    by_complete = sorted(reads, key=lambda o: o.complete)
    j = 0
    best_r1 = None  # the earlier read whose writer was invoked the latest

    def winv(r):
        if r.value is None:
            return -INF
        w = writers.get(r.value)
        return w.invoke if w is not None else -INF

    for r2 in reads:
        while j < len(by_complete) and by_complete[j].complete < r2.invoke:
            if best_r1 is None or winv(by_complete[j]) > winv(best_r1):
                best_r1 = by_complete[j]
            j += 1
        if best_r1 is None or best_r1.value is None:
            continue
        w2 = writers.get(best_r1.value)
        if r2.value is None:
            if not deletes:
                found.append(("a read saw the key absent after an earlier "
                              "read had seen a value", [w2, best_r1, r2]))
            continue
        w1 = writers.get(r2.value)
        if w1 is not None and w1 is not w2 and w1.complete < w2.invoke:
            found.append(("reads went back in time: a later read returned an "
                          "older value than an earlier read", [w1, w2,
                                                               best_r1, r2]))
    if not found:
        return None
    if focus is not None:
        for p in found:
            if any(o is focus for o in p[1]):
                return p
    return min(found, key=lambda p: max(o.invoke for o in p[1]))


def _closure(ops):
    """Drops reads whose writer is not among ops (keeps the sub-history's
    violation sound). Deletes are never dropped: any of them may be what a
    read of None saw."""
    vals = {o.value for o in ops if o.kind == "write"}
    return [o for o in ops if o.kind in ("write", "delete")
            or o.value is None or o.value in vals]


def shrink(ops, deadline, max_steps_each=200000):
    """Delta debugging (ddmin) of a violating list of ops of one key, keeping
    every read's writer. Returns a smaller (1-minimal if time allowed)
    violating list."""
    cur = _closure(ops)
    if not _violates(cur, deadline, max_steps_each):
        return cur
    n = 2
    while len(cur) >= 2 and time.monotonic() < deadline:
        size = max(1, len(cur) // n)
        chunks = [cur[i:i + size] for i in range(0, len(cur), size)]
        reduced = False
        for c in chunks:
            if time.monotonic() > deadline:
                break
            cids = set(id(o) for o in c)
            cand = _closure([o for o in cur if id(o) not in cids])
            if cand and len(cand) < len(cur) and \
                    _violates(cand, deadline, max_steps_each):
                cur = cand
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if size == 1:
                break
            n = min(len(cur), n * 2)
    return cur


def check_key(ops, deadline=None, max_steps=None, explain_seconds=20.0):
    """Checks the ops of one key. Returns a KeyResult."""
    t0 = time.monotonic()
    key = ops[0].key if ops else None
    n = len(ops)
    kept, problem = _prepare(ops)
    if problem:
        reason, pops = problem
        return KeyResult(key, False, n, reason=reason, witness=pops,
                         pattern=(reason, pops), failing_op=pops[-1],
                         seconds=time.monotonic() - t0)
    try:
        valid, steps, deepest = _search(kept, deadline, max_steps)
    except _Budget as e:
        return KeyResult(key, None, n, reason="search budget (%s) exhausted "
                         "on %d ops" % (e, len(kept)),
                         seconds=time.monotonic() - t0)
    if valid:
        return KeyResult(key, True, n, steps=steps,
                         seconds=time.monotonic() - t0)
    depth, fop, fval, recent = deepest
    reason = ("no linearization: at most %d of %d ops linearize; then "
              "{op} cannot (the register holds %r there)"
              % (depth, len(kept), fval))
    pattern = find_pattern(kept, focus=fop)
    # The sub-history up to the failing response (plus the writers of its
    # reads), shrunk by ddmin within a time budget.
    sdl = time.monotonic() + explain_seconds
    prefix = [o for o in kept if o.invoke <= fop.complete
              or o.kind == "delete"]
    writers = _writer_map(kept)
    have = set(id(o) for o in prefix)
    for o in list(prefix):
        if o.kind == "read" and o.value is not None:
            w = writers.get(o.value)
            if w is not None and id(w) not in have:
                prefix.append(w)
                have.add(id(w))
    if pattern and _violates(pattern[1], sdl, 100000):
        witness = list(pattern[1])
    elif _violates(prefix, sdl):
        witness = shrink(prefix, sdl)
    else:
        witness = shrink(kept, sdl)
    return KeyResult(key, False, n, steps=steps, reason=reason,
                     witness=witness, pattern=pattern, failing_op=fop,
                     info={"depth": depth, "recent": recent},
                     seconds=time.monotonic() - t0)


def check(ops, time_budget=120.0, max_steps=None, explain_seconds=20.0):
    """Checks a whole history (Ops or dicts, any keys). Returns a Result."""
    ops = [o if isinstance(o, Op) else Op.from_dict(o, id=i)
           for i, o in enumerate(ops)]
    for i, o in enumerate(ops):
        if o.id is None:
            o.id = i
    by_key = {}
    for o in ops:
        by_key.setdefault(o.key, []).append(o)
    deadline = time.monotonic() + time_budget if time_budget else None
    results = {}
    for k, kops in by_key.items():
        results[k] = check_key(kops, deadline, max_steps, explain_seconds)
    return Result(results)


def summarize(ops):
    """{kind: {outcome: count}} over a history."""
    out = {"write": {"ok": 0, "failed": 0, "unknown": 0},
           "read": {"ok": 0, "failed": 0, "unknown": 0},
           "delete": {"ok": 0, "failed": 0, "unknown": 0}}
    for o in ops:
        out[o.kind][o.outcome] += 1
    return out


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 2:
        print("usage: python3 -m lin.checker HISTORY.jsonl", file=sys.stderr)
        sys.exit(2)
    h = load_jsonl(sys.argv[1])
    t_0 = min((o.invoke for o in h), default=0.0)
    res = check(h)
    print(res.explain(t_0))
    print("ops: %r" % summarize(h))
    sys.exit(0 if res.valid else 1)
