# SPDX-License-Identifier: GPL-2.0-or-later
#
# The NVDIMM root device's functions as the guest sees them: none
# without -machine nvdimm-media-errors=on, as in QEMU 10.0, so no
# scrub and no error injection.
. /vnv-lib.sh

check pmem0 wait_path /dev/pmem0 30
expect dsm-mask "$(cat /sys/bus/nd/devices/ndbus0/nfit/dsm_mask 2>&1)" 0x0
check no-scrub sh -c '! test -e /sys/bus/nd/devices/ndbus0/nfit/scrub'
check no-inject sh -c '! ndctl inject-error --block=1 --count=1 namespace0.0'
