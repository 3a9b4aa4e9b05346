# SPDX-License-Identifier: GPL-2.0-or-later
#
# pseries: the NVDIMMs as the device tree gives them to the guest.
# Debian's ppc64el kernels are built without libnvdimm (no papr_scm, no
# regions for ndctl), so the guest checks what papr_scm would probe: the
# node of every NVDIMM, /ibm,persistent-memory/ibm,pmemory@DRC-INDEX,
# with compatible "ibm,pmemory", ibm,unit-guid (the device's uuid),
# ibm,block-size (256 MiB), ibm,number-of-blocks (the size without the
# label area, in blocks) and ibm,metadata-size (the label area).
# VNV_DIMMS: "uuid:blocks:metadata-size,..." the NVDIMMs at boot
# VNV_PLUG: one more as "uuid:blocks:metadata-size", hot-added by the
#           host after "GO plug1"; its node must appear (the kernel's
#           PAPR hotplug handler fetches it with ibm,configure-connector)
# VNV_MIGRATE=1: then wait for "GO migrated" and check every node again
. /vnv-lib.sh

DT=/proc/device-tree/ibm,persistent-memory
BLOCK_SIZE=268435456

# A device tree cell or u64 (big-endian) as a decimal number
dt_number() {
    printf '%d' "0x$(od -An -v -tx1 "$1" | tr -d ' \n')"
}

dt_string() {
    tr -d '\000' < "$1"
}

# node_of UUID: the pmemory node whose unit-guid is UUID
node_of() {
    local n
    for n in "$DT"/ibm,pmemory@*; do
        [ -f "$n/ibm,unit-guid" ] || continue
        if [ "$(dt_string "$n/ibm,unit-guid")" = "$1" ]; then
            echo "$n"
            return
        fi
    done
}

# check_dimm CASE uuid:blocks:metadata-size
check_dimm() {
    local name=$1 uuid=${2%%:*} meta=${2##*:} blocks node
    blocks=${2#*:}
    blocks=${blocks%:*}
    node=$(node_of "$uuid")
    if [ -z "$node" ]; then
        result "$name/node" FAIL "no ibm,pmemory node has unit-guid $uuid"
        return
    fi
    result "$name/node" PASS "${node##*/}"
    expect "$name/compatible" "$(dt_string "$node/compatible")" ibm,pmemory
    expect "$name/block-size" "$(dt_number "$node/ibm,block-size")" \
        "$BLOCK_SIZE"
    expect "$name/number-of-blocks" \
        "$(dt_number "$node/ibm,number-of-blocks")" "$blocks"
    expect "$name/metadata-size" "$(dt_number "$node/ibm,metadata-size")" \
        "$meta"
}

# check_all PREFIX DIMMS: each NVDIMM of DIMMS, and no other node
check_all() {
    local prefix=$1 dimms=$2 d i=0
    for d in $(echo "$dimms" | tr , ' '); do
        check_dimm "${prefix}nv$i" "$d"
        i=$((i + 1))
    done
    expect "${prefix}node-count" \
        "$(ls -d "$DT"/ibm,pmemory@* 2> /dev/null | wc -l)" "$i"
}

# wait_node UUID SECONDS: until a node has unit-guid UUID
wait_node() {
    local n=0
    while [ -z "$(node_of "$1")" ] && [ "$n" -lt $(($2 * 4)) ]; do
        sleep 0.25
        n=$((n + 1))
    done
    [ -n "$(node_of "$1")" ]
}

check_all "" "$VNV_DIMMS"
if [ -n "${VNV_PLUG:-}" ]; then
    if wait_host plug1 300; then
        check plug1/appears wait_node "${VNV_PLUG%%:*}" 60
        check_all after-plug/ "$VNV_DIMMS,$VNV_PLUG"
    else
        result plug1 FAIL "the host never said GO plug1"
    fi
fi
if [ -n "${VNV_MIGRATE:-}" ]; then
    if wait_host migrated 300; then
        check_all after/ "$VNV_DIMMS"
    else
        result after/go FAIL "the host never said GO migrated"
    fi
fi
