/*
 * Virtual NVDIMM: media errors (poisoned ranges) of one device
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_NVDIMM_ERRORS_H
#define HW_MEM_NVDIMM_ERRORS_H

#include "hw/mem/nvdimm.h"

/* The most disjoint poisoned ranges one NVDIMM keeps */
#define NVDIMM_MAX_ERROR_RANGES 65536

/* A poisoned range, as an offset into the guest-visible region */
typedef struct NVDIMMErrorRange {
    uint64_t offset;
    uint64_t length;
} NVDIMMErrorRange;

/*
 * Called for each poisoned range that meets the range asked for, clipped
 * to it and in ascending order; returning false stops the walk.
 */
typedef bool (*NVDIMMErrorFn)(NVDIMMDevice *nvdimm,
                              const NVDIMMErrorRange *range, void *opaque);

/* Realize and unrealize: the list, and its migration section. */
void nvdimm_errors_realize(NVDIMMDevice *nvdimm);
void nvdimm_errors_unrealize(NVDIMMDevice *nvdimm);

/*
 * Is [@offset, @offset + @length) a non-empty range inside the NVDIMM's
 * guest-visible region?
 */
bool nvdimm_errors_range_valid(NVDIMMDevice *nvdimm, uint64_t offset,
                               uint64_t length);

/*
 * Poison a range (merged with the ranges it meets).  Fails, changing
 * nothing, when the range is not valid or the list is full.
 */
bool nvdimm_errors_add(NVDIMMDevice *nvdimm, uint64_t offset,
                       uint64_t length, Error **errp);

/* Clear whatever is poisoned in a range; returns the bytes cleared. */
uint64_t nvdimm_errors_clear(NVDIMMDevice *nvdimm, uint64_t offset,
                             uint64_t length);

/* Where the last poisoned range ends; 0 without errors */
uint64_t nvdimm_errors_end(NVDIMMDevice *nvdimm);

/* Does [@offset, @offset + @length) meet a poisoned range? */
bool nvdimm_errors_meet(NVDIMMDevice *nvdimm, uint64_t offset,
                        uint64_t length);

/* Walk the poisoned ranges that meet [@offset, @offset + @length). */
void nvdimm_errors_foreach(NVDIMMDevice *nvdimm, uint64_t offset,
                           uint64_t length, NVDIMMErrorFn fn, void *opaque);

/* How many disjoint ranges are poisoned */
unsigned nvdimm_errors_count(NVDIMMDevice *nvdimm);

/* The machine asks for a guest notification of new media errors */
void nvdimm_errors_notify_guest(NVDIMMState *state);

/* The subsection of the NVDIMM's migration state; sent with errors. */
extern const VMStateDescription vmstate_nvdimm_media_errors;

#endif
