#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Live migration of a guest with a mounted fsdax namespace.

Two QEMUs on one share=on backend file: the source runs the guest,
which labels the NVDIMM and writes a file on ext4 -o dax; the
destination waits with -incoming on a unix socket.  After migration the
guest, now on the destination, reads the file, writes another and reads
its labels through the destination's label mailbox.

By default both sides are the same binary (--qemu); --source-qemu and
--dest-qemu (environment VNV_SOURCE_QEMU, VNV_DEST_QEMU) choose them
separately, e.g. reference -> ours.
"""

import os
import sys
import uuid

from rig import GiB, GuestError, Suite, nvdimm_args, sparse_file


def main():
    suite = Suite("migration")
    src_qemu = os.environ.get("VNV_SOURCE_QEMU") or suite.qemu
    dst_qemu = os.environ.get("VNV_DEST_QEMU") or suite.qemu
    backend = sparse_file(suite.path("migrate.img"), GiB)
    dimm = nvdimm_args("nv0", backend, "1G")
    token = uuid.uuid4().hex
    uri = "unix:" + suite.path("migrate.sock")
    src = suite.guest("pc/migrate-src", "migrate", qemu=src_qemu,
                      qemu_args=dimm, params={"token": token})
    dst = suite.guest("pc/migrate-dst", "migrate", qemu=dst_qemu,
                      qemu_args=dimm, params={"token": token}, incoming=uri)
    try:
        src.start()
        src.wait_for(r"VNV-READY migrated", 120)
        dst.start()
        src.migrate(uri, timeout=120)
        suite.report("pc/migrate/completed", True)
        status = dst.qmp("query-status")["status"]
        suite.check("pc/migrate/dest-running", status == "running",
                    "destination status %s" % status)
        dst.go("migrated")
        dst.wait_done(60)
    except GuestError as e:
        suite.report("pc/migrate/run", False, str(e))
    src.kill()
    dst.kill()
    suite.collect("pc/migrate-src", src)
    suite.collect("pc/migrate-dst", dst)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
