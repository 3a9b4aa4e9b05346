#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run the bad-configuration matrix (cases.py) against our QEMU and stock.

Every case runs under both binaries, each time in a fresh scratch
directory with freshly written backend files.  A case passes when our
binary:
  - does not crash, hang or assert;
  - leaves every pre-existing backend file byte-identical (sha256);
  - refuses what stock refuses, with a message naming the option/value,
    and otherwise gives the same result as stock (QMP replies,
    query-memory-devices, query-memdev) -- except for the deliberate
    differences in DELIBERATE below;
  - for hotplug cases, still answers query-status afterwards.
It also fails when stock no longer behaves as cases.py records, so the
table stays a true description of stock QEMU 10.0.

Output: "PASS case" / "FAIL case: why" lines, both refusal messages
indented below, and "N passed, N failed" at the end.
"""

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'scripts'))

import cases as matrix                                      # noqa: E402
from vnv.backend_files import (INDEX_SIGNATURE,             # noqa: E402
                               pattern_bytes, sha256)
from vnv.matrix import command_line, run_qemu               # noqa: E402
from vnv.paths import OURS as DEFAULT_QEMU                  # noqa: E402
from vnv.paths import REFERENCE as DEFAULT_REFERENCE        # noqa: E402

# Where we deliberately differ from stock: case -> (our outcome, reason).
# docs/nvdimm.txt records each of these for users.
DELIBERATE = {
    'label-area-holds-data': (
        'refuse',
        'stock silently turns the last label-size bytes of the guest\'s '
        'data into the label area (the seed\'s corruption warning); we '
        'refuse a label area that holds data which is neither zeroes nor '
        'a namespace index block, and name the opt-in'),
    'label-area-holds-data-overwrite': (
        'accept',
        'label-overwrite=on is our opt-in to the above; stock has no such '
        'property'),
    'hotplug-label-area-holds-data': (
        'refuse',
        'the label area guard applies to device_add too'),
    'label-size-zero': (
        'accept',
        'label-size=0 means no labels whether it is given or not; stock '
        'applies the 128 KiB minimum to an explicit 0 and refuses it'),
    'align-not-dividing-size': (
        'refuse',
        'without labels, a size that is not a multiple of the backend\'s '
        'alignment leaves the file\'s tail outside the guest region; '
        'stock hides it silently, we refuse and say how much is hidden'),
    'qom-set-uuid-after-realize': (
        'refuse',
        'the guest has already seen the UUID in the NFIT; stock lets '
        'qom-set change it under a running guest'),
}

QUERIES = [{'execute': 'query-status'},
           {'execute': 'query-memory-devices'},
           {'execute': 'query-memdev'}]
DEFAULT_LABEL_SIZE = 128 * 1024
INDEX_BLOCK_SIZE = 256              # of a 128 KiB label area


class Skip(Exception):
    pass


class Observation:
    """What one binary did with one case."""

    def __init__(self, case, run, changed, new_files):
        self.run = run
        self.changed = changed
        self.new_files = new_files
        count = len(case.commands)
        self.case_replies = [run.reply(i) for i in range(count)]
        self.queries = [run.reply(count + i) for i in range(len(QUERIES))]
        self.crash = run.crash()

    @property
    def started(self):
        return self.queries[0] is not None and 'return' in self.queries[0]

    @property
    def outcome(self):
        if not self.started or self.run.returncode != 0:
            return 'refuse'
        if any(r is None or 'error' in r for r in self.case_replies):
            return 'refuse'
        return 'accept'

    @property
    def message(self):
        if not self.started:
            text = self.run.stderr
        else:
            text = '\n'.join(r['error'].get('desc', '')
                             for r in self.case_replies
                             if r and 'error' in r)
        return ' | '.join(line.strip() for line in text.splitlines()
                          if line.strip())

    def signature(self):
        """The visible result, to compare with the other binary."""
        kinds = tuple('none' if r is None else
                      'error' if 'error' in r else 'ok'
                      for r in self.case_replies)
        results = tuple(repr(q.get('return')) if q else None
                        for q in self.queries[1:])
        return (self.started, kinds, results)


# ---- scratch directory -------------------------------------------------

def put_index_block(data, area, myoff):
    """What QEMU checks of a namespace index block: the signature and,
    at byte 24, the block's own offset in the label area."""
    start = area + myoff
    data[start:start + len(INDEX_SIGNATURE)] = INDEX_SIGNATURE
    data[start + 24:start + 32] = myoff.to_bytes(8, 'little')


