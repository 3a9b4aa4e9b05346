#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Live migration of a guest with a mounted fsdax namespace, pc and q35.

Two QEMUs on one share=on backend file: the source runs the guest,
which labels the NVDIMM and writes a file on ext4 -o dax; the
destination waits with -incoming on a unix socket.  After migration the
guest, now on the destination, reads the file, writes another and reads
its labels through the destination's label mailbox.  Then the same
with a hot-added NVDIMM (object-add + device_add) whose fsdax namespace
is mounted during the migration between two of the same binary.

The first migration runs between two of --qemu, then reference -> ours
and ours -> reference (skipped when --qemu is the reference).  The
environment's VNV_SOURCE_QEMU and VNV_DEST_QEMU run just that one pair.
"""

import os
import sys
import uuid

from rig import GiB, MiB, LABEL_SIZE, TOP, GuestError, Suite, info, \
    nvdimm_args, sparse_file

HOTPLUG_SIZE = 256 * MiB
# How long a destination guest may take to read its GO after a migration.
# Under TCG on a busy host it first runs what the source left running: in
# one make check, with two jobs on two cores, ext4's lazy inode-table init
# of a fresh file system held the vCPU for 26 s (a soft lockup warning),
# past the 30 s that a GO otherwise gets.
MIGRATED_GO_TIMEOUT = 120
REFERENCE = os.path.join(TOP, "build", "reference", "qemu-system-x86_64")
DEFAULT_QEMU = os.path.join(TOP, "build", "qemu", "qemu-system-x86_64")
# What a guest kernel prints when it oopses
KERNEL_OOPS = ("general protection fault", "BUG: ", "Oops: ", "Kernel panic")


def plug_nv1(g, path):
    """Hot-add nv1 over QMP: object-add + device_add."""
    g.qmp("object-add", **{"qom-type": "memory-backend-file",
                           "id": "mem-nv1", "share": True,
                           "mem-path": path, "size": HOTPLUG_SIZE})
    g.qmp("device_add", driver="nvdimm", id="nv1", memdev="mem-nv1",
          **{"label-size": LABEL_SIZE})


def addresses(g):
    return {d["data"]["id"]: d["data"]["addr"]
            for d in g.qmp("query-memory-devices")}


def end_pair(suite, prefix, src, dst):
    """Stop both QEMUs and report what each guest said."""
    src.kill()
    dst.kill()
    suite.collect(prefix + "-src", src)
    suite.collect(prefix + "-dst", dst)


def hotplugged(suite, machine, qemu):
    """A hot-added NVDIMM and its mounted namespace across migration.

    The destination gets the hot-added device on its command line, as
    QEMU's migration requires.
    """
    # nv0: 1G, without labels.  Its block is the first in ram_addr
    # space; one smaller than the 512M of RAM makes QEMU 10.0 (stock as
    # well) abort under TCG when migration syncs the dirty bitmap
    # (tlb_reset_dirty_range_all: "block == qemu_get_ram_block(end - 1)").
    # Without labels, nv1's region starts 16M aligned after it.
    cold = sparse_file(suite.path(machine + "-hp-nv0.img"), GiB)
    hot = sparse_file(suite.path(machine + "-hp-nv1.img"), HOTPLUG_SIZE)
    token = uuid.uuid4().hex
    uri = "unix:" + suite.path(machine + "-hotplug.sock")
    args = nvdimm_args("nv0", cold, GiB, label_size=None)
    src = suite.guest(machine + "/hotplug-src", "migrate-hotplug",
                      qemu=qemu, machine=machine, qemu_args=args,
                      params={"token": token})
    dst = suite.guest(machine + "/hotplug-dst", "migrate-hotplug",
                      qemu=qemu, machine=machine,
                      qemu_args=args + nvdimm_args("nv1", hot, HOTPLUG_SIZE),
                      params={"token": token}, incoming=uri)
    try:
        src.start()
        src.wait_for(r"VNV-READY plugged", 300)
        plug_nv1(src, hot)
        src.go("plugged")
        src.wait_for(r"VNV-READY migrated", 300)
        before = addresses(src)
        dst.start()
        src.migrate(uri, timeout=300)
        suite.report(machine + "/hotplug-migrate/completed", True)
        after = addresses(dst)
        suite.check(machine + "/hotplug-migrate/same-devices",
                    "nv1" in before and after == before,
                    "source %s, destination %s" % (before, after))
        dst.go("migrated", MIGRATED_GO_TIMEOUT)
        dst.wait_done(120)
    except (GuestError, OSError) as e:
        suite.report(machine + "/hotplug-migrate/run", False, str(e))
    end_pair(suite, machine + "/hotplug", src, dst)
    # After a restart with nv1 on the command line, its namespace is back.
    ns_uuid = info(src, "region1-uuid")
    if not ns_uuid:
        suite.report(machine + "/hotplug-restart/boot", False,
                     "the source made no namespace on the hot-added NVDIMM")
        return
    suite.boot(machine + "/hotplug-restart", "regions-verify", qemu=qemu,
               machine=machine, qemu_args=dst.qemu_args, timeout=300,
               params={"token": token, "uuids": "region1=" + ns_uuid})


def kernel_oops(g):
    """The first line of a guest kernel oops on G's console, or None."""
    return next((line for line in g.lines()
                 if any(mark in line for mark in KERNEL_OOPS)), None)


