/*
 * Virtual NVDIMM device
 *
 * An NVDIMM is a pc-dimm whose backend holds two things: the persistent
 * memory the guest maps, and, when label-size is set, a namespace label
 * area in the last label-size bytes of the backend.  The guest reaches the
 * labels only through the _DSM mailbox (hw/acpi/nvdimm.c) or the PAPR
 * hcalls (hw/ppc/spapr_nvdimm.c), both of which go through the label hooks
 * of this class.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/pmem.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/mem/nvdimm.h"
#include "hw/mem/nvdimm-persistence.h"
#include "hw/mem/nvdimm-flush.h"
#include "hw/mem/nvdimm-errors.h"
#include "hw/mem/nvdimm-health.h"
#include "hw/mem/nvdimm-labels.h"
#include "hw/mem/memory-device.h"
#include "hw/boards.h"
#include "hw/qdev-properties.h"
#include "system/hostmem.h"
#include "trace.h"

/*
 * Where the label area and the PMEM region lie in the backend.  The guest
 * region is aligned down to the backend's alignment, so a label size that
 * is not a multiple of it leaves a small unused gap between the two; the
 * labels themselves always end where the backend ends, which is where
 * existing label areas on backend files are found.
 */
typedef struct NVDIMMLayout {
    uint64_t backend_size;
    uint64_t align;
    uint64_t pmem_size;
} NVDIMMLayout;

static HostMemoryBackend *nvdimm_backend(NVDIMMDevice *nvdimm)
{
    return PC_DIMM(nvdimm)->hostmem;
}

static const char *nvdimm_memdev_id(NVDIMMDevice *nvdimm)
{
    return object_get_canonical_path_component(OBJECT(nvdimm_backend(nvdimm)));
}

static bool nvdimm_compute_layout(NVDIMMDevice *nvdimm, MemoryRegion *mr,
                                  NVDIMMLayout *layout, Error **errp)
{
    layout->backend_size = memory_region_size(mr);
    layout->align = memory_region_get_alignment(mr);
    if (!layout->align) {
        layout->align = qemu_real_host_page_size();
    }

    /* Written so that a huge label-size cannot overflow. */
    if (nvdimm->label_size > layout->backend_size ||
        layout->backend_size - nvdimm->label_size < layout->align) {
        error_setg(errp, "the size of memdev %s (0x%" PRIx64 ") is too small"
                   " to contain nvdimm label (0x%" PRIx64 ") and aligned"
                   " PMEM (0x%" PRIx64 ")", nvdimm_memdev_id(nvdimm),
                   layout->backend_size, nvdimm->label_size, layout->align);
        return false;
    }

    layout->pmem_size = QEMU_ALIGN_DOWN(layout->backend_size -
                                        nvdimm->label_size, layout->align);

    /*
     * With labels, the gap before them is the price of the established
     * label position.  Without labels nothing explains it: the tail of
     * the backend would silently vanish from the guest, so refuse, as
     * pc-dimm does for the same backend.
     */
    if (!nvdimm->label_size && layout->pmem_size != layout->backend_size) {
        error_setg(errp, "the size of memdev %s (0x%" PRIx64 ") is not a"
                   " multiple of its alignment (0x%" PRIx64 "): its last"
                   " 0x%" PRIx64 " bytes would be hidden from the guest",
                   nvdimm_memdev_id(nvdimm), layout->backend_size,
                   layout->align, layout->backend_size - layout->pmem_size);
        return false;
    }
    return true;
}

/*
 * A read-only backend cannot take the guest's persistent writes, so the
 * guest must be told with the unarmed flag; refusing the configuration
 * instead of setting the flag silently keeps the command line honest.
 */
static bool nvdimm_check_readonly(NVDIMMDevice *nvdimm, MemoryRegion *mr,
                                  Error **errp)
{
    nvdimm->readonly = memory_region_is_rom(mr);
    if (nvdimm->readonly && !nvdimm->unarmed) {
        error_setg(errp, "'" NVDIMM_UNARMED_PROP "' property must be 'on'"
                   " since memdev %s is read-only", nvdimm_memdev_id(nvdimm));
        return false;
    }
    return true;
}

/*
 * Build the guest-visible region.  This runs the first time anybody asks
 * for the device's memory region, which is the machine's pre-plug handler,
 * before realize; the layout is fixed from then on.
 */
