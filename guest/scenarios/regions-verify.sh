# SPDX-License-Identifier: GPL-2.0-or-later
#
# Several labelled NVDIMMs, after a QEMU restart: every region has its
# fsdax namespace back with the uuid regions-create.sh reported, its
# ext4 mounts with -o dax and the file is intact.
# VNV_TOKEN: the files' content; VNV_UUIDS: "region0=uuid,region1=uuid,..."
. /vnv-lib.sh

for pair in $(echo "$VNV_UUIDS" | tr , " "); do
    region=${pair%%=*}
    ns=$(ndctl list -N -r "$region")
    expect "$region/uuid" "$(echo "$ns" | json_field uuid)" "${pair#*=}"
    expect "$region/mode" "$(echo "$ns" | json_field mode)" fsdax
    dev=/dev/$(echo "$ns" | json_field blockdev)
    mkdir -p "/mnt/$region"
    check "$region/mount-dax" mount -o dax "$dev" "/mnt/$region"
    expect "$region/file" "$(cat "/mnt/$region/token.txt" 2>&1)" \
        "$VNV_TOKEN-$region"
    umount "/mnt/$region"
done
ndctl disable-region all > /dev/null
for pair in $(echo "$VNV_UUIDS" | tr , " "); do
    region=${pair%%=*}
    check "$region/check-labels" ndctl check-labels "nmem${region#region}"
done

# devdax needs the same 16 MiB alignment: the last region, the one
# furthest from an aligned start in stock's layout, takes one too.
ndctl enable-region all > /dev/null
last=$(echo "$VNV_UUIDS" | tr , '\n' | tail -n 1)
last=${last%%=*}
check "$last/destroy-fsdax" ndctl destroy-namespace -f -r "$last" all
check "$last/create-devdax" ndctl create-namespace -m devdax -r "$last"
