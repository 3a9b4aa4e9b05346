# SPDX-License-Identifier: GPL-2.0-or-later
"""Child QEMU processes: none outlives the tool that started it."""

import ctypes
import signal
import subprocess


def die_with_parent():
    """In the child (preexec_fn): SIGKILL when the runner dies, however
    it dies, so that no QEMU is left holding a backend file."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def stop(proc, timeout=30):
    """SIGTERM, and SIGKILL if PROC has not exited after TIMEOUT s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
