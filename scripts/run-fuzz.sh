#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fuzz the NVDIMM _DSM mailbox with QEMU's libFuzzer targets (the clang +
# ASan + UBSan build in build/qemu-san, built first if needed) for a given
# time, then print "PASS fuzz/<target>: N executions, M exec/s" or
# "FAIL fuzz/<target>: ..." with the crashing input.
#
#   run-fuzz.sh [--no-build] [--seconds N] [--jobs N] [TARGET]
#
# TARGET: nvdimm-dsm-fuzz (the default; tests/qtest/fuzz/nvdimm_fuzz.c,
# whole request pages) or generic-fuzz (QEMU's generic fuzzer on the
# doorbell, with the NVDIMM configuration below).  The seeds are in
# tests/fuzz/nvdimm-corpus; what the fuzzer learns is kept in
# build/fuzz/corpus-TARGET, crashes in build/fuzz/artifacts/.
# FUZZ_SECONDS sets the default time (180 s).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
fuzzer="$top/build/qemu-san/qemu-fuzz-x86_64"
work="$top/build/fuzz"
seeds="$top/tests/fuzz/nvdimm-corpus"

usage() {
    sed -n '7,15s/^# \{0,1\}//p' "$0"
    exit 2
}

# generic-fuzz: a pc machine with an NVDIMM with labels; the fuzzer drives
# the doorbell port and fills the mailbox page reads with its own data.
generic_fuzz_env() {
    local backend="$work/generic-backend"
    truncate -s 4M "$backend"
    export QEMU_FUZZ_ARGS="-machine pc,nvdimm=on -m 512M,slots=2,maxmem=2G \
-nodefaults -object memory-backend-file,id=m0,share=on,size=4M,\
mem-path=$backend -device nvdimm,memdev=m0,label-size=128K"
    export QEMU_FUZZ_OBJECTS="nvdimm-dsm-doorbell*"
}

main() {
    local build=1 seconds=${FUZZ_SECONDS:-180} jobs=1 target=nvdimm-dsm-fuzz
    while [ $# -gt 0 ]; do
        case "$1" in
        --no-build) build=0 ;;
        --seconds) seconds=$2; shift ;;
        --jobs) jobs=$2; shift ;;
        -h|--help|-*) usage ;;
        *) target=$1 ;;
        esac
        shift
    done
    if [ "$build" = 1 ]; then
        "$top/scripts/build-qemu.sh" san >&2 || {
            echo "FAIL fuzz/$target: the fuzz build failed"
            return 1
        }
    fi
    local corpus="$work/corpus-$target" log="$work/$target.log"
    mkdir -p "$corpus" "$work/artifacts"
    rm -f "$work"/fuzz-*.log
    if [ "$target" = generic-fuzz ]; then
        generic_fuzz_env
    fi
    # Leaks are QEMU's own (state that lives for the whole process);
    # memory errors and undefined behaviour are what we look for.  With
    # ASan's default 256 MiB quarantine the RSS of a long run creeps
    # towards libFuzzer's 2 GiB limit; 64 MiB keeps it flat.
    export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:quarantine_size_mb=64"
    export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
    echo "[fuzz] $target for ${seconds}s, log: ${log#"$top"/}" >&2
    local rc=0 parallel=()
    if [ "$jobs" -gt 1 ]; then
        # libFuzzer's job mode: one log per job, fuzz-N.log in $work
        parallel=(-jobs="$jobs" -workers="$jobs")
    fi
    (cd "$work" && "$fuzzer" --fuzz-target="$target" \
        -max_total_time="$seconds" -max_len=16384 "${parallel[@]}" \
        -print_final_stats=1 -detect_leaks=0 \
        -artifact_prefix="$work/artifacts/" "$corpus" "$seeds") \
        > "$log" 2>&1 || rc=$?
    report "$target" "$log" "$rc" "$jobs"
}

# report TARGET LOG RC JOBS: one PASS/FAIL line with the statistics
report() {
    local target=$1 log=$2 rc=$3 jobs=$4 execs rate logs=$2
    if [ "$jobs" -gt 1 ]; then
        logs="$work/fuzz-*.log"
    fi
    # shellcheck disable=SC2086
    execs=$(awk '/stat::number_of_executed_units/ { n += $2 }
                 END { print n + 0 }' $logs)
    # shellcheck disable=SC2086
    rate=$(awk '/stat::average_exec_per_sec/ { n += $2 }
                END { print n + 0 }' $logs)
    # shellcheck disable=SC2086
    if [ "$rc" -ne 0 ] ||
       grep -qE 'ERROR: AddressSanitizer|runtime error:|==ERROR|deadly signal' \
           $logs; then
        echo "FAIL fuzz/$target: exit $rc after $execs executions;" \
            "crash inputs in build/fuzz/artifacts (log: ${log#"$top"/})"
        return 1
    fi
    echo "PASS fuzz/$target: $execs executions, $rate exec/s, no finding"
}

main "$@"
