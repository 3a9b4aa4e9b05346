# SPDX-License-Identifier: GPL-2.0-or-later
#
# fsync latency on ext4 -o dax: turn the only (label-less) namespace into
# fsdax, then time VNV_COUNT overwrites of one 4 KiB block, each followed
# by fsync (dd conv=fsync), and as many without fsync to subtract the cost
# of starting dd.  Works the same on an NVDIMM and on virtio-pmem.
# Prints VNV-INFO fsync-ms=... and write-ms=... (means per write).
. /vnv-lib.sh

count=${VNV_COUNT:-100}
ns=$(ndctl list -N | json_field dev)
check fsdax ndctl create-namespace -f -e "$ns" -m fsdax
check mkfs mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0 /dev/pmem0
if ! check mount mount -o dax /dev/pmem0 /mnt; then
    dmesg | tail -n 5 | sed 's/^/VNV-INFO dmesg: /'
    ndctl list -N | sed 's/^/VNV-INFO ndctl: /'
fi
dd if=/dev/urandom of=/tmp/block bs=4096 count=1 2> /dev/null
dd if=/tmp/block of=/mnt/f bs=4096 count=1 conv=fsync 2> /dev/null
sync

# mean_ms DD-CONV: the mean wall time of one dd with that conv=, in ms
mean_ms() {
    local t0 t1 i=0
    t0=$(cut -d ' ' -f 1 /proc/uptime)
    while [ "$i" -lt "$count" ]; do
        dd if=/tmp/block of=/mnt/f bs=4096 count=1 conv="$1" 2> /dev/null
        i=$((i + 1))
    done
    t1=$(cut -d ' ' -f 1 /proc/uptime)
    awk "BEGIN { printf \"%.3f\", ($t1 - $t0) * 1000 / $count }"
}

info "fsync-ms=$(mean_ms notrunc,fsync)"
info "write-ms=$(mean_ms notrunc)"
check umount umount /mnt
