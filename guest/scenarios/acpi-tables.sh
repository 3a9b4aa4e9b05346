# SPDX-License-Identifier: GPL-2.0-or-later
#
# The NVDIMM's ACPI tables as the guest got them from the firmware: the
# NFIT and every SSDT (on arm virt the NVDIMM SSDT is the only one), each
# as "VNV-INFO table-NAME=<hex bytes>", for the host to compare between
# builds byte for byte.  The NFIT must be there.
. /vnv-lib.sh

tables=/sys/firmware/acpi/tables
check nfit-present test -f "$tables/NFIT"
for t in "$tables"/NFIT "$tables"/SSDT*; do
    [ -f "$t" ] || continue
    info "table-${t##*/}=$(od -An -v -tx1 "$t" | tr -d ' \n')"
done
