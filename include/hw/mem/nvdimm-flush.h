/*
 * Virtual NVDIMM: flush hints (ACPI NFIT Flush Hint Address Structure)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_NVDIMM_FLUSH_H
#define HW_MEM_NVDIMM_FLUSH_H

#include "hw/mem/nvdimm.h"

#define NVDIMM_FLUSH_HINTS_PROP "flush-hints"

/* One hint address per NVDIMM; Linux spreads its writes over the hints. */
#define NVDIMM_FLUSH_HINT_COUNT 1

/**
 * nvdimm_flush_hints_region: the region to plug when flush-hints=on
 * @nvdimm: an NVDIMM whose @nvdimm_mr has been built
 *
 * Returns a container of @nvdimm_mr followed by one alignment's worth of
 * bytes (at least a page) whose first page is the flush hint area: the
 * hint address is the NVDIMM's base plus the size of @nvdimm_mr.  Built
 * on the first call; the device owns it.
 */
MemoryRegion *nvdimm_flush_hints_region(NVDIMMDevice *nvdimm);

/* Realize: the sync's lock and the migration check; undone below. */
bool nvdimm_flush_hints_realize(NVDIMMDevice *nvdimm, Error **errp);
void nvdimm_flush_hints_unrealize(NVDIMMDevice *nvdimm);

/* Finalize: what nvdimm_flush_hints_region() built. */
void nvdimm_flush_hints_finalize(NVDIMMDevice *nvdimm);

/**
 * nvdimm_flush_hint_offset: where the flush hint area lies
 * @nvdimm: an NVDIMM
 * @offset: set to the hint's offset from the NVDIMM's base address
 *
 * Returns: false when the NVDIMM has no flush hint (flush-hints=off).
 */
bool nvdimm_flush_hint_offset(NVDIMMDevice *nvdimm, uint64_t *offset);

/* The number of flushes the guest asked for through the hint. */
uint64_t nvdimm_flush_count(NVDIMMDevice *nvdimm);

/* The subsection of the NVDIMM's migration state; sent with the hint. */
extern const VMStateDescription vmstate_nvdimm_flush_hints;

#endif
