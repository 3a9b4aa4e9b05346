#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Media errors (-machine nvdimm-media-errors=on), on pc and q35.

A label-less 256 MiB NVDIMM.  The guest (scenario "media-errors", stock
kernel and ndctl) scrubs, sees and clears what the host poisons over
QMP, and injects and un-injects errors itself; at each step the host
checks QEMU's list with query-nvdimm-errors.  Without the option QEMU
refuses nvdimm-inject-error and the guest sees no root functions.
"""

import sys

from rig import GuestError, MiB, Suite, nvdimm_args, sparse_file

SIZE = 256 * MiB
SECTOR = 2048           # poisoned by the host, with a notification
BLOCK = 4096            # poisoned by the guest's ndctl
QUIET = 8192            # poisoned by the host, found by a scrub
# ndctl inject-error poisons this much of each block: the clear unit
CLEAR_UNIT = 256


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


def with_option(suite, machine):
    prefix = "%s/media-errors" % machine
    backend = sparse_file(suite.path(machine + "-media.img"), SIZE)
    g = suite.guest(prefix, "media-errors",
                    machine=machine + ",nvdimm=on,nvdimm-media-errors=on",
                    qemu_args=nvdimm_args("nv0", backend, "256M",
                                          label_size=None),
                    params={"sector": SECTOR, "block": BLOCK,
                            "quiet": QUIET})
    try:
        g.start()
        steps(suite, prefix, g)
        g.wait_done(180)
    except GuestError as e:
        suite.report(prefix + "/run", False, str(e))
    g.kill()
    suite.collect(prefix, g)


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
        with_option(suite, machine)
    without_option(suite, "pc")
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
