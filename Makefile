# SPDX-License-Identifier: GPL-2.0-or-later
#
# vNVDIMM for QEMU 10.0: the two commands are "make demo" and "make check".

SCRIPTS := scripts

.PHONY: all setup base qemu reference reftests build-all asan guest \
	demo check check-qtests check-guest check-series bench patches fuzz clean

all: qemu

setup:
	@$(SCRIPTS)/setup-host.sh

base: setup
	@$(SCRIPTS)/fetch-base.sh

# Our files and patches/ over the base: build/qemu/qemu-system-x86_64
qemu: base
	@$(SCRIPTS)/build-qemu.sh patched

# The unmodified base, the oracle: build/reference/qemu-system-x86_64
reference: base
	@$(SCRIPTS)/build-qemu.sh reference

# Our qtests over the unmodified base, to run them against the reference
reftests: base
	@$(SCRIPTS)/build-qemu.sh reftests

# The other targets that compile NVDIMM code (arm virt, spapr, loongarch)
build-all: base
	@$(SCRIPTS)/build-qemu.sh others

asan: base
	@$(SCRIPTS)/build-qemu.sh asan

# libFuzzer on the _DSM mailbox (clang build in build/qemu-fuzz):
# make fuzz FUZZ_SECONDS=3600 FUZZ_TARGET=generic-fuzz
FUZZ_SECONDS ?= 180
FUZZ_TARGET ?= nvdimm-dsm-fuzz
fuzz: base
	@FUZZ_SECONDS=$(FUZZ_SECONDS) $(SCRIPTS)/run-fuzz.sh $(FUZZ_TARGET)

guest: setup
	@$(SCRIPTS)/make-guest.sh

demo: qemu guest
	@$(SCRIPTS)/demo.sh

check: setup
	@$(SCRIPTS)/check.sh

check-qtests: qemu reference reftests
	@$(SCRIPTS)/check.sh qtests identity

check-guest: qemu guest
	@$(SCRIPTS)/check.sh guest

# Our build against the reference, side by side: docs/benchmarks.md
bench: qemu reference guest
	@$(SCRIPTS)/bench.py

# The patch set as a git-format-patch series: build/patches/
patches: base
	@$(SCRIPTS)/make-patches.py

# The series checks: checkpatch, git am, every prefix builds, quilt
check-series: base
	@$(SCRIPTS)/check.sh series

clean:
	rm -rf build/qemu build/reference build/reftests build/qemu-others \
		build/qemu-asan build/qemu-fuzz build/fuzz build/src-* build/guest \
		build/logs
