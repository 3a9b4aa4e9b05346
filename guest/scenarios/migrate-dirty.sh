# SPDX-License-Identifier: GPL-2.0-or-later
#
# Memory that changes while it migrates: on "GO dirty" the guest spends
# VNV_SECONDS rewriting pages of RAM (files in tmpfs) and of a label-less
# /dev/pmem0 (O_DIRECT, so each write lands in the NVDIMM at once), each
# time with new content, while the host migrates it.  The host compares
# the source's and the destination's memory once both are stopped, then
# resumes the destination and says "GO resumed"; the guest, now on the
# destination, reports how many writes it made and that it still runs.
. /vnv-lib.sh

RAM_FILES=4096          # one page each: 16 MiB of tmpfs
PMEM_PAGES=16384        # the first 64 MiB of /dev/pmem0

uptime_seconds() {
    cut -d. -f1 /proc/uptime
}

check pmem0 wait_path /dev/pmem0 30
mkdir -p /tmp/dirty
if ! wait_host dirty 120; then
    result dirty/go FAIL "the host never said GO dirty"
    exit 0
fi
end=$(($(uptime_seconds) + ${VNV_SECONDS:-20}))
i=0
while [ "$(uptime_seconds)" -lt "$end" ]; do
    echo "write $i" > "/tmp/dirty/$((i % RAM_FILES))"
    echo "write $i" | dd of=/dev/pmem0 bs=4096 count=1 conv=sync,notrunc \
        oflag=direct seek=$((i * 7 % PMEM_PAGES)) 2> /dev/null
    i=$((i + 1))
done
info "writes=$i"
if ! wait_host resumed 600; then
    result resumed/go FAIL "the host never said GO resumed"
    exit 0
fi
expect resumed/last-ram-write "$(cat "/tmp/dirty/$(((i - 1) % RAM_FILES))")" \
    "write $((i - 1))"
result resumed/writes PASS "$i"
