#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make bench: our build against the reference build of the unmodified base,
# side by side on this machine, written to docs/benchmarks.md.
#
# The two binaries are alternated (ABBA order) and every measurement is
# repeated; the report gives medians and the ratio ours/reference.  These
# are benchmarks, not tests: a slow number never fails the run.  The exit
# status is non-zero only when a binary cannot run at all.
#
# Usage: scripts/bench.py [--repeats N] [--ours PATH] [--reference PATH]
#                         [--only PART]... [--report PATH]

import argparse
import datetime
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = os.path.join(ROOT, "build", "qemu", "qemu-system-x86_64")
REFERENCE = os.path.join(ROOT, "build", "reference", "qemu-system-x86_64")
REPORT = os.path.join(ROOT, "docs", "benchmarks.md")

RAM_MIB = 512
NVDIMM_MIB = 128          # size of each sparse backend file
LABEL = "128K"
MAILBOX_PORT = 0x0a18
FLOOR_PORT = 0xe0          # nothing is mapped there on pc
PAGE = 0x100000            # guest RAM page used as the mailbox page
MAILBOX_CALLS = 200
FW_CFG_CTL, FW_CFG_DATA, FW_CFG_DIR = 0x510, 0x511, 0x19
STARTUP_TIMEOUT = 60
# A start to QMP takes 30-150 ms of CPU, which other work on this machine
# moves by 10-40%: the timed startup rows take at least this many repeats.
STARTUP_REPEATS = 9

GOALS = [
    "No measurement more than 5% worse than the reference "
    "(ratio ours/reference <= 1.05; for sizes: no larger).",
    "The mailbox path costs at most 1.5x the bare exit floor in host "
    "instructions per call.",
    "Label-area reads in the guest at least as fast as the reference "
    "(stretch: 2x).",
]


class BenchError(Exception):
    """A binary could not run at all."""


# ---------------------------------------------------------------- helpers

def log(msg):
    print("[bench] " + msg, flush=True)


def median(values):
    return statistics.median(values) if values else None


def datadir_args(binary):
    """Firmware sits next to each build in pc-bios/ as symlinks to the
    distribution's files; their target directory is searched too, in
    case one link is missing."""
    pcbios = os.path.join(os.path.dirname(binary), "pc-bios")
    args = ["-L", pcbios]
    target = os.path.dirname(os.path.realpath(os.path.join(pcbios,
                                                           "bios.bin")))
    if target != pcbios:
        args += ["-L", target]
    return args


def backend_file(workdir, index):
    """A sparse backend file: it costs no disk space."""
    path = os.path.join(workdir, "nv%d.img" % index)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.truncate(NVDIMM_MIB << 20)
    return path


def machine_args(workdir, slots, count, label):
    maxmem = RAM_MIB + max(slots, 1) * NVDIMM_MIB
    args = ["-machine", "pc,nvdimm=on", "-display", "none", "-nodefaults",
            "-m", "%dM,slots=%d,maxmem=%dM" % (RAM_MIB, slots, maxmem)]
    for i in range(count):
        args += ["-object",
                 "memory-backend-file,id=mem%d,share=on,mem-path=%s,size=%dM"
                 % (i, backend_file(workdir, i), NVDIMM_MIB)]
        dev = "nvdimm,id=nv%d,memdev=mem%d" % (i, i)
        if label:
            dev += ",label-size=" + label
        args += ["-device", dev]
    return args


class Note(str):
    """A remark at the end of a command line in the report, unquoted."""


def is_nvdimm_option(argv, i):
    return argv[i] in ("-object", "-device") and i + 1 < len(argv) and \
        ("nvdimm" in argv[i + 1] or "memory-backend-file" in argv[i + 1])


def shell_line(argv, keep=2):
    """The command line for the report, with the NVDIMM -object/-device
    options after the first KEEP (one NVDIMM) elided."""
    notes = [a for a in argv if isinstance(a, Note)]
    argv = [a for a in argv if not isinstance(a, Note)]
    out, seen, skipped, i = [], 0, 0, 0
    while i < len(argv):
        if is_nvdimm_option(argv, i):
            seen += 1
            if seen > keep:
                skipped += 1
            else:
                out += argv[i:i + 2]
            i += 2
            continue
        out.append(argv[i])
        i += 1
    line = shlex.join(out)
    if skipped:
        line += " [... %d more NVDIMM -object/-device options]" % skipped
    return portable(" ".join([line] + notes))


def portable(line):
    """No paths of this machine in the report: the tree is ".", scratch
    directories are $TMP."""
    line = line.replace(ROOT + os.sep, "")
    tmp = re.escape(tempfile.gettempdir())
    return re.sub(tmp + r"/vnv-[^/ ']+", "$TMP", line)


