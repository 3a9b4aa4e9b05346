# SPDX-License-Identifier: GPL-2.0-or-later
"""Measurements inside the test guest (vnv.guest): boot, ndctl label
operations, hotplug latency, migration, fsync.  Each boots a guest
scenario of guest/scenarios/*-bench.sh that times itself or prints the
lines whose arrival the host times."""

import os
import re
import resource
import time

from vnv import paths
from vnv.backend_files import blank_sparse_file
from vnv.bench import BenchError, log
from vnv.bench.command_lines import Note
from vnv.guest import Guest, GuestError, nvdimm_args

GUEST_NVDIMM = 256 << 20
LABEL_BYTES = 128 << 10



def guest_ready(part):
    """Whether the test guest is built; if not, PART is skipped."""
    if os.path.exists(os.path.join(paths.GUEST_DIR, "vmlinuz")):
        return True
    log("%s: no guest rig or guest image, skipped" % part)
    return False


def guest_with(binary, workdir, count, scenario, params,
               size=GUEST_NVDIMM):
    """A guest on COUNT blank backend files: no labels from earlier runs."""
    args = []
    for i in range(count):
        path = blank_sparse_file(os.path.join(workdir, "g%d.img" % i), size)
        args += nvdimm_args("nv%d" % i, path, str(size))
    memory = "512M,slots=%d,maxmem=%dM" % (
        max(count, 1), 512 + count * (size >> 20))
    return Guest(scenario=scenario, qemu=binary, params=params,
                 memory=memory, qemu_args=args, name="bench-guest")


def line_time(guest, regex):
    """Host arrival time of the first console line matching REGEX."""
    pattern = re.compile(regex)
    for line, when in zip(guest.console.lines, guest.console.times):
        if pattern.search(line):
            return when
    raise BenchError("guest never printed %r:\n%s" % (regex, guest.tail()))


def run_guest(guest):
    """Run the guest to power-off; return QEMU's CPU seconds (user+sys
    of the reaped child, steadier than wall time on a busy machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        guest.start()
        guest.wait_done()
    except Exception as e:
        guest.kill()
        raise BenchError("guest run failed: %s" % e)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    failed = [r for r in guest.results() if r[1] != "PASS"]
    if failed:
        log("guest reported failures: %s" % failed)
    return (after.ru_utime - before.ru_utime) + \
        (after.ru_stime - before.ru_stime)


def guest_boot_once(binary, workdir, count):
    """Start until the kernel is up, and until the detect scenario has
    checked the NVDIMM devices (nmem, region, /dev/pmem)."""
    params = {"region_size": str(GUEST_NVDIMM - LABEL_BYTES)}
    guest = guest_with(binary, workdir, count, "detect", params)
    cpu = run_guest(guest)
    start = guest.started_at
    return {"booted_s": line_time(guest, r"VNV-BOOTED") - start,
            "ready_s": line_time(guest, r"VNV-DONE") - start,
            "cpu_s": cpu}, \
        guest.command_line()


def guest_info(guest, key):
    """The number in the guest's last "VNV-INFO KEY=number" line."""
    value = None
    for line in guest.lines():
        if "VNV-INFO %s=" % key in line:
            value = float(line.split("=", 1)[1])
    if value is None:
        raise BenchError("guest printed no %s:\n%s" % (key, guest.tail()))
    return value


LABEL_RUNS = 10


def label_ops_once(binary, workdir):
    """ndctl label operations of the labels-bench scenario: the guest's
    mean of LABEL_RUNS runs each (one create-namespace)."""
    guest = guest_with(binary, workdir, 1, "labels-bench",
                       {"count": str(LABEL_RUNS)}, size=1 << 30)
    run_guest(guest)
    return {key: guest_info(guest, key + "-ms")
            for key in ("read-labels", "check-labels", "init-labels",
                        "create-namespace")}, guest.command_line()


# ------------------------------------------------- 5. hotplug latency

HOTPLUG_STEPS = 3


