/*
 * Virtual NVDIMM: can guest writes survive a host crash?
 *
 * A guest that stores to an armed NVDIMM and flushes its CPU caches
 * believes the data is persistent.  On the host that holds only when the
 * backend is persistent memory mapped straight into QEMU: a device DAX,
 * or a file on a DAX file system mapped shared with MAP_SYNC.  Any other
 * backend is accepted for compatibility, so this file decides, from what
 * the host gave the backend, whether persistence is guaranteed, and
 * names every reason: for query-nvdimm-persistence, for "info nvdimm",
 * and for the device's require-persistence=on check.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/mem/nvdimm-persistence.h"
#include "system/hostmem.h"

/* A reason in words, and for one that keeps writes from persisting, a fix */
typedef struct NVDIMMReasonText {
    const char *text;
    const char *fix;
} NVDIMMReasonText;

static const NVDIMMReasonText nvdimm_reason_texts[] = {
    [NVDIMM_PERSISTENCE_REASON_NOT_A_FILE] = {
        "the backend is not a file: guest writes live only in host memory",
        "use memory-backend-file on a DAX file system or a device DAX",
    },
    [NVDIMM_PERSISTENCE_REASON_PRIVATE] = {
        "share=off: guest writes stay in a private copy and never reach the"
        " backend file",
        "set share=on on the memory backend",
    },
    [NVDIMM_PERSISTENCE_REASON_NOT_DAX] = {
        "the backend file is not on a DAX file system: guest writes live in"
        " the host page cache until written back",
        "put the backend file on a file system mounted with -o dax, or use a"
        " device DAX such as /dev/dax0.0",
    },
    [NVDIMM_PERSISTENCE_REASON_NO_PMEM] = {
        "pmem=off: QEMU did not ask the host kernel for MAP_SYNC",
        "set pmem=on on the memory backend",
    },
    [NVDIMM_PERSISTENCE_REASON_NO_MAP_SYNC] = {
        "MAP_SYNC was not obtained: the host kernel or file system does not"
        " support it",
        "use a host kernel (Linux 4.15 or later) and a file system that"
        " support MAP_SYNC on DAX files",
    },
    [NVDIMM_PERSISTENCE_REASON_READ_ONLY] = {
        "the backend is read-only: the guest cannot write to the NVDIMM",
    },
    [NVDIMM_PERSISTENCE_REASON_UNARMED] = {
        "unarmed=on: the guest is told the NVDIMM cannot accept persistent"
        " writes",
    },
    [NVDIMM_PERSISTENCE_REASON_DEVICE_DAX] = {
        "the backend is a device DAX: guest stores go straight to host"
        " persistent memory",
    },
    [NVDIMM_PERSISTENCE_REASON_DAX_FILE_MAP_SYNC] = {
        "the backend file is on a DAX file system and mapped shared with"
        " MAP_SYNC",
    },
};

QEMU_BUILD_BUG_ON(ARRAY_SIZE(nvdimm_reason_texts) !=
                  NVDIMM_PERSISTENCE_REASON__MAX);

const char *nvdimm_persistence_reason_text(NvdimmPersistenceReason reason)
{
    assert(reason < NVDIMM_PERSISTENCE_REASON__MAX);
    return nvdimm_reason_texts[reason].text;
}

const char *nvdimm_persistence_reason_fix(NvdimmPersistenceReason reason)
{
    assert(reason < NVDIMM_PERSISTENCE_REASON__MAX);
    return nvdimm_reason_texts[reason].fix;
}

static void nvdimm_add_reason(NVDIMMPersistence *p,
                              NvdimmPersistenceReason reason)
{
    assert(p->nreasons < NVDIMM_PERSISTENCE_MAX_REASONS);
    p->reasons[p->nreasons++] = reason;
}

/* Every condition that fails, so that one error message lists all fixes. */
static void nvdimm_find_problems(NVDIMMPersistence *p)
{
    const NVDIMMHostFacts *host = &p->host;

    if (!host->is_file) {
        nvdimm_add_reason(p, NVDIMM_PERSISTENCE_REASON_NOT_A_FILE);
        return;
    }
    if (!host->share) {
        nvdimm_add_reason(p, NVDIMM_PERSISTENCE_REASON_PRIVATE);
    }
    if (host->device_dax) {
        /* Device DAX has no page cache and no file system metadata. */
        return;
    }
    if (!host->dax) {
        nvdimm_add_reason(p, NVDIMM_PERSISTENCE_REASON_NOT_DAX);
    }
    if (!host->pmem) {
        nvdimm_add_reason(p, NVDIMM_PERSISTENCE_REASON_NO_PMEM);
    } else if (host->share && !host->map_sync) {
        nvdimm_add_reason(p, NVDIMM_PERSISTENCE_REASON_NO_MAP_SYNC);
    }
}

