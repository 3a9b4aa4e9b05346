# SPDX-License-Identifier: GPL-2.0-or-later
#
# Live migration with a mounted fsdax namespace: the source labels the
# NVDIMM, writes a file on ext4 -o dax and waits for "GO migrated"; the
# destination then reads the file back, writes another one, and reads
# the labels through its own label mailbox and makes a new namespace.
# VNV_TOKEN: the file's content
. /vnv-lib.sh

check before/disable-region ndctl disable-region all
check before/init-labels ndctl init-labels all
check before/enable-region ndctl enable-region all
check before/create-fsdax ndctl create-namespace -m fsdax $PFN_MAP \
    -r region0
# ext4 DAX needs the block size to be the page size (mkfs picks 1 KiB
# blocks for a file system under 512 MiB)
check before/mkfs mkfs.ext4 -q -F -b "$(page_size)" \
    -E lazy_itable_init=1 /dev/pmem0
check before/mount-dax mount -o dax /dev/pmem0 /mnt
echo "$VNV_TOKEN" > /mnt/before.txt
sync

if ! wait_host migrated 120; then
    result after/go FAIL "the host never said GO migrated"
    exit 0
fi
expect after/file "$(cat /mnt/before.txt 2>&1)" "$VNV_TOKEN"
echo "after-$VNV_TOKEN" > /mnt/after.txt
sync
expect after/write "$(cat /mnt/after.txt 2>&1)" "after-$VNV_TOKEN"
check after/umount umount /mnt
check after/read-labels ndctl read-labels -j nmem0
# New labels through the destination's mailbox, driven by the AML the
# guest loaded from the source (the other implementation, across builds).
check after/destroy ndctl destroy-namespace -f all
check after/create-namespace ndctl create-namespace -m fsdax $PFN_MAP \
    -r region0 -s 256M
