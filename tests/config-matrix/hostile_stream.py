#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Feed corrupted migration streams of an NVDIMM VM to an incoming QEMU.

A paused source VM with a labelled NVDIMM migrates to a file.  Each case
corrupts a copy of that stream (truncations, the NVDIMM backend's RAM
block name and length, its page headers, the memory hotplug and ACPI
state, any section whose name mentions nvdimm, random bytes) and starts
a destination with the same configuration and -incoming file:STREAM.

A case passes when the destination either loads the stream (query-migrate
says completed and QEMU still answers) or refuses it cleanly: non-zero
exit with a message on stderr, no signal, no assertion, no hang.  The
destination's backend (share=off) must be byte-identical afterwards in
both cases.  The intact stream must load, and the NVDIMM contents seen on
the destination must equal the source's.

The same cases run against the reference build for comparison; where the
two differ, both outcomes are printed.
"""

import argparse
import concurrent.futures
import json
import os
import random
import shutil
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'scripts'))

from vnv.backend_files import sha256, write_pattern_file  # noqa: E402
from vnv.matrix import QmpSession, command_line          # noqa: E402
from vnv.paths import OURS as DEFAULT_QEMU               # noqa: E402
from vnv.paths import REFERENCE as DEFAULT_REFERENCE     # noqa: E402

BACKEND_SIZE = 32 << 20
LABEL_SIZE = 128 << 10
BLOCK = b'm0'                        # the NVDIMM backend's RAM block
PMEM_ADDR = 0x100000000              # where pc puts the first NVDIMM
PMEM_SIZE = BACKEND_SIZE - LABEL_SIZE

# Migration stream markers (migration/savevm.c, migration/ram.c)
SECTION_FULL = 0x04
SUBSECTION = 0x05
VMDESCRIPTION = 0x06
RAM_FLAG_ZERO = 0x02
RAM_FLAG_PAGE = 0x08
RAM_FLAG_CONTINUE = 0x20
PAGE_MASK = ~0xfff & 0xffffffffffffffff


def vm_args(path, share):
    return ['-object', 'memory-backend-file,id=m0,mem-path=%s,size=%d,'
            'share=%s' % (path, BACKEND_SIZE, 'on' if share else 'off'),
            '-device', 'nvdimm,id=nv0,memdev=m0,label-size=%d' % LABEL_SIZE]


# ---- the source ------------------------------------------------------------

def wait_for_migration(session, timeout=60):
    """The final query-migrate status, or None when QEMU went away."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = session.execute('query-migrate')
        if reply is None:
            return None
        status = reply.get('return', {}).get('status')
        if status in ('completed', 'failed', 'cancelled'):
            return status
        time.sleep(0.1)
    return 'timeout'


def save_pmem(session, path):
    """What the guest sees of the NVDIMM, via pmemsave."""
    reply = session.execute('pmemsave', val=PMEM_ADDR, size=PMEM_SIZE,
                            filename=path, timeout=30)
    return reply is not None and 'return' in reply


def make_stream(binary, workdir):
    """Migrate a paused source VM to workdir/stream; return its path and
    the guest-visible NVDIMM contents' file, or raise RuntimeError."""
    image = os.path.join(workdir, 'source.img')
    write_pattern_file(image, BACKEND_SIZE, 'hostile-stream')
    # A blank label area: QEMU refuses labels over data (nvdimm-labels.c).
    # The destinations keep a full pattern: an incoming migration
    # replaces their label area, so the guard does not look at it.
    with open(image, 'r+b') as f:
        f.seek(BACKEND_SIZE - LABEL_SIZE)
        f.write(bytes(LABEL_SIZE))
    stream = os.path.join(workdir, 'stream')
    session = QmpSession(command_line(binary, vm_args(image, True)),
                         stderr_path=os.path.join(workdir, 'source.err'))
    pmem = os.path.join(workdir, 'source.pmem')
    saved = session.alive and save_pmem(session, pmem)
    if saved:
        session.execute('migrate', uri='file:' + stream)
        status = wait_for_migration(session)
    run = session.finish()
    if not saved or status != 'completed':
        raise RuntimeError('source migration failed: %s' %
                           run.stderr.strip())
    return stream, pmem


# ---- finding things in a stream -------------------------------------------

