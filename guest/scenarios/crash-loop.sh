# SPDX-License-Identifier: GPL-2.0-or-later
#
# Crash consistency, every boot after a SIGKILL of QEMU: first check the
# state the kill left, then (unless VNV_LOOP=0) loop label updates until
# the host kills QEMU again.
#
# Checks: namespace A (VNV_AUUID) is there and its first MiB still hashes
# to VNV_ASUM; at most one other namespace exists (the loop's namespace B,
# from before or after the interrupted update); ndctl check-labels
# accepts the label area.  The loop: create B (raw or fsdax, 16 MiB),
# write 1 MiB to it, destroy it, reporting "VNV-INFO phase=... i=N" so
# the host knows where each kill landed, and where in the region each B
# was placed.
. /vnv-lib.sh

B_SIZE=16777216
A_CHECKED=1048576        # the host compares all of A in the file

# Active namespaces (size > 0) as "name uuid" lines.
active_namespaces() {
    local d
    for d in /sys/bus/nd/devices/namespace*.*; do
        [ -f "$d/size" ] && [ "$(cat "$d/size")" -gt 0 ] || continue
        echo "${d##*/} $(cat "$d/uuid" 2> /dev/null)"
    done
}

check_state() {
    local list others a_dev sum
    list=$(active_namespaces)
    info "namespaces: $(echo "$list" | tr '\n' ';')"
    a_name=$(echo "$list" | grep " $VNV_AUUID\$" | cut -d' ' -f1)
    others=$(echo "$list" | grep -vc " $VNV_AUUID\$")
    expect namespace-a "${a_name:+present}" present
    if [ "$others" -le 1 ]; then
        result namespace-count PASS "$others besides A"
    else
        result namespace-count FAIL "$others namespaces besides A"
    fi
    if [ -n "$a_name" ]; then
        a_dev=$(ls "/sys/bus/nd/devices/$a_name/block" 2> /dev/null)
        sum=$(head -c "$A_CHECKED" "/dev/$a_dev" | sha256sum |
              cut -d' ' -f1)
        expect a-data "$sum" "$VNV_ASUM"
    fi
    check disable-region ndctl disable-region all
    check check-labels ndctl check-labels all
    check enable-region ndctl enable-region all
}

# Destroy whatever the interrupted loop left besides A, then re-probe
# the region.  Linux 6.1, once check_state has re-enabled a region with
# two labelled namespaces, has no idle namespace in it: the seed is the
# first, active, namespace, and destroying the other one removes its
# device.  create-namespace then finds no seed and fails with ENOSPC
# (the same on QEMU 10.0).  Re-enabled with A alone, the region has an
# idle seed again.
remove_leftovers() {
    local name uuid out left=0
    active_namespaces > /tmp/namespaces
    while read -r name uuid; do
        [ "$uuid" != "$VNV_AUUID" ] || continue
        left=1
        out=$(ndctl destroy-namespace -f "$name" 2>&1 < /dev/null) ||
            result remove-leftover FAIL "$name: $(echo "$out" | tail -n 1)"
        info "leftover $name: $(echo "$out" | tail -n 1)"
    done < /tmp/namespaces
    if [ "$left" = 1 ]; then
        check reprobe/disable-region ndctl disable-region all
        check reprobe/enable-region ndctl enable-region all
    fi
}

# create_b MODE: print ndctl's JSON of a new namespace B.  A refusal is
# a failure; what the region looked like goes to the console with it
# (stderr: the caller keeps stdout).
create_b() {
    local out
    if out=$(ndctl create-namespace -m "$1" -s "$B_SIZE" -r region0 2>&1)
    then
        echo "$out"
        return 0
    fi
    info "create refused: $(echo "$out" | tail -n 1);" \
        "seed $(cat /sys/bus/nd/devices/region0/namespace_seed);" \
        "$(ndctl list -RNu | tr -d ' \n')" >&2
    echo "$out"
    return 1
}

# b_offset NAME: where the kernel placed namespace NAME, in bytes from the
# start of the region; A starts at 0, so a B below A's size overlaps it.
b_offset() {
    local start base
    start=$(cat "/sys/bus/nd/devices/$1/resource" 2> /dev/null) || start=
    base=$(cat /sys/bus/nd/devices/region0/resource)
    if [ -n "$start" ]; then
        echo $((start - base))
    else
        echo unknown
    fi
}

label_loop() {
    local i=0 mode ns dev name
    ready loop
    while :; do
        i=$((i + 1))
        mode=raw
        [ $((i % 2)) = 0 ] && mode=fsdax
        info "phase=create i=$i mode=$mode"
        if ! ns=$(create_b "$mode"); then
            result loop-create FAIL "i=$i: $(echo "$ns" | tail -n 1)"
            return
        fi
        dev=$(echo "$ns" | json_field blockdev)
        name=$(echo "$ns" | json_field dev)
        info "phase=write i=$i offset=$(b_offset "$name")"
        yes "vnv-loop-$i" | head -c 1048576 | \
            dd of="/dev/$dev" bs=1M conv=fsync 2> /dev/null
        info "phase=destroy i=$i"
        if ! ndctl destroy-namespace -f "$name" > /dev/null 2>&1; then
            result loop-destroy FAIL "i=$i: $name"
            return
        fi
    done
}

check_state
if [ "${VNV_LOOP:-1}" != 0 ]; then
    remove_leftovers
    label_loop
fi