static bool nvdimm_prepare_memory_region(NVDIMMDevice *nvdimm, Error **errp)
{
    HostMemoryBackend *backend = nvdimm_backend(nvdimm);
    NVDIMMLayout layout;
    MemoryRegion *mr;
    uint8_t *host;

    if (nvdimm->nvdimm_mr) {
        return true;
    }
    if (!backend) {
        error_setg(errp, "'" PC_DIMM_MEMDEV_PROP "' property must be set");
        return false;
    }
    mr = host_memory_backend_get_memory(backend);
    if (!mr) {
        error_setg(errp, "memdev %s has no memory yet",
                   nvdimm_memdev_id(nvdimm));
        return false;
    }
    if (!nvdimm_compute_layout(nvdimm, mr, &layout, errp) ||
        !nvdimm_check_readonly(nvdimm, mr, errp)) {
        return false;
    }

    nvdimm->nvdimm_mr = g_new(MemoryRegion, 1);
    memory_region_init_alias(nvdimm->nvdimm_mr, OBJECT(nvdimm),
                             "nvdimm-memory", mr, 0, layout.pmem_size);
    /* The plug code places the region by this alignment. */
    nvdimm->nvdimm_mr->align = layout.align;

    if (nvdimm->label_size) {
        host = memory_region_get_ram_ptr(mr);
        nvdimm->label_data = host + layout.backend_size - nvdimm->label_size;
    }
    return true;
}

static MemoryRegion *nvdimm_md_get_memory_region(MemoryDeviceState *md,
                                                 Error **errp)
{
    NVDIMMDevice *nvdimm = NVDIMM(md);

    if (!nvdimm_prepare_memory_region(nvdimm, errp)) {
        return NULL;
    }
    /* With flush-hints=on: @nvdimm_mr, then the flush hint area. */
    if (nvdimm->flush_hints) {
        return nvdimm_flush_hints_region(nvdimm);
    }
    return nvdimm->nvdimm_mr;
}

/* The monitor commands name an NVDIMM by its device id */
NVDIMMDevice *nvdimm_find(const char *id, Error **errp)
{
    Object *obj = object_resolve_path_component(
        machine_get_container("peripheral"), id);

    if (!obj) {
        error_setg(errp, "no device '%s'", id);
        return NULL;
    }
    if (!object_dynamic_cast(obj, TYPE_NVDIMM) || !DEVICE(obj)->realized) {
        error_setg(errp, "device '%s' is not a realized NVDIMM", id);
        return NULL;
    }
    return NVDIMM(obj);
}

/* pc-dimm has checked the memdev; finish the layout, then the subclass */
static void nvdimm_realize(PCDIMMDevice *dimm, Error **errp)
{
    ERRP_GUARD();
    NVDIMMDevice *nvdimm = NVDIMM(dimm);
    NVDIMMClass *nvc = NVDIMM_GET_CLASS(nvdimm);

    if (!nvdimm_prepare_memory_region(nvdimm, errp) ||
        !nvdimm_check_label_area(nvdimm, errp)) {
        return;
    }
    if (nvdimm->require_persistence &&
        !nvdimm_check_persistence(nvdimm, errp)) {
        return;
    }
    if (nvdimm->flush_hints && !nvdimm_flush_hints_realize(nvdimm, errp)) {
        return;
    }
    if (!nvdimm_health_realize(nvdimm, errp)) {
        return;
    }
    if (nvc->realize) {
        nvc->realize(nvdimm, errp);
        if (*errp) {
            nvdimm_health_unrealize(nvdimm);
            return;
        }
    }
    nvdimm_errors_realize(nvdimm);
}

/* The region and label pointer stay until finalize; only the subclass acts */
static void nvdimm_unrealize(PCDIMMDevice *dimm)
{
    NVDIMMClass *nvc = NVDIMM_GET_CLASS(dimm);

    if (nvc->unrealize) {
        nvc->unrealize(NVDIMM(dimm));
    }
    nvdimm_flush_hints_unrealize(NVDIMM(dimm));
    nvdimm_errors_unrealize(NVDIMM(dimm));
    nvdimm_health_unrealize(NVDIMM(dimm));
}

/* Label hooks */

static bool nvdimm_label_range_ok(NVDIMMDevice *nvdimm, const char *what,
                                  uint64_t size, uint64_t offset)
{
    if (nvdimm->label_data && offset <= nvdimm->label_size &&
        size <= nvdimm->label_size - offset) {
        return true;
    }
    qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: %s of 0x%" PRIx64 " bytes at"
                  " offset 0x%" PRIx64 " is outside the label area"
                  " (0x%" PRIx64 " bytes)\n", what, size, offset,
                  nvdimm->label_size);
    return false;
}

static void nvdimm_read_label_data(NVDIMMDevice *nvdimm, void *buf,
                                   uint64_t size, uint64_t offset)
{
    trace_nvdimm_read_label_data(nvdimm_memdev_id(nvdimm), offset, size);
    if (!nvdimm_label_range_ok(nvdimm, "label read", size, offset)) {
        return;
    }
    memcpy(buf, (uint8_t *)nvdimm->label_data + offset, size);
}

