# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libvirt suite's virt-install domain (tests/libvirt/): virt-install's
# default devices around an NVDIMM without labels (--memdev ...,
# access=shared): nmem0, region0 of VNV_REGION_SIZE bytes, /dev/pmem0,
# and "$VNV_TOKEN" written at its start, which the host finds in the
# backend file.  Then the host checks QEMU's devices until "GO checked".
. /vnv-lib.sh

check nmem0 test -d /sys/bus/nd/devices/nmem0
expect region-size "$(cat /sys/bus/nd/devices/region0/size)" \
    "$VNV_REGION_SIZE"
check pmem0 test -b /dev/pmem0
check write sh -c \
    "echo '$VNV_TOKEN' | dd of=/dev/pmem0 conv=fsync 2> /dev/null"
wait_host checked 300 || result checked FAIL "the host never said GO checked"
