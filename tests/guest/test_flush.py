#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Flush hints (nvdimm flush-hints=on), on pc and q35, and migration.

The guest (scenario "flush") checks region0's deep_flush attribute,
writes it, runs sync, and writes and fsyncs a file on ext4 -o dax.
Around each step the host reads the NVDIMM's flush counter from
query-nvdimm-persistence: each must raise it.  When the guest says its
fsync returned, the host SIGKILLs QEMU and checks the backend file:
  - every line of the file's pattern is in it;
  - those pages were written back: after POSIX_FADV_DONTNEED, which
    drops only clean page-cache pages, none of them is still cached.
The same on a hot-added NVDIMM (its NFIT entries come through _FIT).

Overlap: three vCPUs each fsync a page of a label-less NVDIMM at once
(a fourth runs the guest's shell), while every backend sync is made
1.5 s slower (an LD_PRELOAD shim around fdatasync).  The requests that
arrive while the first sync runs must share one later sync: fewer syncs
than requests, and, from the trace events' times, every request served
by a sync that started after it.

Migration: both sides flush-hints=on completes, and the flush counter,
a statistic, starts again from zero on the destination; source on /
destination off fails with an error naming flush-hints (the reference
build: naming the unknown section "nvdimm") and the source keeps running
(with the return-path capability); source off / destination on leaves
the guest stopped with such an error instead of running it.
"""

import ctypes
import mmap
import os
import re
import subprocess
import sys
import time
import uuid
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv.backend_files import sparse_file  # noqa: E402
from vnv.guest import GuestError, nvdimm_args  # noqa: E402
from vnv.paths import REFERENCE  # noqa: E402
from vnv.suite import MiB, Suite  # noqa: E402

SIZE = 256 * MiB
MIG_SIZE = 1024 * MiB
FLUSH_ON = {"flush-hints": "on"}
PAGE = 4096
HERE = os.path.dirname(os.path.abspath(__file__))

OVERLAP_WRITERS = 3
# Each sync first sleeps this long: the other writers, a few milliseconds
# behind the first under TCG, all arrive while it runs.
OVERLAP_DELAY_MS = 1500
# Trace times: a gettimeofday stamp (us) minus a duration (ns), taken a
# few microseconds apart.
TRACE_SLACK = 0.001
TRACE_RE = re.compile(r"^\d+@(\d+)\.(\d+):"
                      r"(nvdimm_flush_hint|nvdimm_flush_sync)"
                      r" .* took (\d+) ns")


def flushes(g, ident="nv0"):
    for d in g.qmp("query-nvdimm-persistence"):
        if d.get("id") == ident:
            return d.get("flushes")
    return None


def pattern_lines(token):
    return [("vnv-flush-%s-%08d\n" % (token, i)).encode()
            for i in range(320)]


def pattern_offsets(path, token):
    """Offsets of the pattern's lines in PATH, or None for a missing one."""
    with open(path, "rb") as f:
        data = f.read()
    offsets = []
    for line in pattern_lines(token):
        off = data.find(line)
        if off < 0:
            return None
        offsets.append(off)
    return offsets


def cached_pages(path, offsets):
    """How many of the pages holding OFFSETS are in the host page cache
    (mincore on a shared mapping of the file)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                             ctypes.c_void_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = os.path.getsize(path)
    vec = (ctypes.c_ubyte * 1)()
    cached = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        base = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if base in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap")
        for page in sorted({off // PAGE for off in offsets}):
            if libc.mincore(base + page * PAGE, PAGE, vec):
                raise OSError(ctypes.get_errno(), "mincore")
            cached += vec[0] & 1
        libc.munmap(base, size)
    finally:
        os.close(fd)
    return cached


def step_raises(suite, g, case, tag):
    """GO before-TAG, then GO after-TAG: the counter must have grown."""
    g.wait_for(r"VNV-READY before-%s" % tag, 300)
    before = flushes(g)
    g.go("before-" + tag)
    g.wait_for(r"VNV-READY after-%s" % tag, 120)
    after = flushes(g)
    g.go("after-" + tag)
    suite.check(case, before is not None and after > before,
                "flushes %s -> %s" % (before, after))


def check_backend(suite, prefix, backend, token):
    offsets = pattern_offsets(backend, token)
    if not suite.check(prefix + "/host-file-has-data", offsets is not None,
                       "the fsync'd lines are not all in the backend file"):
        return
    fd = os.open(backend, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    dirty = cached_pages(backend, offsets)
    suite.check(prefix + "/host-file-written-back", dirty == 0,
                "%d page(s) of the fsync'd file were still dirty in the"
                " host page cache" % dirty)


def flush_guest(suite, machine, hotplug=False):
    prefix = "%s/flush%s" % (machine, "-hotplug" if hotplug else "")
    backend = sparse_file(suite.path(prefix.replace("/", "-") + ".img"), SIZE)
    token = uuid.uuid4().hex
    dimm = nvdimm_args("nv0", backend, "256M", device_props=FLUSH_ON)
    params = {"token": token}
    if hotplug:
        params["hotplug"] = "1"
    g = suite.guest(prefix, "flush", machine=machine, params=params,
                    qemu_args=[] if hotplug else dimm)
    try:
        g.start()
        if hotplug:
            g.wait_for(r"VNV-READY plugged", 300)
            g.qmp("object-add", **{"qom-type": "memory-backend-file",
                                   "id": "mem-nv0", "share": True,
                                   "mem-path": backend, "size": SIZE})
            g.qmp("device_add", driver="nvdimm", id="nv0", memdev="mem-nv0",
                  **{"label-size": 128 * 1024, "flush-hints": True})
            g.go("plugged")
        step_raises(suite, g, prefix + "/deep-flush-counts", "deep-flush")
        step_raises(suite, g, prefix + "/sync-counts", "sync")
        before = flushes(g)
        g.wait_for(r"VNV-READY fsynced", 300)
        after = flushes(g)
        g.proc.kill()
        g.proc.wait(10)
        suite.check(prefix + "/fsync-counts", after > before,
                    "flushes %s -> %s" % (before, after))
    except GuestError as e:
        suite.report(prefix + "/run", False, str(e))
        g.kill()
        return
    g.kill()
    suite.collect(prefix, g)
    check_backend(suite, prefix, backend, token)


def slow_fdatasync_shim(suite):
    """Build tests/guest/slow-fdatasync.c; return the library's path."""
    lib = suite.path("slow-fdatasync.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror",
                    "-o", lib, os.path.join(HERE, "slow-fdatasync.c"),
                    "-ldl"], check=True)
    return lib


