#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make demo: boot a Linux guest with one 1 GiB file-backed NVDIMM (128 KiB
# of labels) on "-machine pc,nvdimm=on", create an fsdax namespace with a
# file on ext4 -o dax, then restart QEMU on the same backend file and show
# that the namespace and the file survived.
#
#   demo.sh [--qemu BIN | --reference]
#
# The default QEMU is our build, build/qemu/qemu-system-x86_64.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
demo="$top/build/demo"
backend="$demo/nvdimm.img"
qemu="$top/build/qemu/qemu-system-x86_64"

step() { printf '\n=== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '9,11s/^# \{0,1\}//p' "$0"
    exit 2
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
        --qemu) qemu=$2; shift ;;
        --reference) qemu="$top/build/reference/qemu-system-x86_64" ;;
        *) usage ;;
        esac
        shift
    done
    [ -x "$qemu" ] || die "no QEMU at $qemu (run make qemu first)"
}

# boot LOG SCENARIO KEY=VALUE...: one guest run, shown as it goes.
boot() {
    local log=$1 scenario=$2 p params=()
    shift 2
    for p in "$@"; do
        params+=(--param "$p")
    done
    local mem="memory-backend-file,id=mem0,share=on,size=1G"
    "$top/scripts/vnv-guest.py" --qemu "$qemu" --show \
        --scenario "$scenario" "${params[@]}" -- \
        -object "$mem,mem-path=$backend" \
        -device nvdimm,id=nvdimm0,memdev=mem0,label-size=128K |
        tee "$log"
}

show_label_area() {
    local size
    size=$(stat -c %s "$backend")
    echo "  the label area starts at byte $((size - 131072)) of" \
        "$(basename "$backend"):"
    od -A d -c -j "$((size - 131072))" -N 32 "$backend" | sed 's/^/    /'
}

main() {
    local token uuid
    parse_args "$@"
    "$top/scripts/make-guest.sh"
    mkdir -p "$demo"
    rm -f "$backend"
    truncate -s 1G "$backend"
    token="written-by-the-first-boot-$(date +%s)"

    step "QEMU: $qemu"
    echo "  -machine pc,nvdimm=on, one 1 GiB NVDIMM backed by the sparse" \
        "file $backend, label-size=128K"

    step "Boot 1: a blank NVDIMM becomes an fsdax namespace with a file"
    boot "$demo/boot1.log" demo-create "token=$token" ||
        die "the first boot failed (log: $demo/boot1.log)"
    uuid=$(sed -n 's/^  \* uuid=//p' "$demo/boot1.log" | tail -n 1)
    [ -n "$uuid" ] || die "the first boot created no namespace"

    step "Host: the labels the guest wrote are in the backend file"
    show_label_area

    step "Boot 2: a new QEMU on the same file"
    boot "$demo/boot2.log" demo-verify "uuid=$uuid" "token=$token" ||
        die "the namespace or the file did not survive (log: $demo/boot2.log)"

    step "Done: namespace $uuid and /mnt/hello.txt survived the restart"
}

main "$@"
