# SPDX-License-Identifier: GPL-2.0-or-later
#
# fsync latency of the two pmem devices side by side in one guest: an
# NVDIMM with flush hints and a virtio-pmem, each label-less, each with
# ext4 -o dax on an fsdax namespace.  Batches of VNV_BATCH overwrites of
# one 4 KiB block, with fsync and without, alternate between the two
# devices in ABBA order for VNV_ROUNDS rounds, so that both see the same
# guest, the same host and the same moment.
# Prints VNV-INFO {nvdimm,virtio}-{fsync,write}-ms=... (means per write).
. /vnv-lib.sh

rounds=${VNV_ROUNDS:-10}
batch=${VNV_BATCH:-20}

# fsdax and ext4 -o dax on the region of the bus whose provider is $2,
# mounted on /mnt/$1
mount_dax() {
    local name=$1 provider=$2 bus region ns dev
    for bus in /sys/bus/nd/devices/ndbus*; do
        [ "$(cat "$bus/provider")" = "$provider" ] || continue
        region=$(ls -d "$bus"/region*/ | head -n 1)
        ns=$(basename "$(ls -d "$region"namespace*.0 | head -n 1)")
    done
    check "$name/fsdax" ndctl create-namespace -f -e "$ns" -m fsdax
    dev=$(ndctl list -n "$ns" | json_field blockdev)
    check "$name/mkfs" mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0 \
        "/dev/$dev"
    mkdir -p "/mnt/$name"
    check "$name/mount" mount -o dax "/dev/$dev" "/mnt/$name"
    dd if=/tmp/block of="/mnt/$name/f" bs=4096 count=1 conv=fsync \
        2> /dev/null
}

# batch_ms NAME DD-CONV: the wall time of one batch, in ms
batch_ms() {
    local t0 t1 i=0
    t0=$(cut -d ' ' -f 1 /proc/uptime)
    while [ "$i" -lt "$batch" ]; do
        dd if=/tmp/block of="/mnt/$1/f" bs=4096 count=1 conv="$2" \
            2> /dev/null
        i=$((i + 1))
    done
    t1=$(cut -d ' ' -f 1 /proc/uptime)
    awk "BEGIN { printf \"%d\", ($t1 - $t0) * 1000 }"
}

dd if=/dev/urandom of=/tmp/block bs=4096 count=1 2> /dev/null
mount_dax nvdimm ACPI.NFIT
mount_dax virtio virtio-pmem
sync

# /proc/uptime counts in 10 ms: the sums of the batches are exact to
# that, whatever the batch
nvdimm_fsync=0 nvdimm_write=0 virtio_fsync=0 virtio_write=0
r=0
while [ "$r" -lt "$rounds" ]; do
    order="nvdimm virtio"
    [ $((r % 2)) = 1 ] && order="virtio nvdimm"
    for name in $order; do
        eval "${name}_fsync=\$((${name}_fsync + \$(batch_ms $name notrunc,fsync)))"
        eval "${name}_write=\$((${name}_write + \$(batch_ms $name notrunc)))"
    done
    r=$((r + 1))
done

writes=$((rounds * batch))
for key in nvdimm_fsync nvdimm_write virtio_fsync virtio_write; do
    eval "total=\$$key"
    info "$(echo "$key" | tr _ -)-ms=$(awk "BEGIN { printf \"%.3f\", $total / $writes }")"
done
umount /mnt/nvdimm /mnt/virtio
