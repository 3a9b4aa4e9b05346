# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libvirt suite's domain of our properties beyond stock, set through
# <qemu:override> and <qemu:commandline> (tests/libvirt/); each NVDIMM
# found by its slot:
#   slot 0  nv0: flush-hints, region-align=16M, shutdown-record; no
#           labels (a raw namespace, /dev/pmemX); the machine has
#           nvdimm-health=on, nvdimm-media-errors=on, nvdimm-compact-ssdt=on
#   slot 1  nv1: labelled, label-overwrite on a label area that held
#           other data, region-align=16M: labels and an fsdax namespace
#           on a second region, which the default placement refuses
#           (misaligned to 16M)
#   slot 2  nv2: <readonly/> with require-persistence=on: read-only
# The host counts flushes around "GO flush" and poisons sector VNV_SECTOR
# of nv0 before "GO poisoned".
. /vnv-lib.sh

nd=/sys/bus/nd/devices
r0=$(region_of_slot 0)
r1=$(region_of_slot 1)
r2=$(region_of_slot 2)

# root may write any sysfs file: the mode is what the kernel grants
expect flush-hints/deep-flush-mode "$(ls -l "$nd/$r0/deep_flush" 2>&1 |
    cut -c1-10)" -rw-r--r--
expect flush-hints/deep-flush "$(cat "$nd/$r0/deep_flush" 2>&1)" 1
wait_host flush 60
check flush-hints/deep-flush-write sh -c "echo 1 > $nd/$r0/deep_flush"

health=$(ndctl list -DH -d "$(nmem_of_slot 0)")
expect health/state "$(echo "$health" | json_field health_state)" ok
expect health/shutdown-count \
    "$(echo "$health" | json_field shutdown_count)" 0

check nv1/disable-region ndctl disable-region "$r1"
check nv1/init-labels ndctl init-labels "$(nmem_of_slot 1)"
check nv1/enable-region ndctl enable-region "$r1"
check nv1/create-fsdax ndctl create-namespace -m fsdax -r "$r1"

expect nv2/read-only "$(cat "$nd/$r2/read_only")" 1

PMEM=/dev/pmem${r0#region}
BADBLOCKS=/sys/block/pmem${r0#region}/badblocks
check media-errors/boot-scrub ndctl wait-scrub
wait_host poisoned 120
check media-errors/badblock wait_badblocks "$VNV_SECTOR 1" 30
check media-errors/read-fails read_fails "$VNV_SECTOR"