def file_content(spec, seed):
    size, kind = spec
    if kind == 'zeroes':
        return bytes(size)
    data = bytearray(pattern_bytes(seed, size))
    blank = min(size, 1 << 20)
    if kind != 'full':
        data[size - blank:] = bytes(blank)
    if kind == 'labelled':
        put_index_block(data, size - DEFAULT_LABEL_SIZE, 0)
    if kind == 'labelled-second':
        put_index_block(data, size - DEFAULT_LABEL_SIZE, INDEX_BLOCK_SIZE)
    return bytes(data)


def write_files(case, workdir):
    for name, spec in case.files.items():
        path = os.path.join(workdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(file_content(spec, case.name + name))


def restrict_files(case, workdir):
    for name in case.read_only:
        os.chmod(os.path.join(workdir, name), 0o444)
    for name in case.immutable:
        if not matrix.chattr('+i', os.path.join(workdir, name)):
            raise Skip('chattr +i not supported here')


def ro_bind_wrapper(case, workdir):
    """Run QEMU in a private mount namespace where case.ro_bind is a
    read-only bind mount of itself; the mount dies with the process."""
    if not case.ro_bind:
        return []
    target = os.path.join(workdir, case.ro_bind)
    script = ('mount --bind "$1" "$1" && '
              'mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"')
    wrapper = ['unshare', '-m', '--propagation', 'private',
               'sh', '-c', script, 'sh', target]
    probe = subprocess.run(wrapper + ['true'], capture_output=True)
    if probe.returncode != 0:
        raise Skip('cannot make a read-only bind mount here')
    return wrapper


def hash_tree(workdir):
    hashes = {}
    for root, _, names in os.walk(workdir):
        for name in names:
            path = os.path.join(root, name)
            if os.path.isfile(path):
                hashes[os.path.relpath(path, workdir)] = sha256(path)
    return hashes


def release(workdir):
    subprocess.run(['chattr', '-R', '-i', workdir], capture_output=True)
    shutil.rmtree(workdir, ignore_errors=True)


# ---- running -----------------------------------------------------------

def substitute(value, workdir):
    if isinstance(value, str):
        return value.replace(matrix.DIR, workdir)
    if isinstance(value, dict):
        return {k: substitute(v, workdir) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, workdir) for v in value]
    return value


def observe(case, binary, timeout):
    workdir = tempfile.mkdtemp(prefix='nvdimm-matrix-')
    try:
        write_files(case, workdir)
        restrict_files(case, workdir)
        wrapper = ro_bind_wrapper(case, workdir)
        before = hash_tree(workdir)
        cmd = command_line(binary, substitute(case.args, workdir),
                           case.machine, case.memory)
        commands = substitute(case.commands, workdir) + QUERIES
        run = run_qemu(cmd, commands, cwd=workdir, timeout=timeout,
                       wrapper=wrapper)
        after = hash_tree(workdir)
    finally:
        release(workdir)
    changed = sorted(n for n in before if after.get(n) != before[n])
    new_files = sorted(set(after) - set(before))
    return Observation(case, run, changed, new_files)


# ---- judging -----------------------------------------------------------

def names_value(case, message):
    if not case.names:
        return True
    lower = message.lower()
    return any(word.lower() in lower for word in case.names)


def expected_outcome(case):
    if case.name in DELIBERATE:
        return DELIBERATE[case.name][0]
    return case.stock


def hygiene_problems(case, obs, who):
    problems = []
    if obs.crash:
        problems.append('%s crashed: %s' % (who, obs.crash))
    changed = [n for n in obs.changed if n not in case.may_change]
    if changed:
        problems.append('%s changed %s' % (who, ', '.join(changed)))
    if case.is_hotplug and not obs.started:
        problems.append('%s stopped answering query-status' % who)
    return problems


def stock_problems(case, ref):
    if ref.outcome != case.stock:
        return ['stock now does %s, the table says %s'
                % (ref.outcome, case.stock)]
    return []


def result_differences(ours, ref):
    """How the visible results differ, in a few words each."""
    (our_start, our_kinds, our_queries) = ours.signature()
    (ref_start, ref_kinds, ref_queries) = ref.signature()
    if our_start != ref_start:
        return ['ours %s, stock %s' % (
            'started' if our_start else 'did not start',
            'started' if ref_start else 'did not start')]
    problems = []
    if our_kinds != ref_kinds:
        problems.append('QMP replies ours %s, stock %s'
                        % ('/'.join(our_kinds), '/'.join(ref_kinds)))
    names = ('query-memory-devices', 'query-memdev')
    for name, mine, theirs in zip(names, our_queries, ref_queries):
        if mine != theirs:
            problems.append('%s ours %s, stock %s' % (name, mine, theirs))
    return problems


