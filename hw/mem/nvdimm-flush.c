/*
 * Virtual NVDIMM: flush hints
 *
 * With flush-hints=on the NFIT gives each NVDIMM a Flush Hint Address
 * Structure (ACPI 6.x, 5.2.25.7) pointing at a page of MMIO that follows
 * the NVDIMM's persistent memory.  A guest writes there to make its
 * earlier stores durable (Linux: nvdimm_flush() on REQ_PREFLUSH/FUA and on
 * writes to the region's deep_flush attribute).  QEMU answers by syncing
 * the backend file to the host disk before the guest's write completes,
 * so a guest fsync means the data is on disk even on an ordinary file.
 *
 * The vCPU that wrote the hint syncs the file itself, with the BQL
 * released, so the main loop and the other vCPUs carry on.  Requests that
 * arrive while a sync runs share the next one: a sync serves every request
 * that arrived before it started.  A vCPU stops only between
 * instructions, so once the VM is stopped (for a migration, say) no flush
 * is half done: every hint write either completed with the data on disk
 * or has not started.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/stats64.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "exec/memory.h"
#include "hw/core/cpu.h"
#include "migration/vmstate.h"
#include "system/hostmem.h"
#include "system/runstate.h"
#include "hw/mem/nvdimm-flush.h"
#include "trace.h"

/* What Linux maps per hint address: one (guest) page. */
#define NVDIMM_FLUSH_HINT_AREA_SIZE 4096

struct NVDIMMFlushHints {
    MemoryRegion container;     /* [nvdimm_mr][hint area, padding] */
    MemoryRegion hint_area;     /* MMIO: any write is a flush request */
    uint64_t hint_offset;       /* of the hint area in @container */

    int fd;                     /* the backend's file, or -1 */
    char *memdev_id;            /* for messages: no QOM walk off the BQL */
    Stat64 flushes;             /* requests: a statistic, not migrated */

    /*
     * Syncs: @started of them began, @finished ended, the last with
     * @last_ret; @syncing while one runs.  Under @lock.
     */
    QemuMutex lock;
    QemuCond finished_cond;
    uint64_t started;
    uint64_t finished;
    int last_ret;
    bool syncing;

    /* Migration */
    uint32_t migrated_hints;    /* NVDIMM_FLUSH_HINT_COUNT of the source */
    bool incoming;              /* realized to receive a migration */
    bool section_loaded;        /* ... and the source sent our section */
    VMChangeStateEntry *vm_change;
};

/* Make the guest's earlier stores durable on the host: 0 or -errno. */
static int nvdimm_flush_backend(NVDIMMFlushHints *flush)
{
    int64_t start = get_clock();
    int ret = 0;

    if (flush->fd >= 0 && qemu_fdatasync(flush->fd) < 0) {
        ret = -errno;
    }
    trace_nvdimm_flush_sync(flush->memdev_id, ret, get_clock() - start);
    return ret;
}

/*
 * One sync that starts after this call does serves it.  A sync already
 * under way may have missed the caller's stores, so the caller waits for
 * the next one, which the first waiter to find none running starts.
 */
static int nvdimm_flush_coalesced(NVDIMMFlushHints *flush)
{
    uint64_t needed;
    int ret;

    qemu_mutex_lock(&flush->lock);
    needed = flush->started + 1;
    while (flush->finished < needed) {
        if (flush->syncing) {
            qemu_cond_wait(&flush->finished_cond, &flush->lock);
            continue;
        }
        flush->syncing = true;
        flush->started++;
        qemu_mutex_unlock(&flush->lock);
        ret = nvdimm_flush_backend(flush);
        qemu_mutex_lock(&flush->lock);
        flush->syncing = false;
        flush->finished = flush->started;
        flush->last_ret = ret;
        qemu_cond_broadcast(&flush->finished_cond);
    }
    ret = flush->last_ret;
    qemu_mutex_unlock(&flush->lock);
    return ret;
}

/*
 * MMIO is dispatched with the BQL held; a vCPU lets go of it for the
 * sync, as the remote PCI proxy does while it waits for its replies
 * (hw/remote/mpqemu-link.c).  Writes from the main loop (qtest) have no
 * vCPU to hold and keep it.
 */
static int nvdimm_flush_without_bql(NVDIMMFlushHints *flush)
{
    bool drop_bql = current_cpu && bql_locked();
    int ret;

    if (drop_bql) {
        bql_unlock();
    }
    ret = nvdimm_flush_coalesced(flush);
    if (drop_bql) {
        bql_lock();
    }
    return ret;
}

