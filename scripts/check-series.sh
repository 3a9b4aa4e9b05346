#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Check the patch series the way its users take it: written by
# make-patches.py, checkpatch-clean, applied with git am to a fresh repo of
# the base, built at every prefix, and applied with quilt inside Debian's
# source package and built there.  Prints "PASS name" / "FAIL name: why"
# lines (check.sh counts them) and the time each part took.
#
#   check-series.sh [--no-build] [--rev REV]
#
# REV: take our files from a commit.  --no-build leaves out the builds of
# every prefix and of the quilt tree (make check-full runs them); the
# trees that git am and quilt give are still compared with build/src,
# the tree make check built and tested.
#
# The builds are incremental: build/series/prefix keeps one source tree
# and one build folder, and each prefix is a git checkout of the next
# commit, so ninja compiles only what that commit changed, and a prefix
# whose exact source tree (git tree id) already built with the same flags
# is not built again; the quilt tree is synced by content into
# build/series/quilt.  Both use the configure flags and the folder layout
# of build-qemu.sh, so ccache shares objects with build/qemu.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
series="$build/series"
out="$build/patches"

eval "$(sed -n '/^CONFIGURE_FLAGS=(/,/^)/p; /^TARGETS=/p' \
    "$top/scripts/build-qemu.sh")"
X86=(--target-list="$TARGETS" --cc="ccache gcc" --cxx="ccache g++"
     "${CONFIGURE_FLAGS[@]}")

export CCACHE_NOHASHDIR=1
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.ccache}"

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; }
timed() { echo "[series] $1: $(( $(date +%s) - $2 ))s"; }

# The patches without the cover letter, in order.
patch_files() {
    local p
    for p in "$out"/0*.patch; do
        case "$p" in */0000-cover-letter.patch) ;; *) echo "$p" ;; esac
    done
}

# build_x86 ROOT: configure ROOT/src into ROOT/qemu (once) and
# build the emulator and the NVDIMM qtests the tree has.
build_x86() {
    local root=$1 goals=(qemu-system-x86_64) t
    for t in "$root"/src/tests/qtest/nvdimm*-test.c; do
        if [ -f "$t" ]; then
            goals+=("tests/qtest/$(basename "$t" .c)")
        fi
    done
    mkdir -p "$root/qemu"
    (
        export CCACHE_BASEDIR=$root
        cd "$root/qemu" || exit 1
        if [ ! -f build.ninja ]; then
            ../src/configure "${X86[@]}" > configure.log 2>&1 ||
                exit 1
        fi
        # ninja, not make: ninja reruns meson first when a meson.build
        # changed, so a target that the commit adds is known; make reads
        # its list of ninja targets before that.
        ninja -j"$(nproc)" "${goals[@]}" > make.log 2>&1
    )
}

# same_as_tested TREE WHAT: TREE holds the same sources as build/src, the
# tree build-qemu.sh laid out and make check built and tested (debian/,
# the packaging, aside: quilt adds our patches to it; and fetch-base.sh's
# mark)
same_as_tested() {
    local tree=$1 what=$2 diffs
    if [ ! -d "$build/src" ]; then
        fail "series/$what: build/src is missing (build-qemu.sh stage)"
        return 1
    fi
    diffs=$(diff -rq --exclude=.git --exclude=.pc --exclude=debian \
        --exclude=.vnvdimm-base "$tree" "$build/src")
    if [ -z "$diffs" ]; then
        pass "series/$what gives the tree make check tested"
    else
        fail "series/$what differs from build/src:" \
            "$(head -n 5 <<< "$diffs" | tr '\n' ' ')"
        return 1
    fi
}

check_checkpatch() {
    local p res nerr nwarn
    for p in $(patch_files); do
        res=$(cd "$series/base" &&
              perl scripts/checkpatch.pl --patch --no-summary --terse "$p" \
                  2>&1)
        nerr=$(grep -c 'ERROR:' <<< "$res")
        nwarn=$(grep -c 'WARNING:' <<< "$res")
        if [ "$nerr" -gt 0 ]; then
            fail "series/checkpatch/$(basename "$p"): $nerr errors"
        else
            pass "series/checkpatch/$(basename "$p") ($nwarn warnings)"
        fi
        grep -E 'ERROR:|WARNING:' <<< "$res" | sed 's|^.*/||; s/^/    /'
    done
}

