#!/usr/bin/env python3
"""The disk's fsync ceiling: small appends, each followed by fdatasync (what
LevelDB's and etcd's logs do) or fsync, in a temporary file in DIR (put it on
the disk the nodes write to).

    python3 bench/fsync_probe.py [--dir DIR] [--seconds 2] [--size 128] [--json]

Prints, for fdatasync and for fsync: calls per second and the p50 / p99 of
one write+sync. One process, one file, one sync at a time: the disk's
ceiling for a log that syncs every write; group commit is how a server goes
past it. Bounded: each mode runs --seconds (at most 60). Standard library only.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time


def probe(directory, seconds, size, sync):
    fd, path = tempfile.mkstemp(prefix="fsync-probe-", dir=directory)
    try:
        os.close(fd)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        data = b"x" * size
        lat = []
        t_end = time.monotonic() + seconds
        t0 = time.monotonic()
        while True:
            a = time.perf_counter()
            os.write(fd, data)
            sync(fd)
            lat.append(time.perf_counter() - a)
            if time.monotonic() >= t_end:
                break
        elapsed = time.monotonic() - t0
        os.close(fd)
    finally:
        os.unlink(path)
    lat.sort()
    return {"calls": len(lat), "per_s": len(lat) / elapsed,
            "p50_ms": statistics.median(lat) * 1e3,
            "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--size", type=int, default=128,
                    help="bytes per append (default 128)")
    ap.add_argument("--json", action="store_true",
                    help="one JSON object on stdout instead of text")
    a = ap.parse_args()
    if not 0 < a.seconds <= 60 or not 1 <= a.size <= 1 << 20:
        ap.error("--seconds must be in (0, 60], --size in [1, 1 MiB]")
    out = {"dir": os.path.abspath(a.dir), "size": a.size,
           "fdatasync": probe(a.dir, a.seconds, a.size, os.fdatasync),
           "fsync": probe(a.dir, a.seconds, a.size, os.fsync)}
    if a.json:
        print(json.dumps(out))
    else:
        for mode in ("fdatasync", "fsync"):
            r = out[mode]
            print("%-9s %d-byte appends in %s: %.0f/s, p50 %.3f ms, "
                  "p99 %.3f ms" % (mode, a.size, out["dir"], r["per_s"],
                                   r["p50_ms"], r["p99_ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
