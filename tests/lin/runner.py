"""A unittest runner with the process tests' conventions: parses --bin-dir,
runs the calling module's tests, prints "N passed, M failed" and exits 1 on
any failure (or when no test ran), SKIP_RETURN_CODE (77, CTest's
SKIP_RETURN_CODE in CMakeLists.txt) when a test was skipped and none failed,
else 0: a skipped test never reads as a pass."""

import argparse
import os
import sys
import unittest

BIN_DIR = None
SKIP_RETURN_CODE = 77


def main():
    global BIN_DIR
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--bin-dir", default=None)
    args, rest = parser.parse_known_args()
    if args.bin_dir:
        BIN_DIR = os.path.abspath(args.bin_dir)
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout)
    prog = unittest.main(module="__main__", argv=[sys.argv[0]] + rest,
                         testRunner=runner, exit=False)
    r = prog.result
    # A test with failing subtests counts once.
    failed = len({getattr(t, "test_case", t).id() for t, _ in
                  r.failures + r.errors}) + len(r.unexpectedSuccesses)
    skipped = len({getattr(t, "test_case", t).id() for t, _ in r.skipped})
    passed = max(0, r.testsRun - failed - skipped)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    for test, why in r.skipped:
        print("SKIPPED %s: %s" % (test.id(), why))
    sys.stdout.flush()
    if failed or r.testsRun == 0:
        return 1
    return SKIP_RETURN_CODE if skipped else 0
