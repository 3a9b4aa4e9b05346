# SPDX-License-Identifier: GPL-2.0-or-later
#
# Labels, second boot: the namespace made by labels-create.sh is back
# with its uuid and mode, and the file on its ext4 -o dax mount is intact.
# VNV_UUID, VNV_TOKEN: what the first boot reported and wrote
. /vnv-lib.sh

ns=$(ndctl list -N -r region0)
expect uuid "$(echo "$ns" | json_field uuid)" "$VNV_UUID"
expect mode "$(echo "$ns" | json_field mode)" fsdax
check mount-dax mount -o dax /dev/pmem0 /mnt
expect file "$(cat /mnt/token.txt 2>&1)" "$VNV_TOKEN"
umount /mnt
check disable-region ndctl disable-region all
check check-labels ndctl check-labels all
