#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot the vNVDIMM test guest under TCG and talk to it.

The guest (scripts/make-guest.sh) runs one scenario, named on the kernel
command line, and prints machine-readable lines on its serial console:

    VNV-RESULT <case> PASS|FAIL <detail>
    VNV-READY <tag>
    VNV-DONE

The host answers "GO <tag>" on a second serial port (Guest.go), and can
drive QEMU over QMP while the guest runs (hotplug, migration).

    from vnv_guest import Guest, nvdimm_args    # tests/guest/rig.py
    g = Guest(scenario="detect", qemu_args=nvdimm_args("nv0", path, "1G"))
    g.start()
    g.wait_for(r"VNV-READY hotplug", timeout=60)
    g.qmp("device_add", driver="nvdimm", id="nv1", memdev="m1")
    g.go("hotplug")
    g.wait_done()
    print(g.results())

Every wait has a timeout; every QEMU started here is killed at exit.
Command line: vnv-guest.py --scenario NAME [--qemu BIN] [-- QEMU ARGS]
"""

import argparse
import atexit
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_QEMU = os.path.join(TOP, "build", "qemu", "qemu-system-x86_64")
REFERENCE_QEMU = os.path.join(TOP, "build", "reference",
                              "qemu-system-x86_64")
GUEST_DIR = os.path.join(TOP, "build", "guest")

RESULT_RE = re.compile(r"VNV-RESULT (\S+) (PASS|FAIL) ?(.*)")
KERNEL_ARGS = "console=ttyS0 quiet loglevel=3 panic=-1"
BOOT_TIMEOUT = 120
QMP_TIMEOUT = 30

_live_guests = []


class GuestError(Exception):
    """QEMU failed, exited early, or the guest did not answer in time."""


class QMPError(GuestError):
    """A QMP command returned an error; .desc holds QEMU's message."""

    def __init__(self, cmd, error):
        self.desc = error.get("desc", str(error))
        super().__init__("%s: %s" % (cmd, self.desc))


def nvdimm_args(ident, path, size, label_size="128K", share=True,
                backend_props=None, device_props=None):
    """-object/-device arguments of one file-backed NVDIMM.

    The backend is "mem-<ident>"; extra properties are dicts.
    """
    backend = {"id": "mem-" + ident, "mem-path": path, "size": size,
               "share": "on" if share else "off"}
    backend.update(backend_props or {})
    device = {"id": ident, "memdev": "mem-" + ident}
    if label_size:
        device["label-size"] = label_size
    device.update(device_props or {})
    return ["-object", _props("memory-backend-file", backend),
            "-device", _props("nvdimm", device)]


def _props(kind, props):
    return ",".join([kind] + ["%s=%s" % kv for kv in props.items()])


def sparse_file(path, size):
    """Create (or keep) a sparse backend file of SIZE bytes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path) or os.path.getsize(path) != size:
        with open(path, "wb") as f:
            f.truncate(size)
    return path


class Console:
    """Lines of the guest's serial console, read by a thread."""

    def __init__(self, stream, logpath, echo=None):
        self.lines = []
        self.times = []
        self._cond = threading.Condition()
        self._closed = False
        self._log = open(logpath, "w", encoding="utf-8")
        self._echo = echo
        self._thread = threading.Thread(target=self._read, args=(stream,),
                                        daemon=True)
        self._thread.start()

    def _read(self, stream):
        partial = b""
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            partial += chunk
            *complete, partial = partial.split(b"\n")
            self._add(complete)
        self._add([partial] if partial else [])
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._log.close()

    def _add(self, raw_lines):
        if not raw_lines:
            return
        text = [r.decode("utf-8", "replace").rstrip("\r") for r in raw_lines]
        for line in text:
            self._log.write(line + "\n")
            if self._echo:
                self._echo(line)
        self._log.flush()
        now = time.monotonic()
        with self._cond:
            self.lines.extend(text)
            self.times.extend([now] * len(text))
            self._cond.notify_all()

    def wait_for(self, regex, start, deadline, alive):
        """Index and match of the first line >= START matching REGEX."""
        pattern = re.compile(regex)
        i = start
        with self._cond:
            while True:
                while i < len(self.lines):
                    m = pattern.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = deadline - time.monotonic()
                if self._closed or left <= 0 or not alive():
                    return None, None
                self._cond.wait(min(left, 0.5))


