#!/usr/bin/env python3
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

    bench_media_errors.py [--ours BIN] [--errors N]
"""

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

from bench import OURS, BenchError, Qtest, datadir_args, stop

GiB = 1 << 30
SIZES = (1 * GiB, 256 * GiB)
PAGE = 0x100000                 # guest RAM page used as the mailbox page
MAILBOX_PORT = 0x0a18
NV_BASE = 0x100000000           # the first NVDIMM with -m 512M on pc
STATUS_CALLS = 50
# Query ARS Status's header: what the scrub loop reads of each reply
REPLY_HEAD = 48


class Qmp:
    """A QMP client on a unix socket, for commands with arguments."""

    def __init__(self, path, proc):
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise BenchError("QEMU exited: %s" % proc.stderr.read())
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise BenchError("no QMP socket")
                time.sleep(0.01)
        self.reader = self.sock.makefile("rb")
        self.reader.readline()
        self.command("qmp_capabilities")

    def command(self, name, **args):
        self.sock.sendall(json.dumps({"execute": name,
                                      "arguments": args}).encode() + b"\n")
        while True:
            reply = json.loads(self.reader.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise BenchError("%s: %s" % (name, reply["error"]["desc"]))


def start(binary, workdir, size):
    """QEMU with one sparse NVDIMM of SIZE bytes: (Qtest, Qmp)."""
    backend = os.path.join(workdir, "nv.img")
    with open(backend, "wb") as f:
        f.truncate(size)
    qmp_path = os.path.join(workdir, "qmp.sock")
    argv = [binary] + datadir_args(binary) + [
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
    return qt, Qmp(qmp_path, qt.proc)


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
    qt, qmp = start(binary, workdir, size)
    try:
        row = {"size": size}
        step = size // errors
        row["inject"], _ = timed(lambda: [
            qmp.command("nvdimm-inject-error", id="nv0", offset=i * step,
                        length=512, notify=False) for i in range(errors)])
        row["query"], listed = timed(qmp.command, "query-nvdimm-errors")
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
        qmp.command("nvdimm-clear-error", id="nv0", offset=0, length=size)
        row["status_empty"] = statistics.median(
            timed(root_call, qt, 3)[0] for _ in range(STATUS_CALLS))
        return row
    finally:
        stop(qt.proc)


def report(rows, errors):
    print("| NVDIMM | inject (per call) | query-nvdimm-errors | scrub "
          "(calls) | Query ARS Status, 168 records | empty |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %d GiB | %.0f us | %.1f ms | %.1f ms (%d) | %.0f us | %.0f us |"
              % (r["size"] // GiB, r["inject"] / errors * 1e6,
                 r["query"] * 1e3, r["scrub"] * 1e3, r["scrub_calls"],
                 r["status_full"] * 1e6, r["status_empty"] * 1e6))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", default=OURS)
    parser.add_argument("--errors", type=int, default=10000)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="vnv-bench-errors-")
    try:
        rows = [measure(args.ours, workdir, size, args.errors)
                for size in SIZES]
    except BenchError as e:
        print("bench_media_errors: %s" % e, file=sys.stderr)
        return 2
    finally:
        subprocess.run(["rm", "-rf", workdir], check=False)
    print("%d errors, %s" % (args.errors, os.path.basename(args.ours)))
    report(rows, args.errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
