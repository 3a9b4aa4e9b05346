#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build QEMU from the pristine base.  Three source trees, three builds:
#
#   build-qemu.sh patched    our files over the base, patches/ applied
#                            (build/src); x86_64-softmmu and the NVDIMM
#                            qtests in build/qemu
#   build-qemu.sh others     in the same build/qemu, which shares the
#                            common objects: aarch64, and the ppc64 and
#                            loongarch64 objects that include our header
#   build-qemu.sh others-all aarch64, ppc64 and loongarch64 whole
#   build-qemu.sh reference  the unmodified base plus only our qtests and
#                            the patches that build them (build/ref/src):
#                            build/reference/qemu-system-x86_64, the test
#                            oracle, and the NVDIMM qtests built against
#                            the base's own headers
#   build-qemu.sh reference-others
#                            the reference's arm virt, for QEMU's own
#                            qtests, after "others"
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
    hw/acpi/nvdimm-ars.c
    hw/acpi/nvdimm-ars.h
    hw/mem/nvdimm-health.c
    include/hw/mem/nvdimm-health.h
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
                  tests/qtest/nvdimm-ars-test
                  tests/qtest/nvdimm-health-test)
ALL_QTESTS="${QTESTS[*]} ${OURS_ONLY_QTESTS[*]}"
# The emulator, the option ROMs and QEMU's own qtests of the target
# (base-qtests-ARCH: see base_qtest_goals)
X86_GOALS="qemu-system-x86_64 recurse-all base-qtests-x86_64"
# arm virt runs QEMU's own qtests; spapr and loongarch virt run nothing, so
# make check compiles only their objects that include our header
# (compile_nvdimm_callers) and make build-all links their emulators too.
OTHER_GOALS="qemu-system-aarch64 base-qtests-aarch64"
OTHER_LINK_GOALS="qemu-system-ppc64 qemu-system-loongarch64"
# The reference needs arm virt only, for QEMU's own qtests
REF_OTHER_GOALS="qemu-system-aarch64 base-qtests-aarch64"
# Debian's qemu-efi-aarch64, under the names of the base's pc-bios/
declare -A EDK2_FILES=(
    [edk2-aarch64-code.fd]=/usr/share/AAVMF/AAVMF_CODE.fd
    [edk2-arm-vars.fd]=/usr/share/AAVMF/AAVMF_VARS.fd
)

# The device configuration of the sanitizer build, as configure takes it:
# a name relative to SRC/configs/devices/x86_64-softmmu, without ".mak"
SAN_DEVICES="$top/scripts/san-devices-x86_64.mak"

san_devices() {
    realpath -m --relative-to="$1/configs/devices/x86_64-softmmu" \
        "${SAN_DEVICES%.mak}"
}

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

