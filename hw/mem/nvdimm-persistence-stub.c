/*
 * query-nvdimm-persistence for builds without NVDIMM support
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/qapi-commands-nvdimm.h"

/* Without the device there is no NVDIMM to report: an empty list. */
NvdimmPersistenceInfoList *qmp_query_nvdimm_persistence(Error **errp)
{
    return NULL;
}
