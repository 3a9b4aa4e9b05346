#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make check: build everything that is missing, then run every suite and
# end with one line "N passed, N failed".  Each suite reports its cases on
# lines "PASS name" / "FAIL name: why"; this script only counts them.
#
#   check.sh [SUITE...]   suites: builds qtests identity guest crash
#                                 hardening asan fuzz independence series
#                                 (the default)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
results="$top/build/check-results.txt"
ours="$top/build/qemu/qemu-system-x86_64"
ref="$top/build/reference/qemu-system-x86_64"
QTESTS=(nvdimm-device-test nvdimm-acpi-test)
# Tests of features the reference does not have: run against ours only.
OURS_ONLY_QTESTS=(nvdimm-persistence-test nvdimm-flush-test)

pass() { echo "PASS $*" | tee -a "$results"; }
fail() { echo "FAIL $*" | tee -a "$results"; }

# step NAME COMMAND...: one case that passes when COMMAND exits 0.
step() {
    local name=$1 log
    shift
    log="$top/build/logs/$name.log"
    mkdir -p "$(dirname "$log")"
    echo "[check] $name"
    if "$@" > "$log" 2>&1; then
        pass "$name"
    else
        fail "$name: exit $? (log: build/logs/$name.log)"
        tail -n 20 "$log" | sed 's/^/    /'
        return 1
    fi
}

suite_builds() {
    step setup-host scripts/setup-host.sh
    step build-reference scripts/build-qemu.sh reference
    step build-patched scripts/build-qemu.sh patched
    step build-reftests scripts/build-qemu.sh reftests
    step build-other-targets scripts/build-qemu.sh others
    step build-guest scripts/make-guest.sh
}

# Run one glib qtest binary in TAP mode against one QEMU and count cases.
run_qtest() {
    local label=$1 bin=$2 qemu=$3 out line
    if [ ! -x "$bin" ] || [ ! -x "$qemu" ]; then
        fail "$label: not built"
        return
    fi
    local rc=0 log="$top/build/logs/$label.log"
    mkdir -p "$(dirname "$log")"
    out=$(QTEST_QEMU_BINARY=$qemu timeout 900 "$bin" --tap -k 2>&1) || rc=$?
    echo "$out" > "$log"
    while IFS= read -r line; do
        case "$line" in
        "ok "*"# SKIP"*) ;;
        "ok "*) pass "$label ${line#ok [0-9]* }" ;;
        "not ok "*) fail "$label ${line#not ok [0-9]* }" ;;
        esac
    done <<< "$out"
    if ! grep -qE '^(not )?ok ' <<< "$out"; then
        fail "$label: ran no case (log: build/logs/$label.log)"
    elif [ "$rc" -ne 0 ] && ! grep -q '^not ok ' <<< "$out"; then
        fail "$label: exited with status $rc (log: build/logs/$label.log)"
    fi
}

suite_qtests() {
    local t
    mkdir -p "$top/build/logs"
    for t in "${QTESTS[@]}"; do
        run_qtest "ours/$t" "$top/build/qemu/tests/qtest/$t" "$ours"
        NVDIMM_TEST_REFERENCE=1 \
            run_qtest "reference/$t" "$top/build/reftests/tests/qtest/$t" "$ref"
    done
    for t in "${OURS_ONLY_QTESTS[@]}"; do
        run_qtest "ours/$t" "$top/build/qemu/tests/qtest/$t" "$ours"
    done
}