# git am of the whole series onto a git repo of the base; the result must
# be the tree make-patches.py committed.  The repo is kept between runs
# (a fresh checkout of 400 MB is slow on a busy machine): it is reset to
# the pristine commit, which git checks file by file, and cleaned.
check_git_am() {
    local am="$series/am" want got
    if [ ! -d "$am/.git" ]; then
        rm -rf "$am"
        if ! git clone -q -b base "$series/base" "$am" ||
           ! git -C "$am" config gc.auto 0; then
            fail "series/git clone of the base repo for git am"
            return 1
        fi
    fi
    git -C "$am" am --abort > /dev/null 2>&1
    git -C "$am" fetch -q -f "$series/base" \
        "+refs/tags/pristine:refs/tags/pristine" &&
        git -C "$am" checkout -q -f -B applied pristine &&
        git -C "$am" clean -q -fdx || {
        fail "series/reset of the git am repo to the pristine base"
        return 1
    }
    # shellcheck disable=SC2046
    if ! git -C "$am" -c user.name=check -c user.email=check@invalid \
            am -q $(patch_files); then
        fail "series/git am of the whole series onto the base"
        return 1
    fi
    want=$(git -C "$series/base" rev-parse 'series^{tree}')
    got=$(git -C "$am" rev-parse 'HEAD^{tree}')
    if [ "$want" = "$got" ]; then
        pass "series/git am of the whole series onto the base"
    else
        fail "series/git am gives another tree than the series"
        return 1
    fi
    # build/src as a git tree, every file added as make-patches.py adds
    local tmp tested
    tmp=$(mktemp -d)
    tested=$(export GIT_INDEX_FILE=$tmp/index
             git -C "$am" --work-tree="$build/src" add -A -f &&
             git -C "$am" write-tree)
    rm -rf "$tmp"
    if [ "$tested" = "$got" ]; then
        pass "series/git am gives the tree make check tested"
    else
        fail "series/git am gives another tree than build/src:" \
            "$(git -C "$am" diff --stat "$got" "$tested" | tail -n 3)"
    fi
}

# Every prefix 1..k of the series (as git am made it) configures and
# builds.  The prefix tree persists between runs; only what a commit
# changes is rewritten, so only that is compiled again.  Its git folder
# is outside the tree: QEMU's configure turns -Werror on in a git
# checkout, and build-qemu.sh's trees (whose objects ccache shares) are
# built without it.
check_prefixes() {
    local root="$series/prefix" src gitdir k=0 c t0
    src="$root/src"
    gitdir="$root/git"
    if [ ! -d "$gitdir" ] || [ -e "$src/.git" ]; then
        rm -rf "$gitdir" "$src/.git"
        git init -q --bare "$gitdir" || {
            fail "series/git init of the prefix repo"
            return 1
        }
    fi
    mkdir -p "$src"
    local g=(git --git-dir="$gitdir" --work-tree="$src")
    "${g[@]}" fetch -q -f "$series/am" "+HEAD:refs/heads/am" \
        "+refs/tags/pristine:refs/tags/pristine" || {
        fail "series/fetch of the series into the prefix repo"
        return 1
    }
    # A source tree that built once with these flags and this compiler
    # builds again: its git tree id is recorded and not built twice
    # (VNV_SERIES_REBUILD=1 builds every prefix anyway).
    local flavour verified="$root/built-trees" tree subject
    flavour=$(printf '%s\n' "${X86[@]}" "$(gcc --version | head -n 1)" |
              sha1sum | cut -c1-12)
    if [ -n "${VNV_SERIES_REBUILD:-}" ]; then
        rm -f "$verified"
    fi
    for c in $("${g[@]}" rev-list --reverse pristine..am); do
        k=$((k + 1))
        t0=$(date +%s)
        tree=$("${g[@]}" rev-parse "$c^{tree}")
        subject=$("${g[@]}" log -1 --format=%s "$c")
        if grep -qx "$tree $flavour" "$verified" 2>/dev/null; then
            pass "series/prefix-$k builds ($subject; this tree built before)"
            continue
        fi
        "${g[@]}" checkout -q -f --detach "$c"
        if build_x86 "$root"; then
            pass "series/prefix-$k builds ($subject)"
            echo "$tree $flavour" >> "$verified"
        else
            cp "$root/qemu/make.log" "$root/prefix-$k.log"
            fail "series/prefix-$k does not build" \
                "(log: ${root#"$top"/}/prefix-$k.log)"
            grep -E 'error:|FAILED:|ninja: ' "$root/qemu/make.log" |
                head -n 10 | sed 's/^/    /'
        fi
        timed "prefix-$k" "$t0"
    done
}