def hotplug_once(binary, workdir):
    """Hot-add HOTPLUG_STEPS labelled NVDIMMs, one at a time, to a guest
    that polls for /dev/pmemN every 10 ms: ms from device_add's return
    until the console line saying /dev/pmemN exists."""
    files = [blank_sparse_file(os.path.join(workdir, "hp%d.img" % i),
                               GUEST_NVDIMM)
             for i in range(HOTPLUG_STEPS + 1)]
    steps = ",".join(str(n) for n in range(1, HOTPLUG_STEPS + 1))
    memory = "512M,slots=%d,maxmem=%dM" % (
        HOTPLUG_STEPS + 1, 512 + (HOTPLUG_STEPS + 1) * (GUEST_NVDIMM >> 20))
    guest = Guest(scenario="hotplug-bench", qemu=binary,
                  params={"steps": steps}, memory=memory,
                  qemu_args=nvdimm_args("nv0", files[0],
                                        str(GUEST_NVDIMM)),
                  name="bench-hotplug")
    latencies = []
    try:
        guest.start()
        for n in range(1, HOTPLUG_STEPS + 1):
            guest.wait_for(r"VNV-READY plug%d$" % n, 300)
            guest.go("plug%d" % n)
            guest.qmp("object-add", **{"qom-type": "memory-backend-file",
                                       "id": "mem-nv%d" % n, "share": True,
                                       "mem-path": files[n],
                                       "size": GUEST_NVDIMM})
            guest.qmp("device_add", driver="nvdimm", id="nv%d" % n,
                      memdev="mem-nv%d" % n,
                      **{"label-size": LABEL_BYTES})
            added = time.monotonic()
            guest.wait_for(r"VNV-INFO pmem%d-seen" % n, 120)
            seen = line_time(guest, r"VNV-INFO pmem%d-seen" % n)
            latencies.append((seen - added) * 1e3)
        guest.wait_done()
    except GuestError as e:
        raise BenchError("hotplug guest: %s" % e)
    finally:
        guest.kill()
    argv = guest.command_line() + [Note(
        "[then per step N: QMP object-add memory-backend-file,id=mem-nvN,"
        "share=on,size=%d + device_add nvdimm,id=nvN,memdev=mem-nvN,"
        "label-size=%d]" % (GUEST_NVDIMM, LABEL_BYTES))]
    return {"latency_ms": latencies}, argv


# ------------------------------------------------------- 7. migration

MIGRATION_NVDIMM = 4 << 30
MIGRATION_WRITE_MIB = 2048
MIGRATION_BANDWIDTH = 8 << 30      # bytes/s: no throttle on a unix socket


def migrate_timed(source, uri):
    """Migrate SOURCE to URI and return QEMU's own figures:
    total time and downtime (ms) and MiB of RAM sent."""
    source.qmp("migrate-set-parameters",
               **{"max-bandwidth": MIGRATION_BANDWIDTH})
    source.qmp("migrate", uri=uri)
    deadline = time.monotonic() + 300
    while True:
        state = source.qmp("query-migrate")
        status = state.get("status")
        if status == "completed":
            break
        if status in ("failed", "cancelled") or \
                time.monotonic() > deadline:
            raise BenchError("migration %s: %s" % (status, state))
        time.sleep(0.05)
    return {"total_ms": state["total-time"], "downtime_ms": state["downtime"],
            "sent_mib": state["ram"]["transferred"] / float(1 << 20)}


def write_half(path):
    """Non-zero data over the first MIGRATION_WRITE_MIB MiB of PATH."""
    block = os.urandom(1 << 20)
    with open(path, "r+b") as f:
        for _ in range(MIGRATION_WRITE_MIB):
            f.write(block)


def move(source, dest, uri, tag, marks):
    """Start DEST, migrate SOURCE to it, release DEST's guest at TAG;
    QEMU's figures of the migration.  MARKS gets the times around it."""
    dest.start()
    marks.append(time.monotonic())
    figures = migrate_timed(source, uri)
    source.kill()
    dest.go(tag)
    marks.append(time.monotonic())
    return figures


