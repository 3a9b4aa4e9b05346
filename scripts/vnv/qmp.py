# SPDX-License-Identifier: GPL-2.0-or-later
"""QMP on a unix socket, through the base's own client.

qemu.qmp.legacy.QEMUMonitorProtocol (the base's python/qemu) is the
synchronous face of its asyncio QMPClient.  Monitor adds what every
caller here needs from it: a connect that waits until QEMU listens and
gives up once the process is gone, a time limit on every command, the
events kept for later, and two exceptions: CommandError when QEMU
refuses a command, MonitorError when it is gone or silent.
"""

import logging
import socket
import time

from vnv import paths

paths.use_base_python()
from qemu.qmp import ExecuteError, QMPError  # noqa: E402
from qemu.qmp.legacy import QEMUMonitorProtocol  # noqa: E402

COMMAND_TIMEOUT = 30

# The client logs a QEMU that went away at error level: the crash suite
# kills QEMU on purpose, and callers report what matters themselves.
logging.getLogger("qemu.qmp").addHandler(logging.NullHandler())

# What the client raises when the connection breaks or a reply is late
CONNECTION_ERRORS = (QMPError, OSError, EOFError)


def _why(error):
    """The error's message, or its kind when it has none (a timeout)."""
    return str(error) or type(error).__name__


class MonitorError(Exception):
    """QMP could not connect, or QEMU went away or did not answer."""


class CommandError(MonitorError):
    """QEMU refused a command; .desc holds its message."""

    def __init__(self, cmd, desc):
        self.desc = desc
        super().__init__("%s: %s" % (cmd, desc))


def connect_unix(path, deadline, alive=lambda: True, poll=0.05):
    """A socket connected to PATH, once QEMU listens there.

    QEMU (server=on,wait=off) creates the socket only after it has
    parsed its command line; ALIVE() false ends the wait early.
    """
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline or not alive():
                raise MonitorError("cannot connect to %s" % path)
            time.sleep(poll)


class _Client(QEMUMonitorProtocol):
    def connect_within(self, timeout):
        """connect(), with a time limit: QEMU listens from the start but
        greets only once its main loop runs, and may never get there."""
        self._qmp.await_greeting = True
        self._qmp.negotiate = True
        self._sync(self._qmp.connect(self._address), timeout)


class Monitor:
    """A QMP session with one QEMU, capabilities negotiated."""

    def __init__(self, path, deadline, alive=lambda: True, poll=0.05,
                 timeout=COMMAND_TIMEOUT):
        self.events = []
        self._qmp = _Client(connect_unix(path, deadline, alive, poll))
        self._qmp.settimeout(timeout)
        try:
            self._qmp.connect_within(timeout)
        except CONNECTION_ERRORS as e:
            self.close()
            raise MonitorError("QMP handshake: %s" % _why(e)) from e

    def command(self, cmd, **args):
        """Run CMD; its "return" value, or CommandError/MonitorError."""
        try:
            return self._qmp.cmd(cmd, **args)
        except ExecuteError as e:
            raise CommandError(cmd, str(e)) from e
        except CONNECTION_ERRORS as e:
            raise MonitorError("QMP %s: %s" % (cmd, _why(e))) from e
        finally:
            self.events += self._qmp.get_events()

    def close(self):
        try:
            self._qmp.close()
        except CONNECTION_ERRORS:
            pass        # why QEMU went away was reported when it mattered
