#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Backend options as the guest and the host file see them.

share=off: the guest labels, formats and writes its NVDIMM, and the
backend file stays byte-identical.  unarmed=on: the region is read-only,
writes fail, and the file stays byte-identical too.
"""

import os
import sys

from rig import GiB, Suite, nvdimm_args, sha256, sparse_file


def patterned_file(path, size):
    """A sparse file with a few non-zero blocks, so changes would show."""
    sparse_file(path, size)
    with open(path, "r+b") as f:
        for offset in (0, size // 2, size - 4096):
            f.seek(offset)
            f.write(os.urandom(4096))
    return path


def check_unchanged(suite, case, path, before):
    after = sha256(path)
    suite.check(case, after == before,
                "sha256 changed: %s -> %s" % (before, after))


def share_off(suite):
    backend = patterned_file(suite.path("share-off.img"), GiB)
    before = sha256(backend)
    suite.boot("pc/share-off", "labels-create", params={"token": "private"},
               qemu_args=nvdimm_args("nv0", backend, "1G", share=False))
    check_unchanged(suite, "pc/share-off/host-file-unchanged", backend,
                    before)


def unarmed(suite):
    backend = patterned_file(suite.path("unarmed.img"), GiB)
    before = sha256(backend)
    suite.boot("pc/unarmed", "unarmed",
               qemu_args=nvdimm_args("nv0", backend, "1G", label_size=None,
                                     device_props={"unarmed": "on"}))
    check_unchanged(suite, "pc/unarmed/host-file-unchanged", backend, before)


def main():
    suite = Suite("backend")
    share_off(suite)
    unarmed(suite)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
