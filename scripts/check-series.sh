#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Check the patch series the way its users take it: checkpatch-clean,
# applied with git am, built at every prefix, and applied with quilt inside
# Debian's source package.  Prints "PASS name" / "FAIL name: why" lines.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
series="$build/series"
out="$build/patches"
X86=(--target-list=x86_64-softmmu --python=/usr/bin/python3
     --without-default-features --enable-tcg --enable-libpmem
     --enable-fdt=system --disable-docs --disable-user
     --disable-install-blobs --disable-werror
     --cc="ccache gcc" --cxx="ccache g++")

export CCACHE_NOHASHDIR=1

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; }

# build_x86 ROOT: configure ROOT/src-patched into ROOT/qemu and build the
# emulator.  The same relative layout as build/ lets ccache reuse objects.
build_x86() {
    local root=$1
    mkdir -p "$root/qemu"
    (
        export CCACHE_BASEDIR=$root
        cd "$root/qemu" || exit 1
        if [ ! -f build.ninja ]; then
            ../src-patched/configure "${X86[@]}" > configure.log 2>&1 ||
                exit 1
        fi
        make -j"$(nproc)" --no-print-directory qemu-system-x86_64 \
            > make.log 2>&1
    )
}

check_checkpatch() {
    local p res
    for p in "$out"/0*.patch; do
        case "$p" in */0000-cover-letter.patch) continue ;; esac
        res=$(cd "$series/base" &&
              perl scripts/checkpatch.pl --no-summary --terse "$p" 2>&1)
        if grep -q 'ERROR:' <<< "$res"; then
            fail "series/checkpatch/$(basename "$p"): $(grep -c 'ERROR:' \
                <<< "$res") errors"
            grep 'ERROR:' <<< "$res" | head -n 5 | sed 's/^/    /'
        else
            pass "series/checkpatch/$(basename "$p")" \
                "($(grep -c 'WARNING:' <<< "$res") warnings)"
        fi
    done
}

# Every prefix 1..k of the series configures and builds.
check_prefixes() {
    local root="$series/prefix" commits k=0 c
    rm -rf "$root/src-patched"
    git clone -q -b base "$series/base" "$root/src-patched"
    # shellcheck disable=SC2046
    git -C "$root/src-patched" am -q $(ls "$out"/0*.patch |
                                      grep -v 0000-cover-letter)
    commits=$(git -C "$root/src-patched" rev-list --reverse base..HEAD)
    for c in $commits; do
        k=$((k + 1))
        git -C "$root/src-patched" checkout -q "$c"
        if build_x86 "$root"; then
            pass "series/prefix-$k builds"
        else
            fail "series/prefix-$k does not build (log: $root/qemu/make.log)"
        fi
    done
}

# Dropped into Debian's source package: quilt applies it after Debian's.
check_quilt() {
    local root="$series/quilt" dsc p
    dsc=$(ls "$build"/base-dl/qemu_*.dsc | head -n 1)
    rm -rf "$root/src-patched"
    mkdir -p "$root"
    dpkg-source --no-check -x "$dsc" "$root/src-patched" > /dev/null
    for p in "$out"/0*.patch; do
        case "$p" in */0000-cover-letter.patch) continue ;; esac
        cp "$p" "$root/src-patched/debian/patches/vnvdimm-$(basename "$p")"
        echo "vnvdimm-$(basename "$p")" \
            >> "$root/src-patched/debian/patches/series"
    done
    if (cd "$root/src-patched" &&
        QUILT_PATCHES=debian/patches quilt push -a -q > /dev/null); then
        pass "series/quilt push -a in the Debian source package"
    else
        fail "series/quilt push -a failed"
        return
    fi
    if build_x86 "$root"; then
        pass "series/quilt tree builds"
    else
        fail "series/quilt tree does not build (log: $root/qemu/make.log)"
    fi
}

main() {
    if ! "$top/scripts/make-patches.py" --check-am; then
        fail "series/make-patches or git am"
        return 1
    fi
    pass "series/git am of the whole series"
    check_checkpatch
    check_prefixes
    check_quilt
}

main "$@"
