# SPDX-License-Identifier: GPL-2.0-or-later
"""Start a paused QEMU, talk QMP to it on stdio, and judge how it ended.

The runner of tests/config-matrix/: run.py (the bad-configuration
matrix) and hostile_stream.py (corrupted incoming migration streams).
Nothing here knows about NVDIMM cases; it only runs a binary and
collects what happened.

Why QMP on stdio and not the base's client (vnv.qmp): most of these
QEMUs refuse their command line and exit before a socket would exist,
and the whole conversation of a run is written to stdin up front, so
that a QEMU that dies halfway still leaves every reply it gave, in
order, on stdout.  qemu.qmp speaks only over sockets.
"""

import json
import os
import select
import subprocess
import time

from vnv import firmware

# What every run uses: a pc machine that never executes guest code.
BASE_ARGS = ['-display', 'none', '-nodefaults', '-accel', 'tcg', '-S',
             '-qmp', 'stdio']
DEFAULT_MACHINE = 'pc,nvdimm=on'
DEFAULT_MEMORY = '512M,slots=4,maxmem=8G'

# Text in stderr that means QEMU died rather than refused.
CRASH_MARKERS = ('Assertion', 'assertion failed', 'core dumped', 'Aborted',
                 'Segmentation fault', 'AddressSanitizer', 'runtime error:',
                 'Bail out!', '**ERROR**')


class Run:
    """The outcome of one QEMU process."""

    def __init__(self, returncode, stderr, replies, events, timed_out):
        self.returncode = returncode
        self.stderr = stderr
        self.replies = replies      # command id -> reply dict
        self.events = events
        self.timed_out = timed_out

    def reply(self, cmd_id):
        return self.replies.get(cmd_id)

    def crash(self):
        """A reason when the process crashed or hung, else None."""
        if self.timed_out:
            return 'timed out (killed)'
        if self.returncode is not None and self.returncode < 0:
            return 'killed by signal %d' % -self.returncode
        for marker in CRASH_MARKERS:
            if marker in self.stderr:
                return 'stderr contains %r' % marker
        return None


def command_line(binary, args, machine=DEFAULT_MACHINE,
                 memory=DEFAULT_MEMORY):
    cmd = [binary] + firmware.firmware_args(binary) + BASE_ARGS
    if machine is not None:
        cmd += ['-machine', machine]
    if memory is not None:
        cmd += ['-m', memory]
    return cmd + list(args)


def qmp_script(commands):
    """qmp_capabilities, then each command tagged with its index, then
    quit.  QMP on stdio handles them in order, so the whole conversation
    can be written up front."""
    lines = [{'execute': 'qmp_capabilities', 'id': 'caps'}]
    for index, command in enumerate(commands):
        tagged = dict(command)
        tagged['id'] = index
        lines.append(tagged)
    lines.append({'execute': 'quit', 'id': 'quit'})
    return ''.join(json.dumps(line) + '\n' for line in lines)


def parse_qmp_output(text):
    replies, events = {}, []
    for line in text.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if 'event' in message:
            events.append(message)
        elif 'id' in message and isinstance(message['id'], int):
            replies[message['id']] = message
    return replies, events


def run_qemu(cmd, commands=(), cwd=None, timeout=20, wrapper=()):
    """Run cmd (a full command line) with QMP on stdio, send commands and
    quit, and return a Run."""
    proc = subprocess.Popen(list(wrapper) + cmd, cwd=cwd,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    timed_out = False
    try:
        out, err = proc.communicate(qmp_script(commands), timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        out, err = proc.communicate()
    replies, events = parse_qmp_output(out)
    return Run(proc.returncode, err, replies, events, timed_out)


class QmpSession:
    """An interactive QMP conversation on stdio, for runs that must wait
    for something (a migration) before deciding what to send next."""

    def __init__(self, cmd, cwd=None, stderr_path=None):
        self.stderr_path = stderr_path or os.devnull
        self._stderr = open(self.stderr_path, 'w')
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True)
        self._buffer = b''
        self._next_id = 0
        self.events = []
        self.alive = self._read_message(10) is not None   # the greeting
        if self.alive:
            self.alive = 'return' in (self.execute('qmp_capabilities') or {})

    def _read_message(self, timeout):
        """The next JSON line, or None on timeout or end of output.  Lines
        are split here, not by a buffered reader, so select() stays true
        to what is still unread."""
        deadline = time.monotonic() + timeout
        while b'\n' not in self._buffer:
            left = deadline - time.monotonic()
            fd = self.proc.stdout.fileno()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b'\n', 1)
        try:
            return json.loads(line)
        except ValueError:
            return {}

    def execute(self, name, timeout=10, **arguments):
        """Send one command; its reply, or None when QEMU went away."""
        self._next_id += 1
        message = {'execute': name, 'id': self._next_id}
        if arguments:
            message['arguments'] = arguments
        try:
            self.proc.stdin.write(json.dumps(message) + '\n')
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        return self._reply(self._next_id, timeout)

    def _reply(self, cmd_id, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read_message(deadline - time.monotonic())
            if message is None:
                return None
            if 'event' in message:
                self.events.append(message)
            elif message.get('id') == cmd_id:
                return message
        return None

    def finish(self, timeout=10):
        """Quit if still there, reap, and return a Run."""
        self.execute('quit')
        timed_out = False
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()
        with open(self.stderr_path, errors='replace') as f:
            stderr = f.read() if self.stderr_path != os.devnull else ''
        return Run(self.proc.returncode, stderr, {}, self.events, timed_out)
