#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash consistency: SIGKILL QEMU while the guest updates labels.

Boot 0 labels a blank backend and creates namespace A (raw, 16 MiB) full
of a known pattern.  Every later boot first checks what the previous
kill left, then loops "create namespace B, write 1 MiB to it, destroy
it"; the host SIGKILLs QEMU at a random moment of that loop.  After each
kill, a new QEMU on the same file must show:
  - in the guest: A with its uuid and data, at most one other namespace
    (B from before or after the interrupted update), and a label area
    that ndctl check-labels accepts;
  - on the host: the file's bytes of A exactly as written, the rest of
    the data region outside A and B untouched (zeroes), and an intact
    namespace index block in the label area.
Each kill is one case, "crash/kill-NN"; "crash/survived" sums them up.

    test_crash.py [--qemu BIN] [--kills N] [--seed S]

The default is make check's variant, 12 kills (about 4 minutes under TCG
on the shared 2-core machine); --kills 100 is the full run (make
check-full).
"""

import hashlib
import os
import random
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts"))

from vnv.backend_files import (INDEX_SIGNATURE,  # noqa: E402
                               file_range, sparse_file)
from vnv.guest import GuestError, nvdimm_args  # noqa: E402
from vnv.suite import info, LABEL_SIZE, MiB, Suite  # noqa: E402

BACKEND_SIZE = 128 * MiB
A_SIZE = 16 * MiB
A_CHECKED = MiB                    # what the guest hashes of A
B_END = A_SIZE + 16 * MiB          # B is allocated right after A
# Kill this long after "VNV-READY loop" (odd kills) or after the first
# write (even kills): somewhere in the next few label updates.
KILL_DELAY = (0.5, 6.0)


def b_offset(line):
    """The region offset of a B from the loop's "phase=write" line, or
    None."""
    if "VNV-INFO phase=write" not in line or " offset=" not in line:
        return None
    value = line.split(" offset=", 1)[1].split()[0]
    return int(value) if value.isdigit() else None


def a_content(token):
    line = ("vnv-crash-%s\n" % token).encode()
    return (line * (A_SIZE // len(line) + 1))[:A_SIZE]


def index_blocks_intact(path):
    """Offsets of label area index blocks whose signature and own offset
    (myoff, byte 24) are right."""
    area = file_range(path, BACKEND_SIZE - LABEL_SIZE, 4096)
    found = []
    for off in range(0, 4096, 256):
        if area[off:off + 16] == INDEX_SIGNATURE and \
                int.from_bytes(area[off + 24:off + 32], "little") == off:
            found.append(off)
    return found


class CrashRun:
    def __init__(self, suite, kills, seed):
        self.suite = suite
        self.kills = kills
        self.rng = random.Random(seed)
        self.backend = sparse_file(suite.path("crash.img"), BACKEND_SIZE)
        self.dimm = nvdimm_args("nv0", self.backend, "%dM" %
                                (BACKEND_SIZE // MiB))
        self.token = self.a_uuid = self.a_sum = None
        self.phases = {}
        self.overlaps = {}        # kill -> offsets of Bs placed over A

    def setup(self, prefix="crash/setup"):
        if os.path.exists(self.backend):
            os.unlink(self.backend)
        sparse_file(self.backend, BACKEND_SIZE)
        self.token = uuid.uuid4().hex[:12]
        self.a_sum = hashlib.sha256(
            a_content(self.token)[:A_CHECKED]).hexdigest()
        g = self.suite.boot(prefix, "crash-setup",
                            params={"token": self.token},
                            qemu_args=self.dimm)
        self.a_uuid = info(g, "a-uuid") if g else None
        ok = file_range(self.backend, 0, A_SIZE) == a_content(self.token)
        self.suite.check(prefix + "/host-a-placement", ok,
                         "A's pattern is not at the start of the file")
        return bool(self.a_uuid) and ok

    def host_problems(self):
        problems = []
        if file_range(self.backend, 0, A_SIZE) != a_content(self.token):
            problems.append("host: A's bytes in the file changed")
        rest = file_range(self.backend, B_END,
                          BACKEND_SIZE - LABEL_SIZE - B_END)
        if rest.count(0) != len(rest):
            problems.append("host: data outside A and B changed")
        if not index_blocks_intact(self.backend):
            problems.append("host: no intact index block")
        return problems

    def save_label_area(self, n):
        """Keep what kill n left in the label area, for a post-mortem."""
        with open(self.suite.path("labels-after-kill-%02d.bin" % n),
                  "wb") as f:
            f.write(file_range(self.backend, BACKEND_SIZE - LABEL_SIZE,
                               LABEL_SIZE))

    def params(self, loop):
        return {"auuid": self.a_uuid, "asum": self.a_sum,
                "loop": 1 if loop else 0}

    @staticmethod
    def guest_problems(g):
        return ["%s: %s" % (case, detail or verdict)
                for case, verdict, detail in g.results()
                if verdict != "PASS"]

    def last_phase(self, n, g):
        """The loop's phase when kill n landed; also notes every B that
        the guest kernel placed over A during that boot."""
        phase = None
        for line in g.lines():
            if "VNV-INFO phase=" in line:
                phase = line.split("phase=", 1)[1].split()[0]
            offset = b_offset(line)
            if offset is not None and offset < A_SIZE:
                self.overlaps.setdefault(n, []).append(offset)
        self.phases[phase] = self.phases.get(phase, 0) + 1
        return phase

    def boot_and_kill(self, n):
        """Boot, let the check of the previous kill's state run, then kill
        during the loop.  Returns (the check's problems, why the boot
        failed or None, the loop's phase at the kill)."""
        g = self.suite.guest("crash/kill-%02d" % n, "crash-loop",
                             params=self.params(True), qemu_args=self.dimm)
        try:
            g.start()
            g.wait_for(r"VNV-READY loop", 120)
            if n % 2 == 0:
                # The first create after a boot is slow: start the clock
                # later on even kills, so that some land in writes and
                # destroys too.
                g.wait_for(r"VNV-INFO phase=write i=1", 60)
            time.sleep(self.rng.uniform(*KILL_DELAY))
            if not g.alive():
                raise GuestError("the loop stopped:\n" + g.tail())
            g.proc.kill()                   # SIGKILL, nothing flushed
            g.proc.wait(10)
        except GuestError as e:
            return self.guest_problems(g), str(e), None
        finally:
            g.kill()
        return self.guest_problems(g), None, self.last_phase(n, g)

    def final_check(self):
        g = self.suite.guest("crash/final", "crash-loop",
                             params=self.params(False), qemu_args=self.dimm)
        try:
            g.start()
            g.wait_done(120)
        except GuestError as e:
            g.kill()
            return [str(e)]
        return self.guest_problems(g)

    def run(self):
        if not self.setup():
            self.suite.report("crash/survived", False, "setup failed")
            return
        survived = 0
        # What kill n left: the host's look at the file right after it,
        # then the guest's check at the start of boot n + 1.
        host, phase = [], None
        for n in range(1, self.kills + 1):
            check, failure, next_phase = self.boot_and_kill(n)
            if n > 1:
                survived += self.verdict(n - 1, phase, host + check)
            if failure:
                self.suite.report("crash/kill-%02d" % n, False, failure)
                break
            host, phase = self.host_problems(), next_phase
            self.save_label_area(n)
        else:
            check = self.final_check()
            survived += self.verdict(self.kills, phase, host + check)
        counts = ", ".join("%s %d" % kv for kv in sorted(self.phases.items()))
        self.suite.check("crash/survived", survived == self.kills,
                         "%d of %d kills" % (survived, self.kills))
        print("# crash: %d of %d kills survived (killed during: %s)"
              % (survived, self.kills, counts), flush=True)

    def verdict(self, n, phase, problems):
        if n in self.overlaps:
            problems = problems + ["guest: B placed over A at offsets %s"
                                   % self.overlaps[n]]
        self.suite.report("crash/kill-%02d" % n, not problems,
                          "killed during %s: %s" % (phase,
                                                    "; ".join(problems)))
        return 0 if problems else 1


def main():
    kills = int(os.environ.get("VNV_CRASH_KILLS", "12"))
    seed = os.environ.get("VNV_CRASH_SEED") or str(time.time_ns())
    argv = sys.argv[1:]
    for flag in ("--kills", "--seed"):
        if flag in argv:
            i = argv.index(flag)
            value = argv[i + 1]
            del argv[i:i + 2]
            if flag == "--kills":
                kills = int(value)
            else:
                seed = value
    sys.argv[1:] = argv
    suite = Suite("crash")
    print("# crash: %d kills, seed %s" % (kills, seed), flush=True)
    CrashRun(suite, kills, seed).run()
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
