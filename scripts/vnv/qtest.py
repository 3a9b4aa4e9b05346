# SPDX-License-Identifier: GPL-2.0-or-later
"""A QEMU driven by the qtest text protocol on stdio (-accel qtest).

Why not the base's qemu.machine.qtest: it talks to QEMU over a unix
socket, one command and one reply at a time.  The benchmarks write
hundreds of commands in one go and read the answers after (batch), so
that a callgrind segment holds QEMU's work and not our round trips, and
a QEMU under valgrind is started by a wrapper command line of our own.
"""

import subprocess

from vnv import process


class QtestError(Exception):
    """The qtest QEMU died."""


class Qtest:
    """A QEMU driven by the qtest text protocol on stdio."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     bufsize=1)

    def batch(self, commands):
        """Send commands pipelined, return their answers."""
        self.proc.stdin.write("".join(c + "\n" for c in commands))
        self.proc.stdin.flush()
        answers = []
        for _ in commands:
            line = self.proc.stdout.readline()
            if not line:
                raise QtestError("qtest QEMU died: %s"
                                 % self.proc.stderr.read()[-800:])
            answers.append(line.strip())
        return answers

    def inb_many(self, port, count):
        return bytes(int(a.split()[1], 16)
                     for a in self.batch(["inb 0x%x" % port] * count))

    def read(self, addr, size):
        answer = self.batch(["read 0x%x %d" % (addr, size)])[0]
        return bytes.fromhex(answer.split()[1][2:])

    def close(self):
        process.stop(self.proc)
        return self.proc.stderr.read()
