#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Detection and persistence domain, on pc and q35, arm virt and pseries.

One labelled 1 GiB NVDIMM on a blank file: the guest sees nmem0, region0
(backend size minus the label area) and /dev/pmem0 (a raw namespace while
the labels are blank).  Each machine also runs one nvdimm-persistence
value, and the DIMM id (from the NFIT) must be the same across boots.
Then, on pc, two NVDIMMs on two NUMA nodes each show their region on
their node.  On arm virt the guest's NFIT and SSDT, as edk2 handed them
over, must be byte-identical under ours and the reference, for a
labelled and an unarmed NVDIMM (the qtests compare pc and q35 tables,
and bios-tables-test virt's with one NVDIMM without labels).

On pseries the guest has no NVDIMM driver (Debian's ppc64el kernels
lack libnvdimm: vnv.machines), so it checks the device tree nodes that
papr_scm would probe, for two spapr-nvdimms of different sizes and
label areas.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv import machines  # noqa: E402
from vnv.backend_files import sparse_file  # noqa: E402
from vnv.guest import nvdimm_args  # noqa: E402
from vnv.paths import is_reference, REFERENCE  # noqa: E402
from vnv.suite import GiB, info, LABEL_SIZE, MiB, Suite  # noqa: E402

# Per machine: (nvdimm-persistence (None: not given), persistence_domain
# in sysfs)
CONFIGS = {
    "pc": [(None, ""), ("cpu", "cpu_cache")],
    "q35": [("mem-ctrl", "memory_controller")],
    "virt": [(None, ""), ("cpu", "cpu_cache")],
}
# The machines whose DIMM id comes from the NFIT, the same on all of them
NFIT_MACHINES = ("pc", "q35", "virt")


def boot_one(suite, machine, persistence, domain):
    tag = persistence or "default"
    kind = machines.get(machine)
    size = kind.backend_size(GiB, LABEL_SIZE)
    backend = sparse_file(suite.path("%s-%s.img" % (machine, tag)), size)
    machine_opt = machine + ",nvdimm=on"
    if persistence:
        machine_opt += ",nvdimm-persistence=" + persistence
    params = {"region_size": size - LABEL_SIZE}
    if domain:
        params["persistence"] = domain
    g = suite.boot("%s/%s" % (machine, tag), "detect", machine=machine_opt,
                   params=params,
                   qemu_args=nvdimm_args("nv0", backend, size,
                                         machine=machine))
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


def spapr_dt(suite, machine):
    """pseries: the device tree nodes of a 1 GiB and a 256 MiB NVDIMM."""
    kind = machines.get(machine)
    args, dimms = [], []
    for ident, size, label in (("nv0", GiB, LABEL_SIZE),
                               ("nv1", 256 * MiB, 2 * LABEL_SIZE)):
        backend_size = kind.backend_size(size, label)
        path = sparse_file(suite.path("%s-%s.img" % (machine, ident)),
                           backend_size)
        args += nvdimm_args(ident, path, backend_size, label_size=label,
                            machine=machine)
        dimms.append(kind.dt_entry(path, backend_size, label))
    suite.boot(machine + "/device-tree", "spapr-dt", machine=machine,
               params={"dimms": ",".join(dimms)}, qemu_args=args)


def acpi_tables(suite, machine, qemu, name):
    """{table: hex} of the NVDIMM tables a guest of QEMU got."""
    args = []
    for ident, label, props in (("nv0", "128K", {}),
                                ("nv1", None, {"unarmed": "on"})):
        backend = sparse_file(suite.path("%s-%s.img" % (machine, ident)),
                              256 * MiB)
        args += nvdimm_args(ident, backend, "256M", label_size=label,
                            device_props=props, machine=machine)
    g = suite.boot("%s/tables-%s" % (machine, name), "acpi-tables",
                   qemu=qemu, machine=machine, qemu_args=args)
    marker = "VNV-INFO table-"
    lines = g.lines() if g else []
    return dict(line.split(marker, 1)[1].strip().split("=", 1)
                for line in lines if marker in line)


def tables_identity(suite, machine):
    """The guest's NFIT and SSDT under ours and under the reference."""
    if is_reference(suite.qemu_binary()):
        return
    ours = acpi_tables(suite, machine, suite.qemu, "ours")
    ref = acpi_tables(suite, machine, REFERENCE, "reference")
    for name in sorted(set(ours) | set(ref)):
        a, b = ours.get(name), ref.get(name)
        suite.check("%s/tables-identical/%s" % (machine, name), a == b,
                    "ours %d bytes, reference %d bytes, first difference "
                    "at byte %s" % (len(a or "") // 2, len(b or "") // 2,
                                    first_difference(a or "", b or "")))
    suite.check(machine + "/tables-identical/nfit-seen", "NFIT" in ref,
                "the reference's guest found no NFIT")


def first_difference(a, b):
    """Byte offset where two hex strings first differ."""
    n = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]),
             min(len(a), len(b)))
    return n // 2


def main():
    suite = Suite("detect")
    ids = []
    for machine in suite.machines:
        if machines.get(machine).driver is None:
            spapr_dt(suite, machine)
            continue
        for config in CONFIGS[machine]:
            dimm_id = boot_one(suite, machine, *config)
            if machine in NFIT_MACHINES:
                ids.append(dimm_id)
    if ids:
        suite.check("dimm-id-stable", len(set(ids)) == 1 and ids[0],
                    "DIMM ids across boots: %s" % ids)
    if "pc" in suite.machines:
        boot_numa(suite, "pc")
    if "virt" in suite.machines:
        tables_identity(suite, "virt")
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
