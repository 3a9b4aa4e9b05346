/*
 * Virtual NVDIMM: can guest writes survive a host crash?
 *
 * A guest that stores to an armed NVDIMM and flushes its CPU caches
 * believes the data is persistent.  On the host that holds only when the
 * backend is persistent memory mapped straight into QEMU: a device DAX,
 * or a file on a DAX file system mapped shared with MAP_SYNC.  Any other
 * backend is accepted for compatibility, so this file finds out what the
 * host actually gave each NVDIMM: for query-nvdimm-persistence, for
 * "info nvdimm", and for the device's require-persistence=on check.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/nvdimm-utils.h"
#include "qemu/pmem.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-nvdimm.h"
#include "hw/mem/nvdimm-persistence.h"
#include "hw/mem/nvdimm-flush.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "system/hostmem.h"

#ifdef CONFIG_SYSMACROS
#include <sys/sysmacros.h>
#endif

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

/* A condition that keeps guest writes from being persistent. */
typedef struct NVDIMMFinding {
    const char *reason;     /* what failed, and what it means */
    const char *fix;        /* what the user can change */
} NVDIMMFinding;

static const NVDIMMFinding finding_not_a_file = {
    "the backend is not a file: guest writes live only in host memory",
    "use memory-backend-file on a DAX file system or a device DAX",
};

static const NVDIMMFinding finding_private = {
    "share=off: guest writes stay in a private copy and never reach the"
    " backend file",
    "set share=on on the memory backend",
};

static const NVDIMMFinding finding_not_dax = {
    "the backend file is not on a DAX file system: guest writes live in"
    " the host page cache until written back",
    "put the backend file on a file system mounted with -o dax, or use a"
    " device DAX such as /dev/dax0.0",
};

static const NVDIMMFinding finding_no_pmem = {
    "pmem=off: QEMU did not ask the host kernel for MAP_SYNC",
    "set pmem=on on the memory backend",
};

static const NVDIMMFinding finding_no_map_sync = {
    "MAP_SYNC was not obtained: the host kernel or file system does not"
    " support it",
    "use a host kernel (Linux 4.15 or later) and a file system that"
    " support MAP_SYNC on DAX files",
};

#define NVDIMM_MAX_FINDINGS 4

/* The facts that decide persistence, and the decision. */
typedef struct NVDIMMPersistence {
    bool is_file;
    bool share;
    bool pmem;
    bool guest_read_only;
    bool unarmed;
    bool map_sync;
    bool dax;
    bool device_dax;

    NvdimmPersistenceVerdict verdict;
    const char *why;        /* the reason when there are no findings */
    const NVDIMMFinding *findings[NVDIMM_MAX_FINDINGS];
    unsigned nfindings;
} NVDIMMPersistence;

static MemoryRegion *nvdimm_backend_mr(NVDIMMDevice *nvdimm)
{
    return host_memory_backend_get_memory(nvdimm_backend(nvdimm));
}

static bool nvdimm_backend_is_file(HostMemoryBackend *backend)
{
    return object_dynamic_cast(OBJECT(backend), TYPE_MEMORY_BACKEND_FILE);
}

/* Is @flag one of the space-separated flags in @flags? */
static bool nvdimm_vmflags_contain(const char *flags, const char *flag)
{
    g_auto(GStrv) tokens = g_strsplit_set(flags, " \t\n", -1);

    return g_strv_contains((const gchar * const *)tokens, flag);
}

/*
 * QEMU asks for MAP_SYNC when pmem=on, but maps the file without it when
 * the kernel refuses, as it does for any file not on a DAX file system.
 * The kernel's own record is the "sf" (synchronous fault) flag of the
 * mapping in /proc/self/smaps.
 */
static bool nvdimm_host_has_map_sync(const void *host)
{
    uint64_t addr = (uintptr_t)host;
    uint64_t start, end;
    bool in_mapping = false;
    bool map_sync = false;
    char *line = NULL;
    size_t cap = 0;
    FILE *smaps;

    smaps = fopen("/proc/self/smaps", "r");
    if (!smaps) {
        return false;
    }
    while (getline(&line, &cap, smaps) != -1) {
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &start, &end) == 2) {
            in_mapping = start <= addr && addr < end;
        } else if (in_mapping && g_str_has_prefix(line, "VmFlags:")) {
            map_sync = nvdimm_vmflags_contain(line + strlen("VmFlags:"),
                                              "sf");
            break;
        }
    }
    free(line);
    fclose(smaps);
    return map_sync;
}