class QMP:
    """A minimal QMP client on a unix socket."""

    def __init__(self, path, deadline, alive):
        self.events = []
        self._sock = _connect_unix(path, deadline, alive)
        self._sock.settimeout(QMP_TIMEOUT)
        self._file = self._sock.makefile("rwb")
        self._receive()                                  # greeting
        self.command("qmp_capabilities")

    def _receive(self):
        try:
            line = self._file.readline()
        except OSError as e:            # a timeout, or QEMU went away
            raise GuestError("QMP: %s" % (e or type(e).__name__)) from e
        if not line:
            raise GuestError("QMP connection closed")
        return json.loads(line)

    def command(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        try:
            self._file.write(json.dumps(msg).encode() + b"\n")
            self._file.flush()
        except OSError as e:
            raise GuestError("QMP %s: %s" % (cmd, e)) from e
        while True:
            reply = self._receive()
            if "event" in reply:
                self.events.append(reply)
            elif "error" in reply:
                raise QMPError(cmd, reply["error"])
            elif "return" in reply:
                return reply["return"]

    def close(self):
        self._sock.close()


def _connect_unix(path, deadline, alive=lambda: True):
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline or not alive():
                raise GuestError("cannot connect to %s" % path)
            time.sleep(0.05)


class Guest:
    """One QEMU running the test guest.

    qemu:      the binary (default build/qemu/qemu-system-x86_64)
    scenario:  guest/scenarios/<scenario>.sh, run by the guest's init
    params:    dict of vnv.KEY=VALUE kernel arguments (VNV_KEY in the guest)
    machine:   "pc" or "q35" (nvdimm=on is added) or a full -machine value
    memory:    the -m value (slots and maxmem leave room for NVDIMMs)
    qemu_args: extra QEMU arguments (NVDIMM configuration: nvdimm_args)
    incoming:  a migration URI: start with -incoming and no kernel
    initrd:    another initramfs than the test guest's (rig.py's
               initrd_with_qemu)
    """

    def __init__(self, scenario="smoke", qemu=None, params=None,
                 machine="pc", memory="512M,slots=4,maxmem=8G",
                 qemu_args=(), incoming=None, name="guest", echo=None,
                 logdir=None, initrd=None):
        self.qemu = qemu or os.environ.get("VNV_QEMU") or DEFAULT_QEMU
        self.scenario = scenario
        self.params = dict(params or {})
        self.machine = machine if "," in machine else machine + ",nvdimm=on"
        self.memory = memory
        self.qemu_args = list(qemu_args)
        self.incoming = incoming
        self.initrd = initrd or os.path.join(GUEST_DIR, "initrd.img")
        self.name = name
        self.echo = echo
        self.logdir = logdir or os.path.join(TOP, "build", "guest-logs")
        self.tmpdir = tempfile.mkdtemp(prefix="vnv-%s-" % name)
        self.qmp_path = os.path.join(self.tmpdir, "qmp.sock")
        self.ctl_path = os.path.join(self.tmpdir, "ctl.sock")
        self.proc = None
        self.console = None
        self._qmp = None
        self._ctl = None
        self._cursor = 0
        self.started_at = None

    # -- life cycle -------------------------------------------------------

    def command_line(self):
        append = " ".join([KERNEL_ARGS, "vnv.scenario=" + self.scenario] +
                          ["vnv.%s=%s" % kv for kv in self.params.items()])
        args = [self.qemu, "-accel", "tcg", "-machine", self.machine,
                "-m", self.memory, "-smp", "1", "-nodefaults",
                "-display", "none", "-no-reboot",
                "-chardev", "stdio,id=con,signal=off",
                "-serial", "chardev:con",
                "-chardev", "socket,id=ctl,path=%s,server=on,wait=off"
                % self.ctl_path,
                "-serial", "chardev:ctl",
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                "-kernel", os.path.join(GUEST_DIR, "vmlinuz"),
                "-initrd", self.initrd,
                "-append", append]
        args += self._firmware_args()
        if self.incoming:
            args += ["-incoming", self.incoming]
        return args + self.qemu_args

    def _firmware_args(self):
        # A build tree's binary finds its firmware in qemu-bundle/ itself
        dirs = firmware_dirs(self.qemu)
        if dirs[0].endswith(BUNDLE_FIRMWARE):
            return []
        return [arg for d in dirs for arg in ("-L", d)]

    def start(self):
        if not os.access(self.qemu, os.X_OK):
            raise GuestError("no QEMU binary at %s" % self.qemu)
        os.makedirs(self.logdir, exist_ok=True)
        log = os.path.join(self.logdir, self.name)
        self.stderr = open(log + ".stderr", "w")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.command_line(),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=self.stderr,
                                     start_new_session=True,
                                     preexec_fn=_die_with_parent)
        _live_guests.append(self)
        self.console = Console(self.proc.stdout, log + ".console", self.echo)
        try:
            self._qmp = QMP(self.qmp_path, time.monotonic() + 10,
                            self.alive)
        except (GuestError, OSError):
            # OSError: QEMU exited while we were connecting
            self.kill()
            raise GuestError("%s: QEMU did not start: %s"
                             % (self.name, self.stderr_text()))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """Stop QEMU (politely, then not) and release everything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        for conn in (self._qmp, self._ctl):
            if conn is not None:
                conn.close()
        self._qmp = self._ctl = None
        if self in _live_guests:
            _live_guests.remove(self)
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def wait_exit(self, timeout=30):
        """Wait for QEMU to exit by itself (the guest powers off)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise GuestError("%s: QEMU still running after %ss"
                             % (self.name, timeout))
        self.kill()
        return rc

    # -- console ----------------------------------------------------------

    def wait_for(self, regex, timeout=60, since=None):
        """Wait for a console line matching REGEX; return the match.

        The search starts after the previous wait_for's line, or at line
        SINCE (0 = from the beginning of the boot).
        """
        start = self._cursor if since is None else since
        i, m = self.console.wait_for(regex, start,
                                     time.monotonic() + timeout, self.alive)
        if m is None:
            why = "exited" if not self.alive() else "timed out (%ss)" % timeout
            raise GuestError("%s: %s waiting for /%s/; last lines:\n%s%s"
                             % (self.name, why, regex, self.tail(),
                                self._stderr_note()))
        self._cursor = i + 1
        return m

    def wait_done(self, timeout=BOOT_TIMEOUT):
        """Wait for VNV-DONE and for QEMU to power off."""
        self.wait_for(r"VNV-DONE", timeout)
        return self.wait_exit(30)

    def go(self, tag, timeout=30):
        """Release a guest blocked in wait_host TAG.

        GO is repeated until the guest acknowledges it, since the serial
        port drops what arrives before the guest opens it.
        """
        if self._ctl is None:
            self._ctl = _connect_unix(self.ctl_path, time.monotonic() + 5,
                                      self.alive)
        deadline = time.monotonic() + timeout
        ack = r"VNV-GOT %s$" % re.escape(tag)
        while time.monotonic() < deadline:
            try:
                self._ctl.sendall(("GO %s\n" % tag).encode())
            except OSError as e:        # QEMU closed the serial socket
                raise GuestError("%s: GO %s: %s:\n%s"
                                 % (self.name, tag, e, self.tail())) from e
            i, m = self.console.wait_for(ack, self._cursor,
                                         time.monotonic() + 1, self.alive)
            if m is not None:
                return
            if not self.alive():
                break
        raise GuestError("%s: the guest did not take GO %s:\n%s"
                         % (self.name, tag, self.tail()))

    def results(self):
        """[(case, "PASS"|"FAIL", detail)] the guest reported so far."""
        out = []
        for line in self.lines():
            m = RESULT_RE.search(line)
            if m:
                out.append((m.group(1), m.group(2), m.group(3).strip()))
        return out

    def lines(self):
        """The console lines so far (none before start)."""
        return list(self.console.lines) if self.console else []

    def tail(self, n=15):
        return "\n".join(self.lines()[-n:])

    def stderr_text(self):
        self.stderr.flush()
        with open(self.stderr.name) as f:
            return f.read().strip()

    def _stderr_note(self):
        err = self.stderr_text()
        return "\nQEMU stderr: " + err if err else ""

    def boot_seconds(self):
        """Seconds from start() to the guest's first VNV-BOOTED line."""
        cursor = self._cursor
        self.wait_for(r"VNV-BOOTED", BOOT_TIMEOUT, since=0)
        seen = self.console.times[self._cursor - 1]
        self._cursor = max(cursor, self._cursor)
        return seen - self.started_at

    # -- monitor ----------------------------------------------------------

    def qmp(self, cmd, **args):
        """Run a QMP command; return its "return" value or raise QMPError."""
        if self._qmp is None:
            raise GuestError("%s: QEMU is not running" % self.name)
        return self._qmp.command(cmd, **args)

    def hmp(self, cmdline):
        """Run a human monitor command line; return what it printed."""
        return self.qmp("human-monitor-command", **{"command-line": cmdline})

    def events(self, name=None):
        """The QMP events so far; they arrive with the replies to commands."""
        evs = self._qmp.events if self._qmp else []
        return [e for e in evs if name is None or e["event"] == name]

    def migrate(self, uri, timeout=120):
        """Migrate to URI and wait until it completes."""
        self.qmp("migrate", uri=uri)
        self.wait_migrated(timeout)

    def wait_migrated(self, timeout=120):
        """Wait until the outgoing migration completes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.qmp("query-migrate").get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise GuestError("%s: migration %s" % (self.name, status))
            time.sleep(0.2)
        raise GuestError("%s: migration timed out" % self.name)


BUNDLE_FIRMWARE = os.path.join("qemu-bundle", "usr", "local", "share",
                               "qemu")


def firmware_dirs(qemu):
    """Where QEMU binary QEMU finds its firmware, first choice first.

    A build tree's binary has it in qemu-bundle/.  When that is missing:
    the tree's pc-bios/ links and option ROMs, Debian's seabios and
    ipxe-qemu.
    """
    bindir = os.path.dirname(os.path.realpath(qemu))
    dirs = [os.path.join(bindir, BUNDLE_FIRMWARE),
            os.path.join(bindir, "pc-bios"),
            os.path.join(bindir, "pc-bios", "optionrom"),
            "/usr/share/seabios", "/usr/lib/ipxe/qemu"]
    if not os.path.exists(os.path.join(dirs[0], "bios-256k.bin")):
        dirs.pop(0)
    return [d for d in dirs if os.path.isdir(d)]


def _die_with_parent():
    """In the child: get SIGKILL when the runner dies, however it dies."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _kill_all():
    for g in list(_live_guests):
        g.kill()


