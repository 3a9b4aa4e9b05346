# SPDX-License-Identifier: GPL-2.0-or-later
#
# make demo, first boot: what the guest sees of a blank labelled NVDIMM,
# then an fsdax namespace with a file on ext4 -o dax.
# VNV_TOKEN: the text written to the file
. /vnv-lib.sh

info "the DIMM and its region, as the nfit driver found them:"
show ndctl list -D -R
info "initialising the label area (128 KiB at the end of the backend):"
show ndctl disable-region all
show ndctl init-labels all
show ndctl enable-region all
info "creating an fsdax namespace (takes a few seconds under TCG):"
ns=$(ndctl create-namespace -m fsdax -r region0 2>&1)
echo "$ns" | sed 's/^/VNV-OUT /'
info "uuid=$(echo "$ns" | json_field uuid)"
info "making ext4 and mounting it with -o dax:"
show mkfs.ext4 -q -F -E lazy_itable_init=1 /dev/pmem0
show mount -o dax /dev/pmem0 /mnt
show grep /mnt /proc/mounts
echo "$VNV_TOKEN" > /mnt/hello.txt
show cat /mnt/hello.txt
show umount /mnt
check namespace-created test -b /dev/pmem0