/* A device DAX is a character device of the "dax" sysfs class. */
static bool nvdimm_is_device_dax(const struct stat *st)
{
#ifdef CONFIG_SYSMACROS
    g_autofree char *subsystem = NULL;
    g_autofree char *link = NULL;

    if (!S_ISCHR(st->st_mode)) {
        return false;
    }
    link = g_strdup_printf("/sys/dev/char/%u:%u/subsystem",
                           major(st->st_rdev), minor(st->st_rdev));
    subsystem = g_file_read_link(link, NULL);
    return subsystem && g_str_has_suffix(subsystem, "/dax");
#else
    return false;
#endif
}

/* Does the kernel report the file as directly mapped (STATX_ATTR_DAX)? */
static bool nvdimm_file_is_dax(int fd, const char *path)
{
#if defined(CONFIG_LINUX) && defined(STATX_BASIC_STATS)
    struct statx stx;
    int ret;

    if (fd >= 0) {
        ret = statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx);
    } else {
        ret = statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx);
    }
    return ret == 0 && (stx.stx_attributes_mask & STATX_ATTR_DAX) &&
           (stx.stx_attributes & STATX_ATTR_DAX);
#else
    return false;
#endif
}

/* Look at the file the backend actually mapped, through its fd. */
static void nvdimm_probe_backend_file(NVDIMMDevice *nvdimm,
                                      NVDIMMPersistence *p)
{
    Object *backend = OBJECT(nvdimm_backend(nvdimm));
    MemoryRegion *mr = nvdimm_backend_mr(nvdimm);
    g_autofree char *path = object_property_get_str(backend, "mem-path",
                                                    &error_abort);
    int fd = memory_region_get_fd(mr);
    struct stat st;
    int ret;

    ret = fd >= 0 ? fstat(fd, &st) : stat(path, &st);
    p->device_dax = ret == 0 && nvdimm_is_device_dax(&st);
    p->dax = p->device_dax || nvdimm_file_is_dax(fd, path);
    p->pmem = object_property_get_bool(backend, "pmem", &error_abort);
}

static void nvdimm_gather_facts(NVDIMMDevice *nvdimm, NVDIMMPersistence *p)
{
    HostMemoryBackend *backend = nvdimm_backend(nvdimm);
    MemoryRegion *mr = nvdimm_backend_mr(nvdimm);

    p->unarmed = object_property_get_bool(OBJECT(nvdimm),
                                          NVDIMM_UNARMED_PROP, &error_abort);
    p->guest_read_only = nvdimm->readonly || memory_region_is_rom(mr);
    p->share = object_property_get_bool(OBJECT(backend), "share",
                                        &error_abort);
    p->map_sync = nvdimm_host_has_map_sync(memory_region_get_ram_ptr(mr));
    p->is_file = nvdimm_backend_is_file(backend);
    if (p->is_file) {
        nvdimm_probe_backend_file(nvdimm, p);
    }
}

static void nvdimm_add_finding(NVDIMMPersistence *p, const NVDIMMFinding *f)
{
    assert(p->nfindings < NVDIMM_MAX_FINDINGS);
    p->findings[p->nfindings++] = f;
}

/* Every condition that fails, so that one error message lists all fixes. */
static void nvdimm_find_problems(NVDIMMPersistence *p)
{
    if (!p->is_file) {
        nvdimm_add_finding(p, &finding_not_a_file);
        return;
    }
    if (!p->share) {
        nvdimm_add_finding(p, &finding_private);
    }
    if (p->device_dax) {
        /* Device DAX has no page cache and no file system metadata. */
        return;
    }
    if (!p->dax) {
        nvdimm_add_finding(p, &finding_not_dax);
    }
    if (!p->pmem) {
        nvdimm_add_finding(p, &finding_no_pmem);
    } else if (p->share && !p->map_sync) {
        nvdimm_add_finding(p, &finding_no_map_sync);
    }
}

