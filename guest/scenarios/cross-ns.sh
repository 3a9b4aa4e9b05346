# SPDX-License-Identifier: GPL-2.0-or-later
#
# Namespaces across implementations.  VNV_PHASE=create (blank backend):
# label the DIMM and make three 256 MiB namespaces on region0, fsdax
# (ext4 -o dax with a file), devdax and sector (a token at its start).
# VNV_PHASE=verify (the same file under the other QEMU): the data is
# back.  Both phases list every namespace as "VNV-INFO ns=uuid/mode/size"
# for the host to compare.
# VNV_TOKEN: the data written and expected
. /vnv-lib.sh

# create MODE: one 256 MiB namespace in MODE; $created is its block device
create() {
    local out
    created=
    if out=$(ndctl create-namespace -r region0 -s 256M -m "$1" 2>&1); then
        result "create-$1" PASS
        created=/dev/$(echo "$out" | json_field blockdev)
    else
        result "create-$1" FAIL "$(echo "$out" | tr '\n' ' ')"
    fi
}

# list_namespaces: "uuid/mode/size" of every namespace of region0
list_namespaces() {
    local path ns
    for path in /sys/bus/nd/devices/namespace0.*; do
        ns=$(ndctl list -n "$(basename "$path")")
        [ -n "$(echo "$ns" | json_field uuid)" ] || continue
        info "ns=$(echo "$ns" | json_field uuid)/$(echo "$ns" |
            json_field mode)/$(echo "$ns" | json_field size)"
    done
}

# blockdev MODE: the block device of region0's namespace in MODE
blockdev() {
    local path ns
    for path in /sys/bus/nd/devices/namespace0.*; do
        ns=$(ndctl list -n "$(basename "$path")")
        if [ "$(echo "$ns" | json_field mode)" = "$1" ]; then
            echo "/dev/$(echo "$ns" | json_field blockdev)"
        fi
    done
}

if [ "$VNV_PHASE" = create ]; then
    ndctl disable-region all > /dev/null
    check init-labels ndctl init-labels all
    ndctl enable-region all > /dev/null
    create fsdax
    fsdax=$created
    check mkfs mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=1 "$fsdax"
    check mount-dax mount -o dax "$fsdax" /mnt
    echo "$VNV_TOKEN" > /mnt/token.txt
    check umount umount /mnt
    create devdax
    create sector
    sector=$created
    echo "$VNV_TOKEN" | dd of="$sector" conv=fsync 2> /dev/null
    list_namespaces
else
    list_namespaces
    fsdax=$(blockdev fsdax)
    check mount-dax mount -o dax "$fsdax" /mnt
    expect fsdax-file "$(cat /mnt/token.txt 2>&1)" "$VNV_TOKEN"
    umount /mnt
    sector=$(blockdev sector)
    expect sector-data "$(head -n 1 "$sector" 2>&1)" "$VNV_TOKEN"
    check devdax-chardev sh -c 'test -c /dev/dax0.*'
    ndctl disable-region all > /dev/null
    check check-labels ndctl check-labels all
fi
