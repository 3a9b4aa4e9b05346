#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the test guest, build/guest/{vmlinuz,initrd.img}, from Debian
# bookworm packages only.  Nothing is installed on the host: the packages
# are fetched with "apt-get download" and unpacked with "dpkg-deb -x".
#
#   make-guest.sh [amd64|arm64|ppc64el]
#
# The argument is the guest's Debian architecture: amd64 (the default,
# build/guest, for pc and q35), arm64 (build/guest-arm64, for arm virt)
# or ppc64el (build/guest-ppc64el, for pseries).  The foreign ones need
# the architecture in dpkg's list, as scripts/setup-host.sh adds it.
#
# The initramfs holds busybox, ndctl, daxctl, mke2fs/e2fsck, filefrag, the
# shared libraries they need, the NVDIMM and ext4 kernel modules (with their
# dependencies, in load order) and the guest side of the test rig:
# guest/init, guest/scenarios/ and, in the amd64 guest only, guest/tools/
# (our own small programs, built static with the host's compiler; the
# one scenario that runs them, machine-check, is x86 only).
#
# Idempotent: the unpacked packages are keyed on the package versions and
# the initramfs on those plus this script and guest/, so a second run with
# nothing changed only resolves the package versions.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-amd64}

# Userspace packages; their library dependencies are added automatically.
TOOL_PKGS=(busybox-static ndctl daxctl e2fsprogs)
# Binaries copied into the initramfs, with their libraries.
BINARIES=(usr/bin/ndctl usr/bin/daxctl sbin/mke2fs sbin/e2fsck
          usr/sbin/filefrag)

# Per architecture: the output folder, the kernel flavour (the
# linux-image-FLAVOUR package points to the current kernel), the suite
# the kernel comes from and its version, the multiarch triplet of the
# library folders and the kernel modules the tests need (their
# dependencies are added automatically; a module the kernel has built
# in is skipped).  The NVDIMM driver is nfit, where the firmware
# describes NVDIMMs in ACPI (pc, q35, arm virt); on pseries the device
# tree does, for papr_scm, which Debian's ppc64el kernels do not build.
#
# arm64 takes bookworm-backports' 6.12 kernel: bookworm's 6.1 arm64
# kernel is built without CONFIG_ZONE_DEVICE, so it has no fsdax or
# devdax namespaces and no DAX file systems (nor dax_pmem); the 6.12
# one has them.  The tools stay bookworm's.
kernel_suite=bookworm
case "$arch" in
amd64)
    out="$top/build/guest" flavour=amd64 triplet=x86_64-linux-gnu
    kernel_re='6\.1\.0-[0-9]+'
    MODULES=(nfit libnvdimm nd_pmem nd_btt dax_pmem device_dax
             crc32c_generic ext4 virtio_pci virtio_pmem) ;;
arm64)
    out="$top/build/guest-arm64" flavour=arm64 triplet=aarch64-linux-gnu
    kernel_suite=bookworm-backports kernel_re='6\.12\.[0-9]+\+deb12'
    MODULES=(nfit libnvdimm nd_pmem nd_btt dax_pmem device_dax
             crc32c_generic ext4) ;;
ppc64el)
    out="$top/build/guest-ppc64el" flavour=powerpc64le
    triplet=powerpc64le-linux-gnu kernel_re='6\.1\.0-[0-9]+'
    # Debian's ppc64el kernels have no libnvdimm (no papr_scm, nd_pmem):
    # the pseries scenarios read the device tree (spapr-dt.sh)
    MODULES=() ;;
*)
    echo "usage: $0 [amd64|arm64|ppc64el]" >&2
    exit 2 ;;
esac
debs="$out/debs"
stage="$out/stage"
root="$out/root"
LIBDIRS=("lib/$triplet" "usr/lib/$triplet" lib64 lib)

# apt as if ARCH were the host's only architecture: the package names
# then need no ":arch" suffix, in queries and in answers, and apt reads
# the package lists of that architecture only (this machine keeps no
# package cache, and reading all three doubles each call's time).
apt_cache() {
    apt-cache -o "APT::Architecture=$arch" -o "APT::Architectures=$arch" "$@"
}
apt_get() {
    apt-get -o "APT::Architecture=$arch" -o "APT::Architectures=$arch" "$@"
}

log() { printf '[guest] %s\n' "$*"; }
die() { printf 'make-guest: %s\n' "$*" >&2; exit 1; }

