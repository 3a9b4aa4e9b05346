#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""NVDIMM health and the unsafe-shutdown count (-machine nvdimm-health=on).

On pc and q35, one labelled 256 MiB NVDIMM with a shutdown record.  Four
boots on the same backend file and record:

  full   a first start (count 0, clean): the guest (scenario "health",
         stock kernel and ndctl) reads the defaults and what the host
         sets over QMP, injects and uninjects each field, sets alarms,
         and ndctl monitor reports a spares alarm the guest trips and a
         temperature alarm the host trips; then it powers off
  kill   count 1 (the injected unsafe shutdown), clean; SIGKILL
  dirty  count 2, dirty (sysfs dirty_shutdown, flush_fail, ndctl list
         -DH); then it powers off
  clean  count 2, clean

After each, the host checks the record file.  Without the option the
guest sees no health and QMP refuses to set it.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv.backend_files import sparse_file  # noqa: E402
from vnv.guest import GuestError, nvdimm_args  # noqa: E402
from vnv.suite import MiB, Suite  # noqa: E402

SIZE = 256 * MiB
HOST_SET = {"health": "non-critical", "spares": 42, "life-used": 3,
            "media-temperature": 50, "controller-temperature": 40}


def health(g):
    """nv0's entry of query-nvdimm-health, or None."""
    for dev in g.qmp("query-nvdimm-health"):
        if dev.get("id") == "nv0":
            return dev
    return None


def record(path):
    """The shutdown record's count and state, or None."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    fields = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    return int(fields.get("count", -1)), fields.get("state")


class HealthRun:
    """The boots of one machine on one backend and record."""

    def __init__(self, suite, machine):
        self.suite = suite
        self.machine = machine
        self.backend = sparse_file(suite.path(machine + "-health.img"),
                                   SIZE)
        self.record = suite.path(machine + "-health.shutdown")
        if os.path.exists(self.record):
            os.unlink(self.record)

    def guest(self, boot, count, state, phase="boot"):
        prefix = "%s/%s" % (self.machine, boot)
        return prefix, self.suite.guest(
            prefix, "health",
            machine=self.machine + ",nvdimm=on,nvdimm-health=on",
            qemu_args=nvdimm_args("nv0", self.backend, "256M",
                                  device_props={"shutdown-record":
                                                self.record}),
            params={"count": count, "state": state, "phase": phase})

    def check_record(self, prefix, want):
        got = record(self.record)
        self.suite.check(prefix + "/host/record", got == want,
                         "record %s, want %s" % (got, want))

    def host_steps(self, prefix, g):
        """The host's half of the full scenario."""
        g.wait_for(r"VNV-READY host-set$", 120)
        g.qmp("nvdimm-set-health", id="nv0", **HOST_SET)
        g.go("host-set")
        g.wait_for(r"VNV-READY host-hot$", 180)
        h = health(g)
        self.suite.check(prefix + "/host/guest-thresholds",
                         h["spares-threshold"] == 20 and
                         h["media-temperature-threshold"] == 70 and
                         h["spares-alarm"] and
                         h["media-temperature-alarm"] and
                         h["spares-tripped"],
                         "query-nvdimm-health: %s" % h)
        g.qmp("nvdimm-set-health", id="nv0", **{"media-temperature": 80})
        self.suite.check(prefix + "/host/media-tripped",
                         health(g)["media-temperature-tripped"],
                         "query-nvdimm-health: %s" % health(g))
        g.go("host-hot")

    def boot(self, boot, count, state, end, phase="boot"):
        """One boot; END is "poweroff" or "kill".  False if it failed."""
        prefix, g = self.guest(boot, count, state, phase)
        try:
            g.start()
            h = health(g)
            self.suite.check(prefix + "/host/count",
                             (h["shutdown-count"], h["shutdown-state"])
                             == (count, state), "QEMU reports %s" % h)
            if phase == "full":
                self.host_steps(prefix, g)
            g.wait_for(r"VNV-READY end$", 180)
            self.check_record(prefix + "/running", (count, "in-use"))
            if end == "kill":
                g.proc.kill()
                g.proc.wait(10)
            else:
                g.go("end")
                g.wait_done(60)
        except GuestError as e:
            self.suite.report(prefix + "/run", False, str(e))
            g.kill()
            self.suite.collect(prefix, g)
            return False
        g.kill()
        self.suite.collect(prefix, g)
        return True

    def run(self):
        m = self.machine
        if not self.boot("full", 0, "clean", "poweroff", phase="full"):
            return
        self.check_record(m + "/full", (1, "clean"))
        if not self.boot("kill", 1, "clean", "kill"):
            return
        self.check_record(m + "/kill", (1, "in-use"))
        if not self.boot("dirty", 2, "dirty", "poweroff"):
            return
        self.check_record(m + "/dirty", (2, "clean"))
        self.boot("clean", 2, "clean", "poweroff")


def without_option(suite, machine):
    """As QEMU 10.0: no health functions, and QMP refuses to set health."""
    prefix = "%s/health-off" % machine
    backend = sparse_file(suite.path(machine + "-off.img"), SIZE)
    g = suite.guest(prefix, "health", machine=machine,
                    qemu_args=nvdimm_args("nv0", backend, "256M"),
                    params={"health": "off"})
    try:
        g.start()
        try:
            g.qmp("nvdimm-set-health", id="nv0", spares=5)
            suite.report(prefix + "/set-refused", False,
                         "nvdimm-set-health succeeded")
        except GuestError as e:
            suite.check(prefix + "/set-refused",
                        "nvdimm-health=on" in str(e), str(e))
        suite.check(prefix + "/query-empty",
                    g.qmp("query-nvdimm-health") == [],
                    "query-nvdimm-health lists devices")
        g.wait_for(r"VNV-READY end$", 120)
        g.go("end")
        g.wait_done(60)
    except GuestError as e:
        suite.report(prefix + "/run", False, str(e))
    g.kill()
    suite.collect(prefix, g)


def main():
    suite = Suite("health")
    for machine in suite.machines:
        HealthRun(suite, machine).run()
    without_option(suite, "pc")
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
