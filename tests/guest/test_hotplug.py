#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""NVDIMM hotplug over QMP and HMP, and clear errors when out of slots.

One cold-plugged NVDIMM (region0).  The host hot-adds a second one over
QMP (object-add + device_add) and a third over HMP (object_add +
device_add); the guest sees region1 and region2.  With every slot used,
a fourth device_add fails with an error and the VM keeps running.
"""

import sys

from rig import MiB, LABEL_SIZE, GuestError, Suite, nvdimm_args, sparse_file

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


def main():
    suite = Suite("hotplug")
    size = str(SIZE - LABEL_SIZE)
    g = suite.guest("pc/hotplug", "hotplug",
                    memory="512M,slots=3,maxmem=4G",
                    params={"steps": "1,2", "size": size},
                    qemu_args=nvdimm_args("nv0", backend(suite, "nv0"),
                                          SIZE))
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
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
