# SPDX-License-Identifier: GPL-2.0-or-later
#
# Labels, third boot: the sector (BTT) namespace made by labels-verify.sh
# is back with its uuid, mode and data, and the labels check out.
# VNV_UUID, VNV_TOKEN: what the second boot created and wrote
. /vnv-lib.sh

ns=$(ndctl list -N -r region0)
expect uuid "$(echo "$ns" | json_field uuid)" "$VNV_UUID"
expect mode "$(echo "$ns" | json_field mode)" sector
expect data "$(head -n 1 /dev/pmem0s 2>&1)" "$VNV_TOKEN"
check disable-region ndctl disable-region all
check check-labels ndctl check-labels all
