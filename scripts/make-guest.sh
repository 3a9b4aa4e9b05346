#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the test guest, build/guest/{vmlinuz,initrd.img}, from Debian
# bookworm packages only.  Nothing is installed on the host: the packages
# are fetched with "apt-get download" and unpacked with "dpkg-deb -x".
#
# The initramfs holds busybox, ndctl, daxctl, mke2fs/e2fsck, filefrag, the
# shared libraries they need, the NVDIMM and ext4 kernel modules (with their
# dependencies, in load order) and the guest side of the test rig:
# guest/init, guest/scenarios/ and guest/tools/ (our own small programs,
# built static with the host's compiler).
#
# Idempotent: the unpacked packages are keyed on the package versions and
# the initramfs on those plus this script and guest/, so a second run with
# nothing changed only resolves the package versions.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/guest"
debs="$out/debs"
stage="$out/stage"
root="$out/root"

# Userspace packages; their library dependencies are added automatically.
TOOL_PKGS=(busybox-static ndctl daxctl e2fsprogs)
# Kernel modules the tests need; their dependencies are added automatically.
MODULES=(nfit libnvdimm nd_pmem nd_btt dax_pmem device_dax
         crc32c_generic ext4 virtio_pci virtio_pmem)
# Binaries copied into the initramfs, with their libraries.
BINARIES=(usr/bin/ndctl usr/bin/daxctl sbin/mke2fs sbin/e2fsck
          usr/sbin/filefrag)
LIBDIRS=(lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib64)

log() { printf '[guest] %s\n' "$*"; }
die() { printf 'make-guest: %s\n' "$*" >&2; exit 1; }

# The bookworm 6.1 kernel package that linux-image-amd64 points to now.
kernel_package() {
    local ver pkg
    ver=$(apt-cache policy linux-image-amd64 |
          awk '/Candidate:/ && !n++ { print $2 }')
    pkg=$(apt-cache depends "linux-image-amd64=$ver" |
          awk '/Depends: linux-image-/ && !n++ { print $2 }')
    [[ "$pkg" =~ ^linux-image-6\.1\.0-[0-9]+-amd64$ ]] ||
        die "unexpected kernel package '$pkg' (want bookworm's 6.1)"
    echo "$pkg"
}

# The library packages the tools depend on, recursively (perl excluded:
# no tool in the guest needs it).
library_packages() {
    apt-cache depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances \
        "${TOOL_PKGS[@]}" |
        grep -E '^lib[a-z0-9.+-]+$' | grep -Ev 'perl' | sort -u
}

# "filename" for every package, as the archive would deliver it now.
package_files() {
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download --print-uris "$@") |
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
        (cd "$debs" && apt-get download -q "${missing[@]}" 2>&1) |
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

# Field FIELD of a kernel module's .modinfo section.
modinfo_field() {
    local ko=$1 field=$2
    objcopy -O binary --only-section=.modinfo "$ko" /dev/stdout |
        tr '\0' '\n' | sed -n "s/^$field=//p"
}

# Module name (underscores) -> path, for every module of the kernel.
declare -A MODPATH=()
index_modules() {
    local kdir=$1 ko name
    while IFS= read -r ko; do
        name=$(basename "$ko" .ko)
        MODPATH[${name//-/_}]=$ko
    done < <(find "$kdir/kernel" -name '*.ko')
}

# Print NAME's dependencies, then NAME, each once (load order).
declare -A MODSEEN=()
module_closure() {
    local name=${1//-/_} dep
    [ -z "${MODSEEN[$name]:-}" ] || return 0
    MODSEEN[$name]=1
    [ -n "${MODPATH[$name]:-}" ] || die "kernel module $name not found"
    for dep in $(modinfo_field "${MODPATH[$name]}" depends | tr ',' ' '); do
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
    objdump -p "$1" | awk '$1 == "NEEDED" { print $2 }'
}

# Copy a binary's libraries (recursively) into the initramfs.
declare -A LIBSEEN=()
copy_libraries() {
    local soname path
    for soname in $(needed_libraries "$1"); do
        [ -z "${LIBSEEN[$soname]:-}" ] || continue
        LIBSEEN[$soname]=1
        path=$(find_library "$soname")
        cp -L "$path" "$root/lib/x86_64-linux-gnu/$soname"
        copy_libraries "$path"
    done
}

install_userspace() {
    local bin
    cp "$stage/bin/busybox" "$root/bin/busybox"
    for bin in "${BINARIES[@]}"; do
        [ -f "$stage/$bin" ] || die "$bin missing from the packages"
        cp "$stage/$bin" "$root/$bin"
        copy_libraries "$stage/$bin"
    done
    cp -L "$(find_library ld-linux-x86-64.so.2)" \
        "$root/lib64/ld-linux-x86-64.so.2"
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
        cp "${MODPATH[$m]}" "$root/lib/modules/$kver/$m.ko"
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
    for src in "$top"/guest/tools/*.c; do
        gcc -static -O2 -Wall -Werror -o \
            "$root/usr/bin/$(basename "$src" .c)" "$src"
    done
}

assemble_initramfs() {
    local kver=$1
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,lib64}
    mkdir -p "$root"/usr/{bin,sbin} "$root/lib/x86_64-linux-gnu"
    install_userspace
    install_modules "$kver"
    install_rig
    install_tools
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --quiet) > "$out/initrd.img.new"
    mv "$out/initrd.img.new" "$out/initrd.img"
    cp "$stage/boot/vmlinuz-$kver" "$out/vmlinuz"
}

# Everything the initramfs is made of, as one hash.
rig_hash() {
    (cat "$0" "$top/guest/init" "$top/guest/vnv-lib.sh" \
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
