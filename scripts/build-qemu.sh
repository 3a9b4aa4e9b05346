#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build QEMU from the pristine base.  Three source trees, three builds:
#
#   build-qemu.sh patched    our files over the base, patches/ applied
#                            (build/src); x86_64-softmmu and the NVDIMM
#                            qtests in build/qemu
#   build-qemu.sh others     the other targets that compile NVDIMM code
#                            (aarch64, ppc64, loongarch64) in the same
#                            build/qemu, which shares their common objects
#   build-qemu.sh reference  the unmodified base plus only our qtests and
#                            the patches that build them (build/ref/src):
#                            build/reference/qemu-system-x86_64, the test
#                            oracle, and the NVDIMM qtests built against
#                            the base's own headers
#   build-qemu.sh san        build/src with clang, ASan, UBSan and
#                            libFuzzer in build/qemu-san: the fuzz targets
#                            (qemu-fuzz-x86_64), and qemu-system-x86_64 and
#                            the qtests for the asan suite
#   build-qemu.sh stage      only lay out build/src
#
# --no-stage builds the staged trees as they are (check.sh stages once,
# then runs two builds side by side).  VNV_JOBS sets make's -j.
#
# Every build folder sits next to a source folder named "src" (build/src
# and build/qemu, build/ref/src and build/ref/qemu), so the compiler sees
# the same relative paths in both trees and ccache hands the reference
# build the objects of every file our series leaves alone.
#
# A rebuild touches only what changed: each tree is staged afresh and
# synced by content.  With VNV_BUILD_TAG=T set, the patched tree and its
# build folders get a "-T" suffix, so that parallel work does not share
# them.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
pristine="$build/pristine"
# Parallel work gets a root of its own: build/tag-T/{src,qemu,qemu-san}
root=$build${VNV_BUILD_TAG:+/tag-$VNV_BUILD_TAG}

# The files this repo owns; the base's versions are deleted first.
OWNED=(
    hw/mem/nvdimm.c
    hw/acpi/nvdimm.c
    include/hw/mem/nvdimm.h
    backends/hostmem-file.c
    docs/nvdimm.txt
)
# Files this repo adds to the base.  patches/ refers to them.
ADDED=(
    hw/mem/nvdimm-persistence.c
    hw/mem/nvdimm-persistence-stub.c
    include/hw/mem/nvdimm-persistence.h
    hw/mem/nvdimm-flush.c
    include/hw/mem/nvdimm-flush.h
    hw/mem/nvdimm-labels.c
    include/hw/mem/nvdimm-labels.h
    hw/mem/nvdimm-errors.c
    include/hw/mem/nvdimm-errors.h
)

CONFIGURE_FLAGS=(
    --python=/usr/bin/python3
    --without-default-features
    --enable-tcg --enable-kvm --enable-libpmem --enable-fdt=system
    --disable-docs --disable-user --disable-install-blobs
    --disable-werror
)
# One configuration for ours and the reference, so that config-host.h,
# which every object includes, is the same in both and ccache shares.
TARGETS=x86_64-softmmu,aarch64-softmmu,ppc64-softmmu,loongarch64-softmmu

log() { printf '[build] %s\n' "$*"; }

QTESTS=(tests/qtest/nvdimm-device-test tests/qtest/nvdimm-acpi-test)
# Tests of features the reference does not have: not built there.
OURS_ONLY_QTESTS=(tests/qtest/nvdimm-persistence-test
                  tests/qtest/nvdimm-flush-test
                  tests/qtest/nvdimm-ars-test)
ALL_QTESTS="${QTESTS[*]} ${OURS_ONLY_QTESTS[*]}"
# QEMU's own qtests that make check runs on ours and on the reference
BASE_QTESTS=(tests/qtest/bios-tables-test)
# The emulator and the option ROMs, and those of the base's qtests
X86_GOALS="qemu-system-x86_64 recurse-all ${BASE_QTESTS[*]}"
OTHER_GOALS="qemu-system-aarch64 qemu-system-ppc64 qemu-system-loongarch64"

# Our files to lay over the base: all of them, or only the tests.
overlay_files() {
    local f
    if [ "$1" = all ]; then
        for f in "${OWNED[@]}" "${ADDED[@]}"; do
            if [ -f "$top/$f" ]; then
                echo "$f"
            fi
        done
    fi
    (cd "$top" && find tests/qtest -type f 2>/dev/null) || true
}

# The patches of patches/series, in order; with "tests", only those that
# touch nothing but tests/ (they build our qtests in the reference tree).
series_patches() {
    local what=$1 p
    [ -f "$top/patches/series" ] || return 0
    while read -r p; do
        case "$p" in ''|'#'*) continue ;; esac
        if [ "$what" = tests ] &&
           grep -E '^\+\+\+ ' "$top/patches/$p" | grep -vqE '^\+\+\+ b/tests/'
        then
            continue
        fi
        echo "$p"
    done < "$top/patches/series"
}

