/*
 * Virtual NVDIMM: loads from poisoned ranges fail, as on hardware
 *
 * With -machine nvdimm-media-errors=on, each run of pages that holds
 * poisoned ranges (nvdimm-errors.c) is overlaid on the NVDIMM's RAM by an
 * I/O region over the same RAM.  A load that meets a poisoned byte fails
 * with MEMTX_POISON, on which an x86 CPU under TCG raises a machine check
 * before the load completes (target/i386); every other access, and every
 * store, goes to the RAM as before.  Only TCG (and qtest) get overlays:
 * under KVM an overlay would make the access an MMIO exit, which cannot
 * fail, at the cost of memslots.
 *
 * Overlays follow the list of runs in one memory transaction per change,
 * those that still match staying, and there are at most
 * NVDIMM_POISON_MAX_OVERLAYS of them, so that a device with many errors
 * costs a bounded memory map.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "exec/memory.h"
#include "hw/boards.h"
#include "hw/mem/nvdimm-errors.h"
#include "hw/mem/nvdimm-poison.h"
#include "system/hostmem.h"
#include "system/qtest.h"
#include "system/tcg.h"
#include "trace.h"

/* Overlays cover whole 4 KiB pages, the smallest any target maps. */
#define POISON_PAGE_SIZE (4 * KiB)

/*
 * An overlay, a child of its NVDIMM, owns its region: a memory map that
 * still holds the region after the overlay is removed holds the overlay,
 * and through it the NVDIMM and the RAM it reads and writes.
 */
#define TYPE_NVDIMM_POISON_OVERLAY "nvdimm-poison-overlay"
OBJECT_DECLARE_SIMPLE_TYPE(PoisonOverlay, NVDIMM_POISON_OVERLAY)

struct PoisonOverlay {
    Object parent_obj;
    MemoryRegion mr;
    NVDIMMDevice *nvdimm;
    MemoryRegion *ram;
    uint64_t offset;            /* into the NVDIMM's region */
    uint64_t length;
};

struct NVDIMMPoison {
    GPtrArray *overlays;        /* PoisonOverlay, by offset */
};

/* A run of pages to overlay */
typedef struct PoisonRun {
    uint64_t offset;
    uint64_t length;
} PoisonRun;

static MemoryRegion *nvdimm_ram(NVDIMMDevice *nvdimm)
{
    return host_memory_backend_get_memory(nvdimm_backend(nvdimm));
}

static uint8_t *overlay_host(PoisonOverlay *ov, hwaddr addr)
{
    return (uint8_t *)memory_region_get_ram_ptr(ov->ram) + ov->offset + addr;
}

static MemTxResult poison_read(void *opaque, hwaddr addr, uint64_t *data,
                               unsigned size, MemTxAttrs attrs)
{
    PoisonOverlay *ov = opaque;

    *data = ldn_le_p(overlay_host(ov, addr), size);
    if (nvdimm_errors_meet(ov->nvdimm, ov->offset + addr, size)) {
        trace_nvdimm_poison_load(ov->offset + addr, size);
        return MEMTX_POISON;
    }
    return MEMTX_OK;
}

static MemTxResult poison_write(void *opaque, hwaddr addr, uint64_t data,
                                unsigned size, MemTxAttrs attrs)
{
    PoisonOverlay *ov = opaque;

    stn_le_p(overlay_host(ov, addr), size, data);
    /* Migration and the display see RAM writes in the dirty bitmap */
    memory_region_set_dirty(ov->ram, ov->offset + addr, size);
    return MEMTX_OK;
}