def migration_once(binary, workdir):
    """A guest with a label-less 4 GiB NVDIMM on a sparse file moves
    A -> B while the NVDIMM is empty; then half of the NVDIMM is
    written and B moves to C.  The three QEMUs share the backend file,
    as with shared storage, so the host writes it for the guest: the
    first pass of a migration sends every page that is not zero, however
    it was written, and a TCG guest takes 40 s here to write 2 GiB."""
    path = blank_sparse_file(os.path.join(workdir, "mig.img"),
                             MIGRATION_NVDIMM)
    args = nvdimm_args("nv0", path, str(MIGRATION_NVDIMM),
                       label_size=None)
    memory = "512M,slots=1,maxmem=%dM" % (512 + (MIGRATION_NVDIMM >> 20))
    uris = ["unix:" + os.path.join(workdir, "mig-%s.sock" % n)
            for n in "bc"]

    def vm(name, incoming=None):
        return Guest(scenario="migrate-bench", qemu=binary,
                     memory=memory, qemu_args=args, incoming=incoming,
                     name="bench-migrate-" + name)
    a, b, c = vm("a"), vm("b", uris[0]), vm("c", uris[1])
    marks = [time.monotonic()]
    try:
        a.start()
        a.wait_for(r"VNV-READY empty", 300)
        empty = move(a, b, uris[0], "empty", marks)
        write_half(path)
        b.wait_for(r"VNV-READY written", 300)
        half = move(b, c, uris[1], "written", marks)
        c.wait_done()
    except GuestError as e:
        raise BenchError("migration guests: %s" % e)
    finally:
        for vm_ in (a, b, c):
            vm_.kill()
    failed = [r for g in (a, b, c) for r in g.results() if r[1] != "PASS"]
    if failed:
        raise BenchError("migration guest failed: %s" % failed)
    log("  boot %.0f s, empty migration %.0f s, writing %.0f s, "
        "half-written migration %.0f s"
        % tuple(later - sooner for sooner, later in zip(marks, marks[1:])))
    argv = c.command_line() + [Note(
        "[sources: the same without -incoming; QMP migrate-set-parameters "
        "max-bandwidth=%d, migrate uri=unix:...]" % MIGRATION_BANDWIDTH)]
    return {"empty": empty, "half": half}, argv


FSYNC_COUNT = 100


def pmem_device_args(device, path):
    """-object/-device of one label-less 256 MiB pmem device on a share=on
    file PATH: "nvdimm", an NVDIMM with flush-hints=on, or "virtio-pmem",
    a virtio-pmem-pci."""
    blank_sparse_file(path, GUEST_NVDIMM)
    if device == "nvdimm":
        return nvdimm_args("nv0", path, str(GUEST_NVDIMM), label_size=None,
                           device_props={"flush-hints": "on"})
    return ["-object", "memory-backend-file,id=mem-vp,share=on,"
            "mem-path=%s,size=%d" % (path, GUEST_NVDIMM),
            "-device", "virtio-pmem-pci,id=vp0,memdev=mem-vp"]


def fsync_guest(binary, workdir, device):
    """A guest with one pmem device of pmem_device_args()."""
    args = pmem_device_args(device, os.path.join(workdir, "fsync.img"))
    return Guest(scenario="fsync-bench", qemu=binary,
                 params={"count": str(FSYNC_COUNT)}, qemu_args=args,
                 name="bench-fsync-" + device)


def fsync_once(binary, workdir, device):
    guest = fsync_guest(binary, workdir, device)
    run_guest(guest)
    values = {key: guest_info(guest, key) for key in ("fsync-ms", "write-ms")}
    values["fsync-only-ms"] = values["fsync-ms"] - values["write-ms"]
    return values, guest.command_line()


FSYNC_PAIR_ROUNDS = 10
FSYNC_PAIR_BATCH = 20


def fsync_pair_once(binary, workdir):
    """One guest with both devices of pmem_device_args() (fsync-pair.sh):
    {"nvdimm": values, "virtio-pmem": values}, as fsync_once's.  The
    virtio-pmem comes first: placed after the NVDIMM and its flush hint
    page, the guest fails to enable an fsdax namespace on it."""
    args = []
    for device, name in (("virtio-pmem", "pair-vp.img"),
                         ("nvdimm", "pair-nv.img")):
        args += pmem_device_args(device, os.path.join(workdir, name))
    guest = Guest(scenario="fsync-pair", qemu=binary,
                  params={"rounds": str(FSYNC_PAIR_ROUNDS),
                          "batch": str(FSYNC_PAIR_BATCH)},
                  qemu_args=args, name="bench-fsync-pair")
    run_guest(guest)
    values = {}
    for device, prefix in (("nvdimm", "nvdimm"), ("virtio-pmem", "virtio")):
        v = {key: guest_info(guest, "%s-%s" % (prefix, key))
             for key in ("fsync-ms", "write-ms")}
        v["fsync-only-ms"] = v["fsync-ms"] - v["write-ms"]
        values[device] = v
    return values, guest.command_line()
