#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Live migration of a guest with a mounted fsdax namespace, pc and q35,
arm virt and pseries.

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

A third kind of migration checks what was sent rather than what the
guest noticed: the guest rewrites RAM and a share=off NVDIMM smaller
than RAM all through a slow migration, and the stopped source's and
destination's memory are compared page by page (migrate_dirty), ours ->
ours and ours -> reference.  VNV_MIGRATION_SOAK=N runs only that, N
times in each direction including from the reference, with an NVDIMM
smaller and one bigger than RAM, to count what QEMU 10.0 loses.

On arm virt and pseries (CROSS_ONLY) the mounted case runs between the
builds only, reference -> ours and ours -> reference: the stream of an
NVDIMM is the same code on every machine, and pc and q35 run the rest.
The pseries guest has no NVDIMM driver (vnv.machines): it checks its
NVDIMM's device tree node before and after instead (guest_side).  On
every machine both QEMUs must show the same memory devices.
"""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv import machines  # noqa: E402
from vnv.backend_files import sparse_file  # noqa: E402
from vnv.guest import GuestError, nvdimm_args  # noqa: E402
from vnv.paths import is_reference, OURS, REFERENCE  # noqa: E402
from vnv.suite import GiB, info, LABEL_SIZE, MiB, Suite  # noqa: E402

HOTPLUG_SIZE = 256 * MiB
# The guest's -m (the rig's default) and its backend when it must come first
RAM_SIZE = 512 * MiB
MAIN_RAM_ID = "main-ram"
PAGE_SIZE = 4096
# The NVDIMM of the mounted case: no bigger than RAM (see main_ram_first)
MOUNTED_SIZE = 512 * MiB
# Smaller than RAM: with an NVDIMM at ram_addr 0 this size made QEMU 10.0
# abort as a migration source under TCG (patches/0002)
SMALL_NVDIMM = 128 * MiB
# Bigger than RAM: QEMU 10.0 then lost main RAM writes instead (the soak)
LARGE_NVDIMM = GiB
# How long the guest of migrate_dirty writes, and the bandwidth that keeps
# the migration going longer than that
DIRTY_SECONDS = 20
DIRTY_BANDWIDTH = 4 * MiB
# How long a destination guest may take to read its GO after a migration.
# Under TCG on a busy host it first runs what the source left running: in
# one make check, with two jobs on two cores, ext4's lazy inode-table init
# of a fresh file system held the vCPU for 26 s (a soft lockup warning),
# past the 30 s that a GO otherwise gets.
MIGRATED_GO_TIMEOUT = 120
# The machines that migrate between the builds only (see the docstring)
CROSS_ONLY = ("virt", "pseries")
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


def failure(error, *guests):
    """ERROR's text, with the stderr of each of GUESTS whose QEMU died."""
    notes = ["%s's QEMU exited: %s" % (g.name, g.stderr_text() or "-")
             for g in guests if g.started_at is not None and not g.alive()]
    return "; ".join([str(error)] + notes)


def kernel_oops(g):
    """The first line of a guest kernel oops on G's console, or None."""
    return next((line for line in g.lines()
                 if any(mark in line for mark in KERNEL_OOPS)), None)


def mounted(suite, machine, name, src_qemu, dst_qemu):
    """Migrate a guest with a mounted fsdax namespace: SRC -> DST.

    From the reference, main RAM comes first (main_ram_first): QEMU 10.0
    would otherwise lose guest RAM writes made during the migration, and
    the destination's kernel oopses on the stale pages.
    """
    prefix = "%s/%s" % (machine, name)
    base = prefix.replace("/", "-")
    size = machines.get(machine).backend_size(MOUNTED_SIZE, LABEL_SIZE)
    backend = sparse_file(suite.path(base + ".img"), size)
    args = nvdimm_args("nv0", backend, str(size), machine=machine)
    full_machine = machine
    if is_reference(src_qemu or OURS):
        full_machine, first = main_ram_first(machine)
        args = first + args
    scenario, params = guest_side(machine, backend, size)
    uri = "unix:" + suite.path(base + ".sock")
    src = suite.guest(prefix + "-src", scenario, qemu=src_qemu,
                      machine=full_machine, qemu_args=args, params=params)
    dst = suite.guest(prefix + "-dst", scenario, qemu=dst_qemu,
                      machine=full_machine, qemu_args=args, params=params,
                      incoming=uri)
    try:
        src.start()
        src.wait_for(r"VNV-READY migrated", 300)
        before = addresses(src)
        dst.start()
        src.migrate(uri, timeout=300)
        suite.report(prefix + "/completed", True)
        # The source completes when it has sent all; the destination
        # may still be loading the last of it
        dst.wait_migrated(60)
        status = dst.qmp("query-status")["status"]
        suite.report(prefix + "/dest-running", status == "running",
                     "destination status %s" % status)
        after = addresses(dst)
        suite.check(prefix + "/same-devices", after == before,
                    "source %s, destination %s" % (before, after))
        dst.go("migrated", MIGRATED_GO_TIMEOUT)
        dst.wait_done(120)
    except (GuestError, OSError) as e:
        suite.report(prefix + "/run", False, failure(e, src, dst))
    oops = kernel_oops(dst)
    suite.report(prefix + "/no-oops", oops is None, oops or "")
    end_pair(suite, prefix, src, dst)


