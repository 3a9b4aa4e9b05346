#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bios-tables-test's expected tables, made again for this machine's firmware.

  firmware-acpi-tables.py --arch ARCH --reference BUILD OUT

QEMU writes a few addresses into its ACPI tables only once the firmware
has placed a blob, such as MEMA, the NVDIMM mailbox.  The base's expected
tables come from the firmware QEMU bundles; Debian's firmware places the
blobs elsewhere.  This copies the base's expected tables to
OUT/tests/data/acpi, has the reference build (stock QEMU) write them again
under this machine's firmware (bios-tables-test's TEST_ACPI_REBUILD_AML),
and checks in the ASL of each table that changed that nothing else
changed.  Prints "PASS firmware-acpi/..." or "FAIL firmware-acpi/...: why"
per changed table.  bios-tables-test run from OUT then compares against
stock's tables for this firmware (make check's base_qtests_aarch64).
"""

import argparse
import difflib
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile

# ASL names whose value is an address the firmware chose
PLACED = re.compile(r'^\s*Name \((MEMA), ')
# iasl's header comments: the file name and the checksum
HEADER = re.compile(r'^ \* +(Disassembly of|Checksum) ')


def lay_out(reference, out):
    """OUT holds the base's expected tables and links to what else the
    test reads relative to its folder"""
    data = os.path.join(out, 'tests', 'data')
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(data)
    shutil.copytree(os.path.join(reference, 'tests', 'data', 'acpi'),
                    os.path.join(data, 'acpi'))
    os.symlink(os.path.realpath(os.path.join(reference, 'tests', 'data',
                                             'uefi-boot-images')),
               os.path.join(data, 'uefi-boot-images'))
    os.symlink(os.path.realpath(os.path.join(reference, 'pc-bios')),
               os.path.join(out, 'pc-bios'))


def rebuild(reference, arch, out):
    env = dict(os.environ, TEST_ACPI_REBUILD_AML='1',
               QTEST_QEMU_BINARY=os.path.join(reference,
                                              f'qemu-system-{arch}'))
    test = os.path.join(reference, 'tests', 'qtest', 'bios-tables-test')
    proc = subprocess.run([test, '--tap', '-k'], cwd=out, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, timeout=1800)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout.decode(errors='replace'))
        raise SystemExit(f'FAIL firmware-acpi/{arch}: the reference could '
                         f'not write the tables (status {proc.returncode})')


def disassemble(path, scratch):
    # iasl writes NAME.dsl for NAME.aml
    copy = os.path.join(scratch, os.path.basename(path))
    shutil.copyfile(path, copy + '.aml')
    subprocess.run(['iasl', '-d', copy + '.aml'], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    with open(copy + '.dsl') as f:
        return f.read().splitlines()


def unexpected_changes(base, made):
    """The diff lines of BASE's and MADE's ASL that a firmware address
    does not explain"""
    lines = []
    for line in difflib.unified_diff(base, made, lineterm='', n=0):
        if line.startswith(('---', '+++', '@@')):
            continue
        if not (PLACED.match(line[1:]) or HEADER.match(line[1:])):
            lines.append(line)
    return lines


def placed_values(asl):
    return ', '.join(line.strip() for line in asl if PLACED.match(line))


def compare_table(base, made, name, scratch):
    """Print whether MADE differs from BASE only where the firmware
    placed something; True if it does not"""
    if not os.path.exists(base):
        print(f'FAIL {name}: a table the base does not expect')
        return False
    base_asl = disassemble(base, os.path.join(scratch, 'base'))
    made_asl = disassemble(made, scratch)
    extra = unexpected_changes(base_asl, made_asl)
    if extra:
        print(f'FAIL {name}: differs beyond firmware addresses:')
        for line in extra[:20]:
            print(f'#   {line}')
        return False
    print(f'PASS {name}: only firmware addresses differ '
          f'({placed_values(base_asl)} -> {placed_values(made_asl)})')
    return True


def check(reference, arch, out):
    """True if every table the reference wrote again is explained"""
    base_dir = os.path.join(reference, 'tests', 'data', 'acpi', arch)
    made_dir = os.path.join(out, 'tests', 'data', 'acpi', arch)
    ok = True
    changed = 0
    with tempfile.TemporaryDirectory() as scratch:
        os.makedirs(os.path.join(scratch, 'base'))
        for machine in sorted(os.listdir(made_dir)):
            for table in sorted(os.listdir(os.path.join(made_dir, machine))):
                base = os.path.join(base_dir, machine, table)
                made = os.path.join(made_dir, machine, table)
                if os.path.exists(base) and filecmp.cmp(base, made, False):
                    continue
                changed += 1
                ok &= compare_table(base, made,
                                    f'firmware-acpi/{arch}/{machine}/{table}',
                                    scratch)
    if not changed:
        print(f'PASS firmware-acpi/{arch}: the base\'s tables hold as they '
              f'are')
    return ok


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--arch', required=True)
    ap.add_argument('--reference', required=True,
                    help="the reference's build folder")
    ap.add_argument('out', help='the folder to write')
    args = ap.parse_args()
    reference = os.path.abspath(args.reference)
    out = os.path.abspath(args.out)
    lay_out(reference, out)
    rebuild(reference, args.arch, out)
    return 0 if check(reference, args.arch, out) else 1


if __name__ == '__main__':
    sys.exit(main())
