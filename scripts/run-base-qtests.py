#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run QEMU's own qtests of one target on the reference build and on ours.

  run-base-qtests.py --arch ARCH --ours BUILD --reference BUILD
                     [--skip TEST]... [TEST[:PATH]...]

Each test of the base's meson suite qtest-ARCH (ours, nvdimm-*, aside)
runs as "meson test" runs it: from its build folder, with the command,
environment and time limit meson recorded.  Every subtest is a case:

  PASS base/ARCH/TEST/SUBTEST         ours passes it
  FAIL base/ARCH/TEST/SUBTEST: why    ours fails or skips what the
                                      reference passes, or both fail it
                                      and KNOWN_FAILURES does not say why
  XFAIL base/ARCH/TEST/SUBTEST: why   both fail it, for the reason given

TEST:PATH runs only the subtests under PATH (glib's -p), e.g.
qom-test:/aarch64/qom/virt-10.0.  A skip on both builds is no case.
--ours-only TEST runs TEST on ours alone, for a test that carries its
own oracle (bios-tables-test: the base's expected tables): each of its
subtests must pass.  The end gives each build's counts and each test's
time.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

# Subtests, as TEST or TEST/SUBTEST, that fail on the reference and on
# ours alike, and why.  Each must still fail on both: one that passes on
# either build is reported, so that the list stays true.
KNOWN_FAILURES = {}

TAP_RESULT = re.compile(r'^(ok|not ok) \d+ (\S+)(.*)$')
# the time limit meson gives a test, times this: two jobs share the cores
TIMEOUT_FACTOR = 2


def base_tests(build, arch):
    """The base's tests of suite qtest-ARCH in BUILD, as meson records them"""
    with open(os.path.join(build, 'meson-info', 'intro-tests.json')) as f:
        tests = json.load(f)
    suite = f'qtest-{arch}'
    found = {}
    for t in tests:
        name = t['name'].split('/', 1)[-1]
        if (any(s.endswith(suite) for s in t['suite'])
                and not name.startswith('nvdimm-')):
            found[name] = t
    return found


class Run:
    """One test binary's run: its subtests' results and how it ended"""

    def __init__(self, results, status, seconds, log):
        self.results = results      # subtest path: 'pass', 'fail', 'skip'
        self.status = status        # exit status; None after the time limit
        self.seconds = seconds
        self.log = log

    def crashed(self):
        return self.status != 0 and 'fail' not in self.results.values()


def run_test(build, test, paths, log_dir):
    env = dict(os.environ)
    env.update(test.get('env') or {})
    qemu = env.get('QTEST_QEMU_BINARY', '')
    env['QTEST_QEMU_BINARY'] = os.path.normpath(os.path.join(build, qemu))
    limit = (test.get('timeout') or 60) * TIMEOUT_FACTOR
    start = time.monotonic()
    try:
        cmd = test['cmd'] + [arg for p in paths for arg in ('-p', p)]
        proc = subprocess.run(cmd, cwd=build, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=limit)
        out, status = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, status = e.stdout or b'', None
    seconds = time.monotonic() - start
    text = out.decode(errors='replace')
    log = os.path.join(log_dir, os.path.basename(test['cmd'][0]) + '.log')
    os.makedirs(log_dir, exist_ok=True)
    with open(log, 'w') as f:
        f.write(text)
    results = {}
    for line in text.splitlines():
        m = TAP_RESULT.match(line)
        if m:
            ok, path, rest = m.groups()
            if '# SKIP' in rest:
                results[path] = 'skip'
            else:
                results[path] = 'pass' if ok == 'ok' else 'fail'
    return Run(results, status, seconds, log)


def ending(run):
    if run.status is None:
        return 'ran out of time'
    return f'exited with status {run.status}'


def known_reason(test, path):
    return KNOWN_FAILURES.get(f'{test}{path}') or KNOWN_FAILURES.get(test)


class Report:
    def __init__(self, arch):
        self.prefix = f'base/{arch}/'
        self.counts = {'pass': 0, 'fail': 0, 'xfail': 0}

    def case(self, kind, name, why=''):
        self.counts[kind] += 1
        word = {'pass': 'PASS', 'fail': 'FAIL', 'xfail': 'XFAIL'}[kind]
        print(f'{word} {self.prefix}{name}' + (f': {why}' if why else ''))
        sys.stdout.flush()

    def compare(self, test, ref, ours):
        if ref is None:
            self.alone(test, ours)
            return
        paths = list(ref.results)
        paths += [p for p in ours.results if p not in ref.results]
        for path in paths:
            self.subtest(test, path, ref.results.get(path, 'missing'),
                         ours.results.get(path, 'missing'))
        # An assertion aborts the test with no "not ok" line
        if ours.crashed():
            self.crash(test, ref, ours)

    def alone(self, test, ours):
        """A test run on ours only: every subtest must pass"""
        for path, result in ours.results.items():
            if result == 'pass':
                self.case('pass', test + path)
            else:
                self.case('fail', test + path, f'{result} on ours (run on '
                          'ours only: each subtest must pass)')
        if not ours.results:
            self.case('fail', test, f'ran no subtest (log: {ours.log})')
        elif ours.status != 0:
            self.case('fail', test, f'{ending(ours)} (log: {ours.log})')

    def crash(self, test, ref, ours):
        what = (f'{ending(ours)} on ours, {ending(ref)} on the reference '
                f'(log: {ours.log})')
        if ref.crashed():
            self.both_failed(test, '', what)
        else:
            self.case('fail', test, what)

    def subtest(self, test, path, ref, ours):
        name = test + path
        if ours == 'pass':
            self.case('pass', name)
        elif ref == 'pass':
            self.case('fail', name, f'{ours} on ours, passes on the reference')
        elif ours != 'skip' or ref != 'skip':
            self.both_failed(test, path,
                             f'{ours} on ours, {ref} on the reference')

    def both_failed(self, test, path, what):
        reason = known_reason(test, path)
        if reason:
            self.case('xfail', test + path, reason)
        else:
            self.case('fail', test + path,
                      f'{what}, and KNOWN_FAILURES does not name it')


def check_known(report, runs):
    """A known failure that passes on either build is a stale entry"""
    for key in KNOWN_FAILURES:
        test, _, rest = key.partition('/')
        if test not in runs:
            continue
        for build, run in zip(('reference', 'ours'), runs[test]):
            if run is None:
                continue
            passed = [p for p, r in run.results.items()
                      if r == 'pass' and (not rest or p == '/' + rest)]
            if passed:
                report.case('fail', key, f'KNOWN_FAILURES names it, but it '
                            f'passes on {build} ({passed[0]})')


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--arch', required=True)
    ap.add_argument('--ours', required=True, help='our build folder')
    ap.add_argument('--reference', required=True,
                    help="the reference's build folder")
    ap.add_argument('--skip', action='append', default=[],
                    help='a test not to run (repeatable)')
    ap.add_argument('--ours-only', action='append', default=[],
                    help='a test to run on ours alone (repeatable)')
    ap.add_argument('--log-dir', default='build/logs/base')
    ap.add_argument('tests', nargs='*',
                    help='only these tests, or TEST:PATH for some subtests')
    args = ap.parse_args()

    builds = [os.path.abspath(b) for b in (args.reference, args.ours)]
    ref_tests, our_tests = (base_tests(b, args.arch) for b in builds)
    report = Report(args.arch)
    runs = {}
    for spec in args.tests or sorted(ref_tests):
        name, _, path = spec.partition(':')
        paths = path.split(',') if path else []
        if name in args.skip:
            continue
        if name not in ref_tests or name not in our_tests:
            report.case('fail', name, 'not a qtest of both builds')
            continue
        runs[name] = [run_test(b, t[name], paths,
                               os.path.join(args.log_dir, args.arch, label))
                      if label == 'ours' or name not in args.ours_only
                      else None
                      for b, t, label in zip(builds, (ref_tests, our_tests),
                                             ('reference', 'ours'))]
        report.compare(name, *runs[name])
    check_known(report, runs)

    for label, i in (('reference', 0), ('ours', 1)):
        tally = {'pass': 0, 'fail': 0, 'skip': 0}
        ran = [r[i] for r in runs.values() if r[i] is not None]
        for run in ran:
            for result in run.results.values():
                tally[result] += 1
        print(f'# {args.arch} on {label}: {len(ran)} tests, '
              f'{tally["pass"]} subtests passed, {tally["fail"]} failed, '
              f'{tally["skip"]} skipped')
    for name, (ref, ours) in runs.items():
        ref_time = f'{ref.seconds:.1f} s' if ref else 'not run'
        print(f'# time {name}: reference {ref_time}, '
              f'ours {ours.seconds:.1f} s')
    return 1 if report.counts['fail'] else 0


if __name__ == '__main__':
    sys.exit(main())
