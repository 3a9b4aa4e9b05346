# SPDX-License-Identifier: GPL-2.0-or-later
#
# make demo, second boot on the same backend file: the namespace and the
# file are still there.
# VNV_UUID, VNV_TOKEN: what the first boot created and wrote
. /vnv-lib.sh

info "the namespace after a QEMU restart:"
show ndctl list -N
ns=$(ndctl list -N -r region0)
expect namespace-uuid "$(echo "$ns" | json_field uuid)" "$VNV_UUID"
expect namespace-mode "$(echo "$ns" | json_field mode)" fsdax
show mount -o dax /dev/pmem0 /mnt
show cat /mnt/hello.txt
expect file-content "$(cat /mnt/hello.txt 2>&1)" "$VNV_TOKEN"
show umount /mnt
