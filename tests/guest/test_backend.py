#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Backend options as the guest and the host file see them, on pc and q35
(on arm virt: unarmed=on and the read-only image, CASES).

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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv.backend_files import (INDEX_SIGNATURE,  # noqa: E402
                               file_range, label_area_signature,
                               patterned_file, sha256, sparse_file)
from vnv.guest import GuestError, nvdimm_args  # noqa: E402
from vnv.suite import GiB, LABEL_SIZE, MiB, Suite  # noqa: E402


def check_unchanged(suite, case, path, before):
    after = sha256(path)
    suite.check(case, after == before,
                "sha256 changed: %s -> %s" % (before, after))


def scratch(suite, machine, name):
    """The path of a backend file of this machine's run."""
    return suite.path("%s-%s.img" % (machine, name))


def share_off(suite, machine):
    backend = patterned_file(scratch(suite, machine, "share-off"), GiB,
                             blank_tail=LABEL_SIZE)
    before = sha256(backend)
    suite.boot(machine + "/share-off", "labels-create", machine=machine,
               params={"token": "private"},
               qemu_args=nvdimm_args("nv0", backend, "1G", share=False))
    check_unchanged(suite, machine + "/share-off/host-file-unchanged",
                    backend, before)


def unarmed(suite, machine):
    backend = patterned_file(scratch(suite, machine, "unarmed"), GiB)
    before = sha256(backend)
    suite.boot(machine + "/unarmed", "unarmed", machine=machine,
               qemu_args=nvdimm_args("nv0", backend, "1G", label_size=None,
                                     device_props={"unarmed": "on"}))
    check_unchanged(suite, machine + "/unarmed/host-file-unchanged",
                    backend, before)


def share_on(suite, machine):
    backend = sparse_file(scratch(suite, machine, "share-on"), 256 * MiB)
    token = uuid.uuid4().hex
    offset = 3 * MiB + 123
    suite.boot(machine + "/share-on", "raw-write", machine=machine,
               params={"token": token, "offset": offset},
               qemu_args=nvdimm_args("nv0", backend, "256M",
                                     label_size=None))
    found = file_range(backend, offset, len(token))
    suite.check(machine + "/share-on/host-sees-write",
                found == token.encode(),
                "bytes at %d: %r" % (offset, found))


def readonly_image(suite, machine):
    """Prepare an fsdax + ext4 image in one boot, use it read-only next."""
    token = uuid.uuid4().hex
    image = sparse_file(scratch(suite, machine, "rootfs"), 256 * MiB)
    suite.boot(machine + "/ro-image-prepare", "ro-image-prepare",
               machine=machine, params={"token": token},
               qemu_args=nvdimm_args("nv0", image, "256M", label_size=None))
    before = sha256(image)
    suite.boot(machine + "/ro-image", "ro-image", machine=machine,
               params={"token": token},
               qemu_args=nvdimm_args("nv0", image, "256M", label_size=None,
                                     backend_props={"readonly": "on"},
                                     device_props={"unarmed": "on"}))
    check_unchanged(suite, machine + "/ro-image/host-file-unchanged", image,
                    before)


def two_guests_share(suite, machine):
    """A writer guest, then a reader guest on the same share=on file."""
    backend = sparse_file(scratch(suite, machine, "shared"), 256 * MiB)
    dimm = nvdimm_args("nv0", backend, "256M", label_size=None)
    params = {"token": uuid.uuid4().hex, "offset": 5 * MiB + 7}
    prefix = machine + "/share-peer"
    reader = suite.guest(prefix + "-reader", "share-peer", machine=machine,
                         params=dict(params, role="reader"), qemu_args=dimm)
    try:
        reader.start()
        reader.wait_for(r"VNV-READY written", 120)
        suite.boot(prefix + "-writer", "share-peer", machine=machine,
                   params=dict(params, role="writer"), qemu_args=dimm)
        reader.go("written")
        reader.wait_done(60)
    except GuestError as e:
        suite.report(prefix + "-reader/run", False, str(e))
        reader.kill()
    suite.collect(prefix + "-reader", reader)


def aligned_backend(suite, machine):
    backend = sparse_file(scratch(suite, machine, "align"), 256 * MiB)
    suite.boot(machine + "/align-2M", "align", machine=machine,
               params={"align": 2 * MiB},
               qemu_args=nvdimm_args("nv0", backend, "256M", label_size=None,
                                     backend_props={"align": "2M"}))


def pmem_on(suite, machine):
    """pmem=on on a file that is not on real pmem: QEMU warns, works."""
    backend = sparse_file(scratch(suite, machine, "pmem-on"), GiB)
    suite.boot(machine + "/pmem-on", "labels-create", machine=machine,
               params={"token": "pmem-on"},
               qemu_args=nvdimm_args("nv0", backend, "1G",
                                     backend_props={"pmem": "on"}))
    signature = label_area_signature(backend, LABEL_SIZE)
    suite.check(machine + "/pmem-on/host-label-area",
                signature == INDEX_SIGNATURE,
                "bytes at size-128K: %r" % signature)


def smaller_file(suite, machine):
    """An existing file smaller than size= is refused and left alone."""
    path = patterned_file(scratch(suite, machine, "smaller"), 64 * MiB)
    before = sha256(path)
    prefix = machine + "/size-mismatch"
    g = suite.guest(prefix, "smoke", machine=machine,
                    qemu_args=nvdimm_args("nv0", path, "128M"))
    try:
        g.start()
        suite.report(prefix + "/refused", False,
                     "QEMU started with size=128M on a 64M file")
    except GuestError as e:
        print("# size mismatch: %s" % e)
        suite.check(prefix + "/refused", "size" in str(e),
                    "the error does not name the size: %s" % e)
    g.kill()
    check_unchanged(suite, prefix + "/file-unchanged", path, before)
    suite.check(prefix + "/file-size",
                os.path.getsize(path) == 64 * MiB,
                "file is now %d bytes" % os.path.getsize(path))


ALL_CASES = (share_off, share_on, unarmed, readonly_image, two_guests_share,
             aligned_backend, pmem_on, smaller_file)
# On arm virt, the cases whose outcome goes through the machine: the
# NFIT's "not armed" flag, which makes the guest's region read-only, and
# a Kata-style read-only root image.  What the backend file sees of the
# others is the same code whatever the machine, run on pc and q35.
CASES = {"virt": (unarmed, readonly_image)}


def main():
    suite = Suite("backend")
    for machine in suite.machines:
        for case in CASES.get(machine, ALL_CASES):
            case(suite, machine)
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
