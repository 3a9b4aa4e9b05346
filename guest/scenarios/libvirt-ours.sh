# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libvirt suite's domain of our properties beyond stock, set through
# <qemu:override> and <qemu:commandline> (tests/libvirt/):
#   nv0  flush-hints, region-align=16M, shutdown-record; no labels
#        (/dev/pmem0); the machine has nvdimm-health=on,
#        nvdimm-media-errors=on and nvdimm-compact-ssdt=on
#   nv1  labelled, label-overwrite on a label area that held other data,
#        region-align=16M: an fsdax namespace on the second region,
#        which the default placement would refuse (misaligned to 16M)
#   nv2  <readonly/> with require-persistence=on: starts, read-only
# After "GO poisoned" the host has poisoned sector VNV_SECTOR of nv0.
. /vnv-lib.sh

r0=/sys/bus/nd/devices/region0
r1=/sys/bus/nd/devices/region1
r2=/sys/bus/nd/devices/region2

# root may write any sysfs file: the mode is what the kernel grants
expect flush-hints/deep-flush-mode "$(ls -l "$r0/deep_flush" 2>&1 |
    cut -c1-10)" -rw-r--r--
expect flush-hints/deep-flush "$(cat "$r0/deep_flush" 2>&1)" 1
check flush-hints/deep-flush-write sh -c "echo 1 > $r0/deep_flush"

health=$(ndctl list -DH -d nmem0)
expect health/state "$(echo "$health" | json_field health_state)" ok
expect health/shutdown-count \
    "$(echo "$health" | json_field shutdown_count)" 0

check nv1/disable-region ndctl disable-region region1
check nv1/init-labels ndctl init-labels nmem1
check nv1/enable-region ndctl enable-region region1
check nv1/create-fsdax ndctl create-namespace -m fsdax -r region1

expect nv2/read-only "$(cat "$r2/read_only")" 1

check media-errors/boot-scrub ndctl wait-scrub
wait_host poisoned 120
check media-errors/badblock wait_badblocks "$VNV_SECTOR 1" 30
check media-errors/read-fails read_fails "$VNV_SECTOR"
