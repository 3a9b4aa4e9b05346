#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The persistence report's "guaranteed", on real DAX mappings.

No host here has persistent memory, but the test guest does: a 512 MiB
labelled NVDIMM of the build under test.  That QEMU also runs inside
the guest (scenario "persistence-dax"; vnv.suite adds the binary, its
libraries and firmware to the initramfs), without booting anything
(-S), with an NVDIMM of its own on what the guest's kernel gives it:

  devdax  /dev/dax0.0, align=2M: device DAX, "guaranteed", and
          require-persistence=on starts
  fsdax   a file on ext4 -o dax, pmem=on,share=on: MAP_SYNC, DAX,
          "guaranteed", and require-persistence=on starts
  nodax   a file on the initramfs: "not-guaranteed", and
          require-persistence=on refuses to start, saying why

query-nvdimm-persistence is ours alone; the suite runs on pc.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv.backend_files import sparse_file  # noqa: E402
from vnv.guest import GuestError, nvdimm_args  # noqa: E402
from vnv.suite import initrd_with_qemu, MiB, Suite  # noqa: E402

SIZE = 512 * MiB


def main():
    suite = Suite("persistence")
    prefix = "pc/persistence-dax"
    backend = sparse_file(suite.path("pc-dax.img"), SIZE)
    g = suite.guest(prefix, "persistence-dax", memory="1G,slots=4,maxmem=8G",
                    initrd=initrd_with_qemu(suite, suite.qemu_binary()),
                    qemu_args=nvdimm_args("nv0", backend, "512M"))
    try:
        g.start()
        g.wait_done(300)
    except GuestError as e:
        suite.report(prefix + "/run", False, str(e))
    g.kill()
    suite.collect(prefix, g)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