# The kernel package that linux-image-FLAVOUR of $kernel_suite points to
# now (bookworm: the newest of bookworm and bookworm-security).
kernel_package() {
    local ver pkg
    ver=$(apt_cache madison "linux-image-$flavour" |
          awk -F' *[|] *' -v want="$kernel_suite" '
              $3 ~ / Packages$/ {
                  split($3, word, " "); suite = word[2]
                  sub("/.*", "", suite)
                  if (suite == want ||
                      want == "bookworm" && suite == "bookworm-security") {
                      print $2; exit
                  }
              }')
    [ -n "$ver" ] ||
        die "no linux-image-$flavour of $kernel_suite in apt's lists" \
            "(for $arch, run scripts/setup-host.sh)"
    pkg=$(apt_cache depends "linux-image-$flavour=$ver" |
          awk '/Depends: linux-image-/ && !n++ { print $2 }')
    [[ "$pkg" =~ ^linux-image-$kernel_re-$flavour$ ]] ||
        die "unexpected kernel package '$pkg' (want $kernel_suite's)"
    echo "$pkg"
}

# The library packages the tools depend on, recursively (perl excluded:
# no tool in the guest needs it).
library_packages() {
    apt_cache depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances \
        "${TOOL_PKGS[@]}" |
        grep -E '^lib[a-z0-9.+-]+$' | grep -Ev 'perl' | sort -u
}

# "filename" for every package, as the archive would deliver it now.
package_files() {
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && apt_get download --print-uris "$@") |
        awk '{ print $2 }' | sort
    rmdir "$tmp"
}

# Download the packages whose .deb is not in $debs yet.
fetch_packages() {
    local files=("$@") f missing=()
    mkdir -p "$debs"
    for f in "${files[@]}"; do
        [ -f "$debs/$f" ] || missing+=("${f%%_*}=$(deb_version "$f")")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "downloading ${#missing[@]} packages"
        # As root, apt warns that it cannot drop privileges: not news.
        (cd "$debs" && apt_get download -q "${missing[@]}" 2>&1) |
            { grep -v '^W: Download is performed unsandboxed' || true; }
    fi
    for f in "${files[@]}"; do
        [ -f "$debs/$f" ] || die "download of $f failed"
    done
}

