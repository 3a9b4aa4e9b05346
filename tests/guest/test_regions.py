#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Several labelled NVDIMMs side by side, and the region-align opt-in.

Stock QEMU places each NVDIMM right after the previous one, so behind a
DIMM with a 128 KiB label area the next region starts 128 KiB short of a
16 MiB boundary and Linux refuses fsdax there.  Cases:

- layout: the default addresses (QMP query-memory-devices) are the
  reference build's, on pc and q35; with region-align=16M every start
  is 16 MiB aligned.
- stock-layout: in the guest, the default layout refuses fsdax on the
  second region, as stock does ("misaligned").
- align2/align3: with region-align=16M, two and three NVDIMMs each get
  an fsdax namespace with ext4 -o dax and a file, and after a QEMU
  restart on the same files every uuid, mode and file is back.
- workaround-addr/workaround-size: the stock-compatible workarounds of
  docs/nvdimm.txt (explicit addr=, backend size a 16 MiB multiple plus
  the label area) work on the reference build itself.
"""

import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv.backend_files import sparse_file  # noqa: E402
from vnv.guest import GuestError, nvdimm_args  # noqa: E402
from vnv.paths import OURS, REFERENCE  # noqa: E402
from vnv.suite import info, LABEL_SIZE, MiB, Suite  # noqa: E402

SIZE = 256 * MiB
ALIGN = 16 * MiB
# The 16 MiB-aligned start of device memory on pc and q35 with -m 512M.
DEVICE_MEMORY_BASE = 0x100000000


def dimms(suite, prefix, count, size=SIZE, device_props=None, addrs=None):
    """-object/-device arguments of COUNT labelled NVDIMMs."""
    args = []
    for i in range(count):
        props = dict(device_props or {})
        if addrs:
            props["addr"] = "0x%x" % addrs[i]
        path = sparse_file(suite.path("%s-%d.img" % (prefix, i)), size)
        args += nvdimm_args("nv%d" % i, path, size, device_props=props)
    return args


def has_region_align(qemu):
    out = subprocess.run([qemu, "-device", "nvdimm,help"],
                         capture_output=True, text=True).stdout
    return "region-align" in out


def addresses(suite, qemu, machine, qemu_args):
    """Guest-physical addresses of the memory devices, or an error text."""
    g = suite.guest("%s-addrs" % machine, "smoke", qemu=qemu,
                    machine=machine, qemu_args=qemu_args)
    try:
        g.start()
        devs = g.qmp("query-memory-devices")
        return [d["data"]["addr"] for d in devs]
    except GuestError as e:
        return str(e)
    finally:
        g.kill()


def check_layout(suite, machine, opt_in):
    prefix = machine + "/layout"
    args = dimms(suite, prefix, 3)
    ours = addresses(suite, suite.qemu, machine, args)
    ref = addresses(suite, REFERENCE, machine, args)
    print("# %s default: ours %s, reference %s" % (machine, ours, ref))
    suite.check(prefix + "/default-as-reference",
                isinstance(ours, list) and ours == ref,
                "ours %s, reference %s" % (ours, ref))
    if not opt_in:
        return
    aligned = addresses(suite, suite.qemu, machine,
                        dimms(suite, prefix, 3,
                              device_props={"region-align": "16M"}))
    print("# %s region-align=16M: %s" % (machine, aligned))
    suite.check(prefix + "/region-align-16M",
                isinstance(aligned, list) and len(aligned) == 3 and
                all(a % ALIGN == 0 for a in aligned) and
                aligned[0] == DEVICE_MEMORY_BASE,
                "addresses %s" % aligned)


def regions_boot(suite, prefix, qemu, machine, args, token):
    """regions-create: report its cases; return {region: uuid}."""
    g = suite.boot(prefix, "regions-create", qemu=qemu, machine=machine,
                   params={"token": token}, qemu_args=args, timeout=300)
    uuids = {}
    for i in range(3):
        value = info(g, "region%d-uuid" % i) if g else None
        if value:
            uuids["region%d" % i] = value
    return uuids


def aligned_and_restart(suite, machine, count):
    """COUNT NVDIMMs with region-align=16M: fsdax on each, then reboot."""
    prefix = "%s/align%d" % (machine, count)
    args = dimms(suite, prefix, count, device_props={"region-align": "16M"})
    token = uuid.uuid4().hex
    uuids = regions_boot(suite, prefix, suite.qemu, machine, args, token)
    if len(uuids) != count:
        suite.report(prefix + "/restart", False,
                     "only %d of %d regions got a namespace"
                     % (len(uuids), count))
        return
    param = ",".join("%s=%s" % kv for kv in sorted(uuids.items()))
    suite.boot(prefix + "/restart", "regions-verify", machine=machine,
               params={"token": token, "uuids": param}, qemu_args=args,
               timeout=300)


def stock_layout_refuses(suite, machine):
    """Default layout: fsdax works on region0 and fails on region1."""
    prefix = machine + "/stock-layout"
    g = suite.guest(prefix, "regions-create", machine=machine,
                    params={"token": "x"}, qemu_args=dimms(suite, prefix, 2))
    try:
        g.start()
        g.wait_done(300)
    except GuestError as e:
        g.kill()
        suite.report(prefix + "/boot", False, str(e))
        return
    verdicts = {case: (v, d) for case, v, d in g.results()}
    first = verdicts.get("region0/create-fsdax", ("none", ""))
    second = verdicts.get("region1/create-fsdax", ("none", ""))
    why = second[1]
    print("# %s region1: %s %s" % (prefix, second[0], why))
    suite.check(prefix + "/region0-fsdax", first[0] == "PASS", first[1])
    suite.check(prefix + "/region1-fsdax-refused",
                second[0] == "FAIL" and "misaligned" in why,
                "region1: %s %s" % (second[0], why))


def workarounds(suite, machine):
    """The stock-compatible workarounds, on the reference build."""
    prefix = machine + "/workaround-addr"
    addrs = [DEVICE_MEMORY_BASE + i * (SIZE + ALIGN) for i in range(2)]
    regions_boot(suite, prefix, REFERENCE, machine,
                 dimms(suite, prefix, 2, addrs=addrs), "addr")
    prefix = machine + "/workaround-size"
    regions_boot(suite, prefix, REFERENCE, machine,
                 dimms(suite, prefix, 2, size=SIZE + LABEL_SIZE), "size")


def main():
    suite = Suite("regions")
    opt_in = has_region_align(suite.qemu or OURS)
    if not opt_in:
        print("# this QEMU has no region-align: opt-in cases skipped")
    for machine in suite.machines:
        check_layout(suite, machine, opt_in)
    stock_layout_refuses(suite, "pc")
    workarounds(suite, "pc")
    if opt_in:
        aligned_and_restart(suite, "pc", 2)
        aligned_and_restart(suite, "pc", 3)
        aligned_and_restart(suite, "q35", 3)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