def flush_spans(trace):
    """{event: [(start, end)]} of the flush trace lines, in seconds."""
    spans = {"nvdimm_flush_hint": [], "nvdimm_flush_sync": []}
    with open(trace) as f:
        for line in f:
            m = TRACE_RE.match(line)
            if m:
                end = int(m.group(1)) + int(m.group(2)) / 1e6
                spans[m.group(3)].append((end - int(m.group(4)) / 1e9, end))
    return spans["nvdimm_flush_hint"], spans["nvdimm_flush_sync"]


def served_by_later_sync(hint, syncs):
    """A sync that started after HINT arrived and ended before it returned.

    A sync already running when the request came may have missed the
    stores before it, so it does not count.
    """
    arrived, returned = hint
    return any(start >= arrived - TRACE_SLACK and end <= returned +
               TRACE_SLACK for start, end in syncs)


def overlap_steps(g):
    """The host's half of flush-overlap.sh: let the writers go."""
    g.wait_for(r"VNV-READY start", 300)
    g.go("start")
    g.wait_done(120)


def overlap_guest(suite):
    prefix = "pc/flush-overlap"
    backend = sparse_file(suite.path("flush-overlap.img"), SIZE)
    trace = suite.path("flush-overlap.trace")
    # A later -smp wins over the rig's "-smp 1"; one vCPU per writer and
    # one for the shell
    args = nvdimm_args("nv0", backend, "256M", label_size=None,
                       device_props=FLUSH_ON) + [
        "-smp", str(OVERLAP_WRITERS + 1), "-msg", "timestamp=on",
        "-trace", "nvdimm_flush_*", "-D", trace]
    g = suite.guest(prefix, "flush-overlap", qemu_args=args,
                    params={"writers": OVERLAP_WRITERS})
    slow = {"LD_PRELOAD": slow_fdatasync_shim(suite),
            "VNV_FDATASYNC_DELAY_MS": str(OVERLAP_DELAY_MS)}
    with mock.patch.dict(os.environ, slow):
        ran = suite.drive(prefix, g, overlap_steps)
    if not ran:
        return
    hints, syncs = flush_spans(trace)
    suite.check(prefix + "/requests", len(hints) >= OVERLAP_WRITERS,
                "%d flush requests for %d fsyncs" % (len(hints),
                                                    OVERLAP_WRITERS))
    suite.check(prefix + "/coalesced", 0 < len(syncs) < len(hints),
                "%d syncs for %d requests" % (len(syncs), len(hints)))
    # What QEMU does with an access to a device's I/O region while
    # another access to it is under way (the memory API's re-entrancy
    # guard): the write is dropped, the guest's flush returns unsynced.
    stderr = g.stderr_text()
    suite.check(prefix + "/no-write-dropped",
                "Blocked re-entrant IO" not in stderr,
                "QEMU dropped a hint write: %s" % stderr[-200:])
    late = [h for h in hints if not served_by_later_sync(h, syncs)]
    suite.check(prefix + "/served-by-later-sync", bool(hints) and not late,
                "%d of %d requests returned without a sync that started"
                " after them" % (len(late), len(hints)))