# pkg_1%3a2.3-4_amd64.deb -> 1:2.3-4
deb_version() {
    local v=${1#*_}
    v=${v%_*}
    echo "${v//%3a/:}"
}

# Unpack every package into $stage, unless the same set is there already.
unpack_packages() {
    local key=$1 f
    shift
    if [ -f "$stage/.stamp" ] && [ "$(cat "$stage/.stamp")" = "$key" ]; then
        return 0
    fi
    log "unpacking $# packages"
    rm -rf "$stage"
    mkdir -p "$stage"
    for f in "$@"; do
        dpkg-deb -x "$debs/$f" "$stage"
    done
    echo "$key" > "$stage/.stamp"
}

# Field FIELD of a kernel module's .modinfo section.  readelf, unlike
# the host's objcopy and objdump, reads the ELF of every architecture.
modinfo_field() {
    local ko=$1 field=$2
    readelf -p .modinfo "$ko" |
        sed -n "s/^ *\[ *[0-9a-f]*\]  *$field=//p"
}

# Module name (underscores) -> path, for every module of the kernel;
# BUILTIN: the modules the kernel has built in (modules.builtin).
# Debian's 6.1 kernels ship FOO.ko, the 6.12 ones FOO.ko.xz: those are
# unpacked as they are needed (module_file).
declare -A MODPATH=() BUILTIN=()
index_modules() {
    local kdir=$1 ko name
    while IFS= read -r ko; do
        name=$(basename "${ko%.xz}" .ko)
        MODPATH[${name//-/_}]=$ko
    done < <(find "$kdir/kernel" -name '*.ko' -o -name '*.ko.xz')
    while IFS= read -r ko; do
        name=$(basename "$ko" .ko)
        BUILTIN[${name//-/_}]=1
    done < "$kdir/modules.builtin"
}

# The uncompressed .ko of module NAME (unpacked next to the .ko.xz)
module_file() {
    local ko=${MODPATH[$1]}
    case "$ko" in
    *.xz)
        [ -f "${ko%.xz}" ] || xz -dkc "$ko" > "${ko%.xz}"
        echo "${ko%.xz}" ;;
    *) echo "$ko" ;;
    esac
}

# Print NAME's dependencies, then NAME, each once (load order).
declare -A MODSEEN=()
module_closure() {
    local name=${1//-/_} dep
    [ -z "${MODSEEN[$name]:-}" ] || return 0
    MODSEEN[$name]=1
    [ -z "${BUILTIN[$name]:-}" ] || return 0
    [ -n "${MODPATH[$name]:-}" ] || die "kernel module $name not found"
    for dep in $(modinfo_field "$(module_file "$name")" depends |
                 tr ',' ' '); do
        module_closure "$dep"
    done
    echo "$name"
}

# Path in $stage of the shared library SONAME.
find_library() {
    local soname=$1 d
    for d in "${LIBDIRS[@]}"; do
        if [ -e "$stage/$d/$soname" ]; then
            echo "$stage/$d/$soname"
            return 0
        fi
    done
    die "library $soname not found in the unpacked packages"
}

needed_libraries() {
    readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'
}

# The dynamic loader a binary names (/lib64/ld-linux-x86-64.so.2, ...)
program_interpreter() {
    readelf -l "$1" |
        sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p'
}

# Copy a binary's libraries (recursively) into the initramfs.
declare -A LIBSEEN=()
copy_libraries() {
    local soname path
    for soname in $(needed_libraries "$1"); do
        [ -z "${LIBSEEN[$soname]:-}" ] || continue
        LIBSEEN[$soname]=1
        path=$(find_library "$soname")
        cp -L "$path" "$root/lib/$triplet/$soname"
        copy_libraries "$path"
    done
}

install_userspace() {
    local bin interp
    cp "$stage/bin/busybox" "$root/bin/busybox"
    for bin in "${BINARIES[@]}"; do
        [ -f "$stage/$bin" ] || die "$bin missing from the packages"
        cp "$stage/$bin" "$root/$bin"
        copy_libraries "$stage/$bin"
    done
    interp=$(program_interpreter "$stage/usr/bin/ndctl")
    [ -n "$interp" ] || die "usr/bin/ndctl names no program interpreter"
    mkdir -p "$(dirname "$root$interp")"
    cp -L "$(find_library "$(basename "$interp")")" "$root$interp"
    ln -s mke2fs "$root/sbin/mkfs.ext4"
    ln -s e2fsck "$root/sbin/fsck.ext4"
    cp "$stage/etc/mke2fs.conf" "$root/etc/"
    cp -r "$stage/etc/ndctl.conf.d" "$root/etc/"
    mkdir -p "$root/etc/ndctl/keys"
}

install_modules() {
    local kver=$1 kdir="$stage/lib/modules/$1" m
    index_modules "$kdir"
    mkdir -p "$root/lib/modules/$kver"
    for m in "${MODULES[@]}"; do
        module_closure "$m"
    done > "$root/etc/vnv-modules"
    while IFS= read -r m; do
        cp "$(module_file "$m")" "$root/lib/modules/$kver/$m.ko"
    done < "$root/etc/vnv-modules"
    log "modules: $(tr '\n' ' ' < "$root/etc/vnv-modules")"
}

install_rig() {
    install -m 0755 "$top/guest/init" "$root/init"
    install -m 0644 "$top/guest/vnv-lib.sh" "$root/vnv-lib.sh"
    mkdir -p "$root/scenarios"
    cp "$top"/guest/scenarios/*.sh "$root/scenarios/"
    chmod 0755 "$root"/scenarios/*.sh
}

install_tools() {
    local src
    [ "$arch" = amd64 ] || return 0
    for src in "$top"/guest/tools/*.c; do
        gcc -static -O2 -Wall -Werror -o \
            "$root/usr/bin/$(basename "$src" .c)" "$src"
    done
}

assemble_initramfs() {
    local kver=$1
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,lib64}
    mkdir -p "$root"/usr/{bin,sbin} "$root/lib/$triplet"
    install_userspace
    install_modules "$kver"
    install_rig
    install_tools
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --quiet) > "$out/initrd.img.new"
    mv "$out/initrd.img.new" "$out/initrd.img"
    install_kernel "$kver"
}

# The kernel as "vmlinuz" in every guest folder: the compressed image on
# amd64 and arm64 (QEMU's arm loader decompresses it for the firmware),
# the ELF vmlinux that Debian installs on ppc64el (SLOF loads it).
install_kernel() {
    local f
    for f in "$stage/boot/vmlinuz-$1" "$stage/boot/vmlinux-$1"; do
        if [ -f "$f" ]; then
            cp "$f" "$out/vmlinuz"
            return 0
        fi
    done
    die "no kernel image for $1 in the package"
}

# Everything the initramfs is made of, as one hash.
rig_hash() {
    (echo "$arch"; cat "$0" "$top/guest/init" "$top/guest/vnv-lib.sh" \
        "$top"/guest/scenarios/*.sh "$top"/guest/tools/*.c) |
        sha256sum | cut -c1-16
}

main() {
    local kpkg kver libs files key
    kpkg=$(kernel_package)
    kver=${kpkg#linux-image-}
    mapfile -t libs < <(library_packages)
    mapfile -t files < <(package_files "$kpkg" "${TOOL_PKGS[@]}" \
                                       "${libs[@]}")
    key=$(printf '%s\n' "${files[@]}" | sha256sum | cut -c1-16)
    if [ -f "$out/.stamp" ] &&
       [ "$(cat "$out/.stamp")" = "$key-$(rig_hash)" ] &&
       [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
        log "up to date ($kver)"
        return 0
    fi
    fetch_packages "${files[@]}"
    unpack_packages "$key" "${files[@]}"
    log "assembling the initramfs for $kver"
    assemble_initramfs "$kver"
    printf '%s\n' "${files[@]}" > "$out/packages.txt"
    echo "$key-$(rig_hash)" > "$out/.stamp"
    log "built $out/vmlinuz and $out/initrd.img" \
        "($(du -h "$out/initrd.img" | cut -f1))"
}

main "$@"
