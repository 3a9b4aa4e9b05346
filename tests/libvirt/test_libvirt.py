#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""NVDIMMs through Debian's libvirt 9.0, the way most people run QEMU.

A session libvirtd of our own (vnv.libvirt.Daemon: everything under
build/libvirt) starts the test guest as transient domains whose
<emulator> is our build, then the reference build; on pc and q35:

stock (both builds): <memory model='nvdimm'> with a label, access='shared',
  <pmem/> and <alignsize> (nv0), and <readonly/> (nv1).  QEMU got what
  the XML says (query-memory-devices, qom-get, through virsh
  qemu-monitor-command); the guest sees nv0's region at the size the
  alignment leaves, labels it and makes an fsdax namespace with ext4
  -o dax and a file, finds nv1's region read-only, and sees nv2, added
  by virsh attach-device --live, and writes to it.  On the host, nv0's
  label area holds an index block and nv2's file the guest's bytes
  (access='shared').  A second boot finds the namespace and the file.
  On ours, query-nvdimm-persistence gives each NVDIMM its verdict.
ours (ours only): every property beyond stock: flush-hints,
  region-align, label-overwrite, require-persistence and shutdown-record
  by <qemu:override>, the machine's nvdimm-health, nvdimm-media-errors
  and nvdimm-compact-ssdt by <qemu:commandline>; the guest sees each.
refusals (ours only): a label area that holds other data, and
  require-persistence on an ordinary file: virsh create fails with our
  message, which the domain's log has too, and the file is unchanged.
virt-install (--virt-install QEMU, make check-full): a domain with
  virt-install's default devices and an NVDIMM, on the full build.