# Firmware: the source package has few blobs, so the build tree gets
# Debian's seabios, ipxe-qemu and edk2 files, the option ROMs built from
# the base (from FROM, a gcc build folder, when given) and the blobs the
# source has (the board ROMs of arm's BMC machines), in pc-bios/ and in
# qemu-bundle/usr/local/share/qemu: the data directory, where a QEMU run
# from its build tree looks for them.
link_firmware() {
    local bdir=$1 roms=${2:-$1} f
    for f in /usr/share/seabios/*.bin /usr/lib/ipxe/qemu/*.rom \
             "$roms"/pc-bios/optionrom/*.bin "$bdir"/../src/pc-bios/*.bin; do
        link_blob "$bdir" "$f" "$(basename "$f")"
    done
    # Debian's edk2 for arm virt, under the names the base gives its own
    for f in "${!EDK2_FILES[@]}"; do
        link_blob "$bdir" "${EDK2_FILES[$f]}" "$f"
    done
}

# link_blob BUILDDIR FILE NAME: FILE, if it exists, as NAME in the
# build's pc-bios/ and data directory
link_blob() {
    local d
    [ -f "$2" ] || return 0
    for d in "$1/pc-bios" "$1/qemu-bundle/usr/local/share/qemu"; do
        mkdir -p "$d"
        ln -sf "$2" "$d/$3"
    done
}

# base_qtest_goals BUILDDIR GOALS: GOALS with each base-qtests-ARCH
# replaced by the base's qtests of the target (the meson suite
# qtest-ARCH, from the build's Makefile.mtest), ours (nvdimm-*) aside.
# make writes Makefile.mtest on its first run in a new build folder.
base_qtest_goals() {
    local bdir=$1 goal arch
    case " $2 " in
    *" base-qtests-"*)
        make -C "$bdir" --no-print-directory Makefile.mtest > /dev/null ;;
    esac
    for goal in $2; do
        case "$goal" in
        base-qtests-*)
            arch=${goal#base-qtests-}
            sed -n "s/^\.check-qtest-$arch\.deps = //p" \
                "$bdir/Makefile.mtest" | tr ' ' '\n' |
                grep '^tests/qtest/' | grep -v '/nvdimm-' ;;
        *) echo "$goal" ;;
        esac
    done | tr '\n' ' '
}

# The objects of ppc64 and loongarch64 that include our header, directly
# or through spapr_nvdimm.h
nvdimm_callers() {
    local src=$1 f
    for f in $(cd "$src" && grep -l -e '"hw/mem/nvdimm.h"' \
               -e '"hw/ppc/spapr_nvdimm.h"' hw/ppc/*.c hw/loongarch/*.c); do
        case "$f" in
        hw/ppc/*) echo "libqemu-ppc64-softmmu.a.p/${f//\//_}.o" ;;
        *) echo "libqemu-loongarch64-softmmu.a.p/${f//\//_}.o" ;;
        esac
    done
}

# compile_nvdimm_callers SRC BUILDDIR: compile them again (ccache replays
# the compiler's messages) and fail on any warning: --disable-werror
# would let one pass.
compile_nvdimm_callers() {
    local bdir=$2 objs out
    objs=$(nvdimm_callers "$1")
    # shellcheck disable=SC2086
    (cd "$bdir" && rm -f $objs)
    log "compiling the NVDIMM callers of ppc64 and loongarch64:" $objs
    # shellcheck disable=SC2086
    out=$(ninja -C "$bdir" -j"${VNV_JOBS:-$(nproc)}" $objs 2>&1) || {
        echo "$out" | tail -n 40 >&2
        exit 1
    }
    if grep -q 'warning:' <<< "$out"; then
        grep -B 3 -A 3 'warning:' <<< "$out" >&2
        exit 1
    fi
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
    goals=$(base_qtest_goals "$bdir" "$goals")
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
            "$OTHER_GOALS"
        compile_nvdimm_callers "$root/src" "$root/qemu" ;;
    others-all)
        stage "$root/src" all
        configure_and_build "$root/src" "$root/qemu" "$TARGETS" \
            "$OTHER_GOALS $OTHER_LINK_GOALS" ;;
    reference)
        stage "$build/ref/src" tests
        configure_and_build "$build/ref/src" "$build/ref/qemu" "$TARGETS" \
            "$X86_GOALS ${QTESTS[*]}"
        link_firmware "$build/ref/qemu"
        ln -sfn ref/qemu "$build/reference" ;;
    reference-others)
        # After "others": ccache then holds most of these objects.
        stage "$build/ref/src" tests
        configure_and_build "$build/ref/src" "$build/ref/qemu" "$TARGETS" \
            "$REF_OTHER_GOALS"
        link_firmware "$build/ref/qemu" ;;
    san|asan|fuzz)
        # The option ROMs come from the gcc build: they are 16-bit code
        # that the clang flags are not meant for.  -O1, as ASan's
        # documentation recommends, also compiles faster than -O2: this
        # is the one build of make check that shares no object through
        # ccache.  For the same reason it has only the devices its tests
        # start (SAN_DEVICES): a fifth fewer objects to compile.
        stage "$root/src" all
        VNV_CC=clang-14 VNV_CXX=clang++-14 \
            configure_and_build "$root/src" "$root/qemu-san" x86_64-softmmu \
            "qemu-system-x86_64 qemu-fuzz-x86_64 $ALL_QTESTS" \
            --enable-fuzzing --enable-asan --enable-ubsan \
            --extra-cflags=-O1 --extra-cxxflags=-O1 \
            --without-default-devices \
            --with-devices-x86_64="$(san_devices "$root/src")"
        link_firmware "$root/qemu-san" "$root/qemu" ;;
    *)
        echo "usage: $0 patched|others|others-all|reference|" \
             "reference-others|san|stage" >&2
        exit 2 ;;
    esac
}

main "$@"
