/*
 * Virtual NVDIMM: media errors (poisoned ranges) of one device
 *
 * Each NVDIMM keeps its poisoned ranges sorted and disjoint, as offsets
 * into the region the guest sees.  The host adds and clears them over
 * QMP (nvdimm-inject-error, nvdimm-clear-error); with -machine
 * nvdimm-media-errors=on the guest finds them with Address Range Scrub
 * and clears them through the root device's _DSM (hw/acpi/nvdimm-ars.c).
 * They are VM state: they migrate, in a section sent only when a device
 * has any, and a QEMU restart starts without them.  Loads from them fail
 * (nvdimm-poison.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "hw/acpi/acpi_dev_interface.h"
#include "hw/boards.h"
#include "hw/mem/nvdimm-errors.h"
#include "hw/mem/nvdimm-poison.h"
#include "qapi/qapi-commands-nvdimm.h"
#include "qemu/nvdimm-utils.h"
#include "migration/qemu-file-types.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qobject/qdict.h"
#include "migration/vmstate.h"
#include "trace.h"

typedef struct NVDIMMMediaErrors {
    NVDIMMDevice *owner;
    GArray *ranges;             /* NVDIMMErrorRange, sorted, disjoint */
} NVDIMMMediaErrors;

static uint64_t nvdimm_region_size(NVDIMMDevice *nvdimm)
{
    return nvdimm->nvdimm_mr ? memory_region_size(nvdimm->nvdimm_mr) : 0;
}

static NVDIMMErrorRange *range_at(GArray *ranges, guint i)
{
    return &g_array_index(ranges, NVDIMMErrorRange, i);
}

static uint64_t range_end(const NVDIMMErrorRange *r)
{
    return r->offset + r->length;
}

