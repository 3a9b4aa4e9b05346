# SPDX-License-Identifier: GPL-2.0-or-later
#
# Labels, second boot: the namespace made by labels-create.sh is back
# with its uuid and mode, and the file on its ext4 -o dax mount is intact.
# VNV_UUID, VNV_TOKEN: what the first boot reported and wrote
. /vnv-lib.sh

ns=$(ndctl list -N -r region0)
expect uuid "$(echo "$ns" | json_field uuid)" "$VNV_UUID"
expect mode "$(echo "$ns" | json_field mode)" fsdax
check mount-dax mount -o dax /dev/pmem0 /mnt
expect file "$(cat /mnt/token.txt 2>&1)" "$VNV_TOKEN"
umount /mnt
check disable-region ndctl disable-region all
check check-labels ndctl check-labels all

# Re-create the namespace in the other modes; the last one (sector, with
# a token at its start) is checked by labels-sector.sh after a restart.
check enable-region ndctl enable-region all
check destroy-fsdax ndctl destroy-namespace -f all
check create-devdax ndctl create-namespace -m devdax $PFN_MAP -r region0
check dax0.0 test -c /dev/dax0.0
expect daxctl-mode "$(daxctl list | json_field mode)" devdax
check destroy-devdax ndctl destroy-namespace -f all
if ns=$(ndctl create-namespace -m sector -r region0 2>&1); then
    result create-sector PASS
    info "sector-uuid=$(echo "$ns" | json_field uuid)"
    echo "$VNV_TOKEN" | dd of=/dev/pmem0s conv=fsync 2> /dev/null
    check pmem0s test -b /dev/pmem0s
else
    result create-sector FAIL "$(echo "$ns" | tail -n 1)"
fi