Each case prints "PASS name" or "FAIL name: why"; the last line is
"N passed, N failed".
"""

import argparse
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv import paths  # noqa: E402
from vnv.backend_files import (INDEX_SIGNATURE,  # noqa: E402
                               blank_sparse_file, file_range,
                               label_area_signature, patterned_file, sha256)
from vnv.guest import GuestError  # noqa: E402
from vnv.libvirt import (AGENT_SOCKET_ROOM, KiB, MiB,  # noqa: E402
                         Daemon, Domain, LibvirtSuite, Nvdimm,
                         VirshError, VirtInstallDomain)
from vnv.suite import info  # noqa: E402

LABEL_SIZE = 128 * KiB
ALIGN = 2 * MiB
REGION_ALIGN = 16 * MiB
# the guest's boot and scenario, under TCG on a shared machine
BOOT_TIMEOUT = 240
# what the guard and require-persistence say (hw/mem/nvdimm-labels.c,
# nvdimm-persistence.c)
GUARD_MESSAGE = "holds data but no namespace labels"
GUARD_FIX = "set label-overwrite=on to allow it"
PERSISTENCE_MESSAGE = ("has require-persistence=on, but guest writes to it"
                       " would not survive a host crash")


class Run:
    """One build under test (ours or the reference) in this suite."""

    def __init__(self, suite, daemon, label, qemu):
        self.suite = suite
        self.daemon = daemon
        self.label = label
        self.qemu = qemu
        self.ours = label == "ours"

    def file(self, machine, name):
        return self.suite.path("%s-%s-%s.img" % (self.label, machine, name))

    def domain(self, prefix, scenario, machine, **kwargs):
        name = "vnv-" + prefix.replace("/", "-")
        dom = Domain(self.daemon, name, scenario, self.qemu, machine,
                     self.suite.path("domains"), echo=self.suite.echo(),
                     **kwargs)
        self.suite.last_guest = dom
        return dom

    def check(self, case, ok, detail=""):
        return self.suite.check(case, ok, detail)


def boot(run, prefix, dom, host_steps=None):
    """Start DOM, run HOST_STEPS(dom) while the guest runs, wait for the
    guest to power off and report its cases under PREFIX.  Returns
    False when it did not start or did not finish."""
    try:
        dom.start()
    except VirshError as e:
        run.check(prefix + "/start", False, e.message)
        return False
    try:
        if host_steps:
            host_steps(dom)
        dom.wait_done(BOOT_TIMEOUT)
    except (GuestError, VirshError) as e:
        dom.kill()
        run.check(prefix + "/boot", False, str(e))
        run.suite.print_console(prefix, dom)
        return False
    run.suite.collect(prefix, dom)
    return True


def memory_devices(dom):
    """query-memory-devices as {id: data}."""
    return {d["data"]["id"]: d["data"]
            for d in dom.qmp("query-memory-devices")}


def qom(dom, path, prop):
    return dom.qmp("qom-get", path=path, property=prop)


def device_path(nv):
    return "/machine/peripheral/" + nv.alias


def backend_path(nv):
    """libvirt names the backend of device ALIAS "memALIAS"."""
    return "/objects/mem" + nv.alias


def check_devices(run, prefix, dom, nvdimms):
    """QEMU has each NVDIMM as the XML says: size, label, share, pmem,
    align, unarmed."""
    found = memory_devices(dom)
    for nv in nvdimms:
        case = "%s/qemu/%s" % (prefix, nv.name)
        data = found.get(nv.alias)
        if not run.check(case + "/present", data is not None,
                         "query-memory-devices: %s" % sorted(found)):
            continue
        run.check(case + "/size", data["size"] == nv.region_size(),
                  "size %s, want %s" % (data["size"], nv.region_size()))
        got = {"label-size": qom(dom, device_path(nv), "label-size"),
               "unarmed": qom(dom, device_path(nv), "unarmed"),
               "share": qom(dom, backend_path(nv), "share"),
               "pmem": qom(dom, backend_path(nv), "pmem"),
               "align": qom(dom, backend_path(nv), "align")}
        want = {"label-size": nv.label_size, "unarmed": nv.readonly,
                "share": nv.shared, "pmem": nv.pmem, "align": nv.align}
        run.check(case + "/properties", got == want,
                  "got %s, want %s" % (got, want))


def persistence(dom):
    """query-nvdimm-persistence as {id: report}."""
    return {d["id"]: d for d in dom.qmp("query-nvdimm-persistence")}


def check_persistence(run, prefix, dom, nv0, nv1):
    """Our query through virsh qemu-monitor-command: a pmem=on share=on
    ordinary file is not guaranteed, for want of DAX and MAP_SYNC; an
    unarmed NVDIMM is not applicable."""
    reports = persistence(dom)
    got = reports.get(nv0.alias, {})
    run.check(prefix + "/persistence/nv0",
              got.get("verdict") == "not-guaranteed" and
              sorted(got.get("reasons", [])) == ["no-map-sync", "not-dax"],
              "report %s" % got)
    got = reports.get(nv1.alias, {})
    run.check(prefix + "/persistence/nv1",
              got.get("verdict") == "not-applicable" and
              "unarmed" in got.get("reasons", []), "report %s" % got)


def hot_add(run, prefix, dom, nv):
    """virsh attach-device --live, seen by libvirt and QEMU."""
    try:
        dom.attach(nv)
    except VirshError as e:
        run.check(prefix + "/attach-device", False, e.message)
        return
    run.check(prefix + "/attach-device", True)
    live = dom.daemon.virsh("dumpxml", dom.name)
    run.check(prefix + "/attach-device/dumpxml",
              "<alias name='%s'/>" % nv.alias in live,
              "no alias %s in the live XML" % nv.alias)
    check_devices(run, prefix, dom, [nv])


def stock_features(run, machine):
    prefix = "%s/%s/stock" % (run.label, machine)
    token = uuid.uuid4().hex
    nv0 = Nvdimm("nv0", blank_sparse_file(run.file(machine, "nv0"),
                                          256 * MiB),
                  256 * MiB, label_size=LABEL_SIZE, shared=True, pmem=True,
                  align=ALIGN)
    nv1 = Nvdimm("nv1", blank_sparse_file(run.file(machine, "nv1"),
                                          128 * MiB),
                 128 * MiB, readonly=True)
    nv2 = Nvdimm("nv2", blank_sparse_file(run.file(machine, "nv2"),
                                          128 * MiB),
                 128 * MiB, shared=True)
    params = {"phase": "create", "token": token,
              "region0_size": nv0.region_size(),
              "plug_size": nv2.region_size()}

    def while_running(dom):
        dom.wait_for(r"VNV-READY plug", BOOT_TIMEOUT)
        check_devices(run, prefix, dom, [nv0, nv1])
        if run.ours:
            check_persistence(run, prefix, dom, nv0, nv1)
        hot_add(run, prefix, dom, nv2)
        dom.go("plug")

    dom = run.domain(prefix, "libvirt-stock", machine, params=params,
                     nvdimms=[nv0, nv1])
    if not boot(run, prefix, dom, while_running):
        return
    signature = label_area_signature(nv0.path, LABEL_SIZE)
    run.check(prefix + "/host/nv0-label-area", signature == INDEX_SIGNATURE,
              "bytes at size-128K: %r" % signature)
    written = ("%s-plug\n" % token).encode()
    head = file_range(nv2.path, 0, len(written))
    run.check(prefix + "/host/nv2-shared-write", head == written,
              "nv2's file starts with %r" % head)
    region = info(dom, "nv0-region")
    ns_uuid = info(dom, "%s-uuid" % region)
    if not run.check(prefix + "/namespace-made", bool(ns_uuid),
                     "the guest reported no namespace uuid"):
        return
    prefix = "%s/%s/restart" % (run.label, machine)
    params = {"phase": "verify", "token": token, "uuid": ns_uuid,
              "region0": region}
    boot(run, prefix, run.domain(prefix, "libvirt-stock", machine,
                                 params=params, nvdimms=[nv0, nv1]))


def check_ours_in_qemu(run, prefix, dom, nv0, nv1, nv2):
    """The overrides and the -machine options reached QEMU."""
    for prop in ("nvdimm-health", "nvdimm-media-errors",
                 "nvdimm-compact-ssdt"):
        value = qom(dom, "/machine", prop)
        run.check("%s/qemu/machine/%s" % (prefix, prop), value is True,
                  "qom-get: %r" % value)
    for nv in (nv0, nv1, nv2):
        got = {p: qom(dom, device_path(nv), p) for p in nv.props}
        run.check("%s/qemu/%s/override" % (prefix, nv.name),
                  got == nv.props, "got %s, want %s" % (got, nv.props))
    found = memory_devices(dom)
    for nv in (nv0, nv1):
        addr = found.get(nv.alias, {}).get("addr", -1)
        run.check("%s/qemu/%s/region-align" % (prefix, nv.name),
                  addr >= 0 and addr % REGION_ALIGN == 0,
                  "address 0x%x" % addr)
    ro = persistence(dom).get(nv2.alias, {})
    run.check(prefix + "/qemu/nv2/require-persistence",
              ro.get("verdict") == "not-applicable", "report %s" % ro)


def shutdown_state(record):
    """The state= line of a shutdown record, or None."""
    try:
        with open(record) as f:
            for line in f:
                if line.startswith("state="):
                    return line.strip().split("=", 1)[1]
    except OSError:
        return None
    return None


def ours_properties(run, machine):
    prefix = "%s/%s/ours" % (run.label, machine)
    sector = 2048
    record = run.suite.path("%s-%s-nv0.usc" % (run.label, machine))
    if os.path.exists(record):
        os.unlink(record)
    nv0 = Nvdimm("nv0", blank_sparse_file(run.file(machine, "ours-nv0"),
                                          256 * MiB),
                 256 * MiB, shared=True,
                 props={"flush-hints": True, "region-align": REGION_ALIGN,
                        "shutdown-record": record})
    # data in the label area: only label-overwrite lets labels in
    nv1_file = run.file(machine, "ours-nv1")
    if os.path.exists(nv1_file):
        os.unlink(nv1_file)
    nv1 = Nvdimm("nv1", patterned_file(nv1_file, 256 * MiB), 256 * MiB,
                 label_size=LABEL_SIZE, shared=True,
                 props={"label-overwrite": True,
                        "region-align": REGION_ALIGN})
    nv2 = Nvdimm("nv2", blank_sparse_file(run.file(machine, "ours-nv2"),
                                          64 * MiB),
                 64 * MiB, readonly=True,
                 props={"require-persistence": True})
    machine_opts = ["-machine", "nvdimm-health=on,nvdimm-media-errors=on,"
                    "nvdimm-compact-ssdt=on"]

    def flushes(dom):
        return persistence(dom).get(nv0.alias, {}).get("flushes")

    def while_running(dom):
        dom.wait_for(r"VNV-READY flush", BOOT_TIMEOUT)
        before = flushes(dom)
        dom.go("flush")
        dom.wait_for(r"VNV-READY poisoned", BOOT_TIMEOUT)
        after = flushes(dom)
        run.check(prefix + "/qemu/nv0/deep-flush-flushes",
                  None not in (before, after) and after > before,
                  "flushes before the guest wrote deep_flush: %s, after:"
                  " %s" % (before, after))
        check_ours_in_qemu(run, prefix, dom, nv0, nv1, nv2)
        state = shutdown_state(record)
        run.check(prefix + "/host/shutdown-record-in-use",
                  state == "in-use", "state=%s" % state)
        dom.qmp("nvdimm-inject-error", id=nv0.alias, offset=sector * 512,
                length=512)
        dom.go("poisoned")

    dom = run.domain(prefix, "libvirt-ours", machine,
                     params={"sector": sector}, nvdimms=[nv0, nv1, nv2],
                     qemu_args=machine_opts)
    if not boot(run, prefix, dom, while_running):
        return
    state = shutdown_state(record)
    run.check(prefix + "/host/shutdown-record-clean", state == "clean",
              "state=%s after the guest powered off" % state)
    signature = label_area_signature(nv1.path, LABEL_SIZE)
    run.check(prefix + "/host/nv1-labels-over-data",
              signature == INDEX_SIGNATURE,
              "bytes at size-128K: %r" % signature)


def expect_refusal(run, case, dom, backend, needles):
    """virsh create of DOM fails with NEEDLES in libvirt's message and
    in the domain's QEMU log, and BACKEND's bytes are unchanged."""
    before = sha256(backend)
    try:
        dom.start()
    except VirshError as e:
        run.check(case + "/refused", all(n in e.message for n in needles),
                  "virsh said: %s" % e.message)
        log = dom.stderr_text()
        run.check(case + "/in-domain-log", all(n in log for n in needles),
                  "the log ends: %s" % log[-400:])
    else:
        dom.kill()
        run.check(case + "/refused", False, "the domain started")
    run.check(case + "/backend-unchanged", sha256(backend) == before,
              "%s changed" % backend)


def refusals(run, machine):
    prefix = "%s/%s/refused" % (run.label, machine)
    guarded = run.file(machine, "guarded")
    if os.path.exists(guarded):
        os.unlink(guarded)
    nv0 = Nvdimm("nv0", patterned_file(guarded, 64 * MiB), 64 * MiB,
                  label_size=LABEL_SIZE, shared=True)
    expect_refusal(run, prefix + "/label-guard",
                   run.domain(prefix + "/guard", "smoke", machine,
                              nvdimms=[nv0]),
                   guarded, [GUARD_MESSAGE, GUARD_FIX])
    plain = blank_sparse_file(run.file(machine, "plain"), 64 * MiB)
    nv0 = Nvdimm("nv0", plain, 64 * MiB, shared=True,
                 props={"require-persistence": True})
    expect_refusal(run, prefix + "/require-persistence",
                   run.domain(prefix + "/persist", "smoke", machine,
                              nvdimms=[nv0]),
                   plain, [PERSISTENCE_MESSAGE])


def pci_qdev_ids(buses):
    """The qdev ids in a query-pci reply, behind bridges too (q35 puts
    each device behind a PCIe root port)."""
    for bus in buses:
        for dev in bus["devices"]:
            yield dev.get("qdev_id")
            bridge = dev.get("pci_bridge")
            if bridge:
                yield from pci_qdev_ids([bridge])


def full_build_devices(run, prefix, dom):
    """What virt-install's defaults asked of the full build is there:
    its graphics (SPICE or VNC) enabled, user networking, the qcow2 disk
    and the 9p share on virtio."""
    live = dom.daemon.virsh("dumpxml", dom.name)
    graphics = "spice" if "<graphics type='spice'" in live else "vnc"
    enabled = dom.qmp("query-" + graphics).get("enabled")
    run.check("%s/qemu/graphics-%s" % (prefix, graphics), enabled is True,
              "query-%s: enabled=%s" % (graphics, enabled))
    network = dom.hmp("info network")
    run.check(prefix + "/qemu/user-network", "type=user" in network,
              "info network: %s" % network)
    formats = [b.get("inserted", {}).get("image", {}).get("format")
               for b in dom.qmp("query-block")]
    run.check(prefix + "/qemu/qcow2-disk", "qcow2" in formats,
              "query-block formats: %s" % formats)
    qdev_ids = set(pci_qdev_ids(dom.qmp("query-pci")))
    for alias in ("net0", "fs0", "virtio-disk0"):
        run.check("%s/qemu/pci/%s" % (prefix, alias), alias in qdev_ids,
                  "query-pci qdev ids: %s" % sorted(filter(None, qdev_ids)))


def virt_install_defaults(run, prefix_dir):
    """virt-install with its defaults, an NVDIMM, a qcow2 disk and a 9p
    share, on the full build installed under PREFIX_DIR."""
    prefix = "virt-install"
    token = uuid.uuid4().hex
    disk = run.suite.path("disk.qcow2")
    done = subprocess.run([os.path.join(prefix_dir, "bin", "qemu-img"),
                           "create", "-q", "-f", "qcow2", disk, "1G"],
                          capture_output=True, text=True)
    if not run.check(prefix + "/qemu-img", done.returncode == 0,
                     done.stderr.strip()):
        return
    share = run.suite.path("share")
    os.makedirs(share, exist_ok=True)
    nv0 = Nvdimm("nv0", blank_sparse_file(run.file("q35", "vi-nv0"),
                                          256 * MiB),
                 256 * MiB, shared=True)
    dom = VirtInstallDomain(run.daemon, "vnv-virt-install",
                            "libvirt-defaults", run.suite.path("domains"),
                            disk, share, nv0, echo=run.suite.echo(),
                            params={"region_size": nv0.size,
                                    "token": token})
    run.suite.last_guest = dom

    def while_running(dom):
        dom.wait_for(r"VNV-READY checked", BOOT_TIMEOUT)
        full_build_devices(run, prefix, dom)
        dom.go("checked")

    booted = boot(run, prefix, dom, while_running)
    dom.undefine()
    if booted:
        written = ("%s\n" % token).encode()
        head = file_range(nv0.path, 0, len(written))
        run.check(prefix + "/host/nv0-shared-write", head == written,
                  "nv0's file starts with %r" % head)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", default=paths.OURS,
                    help="our build (default build/qemu/...)")
    ap.add_argument("--reference", default=paths.REFERENCE,
                    help="the reference build")
    ap.add_argument("--only", choices=("ours", "reference"),
                    help="run against one build only")
    ap.add_argument("--virt-install", metavar="PREFIX",
                    help="only the virt-install case, on the full build"
                    " installed under PREFIX (build-qemu.sh install)")
    ap.add_argument("--verbose", action="store_true",
                    help="copy the guest consoles to stderr")
    return ap.parse_args()


def builds(args):
    runs = [("ours", args.qemu), ("reference", args.reference)]
    return [(label, qemu) for label, qemu in runs
            if args.only in (None, label)]


def run_builds(args, suite, daemon):
    machines = os.environ.get("VNV_GUEST_MACHINES", "pc q35").split()
    for label, qemu in builds(args):
        run = Run(suite, daemon, label, qemu)
        for machine in machines:
            stock_features(run, machine)
            if run.ours:
                ours_properties(run, machine)
                refusals(run, machine)


def main():
    args = parse_args()
    build = os.path.join(paths.TOP, "build")
    # the virt-install case has a daemon and a scratch folder of its own,
    # so that check-full can run it beside the rest
    tag = "-vi" if args.virt_install else ""
    suite = LibvirtSuite("libvirt", os.path.join(build, "libvirt-tests" + tag),
                         args.verbose)
    if args.virt_install:
        prefix_dir = os.path.abspath(args.virt_install)
        daemon = Daemon(os.path.join(build, "libvirt" + tag),
                        bindirs=[os.path.join(prefix_dir, "bin")],
                        socket_room=AGENT_SOCKET_ROOM)
    else:
        daemon = Daemon(os.path.join(build, "libvirt"))
    try:
        daemon.start()
    except (GuestError, VirshError) as e:
        suite.report("daemon", False, str(e))
        return 1
    try:
        if args.virt_install:
            virt_install_defaults(Run(suite, daemon, "full", None),
                                  prefix_dir)
        else:
            run_builds(args, suite, daemon)
    finally:
        daemon.stop()
    print("%d passed, %d failed" % (suite.passed, suite.failed))
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
