# SPDX-License-Identifier: GPL-2.0-or-later
#
# Several NVDIMMs on different NUMA nodes: region<i> exists, has a block
# device and sits on node <i-th entry of VNV_NODES> (e.g. "0,1").
. /vnv-lib.sh

i=0
for node in $(echo "$VNV_NODES" | tr , ' '); do
    region=/sys/bus/nd/devices/region$i
    check "region$i" test -d "$region"
    check "pmem$i" test -b "/dev/pmem$i"
    expect "region$i/numa-node" "$(cat "$region/numa_node" 2>&1)" "$node"
    i=$((i + 1))
done
