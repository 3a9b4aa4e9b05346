#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Decompile the NVDIMM SSDTs the ACPI qtest dumped for our build and for
# the reference build (iasl -d, from acpica-tools) and keep the diff of
# each configuration's ASL in OUTDIR/<config>.diff for people to read.
# One case per configuration: "PASS ssdt-decompile/<config>" when both
# tables decompile cleanly; the diff itself does not fail the case.  A
# tool for reading a difference: make check's identity suite requires
# the SSDT to be byte-identical (nvdimm-compact-ssdt=on aside).
#
#   ssdt-diff.sh OURS_DIR REFERENCE_DIR OUTDIR
set -uo pipefail

ours=$1
ref=$2
out=$3

# decompile TABLE DSL: iasl -d TABLE into DSL without the header comment
# (it names the input file and the time); 1 when iasl fails.
decompile() {
    local work
    work=$(mktemp -d)
    cp "$1" "$work/table.aml"
    if ! iasl -d "$work/table.aml" > "$work/iasl.log" 2>&1 ||
       [ ! -s "$work/table.dsl" ]; then
        tail -n 5 "$work/iasl.log"
        rm -rf "$work"
        return 1
    fi
    sed '1,/^ \*\//d' "$work/table.dsl" > "$2"
    rm -rf "$work"
}

main() {
    local f name n=0
    if ! command -v iasl > /dev/null; then
        echo "FAIL ssdt-decompile: iasl not found (acpica-tools)"
        return 1
    fi
    rm -rf "$out"
    mkdir -p "$out"
    for f in "$ref"/*.SSDT; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .SSDT)
        n=$((n + 1))
        if [ ! -e "$ours/$name.SSDT" ]; then
            echo "FAIL ssdt-decompile/$name: our build dumped no SSDT"
        elif ! decompile "$f" "$out/$name.reference.dsl"; then
            echo "FAIL ssdt-decompile/$name: iasl -d failed on the reference's"
        elif ! decompile "$ours/$name.SSDT" "$out/$name.ours.dsl"; then
            echo "FAIL ssdt-decompile/$name: iasl -d failed on ours"
        else
            diff -u "$out/$name.reference.dsl" "$out/$name.ours.dsl" \
                > "$out/$name.diff"
            echo "PASS ssdt-decompile/$name" \
                "($(grep -c '^[-+][^-+]' "$out/$name.diff") lines differ)"
        fi
    done
    if [ "$n" -eq 0 ]; then
        echo "FAIL ssdt-decompile: the reference run dumped no SSDT"
    fi
}

main
