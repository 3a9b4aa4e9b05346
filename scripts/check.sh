#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make check: build everything that is missing, then run every suite and
# end with one line "N passed, N failed".  Each suite reports its cases on
# lines "PASS name" / "FAIL name: why"; this script only counts them.
#
#   check.sh [--quick|--full] [SUITE...]
#
# With no SUITE, the x86_64 builds run first, on both cores; then two
# workers take the remaining jobs (JOBS below) in order, each job as soon
# as the jobs it needs are done, one core each.  --quick runs the inner
# loop (the qtests, the NFIT and SSDT identity, one guest boot per machine
# type, bios-tables-test);
# --full adds what does not fit make check's hour (FULL_EXTRA).  Just
# before the final line, the time of every job and the total.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
results="$top/build/check-results.txt"
times="$top/build/check-times.txt"
ours="$top/build/qemu/qemu-system-x86_64"
ref="$top/build/reference/qemu-system-x86_64"
QTESTS=(nvdimm-device-test nvdimm-acpi-test)
# Tests of features the reference does not have: run against ours only.
OURS_ONLY_QTESTS=(nvdimm-persistence-test nvdimm-flush-test nvdimm-ars-test
                  nvdimm-health-test)
NFIT_DUMPS="$top/build/nfit-identity"
# At most this many guest console lines under the list of failures
CONSOLE_LINES_MAX=120

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

# The x86_64 builds the tests need first, on both cores.  The reference
# comes second: ccache gives it every object our series leaves alone.
suite_builds() {
    step setup-host scripts/setup-host.sh
    step build-patched scripts/build-qemu.sh patched
    step build-reference scripts/build-qemu.sh reference
    step build-guest scripts/make-guest.sh
}

# The builds that only some jobs need, each on one core beside the tests;
# the source tree is already staged by suite_builds.  make check builds
# arm virt and compiles the spapr and loongarch objects that include our
# header; check-full links those two emulators too (link_others).
suite_build_others() {
    VNV_JOBS=1 step build-other-targets scripts/build-qemu.sh --no-stage \
        others
}

suite_link_others() {
    VNV_JOBS=1 step link-other-targets scripts/build-qemu.sh --no-stage \
        others-all
}

suite_build_ref_others() {
    VNV_JOBS=1 step build-reference-others scripts/build-qemu.sh \
        --no-stage reference-others
}

suite_build_san() {
    VNV_JOBS=1 step build-san scripts/build-qemu.sh --no-stage san
}

# Run one glib qtest binary in TAP mode against one QEMU and count cases.
# run_qtest LABEL BIN QEMU [ARGS...]: ARGS go to the test binary
run_qtest() {
    local label=$1 bin=$2 qemu=$3 out line
    shift 3
    if [ ! -x "$bin" ] || [ ! -x "$qemu" ]; then
        fail "$label: not built"
        return
    fi
    local rc=0 log="$top/build/logs/$label.log"
    mkdir -p "$(dirname "$log")"
    out=$(QTEST_QEMU_BINARY=$qemu timeout 900 "$bin" --tap -k "$@" 2>&1) ||
        rc=$?
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
    local t dump
    mkdir -p "$top/build/logs"
    rm -rf "$NFIT_DUMPS"
    mkdir -p "$NFIT_DUMPS/ours" "$NFIT_DUMPS/reference"
    for t in "${QTESTS[@]}"; do
        # The ACPI test also dumps each configuration's tables, for the
        # identity suite.
        dump=""
        [ "$t" != nvdimm-acpi-test ] || dump=$NFIT_DUMPS
        NVDIMM_TEST_DUMP_DIR=${dump:+$dump/ours} \
            run_qtest "ours/$t" "$top/build/qemu/tests/qtest/$t" "$ours"
        NVDIMM_TEST_REFERENCE=1 NVDIMM_TEST_DUMP_DIR=${dump:+$dump/reference} \
            run_qtest "reference/$t" "$top/build/reference/tests/qtest/$t" \
            "$ref"
    done
    for t in "${OURS_ONLY_QTESTS[@]}"; do
        run_qtest "ours/$t" "$top/build/qemu/tests/qtest/$t" "$ours"
    done
}

