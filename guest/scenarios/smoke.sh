# SPDX-License-Identifier: GPL-2.0-or-later
# Smoke test: the tools start and the NVDIMM bus is there.
. /vnv-lib.sh
check ndctl ndctl --version
check daxctl daxctl --version
check mkfs mkfs.ext4 -V
check nd-bus test -d /sys/bus/nd/devices/ndbus0
show ndctl list -D -R -N
