# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot the vNVDIMM test guest under TCG and talk to it.

The guest (scripts/make-guest.sh) runs one scenario, named on the kernel
command line, and prints machine-readable lines on its serial console:

    VNV-RESULT <case> PASS|FAIL <detail>
    VNV-READY <tag>
    VNV-DONE

The host answers "GO <tag>" on a second serial port (Guest.go), and can
drive QEMU over QMP while the guest runs (hotplug, migration).

    from vnv.guest import Guest, nvdimm_args
    g = Guest(scenario="detect", qemu_args=nvdimm_args("nv0", path, "1G"))
    g.start()
    g.wait_for(r"VNV-READY hotplug", timeout=60)
    g.qmp("device_add", driver="nvdimm", id="nv1", memdev="m1")
    g.go("hotplug")
    g.wait_done()
    print(g.results())

Every wait has a timeout; every QEMU started here is killed at exit.

Why not the base's qemu.machine.QEMUMachine: it builds its own command
line around ours (its -display, -vga, console chardev and monitor) and
reads the console through a socket of its own.  The guests here need the
console on stdio, read by a thread that stamps each line with its
arrival time (bench measures boots by it), a second serial port for GO,
and QEMU killed with the runner (PR_SET_PDEATHSIG).  QMP is the base's
client all the same (vnv.qmp).
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from vnv import firmware, machines, paths, process, qmp

RESULT_RE = re.compile(r"VNV-RESULT (\S+) (PASS|FAIL) ?(.*)")
# Each machine adds its console and control port (vnv.machines)
KERNEL_ARGS = "quiet loglevel=3 panic=-1"
BOOT_TIMEOUT = 120
QMP_TIMEOUT = 30

_live_guests = []


class GuestError(Exception):
    """QEMU failed, exited early, or the guest did not answer in time."""


class QMPError(GuestError):
    """A QMP command returned an error; .desc holds QEMU's message."""

    def __init__(self, error):
        self.desc = error.desc
        super().__init__(str(error))


def nvdimm_args(ident, path, size, label_size="128K", share=True,
                backend_props=None, device_props=None, machine="pc"):
    """-object/-device arguments of one file-backed NVDIMM.

    The backend is "mem-<ident>"; extra properties are dicts.  The
    device is MACHINE's NVDIMM (spapr-nvdimm on pseries, with the uuid
    it needs: vnv.machines).
    """
    backend = {"id": "mem-" + ident, "mem-path": path, "size": size,
               "share": "on" if share else "off"}
    backend.update(backend_props or {})
    kind = machines.get(machine)
    device = {"id": ident, "memdev": "mem-" + ident}
    if label_size:
        device["label-size"] = label_size
    device.update(kind.device_props(path))
    device.update(device_props or {})
    return ["-object", _props("memory-backend-file", backend),
            "-device", _props(kind.device, device)]


def _props(kind, props):
    return ",".join([kind] + ["%s=%s" % kv for kv in props.items()])


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


