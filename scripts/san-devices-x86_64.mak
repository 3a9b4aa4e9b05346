# The devices of the sanitizer and fuzzing build (build-qemu.sh san),
# configured --without-default-devices: the two machines that offer
# NVDIMMs and what the NVDIMM qtests, guest suites and fuzz targets start.
CONFIG_I440FX=y
CONFIG_Q35=y
CONFIG_NVDIMM=y
# The default display of pc and q35, which QEMU adds without -nodefaults
CONFIG_VGA_PCI=y
