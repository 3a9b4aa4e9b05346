# SPDX-License-Identifier: GPL-2.0-or-later
"""The eight parts of make bench and the run: each part measures both
binaries in ABBA order and adds its rows to the Results."""

import datetime
import shutil
import sys
import tempfile
import time

from vnv.bench import PART_FAILURES, log
from vnv.bench.acpi import acpi_once
from vnv.bench.guests import (HOTPLUG_STEPS, LABEL_RUNS, MIGRATION_WRITE_MIB,
                              fsync_once, fsync_pair_once, guest_boot_once,
                              guest_ready, hotplug_once, label_ops_once,
                              migration_once)
from vnv.bench.machine import LABEL
from vnv.bench.mailbox import MAILBOX_CALLS, mailbox_once
from vnv.bench.report import LABEL_READ_ROW, Results, write_report
from vnv.bench.startup import (STARTUP_REPEATS, startup_insns_once,
                               startup_once)


def alternate(binaries, repeats, measure, record):
    """Run measure() for each binary, ABBA order, repeats times each."""
    for rep in range(repeats):
        order = binaries if rep % 2 == 0 else binaries[::-1]
        for side, binary in order:
            values, argv = measure(binary)
            record(side, values, argv)


def bench_startup(binaries, workdir, repeats, results):
    for count in (1, 16, 64):
        for label in (None, LABEL):
            name = "%d NVDIMM%s%s" % (count, "s" if count > 1 else "",
                                      ", label " + label if label else "")
            log("startup: " + name)

            def record(side, v, argv, name=name):
                results.add("Startup to QMP, wall ms: " + name, side,
                            v["wall_ms"], argv)
                results.add("Startup to QMP, CPU ms: " + name, side,
                            v["cpu_ms"], argv)
                results.add("RSS at QMP, MiB: " + name, side,
                            v["rss_mib"], argv)
            alternate(binaries, max(repeats, STARTUP_REPEATS),
                      lambda b, c=count, lb=label:
                      startup_once(b, workdir, c, c, lb), record)

            def record_insns(side, v, argv, name=name):
                results.add("Startup insns, main thread to main loop: "
                            + name, side, v["insns"], argv)
            alternate(binaries, 1,
                      lambda b, c=count, lb=label:
                      startup_insns_once(b, workdir, c, lb), record_insns)


def bench_mailbox(binaries, workdir, repeats, results):
    log("mailbox: callgrind, %d calls per segment" % MAILBOX_CALLS)

    def record(side, v, argv):
        xfer = v["max_xfer"]
        results.add("Max transfer of Get Label Data, bytes", side, xfer, argv)
        results.add("Insns per Get Label Data call (%d B), doorbell"
                    % xfer, side, v["doorbell"], argv)
        results.add("Insns per bare outl to unassigned port (floor)", side,
                    v["floor"], argv)
        results.add("Mailbox doorbell / floor", side,
                    v["doorbell"] / v["floor"], argv)
    alternate(binaries, repeats, lambda b: mailbox_once(b, workdir), record)


def bench_acpi(binaries, workdir, repeats, results):
    for slots in (1, 64, 256):
        log("ACPI: %d slots" % slots)

        def record(side, v, argv, slots=slots):
            results.add("Startup to QMP, wall ms: %d slots, %d NVDIMMs"
                        % (slots, slots), side, v["wall_ms"], argv)
            results.add("Startup to QMP, CPU ms: %d slots, %d NVDIMMs"
                        % (slots, slots), side, v["cpu_ms"], argv)
        # at 256 slots one start takes over a second: keep REPEATS
        alternate(binaries,
                  repeats if slots > 64 else max(repeats, STARTUP_REPEATS),
                  lambda b, s=slots: startup_once(b, workdir, s, s, LABEL),
                  record)
        # callgrind at 256 slots takes many minutes on this machine
        count_insns = slots <= 64

        def record_acpi(side, v, argv, slots=slots):
            results.add("ACPI tables blob, bytes: %d slots" % slots, side,
                        v["acpi_bytes"], argv)
            if "acpi_build_insn" in v:
                results.add("Insns in acpi_build: %d slots" % slots, side,
                            v["acpi_build_insn"], argv)
        # Sizes and instruction counts repeat exactly (valgrind runs the
        # same instructions every time): one run per binary, as a
        # callgrind start with 64 NVDIMMs takes minutes here.
        alternate(binaries, 1,
                  lambda b, s=slots, c=count_insns: acpi_once(b, workdir,
                                                             s, c),
                  record_acpi)


def bench_boot(binaries, workdir, repeats, results):
    if not guest_ready("boot"):
        return
    for count in (1, 16):
        log("guest boot: %d NVDIMMs with labels" % count)
        name = "%d NVDIMM%s, label %s" % (count, "s" if count > 1 else "",
                                           LABEL)

        def record(side, v, argv, name=name):
            results.add("Guest boot to kernel up, wall s: " + name, side,
                        v["booted_s"], argv)
            results.add("Guest boot to pmem checked, wall s: " + name,
                        side, v["ready_s"], argv)
            results.add("Guest boot, whole run, QEMU CPU s: " + name,
                        side, v["cpu_s"], argv)
        alternate(binaries, repeats,
                  lambda b, c=count: guest_boot_once(b, workdir, c),
                  record)