def comparison_problems(case, ours, ref):
    problems = []
    if ours.outcome != expected_outcome(case):
        problems.append('ours does %s, expected %s'
                        % (ours.outcome, expected_outcome(case)))
    elif ours.outcome == 'refuse' and not names_value(case, ours.message):
        problems.append('our message names none of %s' % (case.names,))
    if ref and case.name not in DELIBERATE:
        problems += result_differences(ours, ref)
        if ours.changed != ref.changed:
            problems.append('changed %s, stock changed %s'
                            % (ours.changed, ref.changed))
        if ours.new_files != ref.new_files:
            problems.append('left files %s, stock %s'
                            % (ours.new_files, ref.new_files))
    return problems


def judge(case, ours, ref):
    problems = hygiene_problems(case, ours, 'ours')
    if ref:
        problems += stock_problems(case, ref)
    problems += comparison_problems(case, ours, ref)
    return problems


# ---- reporting ---------------------------------------------------------

def shorten(text, limit=300):
    return text if len(text) <= limit else text[:limit] + '...'


def device_summary(obs):
    reply = obs.queries[1] or {}
    return ', '.join('%s size=0x%x addr=0x%x slot=%d' % (
        d['data'].get('id'), d['data']['size'], d['data']['addr'],
        d['data']['slot']) for d in reply.get('return', [])) or '-'


def report(case, ours, ref, problems, verbose):
    if problems:
        print('FAIL %s: %s' % (case.name, '; '.join(problems)))
    else:
        print('PASS %s' % case.name)
    if ref and ref.crash:
        print('    note: stock crashed too: %s' % ref.crash)
    if ref and [n for n in ref.changed if n not in case.may_change]:
        print('    note: stock changed %s' % ', '.join(ref.changed))
    for who, obs in (('stock', ref), ('ours', ours)):
        if obs and (verbose or obs.outcome == 'refuse'):
            print('    %-5s %s: %s' % (who, obs.outcome,
                                       shorten(obs.message) or '-'))
    if verbose and ours.started:
        print('    devices: %s' % device_summary(ours))
    if case.name in DELIBERATE:
        print('    deliberate difference: %s' % DELIBERATE[case.name][1])
    sys.stdout.flush()


def observe_both(case, args):
    """(ours, stock) for one case; stock is None without a reference."""
    ours = observe(case, args.qemu, args.timeout)
    if not args.reference:
        return ours, None
    if os.path.realpath(args.reference) == os.path.realpath(args.qemu):
        return ours, ours
    return ours, observe(case, args.reference, args.timeout)


def run_cases(cases, args):
    """Run the cases args.jobs at a time (a paused QEMU mostly waits), and
    judge and report them in order.  True/False per case, None if skipped."""
    def attempt(case):
        try:
            return observe_both(case, args)
        except Skip as why:
            return why

    results = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for case, seen in zip(cases, pool.map(attempt, cases)):
            if isinstance(seen, Skip):
                print('SKIP %s: %s' % (case.name, seen))
                results.append(None)
                continue
            ours, ref = seen
            problems = judge(case, ours, ref)
            report(case, ours, ref, problems, args.verbose)
            results.append(not problems)
    return results


def selected_cases(names):
    cases = matrix.all_cases()
    if not names:
        return cases
    by_name = {c.name: c for c in cases}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        sys.exit('unknown case(s): %s (see --list)' % ', '.join(unknown))
    return [by_name[n] for n in names]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--qemu', default=DEFAULT_QEMU)
    parser.add_argument('--reference', default=DEFAULT_REFERENCE,
                        help='stock QEMU 10.0; "" to use the recorded '
                        'outcomes only')
    parser.add_argument('--case', action='append', default=[],
                        metavar='NAME', help='run only this case')
    parser.add_argument('--list', action='store_true')
    parser.add_argument('--timeout', type=float, default=30)
    parser.add_argument('--jobs', '-j', type=int, default=4,
                        help='cases run at once (default 4)')
    parser.add_argument('--verbose', '-v', action='store_true')
    args = parser.parse_args()
    args.qemu = os.path.abspath(args.qemu)
    if args.reference:
        args.reference = os.path.abspath(args.reference)
    return args


def list_cases():
    for case in matrix.all_cases():
        mark = ' [deliberate difference]' if case.name in DELIBERATE else ''
        print('%-40s stock %-6s %s%s' % (case.name, case.stock, case.doc,
                                         mark))


def main():
    args = parse_args()
    if args.list:
        list_cases()
        return 0
    if not os.access(args.qemu, os.X_OK):
        print('FAIL config-matrix: %s is not built' % args.qemu)
        return 1
    if args.reference and not os.access(args.reference, os.X_OK):
        print('# %s not built: comparing with the recorded outcomes only'
              % args.reference)
        args.reference = ''
    results = run_cases(selected_cases(args.case), args)
    passed = results.count(True)
    failed = results.count(False)
    if results.count(None):
        print('# %d skipped' % results.count(None))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