class Guest:
    """One QEMU running the test guest.

    qemu:      the binary (default build/qemu/qemu-system-x86_64); it
               names the build, whose binary of the machine's target
               runs (vnv.paths.qemu_under_test)
    scenario:  guest/scenarios/<scenario>.sh, run by the guest's init
    params:    dict of vnv.KEY=VALUE kernel arguments (VNV_KEY in the guest)
    machine:   "pc", "q35", "virt" or "pseries" (nvdimm=on is added) or a
               full -machine value; vnv.machines has what each needs
    memory:    the -m value (slots and maxmem leave room for NVDIMMs)
    qemu_args: extra QEMU arguments (NVDIMM configuration: nvdimm_args)
    incoming:  a migration URI: start with -incoming and no kernel
    initrd:    another initramfs than the test guest's (vnv.suite's
               initrd_with_qemu)
    """

    def __init__(self, scenario="smoke", qemu=None, params=None,
                 machine="pc", memory="512M,slots=4,maxmem=8G",
                 qemu_args=(), incoming=None, name="guest", echo=None,
                 logdir=None, initrd=None):
        self.kind = machines.get(machine)
        self.qemu = paths.qemu_under_test(qemu, self.kind.target)
        self.scenario = scenario
        self.params = dict(params or {})
        self.machine = machine if "," in machine else machine + ",nvdimm=on"
        self.memory = memory
        self.qemu_args = list(qemu_args)
        self.incoming = incoming
        self.initrd = initrd or os.path.join(self.kind.guest_dir,
                                             "initrd.img")
        self.name = name
        self.echo = echo
        self.logdir = logdir or os.path.join(paths.TOP, "build",
                                             "guest-logs")
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

    def kernel_cmdline(self):
        """The guest kernel's arguments: console, scenario and params."""
        return " ".join([self.kind.kernel_args(), KERNEL_ARGS,
                         "vnv.scenario=" + self.scenario] +
                        ["vnv.%s=%s" % kv for kv in self.params.items()])

    def command_line(self):
        args = [self.qemu, "-accel", "tcg", "-machine", self.machine,
                "-m", self.memory, "-smp", "1", "-nodefaults",
                "-display", "none", "-no-reboot",
                "-chardev", "stdio,id=con,signal=off",
                "-serial", "chardev:con",
                "-chardev", "socket,id=ctl,path=%s,server=on,wait=off"
                % self.ctl_path,
                "-serial", "chardev:ctl",
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                "-kernel", os.path.join(self.kind.guest_dir, "vmlinuz"),
                "-initrd", self.initrd,
                "-append", self.kernel_cmdline()]
        args += self.kind.extra + firmware.firmware_args(self.qemu)
        if self.incoming:
            args += ["-incoming", self.incoming]
        return args + self.qemu_args

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
                                     preexec_fn=process.die_with_parent)
        _live_guests.append(self)
        self.console = Console(self.proc.stdout, log + ".console", self.echo)
        try:
            self._qmp = qmp.Monitor(self.qmp_path, time.monotonic() + 10,
                                    self.alive, timeout=QMP_TIMEOUT)
        except (qmp.MonitorError, OSError):
            # OSError: QEMU exited while we were connecting
            self.kill()
            raise GuestError("%s: QEMU did not start: %s"
                             % (self.name, self.stderr_text()))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """Stop QEMU (politely, then not) and release everything."""
        if self.proc is not None:
            process.stop(self.proc, 3)
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
            try:
                self._ctl = qmp.connect_unix(self.ctl_path,
                                             time.monotonic() + 5,
                                             self.alive)
            except qmp.MonitorError as e:
                raise GuestError("%s: %s" % (self.name, e)) from e
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
        try:
            return self._qmp.command(cmd, **args)
        except qmp.CommandError as e:
            raise QMPError(e) from e
        except qmp.MonitorError as e:
            raise GuestError("%s: %s" % (self.name, e)) from e

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
        """Wait until this QEMU's migration completes: on a source, all is
        sent; on a destination, all is loaded and the VM has started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.qmp("query-migrate").get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise GuestError("%s: migration %s" % (self.name, status))
            time.sleep(0.2)
        raise GuestError("%s: migration timed out" % self.name)


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


def run_scenario(scenario, qemu=None, machine="pc", params=None,
                 qemu_args=(), timeout=BOOT_TIMEOUT, show=False):
    """Boot SCENARIO once, print its console, return an exit status."""
    g = Guest(scenario, qemu=qemu, params=params, machine=machine,
              qemu_args=qemu_args, name="cli",
              echo=show_line if show else print)
    print("[vnv-guest] starting %s (TCG; the boot takes about 10 s)"
          % os.path.relpath(g.qemu), flush=True)
    g.start()
    booted = g.boot_seconds()
    g.wait_done(timeout)
    print("[vnv-guest] init started %.1f s after QEMU, powered off after "
          "%.1f s" % (booted, time.monotonic() - g.started_at), flush=True)
    results = g.results()
    failed = [r for r in results if r[1] == "FAIL"]
    print("%d passed, %d failed" % (len(results) - len(failed), len(failed)))
    return 1 if failed or not results else 0