# Debian's source package, unpacked once (its patches applied, .pc kept
# for quilt), then our series appended to debian/patches/series and
# pushed with quilt, as a packager would.
check_quilt() {
    local root="$series/quilt" deb="$series/debsrc" stage dsc p name
    stage="$root/stage"
    if [ ! -f "$deb/debian/patches/series" ]; then
        dsc=$(find "$build/base-dl" -name 'qemu_*.dsc' | sort | head -n 1)
        rm -rf "$deb"
        dpkg-source --no-check -x "$dsc" "$deb" > /dev/null || {
            fail "series/dpkg-source -x of the base source package"
            return 1
        }
    fi
    mkdir -p "$root"
    rsync -a --delete "$deb/" "$stage/"
    for p in $(patch_files); do
        name="vnvdimm-$(basename "$p")"
        cp "$p" "$stage/debian/patches/$name"
        echo "$name" >> "$stage/debian/patches/series"
    done
    if (cd "$stage" &&
        QUILT_PATCHES=debian/patches quilt push -a -q > "$root/quilt.log" \
            2>&1); then
        pass "series/quilt push -a in the Debian source package"
    else
        fail "series/quilt push -a failed (log: ${root#"$top"/}/quilt.log)"
        return
    fi
    # the same sources as git am gave, for every file the series touches
    for p in $(git -C "$series/am" diff --name-only pristine..HEAD); do
        if ! cmp -s "$stage/$p" "$series/am/$p"; then
            fail "series/quilt tree differs from git am's in $p"
            return
        fi
    done
    same_as_tested "$stage" "quilt push"
    [ "$building" = 1 ] || return 0
    # by content, so that unchanged files keep their times
    mkdir -p "$root/src"
    rsync -rl --checksum --delete --exclude=/.pc "$stage/" \
        "$root/src/"
    if build_x86 "$root"; then
        pass "series/quilt tree builds"
    else
        fail "series/quilt tree does not build" \
            "(log: ${root#"$top"/}/qemu/make.log)"
        grep -E 'error:|FAILED:|ninja: ' "$root/qemu/make.log" |
            head -n 10 | sed 's/^/    /'
    fi
}

main() {
    local t0 t_all
    building=1
    if [ "${1:-}" = --no-build ]; then
        building=0
        shift
    fi
    t_all=$(date +%s)
    "$top/scripts/fetch-base.sh" || {
        fail "series/fetch-base.sh"
        return 1
    }
    # A repo made before make-patches.py turned gc.auto off
    if [ -d "$series/base/.git" ]; then
        git -C "$series/base" config gc.auto 0
    fi
    # One run at a time: build/series and build/patches are shared.
    mkdir -p "$series"
    exec 9> "$series/.lock"
    flock 9
    export VNV_SERIES_LOCKED=1
    t0=$(date +%s)
    if ! "$top/scripts/make-patches.py" "$@"; then
        fail "series/make-patches"
        return 1
    fi
    pass "series/make-patches ($(patch_files | wc -l) patches)"
    timed make-patches "$t0"
    t0=$(date +%s)
    check_checkpatch
    timed checkpatch "$t0"
    t0=$(date +%s)
    check_git_am || return 1
    timed "git am" "$t0"
    if [ "$building" = 1 ]; then
        t0=$(date +%s)
        check_prefixes
        timed "all prefixes" "$t0"
    fi
    t0=$(date +%s)
    check_quilt
    timed quilt "$t0"
    timed total "$t_all"
}

main "$@"
