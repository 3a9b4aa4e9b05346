#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Namespaces made under one implementation, read under the other.

On a blank labelled backend, the first QEMU's guest makes an fsdax
namespace (ext4 -o dax with a file), a devdax and a sector namespace
(with data).  The same file under the other QEMU must show the same
namespaces (uuid, mode, size), the file and the sector data, and pass
ndctl check-labels.  Both directions, reference -> ours and ours ->
reference, on pc and q35.
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv.backend_files import sparse_file  # noqa: E402
from vnv.guest import nvdimm_args  # noqa: E402
from vnv.paths import OURS, REFERENCE  # noqa: E402
from vnv.suite import GiB, Suite  # noqa: E402



def namespaces(g):
    """The sorted "uuid/mode/size" lines a cross-ns boot reported."""
    if g is None:
        return []
    marker = "VNV-INFO ns="
    return sorted(line.split(marker, 1)[1].strip() for line in g.lines()
                  if marker in line)


def cross(suite, machine, first, second, label):
    prefix = "%s/%s" % (machine, label)
    backend = sparse_file(suite.path("%s-%s.img" % (machine, label)), GiB)
    dimm = nvdimm_args("nv0", backend, "1G")
    token = uuid.uuid4().hex
    made = suite.boot(prefix + "/create", "cross-ns", qemu=first,
                      machine=machine, qemu_args=dimm, timeout=300,
                      params={"phase": "create", "token": token})
    before = namespaces(made)
    if len(before) != 3:
        suite.report(prefix + "/verify", False,
                     "the first QEMU made %d namespaces: %s"
                     % (len(before), before))
        return
    read = suite.boot(prefix + "/verify", "cross-ns", qemu=second,
                      machine=machine, qemu_args=dimm, timeout=300,
                      params={"phase": "verify", "token": token})
    after = namespaces(read)
    suite.check(prefix + "/same-namespaces", after == before,
                "before %s, after %s" % (before, after))


def main():
    suite = Suite("crossimpl")
    ours = suite.qemu or OURS
    for machine in suite.machines:
        cross(suite, machine, REFERENCE, ours, "reference-to-ours")
        cross(suite, machine, ours, REFERENCE, "ours-to-reference")
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
