# SPDX-License-Identifier: GPL-2.0-or-later
#
# Media errors with -machine nvdimm-media-errors=on, on a label-less
# NVDIMM (namespace0.0, /dev/pmem0), driven by stock ndctl:
#   inject   the host poisons sector VNV_SECTOR over QMP, notifying the
#            guest: the kernel scrubs, the sector is a badblock, a read
#            of it fails; writing it clears the error in QEMU too
#   ndctl    ndctl inject-error poisons block VNV_BLOCK through the root
#            _DSM (--status lists it), --uninject takes it back in QEMU
#            and clear-errors clears the guest's badblock
#   scrub    the host poisons sector VNV_QUIET without notifying: the
#            guest sees it only after ndctl start-scrub / wait-scrub
#   devdax   namespace0.0 as devdax: an injected block is in its
#            media error list until clear-errors
#   fsdax    namespace0.0 as fsdax with ext4 -o dax: a file whose second
#            page is poisoned cannot be read whole, its first page can,
#            and rewriting the page makes the file readable again
. /vnv-lib.sh

NS=namespace0.0

check pmem0 wait_path "$PMEM" 30
expect dsm-mask "$(cat /sys/bus/nd/devices/ndbus0/nfit/dsm_mask 2>&1)" 0x3be
check boot/wait-scrub ndctl wait-scrub
expect boot/badblocks "$(badblocks_now)" ""

wait_host inject 60
check inject/badblock wait_badblocks "$VNV_SECTOR 1" 30
expect inject/badblocks "$(badblocks_now)" "$VNV_SECTOR 1"
check inject/list-media-errors sh -c \
    "ndctl list -M -n $NS | grep -q '\"offset\":$VNV_SECTOR'"
check inject/read-fails read_fails "$VNV_SECTOR"
check inject/write-clears write_page "$VNV_SECTOR"
expect inject/cleared "$(badblocks_now)" ""
check inject/read-after-clear read_sector "$VNV_SECTOR"
wait_host cleared 60

check ndctl/inject ndctl inject-error --block="$VNV_BLOCK" --count=1 "$NS"
expect ndctl/badblocks "$(badblocks_now)" "$VNV_BLOCK 1"
check ndctl/status sh -c \
    "ndctl inject-error --status $NS | grep -q '\"block\":$VNV_BLOCK'"
check ndctl/read-fails read_fails "$VNV_BLOCK"
wait_host ndctl-injected 60
check ndctl/uninject ndctl inject-error --uninject --block="$VNV_BLOCK" \
    --count=1 "$NS"
wait_host ndctl-uninjected 60
check ndctl/clear-errors ndctl clear-errors "$NS"
expect ndctl/cleared "$(badblocks_now)" ""

wait_host quiet 60
sleep 2
expect scrub/not-yet "$(badblocks_now)" ""
check scrub/start ndctl start-scrub
check scrub/wait ndctl wait-scrub
check scrub/badblock wait_badblocks "$VNV_QUIET 1" 10
expect scrub/badblocks "$(badblocks_now)" "$VNV_QUIET 1"

# devdax: the same errors, in the namespace's data area
check devdax/clear-quiet ndctl clear-errors "$NS"
check devdax/create ndctl create-namespace -f -e "$NS" -m devdax
check devdax/inject ndctl inject-error --block="$VNV_BLOCK" --count=1 "$NS"
check devdax/list-media-errors sh -c \
    "ndctl list -M -n $NS | grep -q '\"offset\":$VNV_BLOCK'"
check devdax/clear-errors ndctl clear-errors "$NS"
check devdax/cleared sh -c "! ndctl list -M -n $NS | grep -q badblocks"

# fsdax: a file on ext4 -o dax over a bad page cannot be read
check fsdax/create ndctl create-namespace -f -e "$NS" -m fsdax
check fsdax/mkfs mkfs.ext4 -q -F -b 4096 "$PMEM"
check fsdax/mount mount -o dax "$PMEM" /mnt
check fsdax/write dd if=/dev/urandom of=/mnt/data bs=4096 count=64 \
    conv=fsync
# The file's second page, in 512-byte blocks of the namespace
first=$(filefrag -v -b4096 /mnt/data | awk '$1 == "0:" { print $4 }')
first=${first%..}
check fsdax/extent test -n "$first"
check fsdax/inject ndctl inject-error --block=$(((first + 1) * 8)) \
    --count=8 "$NS"
check fsdax/read-fails sh -c '! cat /mnt/data > /dev/null 2>&1'
check fsdax/first-page dd if=/mnt/data of=/dev/null bs=4096 count=1
check fsdax/rewrite-page dd if=/dev/zero of=/mnt/data bs=4096 seek=1 \
    count=1 conv=notrunc,fsync
check fsdax/read-after-rewrite cat /mnt/data
check fsdax/umount umount /mnt
