# SPDX-License-Identifier: GPL-2.0-or-later
#
# Several labelled NVDIMMs, first boot: label every DIMM, then on each
# region create an fsdax namespace, put ext4 on it, mount it with -o dax
# and write a file.  Reports "VNV-INFO <region>-start=..." and
# "VNV-INFO <region>-uuid=..." for the host.
# VNV_TOKEN: the files' content (each gets "-<region>" appended)
. /vnv-lib.sh

ndctl disable-region all > /dev/null
check init-labels ndctl init-labels all
ndctl enable-region all > /dev/null

for path in /sys/bus/nd/devices/region*; do
    region=$(basename "$path")
    info "$region-start=$(cat "$path/resource") align=$(cat "$path/align")"
    if ! ns=$(ndctl create-namespace -m fsdax -r "$region" 2>&1); then
        result "$region/create-fsdax" FAIL "$(echo "$ns" | tr '\n' ' ')"
        continue
    fi
    result "$region/create-fsdax" PASS
    info "$region-uuid=$(echo "$ns" | json_field uuid)"
    dev=/dev/$(echo "$ns" | json_field blockdev)
    mkdir -p "/mnt/$region"
    # ext4 DAX needs the block size to be the page size
    check "$region/mkfs" mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=1 "$dev"
    check "$region/mount-dax" mount -o dax "$dev" "/mnt/$region"
    check "$region/dax-active" grep -q " /mnt/$region ext4 .*dax" /proc/mounts
    echo "$VNV_TOKEN-$region" > "/mnt/$region/token.txt"
    expect "$region/write" "$(cat "/mnt/$region/token.txt")" \
        "$VNV_TOKEN-$region"
    check "$region/umount" umount "/mnt/$region"
done
