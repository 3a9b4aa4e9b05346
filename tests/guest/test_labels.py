#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Labels and persistence across a QEMU restart, on pc and q35, arm virt
and pseries (where papr_scm reads and writes them through the PAPR
hcalls, H_SCM_READ_METADATA and H_SCM_WRITE_METADATA).

Boot 1 (blank file): init-labels, an fsdax namespace, ext4 -o dax, a file.
Host: the label area, the last label-size bytes of the file, starts with
the namespace index signature.  Boot 2 (same file, new QEMU): same
namespace uuid and mode, same file content, labels still check out; then
the namespace is destroyed and re-created as devdax, then as sector with
data on it.  Boot 3: the sector namespace, its uuid and data are back.
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv import machines  # noqa: E402
from vnv.backend_files import (INDEX_SIGNATURE,  # noqa: E402
                               label_area_signature, sparse_file)
from vnv.guest import nvdimm_args  # noqa: E402
from vnv.suite import GiB, info, LABEL_SIZE, Suite  # noqa: E402


def labels_on(suite, machine):
    size = machines.get(machine).backend_size(GiB, LABEL_SIZE)
    backend = sparse_file(suite.path("labels-%s.img" % machine), size)
    token = uuid.uuid4().hex
    dimm = nvdimm_args("nv0", backend, size, machine=machine)

    g = suite.boot(machine + "/labels", "labels-create", machine=machine,
                   params={"token": token}, qemu_args=dimm)
    ns_uuid = info(g, "uuid") if g else None
    signature = label_area_signature(backend, LABEL_SIZE)
    suite.check(machine + "/labels/host-label-area",
                signature == INDEX_SIGNATURE,
                "bytes at size-128K: %r" % signature)
    if not ns_uuid:
        suite.report(machine + "/restart", False,
                     "the first boot made no namespace")
        return

    g = suite.boot(machine + "/restart", "labels-verify", machine=machine,
                   params={"token": token, "uuid": ns_uuid}, qemu_args=dimm)
    sector_uuid = info(g, "sector-uuid") if g else None
    if not sector_uuid:
        suite.report(machine + "/restart-sector", False,
                     "the second boot made no sector namespace")
        return

    suite.boot(machine + "/restart-sector", "labels-sector", machine=machine,
               params={"token": token, "uuid": sector_uuid}, qemu_args=dimm)


def main():
    suite = Suite("labels")
    for machine in suite.machines:
        labels_on(suite, machine)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
