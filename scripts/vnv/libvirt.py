# SPDX-License-Identifier: GPL-2.0-or-later
"""The test guest as a libvirt domain, under a session libvirtd of ours.

Daemon starts Debian's libvirtd in session mode (qemu:///session) with
every file it makes (configuration, sockets, logs, capability cache,
domain state) under one folder of build/, and stops it again.  Domain
is the test guest of vnv.guest (same console protocol, same GO port),
defined by domain XML and started and driven through virsh; Nvdimm is
one <memory model='nvdimm'> of it.

    daemon = Daemon(os.path.join(paths.TOP, "build", "libvirt"))
    daemon.start()
    nv0 = Nvdimm("nv0", path, 256 * MiB, label_size=128 * KiB, shared=True)
    dom = Domain(daemon, "vnv-pc", "detect", qemu, "pc", workdir,
                 nvdimms=[nv0])
    dom.start()                       # virsh create
    dom.qmp("query-memory-devices")   # virsh qemu-monitor-command
    dom.wait_done()
    daemon.stop()

Session mode as root: libvirtd is the system daemon whenever its
effective uid is 0 (src/remote/remote_daemon.c: privileged = geteuid()
== 0), with /etc/libvirt, /run/libvirt and only qemu:///system.  So it
runs in a user namespace that maps the unprivileged user "nobody" to
root (unshare --map-user): its euid is then not 0, it is a session
daemon and takes its paths from $HOME and $XDG_*, yet on the host its
files belong to root as the rest of build/.  libvirtd needs a passwd
entry for its uid, hence "nobody", which every Debian system has.

The namespaces are also a PID namespace (with /proc mounted for it)
whose init is tini, with libvirtd as its child: when libvirtd exits,
however it exits, tini exits and the kernel kills every QEMU of the
namespace; unshare dies with the suite (PR_SET_PDEATHSIG) and takes
the namespace with it (--kill-child).  Why tini and not libvirtd as PID
1: libvirt daemonizes QEMU, so a QEMU that exits is a child of PID 1;
libvirtd never reaps such children, keeps them zombies and waits in
vain for them to go ("Failed to terminate process N with SIGKILL:
Device or resource busy").  tini reaps them and passes SIGTERM on.

Why virsh and not the libvirt Python binding: Debian's python3-libvirt
is built for /usr/bin/python3, not for the interpreter that runs the
suites; and virsh's messages are what a user sees.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from vnv import process
from vnv.guest import Console, Guest, GuestError
from vnv.suite import Suite

KiB = 1024
MiB = 1024 * KiB
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
ET.register_namespace("qemu", QEMU_NS)

# libvirtd answers on its socket this long after it starts, at most
DAEMON_START_TIMEOUT = 30
# A virsh call that takes longer than this has hung
VIRSH_TIMEOUT = 120
# libvirtd stops its QEMUs and exits on SIGTERM within this time
DAEMON_STOP_TIMEOUT = 20
# The serial file reaches the console through tail, which looks at it
# every TAIL_INTERVAL s: lines are at most this late
TAIL_INTERVAL = 0.2
CONSOLE_LAG = 1.0

LIBVIRTD_CONF = """\
# Written by vnv.libvirt: a session libvirtd of the libvirt suite
log_outputs = "3:file:{log}"
"""
# QEMU's stderr straight into the domain's log file, without virtlogd:
# no second daemon to start and stop
QEMU_CONF = """\
stdio_handler = "file"
"""


# A unix socket's path has at most 107 bytes (sun_path).  Under a
# daemon's root, libvirt puts QEMU's monitor in
# ROOT/config/libvirt/qemu/lib/domain-ID-NAME/monitor.sock, NAME cut to
# 20 characters, and a domain with a guest agent channel (virt-install's
# default) has a longer one.
SOCKET_PATH_MAX = 107
MONITOR_SOCKET_ROOM = len("/config/libvirt/qemu/lib/domain-999-") + 20 + \
    len("/monitor.sock")
AGENT_SOCKET_ROOM = len("/config/libvirt/qemu/channel/target/domain-999-") + \
    20 + len("/org.qemu.guest_agent.0")


def short_path(path, room):
    """PATH, or, when a socket ROOM characters below it would not fit in
    sun_path (a checkout deep in the file system), a short symlink to it
    in /tmp, named after it, so that runs reuse it: the files stay
    under PATH."""
    if len(path) + room <= SOCKET_PATH_MAX:
        return path
    link = "/tmp/vnv-%s" % hashlib.sha256(path.encode()).hexdigest()[:12]
    if os.path.realpath(link) != os.path.realpath(path):
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(path, link)
    return link


def fresh_folder(path):
    """An empty folder at PATH (its content removed, not a link to it)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


