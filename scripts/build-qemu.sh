#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build QEMU from the pristine base.
#
#   build-qemu.sh patched    our files over the base, patches/ applied;
#                            x86_64-softmmu in build/qemu
#   build-qemu.sh reference  the unmodified base; x86_64-softmmu in
#                            build/reference (the test oracle)
#   build-qemu.sh others     the patched tree for the other targets that
#                            compile NVDIMM code, in build/qemu-others
#   build-qemu.sh asan       the patched tree with ASan and UBSan, in
#                            build/qemu-asan
#   build-qemu.sh fuzz       the patched tree with clang, libFuzzer, ASan
#                            and UBSan: build/qemu-fuzz/qemu-fuzz-x86_64
#   build-qemu.sh reftests   the base plus only our tests and patches/,
#                            for running our qtests against the reference
#                            (builds just the NVDIMM qtest binaries)
#   build-qemu.sh stage      only lay out the patched source tree
#
# A rebuild touches only what changed: the patched tree is staged afresh
# and synced by content into build/src-patched.  With VNV_BUILD_TAG=T set,
# the patched tree and build folders get a "-T" suffix, so that parallel
# work does not share them.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
pristine="$build/pristine"
tag=${VNV_BUILD_TAG:+-$VNV_BUILD_TAG}

# The files this repo owns; the base's versions are deleted first.
OWNED=(
    hw/mem/nvdimm.c
    hw/acpi/nvdimm.c
    include/hw/mem/nvdimm.h
    backends/hostmem-file.c
    docs/nvdimm.txt
)
# Files this repo adds to the base.  patches/ refers to them, so every
# staged tree gets them, the reftests tree included.
ADDED=(
    hw/mem/nvdimm-persistence.c
    hw/mem/nvdimm-persistence-stub.c
    include/hw/mem/nvdimm-persistence.h
    hw/mem/nvdimm-flush.c
    include/hw/mem/nvdimm-flush.h
    hw/mem/nvdimm-labels.c
    include/hw/mem/nvdimm-labels.h
)

CONFIGURE_FLAGS=(
    --python=/usr/bin/python3
    --without-default-features
    --enable-tcg --enable-kvm --enable-libpmem --enable-fdt=system
    --disable-docs --disable-user --disable-install-blobs
    --disable-werror
)

log() { printf '[build] %s\n' "$*"; }

QTESTS=(tests/qtest/nvdimm-device-test tests/qtest/nvdimm-acpi-test)
# Tests of features the reference does not have: not built in reftests.
OURS_ONLY_QTESTS=(tests/qtest/nvdimm-persistence-test
                  tests/qtest/nvdimm-flush-test)
ALL_QTESTS="${QTESTS[*]} ${OURS_ONLY_QTESTS[*]}"
# The emulator and the option ROMs; not the base's own test suite.
X86_GOALS="qemu-system-x86_64 recurse-all"

# Our files to lay over the base: all of them, or only the tests.
overlay_files() {
    local f
    if [ "$1" = all ]; then
        for f in "${OWNED[@]}"; do
            if [ -f "$top/$f" ]; then
                echo "$f"
            fi
        done
    fi
    for f in "${ADDED[@]}"; do
        if [ -f "$top/$f" ]; then
            echo "$f"
        fi
    done
    (cd "$top" && find tests/qtest -type f 2>/dev/null) || true
}

# stage_patched_tree NAME [all|tests]: build/src-NAME from the pristine
# base, our files over it, patches/ applied.
stage_patched_tree() {
    local name=$1 what=${2:-all}
    local stage="$build/stage-$name" dst="$build/src-$name" f p
    rm -rf "$stage"
    cp -a "$pristine" "$stage"
    for f in $(overlay_files "$what"); do
        rm -f "$stage/$f"
        mkdir -p "$(dirname "$stage/$f")"
        cp "$top/$f" "$stage/$f"
    done
    if [ -f "$top/patches/series" ]; then
        while read -r p; do
            case "$p" in ''|'#'*) continue ;; esac
            patch -d "$stage" -p1 -s --no-backup-if-mismatch \
                < "$top/patches/$p"
        done < "$top/patches/series"
    fi
    # Content-based sync without times: unchanged files keep their
    # mtimes, so ninja rebuilds only what really changed.
    mkdir -p "$dst"
    rsync -rl --checksum --delete "$stage/" "$dst/"
    rm -rf "$stage"
}