def description_offset(data):
    """Where the JSON description that ends the stream starts (its marker
    byte, then a be32 length that runs to the end), or the length."""
    start = data.rfind(b'{"')
    while start > 5:
        length = struct.unpack('>I', data[start - 4:start])[0]
        if data[start - 5] == VMDESCRIPTION and start + length == len(data):
            return start - 5
        start = data.rfind(b'{"', 0, start)
    return len(data)


def device_description(data):
    at = description_offset(data)
    if at == len(data):
        return {'devices': []}
    length = struct.unpack('>I', data[at + 1:at + 5])[0]
    return json.loads(data[at + 5:at + 5 + length])


def section_offset(data, name, instance):
    """Where the data of a full section starts, or None."""
    idstr = bytes([len(name)]) + name.encode() + struct.pack('>I', instance)
    at = data.find(idstr)
    while at >= 5:
        if data[at - 5] == SECTION_FULL:
            return at + len(idstr) + 4          # past the version id
        at = data.find(idstr, at + 1)
    return None


def subsection_offset(data, name):
    at = data.find(bytes([SUBSECTION, len(name)]) + name.encode())
    return None if at < 0 else at + 2 + len(name) + 4


def ram_setup_entry(data, name=BLOCK):
    """Offset of the length byte of a block's entry in the RAM setup
    section (name then be64 length); the first match with a sane length."""
    needle = bytes([len(name)]) + name
    at = data.find(needle)
    while at >= 0:
        length = struct.unpack('>Q', data[at + len(needle):
                                          at + len(needle) + 8])[0]
        if length == BACKEND_SIZE:
            return at
        at = data.find(needle, at + 1)
    return None


def page_headers(data, name=BLOCK):
    """Offsets of page headers that name the block (not CONTINUE)."""
    needle = bytes([len(name)]) + name
    found, at = [], data.find(needle)
    while at >= 0:
        if at >= 8:
            header = struct.unpack('>Q', data[at - 8:at])[0]
            flags = header & 0xfff
            if flags in (RAM_FLAG_ZERO, RAM_FLAG_PAGE):
                found.append(at - 8)
        at = data.find(needle, at + 1)
    return found


def nvdimm_sections(data):
    """Sections and subsections of ours whose name mentions nvdimm."""
    found = []
    for device in device_description(data).get('devices', []):
        if 'nvdimm' in device['name'].lower():
            found.append(section_offset(data, device['name'],
                                        device['instance_id']))
        for sub in device.get('subsections', []):
            if 'nvdimm' in sub.get('vmsd_name', '').lower():
                found.append(subsection_offset(data, sub['vmsd_name']))
    return [at for at in found if at is not None]


# ---- corruptions: each takes the stream and returns new bytes or None ------

def put(data, offset, raw):
    if offset is None:
        return None
    out = bytearray(data)
    out[offset:offset + len(raw)] = raw
    return bytes(out)


def truncate_at(fraction):
    return lambda data: data[:int(len(data) * fraction)]


def truncated_after_m0_name(data):
    at = ram_setup_entry(data)
    return None if at is None else data[:at + 1 + len(BLOCK)]


def truncated_in_first_m0_page(data):
    headers = page_headers(data)
    return data[:headers[0] + 8 + 1 + len(BLOCK) + 100] if headers else None


def m0_length(value):
    def corrupt(data):
        at = ram_setup_entry(data)
        if at is None:
            return None
        return put(data, at + 1 + len(BLOCK), struct.pack('>Q', value))
    return corrupt


def m0_name(raw):
    def corrupt(data):
        at = ram_setup_entry(data)
        return put(data, None if at is None else at, raw)
    return corrupt


def m0_page_header(make_header):
    def corrupt(data):
        headers = page_headers(data)
        if not headers:
            return None
        old = struct.unpack('>Q', data[headers[0]:headers[0] + 8])[0]
        return put(data, headers[0], struct.pack('>Q', make_header(old)))
    return corrupt


def m0_page_name_length(data):
    headers = page_headers(data)
    return put(data, headers[0] + 8 if headers else None, b'\xff')


def fill_at(locate, raw):
    return lambda data: put(data, locate(data), raw)


def memhp_offset(data):
    return subsection_offset(data, 'piix4_pm/memhp')


