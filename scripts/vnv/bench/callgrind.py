# SPDX-License-Identifier: GPL-2.0-or-later
"""Instruction counts from valgrind's callgrind.

perf has no hardware counters on this VM; callgrind counts the same
instructions on every run, so one run per binary is enough.
"""

import os


def callgrind(out_file, *options):
    """The valgrind wrapper of a command line, dumping into OUT_FILE."""
    return ["valgrind", "--tool=callgrind",
            "--callgrind-out-file=" + out_file] + list(options)


def remove_dumps(prefix):
    """Delete every dump whose name starts with PREFIX."""
    folder = os.path.dirname(prefix)
    for name in os.listdir(folder):
        if name.startswith(os.path.basename(prefix)):
            os.unlink(os.path.join(folder, name))


def callgrind_summaries(prefix):
    """Instruction totals of each callgrind dump, in dump order."""
    parts = []
    for name in os.listdir(os.path.dirname(prefix)):
        full = os.path.join(os.path.dirname(prefix), name)
        if not full.startswith(prefix):
            continue
        suffix = full[len(prefix):].lstrip(".")
        order = int(suffix.split("-")[0]) if suffix else 1 << 30
        with open(full) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    parts.append((order, int(line.split()[1])))
                    break
    return [total for _, total in sorted(parts)]

