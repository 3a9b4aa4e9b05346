# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers for guest scenarios (busybox sh), sourced as /vnv-lib.sh.
#
# Line protocol on the console (ttyS0 on pc and q35, ttyAMA0 on arm virt,
# hvc0 on pseries), read by scripts/vnv/guest.py:
#   VNV-RESULT <case> PASS|FAIL <detail>   one test case
#   VNV-READY <tag>                        a step the host may wait for
#   VNV-INFO <text>                        progress for people
#   VNV-GOT <tag>                          the host's GO <tag> arrived
#   VNV-DONE                               the scenario is over
# The host answers on the second serial port with "GO <tag>" lines;
# wait_host reads them.  The host names that port on the kernel command
# line (vnv.ctl=ttyS1, ttyAMA1 or hvc1: scripts/vnv/machines.py).

CTL=/dev/${VNV_CTL:-ttyS1}

result() {
    local name=$1 verdict=$2
    shift 2
    echo "VNV-RESULT $name $verdict $*"
}

ready() {
    echo "VNV-READY $*"
}

info() {
    echo "VNV-INFO $*"
}

# check CASE COMMAND...: PASS when COMMAND exits 0, else FAIL with the
# last line it printed.  Returns COMMAND's status.
check() {
    local name=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" = 0 ]; then
        result "$name" PASS
    else
        result "$name" FAIL "'$*' exited $rc${out:+: $(echo "$out" |
            tail -n 1)}"
    fi
    return "$rc"
}

# expect CASE ACTUAL EXPECTED
expect() {
    if [ "$2" = "$3" ]; then
        result "$1" PASS "$2"
    else
        result "$1" FAIL "got '$2', want '$3'"
    fi
}

# show COMMAND...: run a command and copy its output to the console,
# prefixed so the host can show it (the demo does).
show() {
    echo "VNV-CMD # $*"
    "$@" 2>&1 | sed 's/^/VNV-OUT /'
}

# Open the control port once and keep it open: a closed 8250 port drops
# what arrives, and opening it flushes the FIFO.
ctl_open() {
    [ -z "${CTL_OPEN:-}" ] || return 0
    exec 3< "$CTL"
    stty raw -echo <&3 2> /dev/null
    CTL_OPEN=1
}

# wait_host TAG [SECONDS]: tell the host we are at TAG and wait for its
# "GO TAG" on the control port (acknowledged with VNV-GOT TAG; the host
# repeats GO until then).  Returns 1 on timeout.
wait_host() {
    local tag=$1 limit=${2:-60} line
    ctl_open
    ready "$tag"
    while read -r -t "$limit" line <&3; do
        line=$(echo "$line" | tr -d '\r')
        if [ "$line" = "GO $tag" ]; then
            echo "VNV-GOT $tag"
            return 0
        fi
    done
    return 1
}

# wait_path PATH SECONDS [PER_SECOND]: poll until PATH exists, PER_SECOND
# times a second (4 unless told; at most 100).
wait_path() {
    local n=0 rate=${3:-4} step
    step=$(printf '0.%02d' $((100 / rate)))
    while [ ! -e "$1" ] && [ "$n" -lt "$(($2 * rate))" ]; do
        sleep "$step"
        n=$((n + 1))
    done
    [ -e "$1" ]
}

# The kernel's page size in bytes: ext4 DAX needs it as the block size
# (4 KiB on x86_64 and arm64, 64 KiB on Debian's ppc64el kernel).
page_size() {
    echo $(($(sed -n 's/^KernelPageSize: *\([0-9]*\) kB$/\1/p' \
        /proc/self/smaps | head -n 1) * 1024))
}

# ndctl's --map for fsdax and devdax namespaces: where their struct pages
# go.  The default, in the namespace itself, fails on bookworm-backports'
# arm64 kernel (6.12): memremap_pages() runs out of the room the
# namespace reserves for them (ENOMEM, "failed to free all reserved
# pages"), under stock QEMU as under ours.  In RAM it works.
PFN_MAP=
[ "$(uname -m)" != aarch64 ] || PFN_MAP=--map=mem

# JSON field of ndctl/daxctl output without jq: first "KEY":VALUE.
json_field() {
    sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
}

