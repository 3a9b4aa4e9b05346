# SPDX-License-Identifier: GPL-2.0-or-later
#
# Migration cost (make bench): a label-less NVDIMM as /dev/pmem0.  The
# host migrates the guest while the NVDIMM is still empty and says
# "GO empty" on the destination.  With VNV_WRITE_MIB set, the guest then
# writes that many MiB of non-zero data to the start of /dev/pmem0
# (make bench leaves it unset and writes the shared backend file from
# the host: the same for migration, and 40 s faster under TCG).  The
# guest says "written"; the host migrates again and says "GO written".
. /vnv-lib.sh

# write_pmem MIB: 1 MiB of random bytes, doubled to 64 MiB in tmpfs,
# written again and again past the page cache (oflag=direct)
write_pmem() {
    local i=0 chunks=$(($1 / 64))
    dd if=/dev/urandom of=/tmp/blk bs=1M count=1 2> /dev/null
    while [ "$i" -lt 6 ]; do
        cat /tmp/blk /tmp/blk > /tmp/blk2 && mv /tmp/blk2 /tmp/blk
        i=$((i + 1))
    done
    i=0
    while [ "$i" -lt "$chunks" ]; do
        dd if=/tmp/blk of=/dev/pmem0 bs=1M seek=$((i * 64)) oflag=direct \
            2> /dev/null || break
        i=$((i + 1))
    done
    rm -f /tmp/blk
    expect written "$i" "$chunks"
}

check pmem0 wait_path /dev/pmem0 30
if ! wait_host empty 300; then
    result empty FAIL "the host never said GO empty"
    exit 0
fi
if [ "${VNV_WRITE_MIB:-0}" -gt 0 ]; then
    write_pmem "$VNV_WRITE_MIB"
fi
if ! wait_host written 300; then
    result written-go FAIL "the host never said GO written"
    exit 0
fi
result migrated PASS
