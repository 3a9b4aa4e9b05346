# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hotplug: the host adds NVDIMMs while the guest waits; each one must show
# up as a new region with a block device.  For each step N in
# VNV_STEPS (e.g. "1,2") the guest waits for "GO plugN" and then for
# region<N> of VNV_SIZE bytes.  With VNV_FSDAX=N it then labels nmemN and
# makes an fsdax namespace on regionN with ext4 -o dax and token.txt
# ("$VNV_TOKEN-regionN", what regions-verify.sh checks after a restart),
# and reports "VNV-INFO regionN-uuid=...".  At the end it waits for
# "GO plugged-all": the host still talks to QEMU, which must not power
# off under it.
. /vnv-lib.sh

for n in $(echo "$VNV_STEPS" | tr , " "); do
    if ! wait_host "plug$n" 120; then
        result "plug$n" FAIL "the host never said GO plug$n"
        continue
    fi
    region=/sys/bus/nd/devices/region$n
    check "plug$n/region$n" wait_path "$region" 30
    expect "plug$n/size" "$(cat "$region/size" 2> /dev/null)" "$VNV_SIZE"
    check "plug$n/pmem$n" wait_path "/dev/pmem$n" 10
done
if [ -n "${VNV_FSDAX:-}" ]; then
    ndctl disable-region "region$VNV_FSDAX" > /dev/null
    check "region$VNV_FSDAX/init-labels" ndctl init-labels "nmem$VNV_FSDAX"
    ndctl enable-region "region$VNV_FSDAX" > /dev/null
    fsdax_file "region$VNV_FSDAX" /mnt
fi
wait_host plugged-all 120 ||
    result plugged-all FAIL "the host never said GO plugged-all"