# Firmware: the source package has no blobs, so the build tree gets
# Debian's seabios and ipxe-qemu files and the option ROMs built from the
# base, in pc-bios/ and in qemu-bundle/usr/local/share/qemu: the data
# directory, where a QEMU run from its build tree looks for them.
link_firmware() {
    local bdir=$1 f d
    local data="$bdir/qemu-bundle/usr/local/share/qemu"
    mkdir -p "$bdir/pc-bios" "$data"
    for f in /usr/share/seabios/*.bin /usr/lib/ipxe/qemu/*.rom \
             "$bdir"/pc-bios/optionrom/*.bin; do
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
        log "configuring $(basename "$bdir") ($targets)"
        (cd "$bdir" && "${args[@]}" > configure.log 2>&1) || {
            tail -n 30 "$bdir/configure.log" >&2
            exit 1
        }
        echo "${args[*]}" > "$bdir/vnv-configure.args"
    fi
    log "building $(basename "$bdir")"
    # shellcheck disable=SC2086
    make -C "$bdir" -j"$(nproc)" --no-print-directory $goals \
        > "$bdir/make.log" 2>&1 || {
        grep -E 'error|Error' "$bdir/make.log" | head -n 40 >&2
        exit 1
    }
    link_firmware "$bdir"
}

main() {
    local what=${1:-patched}
    export CCACHE_BASEDIR="$build" CCACHE_NOHASHDIR=1
    export CCACHE_DIR="${CCACHE_DIR:-$HOME/.ccache}"
    "$top/scripts/fetch-base.sh"
    case "$what" in
    stage)
        stage_patched_tree "patched$tag" ;;
    patched)
        stage_patched_tree "patched$tag"
        configure_and_build "$build/src-patched$tag" "$build/qemu$tag" \
            x86_64-softmmu "$X86_GOALS $ALL_QTESTS" ;;
    reference)
        configure_and_build "$pristine" "$build/reference" x86_64-softmmu \
            "$X86_GOALS" ;;
    reftests)
        stage_patched_tree reftests tests
        configure_and_build "$build/src-reftests" "$build/reftests" \
            x86_64-softmmu "${QTESTS[*]}" ;;
    others)
        stage_patched_tree "patched$tag"
        configure_and_build "$build/src-patched$tag" \
            "$build/qemu-others$tag" \
            aarch64-softmmu,ppc64-softmmu,loongarch64-softmmu \
            "qemu-system-aarch64 qemu-system-ppc64 qemu-system-loongarch64" ;;
    asan)
        stage_patched_tree "patched$tag"
        configure_and_build "$build/src-patched$tag" "$build/qemu-asan$tag" \
            x86_64-softmmu "$X86_GOALS $ALL_QTESTS" \
            --enable-asan --enable-ubsan ;;
    fuzz)
        # A tree of its own: the fuzz build runs for hours, and staging
        # must not touch the tree another build is reading.
        stage_patched_tree "fuzz$tag"
        VNV_CC=clang-14 VNV_CXX=clang++-14 \
            configure_and_build "$build/src-fuzz$tag" "$build/qemu-fuzz$tag" \
            x86_64-softmmu qemu-fuzz-x86_64 \
            --enable-fuzzing --enable-asan --enable-ubsan ;;
    *)
        echo "usage: $0 patched|reference|reftests|others|asan|fuzz|stage" >&2
        exit 2 ;;
    esac
}

main "$@"