# The NFIT of each configuration the ACPI qtest dumps must be the same,
# byte for byte, under ours and under the reference build.
suite_identity() {
    local d="$top/build/nfit-identity" f name
    rm -rf "$d"
    mkdir -p "$d/ours" "$d/reference"
    NVDIMM_TEST_DUMP_DIR="$d/ours" QTEST_QEMU_BINARY=$ours \
        timeout 900 "$top/build/qemu/tests/qtest/nvdimm-acpi-test" \
        > "$top/build/logs/identity-ours.log" 2>&1
    NVDIMM_TEST_REFERENCE=1 NVDIMM_TEST_DUMP_DIR="$d/reference" \
        QTEST_QEMU_BINARY=$ref \
        timeout 900 "$top/build/reftests/tests/qtest/nvdimm-acpi-test" \
        > "$top/build/logs/identity-reference.log" 2>&1
    if ! ls "$d/reference"/*.NFIT > /dev/null 2>&1; then
        fail "nfit-identity: the reference run dumped no NFIT"
        return
    fi
    for f in "$d/reference"/*.NFIT; do
        name=$(basename "$f" .NFIT)
        if cmp -s "$f" "$d/ours/$name.NFIT"; then
            pass "nfit-identity/$name"
        else
            fail "nfit-identity/$name: NFIT differs from the reference"
        fi
    done
    # The SSDTs of the same runs: both must decompile; the diff of their
    # ASL is kept in build/ssdt-diff/ for review.
    run_suite ssdt-diff "" 300 scripts/ssdt-diff.sh "$d/ours" \
        "$d/reference" "$top/build/ssdt-diff"
    # Our _LSI/_LSR/_LSW under acpiexec, MBOX swapped for a fake mailbox
    run_suite lsx-fake-mailbox "" 120 scripts/lsx-fake-mailbox.py \
        "$d/ours/one.SSDT"
}

# run_suite NAME PREFIX TIMEOUT COMMAND...: run a script that prints
# "PASS case" / "FAIL case: why" lines and count them under PREFIX.
run_suite() {
    local name=$1 prefix=$2 limit=$3 out line
    shift 3
    out=$(timeout "$limit" "$@" 2>&1)
    echo "$out" > "$top/build/logs/$name.log"
    while IFS= read -r line; do
        case "$line" in
        "PASS "*) pass "$prefix${line#PASS }" ;;
        "FAIL "*) fail "$prefix${line#FAIL }" ;;
        esac
    done <<< "$out"
    if ! grep -qE '^(PASS|FAIL) ' <<< "$out"; then
        fail "$name: ran no case (log: build/logs/$name.log)"
    fi
}

# The guest acceptance suites, every one in tests/guest/ but crash.
suite_guest() {
    local suites=() f
    for f in tests/guest/test_*.py; do
        f=$(basename "$f" .py)
        [ "$f" = test_crash ] || suites+=("${f#test_}")
    done
    run_suite guest guest/ 2400 scripts/run-guest-tests.sh "${suites[@]}"
}

# Crash consistency of the label area: 20 SIGKILLs of QEMU while the
# guest updates labels (tests/guest/README.md).  Its own suite, so that
# the acceptance suites' time stays their own.
suite_crash() {
    run_suite crash guest/ 1600 scripts/run-guest-tests.sh crash
}

# The bad-configuration matrix and the corrupted migration streams
# (tests/config-matrix/README.md), each case under ours and the reference:
# what stock refuses we refuse, what it accepts we accept with the same
# result unless that hides data, and no pre-existing backend file changes.
suite_hardening() {
    run_suite config-matrix config-matrix/ 900 \
        tests/config-matrix/run.py --qemu "$ours" --reference "$ref"
    run_suite hostile-stream hostile-stream/ 900 \
        tests/config-matrix/hostile_stream.py --qemu "$ours" \
        --reference "$ref"
}

# The NVDIMM qtests and the labels + hotplug guest suites on the ASan and
# UBSan build (build/qemu-asan).  Every sanitizer report goes to a file in
# build/logs/sanitizers/; an ASan or UBSan report fails the suite, and so
# does a leak whose stack passes through our code.  Leaks only in the base
# (QEMU frees little at exit) are counted, not failed: see
# docs/sanitizers-and-fuzzing.md.  VNV_ASAN_GUEST_SUITES picks the guest
# suites; VNV_ASAN_BUILD another sanitizer build folder to run them on
# (e.g. build/qemu-fuzz, whose clang objects have ASan and UBSan too).
SANITIZER_DIR="$top/build/logs/sanitizers"
# Our code, as leak stacks name it
OUR_FRAMES='nvdimm|hostmem-file'

sanitizer_env() {
    # A memory error aborts at once; a leak is only logged (exitcode=0),
    # so that a QEMU the qtests expect to exit with status 1 still does.
    export ASAN_OPTIONS="detect_leaks=1:exitcode=0:abort_on_error=1"
    ASAN_OPTIONS+=":log_path=$SANITIZER_DIR/asan"
    export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1"
    UBSAN_OPTIONS+=":print_stacktrace=1:log_path=$SANITIZER_DIR/ubsan"
}

# Judge the reports in SANITIZER_DIR and in the logs of the runs.
sanitizer_verdict() {
    local f n=0 leaks=0 ours=0
    for f in "$SANITIZER_DIR"/* "$top"/build/logs/asan*.log \
             "$top"/build/logs/asan/*.log; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$f"; then
            fail "asan/reports: ${f#"$top"/}"
            n=$((n + 1))
        fi
        if grep -q 'ERROR: LeakSanitizer' "$f"; then
            leaks=$((leaks + 1))
            # Paragraph mode: one leak (its header and stack) per record
            if awk -v RS= -v re="$OUR_FRAMES" \
                   '/leak of/ && $0 ~ re { found = 1 } END { exit !found }' \
                   "$f"; then
                fail "asan/leaks: a leak through our code in ${f#"$top"/}"
                ours=$((ours + 1))
            fi
        fi
    done
    [ "$n" -gt 0 ] || pass "asan/no-asan-or-ubsan-report"
    [ "$ours" -gt 0 ] || pass "asan/no-leak-in-our-code ($leaks processes" \
        "with leaks in the base only)"
}

suite_asan() {
    local bdir=${VNV_ASAN_BUILD:-$top/build/qemu-asan} t
    local suites=${VNV_ASAN_GUEST_SUITES-labels hotplug}
    if [ -z "${VNV_ASAN_BUILD:-}" ]; then
        step build-asan scripts/build-qemu.sh asan || return
    fi
    rm -rf "$SANITIZER_DIR" "$top/build/logs/asan"
    mkdir -p "$SANITIZER_DIR" "$top/build/logs/asan"
    (
        sanitizer_env
        for t in "${QTESTS[@]}" "${OURS_ONLY_QTESTS[@]}"; do
            run_qtest "asan/$t" "$bdir/tests/qtest/$t" \
                "$bdir/qemu-system-x86_64"
        done
        if [ -n "$suites" ]; then
            # shellcheck disable=SC2086
            run_suite asan-guest asan/guest/ 2400 scripts/run-guest-tests.sh \
                --qemu "$bdir/qemu-system-x86_64" $suites
        fi
    )
    sanitizer_verdict
}

# A short libFuzzer run on the _DSM mailbox (scripts/run-fuzz.sh; the long
# runs are "make fuzz FUZZ_SECONDS=...").  VNV_FUZZ_SECONDS sets the time.
suite_fuzz() {
    local seconds=${VNV_FUZZ_SECONDS:-120}
    step build-fuzz scripts/build-qemu.sh fuzz || return
    run_suite fuzz "" $((seconds + 300)) scripts/run-fuzz.sh --no-build \
        --seconds "$seconds"
}

# The series applies with git am and quilt, builds at every prefix and
# passes checkpatch.  Incremental: about 15 minutes the first time on 2
# busy cores, well under a minute when no commit of the series changed.
suite_series() {
    run_suite series "" 2400 scripts/check-series.sh
}

# Our replaced files must be our own work (the project's shared tool).
suite_independence() {
    local tool="$top/../shared/tools/check-independent"
    if [ ! -x "$tool" ]; then
        echo "[check] independence: $tool not found, skipped"
        return
    fi
    step independence "$tool" "$top"
}

main() {
    local suites=("$@") s start
    if [ ${#suites[@]} -eq 0 ]; then
        suites=(builds qtests identity guest crash hardening asan fuzz
                independence series)
    fi
    mkdir -p "$top/build/logs"
    : > "$results"
    for s in "${suites[@]}"; do
        start=$SECONDS
        "suite_$s"
        echo "[check] suite $s took $((SECONDS - start)) s"
    done
    local npass nfail
    npass=$(grep -c '^PASS ' "$results")
    nfail=$(grep -c '^FAIL ' "$results")
    if [ "$nfail" -gt 0 ]; then
        echo "Failed:"
        grep '^FAIL ' "$results" | sed 's/^/  /'
    fi
    echo "$npass passed, $nfail failed"
    [ "$nfail" -eq 0 ]
}

main "$@"