class VirshError(Exception):
    """virsh failed; .message is what it printed on stderr."""

    def __init__(self, args, message):
        self.message = message
        super().__init__("virsh %s: %s" % (" ".join(args), message))


class MonitorReplyError(GuestError):
    """QEMU answered a monitor command with an error; .desc is its text."""

    def __init__(self, cmd, desc):
        self.desc = desc
        super().__init__("%s: %s" % (cmd, desc))


class Daemon:
    """A session libvirtd whose files are all under ROOT."""

    def __init__(self, root, bindirs=(), socket_room=MONITOR_SOCKET_ROOM):
        self.real_root = root
        os.makedirs(root, exist_ok=True)
        root = self.root = short_path(root, socket_room)
        # libvirtd's PATH: BINDIRS first, where it finds the default
        # emulator (qemu-system-x86_64) of a domain that names none
        self.path = ":".join(list(bindirs) +
                             ["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        self.env = {
            "HOME": os.path.join(root, "home"),
            "XDG_CONFIG_HOME": os.path.join(root, "config"),
            "XDG_CACHE_HOME": os.path.join(root, "cache"),
            "XDG_DATA_HOME": os.path.join(root, "data"),
            "XDG_RUNTIME_DIR": os.path.join(root, "run"),
        }
        self.socket = os.path.join(self.env["XDG_RUNTIME_DIR"], "libvirt",
                                   "libvirt-sock")
        self.uri = "qemu+unix:///session?socket=" + self.socket
        self.log = os.path.join(root, "libvirtd.log")
        self.proc = None

    def qemu_log(self, domain):
        """The domain's QEMU log: libvirt's command line, QEMU's stderr."""
        return os.path.join(self.env["XDG_CACHE_HOME"], "libvirt", "qemu",
                            "log", domain + ".log")

    def _prepare(self):
        fresh_folder(self.real_root)
        for d in self.env.values():
            os.makedirs(d)
        os.chmod(self.env["XDG_RUNTIME_DIR"], 0o700)
        conf = os.path.join(self.env["XDG_CONFIG_HOME"], "libvirt")
        os.makedirs(conf)
        with open(os.path.join(conf, "libvirtd.conf"), "w") as f:
            f.write(LIBVIRTD_CONF.format(log=self.log))
        with open(os.path.join(conf, "qemu.conf"), "w") as f:
            f.write(QEMU_CONF)
        return os.path.join(conf, "libvirtd.conf")

    def command_line(self, conf):
        env = ["%s=%s" % kv for kv in sorted(self.env.items())]
        return (["unshare", "--user", "--map-user=nobody",
                 "--map-group=nogroup", "--pid", "--fork", "--kill-child",
                 "--mount", "--mount-proc", "--", "tini", "--",
                 "env", "-i", "PATH=" + self.path] + env +
                ["libvirtd", "--config", conf])

    def start(self):
        conf = self._prepare()
        out = open(os.path.join(self.root, "libvirtd.stdout"), "w")
        self.proc = subprocess.Popen(self.command_line(conf),
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=process.die_with_parent)
        out.close()
        deadline = time.monotonic() + DAEMON_START_TIMEOUT
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise GuestError("libvirtd did not start: %s"
                                 % self._log_tail())
            time.sleep(0.1)
        self.virsh("uri")
        return self

    def _log_tail(self, lines=10):
        text = ""
        for name in (os.path.join(self.root, "libvirtd.stdout"), self.log):
            if os.path.exists(name):
                with open(name) as f:
                    text += "".join(f.readlines()[-lines:])
        return text.strip()

    def _init_pid(self):
        """The namespace's init (tini) on the host: unshare's child."""
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        try:
            with open(path) as f:
                children = f.read().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def stop(self):
        """SIGTERM libvirtd (through tini), SIGKILL all if it lingers;
        its QEMUs die with the PID namespace."""
        if self.proc is None or self.proc.poll() is not None:
            return
        # unshare ignores SIGTERM while it waits for its child
        pid = self._init_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        try:
            self.proc.wait(DAEMON_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def run_virsh(self, *args, timeout=VIRSH_TIMEOUT):
        """virsh ARGS against this daemon: the CompletedProcess."""
        return subprocess.run(["virsh", "-q", "-c", self.uri] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)

    def virsh(self, *args, timeout=VIRSH_TIMEOUT):
        """virsh ARGS; its stdout, or VirshError with its message."""
        done = self.run_virsh(*args, timeout=timeout)
        if done.returncode != 0:
            raise VirshError(args, done.stderr.strip())
        return done.stdout

    def monitor(self, domain, cmd, arguments=None):
        """A QMP command through virsh qemu-monitor-command: its return
        value, or MonitorReplyError with QEMU's error text."""
        request = {"execute": cmd}
        if arguments:
            request["arguments"] = arguments
        try:
            reply = json.loads(self.virsh("qemu-monitor-command", domain,
                                          json.dumps(request)))
        except VirshError as e:
            raise GuestError(str(e)) from e
        if "error" in reply:
            raise MonitorReplyError(cmd, reply["error"].get("desc", ""))
        return reply.get("return")


def _size(elem, nbytes):
    elem.set("unit", "KiB")
    elem.text = str(nbytes // KiB)
    return elem


# <qemu:property type=...> of a Python value
def _override_type(value):
    if isinstance(value, bool):
        return "bool", "true" if value else "false"
    if isinstance(value, int):
        return "unsigned", str(value)
    return "string", str(value)


@dataclass
class Nvdimm:
    """One <memory model='nvdimm'>; PROPS are device properties that
    libvirt has no XML for (ours beyond stock), set by <qemu:override>."""

    name: str
    path: str
    size: int
    label_size: int = 0
    shared: bool = False
    pmem: bool = False
    align: int = 0
    readonly: bool = False
    props: dict = field(default_factory=dict)

    @property
    def alias(self):
        """The user alias, which libvirt gives QEMU as the device's id."""
        return "ua-" + self.name

    def element(self):
        mem = ET.Element("memory", model="nvdimm")
        if self.shared:
            mem.set("access", "shared")
        source = ET.SubElement(mem, "source")
        ET.SubElement(source, "path").text = self.path
        if self.align:
            _size(ET.SubElement(source, "alignsize"), self.align)
        if self.pmem:
            ET.SubElement(source, "pmem")
        target = ET.SubElement(mem, "target")
        _size(ET.SubElement(target, "size"), self.size)
        ET.SubElement(target, "node").text = "0"
        if self.label_size:
            label = ET.SubElement(target, "label")
            _size(ET.SubElement(label, "size"), self.label_size)
        if self.readonly:
            ET.SubElement(target, "readonly")
        ET.SubElement(mem, "alias", name=self.alias)
        return mem

    def region_size(self):
        """The size of the guest's region, which query-memory-devices
        reports too: the backend less the label area, rounded down to
        the backend's alignment (the page size by default)."""
        align = self.align or 4 * KiB
        return (self.size - self.label_size) // align * align

    def xml(self):
        """The device alone, as virsh attach-device takes it."""
        return ET.tostring(self.element(), encoding="unicode")

    def override(self):
        """<qemu:device alias=...> with PROPS, or None without any."""
        if not self.props:
            return None
        dev = ET.Element("{%s}device" % QEMU_NS, alias=self.alias)
        frontend = ET.SubElement(dev, "{%s}frontend" % QEMU_NS)
        for name, value in self.props.items():
            kind, text = _override_type(value)
            ET.SubElement(frontend, "{%s}property" % QEMU_NS, name=name,
                          type=kind, value=text)
        return dev


@dataclass
class DomainSpec:
    """What a test domain is made of (Domain.xml turns it into XML)."""

    name: str
    emulator: str
    machine: str
    kernel: str
    initrd: str
    cmdline: str
    serial: str
    control: str
    nvdimms: list = field(default_factory=list)
    qemu_args: list = field(default_factory=list)
    memory: int = 512 * MiB


def _devices(spec, domain):
    devices = ET.SubElement(domain, "devices")
    ET.SubElement(devices, "emulator").text = spec.emulator
    ET.SubElement(devices, "controller", type="usb", model="none")
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=spec.serial)
    ET.SubElement(serial, "target", port="0")
    # the GO port: QEMU listens, Guest.go connects
    control = ET.SubElement(devices, "serial", type="unix")
    ET.SubElement(control, "source", mode="bind", path=spec.control)
    ET.SubElement(control, "target", port="1")
    ET.SubElement(devices, "memballoon", model="none")
    for nv in spec.nvdimms:
        devices.append(nv.element())


def _qemu_namespace(spec, domain):
    overrides = [d for d in (nv.override() for nv in spec.nvdimms) if d]
    if overrides:
        override = ET.SubElement(domain, "{%s}override" % QEMU_NS)
        override.extend(overrides)
    if spec.qemu_args:
        cmdline = ET.SubElement(domain, "{%s}commandline" % QEMU_NS)
        for arg in spec.qemu_args:
            ET.SubElement(cmdline, "{%s}arg" % QEMU_NS, value=arg)


def domain_xml(spec):
    """The domain XML of SPEC: TCG, ACPI (the NFIT needs it), one NUMA
    node (libvirt wants one with memory devices), the guest's kernel,
    the console in a file, the GO port, the NVDIMMs, and for what
    libvirt has no XML, <qemu:override> and <qemu:commandline>."""
    domain = ET.Element("domain", type="qemu")
    ET.SubElement(domain, "name").text = spec.name
    _size(ET.SubElement(domain, "memory"), spec.memory)
    max_memory = _size(ET.SubElement(domain, "maxMemory"), 8 * 1024 * MiB)
    max_memory.set("slots", "4")
    ET.SubElement(domain, "vcpu").text = "1"
    os_ = ET.SubElement(domain, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine=spec.machine).text = \
        "hvm"
    ET.SubElement(os_, "kernel").text = spec.kernel
    ET.SubElement(os_, "initrd").text = spec.initrd
    ET.SubElement(os_, "cmdline").text = spec.cmdline
    ET.SubElement(ET.SubElement(domain, "features"), "acpi")
    numa = ET.SubElement(ET.SubElement(domain, "cpu"), "numa")
    ET.SubElement(numa, "cell", id="0", cpus="0", unit="KiB",
                  memory=str(spec.memory // KiB))
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        ET.SubElement(domain, event).text = "destroy"
    _devices(spec, domain)
    _qemu_namespace(spec, domain)
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode")


class Domain(Guest):
    """The test guest as a transient libvirt domain (virsh create).

    Guest's console protocol, waits, GO port and results; libvirt starts
    and stops QEMU, the console comes from a <serial type='file'> (read
    as it grows), and qmp() goes through virsh qemu-monitor-command.
    """

    def __init__(self, daemon, name, scenario, qemu, machine, workdir,
                 params=None, nvdimms=(), qemu_args=(), echo=None):
        super().__init__(scenario, qemu=qemu, params=params, name=name,
                         echo=echo, logdir=workdir)
        self.daemon = daemon
        self.workdir = workdir
        self.spec = DomainSpec(
            name=name, emulator=self.qemu, machine=machine,
            kernel=os.path.join(os.path.dirname(self.initrd), "vmlinuz"),
            initrd=self.initrd, cmdline=self.kernel_cmdline(),
            serial=os.path.join(workdir, name + ".serial"),
            control=os.path.join(workdir, name + ".ctl"),
            nvdimms=list(nvdimms), qemu_args=list(qemu_args))
        self.ctl_path = self.spec.control
        self._tail = None
        self._stopped_at = None
        # Guest's scratch folder, for the sockets of a QEMU it starts: a
        # domain's are in WORKDIR
        os.rmdir(self.tmpdir)

    def xml(self):
        return domain_xml(self.spec)

    def start(self):
        """Start the domain; VirshError (libvirt's message) if refused."""
        os.makedirs(self.workdir, exist_ok=True)
        self._watch_console()
        self.started_at = time.monotonic()
        try:
            self.launch()
        except VirshError:
            self.started_at = None
            self._stop_tail()
            raise
        return self

    def launch(self):
        """virsh create of the domain's XML."""
        xml_path = os.path.join(self.workdir, self.name + ".xml")
        with open(xml_path, "w") as f:
            f.write(self.xml())
        self.daemon.virsh("create", xml_path)

    def _watch_console(self):
        """Read the serial file as QEMU writes it (tail -F), from a new
        empty file, into Guest's Console."""
        for stale in (self.spec.serial, self.spec.control):
            if os.path.exists(stale):
                os.unlink(stale)
        open(self.spec.serial, "w").close()
        self._tail = subprocess.Popen(
            ["tail", "-F", "-s", str(TAIL_INTERVAL), "-n", "+1",
             self.spec.serial],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=process.die_with_parent)
        self.console = Console(self._tail.stdout,
                               os.path.join(self.workdir,
                                            self.name + ".console"),
                               self.echo)

    def state(self):
        """virsh domstate: "running", "paused"...; None when it is gone
        (a transient domain that shut off)."""
        done = self.daemon.run_virsh("domstate", self.name)
        return done.stdout.strip() if done.returncode == 0 else None

    def running(self):
        return self.started_at is not None and \
            self.state() in ("running", "paused", "in shutdown")

    def alive(self):
        """Running, or stopped less than CONSOLE_LAG ago: the console
        reaches us through tail, so the last lines a guest prints before
        it powers off may still be on their way when QEMU is gone."""
        if self.running():
            self._stopped_at = None
            return True
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        return time.monotonic() - self._stopped_at < CONSOLE_LAG

    def _stop_tail(self):
        if self._tail is not None:
            process.stop(self._tail, 3)
            self._tail = None

    def kill(self):
        """virsh destroy, if it still runs, and release everything."""
        if self.running():
            self.daemon.run_virsh("destroy", self.name)
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        # the console may still have lines on their way from the file,
        # unless alive() has waited for them already
        if self._tail is not None and self._stopped_at is None:
            time.sleep(CONSOLE_LAG)
        self._stop_tail()

    def wait_exit(self, timeout=30):
        """Wait until the domain has shut off (the guest powers off)."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                self.kill()
                raise GuestError("%s: still running after %ss"
                                 % (self.name, timeout))
            time.sleep(0.2)
        self.kill()
        return 0

    def stderr_text(self):
        """The end of the domain's QEMU log (QEMU's stderr is in it)."""
        path = self.daemon.qemu_log(self.name)
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-15:]).strip()

    def qmp(self, cmd, **args):
        if not self.running():
            raise GuestError("%s: the domain is not running" % self.name)
        return self.daemon.monitor(self.name, cmd, args)

    def attach(self, nvdimm):
        """virsh attach-device --live of one NVDIMM."""
        path = os.path.join(self.workdir, "%s-%s.xml"
                            % (self.name, nvdimm.name))
        with open(path, "w") as f:
            f.write(nvdimm.xml())
        return self.daemon.virsh("attach-device", self.name, path, "--live")


class VirtInstallDomain(Domain):
    """The test guest as virt-install defines and starts it: the default
    devices of virt-install for OSINFO (graphics, network, video, USB,
    channels, RNG...) around what the command line names: a qcow2 DISK,
    a 9p SHARE, one NVDIMM, the console in a pty with a log file, the GO
    port.  The emulator is libvirt's default, the first
    qemu-system-x86_64 in libvirtd's PATH (Daemon's BINDIRS)."""

    def __init__(self, daemon, name, scenario, workdir, disk, share,
                 nvdimm, params=None, osinfo="linux2022", echo=None):
        super().__init__(daemon, name, scenario, None, "q35", workdir,
                         params=params, nvdimms=[nvdimm], echo=echo)
        self.disk = disk
        self.share = share
        self.osinfo = osinfo

    def command_line(self):
        spec = self.spec
        nv = spec.nvdimms[0]
        return [
            "virt-install", "--connect", self.daemon.uri,
            "--name", self.name, "--virt-type", "qemu",
            "--osinfo", self.osinfo, "--vcpus", "1",
            "--memory", "memory=%d,maxMemory=8192,maxMemory.slots=4"
            % (spec.memory // MiB),
            "--cpu", "numa.cell0.cpus=0,numa.cell0.memory=%d"
            % (spec.memory // KiB),
            "--import", "--disk", "path=%s,driver.type=qcow2" % self.disk,
            "--boot", "kernel=%s,initrd=%s,kernel_args=%s"
            % (spec.kernel, spec.initrd, spec.cmdline),
            "--memdev", "nvdimm,source.path=%s,target.size=%d,"
            "target.node=0,access=shared,alias.name=%s"
            % (nv.path, nv.size // MiB, nv.alias),
            "--filesystem", "source=%s,target=vnvshare" % self.share,
            "--serial", "pty,log.file=%s" % spec.serial,
            "--serial", "unix,source.path=%s,source.mode=bind"
            % spec.control,
            "--noautoconsole"]

    def launch(self):
        """virt-install (its log goes to the daemon's $HOME)."""
        env = dict(os.environ, **self.daemon.env)
        done = subprocess.run(self.command_line(), env=env,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=VIRSH_TIMEOUT)
        if done.returncode != 0:
            raise VirshError(["virt-install"],
                             (done.stderr or done.stdout).strip())

    def undefine(self):
        self.daemon.run_virsh("undefine", self.name)


class LibvirtSuite(Suite):
    """Suite's verdicts and consoles for a suite of libvirt domains.

    Not Suite.__init__: that parses a guest suite's command line (one
    --qemu), and this suite has its own.
    """

    # a domain's GO port is WORKDIR/domains/NAME.ctl
    CONTROL_SOCKET_ROOM = len("/domains/") + 40 + len(".ctl")

    def __init__(self, name, workdir, verbose=False):
        self.name = name
        self.qemu = None
        self.verbose = verbose
        fresh_folder(workdir)
        self.workdir = short_path(workdir, self.CONTROL_SOCKET_ROOM)
        self.passed = 0
        self.failed = 0
        self.last_guest = None
        sys.excepthook = self._report_crash

    def echo(self):
        """Guest.echo: the console to stderr with --verbose."""
        if not self.verbose:
            return None
        return lambda line: print(line, file=sys.stderr)
