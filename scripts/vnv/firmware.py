# SPDX-License-Identifier: GPL-2.0-or-later
"""Where a QEMU binary finds its firmware: one rule for every tool.

A build tree's binary finds everything in its qemu-bundle/ by itself and
gets no -L.  Any other binary (a tree without the bundle, an installed
QEMU) is pointed at the tree's pc-bios/ and option ROMs, then at the
distribution's firmware packages for its target.  QEMU searches the -L
folders in order, so a missing link in pc-bios/ falls through to the
package.
"""

import os

BUNDLE = os.path.join("qemu-bundle", "usr", "local", "share", "qemu")

# Per target: the file a machine of it cannot start without, and where
# Debian's packages put it (seabios and ipxe-qemu; qemu-efi-aarch64;
# qemu-system-data, which ships SLOF for pseries)
TARGETS = {
    "x86_64": ("bios-256k.bin", ["/usr/share/seabios", "/usr/lib/ipxe/qemu"]),
    "aarch64": ("edk2-aarch64-code.fd",
                ["/usr/share/qemu-efi-aarch64", "/usr/share/AAVMF"]),
    "ppc64": ("slof.bin", ["/usr/share/qemu"]),
}


def target_of(binary):
    """The target of a qemu-system-TARGET binary (x86_64 for others)."""
    name = os.path.basename(binary)
    prefix = "qemu-system-"
    return name[len(prefix):] if name.startswith(prefix) else "x86_64"


def firmware_dirs(binary):
    """The folders BINARY takes its firmware from, first choice first."""
    marker, packages = TARGETS.get(target_of(binary), TARGETS["x86_64"])
    bindir = os.path.dirname(os.path.realpath(binary))
    bundle = os.path.join(bindir, BUNDLE)
    dirs = [os.path.join(bindir, "pc-bios"),
            os.path.join(bindir, "pc-bios", "optionrom")] + packages
    if os.path.exists(os.path.join(bundle, marker)):
        dirs.insert(0, bundle)
    return [d for d in dirs if os.path.isdir(d)]


def firmware_args(binary):
    """The -L options BINARY needs: none when its bundle has it all."""
    dirs = firmware_dirs(binary)
    if dirs and dirs[0].endswith(BUNDLE):
        return []
    return [arg for d in dirs for arg in ("-L", d)]
