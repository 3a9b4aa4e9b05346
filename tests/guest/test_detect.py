#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Detection and persistence domain, on pc and q35.

One labelled 1 GiB NVDIMM on a blank file: the guest sees nmem0, region0
(backend size minus the label area) and /dev/pmem0 (a raw namespace while
the labels are blank).  Each machine also runs one nvdimm-persistence
value, and the DIMM id must be the same across boots.
"""

import sys

from rig import GiB, LABEL_SIZE, Suite, info, nvdimm_args, sparse_file

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


def main():
    suite = Suite("detect")
    ids = [boot_one(suite, *config) for config in CONFIGS]
    suite.check("dimm-id-stable", len(set(ids)) == 1 and ids[0],
                "DIMM ids across boots: %s" % ids)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
