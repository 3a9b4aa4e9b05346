# SPDX-License-Identifier: GPL-2.0-or-later
#
# vNVDIMM for QEMU 10.0: the two commands are "make demo" and "make check".

SCRIPTS := scripts

.PHONY: all setup base qemu reference build-all san asan guest demo \
	check check-quick check-full check-qtests check-base-qtests \
	check-guest check-series \
	bench bench-media-errors patches fuzz clean \
	full install check-libvirt

all: qemu

setup:
	@$(SCRIPTS)/setup-host.sh

base: setup
	@$(SCRIPTS)/fetch-base.sh

# Our files and patches/ over the base: build/qemu/qemu-system-x86_64
qemu: base
	@$(SCRIPTS)/build-qemu.sh patched

# The unmodified base, the oracle: build/reference/qemu-system-x86_64,
# with our qtests built against the base's headers
reference: base
	@$(SCRIPTS)/build-qemu.sh reference

# The other targets that compile NVDIMM code (arm virt, spapr, loongarch),
# in build/qemu beside x86_64
build-all: qemu
	@$(SCRIPTS)/build-qemu.sh others-all

# Our QEMU with the features of Debian's qemu-system-x86 (VNC, SPICE, user
# networking, 9p, vhost, the block formats...), for ordinary VMs and
# virt-install: build/qemu-full/qemu-system-x86_64, and the tools
full: base
	@$(SCRIPTS)/setup-host.sh full
	@$(SCRIPTS)/build-qemu.sh full

# The full build under PREFIX, with its firmware: make install PREFIX=/opt/vnv
PREFIX ?= /usr/local
install: full
	@$(SCRIPTS)/build-qemu.sh install "$(PREFIX)"

# clang with ASan, UBSan and libFuzzer: build/qemu-san
san asan: base
	@$(SCRIPTS)/build-qemu.sh san

# libFuzzer on the _DSM mailbox:
# make fuzz FUZZ_SECONDS=3600 FUZZ_TARGET=generic-fuzz
FUZZ_SECONDS ?= 180
FUZZ_TARGET ?= nvdimm-dsm-fuzz
fuzz: base
	@FUZZ_SECONDS=$(FUZZ_SECONDS) $(SCRIPTS)/run-fuzz.sh $(FUZZ_TARGET)

guest: setup
	@$(SCRIPTS)/make-guest.sh

# The arm virt and pseries guests: build/guest-arm64, build/guest-ppc64el
.PHONY: guest-others clean-guest-others
guest-others: setup
	@$(SCRIPTS)/make-guest.sh arm64
	@$(SCRIPTS)/make-guest.sh ppc64el

clean: clean-guest-others
clean-guest-others:
	rm -rf build/guest-arm64 build/guest-ppc64el

demo: qemu guest
	@$(SCRIPTS)/demo.sh

# Everything, in under an hour from a fresh machine
check: setup
	@$(SCRIPTS)/check.sh

# The inner loop: the qtests, the NFIT identity, a guest boot on pc and q35
check-quick: setup
	@$(SCRIPTS)/check.sh --quick

# make check, and what does not fit its hour: the series built at every
# prefix and in Debian's source package
check-full: setup
	@$(SCRIPTS)/check.sh --full

check-qtests: qemu reference
	@$(SCRIPTS)/check.sh qtests identity

# QEMU's own qtests, every one of x86_64 and aarch64, on the reference
# and on ours
check-base-qtests: build-all reference
	@$(SCRIPTS)/build-qemu.sh reference-others
	@VNV_BASE_QTESTS_ALL=1 $(SCRIPTS)/check.sh base_qtests \
		base_qtests_aarch64

check-guest: qemu guest
	@$(SCRIPTS)/check.sh guest

# The arm virt and pseries guest suites, on ours and on the reference
.PHONY: check-guest-others
check-guest-others: build-all reference
	@$(SCRIPTS)/build-qemu.sh reference-others
	@$(SCRIPTS)/build-qemu.sh reference-ppc64
	@$(SCRIPTS)/check.sh guests_virt guests_virt_reference guests_pseries

# The libvirt suite: a session libvirtd of ours, our build and the reference
check-libvirt: qemu reference guest
	@$(SCRIPTS)/check.sh libvirt

# Our build against the reference, side by side: docs/benchmarks.md
bench: qemu reference guest
	@$(SCRIPTS)/bench.py

# What NVDIMM media errors cost, our build only (10,000 errors, 1 GiB and
# 256 GiB NVDIMMs): a Markdown table on stdout
bench-media-errors: qemu
	@$(SCRIPTS)/bench_media_errors.py

# The patch set as a git-format-patch series: build/patches/
patches: base
	@$(SCRIPTS)/make-patches.py

# The series checks: checkpatch, git am, every prefix builds, quilt
check-series: base
	@$(SCRIPTS)/check.sh series_builds

clean:
	rm -rf build/qemu build/reference build/ref build/qemu-san build/src \
		build/fuzz build/guest build/logs build/series build/patches \
		build/qemu-full build/full-install build/libvirt*
