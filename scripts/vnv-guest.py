#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot the vNVDIMM test guest under TCG and run one scenario.

The command line of vnv.guest (scripts/vnv/guest.py), which boots the
test guest for the guest suites, bench and demo.sh:

    vnv-guest.py --scenario NAME [--qemu BIN] [--show] [-- QEMU ARGS]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vnv import paths  # noqa: E402
from vnv.guest import BOOT_TIMEOUT, GuestError, run_scenario  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", default=None, help="QEMU binary")
    ap.add_argument("--reference", action="store_true",
                    help="use the reference build (build/reference/)")
    ap.add_argument("--scenario", default="smoke")
    ap.add_argument("--machine", default="pc",
                    help="pc, q35, virt or pseries (vnv/machines.py)")
    ap.add_argument("--param", action="append", default=[],
                    metavar="KEY=VALUE", help="vnv.KEY=VALUE for the guest")
    ap.add_argument("--timeout", type=int, default=BOOT_TIMEOUT)
    ap.add_argument("--show", action="store_true",
                    help="print only commands, output and results")
    ap.add_argument("qemu_args", nargs="*", help="extra QEMU arguments")
    opts = ap.parse_args()
    params = dict(p.split("=", 1) for p in opts.param)
    try:
        return run_scenario(opts.scenario,
                            paths.REFERENCE if opts.reference else opts.qemu,
                            opts.machine, params, opts.qemu_args,
                            opts.timeout, opts.show)
    except GuestError as e:
        print("vnv-guest: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
