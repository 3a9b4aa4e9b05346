# SPDX-License-Identifier: GPL-2.0-or-later
#
# Crash consistency, first boot on a blank backend: label the DIMM and
# create namespace A (raw, 16 MiB, at the start of the region) filled with
# "vnv-crash-$VNV_TOKEN" lines.  A is never touched again: later boots
# check that QEMU being killed mid label update leaves it intact.
# Reports "VNV-INFO a-uuid=...".
. /vnv-lib.sh

A_SIZE=16777216

check disable-region ndctl disable-region all
check init-labels ndctl init-labels all
check enable-region ndctl enable-region all
if ns=$(ndctl create-namespace -m raw -s "$A_SIZE" -r region0 2>&1); then
    result create-a PASS
else
    result create-a FAIL "$(echo "$ns" | tail -n 1)"
    exit 0
fi
dev=$(echo "$ns" | json_field blockdev)
yes "vnv-crash-$VNV_TOKEN" | head -c "$A_SIZE" > "/dev/$dev"
check sync-a sync
info "a-uuid=$(echo "$ns" | json_field uuid)"