def guest_side(machine, backend, size):
    """The scenario of the mounted case and its parameters.

    A guest without an NVDIMM driver (pseries: vnv.machines) checks its
    NVDIMM's device tree node before and after the migration instead.
    """
    kind = machines.get(machine)
    if kind.driver is None:
        return "spapr-dt", {"dimms": kind.dt_entry(backend, size,
                                                   LABEL_SIZE),
                            "migrate": 1}
    return "migrate", {"token": uuid.uuid4().hex}


def main_ram_first(machine):
    """-machine and -object arguments that put main RAM at ram_addr 0.

    QEMU 10.0 under TCG re-arms dirty tracking after each bitmap sync
    only on the block at ram_addr 0 (patches/0002): a guest's writes to
    any other block during a migration from the reference may never be
    sent.  Memory backends given with -object are allocated before the
    board's RAM, so this backend, first on the command line, takes
    ram_addr 0; the NVDIMM is then the block at risk, and its backend
    file is shared by both sides.
    """
    return ("%s,nvdimm=on,memory-backend=%s" % (machine, MAIN_RAM_ID),
            ["-object", "memory-backend-ram,id=%s,size=%d"
             % (MAIN_RAM_ID, RAM_SIZE)])


def dump_memory(g, path, ranges):
    """Save each (name, address, size) of G's guest memory to PATH.name."""
    for name, addr, size in ranges:
        g.qmp("pmemsave", val=addr, size=size, filename=path + "." + name)


def differing_pages(path_a, path_b, size):
    """Offsets of the pages in which two memory dumps differ."""
    pages = []
    with open(path_a, "rb") as a, open(path_b, "rb") as b:
        for chunk in range(0, size, MiB):
            data_a, data_b = a.read(MiB), b.read(MiB)
            if data_a == data_b:
                continue
            pages += [chunk + p for p in range(0, len(data_a), PAGE_SIZE)
                      if data_a[p:p + PAGE_SIZE] != data_b[p:p + PAGE_SIZE]]
    return pages


def compare_memory(suite, prefix, src, dst):
    """Report whether the stopped SRC and DST hold the same guest memory.

    Main RAM is at guest physical 0 (RAM_SIZE is below the PCI hole) and
    each memory device at the address query-memory-devices gives.
    """
    ranges = [("ram", 0, RAM_SIZE)] + [
        (d["data"]["id"], d["data"]["addr"], d["data"]["size"])
        for d in src.qmp("query-memory-devices")]
    base = suite.path(prefix.replace("/", "-"))
    dump_memory(src, base + "-src", ranges)
    dump_memory(dst, base + "-dst", ranges)
    for name, addr, size in ranges:
        a, b = base + "-src." + name, base + "-dst." + name
        pages = differing_pages(a, b, size)
        suite.report("%s/same-%s" % (prefix, name), not pages,
                     "%d of %d pages differ, the first at guest physical"
                     " %s" % (len(pages), size // PAGE_SIZE,
                              ", ".join(hex(addr + p) for p in pages[:4]))
                     if pages else "")
        os.unlink(a)
        os.unlink(b)


def wait_incoming_done(g, timeout):
    """Wait until G, started with -incoming and -S, has all its memory."""
    deadline = time.monotonic() + timeout
    while g.qmp("query-status")["status"] == "inmigrate":
        if time.monotonic() > deadline:
            raise GuestError("%s: still receiving after %d s"
                             % (g.name, timeout))
        time.sleep(0.2)