static const MemoryRegionOps poison_ops = {
    .read_with_attrs = poison_read,
    .write_with_attrs = poison_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

static bool add_run(NVDIMMDevice *nvdimm, const NVDIMMErrorRange *range,
                    void *opaque)
{
    GArray *runs = opaque;
    uint64_t start = QEMU_ALIGN_DOWN(range->offset, POISON_PAGE_SIZE);
    uint64_t end = QEMU_ALIGN_UP(range->offset + range->length,
                                 POISON_PAGE_SIZE);
    PoisonRun *last = runs->len ?
        &g_array_index(runs, PoisonRun, runs->len - 1) : NULL;

    /* The region's size is a multiple of the page, so end stays inside */
    if (last && start <= last->offset + last->length) {
        last->length = MAX(last->offset + last->length, end) - last->offset;
    } else if (runs->len == NVDIMM_POISON_MAX_OVERLAYS) {
        /* The last overlay takes the rest: poisoned_runs() sizes it */
        return false;
    } else {
        PoisonRun run = { start, end - start };

        g_array_append_val(runs, run);
    }
    return true;
}

static bool overlays_wanted(void)
{
    MachineState *ms = MACHINE(qdev_get_machine());

    return (tcg_enabled() || qtest_enabled()) && ms->nvdimms_state &&
           ms->nvdimms_state->media_errors;
}

/*
 * The runs of pages that hold poisoned ranges, as overlays should be: a
 * walk of the first runs only, so that an injection costs the same with
 * 10 or 10,000 errors.
 */
static GArray *poisoned_runs(NVDIMMDevice *nvdimm)
{
    GArray *runs = g_array_new(false, false, sizeof(PoisonRun));
    PoisonRun *last;

    if (overlays_wanted() && nvdimm->nvdimm_mr) {
        nvdimm_errors_foreach(nvdimm, 0, memory_region_size(nvdimm->nvdimm_mr),
                              add_run, runs);
    }
    if (runs->len == NVDIMM_POISON_MAX_OVERLAYS) {
        last = &g_array_index(runs, PoisonRun, runs->len - 1);
        last->length = QEMU_ALIGN_UP(nvdimm_errors_end(nvdimm),
                                     POISON_PAGE_SIZE) - last->offset;
    }
    return runs;
}

static PoisonOverlay *overlay_new(NVDIMMDevice *nvdimm, const PoisonRun *run)
{
    PoisonOverlay *ov = NVDIMM_POISON_OVERLAY(
        object_new(TYPE_NVDIMM_POISON_OVERLAY));

    ov->nvdimm = nvdimm;
    object_ref(OBJECT(nvdimm));
    ov->ram = nvdimm_ram(nvdimm);
    memory_region_ref(ov->ram);
    ov->offset = run->offset;
    ov->length = run->length;
    memory_region_init_io(&ov->mr, OBJECT(ov), &poison_ops, ov,
                          "nvdimm-poison", run->length);
    object_property_add_child(OBJECT(nvdimm), "poison-overlay[*]", OBJECT(ov));
    object_unref(OBJECT(ov));
    return ov;
}

static void overlay_finalize(Object *obj)
{
    PoisonOverlay *ov = NVDIMM_POISON_OVERLAY(obj);

    memory_region_unref(ov->ram);
    object_unref(OBJECT(ov->nvdimm));
}

/* After the commit: its memory listeners still see the NVDIMM as parent */
static void unparent_overlays(GPtrArray *overlays)
{
    guint i;

    for (i = 0; i < overlays->len; i++) {
        object_unparent(OBJECT(g_ptr_array_index(overlays, i)));
    }
}

static bool overlay_is_run(PoisonOverlay *ov, PoisonRun *run)
{
    return ov->offset == run->offset && ov->length == run->length;
}

/*
 * Make @overlays match @runs, both by offset, keeping the overlays that
 * already do: an injection changes a run or two.  The overlays taken out
 * go to @retired.
 */
static void sync_overlays(NVDIMMDevice *nvdimm, GPtrArray *overlays,
                          GArray *runs, GPtrArray *retired)
{
    g_autoptr(GPtrArray) kept = g_ptr_array_new();
    guint i = 0, j = 0;

    while (i < overlays->len || j < runs->len) {
        PoisonOverlay *ov = i < overlays->len ?
                            g_ptr_array_index(overlays, i) : NULL;
        PoisonRun *run = j < runs->len ?
                         &g_array_index(runs, PoisonRun, j) : NULL;

        if (ov && run && overlay_is_run(ov, run)) {
            g_ptr_array_add(kept, ov);
            i++;
            j++;
        } else if (ov && (!run || ov->offset <= run->offset)) {
            memory_region_del_subregion(ov->ram, &ov->mr);
            g_ptr_array_add(retired, ov);
            i++;
        } else {
            ov = overlay_new(nvdimm, run);
            memory_region_add_subregion_overlap(ov->ram, ov->offset,
                                                &ov->mr, 1);
            g_ptr_array_add(kept, ov);
            j++;
        }
    }
    g_ptr_array_set_size(overlays, 0);
    g_ptr_array_extend(overlays, kept, NULL, NULL);
}

/* Make the overlays match @runs, in one memory transaction */
static void apply_runs(NVDIMMDevice *nvdimm, GArray *runs)
{
    g_autoptr(GPtrArray) retired = g_ptr_array_new();

    memory_region_transaction_begin();
    sync_overlays(nvdimm, nvdimm->poison->overlays, runs, retired);
    memory_region_transaction_commit();
    unparent_overlays(retired);
    trace_nvdimm_poison_overlays(runs->len);
}

void nvdimm_poison_update(NVDIMMDevice *nvdimm)
{
    g_autoptr(GArray) runs = poisoned_runs(nvdimm);

    if (!nvdimm->poison) {
        if (!runs->len) {
            return;
        }
        nvdimm->poison = g_new0(NVDIMMPoison, 1);
        nvdimm->poison->overlays = g_ptr_array_new();
    }
    apply_runs(nvdimm, runs);
}

unsigned nvdimm_poison_memslots(NVDIMMDevice *nvdimm)
{
    return overlays_wanted() ? NVDIMM_POISON_MAX_OVERLAYS + 1 : 1;
}

void nvdimm_poison_unrealize(NVDIMMDevice *nvdimm)
{
    g_autoptr(GArray) none = g_array_new(false, false, sizeof(PoisonRun));

    if (!nvdimm->poison) {
        return;
    }
    apply_runs(nvdimm, none);
    g_ptr_array_free(nvdimm->poison->overlays, true);
    g_free(nvdimm->poison);
    nvdimm->poison = NULL;
}

static const TypeInfo poison_overlay_info = {
    .name = TYPE_NVDIMM_POISON_OVERLAY,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(PoisonOverlay),
    .instance_finalize = overlay_finalize,
};

static void poison_overlay_register_types(void)
{
    type_register_static(&poison_overlay_info);
}

type_init(poison_overlay_register_types)
