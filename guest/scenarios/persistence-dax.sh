# SPDX-License-Identifier: GPL-2.0-or-later
#
# The persistence report on real DAX mappings: QEMU itself (the build
# under test, under /opt/qemu: tests/guest/test_persistence.py adds it to
# the initramfs) runs in the guest on the NVDIMM the host gave it, and
# query-nvdimm-persistence must say what the host kernel gave QEMU:
#   devdax  /dev/dax0.0 with align=2M: device DAX, "guaranteed", and
#           require-persistence=on starts
#   fsdax   a file on ext4 -o dax with pmem=on,share=on: MAP_SYNC, DAX,
#           "guaranteed", and require-persistence=on starts; without
#           pmem=on QEMU does not ask for MAP_SYNC, and does not get it
#   nodax   a file on a file system without DAX: "not-guaranteed", and
#           require-persistence=on refuses to start
# The inner QEMU runs no guest (-S): it maps the backend and answers QMP.
. /vnv-lib.sh

INNER_SIZE=67108864

inner_qemu() {
    /opt/qemu/lib/ld-linux-x86-64.so.2 --library-path /opt/qemu/lib \
        /opt/qemu/qemu-system-x86_64 -L /opt/qemu/share -accel tcg -S \
        -machine pc,nvdimm=on -m 64M,slots=1,maxmem=1G -nodefaults \
        -display none -qmp stdio "$@"
}

# persistence CASE BACKEND_PROPS [DEVICE_PROPS]: query-nvdimm-persistence
# of an inner QEMU with one NVDIMM; its output in /tmp/CASE.out
persistence() {
    local name=$1 rc=0
    printf '%s\n' '{"execute":"qmp_capabilities"}' \
        '{"execute":"query-nvdimm-persistence"}' '{"execute":"quit"}' |
        inner_qemu -object "memory-backend-file,id=m0,$2" \
            -device "nvdimm,id=nv0,memdev=m0$3" > "/tmp/$name.out" 2>&1 ||
        rc=$?
    show cat "/tmp/$name.out"
    return "$rc"
}

# has CASE FIELD VALUE: the inner QEMU's report has "FIELD": VALUE
has() {
    if grep -qF "\"$2\": $3" "/tmp/$1.out"; then
        result "$1/$2" PASS "$3"
    else
        result "$1/$2" FAIL "want $3: $(tail -c 400 "/tmp/$1.out" |
            tr '\n' ' ')"
    fi
}

devdax() {
    local size
    check devdax/create ndctl create-namespace -m devdax -a 2M -r region0 ||
        return
    wait_path /dev/dax0.0 10
    size=$(cat /sys/bus/dax/devices/dax0.0/size)
    persistence devdax "mem-path=/dev/dax0.0,size=$size,share=on,align=2M"
    has devdax dax true
    has devdax device-dax true
    has devdax verdict '"guaranteed"'
    has devdax reasons '["device-dax"]'
    check devdax/require-persistence persistence devdax-strict \
        "mem-path=/dev/dax0.0,size=$size,share=on,align=2M" \
        ",require-persistence=on"
    has devdax-strict verdict '"guaranteed"'
    check devdax/destroy ndctl destroy-namespace -f all
}

fsdax() {
    local ns dev
    if ! ns=$(ndctl create-namespace -m fsdax -r region0 2>&1); then
        result fsdax/create FAIL "$(echo "$ns" | tail -n 1)"
        return
    fi
    dev=/dev/$(echo "$ns" | json_field blockdev)
    check fsdax/mkfs mkfs.ext4 -q -F -b 4096 "$dev"
    check fsdax/mount-dax mount -o dax "$dev" /mnt
    truncate -s "$INNER_SIZE" /mnt/nv.img
    persistence fsdax "mem-path=/mnt/nv.img,size=$INNER_SIZE,share=on,pmem=on"
    has fsdax map-sync true
    has fsdax dax true
    has fsdax device-dax false
    has fsdax verdict '"guaranteed"'
    has fsdax reasons '["dax-file-map-sync"]'
    persistence fsdax-nopmem "mem-path=/mnt/nv.img,size=$INNER_SIZE,share=on"
    has fsdax-nopmem map-sync false
    has fsdax-nopmem dax true
    has fsdax-nopmem verdict '"not-guaranteed"'
    has fsdax-nopmem reasons '["no-pmem"]'
    check fsdax/require-persistence persistence fsdax-strict \
        "mem-path=/mnt/nv.img,size=$INNER_SIZE,share=on,pmem=on" \
        ",require-persistence=on"
    check fsdax/umount umount /mnt
}

no_dax() {
    truncate -s "$INNER_SIZE" /tmp/nv.img
    persistence nodax "mem-path=/tmp/nv.img,size=$INNER_SIZE,share=on"
    has nodax map-sync false
    has nodax dax false
    has nodax verdict '"not-guaranteed"'
    has nodax reasons '["not-dax", "no-pmem"]'
    if persistence nodax-strict \
        "mem-path=/tmp/nv.img,size=$INNER_SIZE,share=on" \
        ",require-persistence=on"; then
        result nodax/require-persistence-refused FAIL "the inner QEMU started"
    else
        result nodax/require-persistence-refused PASS
    fi
    if grep -q "has require-persistence=on, but" /tmp/nodax-strict.out; then
        result nodax/refusal-message PASS
    else
        result nodax/refusal-message FAIL \
            "$(tail -c 400 /tmp/nodax-strict.out)"
    fi
}

check disable-region ndctl disable-region all
check init-labels ndctl init-labels all
check enable-region ndctl enable-region all
devdax
fsdax
no_dax