def migrate_mounted(suite, prefix, machine, src_qemu, dst_qemu):
    """One migration of a guest with a mounted fsdax namespace.

    Returns the two guests and the cases seen so far, not yet reported.
    """
    backend = sparse_file(suite.path(prefix.replace("/", "-") + ".img"), GiB)
    dimm = nvdimm_args("nv0", backend, "1G")
    token = uuid.uuid4().hex
    uri = "unix:" + suite.path(prefix.replace("/", "-") + ".sock")
    src = suite.guest(prefix + "-src", "migrate", qemu=src_qemu,
                      machine=machine, qemu_args=dimm,
                      params={"token": token})
    dst = suite.guest(prefix + "-dst", "migrate", qemu=dst_qemu,
                      machine=machine, qemu_args=dimm,
                      params={"token": token}, incoming=uri)
    cases = []
    try:
        src.start()
        src.wait_for(r"VNV-READY migrated", 300)
        dst.start()
        src.migrate(uri, timeout=300)
        cases.append((prefix + "/completed", True, ""))
        status = dst.qmp("query-status")["status"]
        cases.append((prefix + "/dest-running", status == "running",
                      "destination status %s" % status))
        dst.go("migrated", MIGRATED_GO_TIMEOUT)
        dst.wait_done(120)
    except (GuestError, OSError) as e:
        cases.append((prefix + "/run", False, str(e)))
    src.kill()
    dst.kill()
    return src, dst, cases


def mounted(suite, machine, name, src_qemu, dst_qemu):
    """Migrate a guest with a mounted fsdax namespace: SRC -> DST.

    A destination whose guest kernel oopses gets one more try, on a new
    backend file, and the oops is printed on a "# RETRY" line: one run
    of this suite saw a slab corruption in ordinary guest RAM (not the
    NVDIMM) after a reference -> ours migration under TCG, which no
    other run has shown.  The oopsed pair's logs are kept with the
    suffix "-oops".  A second oops, or any other failure, fails.
    """
    prefix = "%s/%s" % (machine, name)
    src, dst, cases = migrate_mounted(suite, prefix, machine, src_qemu,
                                      dst_qemu)
    oops = kernel_oops(dst)
    if oops:
        print("# RETRY %s: the destination guest's kernel oopsed: %s"
              % (prefix, oops.strip()), flush=True)
        keep_logs(suite, prefix)
        src, dst, cases = migrate_mounted(suite, prefix, machine,
                                          src_qemu, dst_qemu)
    for case, ok, detail in cases:
        suite.report(case, ok, detail)
    end_pair(suite, prefix, src, dst)


def keep_logs(suite, prefix):
    """Keep the logs of PREFIX's pair under names a new try leaves alone."""
    logdir = os.path.join(suite.workdir, "logs")
    base = prefix.replace("/", "-")
    for side in ("-src", "-dst"):
        for ext in (".console", ".stderr"):
            path = os.path.join(logdir, base + side + ext)
            if os.path.exists(path):
                os.replace(path, os.path.join(logdir,
                                              base + side + "-oops" + ext))


def main():
    suite = Suite("migration")
    src_qemu = os.environ.get("VNV_SOURCE_QEMU")
    dst_qemu = os.environ.get("VNV_DEST_QEMU")
    for machine in suite.machines:
        if src_qemu or dst_qemu:
            mounted(suite, machine, "migrate", src_qemu or suite.qemu,
                    dst_qemu or suite.qemu)
            continue
        mounted(suite, machine, "migrate", suite.qemu, suite.qemu)
        if os.path.abspath(suite.qemu or DEFAULT_QEMU) != REFERENCE:
            mounted(suite, machine, "reference-to-ours", REFERENCE,
                    suite.qemu)
            mounted(suite, machine, "ours-to-reference", suite.qemu,
                    REFERENCE)
        hotplugged(suite, machine, suite.qemu)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
