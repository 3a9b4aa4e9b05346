# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hotplug latency (make bench): for each step N in VNV_STEPS the guest
# says it is ready (GO plugN), then polls for /dev/pmemN every 10 ms and
# prints "VNV-INFO pmemN-seen" as soon as it exists.  The host hot-adds
# the NVDIMM after GO and times device_add's return until that line.
. /vnv-lib.sh

for n in $(echo "$VNV_STEPS" | tr , " "); do
    if ! wait_host "plug$n" 120; then
        result "plug$n" FAIL "the host never said GO plug$n"
        continue
    fi
    if wait_path "/dev/pmem$n" 60 100; then
        info "pmem$n-seen"
        result "plug$n/pmem$n" PASS
    else
        result "plug$n/pmem$n" FAIL "no /dev/pmem$n after 60 s"
    fi
done
