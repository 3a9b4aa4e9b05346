# SPDX-License-Identifier: GPL-2.0-or-later
"""What NVDIMM media errors cost (-machine nvdimm-media-errors=on).

Our build only: the reference has no such option.  One QEMU (qtest
accelerator) with a sparse NVDIMM per size (1 GiB and 256 GiB); for each,
10,000 disjoint 512-byte errors injected over QMP, then:

  inject     nvdimm-inject-error, per call (QMP round trip included)
  query      query-nvdimm-errors with all of them
  scrub      Start ARS over the whole NVDIMM and Query ARS Status,
             following the restart address, until every record is read
  status     one Query ARS Status call: a full reply (168 records) and,
             after the errors are cleared, an empty one

A scrub that costs the same on 1 GiB and on 256 GiB costs time in
proportion to the errors, not to the size.  Prints a Markdown table.
"""

import os
import shutil
import statistics
import struct
import sys
import tempfile
import time

from vnv import firmware, process, qmp
from vnv.backend_files import blank_sparse_file
from vnv.bench import PART_FAILURES, BenchError
from vnv.qtest import Qtest

GiB = 1 << 30
SIZES = (1 * GiB, 256 * GiB)
PAGE = 0x100000                 # guest RAM page used as the mailbox page
MAILBOX_PORT = 0x0a18
NV_BASE = 0x100000000           # the first NVDIMM with -m 512M on pc
STATUS_CALLS = 50
# Query ARS Status's header: what the scrub loop reads of each reply
REPLY_HEAD = 48


def start(binary, workdir, size):
    """QEMU with one sparse NVDIMM of SIZE bytes: (Qtest, Monitor)."""
    backend = blank_sparse_file(os.path.join(workdir, "nv.img"), size)
    qmp_path = os.path.join(workdir, "qmp.sock")
    argv = [binary] + firmware.firmware_args(binary) + [
        # qtest logs every exchange to stderr unless told otherwise: a
        # long run fills the pipe and QEMU stops
        "-accel", "qtest", "-qtest", "stdio", "-qtest-log", "/dev/null",
        "-display", "none",
        "-nodefaults", "-machine", "pc,nvdimm=on,nvdimm-media-errors=on",
        "-m", "512M,slots=2,maxmem=%dM" % (512 + 2 * size // (1 << 20)),
        "-qmp", "unix:%s,server=on,wait=off" % qmp_path,
        "-object", "memory-backend-file,id=m0,share=on,mem-path=%s,size=%d"
        % (backend, size), "-device", "nvdimm,id=nv0,memdev=m0"]
    qt = Qtest(argv)

    def alive():
        return qt.proc.poll() is None

    try:
        return qt, qmp.Monitor(qmp_path, time.monotonic() + 60, alive,
                               poll=0.01)
    except qmp.MonitorError as e:
        if alive():
            raise BenchError("QMP: %s" % e) from e
        raise BenchError("QEMU exited: %s" % qt.proc.stderr.read())


def root_call(qt, function, args=b""):
    """One root _DSM call through the mailbox: (status, the data's first
    REPLY_HEAD bytes).  The records themselves are not read back: qtest
    would spend more time on their hex than QEMU on the call."""
    request = struct.pack("<III", 0, 1, function) + args
    qt.batch(["write 0x%x %d 0x%s" % (PAGE, len(request), request.hex()),
              "outl 0x%x 0x%x" % (MAILBOX_PORT, PAGE)])
    reply = qt.read(PAGE, 8 + REPLY_HEAD)
    return struct.unpack_from("<I", reply, 4)[0], reply[8:]


def scrub(qt, size):
    """Start ARS over the NVDIMM and read every record: (records, calls)."""
    addr, length, records, calls = NV_BASE, size, 0, 0
    while True:
        root_call(qt, 2, struct.pack("<QQHB5x", addr, length, 2, 2))
        status, data = root_call(qt, 3)
        calls += 2
        records += struct.unpack_from("<I", data, 40)[0]
        if status >> 16 != 3:
            return records, calls
        addr, length = struct.unpack_from("<QQ", data, 20)


def timed(fn, *args):
    begun = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - begun, result


def measure(binary, workdir, size, errors):
    qt, monitor = start(binary, workdir, size)
    try:
        row = {"size": size}
        step = size // errors
        row["inject"], _ = timed(lambda: [
            monitor.command("nvdimm-inject-error", id="nv0",
                            offset=i * step, length=512, notify=False)
            for i in range(errors)])
        row["query"], listed = timed(monitor.command, "query-nvdimm-errors")
        if len(listed[0]["errors"]) != errors:
            raise BenchError("%d errors listed, %d injected"
                             % (len(listed[0]["errors"]), errors))
        row["scrub"], (records, row["scrub_calls"]) = timed(scrub, qt, size)
        if records != errors:
            raise BenchError("the scrub found %d of %d errors"
                             % (records, errors))
        root_call(qt, 2, struct.pack("<QQHB5x", NV_BASE, size, 2, 2))
        row["status_full"] = statistics.median(
            timed(root_call, qt, 3)[0] for _ in range(STATUS_CALLS))
        monitor.command("nvdimm-clear-error", id="nv0", offset=0, length=size)
        row["status_empty"] = statistics.median(
            timed(root_call, qt, 3)[0] for _ in range(STATUS_CALLS))
        return row
    finally:
        process.stop(qt.proc)


def report(rows, errors):
    print("| NVDIMM | inject (per call) | query-nvdimm-errors | scrub "
          "(calls) | Query ARS Status, 168 records | empty |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %d GiB | %.0f us | %.1f ms | %.1f ms (%d) | %.0f us "
              "| %.0f us |"
              % (r["size"] // GiB, r["inject"] / errors * 1e6,
                 r["query"] * 1e3, r["scrub"] * 1e3, r["scrub_calls"],
                 r["status_full"] * 1e6, r["status_empty"] * 1e6))


def run(binary, errors):
    """Measure BINARY at each size and print the table; 2 on failure."""
    workdir = tempfile.mkdtemp(prefix="vnv-bench-errors-")
    try:
        rows = [measure(binary, workdir, size, errors) for size in SIZES]
    except PART_FAILURES as e:
        print("bench_media_errors: %s" % e, file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("%d errors, %s" % (errors, os.path.basename(binary)))
    report(rows, errors)
    return 0
