/*
 * Virtual NVDIMM: what the host gave each NVDIMM for persistence
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_NVDIMM_PERSISTENCE_H
#define HW_MEM_NVDIMM_PERSISTENCE_H

#include "hw/mem/nvdimm.h"

#define NVDIMM_REQUIRE_PERSISTENCE_PROP "require-persistence"

/**
 * nvdimm_check_persistence: fail unless guest writes to @nvdimm are
 * guaranteed to survive a host crash
 * @nvdimm: a realized-enough NVDIMM: its backend is mapped
 * @errp: set to a message naming every condition that failed, and its fix
 *
 * Unarmed and read-only NVDIMMs always pass: the guest does not expect
 * its writes to them to persist.
 *
 * Returns: true if persistence is guaranteed or not applicable.
 */
bool nvdimm_check_persistence(NVDIMMDevice *nvdimm, Error **errp);

#endif