def _exit_on_signal(signum, frame):
    sys.exit(128 + signum)


atexit.register(_kill_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _exit_on_signal)


def show_line(line):
    """Print a console line for people: commands, output, results."""
    kinds = {"VNV-CMD ": "  guest", "VNV-OUT ": "    ",
             "VNV-INFO ": "  * ", "VNV-BOOTED ": "[guest] booted Linux "}
    for marker, prefix in kinds.items():
        if marker in line:
            print(prefix + line.split(marker, 1)[1], flush=True)
            return
    m = RESULT_RE.search(line)
    if m:
        print("  [%s] %s %s" % (m.group(2), m.group(1), m.group(3)),
              flush=True)
    elif "Kernel panic" in line or "BUG:" in line:
        print("[guest] " + line, flush=True)


def run_cli(opts):
    qemu = REFERENCE_QEMU if opts.reference else opts.qemu
    params = dict(p.split("=", 1) for p in opts.param)
    g = Guest(opts.scenario, qemu=qemu, params=params, machine=opts.machine,
              qemu_args=opts.qemu_args, name="cli",
              echo=show_line if opts.show else print)
    print("[vnv-guest] starting %s (TCG; the boot takes about 10 s)"
          % os.path.relpath(g.qemu), flush=True)
    g.start()
    booted = g.boot_seconds()
    g.wait_done(opts.timeout)
    print("[vnv-guest] init started %.1f s after QEMU, powered off after "
          "%.1f s" % (booted, time.monotonic() - g.started_at), flush=True)
    results = g.results()
    failed = [r for r in results if r[1] == "FAIL"]
    print("%d passed, %d failed" % (len(results) - len(failed), len(failed)))
    return 1 if failed or not results else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", default=None, help="QEMU binary")
    ap.add_argument("--reference", action="store_true",
                    help="use build/reference/qemu-system-x86_64")
    ap.add_argument("--scenario", default="smoke")
    ap.add_argument("--machine", default="pc")
    ap.add_argument("--param", action="append", default=[],
                    metavar="KEY=VALUE", help="vnv.KEY=VALUE for the guest")
    ap.add_argument("--timeout", type=int, default=BOOT_TIMEOUT)
    ap.add_argument("--show", action="store_true",
                    help="print only commands, output and results")
    ap.add_argument("qemu_args", nargs="*", help="extra QEMU arguments")
    opts = ap.parse_args()
    try:
        return run_cli(opts)
    except GuestError as e:
        print("vnv-guest: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
