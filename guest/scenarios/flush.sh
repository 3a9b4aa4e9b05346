# SPDX-License-Identifier: GPL-2.0-or-later
#
# Flush hints (flush-hints=on): region0 has a writable deep_flush
# attribute; writing it, sync and fsync each make the host flush (the
# host counts between the GO steps); then a file on ext4 -o dax is
# written and fsync'd, and the host SIGKILLs QEMU on "VNV-READY fsynced"
# and looks for the file's bytes in the backend file.
# VNV_TOKEN: makes the file's content unique.
# VNV_HOTPLUG=1: region0 comes from a hot-added NVDIMM (GO plugged).
. /vnv-lib.sh

region=/sys/bus/nd/devices/region0
deep=$region/deep_flush

if [ "${VNV_HOTPLUG:-}" = 1 ]; then
    if ! wait_host plugged 120; then
        result plug FAIL "the host never said GO plugged"
        exit 0
    fi
    check plug/region0 wait_path "$region" 30
    check plug/pmem0 wait_path /dev/pmem0 10
fi

check deep-flush/present test -e "$deep"
# root may write any sysfs file: the mode is what the kernel grants
expect deep-flush/mode "$(ls -l "$deep" 2>&1 | cut -c1-10)" -rw-r--r--
expect deep-flush/has-flush "$(cat "$deep" 2>&1)" 1

wait_host before-deep-flush 60
check deep-flush/write sh -c "echo 1 > $deep"
wait_host after-deep-flush 60

check fsdax/disable-region ndctl disable-region all
check fsdax/init-labels ndctl init-labels all
check fsdax/enable-region ndctl enable-region all
check fsdax/create ndctl create-namespace -m fsdax -r region0
check fsdax/mkfs mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0 /dev/pmem0
check fsdax/mount mount -o dax /dev/pmem0 /mnt

wait_host before-sync 60
echo "sync $VNV_TOKEN" > /mnt/sync.txt
check sync/run sync
wait_host after-sync 60

# 320 numbered lines (16 KiB) of the pattern, written and fsync'd by dd
i=0
: > /tmp/pattern
while [ "$i" -lt 320 ]; do
    printf 'vnv-flush-%s-%08d\n' "$VNV_TOKEN" "$i" >> /tmp/pattern
    i=$((i + 1))
done
check fsync/dd dd if=/tmp/pattern of=/mnt/durable.dat bs=4096 conv=fsync
ready fsynced
# The host kills QEMU now; anything below only runs if it does not.
sleep 60
result fsync/killed FAIL "the host did not kill QEMU"
