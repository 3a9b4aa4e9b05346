# SPDX-License-Identifier: GPL-2.0-or-later
#
# Two guests on one share=on backend file.  VNV_ROLE=writer writes
# VNV_TOKEN at byte VNV_OFFSET of its raw namespace; VNV_ROLE=reader waits
# for "GO written" and must read it back at the same offset.
. /vnv-lib.sh

check pmem0 test -b /dev/pmem0
if [ "$VNV_ROLE" = writer ]; then
    echo "$VNV_TOKEN" > /tmp/token
    check write dd if=/tmp/token of=/dev/pmem0 bs=1 seek="$VNV_OFFSET" \
        conv=notrunc,fsync
    exit 0
fi
if ! wait_host written 120; then
    result go FAIL "the host never said GO written"
    exit 0
fi
seen=$(dd if=/dev/pmem0 bs=1 skip="$VNV_OFFSET" count=32 iflag=direct \
       2> /dev/null)
expect sees-peer-write "$seen" "$VNV_TOKEN"