def task_cpu_ns(pid):
    """CPU time consumed so far by all threads (schedstat, nanoseconds)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------ 1. startup

def qmp_connect(path, proc):
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError("QEMU exited with %d before QMP came up: %s"
                             % (proc.returncode, proc.stderr.read()[-500:]))
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            time.sleep(0.001)
    raise BenchError("QMP socket never appeared")


def qmp_command(sock, reader, command):
    sock.sendall(b'{"execute": "%s"}\n' % command.encode())
    while True:
        line = reader.readline()
        if not line:
            raise BenchError("QMP closed")
        if b'"return"' in line or b'"error"' in line:
            return line


def startup_once(binary, workdir, slots, count, label):
    """Seconds and CPU seconds from exec until QMP answers, and RSS."""
    sock_path = os.path.join(workdir, "qmp.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    argv = [binary] + datadir_args(binary) + ["-accel", "tcg", "-S"] + \
        machine_args(workdir, slots, count, label) + \
        ["-qmp", "unix:%s,server=on,wait=off" % sock_path]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        sock = qmp_connect(sock_path, proc)
        reader = sock.makefile("rb")
        reader.readline()                           # greeting
        qmp_command(sock, reader, "qmp_capabilities")
        elapsed = time.monotonic() - start
        cpu = task_cpu_ns(proc.pid) / 1e9
        rss = rss_kib(proc.pid)
        qmp_command(sock, reader, "quit")
        sock.close()
        proc.wait(timeout=30)
    finally:
        stop(proc)
    return {"wall_ms": elapsed * 1e3, "cpu_ms": cpu * 1e3,
            "rss_mib": rss / 1024.0}, argv


def startup_insns_once(binary, workdir, count, label):
    """Instructions of QEMU's main thread from exec until it enters its
    main loop: the whole machine setup, without the noise of CPU time.
    Only the main thread is counted (--separate-threads): the RCU and
    other helper threads run for however long the setup happens to take,
    the main thread's count repeats to a few parts per million."""
    out = os.path.join(workdir, "cg-startup.out")
    wrapper = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
               "--separate-threads=yes", "--dump-before=qemu_main_loop",
               "--dump-instr=no"]
    qt = Qtest(qtest_argv(binary, workdir, count, count, label, wrapper))
    try:
        qt.batch(["endianness"])        # answered from the main loop
    finally:
        qt.close()
    insns = callgrind_summaries(out + ".1-01")
    for name in os.listdir(workdir):
        if name.startswith("cg-startup.out"):
            os.unlink(os.path.join(workdir, name))
    if not insns:
        raise BenchError("no callgrind dump at qemu_main_loop")
    return {"insns": insns[0]}, qt.argv


# ------------------------------------------------------- qtest sessions

