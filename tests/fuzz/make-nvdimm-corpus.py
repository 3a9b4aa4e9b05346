#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpus of the nvdimm-dsm-fuzz target.

Each seed is a list of commands joined by the separator "NVDM" (see
tests/qtest/fuzz/nvdimm_fuzz.c): a request command is the byte 0 and the
start of a _DSM request page (handle, revision, function, argument).

    make-nvdimm-corpus.py DIR

DIR/learned/ holds what libFuzzer kept from long runs, minimised with
-merge=1 (libFuzzer reads corpus folders recursively).
"""
import pathlib
import struct
import sys

SEP = b"NVDM"
REQUEST, RING, ODD_SIZE = 0, 1, 2
ROOT, QEMU = 0, 0x10000
LABELS, NO_LABELS, READ_ONLY = 1, 2, 3


def request(handle, function, arg=b"", revision=1):
    return bytes([REQUEST]) + struct.pack("<III", handle, revision,
                                          function) + arg


def label_range(offset, length, data=b""):
    return struct.pack("<II", offset, length) + data


SEEDS = {
    "query-root": [request(ROOT, 0)],
    "query-devices": [request(h, 0) for h in
                      (LABELS, NO_LABELS, READ_ONLY, 4, QEMU)],
    "bad-revision": [request(LABELS, 4, revision=2)],
    "label-size": [request(LABELS, 4), request(READ_ONLY, 4)],
    "label-read": [request(LABELS, 5, label_range(0, 256)),
                   request(LABELS, 5, label_range(128 * 1024 - 16, 16))],
    "label-read-max": [request(LABELS, 5, label_range(0, 4084))],
    "label-write-read": [
        request(LABELS, 6, label_range(4096, 8, b"NAMESPCE")),
        request(LABELS, 5, label_range(4096, 8))],
    "label-write-readonly": [request(READ_ONLY, 6, label_range(0, 4,
                                                               b"abcd"))],
    "label-no-labels": [request(NO_LABELS, 5, label_range(0, 8))],
    "label-out-of-range": [
        request(LABELS, 5, label_range(0xfffffff0, 0x20)),
        request(LABELS, 6, label_range(128 * 1024, 1, b"x"))],
    "read-fit": [request(QEMU, 1, struct.pack("<I", 0)),
                 request(QEMU, 1, struct.pack("<I", 0x40))],
    "read-fit-beyond": [request(QEMU, 1, struct.pack("<I", 0x10000))],
    "qemu-unknown": [request(QEMU, 7)],
    "smart": [request(LABELS, 1), request(NO_LABELS, 2),
              request(READ_ONLY, 10, b"\x01")],
    "smart-set-threshold": [
        request(LABELS, 17, struct.pack("<HBHH", 7, 20, 70 * 16, 0x8010),
                revision=2)],
    "smart-inject": [
        request(LABELS, 18, struct.pack("<QBHBBBB", 0xf, 1, 60 * 16, 1, 5,
                                        1, 1), revision=2)],
    "health-events": [request(QEMU, 3)],
    "ring-anywhere": [bytes([RING]) + struct.pack("<I", 0xfffff000),
                      bytes([RING]) + struct.pack("<I", 0x1ffff800)],
    "odd-sizes": [bytes([ODD_SIZE]) + struct.pack("<I", 0x300000)],
}


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, cmds in SEEDS.items():
        (out / name).write_bytes(SEP.join(cmds))


if __name__ == "__main__":
    main()
