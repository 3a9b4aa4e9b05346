# SPDX-License-Identifier: GPL-2.0-or-later
"""Startup: exec until QMP answers (wall, CPU, RSS), and the main
thread's instructions until it enters the main loop."""

import os
import subprocess
import time

from vnv import firmware, process, qmp
from vnv.bench import BenchError
from vnv.bench.callgrind import callgrind, callgrind_summaries, remove_dumps
from vnv.bench.machine import machine_args, qtest_argv
from vnv.qtest import Qtest

STARTUP_TIMEOUT = 60
# A start to QMP takes 30-150 ms of CPU, which other work on this machine
# moves by 10-40%: the timed startup rows take at least this many repeats.
STARTUP_REPEATS = 9


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


def qmp_session(sock_path, proc):
    """QMP with PROC as soon as it listens (polled every millisecond:
    the poll is part of the time measured)."""
    try:
        return qmp.Monitor(sock_path, time.monotonic() + STARTUP_TIMEOUT,
                           lambda: proc.poll() is None, poll=0.001)
    except qmp.MonitorError as e:
        if proc.poll() is None:
            raise BenchError("QMP: %s" % e) from e
        raise BenchError("QEMU exited with %d before QMP came up: %s"
                         % (proc.returncode, proc.stderr.read()[-500:]))


def startup_once(binary, workdir, slots, count, label):
    """Seconds and CPU seconds from exec until QMP answers, and RSS."""
    sock_path = os.path.join(workdir, "qmp.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    argv = [binary] + firmware.firmware_args(binary) + \
        ["-accel", "tcg", "-S"] + \
        machine_args(workdir, slots, count, label) + \
        ["-qmp", "unix:%s,server=on,wait=off" % sock_path]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        monitor = qmp_session(sock_path, proc)     # qmp_capabilities done
        elapsed = time.monotonic() - start
        cpu = task_cpu_ns(proc.pid) / 1e9
        rss = rss_kib(proc.pid)
        monitor.command("quit")
        monitor.close()
        proc.wait(timeout=30)
    finally:
        process.stop(proc)
    return {"wall_ms": elapsed * 1e3, "cpu_ms": cpu * 1e3,
            "rss_mib": rss / 1024.0}, argv


def startup_insns_once(binary, workdir, count, label):
    """Instructions of QEMU's main thread from exec until it enters its
    main loop: the whole machine setup, without the noise of CPU time.
    Only the main thread is counted (--separate-threads): the RCU and
    other helper threads run for however long the setup happens to take,
    the main thread's count repeats to a few parts per million."""
    out = os.path.join(workdir, "cg-startup.out")
    wrapper = callgrind(out, "--separate-threads=yes",
                        "--dump-before=qemu_main_loop", "--dump-instr=no")
    qt = Qtest(qtest_argv(binary, workdir, count, count, label, wrapper))
    try:
        qt.batch(["endianness"])        # answered from the main loop
    finally:
        qt.close()
    insns = callgrind_summaries(out + ".1-01")
    remove_dumps(out)
    if not insns:
        raise BenchError("no callgrind dump at qemu_main_loop")
    return {"insns": insns[0]}, qt.argv