/* The index of the first range that ends after @offset */
static guint first_ending_after(GArray *ranges, uint64_t offset)
{
    guint lo = 0, hi = ranges->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;

        if (range_end(range_at(ranges, mid)) <= offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

bool nvdimm_errors_range_valid(NVDIMMDevice *nvdimm, uint64_t offset,
                               uint64_t length)
{
    uint64_t size = nvdimm_region_size(nvdimm);

    return length && offset < size && length <= size - offset;
}

bool nvdimm_errors_add(NVDIMMDevice *nvdimm, uint64_t offset,
                       uint64_t length, Error **errp)
{
    GArray *ranges = nvdimm->errors->ranges;
    NVDIMMErrorRange merged = { offset, length };
    guint first, last;

    if (!nvdimm_errors_range_valid(nvdimm, offset, length)) {
        error_setg(errp, "range 0x%" PRIx64 "+0x%" PRIx64 " is not inside"
                   " the NVDIMM (0x%" PRIx64 " bytes)", offset, length,
                   nvdimm_region_size(nvdimm));
        return false;
    }
    /* Ranges that touch the new one (end == offset included) merge */
    first = offset ? first_ending_after(ranges, offset - 1) : 0;
    for (last = first; last < ranges->len; last++) {
        NVDIMMErrorRange *r = range_at(ranges, last);

        if (r->offset > range_end(&merged)) {
            break;
        }
        merged.length = MAX(range_end(r), range_end(&merged)) -
                        MIN(r->offset, merged.offset);
        merged.offset = MIN(r->offset, merged.offset);
    }
    if (first == last && ranges->len >= NVDIMM_MAX_ERROR_RANGES) {
        error_setg(errp, "the NVDIMM already has %d poisoned ranges, the"
                   " most it keeps", NVDIMM_MAX_ERROR_RANGES);
        return false;
    }
    g_array_remove_range(ranges, first, last - first);
    g_array_insert_val(ranges, first, merged);
    trace_nvdimm_errors_add(offset, length, ranges->len);
    nvdimm_poison_update(nvdimm);
    return true;
}

uint64_t nvdimm_errors_clear(NVDIMMDevice *nvdimm, uint64_t offset,
                             uint64_t length)
{
    GArray *ranges = nvdimm->errors->ranges;
    uint64_t end = offset + length, cleared = 0;
    guint i = first_ending_after(ranges, offset);

    while (i < ranges->len && range_at(ranges, i)->offset < end) {
        NVDIMMErrorRange r = *range_at(ranges, i);
        NVDIMMErrorRange tail = { end, range_end(&r) - end };

        cleared += MIN(range_end(&r), end) - MAX(r.offset, offset);
        g_array_remove_index(ranges, i);
        if (r.offset < offset) {
            NVDIMMErrorRange head = { r.offset, offset - r.offset };

            g_array_insert_val(ranges, i++, head);
        }
        if (range_end(&r) > end) {
            g_array_insert_val(ranges, i++, tail);
        }
    }
    trace_nvdimm_errors_clear(offset, length, cleared, ranges->len);
    if (cleared) {
        nvdimm_poison_update(nvdimm);
    }
    return cleared;
}

uint64_t nvdimm_errors_end(NVDIMMDevice *nvdimm)
{
    GArray *ranges = nvdimm->errors->ranges;

    return ranges->len ? range_end(range_at(ranges, ranges->len - 1)) : 0;
}

bool nvdimm_errors_meet(NVDIMMDevice *nvdimm, uint64_t offset,
                        uint64_t length)
{
    GArray *ranges = nvdimm->errors->ranges;
    guint i = first_ending_after(ranges, offset);

    return i < ranges->len && range_at(ranges, i)->offset < offset + length;
}

void nvdimm_errors_foreach(NVDIMMDevice *nvdimm, uint64_t offset,
                           uint64_t length, NVDIMMErrorFn fn, void *opaque)
{
    GArray *ranges = nvdimm->errors->ranges;
    uint64_t end = offset + length;
    guint i;

    for (i = first_ending_after(ranges, offset);
         i < ranges->len && range_at(ranges, i)->offset < end; i++) {
        const NVDIMMErrorRange *r = range_at(ranges, i);
        NVDIMMErrorRange clipped = {
            .offset = MAX(r->offset, offset),
            .length = MIN(range_end(r), end) - MAX(r->offset, offset),
        };

        if (!fn(nvdimm, &clipped, opaque)) {
            return;
        }
    }
}

unsigned nvdimm_errors_count(NVDIMMDevice *nvdimm)
{
    return nvdimm->errors ? nvdimm->errors->ranges->len : 0;
}

/*
 * The guest learns of new errors from a root device Notify(0x81), which
 * only AML can raise: the NVDIMM hotplug event makes the guest evaluate
 * _FIT, whose AML takes the pending event from QEMU and notifies.
 */
void nvdimm_errors_notify_guest(NVDIMMState *state)
{
    Object *acpi = object_resolve_type_unambiguous(TYPE_ACPI_DEVICE_IF,
                                                   NULL);

    state->media_error_event = true;
    trace_nvdimm_errors_notify(!!acpi);
    if (acpi) {
        acpi_send_event(DEVICE(acpi), ACPI_NVDIMM_HOTPLUG_STATUS);
    }
}

/* Migration */

static bool nvdimm_errors_needed(void *opaque)
{
    NVDIMMDevice *nvdimm = opaque;

    return nvdimm->errors && nvdimm->errors->ranges->len > 0;
}

static int nvdimm_errors_put(QEMUFile *f, void *pv, size_t size,
                             const VMStateField *field, JSONWriter *vmdesc)
{
    GArray *ranges = *(GArray **)pv;
    guint i;

    qemu_put_be32(f, ranges->len);
    for (i = 0; i < ranges->len; i++) {
        qemu_put_be64(f, range_at(ranges, i)->offset);
        qemu_put_be64(f, range_at(ranges, i)->length);
    }
    return 0;
}

/*
 * The stream is untrusted: at most NVDIMM_MAX_ERROR_RANGES sorted,
 * disjoint ranges inside the device, or the migration fails.
 */
static int nvdimm_errors_get(QEMUFile *f, void *pv, size_t size,
                             const VMStateField *field)
{
    NVDIMMMediaErrors *errors = container_of(pv, NVDIMMMediaErrors, ranges);
    uint32_t count = qemu_get_be32(f), i;
    g_autoptr(GArray) loaded = g_array_new(false, false,
                                           sizeof(NVDIMMErrorRange));
    uint64_t prev_end = 0;

    if (count > NVDIMM_MAX_ERROR_RANGES) {
        error_report("nvdimm: %" PRIu32 " poisoned ranges in the migration"
                     " stream, at most %d allowed", count,
                     NVDIMM_MAX_ERROR_RANGES);
        return -EINVAL;
    }
    for (i = 0; i < count; i++) {
        NVDIMMErrorRange r;

        r.offset = qemu_get_be64(f);
        r.length = qemu_get_be64(f);
        if (!nvdimm_errors_range_valid(errors->owner, r.offset, r.length) ||
            (i && r.offset <= prev_end)) {
            error_report("nvdimm: migrated poisoned range 0x%" PRIx64
                         "+0x%" PRIx64 " is outside the NVDIMM or out of"
                         " order", r.offset, r.length);
            return -EINVAL;
        }
        prev_end = range_end(&r);
        g_array_append_val(loaded, r);
    }
    g_array_set_size(errors->ranges, 0);
    g_array_append_vals(errors->ranges, loaded->data, loaded->len);
    nvdimm_poison_update(errors->owner);
    return qemu_file_get_error(f);
}

static const VMStateInfo vmstate_info_nvdimm_errors = {
    .name = "nvdimm-error-ranges",
    .get = nvdimm_errors_get,
    .put = nvdimm_errors_put,
};

/* Not a subsection's name prefix: the loader looks those up in it. */
static const VMStateDescription vmstate_errors_state = {
    .name = "nvdimm-media-errors",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_SINGLE(ranges, NVDIMMMediaErrors, 1,
                       vmstate_info_nvdimm_errors, GArray *),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * Sent only when the device has errors: a VM without any still migrates
 * to and from a QEMU that has no such subsection.
 */
const VMStateDescription vmstate_nvdimm_media_errors = {
    .name = "nvdimm/media-errors",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = nvdimm_errors_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_POINTER(errors, NVDIMMDevice, vmstate_errors_state,
                               NVDIMMMediaErrors),
        VMSTATE_END_OF_LIST()
    },
};

void nvdimm_errors_realize(NVDIMMDevice *nvdimm)
{
    nvdimm->errors = g_new0(NVDIMMMediaErrors, 1);
    nvdimm->errors->owner = nvdimm;
    nvdimm->errors->ranges = g_array_new(false, false,
                                         sizeof(NVDIMMErrorRange));
}

void nvdimm_errors_unrealize(NVDIMMDevice *nvdimm)
{
    if (!nvdimm->errors) {
        return;
    }
    nvdimm_poison_unrealize(nvdimm);
    g_array_free(nvdimm->errors->ranges, true);
    g_free(nvdimm->errors);
    nvdimm->errors = NULL;
}

/* QMP */

static NVDIMMDevice *nvdimm_errors_device(const char *id, Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());

    if (!ms->nvdimms_state || !ms->nvdimms_state->media_errors) {
        error_setg(errp, "NVDIMM media errors are off: start QEMU with"
                   " -machine nvdimm-media-errors=on");
        return NULL;
    }
    /* The guest finds errors through the NFIT root device's _DSM */
    if (!ms->nvdimms_state->dsm_mem) {
        error_setg(errp, "machine type '%s' has no NFIT, so its guests"
                   " cannot see NVDIMM media errors",
                   object_get_typename(OBJECT(ms)));
        return NULL;
    }
    return nvdimm_find(id, errp);
}

static bool nvdimm_errors_qmp_range(NVDIMMDevice *nvdimm, const char *id,
                                    uint64_t offset, uint64_t length,
                                    Error **errp)
{
    if (!nvdimm_errors_range_valid(nvdimm, offset, length)) {
        error_setg(errp, "offset 0x%" PRIx64 " length 0x%" PRIx64 " is not"
                   " a range inside NVDIMM '%s' (0x%" PRIx64 " bytes)",
                   offset, length, id, nvdimm_region_size(nvdimm));
        return false;
    }
    return true;
}

void qmp_nvdimm_inject_error(const char *id, uint64_t offset,
                             uint64_t length, bool has_notify, bool notify,
                             Error **errp)
{
    NVDIMMDevice *nvdimm = nvdimm_errors_device(id, errp);

    if (!nvdimm ||
        !nvdimm_errors_qmp_range(nvdimm, id, offset, length, errp) ||
        !nvdimm_errors_add(nvdimm, offset, length, errp)) {
        return;
    }
    if (!has_notify || notify) {
        nvdimm_errors_notify_guest(MACHINE(qdev_get_machine())->nvdimms_state);
    }
}

void qmp_nvdimm_clear_error(const char *id, uint64_t offset, uint64_t length,
                            Error **errp)
{
    NVDIMMDevice *nvdimm = nvdimm_errors_device(id, errp);

    if (nvdimm && nvdimm_errors_qmp_range(nvdimm, id, offset, length, errp)) {
        nvdimm_errors_clear(nvdimm, offset, length);
    }
}

static NvdimmErrorInfo *nvdimm_errors_info(NVDIMMDevice *nvdimm)
{
    NvdimmErrorInfo *info = g_new0(NvdimmErrorInfo, 1);
    DeviceState *dev = DEVICE(nvdimm);
    NvdimmErrorRangeList **tail = &info->errors;
    GArray *ranges = nvdimm->errors->ranges;
    guint i;

    info->id = g_strdup(dev->id);
    info->addr = PC_DIMM(nvdimm)->addr;
    for (i = 0; i < ranges->len; i++) {
        NvdimmErrorRange *r = g_new(NvdimmErrorRange, 1);

        r->offset = range_at(ranges, i)->offset;
        r->length = range_at(ranges, i)->length;
        QAPI_LIST_APPEND(tail, r);
    }
    return info;
}

NvdimmErrorInfoList *qmp_query_nvdimm_errors(Error **errp)
{
    NvdimmErrorInfoList *head = NULL, **tail = &head;
    GSList *list = nvdimm_get_device_list(), *l;

    for (l = list; l; l = l->next) {
        if (NVDIMM(l->data)->errors) {
            QAPI_LIST_APPEND(tail, nvdimm_errors_info(NVDIMM(l->data)));
        }
    }
    g_slist_free(list);
    return head;
}

/* HMP */

void hmp_nvdimm_inject_error(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;

    qmp_nvdimm_inject_error(qdict_get_str(qdict, "id"),
                            qdict_get_int(qdict, "offset"),
                            qdict_get_int(qdict, "length"), true,
                            !qdict_get_try_bool(qdict, "quiet", false), &err);
    hmp_handle_error(mon, err);
}

void hmp_nvdimm_clear_error(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;

    qmp_nvdimm_clear_error(qdict_get_str(qdict, "id"),
                           qdict_get_int(qdict, "offset"),
                           qdict_get_int(qdict, "length"), &err);
    hmp_handle_error(mon, err);
}

void hmp_info_nvdimm_errors(Monitor *mon, const QDict *qdict)
{
    g_autoptr(NvdimmErrorInfoList) list = qmp_query_nvdimm_errors(NULL);
    NvdimmErrorInfoList *dev;
    NvdimmErrorRangeList *r;

    for (dev = list; dev; dev = dev->next) {
        monitor_printf(mon, "%s at 0x%" PRIx64 ":%s\n",
                       dev->value->id ?: "(no id)", dev->value->addr,
                       dev->value->errors ? "" : " no errors");
        for (r = dev->value->errors; r; r = r->next) {
            monitor_printf(mon, "  offset 0x%" PRIx64 " length 0x%" PRIx64
                           "\n", r->value->offset, r->value->length);
        }
    }
}
