# SPDX-License-Identifier: GPL-2.0-or-later
"""The test library: everything that starts QEMU and talks to it.

The guest rig (guest, suite), the bad-configuration matrix (matrix) and
the benchmarks (bench) share one firmware rule, one QMP client (the
base's python/qemu, see qmp), one qtest client and one set of backend
file helpers.  scripts/README.md lists the modules.
"""
