#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fetch Debian's QEMU source package and unpack it, with Debian's patches
# applied, into build/pristine.  The pristine tree is never modified: the
# reference build and the patched tree are made from it.
set -euo pipefail

VERSION="1:10.0.13+ds-0+deb13u1"
top=$(cd "$(dirname "$0")/.." && pwd)
dl="$top/build/base-dl"
pristine="$top/build/pristine"

if [ -f "$pristine/VERSION" ] && [ -f "$pristine/.vnvdimm-base" ]; then
    exit 0
fi

mkdir -p "$dl"
cd "$dl"
if ! ls qemu_*.dsc >/dev/null 2>&1; then
    echo "[base] fetching Debian source package qemu=$VERSION"
    if ! apt-get source --download-only -qq "qemu=$VERSION"; then
        echo "[base] NOTICE: qemu=$VERSION is gone from the archive;" \
             "using trixie's current 1:10.0.x instead" >&2
        apt-get source --download-only -qq qemu/trixie
    fi
fi
dsc=$(ls qemu_*.dsc | head -n 1)
case "$dsc" in
qemu_10.0.*) ;;
*) echo "[base] unexpected source version: $dsc" >&2; exit 1 ;;
esac

echo "[base] unpacking $dsc"
rm -rf "$pristine" "$pristine.tmp"
dpkg-source --no-check -x "$dsc" "$pristine.tmp" >/dev/null
rm -rf "$pristine.tmp/.pc"
echo "${dsc%.dsc}" > "$pristine.tmp/.vnvdimm-base"
mv "$pristine.tmp" "$pristine"
