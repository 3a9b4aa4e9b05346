# SPDX-License-Identifier: GPL-2.0-or-later
#
# A readonly=on backend with unarmed=on as a container root image: the
# image made by ro-image-prepare.sh holds /token.txt; the guest mounts it
# read-only with dax and reads the file; writes must fail.
# VNV_TOKEN: the content of /token.txt in the image
. /vnv-lib.sh

expect region-read-only "$(cat /sys/bus/nd/devices/region0/read_only)" 1
check mount-ro-dax mount -o ro,dax /dev/pmem0 /mnt ||
    dmesg | tail -n 3 | sed 's/^/VNV-INFO dmesg: /'
check dax-active grep -q ' /mnt ext4 ro.*dax' /proc/mounts
expect read "$(cat /mnt/token.txt 2>&1)" "$VNV_TOKEN"
if touch /mnt/new 2> /dev/null; then
    result write-fails FAIL "created a file on the read-only mount"
else
    result write-fails PASS
fi
umount /mnt 2> /dev/null || true
