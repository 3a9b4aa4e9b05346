# SPDX-License-Identifier: GPL-2.0-or-later
#
# Overlapping flush requests: VNV_WRITERS dd, each pinned to a vCPU of its
# own, write a page of /dev/pmem0 (a label-less NVDIMM with
# flush-hints=on) and fsync it, which writes the flush hint once.  They
# wait spinning until the last one is started, so that their requests
# come within milliseconds; the host makes each backend sync slow, so
# that the requests after the first arrive while a sync runs and must
# share the next one.  This shell keeps off the writers' vCPUs: the
# vCPU whose hint write waits for the sync runs nothing else meanwhile.
. /vnv-lib.sh

writers=${VNV_WRITERS:-3}

check pmem0/present wait_path /dev/pmem0 30
expect cpus/online "$(grep -c ^processor /proc/cpuinfo)" $((writers + 1))
check shell/pinned taskset -p -c "$writers" $$
wait_host start 60

i=0
while [ "$i" -lt "$writers" ]; do
    taskset -c "$i" sh -c "while [ ! -e /tmp/go ]; do :; done
        exec dd if=/dev/zero of=/dev/pmem0 bs=4096 seek=$i count=1 \
            conv=fsync" 2> "/tmp/dd-$i.err" &
    i=$((i + 1))
done
sleep 1
touch /tmp/go
failed=0
for pid in $(jobs -p); do
    wait "$pid" || failed=$((failed + 1))
done
expect dd/all-returned "$failed failed" "0 failed"