def bench_labels(binaries, workdir, repeats, results):
    if not guest_ready("labels"):
        return
    log("guest label operations")

    def record_labels(side, v, argv):
        each = "mean of %d in one guest" % LABEL_RUNS
        results.add(LABEL_READ_ROW % LABEL_RUNS, side, v["read-labels"],
                    argv)
        results.add("Guest ndctl check-labels, wall ms, " + each, side,
                    v["check-labels"], argv)
        results.add("Guest ndctl init-labels -f, wall ms, " + each, side,
                    v["init-labels"], argv)
        results.add("Guest ndctl create-namespace fsdax (1 GiB), wall ms",
                    side, v["create-namespace"], argv)
    alternate(binaries, repeats,
              lambda b: label_ops_once(b, workdir), record_labels)


def bench_hotplug(binaries, workdir, repeats, results):
    if not guest_ready("hotplug"):
        return
    log("hotplug: %d NVDIMMs hot-added per guest" % HOTPLUG_STEPS)

    def record(side, v, argv):
        for ms in v["latency_ms"]:
            results.add("Hotplug, device_add return to /dev/pmemN in the "
                        "guest, wall ms (label %s)" % LABEL, side, ms, argv)
    alternate(binaries, repeats,
              lambda b: hotplug_once(b, workdir), record)


def bench_migration(binaries, workdir, repeats, results):
    if not guest_ready("migration"):
        return
    log("migration: 4 GiB NVDIMM, empty then %d MiB written"
        % MIGRATION_WRITE_MIB)

    def record(side, v, argv):
        for key, name in (("empty", "empty"),
                          ("half", "%d MiB written" % MIGRATION_WRITE_MIB)):
            row = "Migration, 4 GiB NVDIMM %s: " % name
            results.add(row + "total, wall ms", side, v[key]["total_ms"],
                        argv)
            results.add(row + "downtime, wall ms", side,
                        v[key]["downtime_ms"], argv)
            results.add(row + "RAM MiB sent", side, v[key]["sent_mib"],
                        argv)
    alternate(binaries, repeats,
              lambda b: migration_once(b, workdir), record)


def bench_fsync(binaries, workdir, repeats, results):
    """Issue 6: guest fsync of a 4 KiB write on fsdax ext4.  The
    "reference" side is stock's virtio-pmem-pci, the "ours" side an
    NVDIMM with flush-hints=on, each on the same kind of backend file."""
    if not guest_ready("fsync"):
        return
    devices = {"reference": "virtio-pmem", "ours": "nvdimm"}
    log("fsync: flush hints (ours) vs virtio-pmem (reference)")

    def record(side, v, argv):
        results.add("Guest dd 4 KiB + fsync on ext4 -o dax, wall ms:"
                    " virtio-pmem (ref) vs flush hints (ours)", side,
                    v["fsync-ms"], argv)
        results.add("Guest fsync alone (minus dd without fsync), wall ms:"
                    " virtio-pmem (ref) vs flush hints (ours)", side,
                    v["fsync-only-ms"], argv)
    alternate(binaries, repeats,
              lambda b: fsync_once(b, workdir,
                                   devices["ours" if b == binaries[1][1]
                                           else "reference"]),
              record)
    bench_fsync_pair(binaries[1][1], workdir, repeats, results)


def bench_fsync_pair(binary, workdir, repeats, results):
    """Both devices in one guest on our build: the "reference" column is
    the virtio-pmem, the "ours" column the NVDIMM with flush hints."""
    log("fsync: flush hints vs virtio-pmem in one guest on our build")
    for _ in range(repeats):
        values, argv = fsync_pair_once(binary, workdir)
        for side, device in (("reference", "virtio-pmem"),
                             ("ours", "nvdimm")):
            v = values[device]
            results.add("Guest dd 4 KiB + fsync, one guest on our build,"
                        " wall ms: virtio-pmem vs flush hints", side,
                        v["fsync-ms"], argv)
            results.add("Guest fsync alone, one guest on our build, wall"
                        " ms: virtio-pmem vs flush hints", side,
                        v["fsync-only-ms"], argv)


# The report is rewritten after each part, so a run stopped early (on a
# busy machine) keeps what it has: goals and the newer parts first, the
# slowest last.
PARTS = {"startup": bench_startup, "mailbox": bench_mailbox,
         "labels": bench_labels, "hotplug": bench_hotplug,
         "fsync": bench_fsync, "migration": bench_migration,
         "boot": bench_boot, "acpi": bench_acpi}


def run(binaries, names, repeats, report, note):
    """Run the parts NAMES (in PARTS order) on BINARIES, [(side, path)],
    writing REPORT after each; 2 when a part failed, else 0."""
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    results = Results()
    status = 0
    workdir = tempfile.mkdtemp(prefix="vnv-bench-")
    try:
        for name in [n for n in PARTS if n in names]:
            begun = time.monotonic()
            try:
                PARTS[name](binaries, workdir, repeats, results)
            except PART_FAILURES as e:
                # the other parts still run; the report names the failure
                print("bench: %s: %s" % (name, e), file=sys.stderr)
                results.failed[name] = str(e).splitlines()[0]
                status = 2
            results.seconds[name] = time.monotonic() - begun
            log("%s took %.0f s" % (name, results.seconds[name]))
            # after each part, so that a stopped run leaves a report
            pending = [n for n in PARTS
                       if n in names and n not in results.seconds]
            write_report(report, results, binaries, repeats,
                         started, time.monotonic() - t0,
                         (note + (" Written before these parts had run "
                                  "(the run was stopped): %s."
                                  % ", ".join(pending)
                                  if pending else "")).strip())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return status