static void nvdimm_decide(NVDIMMPersistence *p)
{
    if (p->guest_read_only) {
        p->verdict = NVDIMM_PERSISTENCE_VERDICT_NOT_APPLICABLE;
        p->why = "the backend is read-only: the guest cannot write to the"
                 " NVDIMM";
        return;
    }
    if (p->unarmed) {
        p->verdict = NVDIMM_PERSISTENCE_VERDICT_NOT_APPLICABLE;
        p->why = "unarmed=on: the guest is told the NVDIMM cannot accept"
                 " persistent writes";
        return;
    }
    nvdimm_find_problems(p);
    if (p->nfindings) {
        p->verdict = NVDIMM_PERSISTENCE_VERDICT_NOT_GUARANTEED;
    } else if (p->device_dax) {
        p->verdict = NVDIMM_PERSISTENCE_VERDICT_GUARANTEED;
        p->why = "the backend is a device DAX: guest stores go straight to"
                 " host persistent memory";
    } else {
        p->verdict = NVDIMM_PERSISTENCE_VERDICT_GUARANTEED;
        p->why = "the backend file is on a DAX file system and mapped shared"
                 " with MAP_SYNC";
    }
}

static void nvdimm_evaluate(NVDIMMDevice *nvdimm, NVDIMMPersistence *p)
{
    memset(p, 0, sizeof(*p));
    nvdimm_gather_facts(nvdimm, p);
    nvdimm_decide(p);
}

/* The reasons joined into one sentence, with or without their fixes. */
static char *nvdimm_describe(const NVDIMMPersistence *p, bool with_fixes)
{
    GString *s = g_string_new(p->nfindings ? NULL : p->why);
    unsigned i;

    for (i = 0; i < p->nfindings; i++) {
        g_string_append_printf(s, "%s%s", i ? "; " : "",
                               p->findings[i]->reason);
        if (with_fixes) {
            g_string_append_printf(s, " (fix: %s)", p->findings[i]->fix);
        }
    }
    return g_string_free(s, false);
}

/* "nvdimm 'nv0' (memdev mem0)", or without the id if it has none */
static char *nvdimm_name(NVDIMMDevice *nvdimm)
{
    const char *id = DEVICE(nvdimm)->id;
    const char *memdev = object_get_canonical_path_component(
        OBJECT(nvdimm_backend(nvdimm)));

    if (id) {
        return g_strdup_printf("nvdimm '%s' (memdev %s)", id, memdev);
    }
    return g_strdup_printf("nvdimm (memdev %s)", memdev);
}

bool nvdimm_check_persistence(NVDIMMDevice *nvdimm, Error **errp)
{
    g_autofree char *reasons = NULL;
    g_autofree char *name = NULL;
    NVDIMMPersistence p;

    nvdimm_evaluate(nvdimm, &p);
    if (p.verdict != NVDIMM_PERSISTENCE_VERDICT_NOT_GUARANTEED) {
        return true;
    }
    reasons = nvdimm_describe(&p, true);
    name = nvdimm_name(nvdimm);
    error_setg(errp, "%s has " NVDIMM_REQUIRE_PERSISTENCE_PROP "=on, but"
               " guest writes to it would not survive a host crash: %s",
               name, reasons);
    error_append_hint(errp, "Alternatively, set unarmed=on so that the"
                      " guest does not expect persistence, or drop "
                      NVDIMM_REQUIRE_PERSISTENCE_PROP "=on.\n");
    return false;
}

static NvdimmBackendInfo *nvdimm_backend_info(NVDIMMDevice *nvdimm)
{
    Object *backend = OBJECT(nvdimm_backend(nvdimm));
    NvdimmBackendInfo *info = g_new0(NvdimmBackendInfo, 1);

    info->id = g_strdup(object_get_canonical_path_component(backend));
    info->type = g_strdup(object_get_typename(backend));
    info->share = object_property_get_bool(backend, "share", &error_abort);
    if (nvdimm_backend_is_file(MEMORY_BACKEND(backend))) {
        info->path = object_property_get_str(backend, "mem-path",
                                             &error_abort);
        info->has_pmem = true;
        info->pmem = object_property_get_bool(backend, "pmem", &error_abort);
        info->has_readonly = true;
        info->readonly = object_property_get_bool(backend, "readonly",
                                                  &error_abort);
        info->has_align = true;
        info->align = object_property_get_uint(backend, "align",
                                               &error_abort);
    }
    return info;
}