/*
 * With pmem=on the user asked that QEMU's own writes to the backend be
 * durable before they are acknowledged.  On a real pmem mapping a cache
 * flush is enough; anywhere else the written pages go to the file.
 */
static void nvdimm_persist_label_write(NVDIMMDevice *nvdimm, void *dst,
                                       const void *buf, uint64_t size)
{
    HostMemoryBackend *backend = nvdimm_backend(nvdimm);

#ifdef CONFIG_LIBPMEM
    if (pmem_is_pmem(dst, size)) {
        pmem_memcpy_persist(dst, buf, size);
        return;
    }
#endif
    memcpy(dst, buf, size);
    if (qemu_msync(dst, size, memory_region_get_fd(&backend->mr))) {
        warn_report("nvdimm: memdev %s: cannot sync label write: %s",
                    nvdimm_memdev_id(nvdimm), strerror(errno));
    }
}

static void nvdimm_write_label_data(NVDIMMDevice *nvdimm, const void *buf,
                                    uint64_t size, uint64_t offset)
{
    HostMemoryBackend *backend = nvdimm_backend(nvdimm);
    MemoryRegion *mr = &backend->mr;
    uint8_t *dst;
    bool persist;

    trace_nvdimm_write_label_data(nvdimm_memdev_id(nvdimm), offset, size);
    if (!nvdimm_label_range_ok(nvdimm, "label write", size, offset)) {
        return;
    }
    if (nvdimm->readonly) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: label write to read-only"
                      " memdev %s refused\n", nvdimm_memdev_id(nvdimm));
        return;
    }

    dst = (uint8_t *)nvdimm->label_data + offset;
    persist = object_property_get_bool(OBJECT(backend), "pmem", NULL);
    if (persist) {
        nvdimm_persist_label_write(nvdimm, dst, buf, size);
    } else {
        memcpy(dst, buf, size);
    }

    /*
     * QEMU wrote behind the guest's back: tell dirty tracking, or a live
     * migration that already sent these pages would lose the write.
     */
    memory_region_set_dirty(mr, dst - (uint8_t *)memory_region_get_ram_ptr(mr),
                            size);
}

/* Properties */

/*
 * The layout is fixed by the first nvdimm_prepare_memory_region(); from
 * then on label-size and the region derived from it must stay as they are.
 */
static bool nvdimm_layout_fixed(NVDIMMDevice *nvdimm, Error **errp)
{
    if (nvdimm->nvdimm_mr) {
        error_setg(errp, "cannot change property value");
        return true;
    }
    return false;
}

/*
 * 0 means no label area.  Anything else must hold the two index blocks
 * and the minimum number of labels of the namespace label protocol.
 */
static bool nvdimm_label_size_valid(Object *obj, const char *name,
                                    uint64_t size, Error **errp)
{
    if (!size || size >= MIN_NAMESPACE_LABEL_SIZE) {
        return true;
    }
    error_setg(errp, "Property '%s.%s' (0x%" PRIx64 ") is required at least"
               " 0x%" PRIx64, object_get_typename(obj), name, size,
               (uint64_t)MIN_NAMESPACE_LABEL_SIZE);
    return false;
}

static void nvdimm_label_size_get(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    visit_type_size(v, name, &NVDIMM(obj)->label_size, errp);
}

static void nvdimm_label_size_set(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    uint64_t size;

    if (!nvdimm_layout_fixed(NVDIMM(obj), errp) &&
        visit_type_size(v, name, &size, errp) &&
        nvdimm_label_size_valid(obj, name, size, errp)) {
        NVDIMM(obj)->label_size = size;
    }
}

/*
 * region-align: the guest-physical alignment of the region's start.  0,
 * the default, leaves it to the backend's alignment, which is stock
 * QEMU's layout; a larger value lets each region start where Linux can
 * put fsdax and devdax namespaces (docs/nvdimm.txt, "Several NVDIMMs").
 */
static void nvdimm_region_align_get(Object *obj, Visitor *v,
                                    const char *name, void *opaque,
                                    Error **errp)
{
    visit_type_size(v, name, &NVDIMM(obj)->region_align, errp);
}

static void nvdimm_region_align_set(Object *obj, Visitor *v,
                                    const char *name, void *opaque,
                                    Error **errp)
{
    uint64_t align;

    if (nvdimm_layout_fixed(NVDIMM(obj), errp) ||
        !visit_type_size(v, name, &align, errp)) {
        return;
    }
    if (align && !is_power_of_2(align)) {
        error_setg(errp, "Property '%s.%s' (0x%" PRIx64 ") must be 0 or a"
                   " power of two", object_get_typename(obj), name, align);
        return;
    }
    NVDIMM(obj)->region_align = align;
}

