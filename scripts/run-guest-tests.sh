#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run the guest test suites (tests/guest/test_*.py) against one QEMU and
# print each case as "PASS name" / "FAIL name: why", then a summary line
# "N passed, N failed".  Builds the guest first if it is missing.
#
#   run-guest-tests.sh [--qemu BIN] [--reference] [--verbose] [SUITE...]
#
# SUITE is a test file's name without test_ and .py (e.g. labels).  BIN
# names a build: on arm virt or pseries (VNV_GUEST_MACHINES) its
# qemu-system-aarch64 or qemu-system-ppc64 runs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# a suite boots up to a dozen guests under TCG on a shared machine
SUITE_TIMEOUT=900
# crash boots the guest once per SIGKILL (VNV_CRASH_KILLS, 12 by default)
CRASH_SUITE_TIMEOUT=$((300 + 60 * ${VNV_CRASH_KILLS:-12}))

usage() {
    sed -n '4,12s/^# \{0,1\}//p' "$0"
    exit 2
}

# run_suite FILE ARGS...: run one suite under a time limit, pass its
# lines through and count them; a suite that reports nothing fails.
run_suite() {
    local file=$1 name out rc=0 limit
    shift
    name=$(basename "$file" .py)
    name=${name#test_}
    echo "[guest] suite $name" >&2
    limit=$SUITE_TIMEOUT
    [ "$name" != crash ] || limit=$CRASH_SUITE_TIMEOUT
    out=$(timeout -k 10 "$limit" python3 "$file" "$@") || rc=$?
    [ -z "$out" ] || echo "$out"
    npass=$((npass + $(grep -c '^PASS ' <<< "$out" || true)))
    nfail=$((nfail + $(grep -c '^FAIL ' <<< "$out" || true)))
    if ! grep -qE '^(PASS|FAIL) ' <<< "$out"; then
        echo "FAIL $name: the suite reported no case (exit $rc)"
        nfail=$((nfail + 1))
    elif [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' <<< "$out"; then
        echo "FAIL $name: the suite exited with $rc"
        nfail=$((nfail + 1))
    fi
}

# The guests of the machines under test (VNV_GUEST_MACHINES), one per
# Debian architecture (scripts/vnv/machines.py has which).
build_guests() {
    local arch
    for arch in $(cd "$top/scripts" && python3 -c '
import sys
from vnv import machines
print(" ".join(sorted({machines.get(m).arch for m in sys.argv[1:]})))
' ${VNV_GUEST_MACHINES:-pc q35}); do
        "$top/scripts/make-guest.sh" "$arch" >&2
    done
}

main() {
    local args=() suites=() s
    while [ $# -gt 0 ]; do
        case "$1" in
        --qemu) args+=(--qemu "$2"); shift ;;
        --reference)
            args+=(--qemu "$top/build/reference/qemu-system-x86_64") ;;
        --verbose) args+=(--verbose) ;;
        -h|--help) usage ;;
        -*) usage ;;
        *) suites+=("$1") ;;
        esac
        shift
    done
    build_guests
    if [ ${#suites[@]} -eq 0 ]; then
        for s in "$top"/tests/guest/test_*.py; do
            s=$(basename "$s" .py)
            suites+=("${s#test_}")
        done
    fi
    npass=0
    nfail=0
    for s in "${suites[@]}"; do
        run_suite "$top/tests/guest/test_$s.py" "${args[@]}"
    done
    echo "$npass passed, $nfail failed"
    [ "$nfail" -eq 0 ]
}

main "$@"
