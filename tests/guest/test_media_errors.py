#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Media errors (-machine nvdimm-media-errors=on), on pc and q35.

A label-less 256 MiB NVDIMM.  The guest (scenario "media-errors", stock
kernel and ndctl) scrubs, sees and clears what the host poisons over
QMP, and injects and un-injects errors itself; at each step the host
checks QEMU's list with query-nvdimm-errors.  In a second boot
(scenario "machine-check") the host poisons without telling the guest,
and the guest's loads meet the errors: machine checks, from which the
guest kernel recovers, each reported to the host as a MEMORY_FAILURE
event.  Without the option QEMU refuses nvdimm-inject-error and the
guest sees no root functions.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv.backend_files import sparse_file  # noqa: E402
from vnv.guest import GuestError, nvdimm_args  # noqa: E402
from vnv.suite import MiB, Suite  # noqa: E402

SIZE = 256 * MiB
SECTOR = 2048           # poisoned by the host, with a notification
BLOCK = 4096            # poisoned by the guest's ndctl
QUIET = 8192            # poisoned by the host, found by a scrub
# ndctl inject-error poisons this much of each block: the clear unit
CLEAR_UNIT = 256
MCE_SECTOR = 16384      # poisoned quietly by the host, met by a load
# A guest CPU on which Linux recovers from machine checks: Intel, with
# ERMS for the kernel's machine-check-safe copy (qemu64 is an AMD CPU
# without ERMS)
MCE_CPU = "qemu64,vendor=GenuineIntel,+erms"
# What QEMU reports of each machine check it raised
MEMORY_FAILURE = {"recipient": "guest", "action": "inject",
                  "flags": {"action-required": True, "recursive": False}}


def errors(g):
    """nv0's poisoned ranges as (offset, length) pairs."""
    for dev in g.qmp("query-nvdimm-errors"):
        if dev.get("id") == "nv0":
            return [(e["offset"], e["length"]) for e in dev["errors"]]
    return None


def inject(g, sector, notify=True):
    g.qmp("nvdimm-inject-error", id="nv0", offset=sector * 512, length=512,
          notify=notify)


def step(suite, prefix, g, tag, case, want):
    """At the guest's READY TAG, QEMU must list WANT; then GO TAG."""
    g.wait_for(r"VNV-READY %s$" % tag, 120)
    got = errors(g)
    suite.check("%s/host/%s" % (prefix, case), got == want,
                "QEMU lists %s, not %s" % (got, want))
    g.go(tag)


def steps(suite, prefix, g):
    """The host's half of media-errors.sh."""
    g.wait_for(r"VNV-READY inject$", 120)
    inject(g, SECTOR)
    suite.check(prefix + "/host/injected", errors(g) == [(SECTOR * 512, 512)],
                "QEMU lists %s" % errors(g))
    g.go("inject")
    step(suite, prefix, g, "cleared", "cleared-by-write", [])
    step(suite, prefix, g, "ndctl-injected", "ndctl-injected",
         [(BLOCK * 512, CLEAR_UNIT)])
    step(suite, prefix, g, "ndctl-uninjected", "ndctl-uninjected", [])
    g.wait_for(r"VNV-READY quiet$", 120)
    inject(g, QUIET, notify=False)
    g.go("quiet")


def boot_with_option(suite, machine, case, scenario, host_steps, params,
                     cpu=()):
    """Boot SCENARIO with the option on a fresh NVDIMM, HOST_STEPS on QMP."""
    prefix = "%s/%s" % (machine, case)
    backend = sparse_file(suite.path("%s-%s.img" % (machine, case)), SIZE)
    g = suite.guest(prefix, scenario,
                    machine=machine + ",nvdimm=on,nvdimm-media-errors=on",
                    qemu_args=list(cpu) + nvdimm_args("nv0", backend, "256M",
                                                      label_size=None),
                    params=params)
    try:
        g.start()
        host_steps(suite, prefix, g)
        g.wait_done(180)
    except GuestError as e:
        suite.report(prefix + "/run", False, str(e))
    g.kill()
    suite.collect(prefix, g)


def memory_failures(g):
    """The MEMORY_FAILURE events so far (events come with QMP replies)."""
    g.qmp("query-status")
    return [e["data"] for e in g.events("MEMORY_FAILURE")]


def machine_check_steps(suite, prefix, g):
    """The host's half of machine-check.sh."""
    g.wait_for(r"VNV-READY kernel$", 120)
    inject(g, MCE_SECTOR, notify=False)
    g.go("kernel")
    step(suite, prefix, g, "kernel-cleared", "cleared-by-write", [])
    failures = memory_failures(g)
    suite.check(prefix + "/host/kernel-memory-failure",
                failures == [MEMORY_FAILURE], "events: %s" % failures)
    offset = int(g.wait_for(r"VNV-INFO poison-offset=(\d+)$", 120).group(1))
    g.wait_for(r"VNV-READY user$", 120)
    g.qmp("nvdimm-inject-error", id="nv0", offset=offset, length=512,
          notify=False)
    g.go("user")
    g.wait_for(r"VNV-RESULT user/sigbus ", 120)
    failures = memory_failures(g)
    suite.check(prefix + "/host/user-memory-failure",
                failures == [MEMORY_FAILURE] * 2, "events: %s" % failures)


def without_option(suite, machine):
    """Stock behaviour: no root functions, and QMP refuses to inject."""
    prefix = "%s/media-errors-off" % machine
    backend = sparse_file(suite.path(machine + "-off.img"), SIZE)
    g = suite.guest(prefix, "detect-root", machine=machine,
                    qemu_args=nvdimm_args("nv0", backend, "256M",
                                          label_size=None))
    try:
        g.start()
        try:
            inject(g, SECTOR)
            suite.report(prefix + "/inject-refused", False,
                         "nvdimm-inject-error succeeded")
        except Exception as e:      # QMPError: the refusal expected
            suite.check(prefix + "/inject-refused",
                        "nvdimm-media-errors=on" in str(e), str(e))
        g.wait_done(120)
    except GuestError as e:
        suite.report(prefix + "/run", False, str(e))
    g.kill()
    suite.collect(prefix, g)


def main():
    suite = Suite("media-errors")
    for machine in suite.machines:
        boot_with_option(suite, machine, "media-errors", "media-errors",
                         steps, {"sector": SECTOR, "block": BLOCK,
                                 "quiet": QUIET})
        boot_with_option(suite, machine, "machine-check", "machine-check",
                         machine_check_steps, {"sector": MCE_SECTOR},
                         cpu=["-cpu", MCE_CPU])
    without_option(suite, "pc")
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