static void nvdimm_flush_hint_write(void *opaque, hwaddr addr,
                                    uint64_t value, unsigned size)
{
    NVDIMMDevice *nvdimm = opaque;
    NVDIMMFlushHints *flush = nvdimm->flush;
    int64_t start = get_clock();
    int ret;

    ret = nvdimm_flush_without_bql(flush);
    stat64_add(&flush->flushes, 1);
    trace_nvdimm_flush_hint(flush->memdev_id, addr, ret, get_clock() - start);
    if (ret < 0) {
        /* The host's problem, not the guest's; it cannot be told. */
        warn_report_once("nvdimm: memdev %s: flush to the backend file"
                         " failed: %s", flush->memdev_id, strerror(-ret));
    }
}

/* The hint area holds nothing to read; Linux only writes it. */
static uint64_t nvdimm_flush_hint_read(void *opaque, hwaddr addr,
                                       unsigned size)
{
    return 0;
}

static const MemoryRegionOps nvdimm_flush_hint_ops = {
    .read = nvdimm_flush_hint_read,
    .write = nvdimm_flush_hint_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
    /* One guest write, one flush: Linux writes the hint with writeq. */
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
};

MemoryRegion *nvdimm_flush_hints_region(NVDIMMDevice *nvdimm)
{
    NVDIMMFlushHints *flush = nvdimm->flush;
    uint64_t pmem_size = memory_region_size(nvdimm->nvdimm_mr);
    uint64_t align = memory_region_get_alignment(nvdimm->nvdimm_mr);
    /* A multiple of @align, as the plug code requires of the whole. */
    uint64_t tail = MAX(align, NVDIMM_FLUSH_HINT_AREA_SIZE);

    if (flush) {
        return &flush->container;
    }
    flush = g_new0(NVDIMMFlushHints, 1);
    flush->fd = -1;
    flush->hint_offset = pmem_size;
    memory_region_init(&flush->container, OBJECT(nvdimm),
                       "nvdimm-with-flush-hint", pmem_size + tail);
    memory_region_add_subregion(&flush->container, 0, nvdimm->nvdimm_mr);
    memory_region_init_io(&flush->hint_area, OBJECT(nvdimm),
                          &nvdimm_flush_hint_ops, nvdimm, "nvdimm-flush-hint",
                          NVDIMM_FLUSH_HINT_AREA_SIZE);
    /*
     * The guard lets one access at a time into the device's I/O regions
     * and drops the others.  A vCPU syncs here with the BQL released, so
     * without this the hint writes of other vCPUs, and their accesses to
     * the device's poison overlays, would be lost for the whole sync.
     * The write handler touches no guest memory, so it cannot re-enter.
     */
    flush->hint_area.disable_reentrancy_guard = true;
    memory_region_add_subregion(&flush->container, pmem_size,
                                &flush->hint_area);
    flush->container.align = align;
    nvdimm->flush = flush;
    return &flush->container;
}

bool nvdimm_flush_hint_offset(NVDIMMDevice *nvdimm, uint64_t *offset)
{
    if (!nvdimm->flush) {
        return false;
    }
    *offset = nvdimm->flush->hint_offset;
    return true;
}

uint64_t nvdimm_flush_count(NVDIMMDevice *nvdimm)
{
    return nvdimm->flush ? stat64_get(&nvdimm->flush->flushes) : 0;
}

/* Migration */

static int nvdimm_flush_state_pre_save(void *opaque)
{
    NVDIMMFlushHints *flush = opaque;

    flush->migrated_hints = NVDIMM_FLUSH_HINT_COUNT;
    return 0;
}

/*
 * The source synced its backend for every flush it acknowledged; the
 * guest's data now lives in our backend, which may be another file, so
 * sync it once before the guest runs again.
 */
static int nvdimm_flush_state_post_load(void *opaque, int version_id)
{
    NVDIMMFlushHints *flush = opaque;

    if (flush->migrated_hints != NVDIMM_FLUSH_HINT_COUNT) {
        error_report("nvdimm: the migration source has %" PRIu32
                     " flush hints per NVDIMM, this QEMU %d",
                     flush->migrated_hints, NVDIMM_FLUSH_HINT_COUNT);
        return -EINVAL;
    }
    if (flush->fd >= 0 && qemu_fdatasync(flush->fd) < 0) {
        warn_report("nvdimm: cannot sync the migrated backend: %s",
                    strerror(errno));
    }
    flush->section_loaded = true;
    return 0;
}

