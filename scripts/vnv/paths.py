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


def qemu_under_test(qemu=None):
    """QEMU if given, else $VNV_QEMU, else our build."""
    return qemu or os.environ.get("VNV_QEMU") or OURS


def use_base_python():
    """Make the base's own python/qemu importable (qemu.qmp)."""
    if not os.path.isdir(os.path.join(BASE_PYTHON, "qemu", "qmp")):
        raise ImportError("no %s: run `make base` first" % BASE_PYTHON)
    if BASE_PYTHON not in sys.path:
        sys.path.append(BASE_PYTHON)
