# SPDX-License-Identifier: GPL-2.0-or-later
#
# A hot-added NVDIMM across live migration.  The host hot-adds a second
# NVDIMM after "plugged"; the guest labels it, makes an fsdax namespace
# on region1 with ext4 -o dax and a file, and waits for "GO migrated".
# On the destination region1 and its namespace (same uuid) are still
# there, the file is intact, a new file can be written and the labels
# read through the destination's mailbox.
# VNV_TOKEN: the file's content
. /vnv-lib.sh

if ! wait_host plugged 300; then
    result plug FAIL "the host never said GO plugged"
    exit 0
fi
check before/region1 wait_path /sys/bus/nd/devices/region1 30
ndctl disable-region region1 > /dev/null
check before/init-labels ndctl init-labels nmem1
ndctl enable-region region1 > /dev/null
ns=$(ndctl create-namespace -m fsdax -r region1 2>&1)
uuid=$(echo "$ns" | json_field uuid)
dev=/dev/$(echo "$ns" | json_field blockdev)
check before/create-fsdax test -n "$uuid"
info "region1-uuid=$uuid"
check before/mkfs mkfs.ext4 -q -F -b "$(page_size)" \
    -E lazy_itable_init=1 "$dev"
check before/mount-dax mount -o dax "$dev" /mnt
echo "$VNV_TOKEN" > /mnt/before.txt
# what regions-verify.sh checks after a restart
echo "$VNV_TOKEN-region1" > /mnt/token.txt
sync

if ! wait_host migrated 300; then
    result after/go FAIL "the host never said GO migrated"
    exit 0
fi
check after/region1 test -d /sys/bus/nd/devices/region1
expect after/uuid "$(ndctl list -N -r region1 | json_field uuid)" "$uuid"
expect after/file "$(cat /mnt/before.txt 2>&1)" "$VNV_TOKEN"
echo "after-$VNV_TOKEN" > /mnt/after.txt
sync
expect after/write "$(cat /mnt/after.txt 2>&1)" "after-$VNV_TOKEN"
check after/umount umount /mnt
check after/read-labels ndctl read-labels -j nmem1