/* Not a subsection's name prefix: the loader looks those up in it. */
static const VMStateDescription vmstate_flush_hints_state = {
    .name = "nvdimm-flush-hints",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = nvdimm_flush_state_pre_save,
    .post_load = nvdimm_flush_state_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(migrated_hints, NVDIMMFlushHints),
        VMSTATE_END_OF_LIST()
    },
};

static bool nvdimm_flush_hints_needed(void *opaque)
{
    return NVDIMM(opaque)->flush_hints;
}

/* The guest of the source knows a hint that this NVDIMM does not have. */
static int nvdimm_flush_hints_pre_load(void *opaque)
{
    NVDIMMDevice *nvdimm = opaque;

    if (!nvdimm->flush_hints) {
        error_report("nvdimm: memdev %s has " NVDIMM_FLUSH_HINTS_PROP "=off,"
                     " but the migration source had " NVDIMM_FLUSH_HINTS_PROP
                     "=on", nvdimm_memdev_id(nvdimm));
        return -EINVAL;
    }
    return 0;
}

const VMStateDescription vmstate_nvdimm_flush_hints = {
    .name = "nvdimm/flush-hints",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = nvdimm_flush_hints_needed,
    .pre_load = nvdimm_flush_hints_pre_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_POINTER(flush, NVDIMMDevice, vmstate_flush_hints_state,
                               NVDIMMFlushHints),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * The other disagreement: we have flush-hints=on but the source had not,
 * so its guest knows no hint and may sit at other addresses than ours.
 * Nothing in the load path runs for a section that never came; the
 * first chance is here, before the vCPUs run: refuse to run the guest.
 */
static void nvdimm_flush_vm_change(void *opaque, bool running, RunState state)
{
    NVDIMMDevice *nvdimm = opaque;
    NVDIMMFlushHints *flush = nvdimm->flush;

    if (!running || !flush->incoming) {
        return;
    }
    flush->incoming = false;
    if (!flush->section_loaded) {
        error_report("nvdimm: memdev %s has " NVDIMM_FLUSH_HINTS_PROP "=on,"
                     " but the migration source did not: the guest is"
                     " stopped", flush->memdev_id);
        qemu_system_vmstop_request_prepare();
        qemu_system_vmstop_request(RUN_STATE_INTERNAL_ERROR);
    }
}

bool nvdimm_flush_hints_realize(NVDIMMDevice *nvdimm, Error **errp)
{
    MemoryRegion *ram = host_memory_backend_get_memory(nvdimm_backend(nvdimm));
    NVDIMMFlushHints *flush;

    if (!NVDIMM_GET_CLASS(nvdimm)->offers_flush_hints) {
        error_setg(errp, "'" NVDIMM_FLUSH_HINTS_PROP "' is not supported"
                   " by %s", object_get_typename(OBJECT(nvdimm)));
        return false;
    }
    /* Built at pre-plug, unless the machine has no hotplug handler */
    nvdimm_flush_hints_region(nvdimm);
    flush = nvdimm->flush;
    flush->fd = memory_region_get_fd(ram);
    flush->memdev_id = g_strdup(nvdimm_memdev_id(nvdimm));
    qemu_mutex_init(&flush->lock);
    qemu_cond_init(&flush->finished_cond);
    flush->incoming = runstate_check(RUN_STATE_INMIGRATE);
    flush->vm_change = qemu_add_vm_change_state_handler(
        nvdimm_flush_vm_change, nvdimm);
    return true;
}

void nvdimm_flush_hints_unrealize(NVDIMMDevice *nvdimm)
{
    NVDIMMFlushHints *flush = nvdimm->flush;

    if (!flush || !flush->vm_change) {
        return;
    }
    qemu_del_vm_change_state_handler(flush->vm_change);
    flush->vm_change = NULL;
    /*
     * NVDIMM hot-unplug is refused, so this only undoes a realize or a
     * hotplug that failed later on: no vCPU can be in a flush.
     */
    qemu_cond_destroy(&flush->finished_cond);
    qemu_mutex_destroy(&flush->lock);
    g_clear_pointer(&flush->memdev_id, g_free);
}

void nvdimm_flush_hints_finalize(NVDIMMDevice *nvdimm)
{
    /* The regions themselves went away with the device's children. */
    g_clear_pointer(&nvdimm->flush, g_free);
}
