# SPDX-License-Identifier: GPL-2.0-or-later
"""The _DSM mailbox under qtest: host instructions per Get Label Data
call, against the floor of a bare port write."""

import os
import struct

from vnv.bench import BenchError
from vnv.bench.callgrind import callgrind, callgrind_summaries, remove_dumps
from vnv.bench.machine import LABEL, qtest_argv
from vnv.qtest import Qtest

MAILBOX_PORT = 0x0a18
FLOOR_PORT = 0xe0          # nothing is mapped there on pc
PAGE = 0x100000            # guest RAM page used as the mailbox page
MAILBOX_CALLS = 200


def dsm_request(function, args=b""):
    """Request page: handle 1 (the first NVDIMM), revision 1, function."""
    return struct.pack("<III", 1, 1, function) + args


def write_page(data):
    return "write 0x%x %d 0x%s" % (PAGE, len(data), data.hex())


def doorbell():
    return "outl 0x%x 0x%x" % (MAILBOX_PORT, PAGE)


def dsm_call(qt, function, args=b"", size=16):
    qt.batch([write_page(dsm_request(function, args)), doorbell()])
    return qt.read(PAGE, size)


def max_transfer(qt):
    """Function 4, Get Label Size: status, label size, max transfer."""
    _len, status, size, xfer = struct.unpack("<IIII", dsm_call(qt, 4))
    if status != 0:
        raise BenchError("Get Label Size failed, status 0x%x" % status)
    return size, xfer


def get_label_data_ok(qt, xfer):
    reply = dsm_call(qt, 5, struct.pack("<II", 0, xfer), 8)
    length, status = struct.unpack("<II", reply)
    return status == 0 and length == 8 + xfer


def mailbox_once(binary, workdir):
    """Instructions per Get Label Data call and per floor outl.

    The run is cut into segments by a marker qtest command (clock_step),
    before which callgrind dumps its counters: [marker + N floor outl],
    [marker + N mailbox calls], [marker alone].  The last one is the
    baseline of zero calls, subtracted from the other two.
    """
    prefix = os.path.join(workdir, "cg-%d.out" % os.getpid())
    remove_dumps(prefix)
    wrapper = callgrind(prefix,
                        "--dump-before=qemu_clock_advance_virtual_time",
                        "--dump-instr=no", "--compress-strings=no")
    argv = qtest_argv(binary, workdir, 1, 1, LABEL, wrapper)
    qt = Qtest(argv)
    try:
        size, xfer = max_transfer(qt)
        if not get_label_data_ok(qt, xfer):
            raise BenchError("Get Label Data of %d bytes failed" % xfer)
        request = write_page(dsm_request(5, struct.pack("<II", 0, xfer)))
        floor = ["outl 0x%x 0x0" % FLOOR_PORT] * MAILBOX_CALLS
        calls = [request, doorbell()] * MAILBOX_CALLS
        writes = [request] * MAILBOX_CALLS
        for segment in (floor, calls, writes, []):
            qt.batch(["clock_step 1"] + segment)
        qt.batch(["clock_step 1"])
    finally:
        qt.close()
    totals = callgrind_summaries(prefix)
    # dumps: startup, floor, calls, writes only, baseline, (exit)
    # dumps: startup, floor, calls, writes, baseline, exit
    if len(totals) < 6:
        raise BenchError("callgrind gave %d dumps" % len(totals))
    floor, calls, writes, _zero = [(t - totals[-2]) / MAILBOX_CALLS
                                  for t in totals[-5:-1]]
    return {"label_size": size, "max_xfer": xfer, "floor": floor,
            "doorbell": calls - writes}, argv
