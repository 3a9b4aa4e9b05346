# SPDX-License-Identifier: GPL-2.0-or-later
#
# Several labelled NVDIMMs, after a QEMU restart: every namespace that
# regions-create.sh (or hotplug.sh) reported is back in fsdax mode, its
# ext4 mounts with -o dax and the file is intact.
# VNV_TOKEN: the files' content; VNV_UUIDS: "region0=uuid,region1=uuid,..."
# with the regions as the boot that made the namespaces named them.  The
# guest numbers regions in no fixed order (after a hot-add nmem2 can be
# region2 and, after a restart, region1), so each namespace is looked up
# by its uuid; cases are named after the region of the first boot.
. /vnv-lib.sh

# region_with UUID: the region now holding the namespace UUID
region_with() {
    local path
    for path in /sys/bus/nd/devices/region*; do
        if [ "$(ndctl list -N -r "${path##*/}" | json_field uuid)" = "$1" ]
        then
            echo "${path##*/}"
            return
        fi
    done
}

# the DIMM behind a (not interleaved) region
dimm_of() {
    cut -d, -f1 "/sys/bus/nd/devices/$1/mapping0"
}

found=
for pair in $(echo "$VNV_UUIDS" | tr , " "); do
    key=${pair%%=*}
    region=$(region_with "${pair#*=}")
    if [ -z "$region" ]; then
        result "$key/uuid" FAIL "no namespace has uuid ${pair#*=}"
        continue
    fi
    result "$key/uuid" PASS "${pair#*=} on $region"
    found="$found $key=$region"
    ns=$(ndctl list -N -r "$region")
    expect "$key/mode" "$(echo "$ns" | json_field mode)" fsdax
    dev=/dev/$(echo "$ns" | json_field blockdev)
    mkdir -p "/mnt/$key"
    check "$key/mount-dax" mount -o dax "$dev" "/mnt/$key"
    expect "$key/file" "$(cat "/mnt/$key/token.txt" 2>&1)" "$VNV_TOKEN-$key"
    umount "/mnt/$key"
done
ndctl disable-region all > /dev/null
for pair in $found; do
    check "${pair%%=*}/check-labels" ndctl check-labels \
        "$(dimm_of "${pair#*=}")"
done

# devdax needs the same 16 MiB alignment: the last region, the one
# furthest from an aligned start in stock's layout, takes one too.
ndctl enable-region all > /dev/null
last=$(echo "$found" | tr ' ' '\n' | tail -n 1)
[ -n "$last" ] || exit 0
check "${last%%=*}/destroy-fsdax" ndctl destroy-namespace -f -r \
    "${last#*=}" all
check "${last%%=*}/create-devdax" ndctl create-namespace -m devdax $PFN_MAP \
    -r "${last#*=}"
