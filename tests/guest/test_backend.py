#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Backend options as the guest and the host file see them.

share=off: the guest labels, formats and writes its NVDIMM, and the
backend file stays byte-identical.  share=on: a guest write lands in the
file at the same offset.  unarmed=on: the region is read-only, writes
fail, and the file stays byte-identical too.  readonly=on + unarmed=on:
an fsdax + ext4 image made by a first boot mounts read-only with dax.
Two guests sharing one share=on file see each other's writes.  An
align=2M backend gives a 2 MiB aligned region.  pmem=on on an ordinary
file works and the labels reach the file.  An existing file smaller
than size= is refused and stays byte-identical.
"""

import os
import sys
import uuid

from rig import (GiB, LABEL_SIZE, MiB, GuestError, Suite, nvdimm_args,
                 patterned_file, sha256, sparse_file)


def check_unchanged(suite, case, path, before):
    after = sha256(path)
    suite.check(case, after == before,
                "sha256 changed: %s -> %s" % (before, after))


def share_off(suite):
    backend = patterned_file(suite.path("share-off.img"), GiB,
                             blank_tail=LABEL_SIZE)
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


def share_on(suite):
    backend = sparse_file(suite.path("share-on.img"), 256 * MiB)
    token = uuid.uuid4().hex
    offset = 3 * MiB + 123
    suite.boot("pc/share-on", "raw-write",
               params={"token": token, "offset": offset},
               qemu_args=nvdimm_args("nv0", backend, "256M",
                                     label_size=None))
    with open(backend, "rb") as f:
        f.seek(offset)
        found = f.read(len(token))
    suite.check("pc/share-on/host-sees-write", found == token.encode(),
                "bytes at %d: %r" % (offset, found))


def readonly_image(suite):
    """Prepare an fsdax + ext4 image in one boot, use it read-only next."""
    token = uuid.uuid4().hex
    image = sparse_file(suite.path("rootfs.img"), 256 * MiB)
    suite.boot("pc/ro-image-prepare", "ro-image-prepare",
               params={"token": token},
               qemu_args=nvdimm_args("nv0", image, "256M", label_size=None))
    before = sha256(image)
    suite.boot("pc/ro-image", "ro-image", params={"token": token},
               qemu_args=nvdimm_args("nv0", image, "256M", label_size=None,
                                     backend_props={"readonly": "on"},
                                     device_props={"unarmed": "on"}))
    check_unchanged(suite, "pc/ro-image/host-file-unchanged", image, before)


def two_guests_share(suite):
    """A writer guest, then a reader guest on the same share=on file."""
    backend = sparse_file(suite.path("shared.img"), 256 * MiB)
    dimm = nvdimm_args("nv0", backend, "256M", label_size=None)
    params = {"token": uuid.uuid4().hex, "offset": 5 * MiB + 7}
    reader = suite.guest("pc/share-peer-reader", "share-peer",
                         params=dict(params, role="reader"), qemu_args=dimm)
    try:
        reader.start()
        reader.wait_for(r"VNV-READY written", 120)
        suite.boot("pc/share-peer-writer", "share-peer",
                   params=dict(params, role="writer"), qemu_args=dimm)
        reader.go("written")
        reader.wait_done(60)
    except GuestError as e:
        suite.report("pc/share-peer-reader/run", False, str(e))
        reader.kill()
    suite.collect("pc/share-peer-reader", reader)


def aligned_backend(suite):
    backend = sparse_file(suite.path("align.img"), 256 * MiB)
    suite.boot("pc/align-2M", "align", params={"align": 2 * MiB},
               qemu_args=nvdimm_args("nv0", backend, "256M", label_size=None,
                                     backend_props={"align": "2M"}))


def pmem_on(suite):
    """pmem=on on a file that is not on real pmem: QEMU warns, works."""
    backend = sparse_file(suite.path("pmem-on.img"), GiB)
    suite.boot("pc/pmem-on", "labels-create", params={"token": "pmem-on"},
               qemu_args=nvdimm_args("nv0", backend, "1G",
                                     backend_props={"pmem": "on"}))
    with open(backend, "rb") as f:
        f.seek(-LABEL_SIZE, 2)
        signature = f.read(15)
    suite.check("pc/pmem-on/host-label-area", signature == b"NAMESPACE_INDEX",
                "bytes at size-128K: %r" % signature)


def smaller_file(suite):
    """An existing file smaller than size= is refused and left alone."""
    path = patterned_file(suite.path("smaller.img"), 64 * MiB)
    before = sha256(path)
    g = suite.guest("pc/size-mismatch", "smoke",
                    qemu_args=nvdimm_args("nv0", path, "128M"))
    try:
        g.start()
        suite.report("pc/size-mismatch/refused", False,
                     "QEMU started with size=128M on a 64M file")
    except GuestError as e:
        print("# size mismatch: %s" % e)
        suite.check("pc/size-mismatch/refused", "size" in str(e),
                    "the error does not name the size: %s" % e)
    g.kill()
    check_unchanged(suite, "pc/size-mismatch/file-unchanged", path, before)
    suite.check("pc/size-mismatch/file-size",
                os.path.getsize(path) == 64 * MiB,
                "file is now %d bytes" % os.path.getsize(path))


def main():
    suite = Suite("backend")
    share_off(suite)
    share_on(suite)
    unarmed(suite)
    readonly_image(suite)
    two_guests_share(suite)
    aligned_backend(suite)
    pmem_on(suite)
    smaller_file(suite)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
