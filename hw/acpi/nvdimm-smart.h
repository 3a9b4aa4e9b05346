/*
 * Virtual NVDIMM: the NVDIMMs' health functions of the Intel DSM family
 * (SMART), called by the mailbox in hw/acpi/nvdimm.c
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ACPI_NVDIMM_SMART_H
#define HW_ACPI_NVDIMM_SMART_H

#include "hw/mem/nvdimm.h"

/* Function 0's bits for the health functions */
uint32_t nvdimm_smart_functions(void);

/* Whether @function is a health function, answered with either revision */
bool nvdimm_smart_has_function(uint32_t function);

/*
 * Health function @function of @nvdimm with the @in_len bytes of argument
 * at @in.  Writes at most @out_max bytes of output after the status to
 * @out, sets *@out_len to how many, and returns the status word.
 */
uint32_t nvdimm_smart_call(NVDIMMDevice *nvdimm, uint32_t function,
                           const uint8_t *in, size_t in_len,
                           uint8_t *out, size_t out_max, size_t *out_len);

/*
 * The slots whose NVDIMM has a health event for the guest, as a bitmap
 * of @len bytes (bit n: slot n); taking them clears them.
 */
void nvdimm_smart_take_events(NVDIMMState *state, uint8_t *bitmap,
                              size_t len);

#endif
