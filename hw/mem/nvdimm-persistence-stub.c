/*
 * The NVDIMM QMP commands for builds without NVDIMM support
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-nvdimm.h"

/* Without the device there is no NVDIMM to report: an empty list. */
NvdimmPersistenceInfoList *qmp_query_nvdimm_persistence(Error **errp)
{
    return NULL;
}

NvdimmErrorInfoList *qmp_query_nvdimm_errors(Error **errp)
{
    return NULL;
}

void qmp_nvdimm_inject_error(const char *id, uint64_t offset,
                             uint64_t length, bool has_notify, bool notify,
                             Error **errp)
{
    error_setg(errp, "this QEMU is built without NVDIMM support");
}

void qmp_nvdimm_clear_error(const char *id, uint64_t offset, uint64_t length,
                            Error **errp)
{
    error_setg(errp, "this QEMU is built without NVDIMM support");
}

void qmp_nvdimm_set_health(NvdimmHealthSettings *settings, Error **errp)
{
    error_setg(errp, "this QEMU is built without NVDIMM support");
}

NvdimmHealthInfoList *qmp_query_nvdimm_health(Error **errp)
{
    return NULL;
}