class Qtest:
    """A QEMU driven by the qtest text protocol on stdio."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     bufsize=1)

    def batch(self, commands):
        """Send commands pipelined, return their answers."""
        self.proc.stdin.write("".join(c + "\n" for c in commands))
        self.proc.stdin.flush()
        answers = []
        for _ in commands:
            line = self.proc.stdout.readline()
            if not line:
                raise BenchError("qtest QEMU died: %s"
                                 % self.proc.stderr.read()[-800:])
            answers.append(line.strip())
        return answers

    def inb_many(self, port, count):
        return bytes(int(a.split()[1], 16)
                     for a in self.batch(["inb 0x%x" % port] * count))

    def read(self, addr, size):
        answer = self.batch(["read 0x%x %d" % (addr, size)])[0]
        return bytes.fromhex(answer.split()[1][2:])

    def close(self):
        stop(self.proc)
        return self.proc.stderr.read()


def qtest_argv(binary, workdir, slots, count, label, wrapper=()):
    # -qtest-log: qtest logs each exchange to stderr otherwise, and a long
    # run fills the pipe that nobody reads until the end: QEMU stops
    return list(wrapper) + [binary] + datadir_args(binary) + \
        ["-accel", "qtest", "-qtest", "stdio", "-qtest-log", "/dev/null"] + \
        machine_args(workdir, slots, count, label)


def fw_cfg_files(qt):
    """fw_cfg file directory: {name: size}."""
    qt.batch(["outw 0x%x 0x%x" % (FW_CFG_CTL, FW_CFG_DIR)])
    count = struct.unpack(">I", qt.inb_many(FW_CFG_DATA, 4))[0]
    raw = qt.inb_many(FW_CFG_DATA, 64 * count)
    files = {}
    for i in range(count):
        size, _sel, _res, name = struct.unpack_from(">IHH56s", raw, 64 * i)
        files[name.split(b"\0")[0].decode()] = size
    return files


# ------------------------------------------------------ 4. mailbox call

def dsm_request(function, args=b""):
    """Request page: handle 1 (the first NVDIMM), revision 1, function."""
    return struct.pack("<III", 1, 1, function) + args


def write_page(data):
    return "write 0x%x %d 0x%s" % (PAGE, len(data), data.hex())


def doorbell():
    return "outl 0x%x 0x%x" % (MAILBOX_PORT, PAGE)


def dsm_call(qt, function, args=b"", size=16):
    qt.batch([write_page(dsm_request(function, args)), doorbell()])
    return qt.read(PAGE, size)


def max_transfer(qt):
    """Function 4, Get Label Size: status, label size, max transfer."""
    _len, status, size, xfer = struct.unpack("<IIII", dsm_call(qt, 4))
    if status != 0:
        raise BenchError("Get Label Size failed, status 0x%x" % status)
    return size, xfer


def get_label_data_ok(qt, xfer):
    reply = dsm_call(qt, 5, struct.pack("<II", 0, xfer), 8)
    length, status = struct.unpack("<II", reply)
    return status == 0 and length == 8 + xfer


def callgrind_summaries(prefix):
    """Instruction totals of each callgrind dump, in dump order."""
    parts = []
    for name in os.listdir(os.path.dirname(prefix)):
        full = os.path.join(os.path.dirname(prefix), name)
        if not full.startswith(prefix):
            continue
        suffix = full[len(prefix):].lstrip(".")
        order = int(suffix.split("-")[0]) if suffix else 1 << 30
        with open(full) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    parts.append((order, int(line.split()[1])))
                    break
    return [total for _, total in sorted(parts)]


def mailbox_once(binary, workdir):
    """Instructions per Get Label Data call and per floor outl.

    The run is cut into segments by a marker qtest command (clock_step),
    before which callgrind dumps its counters: [marker + N floor outl],
    [marker + N mailbox calls], [marker alone].  The last one is the
    baseline of zero calls, subtracted from the other two.
    """
    prefix = os.path.join(workdir, "cg-%d.out" % os.getpid())
    for name in os.listdir(workdir):
        if name.startswith(os.path.basename(prefix)):
            os.unlink(os.path.join(workdir, name))
    wrapper = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" +
               prefix, "--dump-before=qemu_clock_advance_virtual_time",
               "--dump-instr=no", "--compress-strings=no"]
    argv = qtest_argv(binary, workdir, 1, 1, LABEL, wrapper)
    qt = Qtest(argv)
    try:
        size, xfer = max_transfer(qt)
        if not get_label_data_ok(qt, xfer):
            raise BenchError("Get Label Data of %d bytes failed" % xfer)
        request = write_page(dsm_request(5, struct.pack("<II", 0, xfer)))
        floor = ["outl 0x%x 0x0" % FLOOR_PORT] * MAILBOX_CALLS
        calls = [request, doorbell()] * MAILBOX_CALLS
        writes = [request] * MAILBOX_CALLS
        for segment in (floor, calls, writes, []):
            qt.batch(["clock_step 1"] + segment)
        qt.batch(["clock_step 1"])
    finally:
        qt.close()
    totals = callgrind_summaries(prefix)
    # dumps: startup, floor, calls, writes only, baseline, (exit)
    # dumps: startup, floor, calls, writes, baseline, exit
    if len(totals) < 6:
        raise BenchError("callgrind gave %d dumps" % len(totals))
    floor, calls, writes, _zero = [(t - totals[-2]) / MAILBOX_CALLS
                                  for t in totals[-5:-1]]
    return {"label_size": size, "max_xfer": xfer, "floor": floor,
            "doorbell": calls - writes}, argv


# ------------------------------------------------ 6. ACPI build and size

def acpi_once(binary, workdir, slots, count_insns=True):
    """Size of the etc/acpi/tables fw_cfg blob and, if COUNT_INSNS, the
    instructions spent in acpi_build at machine start (callgrind counts
    only inside that function)."""
    out = os.path.join(workdir, "cg-acpi.out")
    wrapper = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
               "--collect-atstart=no", "--toggle-collect=acpi_build",
               "--dump-instr=no"] if count_insns else []
    argv = qtest_argv(binary, workdir, slots, slots, LABEL, wrapper)
    qt = Qtest(argv)
    try:
        files = fw_cfg_files(qt)
    finally:
        qt.close()
    result = {"acpi_bytes": files.get("etc/acpi/tables", 0)}
    if count_insns:
        result["acpi_build_insn"] = callgrind_summaries(out)[-1]
        os.unlink(out)
    return result, argv


# ------------------------------- 2, 3. guest (scripts/vnv-guest.py)

GUEST_NVDIMM = 256 << 20
LABEL_BYTES = 128 << 10


def load_rig():
    """The guest rig module, or None when it or the guest is missing."""
    kernel = os.path.join(ROOT, "build", "guest", "vmlinuz")
    if not os.path.exists(kernel):
        return None
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from vnv import backend_files, guest
    return types.SimpleNamespace(Guest=guest.Guest,
                                 GuestError=guest.GuestError,
                                 nvdimm_args=guest.nvdimm_args,
                                 sparse_file=backend_files.sparse_file)


def guest_rig(part):
    """load_rig(), saying that PART is skipped when there is no rig."""
    rig = load_rig()
    if rig is None:
        log("%s: no guest rig or guest image, skipped" % part)
    return rig


def guest_with(rig, binary, workdir, count, scenario, params,
               size=GUEST_NVDIMM):
    """A guest on COUNT blank backend files: no labels from earlier runs."""
    args = []
    for i in range(count):
        path = os.path.join(workdir, "g%d.img" % i)
        if os.path.exists(path):
            os.unlink(path)
        rig.sparse_file(path, size)
        args += rig.nvdimm_args("nv%d" % i, path, str(size))
    memory = "512M,slots=%d,maxmem=%dM" % (
        max(count, 1), 512 + count * (size >> 20))
    return rig.Guest(scenario=scenario, qemu=binary, params=params,
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


def guest_boot_once(rig, binary, workdir, count):
    """Start until the kernel is up, and until the detect scenario has
    checked the NVDIMM devices (nmem, region, /dev/pmem)."""
    params = {"region_size": str(GUEST_NVDIMM - LABEL_BYTES)}
    guest = guest_with(rig, binary, workdir, count, "detect", params)
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


def label_ops_once(rig, binary, workdir):
    """ndctl label operations of the labels-bench scenario: the guest's
    mean of LABEL_RUNS runs each (one create-namespace)."""
    guest = guest_with(rig, binary, workdir, 1, "labels-bench",
                       {"count": str(LABEL_RUNS)}, size=1 << 30)
    run_guest(guest)
    return {key: guest_info(guest, key + "-ms")
            for key in ("read-labels", "check-labels", "init-labels",
                        "create-namespace")}, guest.command_line()


# ------------------------------------------------- 5. hotplug latency

HOTPLUG_STEPS = 3


def hotplug_once(rig, binary, workdir):
    """Hot-add HOTPLUG_STEPS labelled NVDIMMs, one at a time, to a guest
    that polls for /dev/pmemN every 10 ms: ms from device_add's return
    until the console line saying /dev/pmemN exists."""
    paths = []
    for i in range(HOTPLUG_STEPS + 1):
        path = os.path.join(workdir, "hp%d.img" % i)
        if os.path.exists(path):
            os.unlink(path)
        paths.append(rig.sparse_file(path, GUEST_NVDIMM))
    steps = ",".join(str(n) for n in range(1, HOTPLUG_STEPS + 1))
    memory = "512M,slots=%d,maxmem=%dM" % (
        HOTPLUG_STEPS + 1, 512 + (HOTPLUG_STEPS + 1) * (GUEST_NVDIMM >> 20))
    guest = rig.Guest(scenario="hotplug-bench", qemu=binary,
                      params={"steps": steps}, memory=memory,
                      qemu_args=rig.nvdimm_args("nv0", paths[0],
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
                                       "mem-path": paths[n],
                                       "size": GUEST_NVDIMM})
            guest.qmp("device_add", driver="nvdimm", id="nv%d" % n,
                      memdev="mem-nv%d" % n,
                      **{"label-size": LABEL_BYTES})
            added = time.monotonic()
            guest.wait_for(r"VNV-INFO pmem%d-seen" % n, 120)
            seen = line_time(guest, r"VNV-INFO pmem%d-seen" % n)
            latencies.append((seen - added) * 1e3)
        guest.wait_done()
    except rig.GuestError as e:
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


def migration_once(rig, binary, workdir):
    """A guest with a label-less 4 GiB NVDIMM on a sparse file moves
    A -> B while the NVDIMM is empty; then half of the NVDIMM is
    written and B moves to C.  The three QEMUs share the backend file,
    as with shared storage, so the host writes it for the guest: the
    first pass of a migration sends every page that is not zero, however
    it was written, and a TCG guest takes 40 s here to write 2 GiB."""
    path = os.path.join(workdir, "mig.img")
    if os.path.exists(path):
        os.unlink(path)
    rig.sparse_file(path, MIGRATION_NVDIMM)
    args = rig.nvdimm_args("nv0", path, str(MIGRATION_NVDIMM),
                           label_size=None)
    memory = "512M,slots=1,maxmem=%dM" % (512 + (MIGRATION_NVDIMM >> 20))
    uris = ["unix:" + os.path.join(workdir, "mig-%s.sock" % n)
            for n in "bc"]

    def vm(name, incoming=None):
        return rig.Guest(scenario="migrate-bench", qemu=binary,
                         memory=memory, qemu_args=args, incoming=incoming,
                         name="bench-migrate-" + name)
    a, b, c = vm("a"), vm("b", uris[0]), vm("c", uris[1])
    marks = [time.monotonic()]
    try:
        a.start()
        a.wait_for(r"VNV-READY empty", 300)
        b.start()
        marks.append(time.monotonic())
        empty = migrate_timed(a, uris[0])
        a.kill()
        b.go("empty")
        marks.append(time.monotonic())
        write_half(path)
        b.wait_for(r"VNV-READY written", 300)
        c.start()
        marks.append(time.monotonic())
        half = migrate_timed(b, uris[1])
        b.kill()
        c.go("written")
        marks.append(time.monotonic())
        c.wait_done()
    except rig.GuestError as e:
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


# ------------------------------------------------------------- running

class Results:
    """Samples per (row, binary) and one command line per row."""

    def __init__(self):
        self.samples = {}
        self.commands = {}
        self.seconds = {}                   # part -> wall seconds
        self.failed = {}                    # part -> why it stopped
        self.load = [os.getloadavg()[0]]    # at the start and the end

    def add(self, row, side, value, argv):
        self.samples.setdefault((row, side), []).append(value)
        self.commands.setdefault(row, shell_line(argv))

    def median(self, row, side):
        return median(self.samples.get((row, side), []))


def alternate(binaries, repeats, measure, record):
    """Run measure() for each binary, ABBA order, repeats times each."""
    for rep in range(repeats):
        order = binaries if rep % 2 == 0 else binaries[::-1]
        for side, binary in order:
            values, argv = measure(binary)
            record(side, values, argv)


def bench_startup(binaries, workdir, repeats, results):
    for count in (1, 16, 64):
        for label in (None, LABEL):
            name = "%d NVDIMM%s%s" % (count, "s" if count > 1 else "",
                                      ", label " + label if label else "")
            log("startup: " + name)

            def record(side, v, argv, name=name):
                results.add("Startup to QMP, wall ms: " + name, side,
                            v["wall_ms"], argv)
                results.add("Startup to QMP, CPU ms: " + name, side,
                            v["cpu_ms"], argv)
                results.add("RSS at QMP, MiB: " + name, side,
                            v["rss_mib"], argv)
            alternate(binaries, max(repeats, STARTUP_REPEATS),
                      lambda b, c=count, lb=label:
                      startup_once(b, workdir, c, c, lb), record)

            def record_insns(side, v, argv, name=name):
                results.add("Startup insns, main thread to main loop: "
                            + name, side, v["insns"], argv)
            alternate(binaries, 1,
                      lambda b, c=count, lb=label:
                      startup_insns_once(b, workdir, c, lb), record_insns)


def bench_mailbox(binaries, workdir, repeats, results):
    log("mailbox: callgrind, %d calls per segment" % MAILBOX_CALLS)

    def record(side, v, argv):
        xfer = v["max_xfer"]
        results.add("Max transfer of Get Label Data, bytes", side, xfer, argv)
        results.add("Insns per Get Label Data call (%d B), doorbell"
                    % xfer, side, v["doorbell"], argv)
        results.add("Insns per bare outl to unassigned port (floor)", side,
                    v["floor"], argv)
        results.add("Mailbox doorbell / floor", side,
                    v["doorbell"] / v["floor"], argv)
    alternate(binaries, repeats, lambda b: mailbox_once(b, workdir), record)


def bench_acpi(binaries, workdir, repeats, results):
    for slots in (1, 64, 256):
        log("ACPI: %d slots" % slots)

        def record(side, v, argv, slots=slots):
            results.add("Startup to QMP, wall ms: %d slots, %d NVDIMMs"
                        % (slots, slots), side, v["wall_ms"], argv)
            results.add("Startup to QMP, CPU ms: %d slots, %d NVDIMMs"
                        % (slots, slots), side, v["cpu_ms"], argv)
        # at 256 slots one start takes over a second: keep REPEATS
        alternate(binaries,
                  repeats if slots > 64 else max(repeats, STARTUP_REPEATS),
                  lambda b, s=slots: startup_once(b, workdir, s, s, LABEL),
                  record)
        # callgrind at 256 slots takes many minutes on this machine
        count_insns = slots <= 64

        def record_acpi(side, v, argv, slots=slots):
            results.add("ACPI tables blob, bytes: %d slots" % slots, side,
                        v["acpi_bytes"], argv)
            if "acpi_build_insn" in v:
                results.add("Insns in acpi_build: %d slots" % slots, side,
                            v["acpi_build_insn"], argv)
        # Sizes and instruction counts repeat exactly (valgrind runs the
        # same instructions every time): one run per binary, as a
        # callgrind start with 64 NVDIMMs takes minutes here.
        alternate(binaries, 1,
                  lambda b, s=slots, c=count_insns: acpi_once(b, workdir,
                                                             s, c),
                  record_acpi)


LABEL_READ_ROW = "Guest ndctl read-labels (128 KiB), wall ms, mean of %d " \
    "in one guest"


def bench_boot(binaries, workdir, repeats, results):
    rig = guest_rig("boot")
    if rig is None:
        return
    for count in (1, 16):
        log("guest boot: %d NVDIMMs with labels" % count)
        name = "%d NVDIMM%s, label %s" % (count, "s" if count > 1 else "",
                                           LABEL)

        def record(side, v, argv, name=name):
            results.add("Guest boot to kernel up, wall s: " + name, side,
                        v["booted_s"], argv)
            results.add("Guest boot to pmem checked, wall s: " + name,
                        side, v["ready_s"], argv)
            results.add("Guest boot, whole run, QEMU CPU s: " + name,
                        side, v["cpu_s"], argv)
        alternate(binaries, repeats,
                  lambda b, c=count: guest_boot_once(rig, b, workdir, c),
                  record)


def bench_labels(binaries, workdir, repeats, results):
    rig = guest_rig("labels")
    if rig is None:
        return
    log("guest label operations")

    def record_labels(side, v, argv):
        each = "mean of %d in one guest" % LABEL_RUNS
        results.add(LABEL_READ_ROW % LABEL_RUNS, side, v["read-labels"],
                    argv)
        results.add("Guest ndctl check-labels, wall ms, " + each, side,
                    v["check-labels"], argv)
        results.add("Guest ndctl init-labels -f, wall ms, " + each, side,
                    v["init-labels"], argv)
        results.add("Guest ndctl create-namespace fsdax (1 GiB), wall ms",
                    side, v["create-namespace"], argv)
    alternate(binaries, repeats,
              lambda b: label_ops_once(rig, b, workdir), record_labels)


def bench_hotplug(binaries, workdir, repeats, results):
    rig = guest_rig("hotplug")
    if rig is None:
        return
    log("hotplug: %d NVDIMMs hot-added per guest" % HOTPLUG_STEPS)

    def record(side, v, argv):
        for ms in v["latency_ms"]:
            results.add("Hotplug, device_add return to /dev/pmemN in the "
                        "guest, wall ms (label %s)" % LABEL, side, ms, argv)
    alternate(binaries, repeats,
              lambda b: hotplug_once(rig, b, workdir), record)


def bench_migration(binaries, workdir, repeats, results):
    rig = guest_rig("migration")
    if rig is None:
        return
    log("migration: 4 GiB NVDIMM, empty then %d MiB written"
        % MIGRATION_WRITE_MIB)

    def record(side, v, argv):
        for key, name in (("empty", "empty"),
                          ("half", "%d MiB written" % MIGRATION_WRITE_MIB)):
            row = "Migration, 4 GiB NVDIMM %s: " % name
            results.add(row + "total, wall ms", side, v[key]["total_ms"],
                        argv)
            results.add(row + "downtime, wall ms", side,
                        v[key]["downtime_ms"], argv)
            results.add(row + "RAM MiB sent", side, v[key]["sent_mib"],
                        argv)
    alternate(binaries, repeats,
              lambda b: migration_once(rig, b, workdir), record)


# ------------------------------------------------- fsync, flush hints

FSYNC_COUNT = 100


def fsync_guest(rig, binary, workdir, device):
    """A guest with one label-less 256 MiB pmem device on a share=on
    file: an NVDIMM with flush-hints=on, or a virtio-pmem-pci."""
    path = os.path.join(workdir, "fsync.img")
    if os.path.exists(path):
        os.unlink(path)
    rig.sparse_file(path, GUEST_NVDIMM)
    if device == "nvdimm":
        args = rig.nvdimm_args("nv0", path, str(GUEST_NVDIMM),
                               label_size=None,
                               device_props={"flush-hints": "on"})
    else:
        args = ["-object", "memory-backend-file,id=mem-vp,share=on,"
                "mem-path=%s,size=%d" % (path, GUEST_NVDIMM),
                "-device", "virtio-pmem-pci,id=vp0,memdev=mem-vp"]
    return rig.Guest(scenario="fsync-bench", qemu=binary,
                     params={"count": str(FSYNC_COUNT)}, qemu_args=args,
                     name="bench-fsync-" + device)


def fsync_once(rig, binary, workdir, device):
    guest = fsync_guest(rig, binary, workdir, device)
    run_guest(guest)
    values = {}
    for key in ("fsync-ms", "write-ms"):
        value = None
        for line in guest.lines():
            if "VNV-INFO %s=" % key in line:
                value = float(line.split("=", 1)[1])
        if value is None:
            raise BenchError("%s guest printed no %s:\n%s"
                             % (device, key, guest.tail()))
        values[key] = value
    values["fsync-only-ms"] = values["fsync-ms"] - values["write-ms"]
    return values, guest.command_line()


def bench_fsync(binaries, workdir, repeats, results):
    """Issue 6: guest fsync of a 4 KiB write on fsdax ext4.  The
    "reference" side is stock's virtio-pmem-pci, the "ours" side an
    NVDIMM with flush-hints=on, each on the same kind of backend file."""
    rig = load_rig()
    if rig is None:
        log("fsync: no guest rig or guest image, skipped")
        return
    devices = {"reference": "virtio-pmem", "ours": "nvdimm"}
    log("fsync: flush hints (ours) vs virtio-pmem (reference)")

    def record(side, v, argv):
        results.add("Guest dd 4 KiB + fsync on ext4 -o dax, wall ms:"
                    " virtio-pmem (ref) vs flush hints (ours)", side,
                    v["fsync-ms"], argv)
        results.add("Guest fsync alone (minus dd without fsync), wall ms:"
                    " virtio-pmem (ref) vs flush hints (ours)", side,
                    v["fsync-only-ms"], argv)
    alternate(binaries, repeats,
              lambda b: fsync_once(rig, b, workdir,
                                   devices["ours" if b == binaries[1][1]
                                           else "reference"]),
              record)


# -------------------------------------------------------------- report

HIGHER_IS_BETTER = ("Max transfer",)
INFORMATIONAL = ("Mailbox doorbell / floor",)

NOT_RUN = "not in this run (--only), or no guest rig or guest image"
# (row prefix, measurement, why it is missing when no row has the prefix)
NOT_MEASURED = [
    ("Guest boot", "2. Guest boot to all pmem ready, 1 and 16 NVDIMMs "
     "with labels", NOT_RUN),
    ("Guest ndctl", "3. ndctl label operations on a 128 KiB label area",
     NOT_RUN),
    ("Hotplug", "5. Hotplug: device_add returning until /dev/pmemN",
     NOT_RUN),
    ("Migration", "7. Migration time and downtime, 4 GiB NVDIMM",
     NOT_RUN),
    ("Guest dd 4 KiB + fsync", "8. fsync latency, flush hints vs "
     "virtio-pmem", NOT_RUN),
]


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def fmt(value):
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return "{:,.0f}".format(value)
    return "{:.2f}".format(value)


def verdict(row, ref, ours):
    """Goal 1 per row: ours no more than 5% worse than the reference."""
    if ref is None or ours is None or ref == 0:
        return "-", "-"
    ratio = ours / ref
    if row.startswith(INFORMATIONAL):
        return "%.2f" % ratio, "see goal 2"
    if row.startswith(HIGHER_IS_BETTER):
        return "%.2f" % ratio, "met" if ratio >= 1 / 1.05 else "NOT met"
    if ratio <= 1.05:
        return "%.2f" % ratio, "met"
    if "wall" in row:
        return "%.2f" % ratio, "over (wall time: noisy here)"
    return "%.2f" % ratio, "NOT met"


def table(results):
    lines = ["| Measurement | reference | ours | ours/ref | goal 1 (<= 5% "
             "worse) |", "|---|---:|---:|---:|---|"]
    failed = []
    for row in results.commands:
        ref = results.median(row, "reference")
        ours = results.median(row, "ours")
        ratio, met = verdict(row, ref, ours)
        if met == "NOT met":
            failed.append(row)
        lines.append("| %s | %s | %s | %s | %s |"
                     % (row, fmt(ref), fmt(ours), ratio, met))
    return lines, failed


def goal_lines(results, failed):
    ratio = results.median("Mailbox doorbell / floor", "ours")
    ref_ratio = results.median("Mailbox doorbell / floor", "reference")
    goal2 = "not measured" if ratio is None else (
        "%s: ours %.1fx, reference %.1fx the floor"
        % ("met" if ratio <= 1.5 else "NOT met", ratio, ref_ratio))
    goal1 = "met for every CPU, memory, instruction and size row " \
        "(wall times are shown but not judged: other work on this " \
        "machine moves them by more than 5%, even the reference " \
        "against itself)" \
        if not failed else \
        "NOT met for: " + "; ".join(failed)
    return ["1. " + GOALS[0] + " **" + goal1 + ".**",
            "2. " + GOALS[1] + " **" + goal2 + ".**",
            "3. " + GOALS[2] + " **" + label_goal(results) + ".**"]


def label_goal(results):
    row = LABEL_READ_ROW % LABEL_RUNS
    ref, ours = results.median(row, "reference"), results.median(row, "ours")
    if ref is None or ours is None:
        return "not measured in this run"
    speedup = ref / ours
    return "%s: label reads (ndctl read-labels of the whole area) ours " \
        "%.2fx the reference's speed%s" \
        % ("met" if speedup >= 1 / 1.05 else "NOT met", speedup,
           ", stretch goal 2x met" if speedup >= 2 else
           "; stretch goal 2x not met")


def commands_by_line(results):
    """[(command line, [rows measured with it])], in row order."""
    grouped = {}
    for row, command in results.commands.items():
        grouped.setdefault(command, []).append(row)
    return list(grouped.items())


def write_report(path, results, binaries, repeats, started, duration,
                 note):
    reference, ours = dict(binaries)["reference"], dict(binaries)["ours"]
    rows, failed = table(results)
    out = ["<!-- SPDX-License-Identifier: GPL-2.0-or-later -->",
           "# Benchmarks: our vNVDIMM build against the reference", "",
           "Written by `make bench` (`scripts/bench.py`). Do not edit by "
           "hand.", "",
           "- Date: %s UTC, run took %.0f s (%s)"
           % (started.strftime("%Y-%m-%d %H:%M"), duration,
              ", ".join("%s %.0f s" % kv for kv in results.seconds.items())),
           "- Load average (1 min) at the start and the end of the run: "
           "%s" % " and ".join("%.1f" % x
                                for x in results.load + [os.getloadavg()[0]]),
           "- Machine: %s, %d cores (/proc/cpuinfo), shared with other "
           "work, so wall times are noisy; CPU times and instruction "
           "counts are steadier" % (cpu_model(), os.cpu_count()),
           "- Binaries: ours = `%s`, reference = `%s` (unmodified QEMU "
           "10.0.13)" % (portable(ours), portable(reference)),
           "- Method: the two binaries alternate (ABBA), %d repeats of "
           "each timed or counted measurement, medians shown; ratios are "
           "ours/reference. Blob sizes and acpi_build's instruction "
           "counts are deterministic and measured once per binary. "
           "Instruction counts come from `valgrind --tool="
           "callgrind` (perf has no hardware counters on this VM)."
           % repeats]
    if note:
        out.append("- Note: " + note)
    out += ["", "## Goals (issue 8)", ""] + goal_lines(results, failed)
    out += ["", "## Results", ""] + rows
    out += ["", "## Not measured yet", "", "| Measurement | why |",
            "|---|---|"]
    missing = [(what, why) for prefix, what, why in NOT_MEASURED
               if not any(row.startswith(prefix)
                          for row in results.commands)]
    missing += [("part `%s` failed" % name, why.replace("|", "/"))
                for name, why in results.failed.items()]
    out += ["| %s | %s |" % item for item in missing] or \
        ["| - | everything in issue 8 was measured |"]
    out += ["", "## How each number is taken", ""] + METHOD_NOTES
    out += ["", "## Command lines", "",
            "The reference's; ours differ only in the binary's path. "
            "Paths are relative to the tree; $TMP is a scratch directory.",
            ""]
    for command, rows in commands_by_line(results):
        out += ["- " + "; ".join(rows) + ":", "", "      " + command, ""]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out).rstrip() + "\n")


METHOD_NOTES = [
    "- Startup: exec until QEMU answers `qmp_capabilities` on a unix "
    "socket (`-accel tcg -S`); wall time, CPU time of all threads "
    "(schedstat) and VmRSS read at that moment, %d repeats or more "
    "(up to 64 slots). Each NVDIMM sits on a sparse %d MiB file. "
    "Startup insns: the same machine with `-accel qtest` under "
    "callgrind (`--separate-threads=yes --dump-before=qemu_main_loop`), "
    "instructions of the main thread until it enters the main loop, "
    "once per binary: they repeat to a few parts per million, where the "
    "CPU time of the same start moves by tens of percent here."
    % (STARTUP_REPEATS, NVDIMM_MIB),
    "- Mailbox: `-accel qtest -qtest stdio` under callgrind. The run is "
    "cut into segments by a marker command (`clock_step 1`, callgrind "
    "`--dump-before=qemu_clock_advance_virtual_time`): %d bare `outl` "
    "to port 0x%x (the floor), %d x [write request page + `outl 0x%x`], "
    "%d x [write request page] alone, and nothing (the baseline, "
    "subtracted). Doorbell = calls - writes: the host cost of one Get "
    "Label Data (handle 1, function 5, offset 0, length = max transfer "
    "from function 4), as a guest would pay it after storing its "
    "request." % (MAILBOX_CALLS, FLOOR_PORT, MAILBOX_CALLS, MAILBOX_PORT,
                  MAILBOX_CALLS),
    "- ACPI size: the `etc/acpi/tables` entry of the fw_cfg file "
    "directory (selector 0x19 on port 0x510, read from 0x511), with N "
    "slots and N NVDIMMs with labels. Build cost: callgrind counting only "
    "inside `acpi_build` at machine start (1 and 64 slots, once per "
    "binary: the count is deterministic; 256 slots under callgrind takes "
    "many minutes here), and startup wall/CPU time at 1, 64 and 256 "
    "slots.",
    "- Guest rows boot the test guest (scripts/make-guest.sh: Debian's "
    "6.1 kernel, busybox, ndctl) under TCG with scripts/vnv-guest.py; "
    "the guest runs one scenario of guest/scenarios/ and prints its "
    "results on the serial console. Boot times are host arrival times "
    "of console lines.",
    "- Label operations (labels-bench.sh): one guest per repeat on a "
    "blank 1 GiB NVDIMM with a 128 KiB label area; init-labels once, "
    "then %d runs each of `ndctl read-labels`, `check-labels` and "
    "`init-labels -f` timed by the guest's clock (mean per run), then "
    "one `create-namespace -m fsdax`." % LABEL_RUNS,
    "- Hotplug (hotplug-bench.sh): %d NVDIMMs (256 MiB, label 128 KiB) "
    "hot-added one after another over QMP (object-add + device_add); "
    "the guest polls for /dev/pmemN every 10 ms once it has the host's "
    "go-ahead; the time is from device_add's return to the arrival of "
    "the guest's line on the host. Every hot-add is one sample."
    % HOTPLUG_STEPS,
    "- Migration (migrate-bench.sh): a guest with a label-less 4 GiB "
    "NVDIMM on a sparse file migrates A -> B over a unix socket while "
    "the NVDIMM is empty; then %d MiB of random data are written to the "
    "start of the shared backend file (by the host: the same for "
    "migration, whose first pass sends every non-zero page, and 40 s "
    "faster than the TCG guest writing /dev/pmem0), then B -> C. The "
    "guest on C finishes its scenario. Total time, downtime and RAM "
    "sent are QEMU's `query-migrate` figures; max-bandwidth is raised "
    "to %d GiB/s so the socket, not the default throttle, is the limit."
    % (MIGRATION_WRITE_MIB, MIGRATION_BANDWIDTH >> 30),
    "- fsync (fsync-bench.sh): the reference has no flush hints, so its "
    "column is virtio-pmem-pci on the reference build and ours is an "
    "NVDIMM with flush-hints=on on our build, each a label-less 256 MiB "
    "share=on file with ext4 -o dax on it; the guest times 4 KiB "
    "overwrites with and without fsync.",
]


def usable(binary):
    """A binary that can at least print its version."""
    try:
        subprocess.run([binary, "--version"], check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def parse_args():
    parser = argparse.ArgumentParser(
        description="Benchmark our QEMU build against the reference.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ours", default=OURS)
    parser.add_argument("--reference", default=REFERENCE)
    parser.add_argument("--report", default=REPORT,
                        help="where to write the report (default %(default)s)")
    parser.add_argument("--only", action="append",
                        choices=("startup", "mailbox", "labels",
                                 "hotplug", "fsync", "migration", "boot",
                                 "acpi"),
                        help="run only these parts")
    return parser.parse_args()


def main():
    args = parse_args()
    args.ours = os.path.abspath(args.ours)
    args.reference = os.path.abspath(args.reference)
    for binary in (args.ours, args.reference):
        if not usable(binary):
            print("bench: cannot run %s" % binary, file=sys.stderr)
            return 2
    note = ""
    if os.path.realpath(args.ours) == os.path.realpath(args.reference):
        note = "ours IS the reference binary in this run (validation)."
    binaries = [("reference", args.reference), ("ours", args.ours)]
    # The report is rewritten after each part, so a run stopped early
    # (on a busy machine) keeps what it has: goals and the newer parts
    # first, the slowest last.
    parts = {"startup": bench_startup, "mailbox": bench_mailbox,
             "labels": bench_labels, "hotplug": bench_hotplug,
             "fsync": bench_fsync, "migration": bench_migration,
             "boot": bench_boot, "acpi": bench_acpi}
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    results = Results()
    status = 0
    workdir = tempfile.mkdtemp(prefix="vnv-bench-")
    try:
        for name, part in parts.items():
            if args.only and name not in args.only:
                continue
            begun = time.monotonic()
            try:
                part(binaries, workdir, args.repeats, results)
            except BenchError as e:
                # the other parts still run; the report names the failure
                print("bench: %s: %s" % (name, e), file=sys.stderr)
                results.failed[name] = str(e).splitlines()[0]
                status = 2
            results.seconds[name] = time.monotonic() - begun
            log("%s took %.0f s" % (name, results.seconds[name]))
            # after each part, so that a stopped run leaves a report
            pending = [n for n in parts if n not in results.seconds
                       and not (args.only and n not in args.only)]
            write_report(args.report, results, binaries, args.repeats,
                         started, time.monotonic() - t0,
                         (note + (" Written before these parts had run "
                                  "(the run was stopped): %s."
                                  % ", ".join(pending)
                                  if pending else "")).strip())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log("wrote " + os.path.relpath(args.report, ROOT))
    return status


if __name__ == "__main__":
    sys.exit(main())