# fsdax_file REGION DIR: an fsdax namespace on REGION (labelled), ext4 on
# it mounted with -o dax on DIR, and DIR/token.txt holding
# "$VNV_TOKEN-REGION" (what regions-verify.sh checks after a restart);
# unmounted again at the end.  Reports "VNV-INFO REGION-uuid=...".
fsdax_file() {
    local region=$1 dir=$2 ns dev
    if ! ns=$(ndctl create-namespace -m fsdax $PFN_MAP -r "$region" 2>&1)
    then
        result "$region/create-fsdax" FAIL "$(echo "$ns" | tr '\n' ' ')"
        return 1
    fi
    result "$region/create-fsdax" PASS
    info "$region-uuid=$(echo "$ns" | json_field uuid)"
    dev=/dev/$(echo "$ns" | json_field blockdev)
    mkdir -p "$dir"
    # ext4 DAX needs the block size to be the page size
    check "$region/mkfs" mkfs.ext4 -q -F -b "$(page_size)" \
        -E lazy_itable_init=1 "$dev"
    check "$region/mount-dax" mount -o dax "$dev" "$dir"
    check "$region/dax-active" grep -q " $dir ext4 .*dax" /proc/mounts
    echo "$VNV_TOKEN-$region" > "$dir/token.txt"
    expect "$region/write" "$(cat "$dir/token.txt")" "$VNV_TOKEN-$region"
    check "$region/umount" umount "$dir"
}

# Media errors of /dev/pmem0 (set PMEM and BADBLOCKS for another device).
PMEM=${PMEM:-/dev/pmem0}
BADBLOCKS=${BADBLOCKS:-/sys/block/pmem0/badblocks}

# Through the page cache, so that the driver sees whole, aligned pages:
# busybox dd's buffer is not page-aligned, and with O_DIRECT the kernel
# splits one sector over two segments, too short to check or clear.

# read_fails SECTOR: reading the sector fails.  The read bypasses the page
# cache, so that the driver loads the sector once: a buffered read that
# fails in readahead is read again, and meets the poison a second time
# if the machine check has not yet reached badblocks
read_fails() {
    ! dd if="$PMEM" of=/dev/null bs=512 skip="$1" count=1 iflag=direct \
        2> /dev/null
}

# write_page SECTOR: write zeroes over the 4 KiB page that holds the
# sector, down to the device (a smaller write would read the page first)
write_page() {
    dd if=/dev/zero of="$PMEM" bs=4096 seek=$(($1 / 8)) count=1 conv=fsync \
        2> /dev/null
}

# read_sector SECTOR: read the sector from the device
read_sector() {
    echo 3 > /proc/sys/vm/drop_caches
    dd if="$PMEM" of=/dev/null bs=512 skip="$1" count=1 2> /dev/null
}

# wait_badblocks EXPECTED SECONDS: until the badblocks list is EXPECTED
wait_badblocks() {
    local n=0
    while [ "$(cat "$BADBLOCKS")" != "$1" ] && [ "$n" -lt $(($2 * 4)) ]; do
        sleep 0.25
        n=$((n + 1))
    done
    [ "$(cat "$BADBLOCKS")" = "$1" ]
}

badblocks_now() {
    cat "$BADBLOCKS" | tr '\n' ' ' | sed 's/ $//'
}

# Linux numbers nmems and regions in the order of the NFIT, which QEMU
# writes in the order it finds the devices, not in slot order (the
# device ids decide it).  These find an NVDIMM by its slot instead:
# QEMU's NFIT handle of the NVDIMM in slot N is N + 1.

# nmem_of_slot SLOT: the nmem (nmemX) of the NVDIMM in SLOT
nmem_of_slot() {
    local d handle
    handle=$(printf '0x%x' $(($1 + 1)))
    for d in /sys/bus/nd/devices/nmem*; do
        if [ "$(cat "$d/nfit/handle" 2> /dev/null)" = "$handle" ]; then
            basename "$d"
            return 0
        fi
    done
    return 1
}

# region_of_slot SLOT: the region (regionX) whose first mapping is the
# NVDIMM in SLOT
region_of_slot() {
    local nmem d
    nmem=$(nmem_of_slot "$1") || return 1
    for d in /sys/bus/nd/devices/region*; do
        case "$(cat "$d/mapping0" 2> /dev/null)" in
        "$nmem,"*) basename "$d"; return 0 ;;
        esac
    done
    return 1
}

# wait_region_of_slot SLOT SECONDS: region_of_slot, once the region is
# there (a hot-added NVDIMM's comes a moment after the plug)
wait_region_of_slot() {
    local n=0
    until region_of_slot "$1"; do
        [ "$n" -lt $(($2 * 4)) ] || return 1
        sleep 0.25
        n=$((n + 1))
    done
}