def acpi_build_offset(data):
    return section_offset(data, 'acpi_build', 0)


def acpi_tables_length(value):
    def corrupt(data):
        name = b'/rom@etc/acpi/tables'
        at = data.find(bytes([len(name)]) + name)
        if at < 0:
            return None
        return put(data, at + 1 + len(name), struct.pack('>Q', value))
    return corrupt


def acpi_mr_sizes(table, linker, rsdp):
    """fw_cfg/acpi_mr: the sizes of the ACPI blobs (NFIT included) that
    the destination resizes its ROM blocks to."""
    raw = struct.pack('>QQQ', table, linker, rsdp)
    return fill_at(lambda data: subsection_offset(data, 'fw_cfg/acpi_mr'),
                   raw)


def nvdimm_sections_filled(byte):
    def corrupt(data):
        offsets = nvdimm_sections(data)
        if not offsets:
            return None
        out = data
        for at in offsets:
            out = put(out, at, bytes([byte]) * 16)
        return out
    return corrupt


def device_region(data):
    """From the first device section to the device description."""
    first = section_offset(data, 'timer', 0)
    return (first or len(data) // 2, description_offset(data))


def random_flips(seed, count, region=None):
    def corrupt(data):
        rng = random.Random(seed)
        start, end = region(data) if region else (8, len(data))
        out = bytearray(data)
        for _ in range(count):
            out[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
        return bytes(out)
    return corrupt


def random_garbage(seed):
    def corrupt(data):
        rng = random.Random(seed)
        return data[:8] + rng.randbytes(len(data) - 8)
    return corrupt


def intact(data):
    return data


CORRUPTIONS = [
    ('intact', intact),
    ('empty', truncate_at(0)),
    ('header-only', lambda data: data[:8]),
    ('bad-magic', lambda data: b'XEVM' + data[4:]),
    ('bad-version', lambda data: data[:4] + b'\0\0\0\x63' + data[8:]),
    ('truncated-after-m0-name', truncated_after_m0_name),
    ('truncated-in-m0-page', truncated_in_first_m0_page),
    ('truncated-10pct', truncate_at(0.10)),
    ('truncated-50pct', truncate_at(0.50)),
    ('truncated-99pct', truncate_at(0.99)),
    ('truncated-last-byte', lambda data: data[:-1]),
    ('m0-name-unknown', m0_name(b'\x02m9')),
    ('m0-name-length-huge', m0_name(b'\xff')),
    ('m0-name-length-zero', m0_name(b'\x00')),
    ('m0-length-zero', m0_length(0)),
    ('m0-length-smaller', m0_length(BACKEND_SIZE // 2)),
    ('m0-length-larger', m0_length(BACKEND_SIZE * 2)),
    ('m0-length-unaligned', m0_length(BACKEND_SIZE - 1)),
    ('m0-length-huge', m0_length(0xfffffffffffff000)),
    ('m0-page-offset-past-end',
     m0_page_header(lambda h: BACKEND_SIZE | (h & 0xfff))),
    ('m0-page-offset-in-labels',
     m0_page_header(lambda h: PMEM_SIZE | (h & 0xfff))),
    ('m0-page-offset-huge',
     m0_page_header(lambda h: (0xfffffffffffff000 & PAGE_MASK) |
                    (h & 0xfff))),
    ('m0-page-flags-unknown', m0_page_header(lambda h: h | 0x200)),
    ('m0-page-name-length-huge', m0_page_name_length),
    ('acpi-tables-length-huge', acpi_tables_length(1 << 40)),
    ('acpi-tables-length-zero', acpi_tables_length(0)),
    ('acpi-mr-table-size-huge', acpi_mr_sizes(0x400020000, 0x1000, 0x1000)),
    ('acpi-mr-table-size-zero', acpi_mr_sizes(0, 0x1000, 0x1000)),
    ('acpi-mr-rsdp-size-huge', acpi_mr_sizes(0x20000, 0x1000, 1 << 40)),
    ('memhp-state-ff', fill_at(memhp_offset, b'\xff' * 16)),
    ('acpi-build-state-ff', fill_at(acpi_build_offset, b'\xff' * 4)),
    ('nvdimm-sections-ff', nvdimm_sections_filled(0xff)),
    ('nvdimm-sections-00', nvdimm_sections_filled(0x00)),
    ('random-flips-64-a', random_flips(1, 64)),
    ('random-flips-64-b', random_flips(2, 64)),
    ('random-flips-4096', random_flips(3, 4096)),
    ('device-state-flips-8-a', random_flips(4, 8, device_region)),
    ('device-state-flips-8-b', random_flips(5, 8, device_region)),
    ('device-state-flips-64', random_flips(6, 64, device_region)),
    ('random-garbage', random_garbage(7)),
] + [('device-state-flips-4-%d' % seed, random_flips(100 + seed, 4,
                                                    device_region))
     for seed in range(24)]


# ---- the destination --------------------------------------------------------

class Load:
    """What a destination made of one stream."""

    def __init__(self, status, run, file_hashes, pmem_matches):
        self.status = status           # 'completed', or None when it exited
        self.run = run
        self.file_before, self.file_after = file_hashes
        self.pmem_matches = pmem_matches

    @property
    def file_changed(self):
        return self.file_before != self.file_after

    @property
    def outcome(self):
        if self.status == 'completed':
            return 'loaded'
        return 'refused'

    @property
    def message(self):
        text = ''.join(c if ' ' <= c <= '~' or c == '\n' else '?'
                       for c in self.run.stderr)
        return ' | '.join(line.strip() for line in text.splitlines()
                          if line.strip())


def load_stream(binary, stream, workdir, source_pmem=None, share=False):
    image = os.path.join(workdir, 'dest.img')
    write_pattern_file(image, BACKEND_SIZE, 'hostile-destination')
    before = sha256(image)
    cmd = command_line(binary, vm_args(image, share) +
                       ['-incoming', 'file:' + stream])
    session = QmpSession(cmd, stderr_path=os.path.join(workdir, 'dest.err'))
    status = wait_for_migration(session, timeout=30) if session.alive \
        else None
    pmem_matches = None
    if status == 'completed' and source_pmem:
        pmem = os.path.join(workdir, 'dest.pmem')
        pmem_matches = save_pmem(session, pmem) and \
            sha256(pmem) == sha256(source_pmem)
    alive = status == 'completed' and \
        session.execute('query-status') is not None
    run = session.finish(timeout=30)
    if status == 'completed' and not alive:
        status = 'died after loading'
    return Load(status, run, (before, sha256(image)), pmem_matches)


def load_problems(name, load):
    problems = []
    crash = load.run.crash()
    if crash:
        problems.append('crashed: ' + crash)
    if load.status not in ('completed', None):
        problems.append('migration status ' + str(load.status))
    if load.status is None and load.run.returncode == 0:
        problems.append('refused the stream but exited 0')
    if load.status is None and not load.message:
        problems.append('refused the stream without a message')
    if load.file_changed:
        problems.append('the destination backend file changed')
    if name == 'intact':
        if load.status != 'completed':
            problems.append('the intact stream did not load')
        elif not load.pmem_matches:
            problems.append('NVDIMM contents differ from the source')
    return problems


# ---- driver -----------------------------------------------------------------

def try_case(name, corrupt, stream_data, binary, workdir, source_pmem):
    """Load one corrupted stream; a Load, or None when the corruption's
    landmark is absent from this stream."""
    data = corrupt(stream_data)
    if data is None:
        return None
    casedir = os.path.join(workdir, name)     # cases may run at once
    os.makedirs(casedir)
    path = os.path.join(casedir, 'stream')
    with open(path, 'wb') as f:
        f.write(data)
    try:
        return load_stream(binary, path, casedir,
                           source_pmem if name == 'intact' else None)
    finally:
        shutil.rmtree(casedir, ignore_errors=True)


def shorten(text, limit=240):
    return text if len(text) <= limit else text[:limit] + '...'


def describe(load):
    if load is None:
        return 'n/a (landmark absent)'
    return '%s: %s' % (load.outcome, shorten(load.message) or '-')


def report(name, ours, ref, compare):
    if ours is None:
        print('SKIP %s: landmark absent from this stream' % name)
        return None
    problems = load_problems(name, ours)
    if problems:
        print('FAIL %s: %s' % (name, '; '.join(problems)))
    else:
        print('PASS %s' % name)
    print('    ours  %s' % describe(ours))
    if compare:
        marker = ' (differs)' if ref and ref.outcome != ours.outcome else ''
        print('    stock %s%s' % (describe(ref), marker))
    sys.stdout.flush()
    return not problems


class Side:
    """A binary with its own source stream."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.stream, self.pmem = make_stream(binary, workdir)
        self.image_hash = sha256(os.path.join(workdir, 'source.img'))
        with open(self.stream, 'rb') as f:
            self.data = f.read()


def print_result(name, problems, load):
    print('%s %s%s' % ('FAIL' if problems else 'PASS', name,
                       ': ' + '; '.join(problems) if problems else ''))
    print('    %s' % describe(load))
    sys.stdout.flush()
    return not problems


def shared_destination(side):
    """The intact stream into a share=on destination: loading writes the
    whole backend, label area included, into its file, which must then
    equal the source's backend."""
    load = load_stream(side.binary, side.stream, side.workdir, share=True)
    problems = []
    if load.run.crash():
        problems.append('crashed: ' + load.run.crash())
    if load.status != 'completed':
        problems.append('did not load')
    elif load.file_after != side.image_hash:
        problems.append('the destination backend differs from the source')
    return print_result('intact-into-shared-backend', problems, load)


def cross_loads(ours, ref):
    """Stock's stream into ours and ours into stock: both must load."""
    results = []
    for name, side, other in (('stock-stream-into-ours', ours, ref),
                              ('our-stream-into-stock', ref, ours)):
        load = try_case(name, intact, other.data, side.binary,
                        side.workdir, None)
        problems = load_problems(name, load)
        if load.status != 'completed':
            problems.append('did not load')
        results.append(print_result(name, problems, load))
    return results


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--qemu', default=DEFAULT_QEMU)
    parser.add_argument('--reference', default=DEFAULT_REFERENCE,
                        help='stock QEMU 10.0 to compare with; "" for none')
    parser.add_argument('--case', action='append', default=[],
                        metavar='NAME')
    parser.add_argument('--list', action='store_true')
    parser.add_argument('--jobs', '-j', type=int, default=4,
                        help='cases run at once (default 4)')
    args = parser.parse_args()
    args.qemu = os.path.abspath(args.qemu)
    if args.reference:
        args.reference = os.path.abspath(args.reference)
        if not os.access(args.reference, os.X_OK):
            print('# %s not built: no comparison' % args.reference)
            args.reference = ''
    return args


def selected(names):
    known = dict(CORRUPTIONS)
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit('unknown case(s): %s (see --list)' % ', '.join(unknown))
    return [(n, known[n]) for n in names] if names else CORRUPTIONS


def run_all(args, top):
    ours = Side(args.qemu, os.path.join(top, 'ours'))
    ref = None
    if args.reference and args.reference != args.qemu:
        ref = Side(args.reference, os.path.join(top, 'stock'))
    def both(case):
        name, corrupt = case
        mine = try_case(name, corrupt, ours.data, ours.binary,
                        ours.workdir, ours.pmem)
        theirs = ref and try_case(name, corrupt, ref.data, ref.binary,
                                  ref.workdir, ref.pmem)
        return mine, theirs

    results = []
    cases = selected(args.case)
    # A destination mostly waits for its stream: run a few at once, and
    # report in order.
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for (name, _), (mine, theirs) in zip(cases, pool.map(both, cases)):
            results.append(report(name, mine, theirs, ref is not None))
    if not args.case:
        results.append(shared_destination(ours))
    if ref and not args.case:
        results += cross_loads(ours, ref)
    return results


def main():
    args = parse_args()
    if args.list:
        for name, _ in CORRUPTIONS:
            print(name)
        return 0
    if not os.access(args.qemu, os.X_OK):
        print('FAIL hostile-stream: %s is not built' % args.qemu)
        return 1
    top = tempfile.mkdtemp(prefix='nvdimm-stream-')
    try:
        for sub in ('ours', 'stock'):
            os.makedirs(os.path.join(top, sub))
        results = run_all(args, top)
    except RuntimeError as error:
        print('FAIL hostile-stream: %s' % error)
        return 1
    finally:
        shutil.rmtree(top, ignore_errors=True)
    if results.count(None):
        print('# %d skipped' % results.count(None))
    failed = results.count(False)
    print('%d passed, %d failed' % (results.count(True), failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
