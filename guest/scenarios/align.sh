# SPDX-License-Identifier: GPL-2.0-or-later
#
# An align=2M backend: the region works and its guest-physical start and
# size are multiples of VNV_ALIGN bytes.
. /vnv-lib.sh

region=/sys/bus/nd/devices/region0
start=$(cat "$region/resource" 2>&1)
size=$(cat "$region/size" 2>&1)
info "region0 start=$start size=$size"
expect start-aligned "$((start % VNV_ALIGN))" 0
check pmem0 test -b /dev/pmem0
check write-read dd if=/dev/zero of=/dev/pmem0 bs=4096 count=16 conv=fsync