# The NFIT and the SSDT of each configuration the ACPI qtest dumps must
# be the same, byte for byte, under ours and under the reference build
# (scripts/ssdt-diff.sh shows the ASL of an SSDT that is not).  The dumps
# are those of the qtests suite; run alone, this suite makes its own.
suite_identity() {
    local d=$NFIT_DUMPS f name
    if ! ls "$d/reference"/*.NFIT > /dev/null 2>&1; then
        mkdir -p "$d/ours" "$d/reference"
        NVDIMM_TEST_DUMP_DIR="$d/ours" QTEST_QEMU_BINARY=$ours \
            timeout 900 "$top/build/qemu/tests/qtest/nvdimm-acpi-test" \
            > "$top/build/logs/identity-ours.log" 2>&1
        NVDIMM_TEST_REFERENCE=1 NVDIMM_TEST_DUMP_DIR="$d/reference" \
            QTEST_QEMU_BINARY=$ref \
            timeout 900 "$top/build/reference/tests/qtest/nvdimm-acpi-test" \
            > "$top/build/logs/identity-reference.log" 2>&1
    fi
    if ! ls "$d/reference"/*.NFIT > /dev/null 2>&1; then
        fail "nfit-identity: the reference run dumped no NFIT"
        return
    fi
    for f in "$d/reference"/*.NFIT "$d/reference"/*.SSDT; do
        name=$(basename "$f")
        if cmp -s "$f" "$d/ours/$name"; then
            pass "identity/$name"
        else
            fail "identity/$name differs from the reference"
        fi
    done
    # The shared label methods of nvdimm-compact-ssdt=on under acpiexec,
    # NCAL swapped for a fake mailbox
    run_suite lsx-fake-mailbox "" 120 scripts/lsx-fake-mailbox.py \
        "$d/ours/compact.SSDT"
}

# QEMU's own qtests (the meson suite qtest-ARCH of the base), on the
# reference and on ours: what passes on the reference must pass on ours
# (scripts/run-base-qtests.py).  bios-tables-test holds the NVDIMM SSDT
# and NFIT the base expects for pc, q35 and arm virt.
#
# make check leaves out three x86_64 tests that touch no ACPI, memory
# device or NVDIMM code, 50 s a build together: qos-test (virtio and
# PCI drivers), ide-test and test-x86-cpuid-compat.  It runs
# bios-tables-test, 105 s a build, on ours only: its oracle is the base's
# expected tables, and each of its subtests must pass.
# VNV_BASE_QTESTS_ALL=1 runs every test of both targets on both builds
# (make check-base-qtests, check-full); VNV_BASE_QTESTS=LIST runs only
# LIST (make check-quick).
BASE_QTESTS_X86_64_FULL_ONLY=(qos-test ide-test test-x86-cpuid-compat)
BASE_QTESTS_X86_64_OURS_ONLY=(bios-tables-test)

suite_base_qtests() {
    local args=() t
    if [ -z "${VNV_BASE_QTESTS_ALL:-}" ]; then
        for t in "${BASE_QTESTS_X86_64_FULL_ONLY[@]}"; do
            args+=(--skip "$t")
        done
        for t in "${BASE_QTESTS_X86_64_OURS_ONLY[@]}"; do
            args+=(--ours-only "$t")
        done
    fi
    # shellcheck disable=SC2206
    args+=(${VNV_BASE_QTESTS:-})
    run_suite base-qtests-x86_64 "" 3000 scripts/run-base-qtests.py \
        --arch x86_64 --ours build/qemu --reference build/ref/qemu \
        "${args[@]}"
}

# arm virt: the qtests that touch ACPI, memory devices or NVDIMMs.
# Debian's edk2 places the NVDIMM page elsewhere than the edk2 the base
# made its expected tables with.  So the reference's bios-tables-test
# writes them again for it (scripts/firmware-acpi-tables.py, which checks
# that only such addresses changed), and ours must match those.
# qom-test and test-hmp start every arm machine, 87 of them, in about
# 340 s and 110 s per build: here they take virt only, the one arm
# machine that offers NVDIMMs.
BASE_QTESTS_AARCH64=(numa-test device-introspect-test qmp-cmd-test
                     qom-test:/aarch64/qom/virt-10.0
                     test-hmp:/aarch64/hmp/virt-10.0)

suite_base_qtests_aarch64() {
    local tables="$top/build/base-qtests/acpi-aarch64"
    local tests=("${BASE_QTESTS_AARCH64[@]}")
    [ -z "${VNV_BASE_QTESTS_ALL:-}" ] || tests=(--skip bios-tables-test)
    run_suite firmware-acpi-aarch64 "" 900 scripts/firmware-acpi-tables.py \
        --arch aarch64 --reference build/ref/qemu "$tables"
    (cd "$tables" &&
     run_qtest base/aarch64/ours/bios-tables-test \
         "$top/build/qemu/tests/qtest/bios-tables-test" \
         "$top/build/qemu/qemu-system-aarch64")
    run_suite base-qtests-aarch64 "" 3000 scripts/run-base-qtests.py \
        --arch aarch64 --ours build/qemu --reference build/ref/qemu \
        "${tests[@]}"
}

# run_suite NAME PREFIX TIMEOUT COMMAND...: run a script that prints
# "PASS case" / "FAIL case: why" lines and count them under PREFIX.
run_suite() {
    local name=$1 prefix=$2 limit=$3 out line
    shift 3
    out=$(timeout "$limit" "$@" 2>&1)
    mkdir -p "$(dirname "$top/build/logs/$name.log")"
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

# The guest suites of tests/guest/; job guest_NAME runs one.
# guest_suite NAME: one suite of tests/guest/ against ours
# Suites whose NVDIMM code paths do not depend on the machine run their
# loop over machines on one machine only in make check (backend 186 ->
# 96 s, flush 126 -> 107 s, migration 336 s for both), and on pc and q35
# in check-full (VNV_GUEST_BOTH_MACHINES=1): the file backend options
# and flush hints on q35; migration on pc, the machine of
# docs/nvdimm.txt's examples (the device's state, its RAM and the fw_cfg
# ACPI blobs move the same way on q35).  Hotplug, labels and the rest
# run on both.
declare -A GUEST_ONE_MACHINE=([backend]=q35 [flush]=q35 [migration]=pc)

# run-guest-tests.sh limits each suite's time itself (crash by its number
# of kills); GUEST_BACKSTOP only stops a harness that hangs.
GUEST_BACKSTOP=7200

guest_suite() {
    local one=${GUEST_ONE_MACHINE[$1]:-}
    if [ -n "$one" ] && [ -z "${VNV_GUEST_MACHINES:-}" ] &&
       [ -z "${VNV_GUEST_BOTH_MACHINES:-}" ]; then
        VNV_GUEST_MACHINES=$one run_suite "guest-$1" guest/ \
            "$GUEST_BACKSTOP" scripts/run-guest-tests.sh "$1"
    else
        run_suite "guest-$1" guest/ "$GUEST_BACKSTOP" \
            scripts/run-guest-tests.sh "$1"
    fi
}

# The arm virt and pseries guests (tests/guest/README.md, "Machines"):
# each job builds its guest (scripts/make-guest.sh arm64, ppc64el) and
# runs the suites that go through what differs between machines
# (firmware, ACPI or device tree, the guest's driver, the hotplug path)
# on one build; migration runs between ours and the reference itself.
# make check runs arm virt on ours (guests_virt; its NFIT identity and
# its migrations take the reference in too).  check-full adds the same
# suites on the reference (guests_virt_reference) and pseries on both
# (guests_pseries): the ppc64 builds, ours and the reference's, and the
# reference runs do not fit make check's hour (OTHER_MACHINE_FULL_JOBS).
# Scratch folders of their own: the x86 jobs run the same suites.
declare -A OTHER_MACHINE_ARCH=([virt]=arm64 [pseries]=ppc64el)
declare -A OTHER_MACHINE_SUITES=(
    [virt]="detect labels hotplug backend migration"
    [pseries]="detect hotplug migration"
)
OTHER_MACHINE_FULL_JOBS=(
    guests_virt_reference:build_ref_others
    build_ref_ppc64:link_others
    guests_pseries:build_ref_ppc64
)

# other_machine_guests MACHINE ours|reference
other_machine_guests() {
    local machine=$1 build=$2 arch=${OTHER_MACHINE_ARCH[$1]} s
    step "build-guest-$arch" scripts/make-guest.sh "$arch" || return
    for s in ${OTHER_MACHINE_SUITES[$machine]}; do
        if [ "$build" = ours ]; then
            other_machine_suite "$machine" "$s" guest/
        elif [ "$s" != migration ]; then
            other_machine_suite "$machine" "$s" guest-reference/ \
                --reference
        fi
    done
}

# other_machine_suite MACHINE SUITE PREFIX [--reference]
other_machine_suite() {
    local machine=$1 suite=$2 prefix=$3 build=${4:-}
    VNV_GUEST_MACHINES=$machine \
        VNV_GUEST_TESTS_DIR="$top/build/guest-tests-$machine${build:+-ref}" \
        run_suite "guest-$machine-$suite${build:+-reference}" "$prefix" \
        "$GUEST_BACKSTOP" scripts/run-guest-tests.sh ${build:+"$build"} \
        "$suite"
}

suite_guests_virt() {
    other_machine_guests virt ours
}

suite_guests_virt_reference() {
    other_machine_guests virt reference
}

suite_build_ref_ppc64() {
    VNV_JOBS=1 step build-reference-ppc64 scripts/build-qemu.sh \
        --no-stage reference-ppc64
}

suite_guests_pseries() {
    other_machine_guests pseries ours
    other_machine_guests pseries reference
}

# All the acceptance suites, all but crash, in one job (check.sh guest)
suite_guest() {
    local f s
    for f in tests/guest/test_*.py; do
        s=$(basename "$f" .py)
        s=${s#test_}
        [ "$s" = crash ] || guest_suite "$s"
    done
}

# Crash consistency of the label area: 12 SIGKILLs of QEMU while the
# guest updates labels, 100 in make check-full (tests/guest/README.md).
suite_crash() {
    guest_suite crash
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

# The NVDIMM qtests and the labels, hotplug, media_errors and health guest
# suites on the clang ASan and UBSan build (build/qemu-san).  Every sanitizer
# report goes to a file in build/logs/sanitizers/; an ASan or UBSan report
# fails the suite, and so does a leak whose stack passes through our code.  Leaks
# only in the base (QEMU frees little at exit) are counted, not failed:
# see docs/sanitizers-and-fuzzing.md.  VNV_ASAN_GUEST_SUITES picks the
# guest suites.
SANITIZER_DIR="$top/build/logs/sanitizers"
SAN_BUILD="$top/build/qemu-san"
ASAN_GUEST_SUITES=(${VNV_ASAN_GUEST_SUITES-labels hotplug media_errors health})
# Our code, as leak stacks name it
OUR_FRAMES='nvdimm|hostmem-file'

sanitizer_env() {
    mkdir -p "$SANITIZER_DIR"
    # A memory error aborts at once; a leak is only logged (exitcode=0),
    # so that a QEMU the qtests expect to exit with status 1 still does.
    export ASAN_OPTIONS="detect_leaks=1:exitcode=0:abort_on_error=1"
    ASAN_OPTIONS+=":log_path=$SANITIZER_DIR/asan"
    export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1"
    UBSAN_OPTIONS+=":print_stacktrace=1:log_path=$SANITIZER_DIR/ubsan"
    # Scratch folders of their own: the same suites may run on ours now
    export VNV_GUEST_TESTS_DIR="$top/build/guest-tests-asan"
    # Our code takes the same paths on pc and q35 (the guest suites run
    # both on our gcc build), and a guest under ASan is slow: pc only
    export VNV_GUEST_MACHINES=${VNV_ASAN_GUEST_MACHINES:-pc}
}

# Judge the reports in SANITIZER_DIR and in the logs of the runs.
sanitizer_verdict() {
    local f n=0 leaks=0 ours=0
    for f in "$SANITIZER_DIR"/* "$top"/build/logs/asan/*.log \
             "$top"/build/logs/asan/*/*.log; do
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

# The asan jobs: the qtests, each guest suite (job asan_guest_NAME),
# then the verdict
suite_asan_qtests() {
    local t
    (
        sanitizer_env
        for t in "${QTESTS[@]}" "${OURS_ONLY_QTESTS[@]}"; do
            run_qtest "asan/$t" "$SAN_BUILD/tests/qtest/$t" \
                "$SAN_BUILD/qemu-system-x86_64"
        done
    )
}

asan_guest_suite() {
    (
        sanitizer_env
        run_suite "asan/guest-$1" asan/guest/ 2400 \
            scripts/run-guest-tests.sh --qemu "$SAN_BUILD/qemu-system-x86_64" \
            "$1"
    )
}

suite_asan_verdict() {
    sanitizer_verdict
}

# All of it in one job (check.sh asan), the build included
suite_asan() {
    local s
    step build-san scripts/build-qemu.sh san || return
    rm -rf "$SANITIZER_DIR" "$top/build/logs/asan"
    suite_asan_qtests
    for s in "${ASAN_GUEST_SUITES[@]}"; do
        asan_guest_suite "$s"
    done
    sanitizer_verdict
}

# A short libFuzzer run on the _DSM mailbox (scripts/run-fuzz.sh; the long
# runs are "make fuzz FUZZ_SECONDS=...").  VNV_FUZZ_SECONDS sets the time.
suite_fuzz() {
    local seconds=${VNV_FUZZ_SECONDS:-60}
    run_suite fuzz "" $((seconds + 300)) scripts/run-fuzz.sh --no-build \
        --seconds "$seconds"
}

# The series: checkpatch, git am and quilt give the tree we built and
# tested.  The builds of every prefix and of the quilt tree are in
# check-full (suite series-builds).
suite_series() {
    run_suite series "" 1200 scripts/check-series.sh --no-build
}

suite_series_builds() {
    run_suite series-builds "" 3600 scripts/check-series.sh
}

# The libvirt suite (tests/libvirt/): NVDIMMs through a session libvirtd
# of ours, which the suite starts and stops, against our build and the
# reference, on pc and q35.
suite_libvirt() {
    run_suite libvirt libvirt/ 2400 tests/libvirt/test_libvirt.py
}

# make check-full: the full build (Debian's features: VNC, SPICE, user
# networking, 9p, vhost...), installed under build/full-install, and
# the libvirt suite's virt-install case on it.  Its cold build is long:
# make check does not have it.
FULL_PREFIX="$top/build/full-install"

suite_build_full() {
    step setup-host-full scripts/setup-host.sh full || return
    VNV_JOBS=1 step build-full scripts/build-qemu.sh --no-stage full ||
        return
    rm -rf "$FULL_PREFIX"
    step install-full scripts/build-qemu.sh install "$FULL_PREFIX"
}

suite_libvirt_virt_install() {
    run_suite libvirt-virt-install libvirt/ 900 \
        tests/libvirt/test_libvirt.py --virt-install "$FULL_PREFIX"
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

# The jobs after suite_builds, in the order the workers take them, each
# as NAME or NAME:NEEDS (NEEDS: jobs that must be done first, by commas).
# The long ones come first, so that the two workers end together.
JOBS=(
    build_san
    qtests
    guest_migration
    base_qtests
    identity:qtests
    build_others
    build_ref_others:build_others
    base_qtests_aarch64:build_ref_others
    guests_virt:build_ref_others
    asan_qtests:build_san
    asan_guests
    guest_crash
    guest_hotplug
    guest_backend
    guest_regions
    guest_flush
    guest_crossimpl
    guest_labels
    guest_detect
    guest_media_errors
    guest_health
    guest_persistence
    libvirt
    asan_verdict
    fuzz:build_san
    hardening
    independence
    series
)
QUICK_SUITES=(qtests identity:qtests guest_detect base_qtests)
# make check-quick runs only this one of QEMU's own qtests
QUICK_BASE_QTESTS=bios-tables-test
# What make check-full adds: the series builds, the ppc64 and loongarch64
# emulators, the full build and virt-install on it
FULL_EXTRA=(link_others:build_others series_builds build_full
            libvirt_virt_install:build_full)

# JOBS, with asan_guests standing for a job per ASAN_GUEST_SUITES and
# asan_verdict waiting for them, and at the end a job for each guest
# suite JOBS does not name yet
all_jobs() {
    local f s job needs=asan_qtests
    for s in "${ASAN_GUEST_SUITES[@]}"; do
        needs+=",asan_guest_$s"
    done
    for job in "${JOBS[@]}"; do
        case "$job" in
        asan_guests)
            for s in "${ASAN_GUEST_SUITES[@]}"; do
                echo "asan_guest_$s:build_san"
            done ;;
        asan_verdict) echo "asan_verdict:$needs" ;;
        *) echo "$job" ;;
        esac
    done
    for f in tests/guest/test_*.py; do
        s=$(basename "$f" .py)
        s=guest_${s#test_}
        if ! printf '%s\n' "${JOBS[@]}" | grep -q "^$s\(:\|$\)"; then
            echo "$s"
        fi
    done
}