/* The plug code takes the larger of this and the region's own alignment */
static uint64_t nvdimm_md_get_min_alignment(const MemoryDeviceState *md)
{
    return NVDIMM(md)->region_align;
}

static void nvdimm_uuid_get(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    g_autofree char *text = qemu_uuid_unparse_strdup(&NVDIMM(obj)->uuid);

    visit_type_str(v, name, &text, errp);
}

/* spapr reads the UUID when it builds the device tree: freeze it then */
static void nvdimm_uuid_set(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    g_autofree char *text = NULL;
    QemuUUID parsed;

    if (DEVICE(obj)->realized) {
        error_setg(errp, "cannot change property value: '%s' is fixed once"
                   " the device is realized", name);
    } else if (visit_type_str(v, name, &text, errp)) {
        if (qemu_uuid_parse(text, &parsed) == 0) {
            NVDIMM(obj)->uuid = parsed;
        } else {
            error_setg(errp, "Property '%s.%s' has invalid value",
                       object_get_typename(obj), name);
        }
    }
}

static const Property nvdimm_properties[] = {
    DEFINE_PROP_BOOL(NVDIMM_UNARMED_PROP, NVDIMMDevice, unarmed, false),
    DEFINE_PROP_BOOL(NVDIMM_REQUIRE_PERSISTENCE_PROP, NVDIMMDevice,
                     require_persistence, false),
    DEFINE_PROP_BOOL(NVDIMM_FLUSH_HINTS_PROP, NVDIMMDevice, flush_hints,
                     false),
    DEFINE_PROP_BOOL(NVDIMM_LABEL_OVERWRITE_PROP, NVDIMMDevice,
                     label_overwrite, false),
};

static void nvdimm_class_add_properties(ObjectClass *oc)
{
    object_class_property_add(oc, NVDIMM_LABEL_SIZE_PROP, "int",
                              nvdimm_label_size_get, nvdimm_label_size_set,
                              NULL, NULL);
    object_class_property_set_description(oc, NVDIMM_LABEL_SIZE_PROP,
        "Size of the namespace label area at the end of the backend"
        " (0: no labels, otherwise at least 128K)");
    object_class_property_add(oc, NVDIMM_UUID_PROP, "QemuUUID",
                              nvdimm_uuid_get, nvdimm_uuid_set, NULL, NULL);
    object_class_property_set_description(oc, NVDIMM_UUID_PROP,
        "UUID of the NVDIMM");
    object_class_property_add(oc, NVDIMM_REGION_ALIGN_PROP, "size",
                              nvdimm_region_align_get,
                              nvdimm_region_align_set, NULL, NULL);
    object_class_property_set_description(oc, NVDIMM_REGION_ALIGN_PROP,
        "Alignment of the region's guest-physical start (0: the backend's,"
        " as stock QEMU; 16M suits Linux fsdax/devdax namespaces)");
    device_class_set_props(DEVICE_CLASS(oc), nvdimm_properties);
}

static void nvdimm_instance_finalize(Object *obj)
{
    NVDIMMDevice *nvdimm = NVDIMM(obj);

    /* The region itself went away with the device's child properties. */
    g_free(nvdimm->nvdimm_mr);
    nvdimm_flush_hints_finalize(nvdimm);
}

static void nvdimm_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCDIMMDeviceClass *ddc = PC_DIMM_CLASS(oc);
    MemoryDeviceClass *mdc = MEMORY_DEVICE_CLASS(oc);
    NVDIMMClass *nvc = NVDIMM_CLASS(oc);

    dc->desc = "NVDIMM persistent memory module";
    ddc->realize = nvdimm_realize;
    ddc->unrealize = nvdimm_unrealize;
    mdc->get_memory_region = nvdimm_md_get_memory_region;
    mdc->get_min_alignment = nvdimm_md_get_min_alignment;
    nvc->read_label_data = nvdimm_read_label_data;
    nvc->write_label_data = nvdimm_write_label_data;
    nvdimm_class_add_properties(oc);
}

static const TypeInfo nvdimm_types[] = {
    {
        .name = TYPE_NVDIMM,
        .parent = TYPE_PC_DIMM,
        .class_init = nvdimm_class_init,
        .class_size = sizeof(NVDIMMClass),
        .instance_size = sizeof(NVDIMMDevice),
        .instance_finalize = nvdimm_instance_finalize,
    },
};

DEFINE_TYPES(nvdimm_types)
