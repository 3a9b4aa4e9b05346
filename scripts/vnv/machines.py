# SPDX-License-Identifier: GPL-2.0-or-later
"""The machines the test guest boots on, and what each one needs.

Every machine that offers an NVDIMM: pc and q35 (x86_64), arm virt
(aarch64) and pseries (ppc64).  A machine names its QEMU target, the
guest built for it (scripts/make-guest.sh ARCH), its consoles and its
firmware; the suites stay the same on all of them.

    m = machines.get("virt,nvdimm=on")   # the part before the first comma
    m.target, m.guest_dir, m.kernel_args(), m.extra, m.device
"""

import os
import uuid

from vnv import paths

MiB = 1024 * 1024
# pseries hands out persistent memory in blocks of 256 MiB
# (SPAPR_MINIMUM_SCM_BLOCK_SIZE): the size of an NVDIMM, its label area
# left out, must be a multiple of it.
SPAPR_BLOCK = 256 * MiB
# uuid5 namespace of the spapr-nvdimm uuids (see Machine.device_props)
SPAPR_UUID_NAMESPACE = uuid.UUID("0b5e2c4e-7a4c-4f0e-9d3e-4e7664696d6d")


class Machine:
    """One machine type of the rig.

    name:      the -machine type ("pc", "virt", ...)
    target:    QEMU's target (qemu-system-TARGET)
    arch:      the guest's Debian architecture (make-guest.sh ARCH)
    console:   the guest's console, where the line protocol goes
    control:   the guest's second port, where the host writes GO lines:
               each machine makes a second serial device of the second
               -serial (pc: a second 16550, virt: a second PL011, which
               QEMU 10.0 adds when -serial is given twice, pseries: a
               second spapr-vty, hvc1)
    extra:     QEMU options the machine needs (a 64-bit CPU on virt, and
               its UEFI firmware: NVDIMMs on arm virt exist only in the
               ACPI tables, which edk2 hands to the guest)
    kernel:    kernel arguments the machine needs
    device:    the NVDIMM's -device driver
    driver:    the guest kernel's NVDIMM driver, None when the guest has
               none: Debian's ppc64el kernels (bookworm's 6.1 and
               bookworm-backports' 6.12) are built without
               CONFIG_LIBNVDIMM, hence without papr_scm, so the pseries
               suites check the device tree that papr_scm would read
               (guest/scenarios/spapr-dt.sh) and what the host sees
    """

    def __init__(self, name, target, arch, console, control, extra=(),
                 kernel="", device="nvdimm", driver="nfit"):
        self.name = name
        self.target = target
        self.arch = arch
        self.console = console
        self.control = control
        self.extra = list(extra)
        self.kernel = kernel
        self.device = device
        self.driver = driver

    @property
    def guest_dir(self):
        """build/guest for amd64 (as before the other machines came),
        build/guest-ARCH for the others."""
        suffix = "" if self.arch == "amd64" else "-" + self.arch
        return paths.GUEST_DIR + suffix

    def kernel_args(self):
        args = ["console=" + self.console, self.kernel,
                "vnv.ctl=" + self.control]
        return " ".join(a for a in args if a)

    def is_spapr(self):
        return self.device == "spapr-nvdimm"

    def backend_size(self, data_size, label_size):
        """The backend size that gives DATA_SIZE bytes of NVDIMM data.

        pc, q35 and virt take the label area from the end of the backend;
        so does pseries, which moreover wants the rest in whole 256 MiB
        blocks: there the backend is the data plus the labels.
        """
        if self.is_spapr():
            return data_size + (label_size or 0)
        return data_size

    def device_props(self, backend_path):
        """Properties the machine's NVDIMM device must have.

        spapr-nvdimm wants a uuid (the guest's papr_scm driver makes the
        region's interleave-set cookie of it, and labels are valid only
        under the same cookie): one derived from the backend file's path,
        so that a restart or a migration on the same file gives the same.
        """
        if not self.is_spapr():
            return {}
        return {"uuid": str(uuid.uuid5(SPAPR_UUID_NAMESPACE,
                                       os.path.abspath(backend_path)))}

    def dt_entry(self, backend_path, backend_size, label_size):
        """What spapr-dt.sh expects of one NVDIMM's device tree node:
        "uuid:blocks:metadata-size"."""
        return "%s:%d:%d" % (self.device_props(backend_path)["uuid"],
                             (backend_size - label_size) // SPAPR_BLOCK,
                             label_size)


_X86 = dict(target="x86_64", arch="amd64", console="ttyS0", control="ttyS1")

MACHINES = {
    "pc": Machine("pc", **_X86),
    "q35": Machine("q35", **_X86),
    "virt": Machine("virt", "aarch64", "arm64", "ttyAMA0", "ttyAMA1",
                    extra=["-cpu", "cortex-a57",
                           "-bios", "edk2-aarch64-code.fd"],
                    kernel="acpi=force"),
    "pseries": Machine("pseries", "ppc64", "ppc64el", "hvc0", "hvc1",
                       device="spapr-nvdimm", driver=None),
}


def get(machine):
    """The Machine of a -machine value ("q35", "virt,nvdimm=on", ...)."""
    name = machine.split(",", 1)[0]
    if name not in MACHINES:
        raise KeyError("no test guest for machine %r (the rig has %s)"
                       % (name, ", ".join(sorted(MACHINES))))
    return MACHINES[name]