# stage_tree DST all|tests: DST from the pristine base, our files over it
# (all of them, or only the tests) and the matching patches/ applied.
stage_tree() {
    local dst=$1 what=$2 stage f p
    stage="$dst.stage"
    mkdir -p "$(dirname "$dst")"
    rm -rf "$stage"
    cp -a "$pristine" "$stage"
    for f in $(overlay_files "$what"); do
        rm -f "$stage/$f"
        mkdir -p "$(dirname "$stage/$f")"
        cp "$top/$f" "$stage/$f"
    done
    for p in $(series_patches "$what"); do
        patch -d "$stage" -p1 -s --no-backup-if-mismatch \
            < "$top/patches/$p"
    done
    # Content-based sync without times: unchanged files keep their
    # mtimes, so ninja rebuilds only what really changed.
    mkdir -p "$dst"
    rsync -rl --checksum --delete "$stage/" "$dst/"
    rm -rf "$stage"
}

# Firmware: the source package has no blobs, so the build tree gets
# Debian's seabios and ipxe-qemu files and the option ROMs built from the
# base (from FROM, a gcc build folder, when given), in pc-bios/ and in
# qemu-bundle/usr/local/share/qemu: the data directory, where a QEMU run
# from its build tree looks for them.
link_firmware() {
    local bdir=$1 roms=${2:-$1} f d
    local data="$bdir/qemu-bundle/usr/local/share/qemu"
    mkdir -p "$bdir/pc-bios" "$data"
    for f in /usr/share/seabios/*.bin /usr/lib/ipxe/qemu/*.rom \
             "$roms"/pc-bios/optionrom/*.bin; do
        if [ -f "$f" ]; then
            for d in "$bdir/pc-bios" "$data"; do
                ln -sf "$f" "$d/$(basename "$f")"
            done
        fi
    done
}

# configure_and_build SRC BUILDDIR TARGETS MAKE_GOALS [CONFIGURE_ARGS...]
# Configures again only when the configure command line changed.
configure_and_build() {
    local src=$1 bdir=$2 targets=$3 goals=$4
    shift 4
    local args=("$src/configure" --target-list="$targets"
                --cc="ccache ${VNV_CC:-gcc}" --cxx="ccache ${VNV_CXX:-g++}"
                "${CONFIGURE_FLAGS[@]}" "$@")
    mkdir -p "$bdir"
    if [ ! -f "$bdir/build.ninja" ] ||
       [ "$(cat "$bdir/vnv-configure.args" 2>/dev/null)" != "${args[*]}" ]; then
        log "configuring ${bdir#"$build"/} ($targets)"
        (cd "$bdir" && "${args[@]}" > configure.log 2>&1) || {
            tail -n 30 "$bdir/configure.log" >&2
            exit 1
        }
        echo "${args[*]}" > "$bdir/vnv-configure.args"
    fi
    log "building ${bdir#"$build"/}: $goals"
    # A meson.build that changed (a new test) regenerates build.ninja only
    # when ninja runs; make would refuse the new goal before that.
    ninja -C "$bdir" build.ninja > "$bdir/make-$what.log" 2>&1 || {
        tail -n 30 "$bdir/make-$what.log" >&2
        exit 1
    }
    # shellcheck disable=SC2086
    make -C "$bdir" -j"${VNV_JOBS:-$(nproc)}" --no-print-directory $goals \
        > "$bdir/make-$what.log" 2>&1 || {
        grep -E 'error|Error' "$bdir/make-$what.log" | head -n 40 >&2
        exit 1
    }
}

# stage DST all|tests: lay out DST unless --no-stage was given
stage() {
    if [ "$staging" = 1 ]; then
        stage_tree "$@"
    fi
}

main() {
    staging=1
    if [ "${1:-}" = --no-stage ]; then
        staging=0
        shift
    fi
    what=${1:-patched}
    # base_dir makes the paths relative to the build folder, and so the
    # same in every tree; the folder itself is left out of the hash.
    export CCACHE_BASEDIR="$build" CCACHE_NOHASHDIR=1
    export CCACHE_DIR="${CCACHE_DIR:-$HOME/.ccache}"
    "$top/scripts/fetch-base.sh"
    case "$what" in
    stage)
        stage_tree "$root/src" all ;;
    patched)
        stage "$root/src" all
        configure_and_build "$root/src" "$root/qemu" "$TARGETS" \
            "$X86_GOALS $ALL_QTESTS"
        link_firmware "$root/qemu" ;;
    others)
        stage "$root/src" all
        configure_and_build "$root/src" "$root/qemu" "$TARGETS" \
            "$OTHER_GOALS" ;;
    reference)
        stage "$build/ref/src" tests
        configure_and_build "$build/ref/src" "$build/ref/qemu" "$TARGETS" \
            "$X86_GOALS ${QTESTS[*]}"
        link_firmware "$build/ref/qemu"
        ln -sfn ref/qemu "$build/reference" ;;
    san|asan|fuzz)
        # The option ROMs come from the gcc build: they are 16-bit code
        # that the clang flags are not meant for.  -O1, as ASan's
        # documentation recommends, also compiles faster than -O2: this
        # is the one build of make check that shares no object through
        # ccache.
        stage "$root/src" all
        VNV_CC=clang-14 VNV_CXX=clang++-14 \
            configure_and_build "$root/src" "$root/qemu-san" x86_64-softmmu \
            "qemu-system-x86_64 qemu-fuzz-x86_64 $ALL_QTESTS" \
            --enable-fuzzing --enable-asan --enable-ubsan \
            --extra-cflags=-O1 --extra-cxxflags=-O1
        link_firmware "$root/qemu-san" "$root/qemu" ;;
    *)
        echo "usage: $0 patched|others|reference|san|stage" >&2
        exit 2 ;;
    esac
}

main "$@"
