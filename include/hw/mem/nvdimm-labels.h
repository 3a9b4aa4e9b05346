/*
 * Virtual NVDIMM: the guard against a label area that holds guest data
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_NVDIMM_LABELS_H
#define HW_MEM_NVDIMM_LABELS_H

#include "hw/mem/nvdimm.h"

#define NVDIMM_LABEL_OVERWRITE_PROP "label-overwrite"

/**
 * nvdimm_check_label_area: refuse a label area that holds other data
 * @nvdimm: an NVDIMM whose label area is mapped (label_data is set)
 * @errp: set to a message that explains the risk and names the opt-in
 *
 * The label area must be blank (all zeroes) or hold a namespace index
 * block, unless the user set label-overwrite=on.  Devices without labels
 * and devices realized for an incoming migration always pass.
 *
 * Returns: true if the device may use its label area.
 */
bool nvdimm_check_label_area(NVDIMMDevice *nvdimm, Error **errp);

#endif
