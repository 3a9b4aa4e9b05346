# SPDX-License-Identifier: GPL-2.0-or-later
#
# Label-area speed (make bench): on a blank labelled NVDIMM, the mean
# wall time of VNV_COUNT runs each of ndctl read-labels (every label
# byte through the label mailbox), check-labels and init-labels -f, then
# of one create-namespace -m fsdax.  Prints VNV-INFO read-labels-ms=...,
# check-labels-ms=..., init-labels-ms=..., create-namespace-ms=...
# (guest clock, /proc/uptime).
. /vnv-lib.sh

count=${VNV_COUNT:-10}

# mean_ms RUNS COMMAND...: the mean wall time of RUNS runs of COMMAND, ms
mean_ms() {
    local runs=$1 t0 t1 i=0
    shift
    t0=$(cut -d ' ' -f 1 /proc/uptime)
    while [ "$i" -lt "$runs" ]; do
        "$@" > /dev/null 2>&1 || return 1
        i=$((i + 1))
    done
    t1=$(cut -d ' ' -f 1 /proc/uptime)
    awk "BEGIN { printf \"%.2f\", ($t1 - $t0) * 1000 / $runs }"
}

# timed NAME RUNS COMMAND...: report NAME and print VNV-INFO NAME-ms=...
timed() {
    local name=$1 ms
    shift
    if ms=$(mean_ms "$@"); then
        result "$name" PASS "$ms ms"
        info "$name-ms=$ms"
    else
        result "$name" FAIL "'$*' failed"
    fi
}

check disable-region ndctl disable-region all
check init-labels ndctl init-labels all
timed read-labels "$count" ndctl read-labels -o /tmp/labels.bin nmem0
timed check-labels "$count" ndctl check-labels nmem0
timed init-labels "$count" ndctl init-labels -f nmem0
check enable-region ndctl enable-region all
timed create-namespace 1 ndctl create-namespace -m fsdax -r region0
