#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench-media-errors: what NVDIMM media errors cost, our build only.

The measurements and what each column means: scripts/vnv/bench/
media_errors.py.  Prints a Markdown table.

    bench_media_errors.py [--ours BIN] [--errors N]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vnv import paths  # noqa: E402
from vnv.bench import media_errors  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", default=paths.OURS)
    parser.add_argument("--errors", type=int, default=10000)
    args = parser.parse_args()
    return media_errors.run(args.ours, args.errors)


if __name__ == "__main__":
    sys.exit(main())
