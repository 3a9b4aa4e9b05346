# SPDX-License-Identifier: GPL-2.0-or-later
"""The ACPI tables: the size of the fw_cfg blob and the instructions
acpi_build spends at machine start."""

import os
import struct

from vnv.bench.callgrind import callgrind, callgrind_summaries
from vnv.bench.machine import LABEL, qtest_argv
from vnv.qtest import Qtest

FW_CFG_CTL, FW_CFG_DATA, FW_CFG_DIR = 0x510, 0x511, 0x19


def fw_cfg_files(qt):
    """fw_cfg file directory: {name: size}."""
    qt.batch(["outw 0x%x 0x%x" % (FW_CFG_CTL, FW_CFG_DIR)])
    count = struct.unpack(">I", qt.inb_many(FW_CFG_DATA, 4))[0]
    raw = qt.inb_many(FW_CFG_DATA, 64 * count)
    files = {}
    for i in range(count):
        size, _sel, _res, name = struct.unpack_from(">IHH56s", raw, 64 * i)
        files[name.split(b"\0")[0].decode()] = size
    return files


def acpi_once(binary, workdir, slots, count_insns=True):
    """Size of the etc/acpi/tables fw_cfg blob and, if COUNT_INSNS, the
    instructions spent in acpi_build at machine start (callgrind counts
    only inside that function)."""
    out = os.path.join(workdir, "cg-acpi.out")
    wrapper = callgrind(out, "--collect-atstart=no",
                        "--toggle-collect=acpi_build",
                        "--dump-instr=no") if count_insns else []
    argv = qtest_argv(binary, workdir, slots, slots, LABEL, wrapper)
    qt = Qtest(argv)
    try:
        files = fw_cfg_files(qt)
    finally:
        qt.close()
    result = {"acpi_bytes": files.get("etc/acpi/tables", 0)}
    if count_insns:
        result["acpi_build_insn"] = callgrind_summaries(out)[-1]
        os.unlink(out)
    return result, argv
