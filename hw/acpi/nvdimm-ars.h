/*
 * Virtual NVDIMM: the root device's _DSM functions (Address Range Scrub,
 * error injection), called by the mailbox in hw/acpi/nvdimm.c
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ACPI_NVDIMM_ARS_H
#define HW_ACPI_NVDIMM_ARS_H

#include "hw/mem/nvdimm.h"

/* Function 0's bitmap for the root device */
uint32_t nvdimm_ars_functions(NVDIMMState *state);

/*
 * Root device function @function with the @in_len bytes of argument at
 * @in.  Writes at most @out_max bytes of output after the status to @out,
 * sets *@out_len to how many, and returns the status word (status in the
 * low 16 bits, extended status in the high 16).
 */
uint32_t nvdimm_ars_call(NVDIMMState *state, uint32_t function,
                         const uint8_t *in, size_t in_len,
                         uint8_t *out, size_t out_max, size_t *out_len);

/* The NFIT device handle of an NVDIMM (hw/acpi/nvdimm.c) */
uint32_t nvdimm_acpi_device_handle(NVDIMMDevice *nvdimm);

#endif
