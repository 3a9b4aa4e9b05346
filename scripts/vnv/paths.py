# SPDX-License-Identifier: GPL-2.0-or-later
"""Where the tree keeps the binaries, the guest and the base."""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
OURS = os.path.join(TOP, "build", "qemu", "qemu-system-x86_64")
REFERENCE = os.path.join(TOP, "build", "reference", "qemu-system-x86_64")
GUEST_DIR = os.path.join(TOP, "build", "guest")
# The unmodified base that `make base` unpacks.  Not build/src: every
# build stages that tree again, and a suite may run beside a build.
BASE_PYTHON = os.path.join(TOP, "build", "pristine", "python")


def qemu_under_test(qemu=None, target=None):
    """QEMU if given, else $VNV_QEMU, else our build; of TARGET if given.

    A binary names its build: for another target than its own, the
    same build folder's qemu-system-TARGET is taken, so that --qemu
    build/reference/qemu-system-x86_64 on arm virt runs the reference's
    qemu-system-aarch64.
    """
    binary = qemu or os.environ.get("VNV_QEMU") or OURS
    prefix = "qemu-system-"
    if target is None or not os.path.basename(binary).startswith(prefix):
        return binary
    return os.path.join(os.path.dirname(binary), prefix + target)


def is_reference(binary):
    """True when BINARY is one of the reference build's emulators."""
    return (os.path.realpath(os.path.dirname(binary)) ==
            os.path.realpath(os.path.dirname(REFERENCE)))


def use_base_python():
    """Make the base's own python/qemu importable (qemu.qmp)."""
    if not os.path.isdir(os.path.join(BASE_PYTHON, "qemu", "qmp")):
        raise ImportError("no %s: run `make base` first" % BASE_PYTHON)
    if BASE_PYTHON not in sys.path:
        sys.path.append(BASE_PYTHON)