# The guest consoles and Python tracebacks that the guest suites printed
# after a failed case (print_console and _report_crash of
# scripts/vnv/suite.py): a CI run's scratch folder is gone afterwards.
print_failed_consoles() {
    local lines
    lines=$(cat "$top"/build/logs/jobs/*.log 2> /dev/null |
        grep -E '^# (console|traceback) ' | tail -n "$CONSOLE_LINES_MAX")
    if [ -n "$lines" ]; then
        echo "Guest consoles and tracebacks around the failures:"
        echo "$lines" | sed -E 's/^# (console|traceback) /  /'
    fi
}

# run_job NAME: one suite, its console in build/logs/jobs/NAME.log, its
# time in $times
run_job() {
    local name=$1 start=$SECONDS log="$top/build/logs/jobs/$1.log"
    mkdir -p "$(dirname "$log")"
    echo "[check] $name started"
    case "$name" in
    asan_guest_*) asan_guest_suite "${name#asan_guest_}" ;;
    guest_*) guest_suite "${name#guest_}" ;;
    *) "suite_$name" ;;
    esac > "$log" 2>&1
    echo "$name $((SECONDS - start))" >> "$times"
    echo "[check] $name done in $((SECONDS - start)) s:" \
        "$(grep -c '^PASS ' "$log") passed, $(grep -c '^FAIL ' "$log") failed"
}

# next_job QUEUE DONE: print and take the first job of QUEUE whose needs
# are all in DONE; print "wait" when none is ready yet, nothing when the
# queue is empty.
next_job() {
    local queue=$1 done=$2 entry name needs n ready
    (
        flock 9
        while read -r entry; do
            name=${entry%%:*}
            needs=${entry#"$name"}
            ready=1
            for n in ${needs//[:,]/ }; do
                grep -qx "$n" "$done" || ready=0
            done
            if [ "$ready" = 1 ]; then
                grep -vx "$entry" "$queue" > "$queue.new"
                mv "$queue.new" "$queue"
                echo "$name"
                return
            fi
        done < "$queue"
        [ ! -s "$queue" ] || echo wait
    ) 9> "$queue.lock"
}

worker() {
    local queue=$1 done=$2 job
    while job=$(next_job "$queue" "$done") && [ -n "$job" ]; do
        if [ "$job" = wait ]; then
            sleep 5
            continue
        fi
        run_job "$job"
        echo "$job" >> "$done"
    done
}

# run_jobs JOB...: two workers over the queue
run_jobs() {
    local queue="$top/build/check-queue" done="$top/build/check-done"
    printf '%s\n' "$@" > "$queue"
    : > "$done"
    worker "$queue" "$done" &
    worker "$queue" "$done"
    wait
}

report_times() {
    local total=$1
    echo "Times (s):"
    sort -k2 -n -r "$times" | awk '{ printf "  %-22s %6d\n", $1, $2 }'
    printf '  %-22s %6d\n' total "$total"
}

main() {
    local mode=check suites=() s start=$SECONDS
    case "${1:-}" in
    --quick) mode=quick; shift ;;
    --full) mode=full; shift ;;
    esac
    suites=("$@")
    mkdir -p "$top/build/logs"
    : > "$results"
    : > "$times"
    rm -rf "$SANITIZER_DIR" "$top/build/logs/asan"
    if [ ${#suites[@]} -gt 0 ]; then
        for s in "${suites[@]}"; do
            run_job "$s"
        done
    else
        run_job builds
        case "$mode" in
        quick)
            VNV_BASE_QTESTS=${VNV_BASE_QTESTS:-$QUICK_BASE_QTESTS} \
                run_jobs "${QUICK_SUITES[@]}" ;;
        check) run_jobs $(all_jobs) ;;
        full)
            VNV_BASE_QTESTS_ALL=1 VNV_CRASH_KILLS=${VNV_CRASH_KILLS:-100} \
                VNV_GUEST_BOTH_MACHINES=1 \
                run_jobs $(all_jobs) "${FULL_EXTRA[@]}" \
                "${OTHER_MACHINE_FULL_JOBS[@]}" ;;
        esac
    fi
    local npass nfail
    npass=$(grep -c '^PASS ' "$results")
    nfail=$(grep -c '^FAIL ' "$results")
    if [ "$nfail" -gt 0 ]; then
        echo "Failed:"
        grep '^FAIL ' "$results" | sed 's/^/  /'
        print_failed_consoles
    fi
    report_times $((SECONDS - start))
    echo "$npass passed, $nfail failed"
    [ "$nfail" -eq 0 ]
}

main "$@"
