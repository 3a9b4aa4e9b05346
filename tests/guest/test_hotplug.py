#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""NVDIMM hotplug over QMP and HMP, and clear errors when out of slots.

One cold-plugged NVDIMM (region0).  The host hot-adds a second one over
QMP (object-add + device_add) and a third over HMP (object_add +
device_add); the guest sees region1 and region2.  With every slot used,
a fourth device_add fails with an error and the VM keeps running.
Past maxmem, device_add fails with a clear error, a backend file
smaller than size= is refused and left byte-identical, and the VM keeps
running and takes a device that fits.
"""

import sys

from rig import MiB, LABEL_SIZE, GuestError, Suite, nvdimm_args, \
    patterned_file, sha256, sparse_file

SIZE = 256 * MiB


def backend(suite, name):
    return sparse_file(suite.path(name + ".img"), SIZE)


def plug_qmp(g, suite, ident):
    g.qmp("object-add", **{"qom-type": "memory-backend-file",
                           "id": "mem-" + ident, "share": True,
                           "mem-path": backend(suite, ident), "size": SIZE})
    g.qmp("device_add", driver="nvdimm", id=ident, memdev="mem-" + ident,
          **{"label-size": LABEL_SIZE})


def plug_hmp(g, suite, ident):
    out = g.hmp("object_add memory-backend-file,id=mem-%s,share=on,"
                "mem-path=%s,size=%d" % (ident, backend(suite, ident), SIZE))
    out += g.hmp("device_add nvdimm,id=%s,memdev=mem-%s,label-size=%d"
                 % (ident, ident, LABEL_SIZE))
    return out


def plug_when_out_of_slots(g, suite):
    try:
        plug_qmp(g, suite, "nv3")
        suite.report("pc/hotplug/no-slot-refused", False,
                     "device_add succeeded with no free slot")
    except GuestError as e:
        suite.report("pc/hotplug/no-slot-refused", True)
        print("# no free slot: %s" % e)
    status = g.qmp("query-status")["status"]
    suite.check("pc/hotplug/running-after-error", status == "running",
                "status %s" % status)


def hotplug_guest(suite, prefix, memory, steps, cold):
    """The hotplug scenario with one cold-plugged NVDIMM on file COLD.

    The guest waits for the regions of STEPS ("1,2": region1, region2).
    """
    return suite.guest(prefix, "hotplug", memory=memory,
                       params={"steps": steps,
                               "size": str(SIZE - LABEL_SIZE)},
                       qemu_args=nvdimm_args("nv0", backend(suite, cold),
                                             SIZE))


def refused(suite, case, plug, want):
    """Run PLUG, which must raise a QMP error whose text contains WANT."""
    try:
        plug()
        suite.report(case, False, "the hot-add succeeded")
    except GuestError as e:
        print("# %s: %s" % (case, e))
        suite.check(case, want in str(e), "unclear error: %s" % e)


def past_maxmem(suite):
    """maxmem=1G, 512M of RAM, a 256M NVDIMM: 512M more does not fit.

    A backend file smaller than size= is refused too and stays as it
    was.  After both errors the VM runs and a 256M NVDIMM that fits is
    hot-added and seen by the guest.
    """
    short = patterned_file(suite.path("short.img"), 16 * MiB)
    before = sha256(short)
    g = hotplug_guest(suite, "pc/maxmem", "512M,slots=4,maxmem=1G", "1",
                      "mx0")
    try:
        g.start()
        g.wait_for(r"VNV-READY plug1", 120)
        g.qmp("object-add", **{"qom-type": "memory-backend-file",
                               "id": "mem-big", "share": True,
                               "mem-path": suite.path("big.img"),
                               "size": 2 * SIZE})
        refused(suite, "pc/maxmem/past-maxmem-refused",
                lambda: g.qmp("device_add", driver="nvdimm", id="big",
                              memdev="mem-big"), "space")
        g.qmp("object-del", id="mem-big")
        refused(suite, "pc/maxmem/short-file-refused",
                lambda: g.qmp("object-add",
                              **{"qom-type": "memory-backend-file",
                                 "id": "mem-short", "share": True,
                                 "mem-path": short, "size": SIZE}), "size")
        after = sha256(short)
        suite.check("pc/maxmem/short-file-unchanged", after == before,
                    "sha256 %s -> %s" % (before, after))
        status = g.qmp("query-status")["status"]
        suite.check("pc/maxmem/running-after-errors", status == "running",
                    "status %s" % status)
        plug_qmp(g, suite, "nv1")
        g.go("plug1")
        g.wait_done(120)
    except GuestError as e:
        suite.report("pc/maxmem/run", False, str(e))
        g.kill()
    suite.collect("pc/maxmem", g)


def main():
    suite = Suite("hotplug")
    g = hotplug_guest(suite, "pc/hotplug", "512M,slots=3,maxmem=4G", "1,2",
                      "nv0")
    try:
        g.start()
        g.wait_for(r"VNV-READY plug1", 120)
        plug_qmp(g, suite, "nv1")
        g.go("plug1")
        g.wait_for(r"VNV-READY plug2", 60)
        hmp_out = plug_hmp(g, suite, "nv2")
        suite.check("pc/hotplug/hmp-silent", hmp_out.strip() == "",
                    "HMP printed: %r" % hmp_out)
        g.go("plug2")
        g.wait_for(r"VNV-READY plugged-all", 60)
        plug_when_out_of_slots(g, suite)
        g.wait_done(60)
    except GuestError as e:
        suite.report("pc/hotplug/run", False, str(e))
        g.kill()
    suite.collect("pc/hotplug", g)
    past_maxmem(suite)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