/* The guest was told not to expect persistence; say how, if so. */
static void nvdimm_find_exemptions(NVDIMMDevice *nvdimm, NVDIMMPersistence *p)
{
    MemoryRegion *mr = host_memory_backend_get_memory(p->backend);

    if (nvdimm->readonly || memory_region_is_rom(mr)) {
        nvdimm_add_reason(p, NVDIMM_PERSISTENCE_REASON_READ_ONLY);
    }
    if (object_property_get_bool(OBJECT(nvdimm), NVDIMM_UNARMED_PROP,
                                 &error_abort)) {
        nvdimm_add_reason(p, NVDIMM_PERSISTENCE_REASON_UNARMED);
    }
}

static void nvdimm_decide(NVDIMMDevice *nvdimm, NVDIMMPersistence *p)
{
    nvdimm_find_exemptions(nvdimm, p);
    if (p->nreasons) {
        p->verdict = NVDIMM_PERSISTENCE_VERDICT_NOT_APPLICABLE;
        return;
    }
    nvdimm_find_problems(p);
    if (p->nreasons) {
        p->verdict = NVDIMM_PERSISTENCE_VERDICT_NOT_GUARANTEED;
        return;
    }
    p->verdict = NVDIMM_PERSISTENCE_VERDICT_GUARANTEED;
    nvdimm_add_reason(p, p->host.device_dax ?
                      NVDIMM_PERSISTENCE_REASON_DEVICE_DAX :
                      NVDIMM_PERSISTENCE_REASON_DAX_FILE_MAP_SYNC);
}

void nvdimm_evaluate_persistence(NVDIMMDevice *nvdimm, NVDIMMPersistence *p)
{
    memset(p, 0, sizeof(*p));
    p->backend = nvdimm_backend(nvdimm);
    nvdimm_probe_host(p->backend, &p->host);
    nvdimm_decide(nvdimm, p);
}

/* The reasons and their fixes, joined into one sentence. */
static char *nvdimm_describe_problems(const NVDIMMPersistence *p)
{
    GString *s = g_string_new(NULL);
    unsigned i;

    for (i = 0; i < p->nreasons; i++) {
        g_string_append_printf(s, "%s%s (fix: %s)", i ? "; " : "",
                               nvdimm_persistence_reason_text(p->reasons[i]),
                               nvdimm_persistence_reason_fix(p->reasons[i]));
    }
    return g_string_free(s, false);
}

/* "nvdimm 'nv0' (memdev mem0)", or without the id if it has none */
static char *nvdimm_name(NVDIMMDevice *nvdimm)
{
    const char *id = DEVICE(nvdimm)->id;
    const char *memdev = nvdimm_memdev_id(nvdimm);

    if (id) {
        return g_strdup_printf("nvdimm '%s' (memdev %s)", id, memdev);
    }
    return g_strdup_printf("nvdimm (memdev %s)", memdev);
}

bool nvdimm_check_persistence(NVDIMMDevice *nvdimm, Error **errp)
{
    g_autofree char *problems = NULL;
    g_autofree char *name = NULL;
    NVDIMMPersistence p;

    nvdimm_evaluate_persistence(nvdimm, &p);
    if (p.verdict != NVDIMM_PERSISTENCE_VERDICT_NOT_GUARANTEED) {
        return true;
    }
    problems = nvdimm_describe_problems(&p);
    name = nvdimm_name(nvdimm);
    error_setg(errp, "%s has " NVDIMM_REQUIRE_PERSISTENCE_PROP "=on, but"
               " guest writes to it would not survive a host crash: %s",
               name, problems);
    error_append_hint(errp, "Alternatively, set unarmed=on so that the"
                      " guest does not expect persistence, or drop "
                      NVDIMM_REQUIRE_PERSISTENCE_PROP "=on.\n");
    return false;
}
