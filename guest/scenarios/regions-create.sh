# SPDX-License-Identifier: GPL-2.0-or-later
#
# Several labelled NVDIMMs, first boot: label every DIMM, then on each
# region create an fsdax namespace, put ext4 on it, mount it with -o dax
# and write a file.  Reports "VNV-INFO <region>-start=..." and
# "VNV-INFO <region>-uuid=..." for the host.
# VNV_TOKEN: the files' content (each gets "-<region>" appended)
. /vnv-lib.sh

ndctl disable-region all > /dev/null
check init-labels ndctl init-labels all
ndctl enable-region all > /dev/null

for path in /sys/bus/nd/devices/region*; do
    region=$(basename "$path")
    info "$region-start=$(cat "$path/resource") align=$(cat "$path/align")"
    fsdax_file "$region" "/mnt/$region"
done
