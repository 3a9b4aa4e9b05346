#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Prepare a Debian bookworm host: source entries for the QEMU base and
# meson from backports, then the build and guest-rig packages.
# Idempotent; apt-get update runs only when an entry was added or a
# package is missing.
#
#   setup-host.sh         what make check needs
#   setup-host.sh full    and what the full build (make full) and
#                         virt-install need
set -euo pipefail

SOURCES=/etc/apt/sources.list.d/vnvdimm.sources

BUILD_PKGS=(
    build-essential gcc-multilib ccache dpkg-dev quilt pkg-config python3
    ninja-build libglib2.0-dev libfdt-dev libpixman-1-dev zlib1g-dev
    libpmem-dev libslirp-dev acpica-tools ipxe-qemu
    qemu-efi-aarch64  # edk2 for arm virt (QEMU's own bios-tables-test)
    qemu-system-data  # SLOF, the firmware of the pseries guest
    bison flex xz-utils git rsync valgrind
    clang-14 libclang-rt-14-dev  # the fuzz build: libFuzzer is in clang-rt
)
RIG_PKGS=(cpio busybox-static e2fsprogs socat binutils)
# The libvirt suite: Debian's libvirt 9.0, its daemon run by the suite
LIBVIRT_PKGS=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients tini)
# The full build (build-qemu.sh full): the -dev packages of the features
# Debian's qemu-system-x86 enables that bookworm has; virt-install for
# the libvirt suite's virt-install case (make check-full)
FULL_PKGS=(
    libaio-dev liburing-dev libcap-ng-dev libseccomp-dev libnuma-dev
    libzstd-dev libpng-dev libjpeg-dev libsasl2-dev libgnutls28-dev
    nettle-dev libcurl4-gnutls-dev libssh-dev libiscsi-dev libnfs-dev
    libfuse3-dev librbd-dev libglusterfs-dev libspice-server-dev
    libspice-protocol-dev libusb-1.0-0-dev libusbredirparser-dev
    libcacard-dev libgtk-3-dev libvte-2.91-dev libsdl2-dev libepoxy-dev
    libdrm-dev libgbm-dev libvirglrenderer-dev libncurses-dev
    libbrlapi-dev libcapstone-dev libbpf-dev librdmacm-dev libibverbs-dev
    libibumad-dev libvdeplug-dev libudev-dev libpipewire-0.3-dev
    libpulse-dev libasound2-dev libjack-dev
    virtinst
)
# meson >= 1.5 for QEMU 10.0; SeaBIOS 1.16.3, the version QEMU 10.0
# bundles and made its expected ACPI tables with (bookworm has 1.16.2,
# whose tables differ in where the NVDIMM page lands)
BACKPORT_PKGS=(meson seabios)

# The foreign architectures of the guest rig (scripts/make-guest.sh
# arm64 and ppc64el).  Their packages are downloaded and unpacked, never
# installed; apt lists them only for architectures that dpkg knows.
# Adding one makes every apt-get update fetch that architecture's package
# lists too; nothing else changes on the host.
GUEST_ARCHES=(arm64 ppc64el)

log() { printf '[setup] %s\n' "$*"; }

# The guest architectures dpkg does not know yet, added now.
add_guest_arches() {
    local a known
    known=$(dpkg --print-foreign-architectures)
    for a in "${GUEST_ARCHES[@]}"; do
        if ! grep -qx "$a" <<< "$known"; then
            dpkg --add-architecture "$a"
            echo "$a"
        fi
    done
}

# True when apt has no package list of a guest architecture yet (an
# architecture added, but apt-get update not run since).
guest_lists_missing() {
    local a L
    eval "$(apt-config shell L Dir::State::lists/d)"
    for a in "${GUEST_ARCHES[@]}"; do
        compgen -G "$L*_main_binary-${a}_Packages*" > /dev/null || return 0
    done
    return 1
}

# True when apt-get update must run for the guest architectures: one
# was added now (apt-get update then runs even if no package is missing),
# or its lists are missing.
guest_arches_need_update() {
    local added
    added=$(add_guest_arches)
    if [ -n "$added" ]; then
        log "dpkg architectures added: $(echo $added)"
        return 0
    fi
    guest_lists_missing
}

# The first "deb" URI of the machine's Debian entry, in either format.
debian_uri() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && [ "$f" != "$SOURCES" ] || continue
        awk '/^URIs:/ && $2 ~ /debian\/?$/ { print $2; exit }' "$f"
    done
    if [ -f /etc/apt/sources.list ]; then
        awk '$1 == "deb" && $2 ~ /debian\/?$/ { print $2; exit }' \
            /etc/apt/sources.list
    fi
}

write_sources() {
    local uri
    uri=$(debian_uri | head -n 1)
    if [ -z "$uri" ]; then
        echo "setup: no Debian archive entry found in /etc/apt" >&2
        exit 1
    fi
    cat > "$SOURCES.new" <<SRC
# Written by vNVDIMM scripts/setup-host.sh
Types: deb-src
URIs: $uri
Suites: bookworm trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    if cmp -s "$SOURCES.new" "$SOURCES"; then
        rm -f "$SOURCES.new"
        return 1
    fi
    mv "$SOURCES.new" "$SOURCES"
    return 0
}

missing() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
            grep -q '^install ok installed$' || echo "$p"
    done
}

# backports_missing: true when a backports package is older than needed
backports_missing() {
    local v
    v=$(meson --version 2>/dev/null || echo 0)
    dpkg --compare-versions "$v" lt 1.5 && return 0
    v=$(dpkg-query -W -f='${Version}' seabios 2>/dev/null || echo 0)
    dpkg --compare-versions "$v" lt 1.16.3
}

main() {
    local need_update=0 extra=()
    if [ "${1:-}" = full ]; then
        extra=("${FULL_PKGS[@]}")
    fi
    if write_sources; then
        need_update=1
    fi
    local todo
    todo=$(missing "${BUILD_PKGS[@]}" "${RIG_PKGS[@]}" "${LIBVIRT_PKGS[@]}" \
        "${extra[@]}")
    if [ -n "$todo" ] || backports_missing; then
        need_update=1
    fi
    if guest_arches_need_update; then
        need_update=1
    fi
    if [ "$need_update" = 0 ]; then
        log "host already prepared"
        return 0
    fi
    log "apt-get update"
    apt-get update -qq
    export DEBIAN_FRONTEND=noninteractive
    if [ -n "$todo" ]; then
        log "installing: $(echo $todo)"
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $todo
    fi
    if backports_missing; then
        log "installing ${BACKPORT_PKGS[*]} from bookworm-backports"
        apt-get install -y -qq --no-install-recommends \
            -t bookworm-backports "${BACKPORT_PKGS[@]}"
    fi
}

main "$@"
