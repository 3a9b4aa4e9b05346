/*
 * Virtual NVDIMM: query-nvdimm-persistence and "info nvdimm"
 *
 * QMP gives management software the facts and the reasons as values it
 * can act on; HMP gives a person the same in words, with the fixes, and
 * the backend settings those fixes are about.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/nvdimm-utils.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-nvdimm.h"
#include "hw/mem/nvdimm-persistence.h"
#include "hw/mem/nvdimm-flush.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "system/hostmem.h"

static NvdimmPersistenceReasonList *
nvdimm_reason_list(const NVDIMMPersistence *p)
{
    NvdimmPersistenceReasonList *head = NULL, **tail = &head;
    unsigned i;

    for (i = 0; i < p->nreasons; i++) {
        QAPI_LIST_APPEND(tail, p->reasons[i]);
    }
    return head;
}

static NvdimmPersistenceInfo *nvdimm_persistence_info(NVDIMMDevice *nvdimm)
{
    NvdimmPersistenceInfo *info = g_new0(NvdimmPersistenceInfo, 1);
    NVDIMMPersistence p;

    nvdimm_evaluate_persistence(nvdimm, &p);
    info->id = g_strdup(DEVICE(nvdimm)->id);
    info->memdev = object_get_canonical_path(OBJECT(p.backend));
    info->map_sync = p.host.map_sync;
    info->dax = p.host.dax;
    info->device_dax = p.host.device_dax;
    info->has_libpmem_pmem = nvdimm_probe_libpmem(p.backend,
                                                  &info->libpmem_pmem);
    info->verdict = p.verdict;
    info->reasons = nvdimm_reason_list(&p);
    info->flush_hints = nvdimm->flush_hints;
    if (nvdimm->flush_hints) {
        info->has_flushes = true;
        info->flushes = nvdimm_flush_count(nvdimm);
    }
    return info;
}

NvdimmPersistenceInfoList *qmp_query_nvdimm_persistence(Error **errp)
{
    NvdimmPersistenceInfoList *head = NULL, **tail = &head;
    GSList *list = nvdimm_get_device_list();
    GSList *item;

    for (item = list; item; item = item->next) {
        /* A device being hotplugged is listed before it is realized. */
        if (DEVICE(item->data)->realized) {
            QAPI_LIST_APPEND(tail, nvdimm_persistence_info(item->data));
        }
    }
    g_slist_free(list);
    return head;
}

static const char *on_off(bool value)
{
    return value ? "on" : "off";
}

static const char *yes_no(bool value)
{
    return value ? "yes" : "no";
}

/* The backend settings the fixes talk about, read from the backend. */
static void hmp_print_memdev(Monitor *mon, const char *memdev)
{
    Object *backend = object_resolve_path(memdev, NULL);
    static const char *const settings[] = { "share", "pmem", "readonly" };
    g_autofree char *path = NULL;
    unsigned i;

    monitor_printf(mon, "  memdev: %s (%s)\n", memdev,
                   object_get_typename(backend));
    if (!object_dynamic_cast(backend, TYPE_MEMORY_BACKEND_FILE)) {
        return;
    }
    path = object_property_get_str(backend, "mem-path", &error_abort);
    monitor_printf(mon, "    mem-path: %s\n", path);
    for (i = 0; i < ARRAY_SIZE(settings); i++) {
        monitor_printf(mon, "    %s: %s\n", settings[i],
                       on_off(object_property_get_bool(backend, settings[i],
                                                       &error_abort)));
    }
    monitor_printf(mon, "    align: 0x%" PRIx64 "\n",
                   object_property_get_uint(backend, "align", &error_abort));
}

static void hmp_print_reasons(Monitor *mon, NvdimmPersistenceReasonList *list)
{
    NvdimmPersistenceReasonList *item;
    const char *fix;

    monitor_printf(mon, "  reasons:\n");
    for (item = list; item; item = item->next) {
        monitor_printf(mon, "    %s: %s\n",
                       NvdimmPersistenceReason_str(item->value),
                       nvdimm_persistence_reason_text(item->value));
        fix = nvdimm_persistence_reason_fix(item->value);
        if (fix) {
            monitor_printf(mon, "      fix: %s\n", fix);
        }
    }
}

static void hmp_print_nvdimm(Monitor *mon, NvdimmPersistenceInfo *info)
{
    monitor_printf(mon, "nvdimm %s:\n", info->id ? info->id : "(no id)");
    hmp_print_memdev(mon, info->memdev);
    monitor_printf(mon, "  map-sync: %s\n", yes_no(info->map_sync));
    monitor_printf(mon, "  dax: %s\n", yes_no(info->dax));
    monitor_printf(mon, "  device-dax: %s\n", yes_no(info->device_dax));
    if (info->has_libpmem_pmem) {
        monitor_printf(mon, "  libpmem-pmem: %s\n",
                       yes_no(info->libpmem_pmem));
    }
    monitor_printf(mon, "  persistence: %s\n",
                   NvdimmPersistenceVerdict_str(info->verdict));
    hmp_print_reasons(mon, info->reasons);
    monitor_printf(mon, "  flush-hints: %s\n", on_off(info->flush_hints));
    if (info->has_flushes) {
        monitor_printf(mon, "  flushes: %" PRIu64 "\n", info->flushes);
    }
}

void hmp_info_nvdimm(Monitor *mon, const QDict *qdict)
{
    g_autoptr(NvdimmPersistenceInfoList) list =
        qmp_query_nvdimm_persistence(NULL);
    NvdimmPersistenceInfoList *item;

    if (!list) {
        monitor_printf(mon, "No NVDIMM devices\n");
        return;
    }
    for (item = list; item; item = item->next) {
        hmp_print_nvdimm(mon, item->value);
    }
}
