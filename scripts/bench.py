#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make bench: our build against the reference build of the unmodified base,
# side by side on this machine, written to docs/benchmarks.md.
#
# The two binaries are alternated (ABBA order) and every measurement is
# repeated; the report gives medians and the ratio ours/reference.  These
# are benchmarks, not tests: a slow number never fails the run.  The exit
# status is non-zero only when a binary cannot run at all.  The
# measurements are in the package: scripts/vnv/bench/.
#
# Usage: scripts/bench.py [--repeats N] [--ours PATH] [--reference PATH]
#                         [--only PART]... [--report PATH]

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vnv import paths  # noqa: E402
from vnv.bench import log  # noqa: E402
from vnv.bench.parts import PARTS, run  # noqa: E402

REPORT = os.path.join(paths.TOP, "docs", "benchmarks.md")


def usable(binary):
    """A binary that can at least print its version."""
    try:
        subprocess.run([binary, "--version"], check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def parse_args():
    parser = argparse.ArgumentParser(
        description="Benchmark our QEMU build against the reference.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ours", default=paths.OURS)
    parser.add_argument("--reference", default=paths.REFERENCE)
    parser.add_argument("--report", default=REPORT,
                        help="where to write the report (default %(default)s)")
    parser.add_argument("--only", action="append", choices=tuple(PARTS),
                        help="run only these parts")
    return parser.parse_args()


def main():
    args = parse_args()
    args.ours = os.path.abspath(args.ours)
    args.reference = os.path.abspath(args.reference)
    for binary in (args.ours, args.reference):
        if not usable(binary):
            print("bench: cannot run %s" % binary, file=sys.stderr)
            return 2
    note = ""
    if os.path.realpath(args.ours) == os.path.realpath(args.reference):
        note = "ours IS the reference binary in this run (validation)."
    binaries = [("reference", args.reference), ("ours", args.ours)]
    status = run(binaries, args.only or tuple(PARTS), args.repeats,
                 args.report, note)
    log("wrote " + os.path.relpath(args.report, paths.TOP))
    return status


if __name__ == "__main__":
    sys.exit(main())
