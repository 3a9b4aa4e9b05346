# SPDX-License-Identifier: GPL-2.0-or-later
#
# Machine checks with -machine nvdimm-media-errors=on, on a label-less
# NVDIMM (namespace0.0) and a guest CPU on which Linux recovers from
# them (Intel, with ERMS for the kernel's machine-check-safe copy).  The
# host poisons without notifying the guest, so the guest learns of each
# error only from the load that meets it:
#   kernel   a read of sector VNV_SECTOR through the pmem driver fails
#            with EIO, the nfit driver takes the page into badblocks from
#            the machine check, without a scrub, and writing the page
#            clears the error in QEMU too
#   user     namespace0.0 as devdax: a process that loads a poisoned page
#            through its mapping gets SIGBUS (BUS_MCEERR_AR), the kernel
#            recovers, and a clean page still reads
. /vnv-lib.sh

NS=namespace0.0
DAX=/dev/dax0.0

# sigbus_covers "SIGBUS code offset=N lsb=L" OFFSET: an action-required
# SIGBUS whose range, N and 2^L bytes (Linux names the whole mapping
# unit: 2 MiB on devdax), holds OFFSET
sigbus_covers() {
    local n lsb
    case "$1" in
    "SIGBUS BUS_MCEERR_AR offset="*) ;;
    *) echo "not an action-required SIGBUS: $1"; return 1 ;;
    esac
    n=${1#*offset=}
    n=${n%% *}
    lsb=${1#*lsb=}
    [ "$n" -le "$2" ] && [ "$2" -lt $((n + (1 << lsb))) ]
}

check pmem0 wait_path "$PMEM" 30
check boot/wait-scrub ndctl wait-scrub
check boot/mce-banks grep -q ' mce' /proc/cpuinfo

wait_host kernel 60
expect kernel/not-known "$(badblocks_now)" ""
check kernel/read-fails read_fails "$VNV_SECTOR"
check kernel/badblock wait_badblocks "$VNV_SECTOR 8" 30
check kernel/write-clears write_page "$VNV_SECTOR"
expect kernel/cleared "$(badblocks_now)" ""
check kernel/read-after-clear read_sector "$VNV_SECTOR"
wait_host kernel-cleared 60

check user/devdax ndctl create-namespace -f -e "$NS" -m devdax
check user/dax-device wait_path "$DAX" 30
# The page the host poisons: the second of the devdax data area
dax=$(cat /sys/bus/dax/devices/dax0.0/resource)
region=$(cat /sys/bus/nd/devices/region0/resource)
info "poison-offset=$((dax - region + 4096))"
wait_host user 60
sigbus=$(vnv-dax-read "$DAX" 4096 64)
info "dax-read: $sigbus"
check user/sigbus sigbus_covers "$sigbus" 4096
check user/recovered sh -c \
    "dmesg | grep -q 'recovery action for dax page: Recovered'"
check user/clean-page vnv-dax-read "$DAX" 0 4096
check user/media-error sh -c \
    "ndctl list -M -n $NS | grep -q '\"offset\":8'"
