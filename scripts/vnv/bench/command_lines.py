# SPDX-License-Identifier: GPL-2.0-or-later
"""The command lines the report shows under its rows."""

import os
import re
import shlex
import tempfile

from vnv import paths


class Note(str):
    """A remark at the end of a command line in the report, unquoted."""


def is_nvdimm_option(argv, i):
    return argv[i] in ("-object", "-device") and i + 1 < len(argv) and \
        ("nvdimm" in argv[i + 1] or "memory-backend-file" in argv[i + 1])


def shell_line(argv, keep=2):
    """The command line for the report, with the NVDIMM -object/-device
    options after the first KEEP (one NVDIMM) elided."""
    notes = [a for a in argv if isinstance(a, Note)]
    argv = [a for a in argv if not isinstance(a, Note)]
    out, seen, skipped, i = [], 0, 0, 0
    while i < len(argv):
        if is_nvdimm_option(argv, i):
            seen += 1
            if seen > keep:
                skipped += 1
            else:
                out += argv[i:i + 2]
            i += 2
            continue
        out.append(argv[i])
        i += 1
    line = shlex.join(out)
    if skipped:
        line += " [... %d more NVDIMM -object/-device options]" % skipped
    return portable(" ".join([line] + notes))


def portable(line):
    """No paths of this machine in the report: the tree is ".", scratch
    directories are $TMP."""
    line = line.replace(paths.TOP + os.sep, "")
    tmp = re.escape(tempfile.gettempdir())
    return re.sub(tmp + r"/vnv-[^/ ']+", "$TMP", line)
