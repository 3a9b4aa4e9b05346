#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run the NVDIMM SSDT's _LSI/_LSR/_LSW under acpiexec against a fake
mailbox.

The SSDT of nvdimm-compact-ssdt=on (compact.SSDT, as dumped by
nvdimm-acpi-test with NVDIMM_TEST_DUMP_DIR, with at least three slots)
is decompiled with iasl -d; its NCAL method, the one that talks to QEMU
through the doorbell, is swapped for an AML model
of QEMU's label functions over a 256-byte label area, and a TEST method
checks what the label methods return:

  handle 1 (NV00): a label area of 256 bytes, max transfer 64
  handle 2 (NV01): no label area, every label function 'not supported'
  handle 3 (NV02): no page yet: NCAL's one-byte answer

Prints "PASS lsx-fake-mailbox/<case>" or "FAIL ..." lines.

  lsx-fake-mailbox.py SSDT_FILE
"""

import os
import re
import subprocess
import sys
import tempfile

FAKE_NCAL = r"""
            Name (FLBL, Buffer (0x100) {})
            Method (NCAL, 5, Serialized)
            {
                /* Arg4 handle, Arg2 function, Arg3 Package {Buffer} */
                Name (STAT, Buffer (4) {})
                CreateDWordField (STAT, Zero, SVAL)
                If ((Arg4 == 3))
                {
                    Return (Buffer (One) { 0x01 })
                }
                If ((Arg4 != One))
                {
                    SVAL = One
                    Return (STAT)
                }
                If ((Arg2 == 4))
                {
                    Return (Concatenate (STAT, Buffer (8) {
                        0x00, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00 }))
                }
                Local0 = DerefOf (Arg3 [Zero])
                CreateDWordField (Local0, Zero, OFFS)
                CreateDWordField (Local0, 4, LENG)
                If ((((OFFS + LENG) > 0x100) || (LENG > 0x40)))
                {
                    SVAL = 3
                    Return (STAT)
                }
                If ((Arg2 == 5))
                {
                    Return (Concatenate (STAT, Mid (FLBL, OFFS, LENG)))
                }
                Local1 = Zero
                While ((Local1 < LENG))
                {
                    FLBL [(OFFS + Local1)] = DerefOf (Local0 [(8 + Local1)])
                    Local1++
                }
                Return (STAT)
            }
