# SPDX-License-Identifier: GPL-2.0-or-later
#
# Detection: one NVDIMM shows as nmem0 + region0 with a block device.
# VNV_REGION_SIZE: expected region size in bytes (backend - label area)
# VNV_PERSISTENCE: expected persistence_domain ("" when QEMU sets none)
. /vnv-lib.sh

region=/sys/bus/nd/devices/region0

check nmem0 test -d /sys/bus/nd/devices/nmem0
check region0 test -d "$region"
expect region-size "$(cat "$region/size")" "$VNV_REGION_SIZE"
check pmem0 test -b /dev/pmem0
expect persistence-domain \
    "$(cat "$region/persistence_domain" 2> /dev/null)" "${VNV_PERSISTENCE:-}"
info "dimm-id=$(ndctl list -D | json_field id)"