/* Where the NVDIMM sits, as the machine and the NFIT see it. */
static void nvdimm_fill_placement(NVDIMMDevice *nvdimm,
                                  NvdimmPersistenceInfo *info)
{
    Object *obj = OBJECT(nvdimm);
    DeviceState *dev = DEVICE(nvdimm);

    info->id = g_strdup(dev->id);
    info->slot = object_property_get_int(obj, PC_DIMM_SLOT_PROP,
                                         &error_abort);
    info->handle = nvdimm_slot_to_handle(info->slot);
    info->node = object_property_get_uint(obj, PC_DIMM_NODE_PROP,
                                          &error_abort);
    info->addr = object_property_get_uint(obj, PC_DIMM_ADDR_PROP,
                                          &error_abort);
    /* Not the DIMM's size: with flush-hints=on that has the hint area */
    info->size = memory_region_size(nvdimm->nvdimm_mr);
    info->label_size = object_property_get_uint(obj, NVDIMM_LABEL_SIZE_PROP,
                                                &error_abort);
}

static void nvdimm_fill_libpmem(NVDIMMDevice *nvdimm,
                                NvdimmPersistenceInfo *info)
{
#ifdef CONFIG_LIBPMEM
    MemoryRegion *mr = nvdimm_backend_mr(nvdimm);

    info->has_libpmem_pmem = true;
    info->libpmem_pmem = pmem_is_pmem(memory_region_get_ram_ptr(mr),
                                      memory_region_size(mr));
#endif
}

static NvdimmPersistenceInfo *nvdimm_persistence_info(NVDIMMDevice *nvdimm)
{
    NvdimmPersistenceInfo *info = g_new0(NvdimmPersistenceInfo, 1);
    NVDIMMPersistence p;

    nvdimm_evaluate(nvdimm, &p);
    nvdimm_fill_placement(nvdimm, info);
    info->unarmed = p.unarmed;
    info->backend = nvdimm_backend_info(nvdimm);
    info->map_sync = p.map_sync;
    info->dax = p.dax;
    nvdimm_fill_libpmem(nvdimm, info);
    info->verdict = p.verdict;
    info->reason = nvdimm_describe(&p, false);
    info->flush_hints = nvdimm->flush_hints;
    info->flushes = nvdimm_flush_count(nvdimm);
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

static void hmp_print_nvdimm_backend(Monitor *mon, NvdimmBackendInfo *b)
{
    monitor_printf(mon, "  memdev: %s (%s)\n", b->id, b->type);
    if (b->path) {
        monitor_printf(mon, "    path: %s\n", b->path);
    }
    monitor_printf(mon, "    share: %s\n", on_off(b->share));
    if (b->has_pmem) {
        monitor_printf(mon, "    pmem: %s\n", on_off(b->pmem));
    }
    if (b->has_readonly) {
        monitor_printf(mon, "    readonly: %s\n", on_off(b->readonly));
    }
    if (b->has_align) {
        monitor_printf(mon, "    align: 0x%" PRIx64 "\n", b->align);
    }
}

static void hmp_print_nvdimm(Monitor *mon, NvdimmPersistenceInfo *info)
{
    monitor_printf(mon, "nvdimm %s:\n", info->id ? info->id : "(no id)");
    monitor_printf(mon, "  slot: %" PRId64 "\n", info->slot);
    monitor_printf(mon, "  handle: 0x%" PRIx32 "\n", info->handle);
    monitor_printf(mon, "  node: %" PRIu32 "\n", info->node);
    monitor_printf(mon, "  addr: 0x%" PRIx64 "\n", info->addr);
    monitor_printf(mon, "  size: %" PRIu64 "\n", info->size);
    monitor_printf(mon, "  label-size: %" PRIu64 "\n", info->label_size);
    monitor_printf(mon, "  unarmed: %s\n", on_off(info->unarmed));
    hmp_print_nvdimm_backend(mon, info->backend);
    monitor_printf(mon, "  map-sync: %s\n", yes_no(info->map_sync));
    monitor_printf(mon, "  dax: %s\n", yes_no(info->dax));
    if (info->has_libpmem_pmem) {
        monitor_printf(mon, "  libpmem-pmem: %s\n",
                       yes_no(info->libpmem_pmem));
    }
    monitor_printf(mon, "  persistence: %s\n",
                   NvdimmPersistenceVerdict_str(info->verdict));
    monitor_printf(mon, "  reason: %s\n", info->reason);
    monitor_printf(mon, "  flush-hints: %s\n", on_off(info->flush_hints));
    if (info->flush_hints) {
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
