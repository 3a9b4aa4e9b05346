# SPDX-License-Identifier: GPL-2.0-or-later
#
# unarmed=on: the region is read-only and writes to it fail.
. /vnv-lib.sh

region=/sys/bus/nd/devices/region0

expect region-read-only "$(cat "$region/read_only")" 1
check pmem0 test -b /dev/pmem0
expect blockdev-ro "$(blockdev --getro /dev/pmem0 2>&1)" 1
if dd if=/dev/zero of=/dev/pmem0 bs=4096 count=1 conv=fsync \
        2> /dev/null; then
    result write-fails FAIL "a write to /dev/pmem0 succeeded"
else
    result write-fails PASS
fi
check read dd if=/dev/pmem0 of=/dev/null bs=4096 count=1
