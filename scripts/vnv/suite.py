# SPDX-License-Identifier: GPL-2.0-or-later
"""What the guest test suites share (tests/guest/test_*.py).

A suite boots the test guest a few times (vnv.guest), each boot running
one guest scenario that reports several cases, and adds host-side
checks.  It prints one line per case, "PASS name" or "FAIL name: why",
which scripts/run-guest-tests.sh counts.

    suite = Suite("labels")        # parses --qemu
    g = suite.boot("pc/labels", "labels-create", qemu_args=..., params=...)
    suite.check("pc/labels/host-index", ok, "why it failed")
    sys.exit(suite.finish())
"""

import argparse
import os
import shutil
import subprocess
import sys
import traceback

from vnv import firmware, paths
from vnv.guest import Guest, GuestError

MiB = 1024 * 1024
GiB = 1024 * MiB
LABEL_SIZE = 128 * 1024

# Console lines printed after a guest's failed case
CONSOLE_TAIL = 40

# What QEMU needs to start a pc machine, from its firmware folder
QEMU_FIRMWARE = ("bios-256k.bin", "kvmvapic.bin")


def _host_libraries(binary):
    """The shared libraries BINARY loads on this host, the loader too."""
    out = subprocess.run(["ldd", binary], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        path = line.split("=>")[-1].split()[0] if line.split() else ""
        if path.startswith("/"):
            yield path


def _write_cpio(root, out):
    """Append ROOT's files to OUT as a newc cpio archive (owned by root)."""
    names = subprocess.run(["find", ".", "-mindepth", "1"], cwd=root,
                           check=True, capture_output=True).stdout
    names = b"\n".join(sorted(names.split())) + b"\n"
    subprocess.run(["cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet"],
                   cwd=root, input=names, stdout=out, check=True)


def initrd_with_qemu(suite, qemu):
    """The test guest's initramfs with QEMU added under /opt/qemu.

    QEMU (stripped), the host libraries it loads, with their loader, and
    the firmware a pc machine needs, so that a scenario can run it in
    the guest: both run Debian bookworm.  The kernel unpacks the two
    archives one after the other.
    """
    root = suite.path("qemu-overlay")
    opt = os.path.join(root, "opt", "qemu")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(opt, "lib"))
    os.makedirs(os.path.join(opt, "share"))
    subprocess.run(["strip", "-o", os.path.join(opt, os.path.basename(qemu)),
                    qemu], check=True)
    for lib in _host_libraries(qemu):
        shutil.copy(lib, os.path.join(opt, "lib", os.path.basename(lib)))
    dirs = firmware.firmware_dirs(qemu)
    for name in QEMU_FIRMWARE:
        found = [d for d in dirs if os.path.exists(os.path.join(d, name))]
        shutil.copy(os.path.join(found[0], name), os.path.join(opt, "share"))
    initrd = suite.path("initrd-qemu.img")
    with open(initrd, "wb") as out:
        with open(os.path.join(paths.GUEST_DIR, "initrd.img"), "rb") as base:
            shutil.copyfileobj(base, out)
        out.flush()
        _write_cpio(root, out)
    return initrd


