# SPDX-License-Identifier: GPL-2.0-or-later
"""The benchmark machine: pc with NVDIMMs on sparse backend files."""

import os

from vnv import firmware

RAM_MIB = 512
NVDIMM_MIB = 128          # size of each sparse backend file
LABEL = "128K"


def backend_file(workdir, index):
    """A sparse backend file: it costs no disk space."""
    path = os.path.join(workdir, "nv%d.img" % index)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.truncate(NVDIMM_MIB << 20)
    return path


def machine_args(workdir, slots, count, label):
    maxmem = RAM_MIB + max(slots, 1) * NVDIMM_MIB
    args = ["-machine", "pc,nvdimm=on", "-display", "none", "-nodefaults",
            "-m", "%dM,slots=%d,maxmem=%dM" % (RAM_MIB, slots, maxmem)]
    for i in range(count):
        args += ["-object",
                 "memory-backend-file,id=mem%d,share=on,mem-path=%s,size=%dM"
                 % (i, backend_file(workdir, i), NVDIMM_MIB)]
        dev = "nvdimm,id=nv%d,memdev=mem%d" % (i, i)
        if label:
            dev += ",label-size=" + label
        args += ["-device", dev]
    return args


def qtest_argv(binary, workdir, slots, count, label, wrapper=()):
    # -qtest-log: qtest logs each exchange to stderr otherwise, and a long
    # run fills the pipe that nobody reads until the end: QEMU stops
    return list(wrapper) + [binary] + firmware.firmware_args(binary) + \
        ["-accel", "qtest", "-qtest", "stdio", "-qtest-log", "/dev/null"] + \
        machine_args(workdir, slots, count, label)
