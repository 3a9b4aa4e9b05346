/*
 * Virtual NVDIMM: loads from poisoned ranges fail, as on hardware
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_NVDIMM_POISON_H
#define HW_MEM_NVDIMM_POISON_H

#include "hw/mem/nvdimm.h"

/*
 * The most overlays one NVDIMM keeps: past that many runs of poisoned
 * pages, the last overlay reaches from the start of the last run kept to
 * the end of the last poisoned page.
 */
#define NVDIMM_POISON_MAX_OVERLAYS 64

/* Make the overlays match the device's poisoned ranges again. */
void nvdimm_poison_update(NVDIMMDevice *nvdimm);

/*
 * The memslots the device's region may be split into: each overlay
 * splits a RAM section.
 */
unsigned nvdimm_poison_memslots(NVDIMMDevice *nvdimm);

/* Remove the overlays: the backend outlives the device. */
void nvdimm_poison_unrealize(NVDIMMDevice *nvdimm);

#endif