class Suite:
    """One guest test suite: its QEMU, its scratch folder, its verdicts."""

    def __init__(self, name):
        ap = argparse.ArgumentParser(description="guest suite " + name)
        ap.add_argument("--qemu", default=None,
                        help="QEMU binary (default build/qemu/...)")
        ap.add_argument("--verbose", action="store_true",
                        help="copy the guest console to stderr")
        opts = ap.parse_args()
        self.name = name
        self.qemu = opts.qemu
        self.verbose = opts.verbose
        # VNV_GUEST_TESTS_DIR: another scratch root, for a second run of
        # the same suite at the same time (check.sh's asan jobs)
        root = os.environ.get("VNV_GUEST_TESTS_DIR",
                              os.path.join(paths.TOP, "build", "guest-tests"))
        self.workdir = os.path.join(root, name)
        # VNV_GUEST_MACHINES: the machines of the suites that run on
        # several ("pc q35" when unset)
        self.machines = os.environ.get("VNV_GUEST_MACHINES",
                                       "pc q35").split()
        shutil.rmtree(self.workdir, ignore_errors=True)
        os.makedirs(self.workdir)
        self.passed = 0
        self.failed = 0
        self.last_guest = None
        sys.excepthook = self._report_crash

    def _report_crash(self, exc_type, exc, tb):
        """Report an exception no case caught as a failed case.

        Its traceback and the console of the last guest go to stdout:
        check.sh repeats them, and a CI run keeps nothing else.
        """
        self.report(self.name + "/exception", False,
                    "".join(traceback.format_exception_only(exc_type, exc))
                    .strip())
        for text in traceback.format_exception(exc_type, exc, tb):
            for line in text.splitlines():
                print("# traceback %s| %s" % (self.name, line), flush=True)
        if self.last_guest is not None:
            self.print_console(self.name + "/last-guest", self.last_guest)

    def path(self, filename):
        return os.path.join(self.workdir, filename)

    def qemu_binary(self):
        """The QEMU this suite tests (--qemu, or the rig's default)."""
        return paths.qemu_under_test(self.qemu)

    def report(self, case, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s" % case, flush=True)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (case, detail or "failed"), flush=True)

    def check(self, case, ok, detail=""):
        self.report(case, ok, detail)
        return ok

    def guest(self, prefix, scenario, qemu=None, **kwargs):
        """A Guest of this suite's QEMU (or QEMU), logging under PREFIX."""
        echo = (lambda line: print(line, file=sys.stderr)) \
            if self.verbose else None
        self.last_guest = Guest(scenario, qemu=qemu or self.qemu, echo=echo,
                                name=prefix.replace("/", "-"),
                                logdir=os.path.join(self.workdir, "logs"),
                                **kwargs)
        return self.last_guest

    def boot(self, prefix, scenario, timeout=120, **kwargs):
        """Boot, run SCENARIO to the end, report its cases under PREFIX.

        Returns the finished Guest (for its console), or None when the
        boot itself failed (reported as PREFIX/boot).
        """
        g = self.guest(prefix, scenario, **kwargs)
        try:
            g.start()
            g.wait_done(timeout)
        except GuestError as e:
            g.kill()
            self.report(prefix + "/boot", False, str(e))
            return None
        self.collect(prefix, g)
        return g

    def drive(self, prefix, g, steps):
        """Start G, run STEPS(G), the host's half (QMP, GO lines), and
        report the guest's cases under PREFIX; a GuestError on the way
        fails PREFIX/run.  Returns whether the steps all ran."""
        ran = True
        try:
            g.start()
            steps(g)
        except GuestError as e:
            self.report(prefix + "/run", False, str(e))
            g.kill()
            ran = False
        self.collect(prefix, g)
        return ran

    def collect(self, prefix, g):
        """Report the cases a guest printed; a guest with none fails."""
        results = g.results()
        for case, verdict, detail in results:
            self.report("%s/%s" % (prefix, case), verdict == "PASS", detail)
        if not results and g.started_at is not None:
            self.report(prefix + "/results", False,
                        "the guest reported no case:\n" + g.tail())
        elif any(verdict != "PASS" for _, verdict, _ in results):
            self.print_console(prefix, g)

    @staticmethod
    def print_console(prefix, g, lines=CONSOLE_TAIL):
        """Copy the end of G's console to the suite's output.

        A failed case's detail is one line; what the guest printed around
        it (ndctl's messages, a kernel warning) is often the cause, and a
        CI run's scratch folder does not outlive it.  check.sh repeats
        these lines under its list of failures.
        """
        for line in g.lines()[-lines:]:
            print("# console %s| %s" % (prefix, line.rstrip()), flush=True)

    def finish(self):
        return 1 if self.failed else 0


def info(g, key):
    """Value of the guest's last "VNV-INFO key=value" line, or None."""
    value = None
    for line in g.lines():
        marker = "VNV-INFO %s=" % key
        if marker in line:
            value = line.split(marker, 1)[1].strip()
    return value
