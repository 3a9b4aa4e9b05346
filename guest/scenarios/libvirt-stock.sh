# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libvirt suite's domain of stock features (tests/libvirt/):
#   nv0  labelled, access='shared', <pmem/>, <alignsize> -> region0
#   nv1  <readonly/> (unarmed)                            -> region1
#   nv2  added by "virsh attach-device --live"            -> region2
# VNV_PHASE=create: nv0's region is VNV_REGION0_SIZE bytes; labels and an
#   fsdax namespace with ext4 -o dax and token.txt on it (fsdax_file);
#   region1 is read-only; after "GO plug", region2 of VNV_PLUG_SIZE
#   bytes, whose first bytes get "$VNV_TOKEN-plug" (the host reads them
#   in nv2's file).
# VNV_PHASE=verify (a new QEMU on the same files): the namespace has
#   uuid VNV_UUID and token.txt is back.
. /vnv-lib.sh

r0=/sys/bus/nd/devices/region0
r1=/sys/bus/nd/devices/region1
r2=/sys/bus/nd/devices/region2

create() {
    expect nv0/region-size "$(cat "$r0/size")" "$VNV_REGION0_SIZE"
    check nv0/disable-region ndctl disable-region region0
    check nv0/init-labels ndctl init-labels nmem0
    check nv0/enable-region ndctl enable-region region0
    fsdax_file region0 /mnt

    expect nv1/read-only "$(cat "$r1/read_only")" 1
    expect nv1/blockdev-ro "$(blockdev --getro /dev/pmem1 2>&1)" 1
    if dd if=/dev/zero of=/dev/pmem1 bs=4096 count=1 conv=fsync \
            2> /dev/null; then
        result nv1/write-fails FAIL "a write to /dev/pmem1 succeeded"
    else
        result nv1/write-fails PASS
    fi

    if ! wait_host plug 120; then
        result nv2/plug FAIL "the host never said GO plug"
        return
    fi
    check nv2/region2 wait_path "$r2" 30
    expect nv2/size "$(cat "$r2/size" 2> /dev/null)" "$VNV_PLUG_SIZE"
    check nv2/pmem2 wait_path /dev/pmem2 10
    check nv2/write sh -c \
        "echo '$VNV_TOKEN-plug' | dd of=/dev/pmem2 conv=fsync 2> /dev/null"
}

verify() {
    local ns
    ns=$(ndctl list -N -r region0)
    expect nv0/uuid "$(echo "$ns" | json_field uuid)" "$VNV_UUID"
    expect nv0/mode "$(echo "$ns" | json_field mode)" fsdax
    check nv0/mount-dax mount -o dax /dev/pmem0 /mnt
    expect nv0/file "$(cat /mnt/token.txt 2>&1)" "$VNV_TOKEN-region0"
    umount /mnt
}

case "$VNV_PHASE" in
create) create ;;
verify) verify ;;
*) result phase FAIL "no phase '$VNV_PHASE'" ;;
esac
