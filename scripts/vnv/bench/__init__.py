# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench and make bench-media-errors: our build against the reference.

    machine      the benchmark machine's command lines (pc, sparse files)
    callgrind    valgrind command lines and the totals of their dumps
    startup      exec to QMP: wall, CPU, RSS; instructions to the main loop
    mailbox      the _DSM mailbox under qtest: instructions per call
    acpi         the ACPI tables blob and acpi_build's instructions
    guests       measurements inside the test guest (boot, ndctl labels,
                 hotplug, migration, fsync)
    parts        the eight parts, ABBA alternation, the run
    report       docs/benchmarks.md (command_lines: the lines it shows)
    media_errors make bench-media-errors (ours only)
"""

from vnv.qmp import MonitorError
from vnv.qtest import QtestError


class BenchError(Exception):
    """A binary could not run at all."""


# What stops one part of a run: the other parts still run
PART_FAILURES = (BenchError, MonitorError, QtestError)


def log(msg):
    print("[bench] " + msg, flush=True)