"""

TEST = r"""
    Name (NBAD, Zero)
    Method (CHKI, 3, NotSerialized)
    {
        If ((Arg1 != Arg2))
        {
            Debug = Concatenate ("FAIL lsx-fake-mailbox/", Arg0)
            NBAD++
        }
        Else
        {
            Debug = Concatenate ("PASS lsx-fake-mailbox/", Arg0)
        }
    }
    /* Arg1 must be a Buffer equal to Arg2 */
    Method (CHKB, 3, NotSerialized)
    {
        If (((ObjectType (Arg1) != 3) || (Arg1 != Arg2)))
        {
            Debug = Concatenate ("FAIL lsx-fake-mailbox/", Arg0)
            NBAD++
        }
        Else
        {
            Debug = Concatenate ("PASS lsx-fake-mailbox/", Arg0)
        }
    }
    Method (TEST, 0, NotSerialized)
    {
        Local0 = \_SB.NVDR.NV00._LSI ()
        CHKI ("lsi-status", DerefOf (Local0 [Zero]), Zero)
        CHKI ("lsi-size", DerefOf (Local0 [One]), 0x100)
        CHKI ("lsi-max", DerefOf (Local0 [2]), 0x40)

        CHKI ("lsw-short", \_SB.NVDR.NV00._LSW (0x10, 5,
              Buffer (5) { 1, 2, 3, 4, 5 }), Zero)
        CHKI ("lsw-long", \_SB.NVDR.NV00._LSW (0x20, 0x0C,
              Buffer (0x0C) { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }), Zero)
        Local0 = \_SB.NVDR.NV00._LSR (0x10, 5)
        CHKI ("lsr-short-status", DerefOf (Local0 [Zero]), Zero)
        CHKB ("lsr-short-data", DerefOf (Local0 [One]),
              Buffer (5) { 1, 2, 3, 4, 5 })
        Local0 = \_SB.NVDR.NV00._LSR (0x20, 8)
        CHKB ("lsr-8-data", DerefOf (Local0 [One]),
              Buffer (8) { 1, 2, 3, 4, 5, 6, 7, 8 })
        Local0 = \_SB.NVDR.NV00._LSR (0x20, 9)
        CHKB ("lsr-9-data", DerefOf (Local0 [One]),
              Buffer (9) { 1, 2, 3, 4, 5, 6, 7, 8, 9 })
        Local0 = \_SB.NVDR.NV00._LSR (0x20, 0x40)
        CHKI ("lsr-max-status", DerefOf (Local0 [Zero]), Zero)
        CHKI ("lsr-max-size", SizeOf (DerefOf (Local0 [One])), 0x40)
        CHKI ("lsr-max-byte", DerefOf (DerefOf (Local0 [One]) [0x0B]), 12)
        Local0 = \_SB.NVDR.NV00._LSR (Zero, Zero)
        CHKB ("lsr-empty", DerefOf (Local0 [One]), Buffer (Zero) {})
        Local0 = \_SB.NVDR.NV00._LSR (0xFC, 8)
        CHKI ("lsr-range-status", DerefOf (Local0 [Zero]), 3)
        CHKB ("lsr-range-data", DerefOf (Local0 [One]), Buffer (Zero) {})
        CHKI ("lsw-range", \_SB.NVDR.NV00._LSW (0xFF, 2,
              Buffer (2) { 1, 2 }), 3)

        Local0 = \_SB.NVDR.NV01._LSI ()
        CHKI ("nolabel-lsi-status", DerefOf (Local0 [Zero]), One)
        CHKI ("nolabel-lsi-size", DerefOf (Local0 [One]), Zero)
        CHKI ("nolabel-lsi-max", DerefOf (Local0 [2]), Zero)
        Local0 = \_SB.NVDR.NV01._LSR (Zero, 4)
        CHKI ("nolabel-lsr-status", DerefOf (Local0 [Zero]), One)
        CHKB ("nolabel-lsr-data", DerefOf (Local0 [One]), Buffer (Zero) {})
        CHKI ("nolabel-lsw", \_SB.NVDR.NV01._LSW (Zero, One,
              Buffer (One) { 1 }), One)

        Local0 = \_SB.NVDR.NV02._LSI ()
        CHKI ("nopage-lsi-status", DerefOf (Local0 [Zero]), One)
        CHKI ("nopage-lsi-size", DerefOf (Local0 [One]), Zero)
        Local0 = \_SB.NVDR.NV02._LSR (Zero, 4)
        CHKI ("nopage-lsr-status", DerefOf (Local0 [Zero]), One)
        CHKB ("nopage-lsr-data", DerefOf (Local0 [One]), Buffer (Zero) {})
        CHKI ("nopage-lsw", \_SB.NVDR.NV02._LSW (Zero, One,
              Buffer (One) { 1 }), One)
        Return (NBAD)
    }
"""


def method_span(text, name):
    """Start and end of 'Method (NAME, ...) { ... }' in ASL text."""
    start = text.index("Method (%s," % name)
    depth = 0
    i = text.index("{", start)
    while True:
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return start, i + 1
        i += 1


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def main():
    table = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as work:
        with open(table, "rb") as src, \
             open(os.path.join(work, "ssdt.aml"), "wb") as dst:
            dst.write(src.read())
        if run(["iasl", "-d", "ssdt.aml"], work).returncode:
            print("FAIL lsx-fake-mailbox: iasl -d failed")
            return 1
        with open(os.path.join(work, "ssdt.dsl")) as f:
            asl = f.read()
        start, end = method_span(asl, "NCAL")
        asl = asl[:start] + FAKE_NCAL + asl[end:]
        # one DSDT holding the table and the test, for acpiexec
        asl = re.sub(r'DefinitionBlock \("", "SSDT"',
                     'DefinitionBlock ("", "DSDT"', asl, count=1)
        asl = asl[:asl.rindex("}")] + TEST + "}\n"
        with open(os.path.join(work, "test.asl"), "w") as f:
            f.write(asl)
        out = run(["iasl", "test.asl"], work)
        if out.returncode:
            print("FAIL lsx-fake-mailbox: iasl failed on the test table")
            print(out.stdout[-2000:] + out.stderr[-2000:], file=sys.stderr)
            return 1
        out = run(["acpiexec", "-b", "execute \\TEST", "test.aml"], work)
    lines = re.findall(r'"((?:PASS|FAIL) lsx-fake-mailbox/[^"]*)"',
                       out.stdout)
    for line in lines:
        print(line)
    if not lines or "FAIL" in " ".join(lines) or \
       "Evaluation of \\TEST returned object" not in out.stdout:
        if not lines:
            print("FAIL lsx-fake-mailbox: acpiexec ran no case")
        print(out.stdout[-3000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
