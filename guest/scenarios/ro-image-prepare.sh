# SPDX-License-Identifier: GPL-2.0-or-later
#
# Make a container image on a label-less NVDIMM: turn its raw namespace
# into fsdax (raw namespaces have no DAX), put ext4 on it with
# /token.txt (4 KiB blocks: DAX needs the page size).  ro-image.sh then
# uses the backend file read-only.
# VNV_TOKEN: the content of /token.txt
. /vnv-lib.sh

check fsdax ndctl create-namespace -f -e namespace0.0 -m fsdax $PFN_MAP
check mkfs mkfs.ext4 -q -F -b "$(page_size)" -E lazy_itable_init=1 /dev/pmem0
check mount-dax mount -o dax /dev/pmem0 /mnt
echo "$VNV_TOKEN" > /mnt/token.txt
check umount umount /mnt
