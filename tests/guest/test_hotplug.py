#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""NVDIMM hotplug over QMP and HMP, and clear errors when out of slots.

On pc, q35 and arm virt (whose guest learns of the new NVDIMM through
the GED device's ACPI event).  One cold-plugged NVDIMM (region0).  The
host hot-adds a second one over QMP (object-add + device_add) and a
third over HMP (object_add + device_add); the guest sees region1 and
region2, labels region2 and makes an fsdax namespace with ext4 -o dax
and a file on it.
With every slot used, a fourth device_add fails with an error and the
VM keeps running.  A new QEMU with all three NVDIMMs on its command line
(same backend files) finds region2's namespace (uuid, mode) and file.
Past maxmem, device_add fails with a clear error, a backend file
smaller than size= is refused and left byte-identical, and the VM keeps
running and takes a device that fits.

On pseries (hotplug_spapr) the guest learns of a hot-added spapr-nvdimm
through a PAPR hotplug event, and checks its device tree node.
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv import machines  # noqa: E402
from vnv.backend_files import patterned_file, sha256, sparse_file  # noqa: E402
from vnv.guest import GuestError, nvdimm_args  # noqa: E402
from vnv.suite import info, LABEL_SIZE, MiB, Suite  # noqa: E402

SIZE = 256 * MiB
# fsdax needs a region start aligned to the guest's region align (16M)
FSDAX_ALIGN = 16 * MiB


def backend_size(machine):
    """SIZE, plus the label area on pseries (vnv.machines)."""
    return machines.get(machine).backend_size(SIZE, LABEL_SIZE)


def backend(suite, machine, ident):
    return sparse_file(suite.path("%s-%s.img" % (machine, ident)),
                       backend_size(machine))


def plug_qmp(g, suite, machine, ident):
    kind = machines.get(machine)
    path = backend(suite, machine, ident)
    g.qmp("object-add", **{"qom-type": "memory-backend-file",
                           "id": "mem-" + ident, "share": True,
                           "mem-path": path, "size": backend_size(machine)})
    g.qmp("device_add", driver=kind.device, id=ident, memdev="mem-" + ident,
          **dict(kind.device_props(path), **{"label-size": LABEL_SIZE}))


def fsdax_address(g):
    """A 16M-aligned address above every plugged memory device.

    By default a labelled NVDIMM after another labelled one starts 128K
    short of a 16M boundary (stock's layout, docs/nvdimm.txt), where the
    guest refuses fsdax; an explicit addr= is the stock-compatible way
    around it.
    """
    end = max(d["data"]["addr"] + d["data"]["size"]
              for d in g.qmp("query-memory-devices"))
    return -(-end // FSDAX_ALIGN) * FSDAX_ALIGN


def plug_hmp(g, suite, machine, ident, addr):
    out = g.hmp("object_add memory-backend-file,id=mem-%s,share=on,"
                "mem-path=%s,size=%d"
                % (ident, backend(suite, machine, ident), SIZE))
    out += g.hmp("device_add nvdimm,id=%s,memdev=mem-%s,label-size=%d,"
                 "addr=0x%x" % (ident, ident, LABEL_SIZE, addr))
    return out


def plug_when_out_of_slots(g, suite, machine):
    prefix = machine + "/hotplug"
    try:
        plug_qmp(g, suite, machine, "nv3")
        suite.report(prefix + "/no-slot-refused", False,
                     "device_add succeeded with no free slot")
    except GuestError as e:
        suite.report(prefix + "/no-slot-refused", True)
        print("# no free slot: %s" % e)
    status = g.qmp("query-status")["status"]
    suite.check(prefix + "/running-after-error", status == "running",
                "status %s" % status)


def hotplug_guest(suite, machine, prefix, memory, params, cold):
    """The hotplug scenario with one cold-plugged NVDIMM on file COLD.

    The guest waits for the regions of params["steps"] ("1,2": region1,
    region2).
    """
    size = backend_size(machine)
    return suite.guest(prefix, "hotplug", machine=machine, memory=memory,
                       params=dict(params, size=str(size - LABEL_SIZE)),
                       qemu_args=nvdimm_args("nv0", backend(suite, machine,
                                                            cold), size,
                                             machine=machine))


def refused(suite, case, plug, want):
    """Run PLUG, which must raise a QMP error whose text contains WANT."""
    try:
        plug()
        suite.report(case, False, "the hot-add succeeded")
    except GuestError as e:
        print("# %s: %s" % (case, e))
        suite.check(case, want in str(e), "unclear error: %s" % e)


def past_maxmem(suite, machine):
    """maxmem=1G, 512M of RAM, a 256M NVDIMM: 512M more does not fit.

    A backend file smaller than size= is refused too and stays as it
    was.  After both errors the VM runs and a 256M NVDIMM that fits is
    hot-added and seen by the guest.
    """
    prefix = machine + "/maxmem"
    short = patterned_file(suite.path(machine + "-short.img"), 16 * MiB)
    before = sha256(short)
    g = hotplug_guest(suite, machine, prefix, "512M,slots=4,maxmem=1G",
                      {"steps": "1"}, "mx0")
    try:
        g.start()
        g.wait_for(r"VNV-READY plug1", 120)
        g.qmp("object-add", **{"qom-type": "memory-backend-file",
                               "id": "mem-big", "share": True,
                               "mem-path": suite.path(machine + "-big.img"),
                               "size": 2 * SIZE})
        refused(suite, prefix + "/past-maxmem-refused",
                lambda: g.qmp("device_add", driver="nvdimm", id="big",
                              memdev="mem-big"), "space")
        g.qmp("object-del", id="mem-big")
        refused(suite, prefix + "/short-file-refused",
                lambda: g.qmp("object-add",
                              **{"qom-type": "memory-backend-file",
                                 "id": "mem-short", "share": True,
                                 "mem-path": short, "size": SIZE}), "size")
        after = sha256(short)
        suite.check(prefix + "/short-file-unchanged", after == before,
                    "sha256 %s -> %s" % (before, after))
        status = g.qmp("query-status")["status"]
        suite.check(prefix + "/running-after-errors", status == "running",
                    "status %s" % status)
        plug_qmp(g, suite, machine, "nv1")
        g.go("plug1")
        g.wait_for(r"VNV-READY plugged-all$", 120)
        g.go("plugged-all")
        g.wait_done(120)
    except GuestError as e:
        suite.report(prefix + "/run", False, str(e))
        g.kill()
    suite.collect(prefix, g)


def restart(suite, machine, g, token, addr):
    """A new QEMU with the three NVDIMMs on its command line.

    nv2, hot-added over HMP, is given at the address it had, on the
    same file: its fsdax namespace (uuid, mode) and file are back.
    """
    prefix = machine + "/hmp-restart"
    ns_uuid = info(g, "region2-uuid")
    if not ns_uuid:
        suite.report(prefix + "/boot", False,
                     "the guest made no namespace on the HMP-added NVDIMM")
        return
    dimms = nvdimm_args("nv0", backend(suite, machine, "nv0"), SIZE)
    dimms += nvdimm_args("nv1", backend(suite, machine, "nv1"), SIZE)
    dimms += nvdimm_args("nv2", backend(suite, machine, "nv2"), SIZE,
                         device_props={"addr": "0x%x" % addr})
    suite.boot(prefix, "regions-verify", machine=machine,
               memory="512M,slots=3,maxmem=4G", qemu_args=dimms,
               params={"token": token, "uuids": "region2=" + ns_uuid})


def hotplug(suite, machine):
    prefix = machine + "/hotplug"
    token = uuid.uuid4().hex
    g = hotplug_guest(suite, machine, prefix, "512M,slots=3,maxmem=4G",
                      {"steps": "1,2", "fsdax": "2", "token": token}, "nv0")
    addr = None
    try:
        g.start()
        g.wait_for(r"VNV-READY plug1", 120)
        plug_qmp(g, suite, machine, "nv1")
        g.go("plug1")
        g.wait_for(r"VNV-READY plug2", 60)
        addr = fsdax_address(g)
        hmp_out = plug_hmp(g, suite, machine, "nv2", addr)
        suite.check(prefix + "/hmp-silent", hmp_out.strip() == "",
                    "HMP printed: %r" % hmp_out)
        g.go("plug2")
        g.wait_for(r"VNV-READY plugged-all", 120)
        plug_when_out_of_slots(g, suite, machine)
        g.go("plugged-all")
        g.wait_done(60)
    except GuestError as e:
        suite.report(prefix + "/run", False, str(e))
        g.kill()
    suite.collect(prefix, g)
    if addr is not None:
        restart(suite, machine, g, token, addr)


def hotplug_spapr(suite, machine):
    """pseries: a spapr-nvdimm hot-added over QMP, then a restart with it.

    The guest has no NVDIMM driver (vnv.machines): it checks that the
    hot-added NVDIMM's device tree node appears, with its properties,
    through the PAPR hotplug event, and a new QEMU with both NVDIMMs on
    its command line gives it both nodes.  The HMP address and the slot
    and maxmem errors of the other machines are left out: the address
    workaround is for the NFIT layout, and the errors come from the
    memory-device code that pseries shares with them.
    """
    kind = machines.get(machine)
    size = backend_size(machine)
    files = {ident: backend(suite, machine, ident) for ident in ("nv0", "nv1")}
    dimms = [kind.dt_entry(files[ident], size, LABEL_SIZE)
             for ident in ("nv0", "nv1")]
    prefix = machine + "/hotplug"
    g = suite.guest(prefix, "spapr-dt", machine=machine,
                    memory="512M,slots=2,maxmem=4G",
                    params={"dimms": dimms[0], "plug": dimms[1]},
                    qemu_args=nvdimm_args("nv0", files["nv0"], size,
                                          machine=machine))

    def plug(g):
        g.wait_for(r"VNV-READY plug1", 300)
        plug_qmp(g, suite, machine, "nv1")
        g.go("plug1")
        g.wait_done(300)

    suite.drive(prefix, g, plug)
    args = []
    for ident, path in files.items():
        args += nvdimm_args(ident, path, size, machine=machine)
    suite.boot(machine + "/restart", "spapr-dt", machine=machine,
               memory="512M,slots=2,maxmem=4G", qemu_args=args, timeout=300,
               params={"dimms": ",".join(dimms)})


def main():
    suite = Suite("hotplug")
    for machine in suite.machines:
        if machines.get(machine).is_spapr():
            hotplug_spapr(suite, machine)
            continue
        hotplug(suite, machine)
        past_maxmem(suite, machine)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