def migrate_dirty(suite, machine, name, src_qemu, dst_qemu, nv_size,
                  ram_first=False):
    """Migrate a guest that rewrites RAM and an NVDIMM all along.

    The bandwidth cap makes the migration outlast the guest's writes, so
    that it syncs the dirty bitmap many times while pages change.  Both
    QEMUs are then stopped (the destination was started with -S) and
    their memory compared page by page: a page written and not sent
    again differs.  The NVDIMM is share=off, so the destination holds
    only what the stream carried.  After that the destination resumes
    and its guest checks that it still runs.
    """
    prefix = "%s/%s" % (machine, name)
    base = prefix.replace("/", "-")
    backend = sparse_file(suite.path(base + ".img"), nv_size)
    args = nvdimm_args("nv0", backend, str(nv_size), label_size=None,
                       share=False)
    full_machine = machine
    if ram_first:
        full_machine, first = main_ram_first(machine)
        args = first + args
    uri = "unix:" + suite.path(base + ".sock")
    params = {"seconds": DIRTY_SECONDS}
    src = suite.guest(prefix + "-src", "migrate-dirty", qemu=src_qemu,
                      machine=full_machine, qemu_args=args, params=params)
    dst = suite.guest(prefix + "-dst", "migrate-dirty", qemu=dst_qemu,
                      machine=full_machine, qemu_args=args + ["-S"],
                      params=params, incoming=uri)
    try:
        src.start()
        src.wait_for(r"VNV-READY dirty", 120)
        dst.start()
        src.qmp("migrate-set-parameters",
                **{"max-bandwidth": DIRTY_BANDWIDTH})
        src.qmp("migrate", uri=uri)
        src.go("dirty")
        src.wait_migrated(DIRTY_SECONDS + 240)
        suite.report(prefix + "/completed", True)
        wait_incoming_done(dst, 60)
        compare_memory(suite, prefix, src, dst)
        dst.qmp("cont")
        dst.go("resumed", MIGRATED_GO_TIMEOUT)
        dst.wait_done(120)
    except (GuestError, OSError) as e:
        suite.report(prefix + "/run", False, failure(e, src, dst))
    oops = kernel_oops(dst)
    suite.report(prefix + "/no-oops", oops is None, oops or "")
    end_pair(suite, prefix, src, dst)


def soak(suite, rounds):
    """VNV_MIGRATION_SOAK=N: only migrate_dirty, N times in each direction.

    For counting, not for make check: from the reference, RAM and NVDIMM
    pages go missing (patches/0002), so those rounds fail.
    """
    ours = suite.qemu or OURS
    pairs = [("ours-to-ours", ours, ours),
             ("ours-to-reference", ours, REFERENCE),
             ("reference-to-ours", REFERENCE, ours),
             ("reference-to-reference", REFERENCE, REFERENCE)]
    for machine in suite.machines:
        for i in range(rounds):
            for name, src_qemu, dst_qemu in pairs:
                for size in (SMALL_NVDIMM, LARGE_NVDIMM):
                    migrate_dirty(suite, machine, "%s-%dM-%d"
                                  % (name, size // MiB, i), src_qemu,
                                  dst_qemu, size)


def between_builds(suite, machine):
    """The mounted case reference -> ours and ours -> reference (with
    --qemu the reference, reference -> reference)."""
    if is_reference(suite.qemu or OURS):
        mounted(suite, machine, "migrate", suite.qemu, suite.qemu)
        return
    mounted(suite, machine, "reference-to-ours", REFERENCE, suite.qemu)
    mounted(suite, machine, "ours-to-reference", suite.qemu, REFERENCE)


def main():
    suite = Suite("migration")
    src_qemu = os.environ.get("VNV_SOURCE_QEMU")
    dst_qemu = os.environ.get("VNV_DEST_QEMU")
    rounds = int(os.environ.get("VNV_MIGRATION_SOAK", "0"))
    if rounds:
        soak(suite, rounds)
        return suite.finish()
    for machine in suite.machines:
        if src_qemu or dst_qemu:
            mounted(suite, machine, "migrate", src_qemu or suite.qemu,
                    dst_qemu or suite.qemu)
            continue
        if machine in CROSS_ONLY:
            between_builds(suite, machine)
            continue
        mounted(suite, machine, "migrate", suite.qemu, suite.qemu)
        migrate_dirty(suite, machine, "dirty", suite.qemu, suite.qemu,
                      SMALL_NVDIMM)
        if not is_reference(suite.qemu or OURS):
            mounted(suite, machine, "reference-to-ours", REFERENCE,
                    suite.qemu)
            mounted(suite, machine, "ours-to-reference", suite.qemu,
                    REFERENCE)
            migrate_dirty(suite, machine, "dirty-to-reference", suite.qemu,
                          REFERENCE, SMALL_NVDIMM)
        hotplugged(suite, machine, suite.qemu)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
