# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libvirt suite's domain of stock features (tests/libvirt/), each
# NVDIMM found by its slot (libvirt gives them in XML order):
#   slot 0  nv0: labelled, access='shared', <pmem/>, <alignsize>
#   slot 1  nv1: <readonly/> (unarmed)
#   slot 2  nv2: added by "virsh attach-device --live"
# VNV_PHASE=create: nv0's region is VNV_REGION0_SIZE bytes; labels and an
#   fsdax namespace with ext4 -o dax and token.txt on it (fsdax_file);
#   nv1's region is read-only; after "GO plug", nv2's region of
#   VNV_PLUG_SIZE bytes, whose first bytes get "$VNV_TOKEN-plug" (the
#   host reads them in nv2's file).
#   Reports "VNV-INFO nv0-region=regionX" and fsdax_file's
#   "regionX-uuid=...".
# VNV_PHASE=verify (a new QEMU on the same files): nv0's namespace has
#   uuid VNV_UUID and token.txt is back ("$VNV_TOKEN-$VNV_REGION0").
. /vnv-lib.sh

nd=/sys/bus/nd/devices

create() {
    local r0 r1 r2
    r0=$(region_of_slot 0)
    r1=$(region_of_slot 1)
    expect nv0/region-size "$(cat "$nd/$r0/size")" "$VNV_REGION0_SIZE"
    check nv0/disable-region ndctl disable-region "$r0"
    check nv0/init-labels ndctl init-labels "$(nmem_of_slot 0)"
    check nv0/enable-region ndctl enable-region "$r0"
    info "nv0-region=$r0"
    fsdax_file "$r0" /mnt

    expect nv1/read-only "$(cat "$nd/$r1/read_only")" 1
    expect nv1/blockdev-ro "$(blockdev --getro "/dev/pmem${r1#region}" \
        2>&1)" 1
    if dd if=/dev/zero of="/dev/pmem${r1#region}" bs=4096 count=1 \
            conv=fsync 2> /dev/null; then
        result nv1/write-fails FAIL "a write to nv1's block device succeeded"
    else
        result nv1/write-fails PASS
    fi

    if ! wait_host plug 120; then
        result nv2/plug FAIL "the host never said GO plug"
        return
    fi
    if ! r2=$(wait_region_of_slot 2 30); then
        result nv2/region FAIL "no region of slot 2 after 30 s"
        return
    fi
    result nv2/region PASS "$r2"
    expect nv2/size "$(cat "$nd/$r2/size")" "$VNV_PLUG_SIZE"
    check nv2/pmem wait_path "/dev/pmem${r2#region}" 10
    check nv2/write sh -c "echo '$VNV_TOKEN-plug' |
        dd of=/dev/pmem${r2#region} conv=fsync 2> /dev/null"
}

verify() {
    local r0 ns
    r0=$(region_of_slot 0)
    ns=$(ndctl list -N -r "$r0")
    expect nv0/uuid "$(echo "$ns" | json_field uuid)" "$VNV_UUID"
    expect nv0/mode "$(echo "$ns" | json_field mode)" fsdax
    check nv0/mount-dax mount -o dax "/dev/$(echo "$ns" |
        json_field blockdev)" /mnt
    expect nv0/file "$(cat /mnt/token.txt 2>&1)" "$VNV_TOKEN-$VNV_REGION0"
    umount /mnt
}

case "$VNV_PHASE" in
create) create ;;
verify) verify ;;
*) result phase FAIL "no phase '$VNV_PHASE'" ;;
esac