def migration_pair(suite, name, src_props, dst_props, dst_qemu=None):
    """Two QEMUs on one 1 GiB file.  Not smaller than guest RAM: QEMU
    10.0's TCG dirty sync asserts when a RAM block is larger than the
    block at ram_addr 0 (cpu_physical_memory_sync_dirty_bitmap passes a
    block offset as a ram_addr)."""
    backend = sparse_file(suite.path("migrate-%s.img" % name), MIG_SIZE)
    token = uuid.uuid4().hex
    uri = "unix:" + suite.path("migrate-%s.sock" % name)
    src = suite.guest("pc/migrate-%s-src" % name, "migrate",
                      params={"token": token},
                      qemu_args=nvdimm_args("nv0", backend, "1G",
                                            device_props=src_props))
    dst = suite.guest("pc/migrate-%s-dst" % name, "migrate", qemu=dst_qemu,
                      params={"token": token}, incoming=uri,
                      qemu_args=nvdimm_args("nv0", backend, "1G",
                                            device_props=dst_props))
    return src, dst, uri


def migrate_both_on(suite):
    src, dst, uri = migration_pair(suite, "on-on", FLUSH_ON, FLUSH_ON)
    try:
        src.start()
        src.wait_for(r"VNV-READY migrated", 300)
        sent = flushes(src)
        dst.start()
        src.migrate(uri, timeout=120)
        suite.report("pc/migrate-on-on/completed", True)
        got = flushes(dst)
        suite.check("pc/migrate-on-on/counter-not-migrated",
                    sent > 0 and got == 0,
                    "source %s, destination %s: a statistic, not VM state"
                    % (sent, got))
        dst.go("migrated")
        dst.wait_for(r"VNV-RESULT after/write ", 120)
        later = flushes(dst)
        suite.check("pc/migrate-on-on/dest-flushes", later > got,
                    "the guest's sync after migration did not flush"
                    " (%s -> %s)" % (got, later))
        dst.wait_done(120)
    except GuestError as e:
        suite.report("pc/migrate-on-on/run", False, str(e))
    src.kill()
    dst.kill()
    suite.collect("pc/migrate-on-on-dst", dst)


def migrate_disagree(suite, name, src_props, dst_props, expect,
                     dst_qemu=None, message=("flush-hints", "flush-hints")):
    src, dst, uri = migration_pair(suite, name, src_props, dst_props,
                                   dst_qemu)
    case = "pc/migrate-%s" % name
    try:
        src.start()
        src.wait_for(r"VNV-READY migrated", 300)
        dst.start()
        # Without a return path a precopy source never hears that the
        # destination failed: it would end "completed", paused.
        src.qmp("migrate-set-capabilities", capabilities=[
            {"capability": "return-path", "state": True}])
        try:
            src.migrate(uri, timeout=120)
            migrated = True
        except GuestError:
            migrated = False
        time.sleep(1)       # the destination's error and run state
    except GuestError as e:
        suite.report(case + "/run", False, str(e))
        src.kill()
        dst.kill()
        return
    if expect == "fail":
        suite.check(case + "/fails", not migrated,
                    "the migration completed")
        status = src.qmp("query-status")["status"] if src.alive() else "dead"
        suite.check(case + "/source-keeps-running", status == "running",
                    "source status %s" % status)
    else:
        status = dst.qmp("query-status")["status"] if dst.alive() else "dead"
        suite.check(case + "/dest-not-running", status != "running",
                    "destination status %s" % status)
    err = dst.stderr_text()
    what, text = message
    suite.check(case + "/message-names-" + what, text in err,
                "no %r in the destination's stderr: %r" % (text, err[-300:]))
    src.kill()
    dst.kill()


def offers_flush_hints(qemu):
    out = subprocess.run([qemu, "-device", "nvdimm,help"],
                         capture_output=True, text=True).stdout
    return "flush-hints" in out


def main():
    suite = Suite("flush")
    qemu = suite.qemu_binary()
    if not offers_flush_hints(qemu):
        # The reference build: nothing to test but that it has no such
        # option (so a guest there never sees a flush hint).
        suite.report("flush/not-offered", True)
        print("# %s has no flush-hints: suite skipped" % qemu)
        return suite.finish()
    for machine in suite.machines:
        flush_guest(suite, machine)
    flush_guest(suite, "pc", hotplug=True)
    overlap_guest(suite)
    migrate_both_on(suite)
    migrate_disagree(suite, "on-off", FLUSH_ON, None, "fail")
    migrate_disagree(suite, "off-on", None, FLUSH_ON, "stopped")
    if os.path.exists(REFERENCE):
        # Stock knows no section of ours: its message names the section.
        migrate_disagree(suite, "on-stock", FLUSH_ON, None, "fail",
                         dst_qemu=REFERENCE,
                         message=("section", "'nvdimm'"))
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
