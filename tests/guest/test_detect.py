#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Detection and persistence domain, on pc and q35.

One labelled 1 GiB NVDIMM on a blank file: the guest sees nmem0, region0
(backend size minus the label area) and /dev/pmem0 (a raw namespace while
the labels are blank).  Each machine also runs one nvdimm-persistence
value, and the DIMM id must be the same across boots.  Then two NVDIMMs
on two NUMA nodes each show their region on their node.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv.backend_files import sparse_file  # noqa: E402
from vnv.guest import nvdimm_args  # noqa: E402
from vnv.suite import GiB, info, LABEL_SIZE, MiB, Suite  # noqa: E402

# machine, nvdimm-persistence (None: not given), persistence_domain in sysfs
CONFIGS = [
    ("pc", None, ""),
    ("pc", "cpu", "cpu_cache"),
    ("q35", "mem-ctrl", "memory_controller"),
]


def boot_one(suite, machine, persistence, domain):
    tag = persistence or "default"
    backend = sparse_file(suite.path("%s-%s.img" % (machine, tag)), GiB)
    machine_opt = machine + ",nvdimm=on"
    if persistence:
        machine_opt += ",nvdimm-persistence=" + persistence
    params = {"region_size": GiB - LABEL_SIZE}
    if domain:
        params["persistence"] = domain
    g = suite.boot("%s/%s" % (machine, tag), "detect", machine=machine_opt,
                   params=params, qemu_args=nvdimm_args("nv0", backend, "1G"))
    return info(g, "dimm-id") if g else None


def numa_args():
    """Two NUMA nodes of 256 MiB RAM each."""
    args = []
    for node in (0, 1):
        args += ["-object", "memory-backend-ram,id=ram%d,size=256M" % node,
                 "-numa", "node,nodeid=%d,memdev=ram%d" % (node, node)]
    return args


def boot_numa(suite, machine):
    args = numa_args()
    for node in (0, 1):
        ident = "nv%d" % node
        backend = sparse_file(suite.path("numa-%s.img" % ident), 256 * MiB)
        args += nvdimm_args(ident, backend, "256M", label_size=None,
                            device_props={"node": node})
    suite.boot("%s/numa" % machine, "numa", machine=machine,
               params={"nodes": "0,1"}, qemu_args=args)


def main():
    suite = Suite("detect")
    ids = [boot_one(suite, *config) for config in CONFIGS]
    suite.check("dimm-id-stable", len(set(ids)) == 1 and ids[0],
                "DIMM ids across boots: %s" % ids)
    boot_numa(suite, "pc")
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
