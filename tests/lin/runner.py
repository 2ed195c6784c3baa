"""A unittest runner with the process tests' conventions: parses --bin-dir,
runs the calling module's tests, prints "N passed, M failed" and exits
non-zero on any failure (or when no test ran)."""

import argparse
import os
import sys
import unittest

BIN_DIR = None


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
    failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    passed = r.testsRun - failed - len(r.skipped)
    skipped = len(r.skipped)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.stdout.flush()
    return 0 if failed == 0 and r.testsRun > 0 else 1
