# SPDX-License-Identifier: GPL-2.0-or-later
#
# Labels, first boot on a blank backend: initialise the label area,
# create an fsdax namespace, put ext4 on it, mount it with -o dax and
# write a file.  Reports the namespace uuid as "VNV-INFO uuid=...".
# VNV_TOKEN: the file's content
. /vnv-lib.sh

check disable-region ndctl disable-region all
check init-labels ndctl init-labels all
check check-labels ndctl check-labels all
check enable-region ndctl enable-region all

if ns=$(ndctl create-namespace -m fsdax $PFN_MAP -r region0 2>&1); then
    result create-fsdax PASS
else
    result create-fsdax FAIL "$(echo "$ns" | tail -n 1)"
    exit 0
fi
info "uuid=$(echo "$ns" | json_field uuid)"
expect mode "$(echo "$ns" | json_field mode)" fsdax
check pmem0 test -b /dev/pmem0
check mkfs mkfs.ext4 -q -F -b "$(page_size)" -E lazy_itable_init=1 /dev/pmem0
check mount-dax mount -o dax /dev/pmem0 /mnt
check dax-active grep -q ' /mnt ext4 .*dax' /proc/mounts
echo "$VNV_TOKEN" > /mnt/token.txt
expect write "$(cat /mnt/token.txt)" "$VNV_TOKEN"
check umount umount /mnt
