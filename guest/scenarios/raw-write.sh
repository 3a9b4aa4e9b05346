# SPDX-License-Identifier: GPL-2.0-or-later
#
# share=on: write a token to the raw namespace of a label-less NVDIMM at
# byte VNV_OFFSET; the host then finds it at that offset in the file.
. /vnv-lib.sh

check pmem0 test -b /dev/pmem0
echo "$VNV_TOKEN" > /tmp/token
check write dd if=/tmp/token of=/dev/pmem0 bs=1 seek="$VNV_OFFSET" \
    conv=notrunc,fsync
