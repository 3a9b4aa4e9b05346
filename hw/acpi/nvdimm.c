/*
 * Virtual NVDIMM: NFIT, SRAT entries, the NVDIMM SSDT and the _DSM mailbox
 *
 * The guest ABI is docs/specs/acpi_nvdimm.rst: the firmware allocates one
 * page (fw_cfg file "etc/acpi/nvdimm-mem"), the AML writes a request into
 * it and rings the doorbell with the page's address; QEMU answers in the
 * same page.  Table layouts follow ACPI 6.x section 5.2.25 (NFIT); status
 * codes follow the NVDIMM DSM interface example (Intel, rev 1), chapter 3.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/nvdimm-utils.h"
#include "qapi/error.h"
#include "hw/acpi/acpi.h"
#include "hw/acpi/aml-build.h"
#include "hw/acpi/bios-linker-loader.h"
#include "hw/nvram/fw_cfg.h"
#include "hw/mem/nvdimm.h"
#include "hw/mem/nvdimm-flush.h"
#include "hw/acpi/nvdimm-ars.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "trace.h"

#define NVDIMM_DSM_MEM_FILE         "etc/acpi/nvdimm-mem"
#define NVDIMM_DSM_PAGE_SIZE        4096

/* docs/specs/acpi_nvdimm.rst: handles in the request page */
#define NVDIMM_ROOT_HANDLE          0
#define NVDIMM_QEMU_HANDLE          0x10000
#define NVDIMM_MAX_DEVICE_HANDLE    0xffff

/* The _DSM UUIDs the AML routes on, per handle kind */
#define NVDIMM_ROOT_UUID            "2F10E7A4-9E91-11E4-89D3-123B93F75CBA"
#define NVDIMM_QEMU_UUID            "648B9CF2-CDA1-4312-8AD9-49C4AF32BD62"
#define NVDIMM_DEVICE_UUID          "4309AC30-0D11-11E4-9191-0800200C9A66"

#define NVDIMM_DSM_REVISION         1

/* QEMU-internal functions on NVDIMM_QEMU_HANDLE */
#define NVDIMM_QEMU_FN_READ_FIT     1
#define NVDIMM_QEMU_FN_MEDIA_EVENT  2   /* nvdimm-media-errors=on only */

/* NVDIMM DSM interface example: per-device functions */
#define NVDIMM_FN_QUERY             0
#define NVDIMM_FN_LABEL_SIZE        4
#define NVDIMM_FN_LABEL_READ        5
#define NVDIMM_FN_LABEL_WRITE       6
#define NVDIMM_LABEL_FUNCTIONS      ((1u << NVDIMM_FN_QUERY) | \
                                     (1u << NVDIMM_FN_LABEL_SIZE) | \
                                     (1u << NVDIMM_FN_LABEL_READ) | \
                                     (1u << NVDIMM_FN_LABEL_WRITE))

/* NVDIMM DSM interface example, 3.1: status codes */
#define NVDIMM_STATUS_SUCCESS       0
#define NVDIMM_STATUS_UNSUPPORTED   1
#define NVDIMM_STATUS_NO_DEVICE     2
#define NVDIMM_STATUS_INVALID       3
/* acpi_nvdimm.rst: the FIT changed while the guest was reading it */
#define NVDIMM_STATUS_FIT_CHANGED   0x100

/*
 * The request as the AML lays it in the page.  The argument area holds
 * Arg3's single buffer (or integer), zero-extended by the AML's store.
 */
typedef struct QEMU_PACKED NvdimmDsmRequest {
    uint32_t handle;
    uint32_t revision;
    uint32_t function;
    uint8_t arg[NVDIMM_DSM_PAGE_SIZE - 12];
} NvdimmDsmRequest;

/*
 * The reply: @length counts itself; the AML returns the @length - 4
 * bytes that follow it.  Every reply QEMU makes starts with a status.
 */
typedef struct QEMU_PACKED NvdimmDsmReply {
    uint32_t length;
    uint32_t status;
    uint8_t data[NVDIMM_DSM_PAGE_SIZE - 8];
} NvdimmDsmReply;

QEMU_BUILD_BUG_ON(sizeof(NvdimmDsmRequest) != NVDIMM_DSM_PAGE_SIZE);
QEMU_BUILD_BUG_ON(sizeof(NvdimmDsmReply) != NVDIMM_DSM_PAGE_SIZE);

/*
 * Reused by every call instead of two fresh zeroed pages: clearing them
 * cost as much as the exit itself.  The reply buffer starts zeroed and only
 * ever holds replies already given to this guest, and a reply copies out
 * only the @length bytes this call filled, so no host memory can leak.
 */
typedef struct NvdimmMailbox {
    NvdimmDsmRequest req;
    NvdimmDsmReply reply;
} NvdimmMailbox;

/* Get/Set Namespace Label Data input: offset, length (then the data) */
typedef struct QEMU_PACKED NvdimmLabelRange {
    uint32_t offset;
    uint32_t length;
} NvdimmLabelRange;

/*
 * The largest label transfer: a Set Label Data request must fit its
 * offset/length header and the data in the argument area; reads use the
 * same limit so the guest sees one "max transfer".
 */
#define NVDIMM_LABEL_MAX_XFER \
    (sizeof(((NvdimmDsmRequest *)0)->arg) - sizeof(NvdimmLabelRange))

/* ---- NFIT (ACPI 6.x, 5.2.25) ---- */

#define NFIT_TYPE_SPA               0
#define NFIT_TYPE_MEMDEV            1
#define NFIT_TYPE_CONTROL_REGION    4
#define NFIT_TYPE_FLUSH_HINT        6
#define NFIT_TYPE_PLATFORM_CAP      7

/* SPA Range Structure flags: hot-add only, proximity domain valid */
#define NFIT_SPA_FLAGS              0x3
/* Persistent memory region GUID, 5.2.25.2 */
#define NFIT_SPA_PM_GUID            "66F0D379-B4F3-4074-AC43-0D3318B78CDB"
/* UEFI memory attributes: EFI_MEMORY_WB | EFI_MEMORY_NV */
#define NFIT_SPA_MEM_ATTRS          0x8008ULL

/* Memory Device to SPA Range Map flags: bit 3, not armed */
#define NFIT_MEMDEV_NOT_ARMED       (1 << 3)

/* The identity stock QEMU gives its control regions (a guest keys on it) */
#define NFIT_DCR_VENDOR_ID          0x8086
#define NFIT_DCR_DEVICE_ID          0x0001
#define NFIT_DCR_REVISION_ID        0x0001
#define NFIT_DCR_SERIAL_BASE        0x123456
/* Region format interface code: byte-addressable energy backed */
#define NFIT_DCR_FORMAT_CODE        0x0301

/* Platform Capabilities: bits 0..1 are meaningful */
#define NFIT_CAP_HIGHEST_VALID      1

static uint32_t nvdimm_slot_to_handle(int slot)
{
    return slot + 1;
}

uint32_t nvdimm_acpi_device_handle(NVDIMMDevice *nvdimm)
{
    return nvdimm_slot_to_handle(PC_DIMM(nvdimm)->slot);
}

/* SPA range and control region indexes: two per handle, never 0 */
static uint16_t nvdimm_spa_index(uint32_t handle)
{
    return handle * 2;
}

static uint16_t nvdimm_dcr_index(uint32_t handle)
{
    return handle * 2 + 1;
}

typedef struct NvdimmInfo {
    uint32_t handle;
    uint32_t slot;
    uint32_t node;
    uint64_t base;
    uint64_t size;
    bool not_armed;
    bool has_flush_hint;        /* flush-hints=on */
    uint64_t flush_hint;        /* guest physical address of the hint */
} NvdimmInfo;

static NvdimmInfo nvdimm_info(DeviceState *dev)
{
    NVDIMMDevice *nvdimm = NVDIMM(dev);
    Object *obj = OBJECT(dev);
    NvdimmInfo info = {
        .slot = object_property_get_uint(obj, PC_DIMM_SLOT_PROP, NULL),
        .node = object_property_get_uint(obj, PC_DIMM_NODE_PROP, NULL),
        .base = object_property_get_uint(obj, PC_DIMM_ADDR_PROP, NULL),
        .size = nvdimm->nvdimm_mr ? memory_region_size(nvdimm->nvdimm_mr) : 0,
        .not_armed = nvdimm->unarmed || nvdimm->readonly,
    };

    info.handle = nvdimm_slot_to_handle(info.slot);
    info.has_flush_hint = nvdimm_flush_hint_offset(nvdimm, &info.flush_hint);
    info.flush_hint += info.base;
    return info;
}

static void nfit_append_spa(GArray *fit, const NvdimmInfo *info)
{
    QemuUUID guid;

    build_append_int_noprefix(fit, NFIT_TYPE_SPA, 2);
    build_append_int_noprefix(fit, 56, 2);                /* Length */
    build_append_int_noprefix(fit, nvdimm_spa_index(info->handle), 2);
    build_append_int_noprefix(fit, NFIT_SPA_FLAGS, 2);
    build_append_int_noprefix(fit, 0, 4);                 /* Reserved */
    build_append_int_noprefix(fit, info->node, 4);
    qemu_uuid_parse(NFIT_SPA_PM_GUID, &guid);
    guid = qemu_uuid_bswap(guid);                         /* GUIDs are LE */
    g_array_append_vals(fit, guid.data, sizeof(guid.data));
    build_append_int_noprefix(fit, info->base, 8);
    build_append_int_noprefix(fit, info->size, 8);
    build_append_int_noprefix(fit, NFIT_SPA_MEM_ATTRS, 8);
}

static void nfit_append_memdev(GArray *fit, const NvdimmInfo *info)
{
    build_append_int_noprefix(fit, NFIT_TYPE_MEMDEV, 2);
    build_append_int_noprefix(fit, 48, 2);                /* Length */
    build_append_int_noprefix(fit, info->handle, 4);
    build_append_int_noprefix(fit, 0, 2);                 /* Physical ID */
    build_append_int_noprefix(fit, 0, 2);                 /* Region ID */
    build_append_int_noprefix(fit, nvdimm_spa_index(info->handle), 2);
    build_append_int_noprefix(fit, nvdimm_dcr_index(info->handle), 2);
    build_append_int_noprefix(fit, info->size, 8);        /* Region size */
    build_append_int_noprefix(fit, 0, 8);                 /* Region offset */
    build_append_int_noprefix(fit, 0, 8);                 /* DPA base */
    build_append_int_noprefix(fit, 0, 2);                 /* Interleave idx */
    build_append_int_noprefix(fit, 1, 2);                 /* Interleave ways */
    build_append_int_noprefix(fit, info->not_armed ? NFIT_MEMDEV_NOT_ARMED : 0,
                              2);
    build_append_int_noprefix(fit, 0, 2);                 /* Reserved */
}

static void nfit_append_control_region(GArray *fit, const NvdimmInfo *info)
{
    build_append_int_noprefix(fit, NFIT_TYPE_CONTROL_REGION, 2);
    build_append_int_noprefix(fit, 80, 2);                /* Length */
    build_append_int_noprefix(fit, nvdimm_dcr_index(info->handle), 2);
    build_append_int_noprefix(fit, NFIT_DCR_VENDOR_ID, 2);
    build_append_int_noprefix(fit, NFIT_DCR_DEVICE_ID, 2);
    build_append_int_noprefix(fit, NFIT_DCR_REVISION_ID, 2);
    /* Subsystem vendor/device/revision, valid fields, location, date */
    build_append_int_noprefix(fit, 0, 2 + 2 + 2 + 1 + 1 + 2);
    build_append_int_noprefix(fit, 0, 2);                 /* Reserved */
    build_append_int_noprefix(fit, NFIT_DCR_SERIAL_BASE + info->slot, 4);
    build_append_int_noprefix(fit, NFIT_DCR_FORMAT_CODE, 2);
    build_append_int_noprefix(fit, 0, 2);                 /* No BCWs */
    /* Block control window size, command/status offsets and sizes */
    build_append_int_noprefix(fit, 0, 8);
    build_append_int_noprefix(fit, 0, 8);
    build_append_int_noprefix(fit, 0, 8);
    build_append_int_noprefix(fit, 0, 8);
    build_append_int_noprefix(fit, 0, 8);
    build_append_int_noprefix(fit, 0, 2);                 /* Flags */
    build_append_int_noprefix(fit, 0, 6);                 /* Reserved */
}

/* Flush Hint Address Structure, 5.2.25.7: the hint page of one NVDIMM */
static void nfit_append_flush_hint(GArray *fit, const NvdimmInfo *info)
{
    build_append_int_noprefix(fit, NFIT_TYPE_FLUSH_HINT, 2);
    build_append_int_noprefix(fit, 16 + 8 * NVDIMM_FLUSH_HINT_COUNT, 2);
    build_append_int_noprefix(fit, info->handle, 4);
    build_append_int_noprefix(fit, NVDIMM_FLUSH_HINT_COUNT, 2);
    build_append_int_noprefix(fit, 0, 6);                 /* Reserved */
    build_append_int_noprefix(fit, info->flush_hint, 8);
}

static void nfit_append_platform_cap(GArray *fit, uint32_t capabilities)
{
    build_append_int_noprefix(fit, NFIT_TYPE_PLATFORM_CAP, 2);
    build_append_int_noprefix(fit, 16, 2);                /* Length */
    build_append_int_noprefix(fit, NFIT_CAP_HIGHEST_VALID, 1);
    build_append_int_noprefix(fit, 0, 3);                 /* Reserved */
    build_append_int_noprefix(fit, capabilities, 4);
    build_append_int_noprefix(fit, 0, 4);                 /* Reserved */
}

/* The NFIT structures of the NVDIMMs in list, in its order */
static GArray *nvdimm_build_fit(NVDIMMState *state, GSList *list)
{
    GArray *fit = g_array_new(false, true, 1);
    GSList *l;

    for (l = list; l; l = l->next) {
        NvdimmInfo info = nvdimm_info(l->data);

        nfit_append_spa(fit, &info);
        nfit_append_memdev(fit, &info);
        nfit_append_control_region(fit, &info);
        if (info.has_flush_hint) {
            nfit_append_flush_hint(fit, &info);
        }
    }

    if (state->persistence) {
        nfit_append_platform_cap(fit, state->persistence);
    }
    return fit;
}

/* Walking the QOM tree on each mailbox call cost several times the exit */
static GHashTable *nvdimm_index_by_handle(GSList *list)
{
    GHashTable *index = g_hash_table_new_full(NULL, NULL, NULL,
                                              object_unref);
    GSList *l;

    for (l = list; l; l = l->next) {
        g_hash_table_insert(index,
                            GUINT_TO_POINTER(nvdimm_info(l->data).handle),
                            object_ref(l->data));
    }
    return index;
}

/*
 * The FIT and the handle index from one walk of the QOM tree: a walk
 * costs as much as building the whole NFIT, and acpi_build runs this too.
 */
static void nvdimm_refresh_fit(NVDIMMState *state)
{
    GSList *list = nvdimm_get_device_list();

    if (state->fit_buf.fit) {
        g_array_free(state->fit_buf.fit, true);
    }
    state->fit_buf.fit = nvdimm_build_fit(state, list);

    if (state->by_handle) {
        g_hash_table_unref(state->by_handle);
    }
    state->by_handle = nvdimm_index_by_handle(list);
    g_slist_free(list);
}

void nvdimm_plug(NVDIMMState *state)
{
    nvdimm_refresh_fit(state);
    /* A _FIT read in progress must restart: it would mix old and new */
    state->fit_buf.dirty = true;
}

void nvdimm_acpi_plug_cb(HotplugHandler *hotplug_dev, DeviceState *dev)
{
    if (dev->hotplugged) {
        acpi_send_event(DEVICE(hotplug_dev), ACPI_NVDIMM_HOTPLUG_STATUS);
    }
}

void nvdimm_build_srat(GArray *table_data)
{
    GSList *list = nvdimm_get_device_list();
    GSList *l;

    for (l = list; l; l = l->next) {
        NvdimmInfo info = nvdimm_info(l->data);

        build_srat_memory(table_data, info.base, info.size, info.node,
                          MEM_AFFINITY_ENABLED | MEM_AFFINITY_NON_VOLATILE);
    }
    g_slist_free(list);
}

static void nvdimm_build_nfit(NVDIMMState *state, GArray *table_offsets,
                              GArray *table_data, BIOSLinker *linker,
                              const char *oem_id, const char *oem_table_id)
{
    GArray *fit = state->fit_buf.fit;
    AcpiTable table = { .sig = "NFIT", .rev = 1,
                        .oem_id = oem_id, .oem_table_id = oem_table_id };

    acpi_add_table(table_offsets, table_data);
    acpi_table_begin(&table, table_data);
    build_append_int_noprefix(table_data, 0, 4);          /* Reserved */
    g_array_append_vals(table_data, fit->data, fit->len);
    acpi_table_end(linker, &table);
}

/* ---- The mailbox ---- */

static NVDIMMDevice *nvdimm_find_by_handle(NVDIMMState *state,
                                           uint32_t handle)
{
    if (!state->by_handle) {
        return NULL;
    }
    return g_hash_table_lookup(state->by_handle, GUINT_TO_POINTER(handle));
}

/* A reply that carries only a status */
static void dsm_reply_status(NvdimmDsmReply *reply, uint32_t status)
{
    reply->status = cpu_to_le32(status);
    reply->length = cpu_to_le32(8);
}

static void dsm_reply_data(NvdimmDsmReply *reply, uint32_t status,
                           uint32_t data_len)
{
    reply->status = cpu_to_le32(status);
    reply->length = cpu_to_le32(8 + data_len);
}

static void dsm_read_fit(NVDIMMState *state, const NvdimmDsmRequest *req,
                         NvdimmDsmReply *reply)
{
    NVDIMMFitBuffer *fb = &state->fit_buf;
    uint32_t offset = ldl_le_p(req->arg);
    uint32_t fit_len = fb->fit ? fb->fit->len : 0;
    uint32_t chunk;

    trace_acpi_nvdimm_mbox_read_fit(offset, fit_len, fb->dirty);
    if (offset > fit_len) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: Read FIT offset 0x%" PRIx32
                      " beyond the FIT (0x%" PRIx32 " bytes)\n",
                      offset, fit_len);
        dsm_reply_status(reply, NVDIMM_STATUS_INVALID);
        return;
    }
    if (offset == 0) {
        /* A new read starts: it will see the current FIT */
        fb->dirty = false;
    } else if (fb->dirty) {
        dsm_reply_status(reply, NVDIMM_STATUS_FIT_CHANGED);
        return;
    }
    chunk = MIN(fit_len - offset, sizeof(reply->data));
    if (chunk) {
        memcpy(reply->data, fb->fit->data + offset, chunk);
    }
    dsm_reply_data(reply, NVDIMM_STATUS_SUCCESS, chunk);
}

/*
 * Media error events for the guest's _FIT (see nvdimm_aml_media_event):
 * one word, 1 when an event was pending, which it no longer is.
 */
static void dsm_take_media_event(NVDIMMState *state, NvdimmDsmReply *reply)
{
    uint32_t out[2] = { cpu_to_le32(state->media_error_event), 0 };

    state->media_error_event = false;
    memcpy(reply->data, out, sizeof(out));
    dsm_reply_data(reply, NVDIMM_STATUS_SUCCESS, sizeof(out));
}

static void dsm_qemu_function(NVDIMMState *state, const NvdimmDsmRequest *req,
                              NvdimmDsmReply *reply)
{
    if (req->function == NVDIMM_QEMU_FN_READ_FIT) {
        dsm_read_fit(state, req, reply);
    } else if (req->function == NVDIMM_QEMU_FN_MEDIA_EVENT &&
               state->media_errors) {
        dsm_take_media_event(state, reply);
    } else if (req->function == NVDIMM_FN_QUERY) {
        /* The internal handle has no function list to query */
        dsm_reply_status(reply, NVDIMM_STATUS_INVALID);
    } else {
        dsm_reply_status(reply, NVDIMM_STATUS_UNSUPPORTED);
    }
}

/*
 * Function 0's bitmap, as a 4-byte buffer in the status slot: the label
 * functions when the device has labels, else nothing (bit 0 clear says
 * "no functions" to the DSM caller).
 */
static void dsm_query_functions(NVDIMMDevice *nvdimm, NvdimmDsmReply *reply)
{
    uint32_t mask = 0;

    if (nvdimm && nvdimm->label_size) {
        mask = NVDIMM_LABEL_FUNCTIONS;
    }
    reply->status = cpu_to_le32(mask);
    reply->length = cpu_to_le32(8);
}

static void dsm_label_size(NVDIMMDevice *nvdimm, NvdimmDsmReply *reply)
{
    uint32_t out[2] = {
        cpu_to_le32(nvdimm->label_size),
        cpu_to_le32(NVDIMM_LABEL_MAX_XFER),
    };

    trace_acpi_nvdimm_mbox_label_size(nvdimm->label_size,
                                      NVDIMM_LABEL_MAX_XFER);
    memcpy(reply->data, out, sizeof(out));
    dsm_reply_data(reply, NVDIMM_STATUS_SUCCESS, sizeof(out));
}

/* Is [offset, offset + length) a transfer the guest may make? */
static bool dsm_label_range_ok(NVDIMMDevice *nvdimm,
                               const NvdimmLabelRange *range)
{
    uint64_t end = (uint64_t)range->offset + range->length;

    if (range->length == 0 || range->length > NVDIMM_LABEL_MAX_XFER) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: label transfer of 0x%" PRIx32
                      " bytes (max 0x%zx)\n", range->length,
                      (size_t)NVDIMM_LABEL_MAX_XFER);
        return false;
    }
    if (end > nvdimm->label_size) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: label range 0x%" PRIx32
                      "+0x%" PRIx32 " beyond the label area (0x%" PRIx64
                      ")\n", range->offset, range->length,
                      nvdimm->label_size);
        return false;
    }
    return true;
}

static NvdimmLabelRange dsm_label_range(const NvdimmDsmRequest *req)
{
    NvdimmLabelRange range = {
        .offset = ldl_le_p(req->arg),
        .length = ldl_le_p(req->arg + 4),
    };

    return range;
}

static void dsm_label_read(NVDIMMDevice *nvdimm, const NvdimmDsmRequest *req,
                           NvdimmDsmReply *reply)
{
    NVDIMMClass *nc = NVDIMM_GET_CLASS(nvdimm);
    NvdimmLabelRange range = dsm_label_range(req);

    trace_acpi_nvdimm_mbox_label_read(range.offset, range.length);
    if (!dsm_label_range_ok(nvdimm, &range)) {
        dsm_reply_status(reply, NVDIMM_STATUS_INVALID);
        return;
    }
    nc->read_label_data(nvdimm, reply->data, range.length, range.offset);
    dsm_reply_data(reply, NVDIMM_STATUS_SUCCESS, range.length);
}

static void dsm_label_write(NVDIMMDevice *nvdimm, const NvdimmDsmRequest *req,
                            NvdimmDsmReply *reply)
{
    NVDIMMClass *nc = NVDIMM_GET_CLASS(nvdimm);
    NvdimmLabelRange range = dsm_label_range(req);

    trace_acpi_nvdimm_mbox_label_write(range.offset, range.length);
    if (!dsm_label_range_ok(nvdimm, &range)) {
        dsm_reply_status(reply, NVDIMM_STATUS_INVALID);
        return;
    }
    if (nvdimm->readonly) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "nvdimm: label write to a read-only NVDIMM\n");
        dsm_reply_status(reply, NVDIMM_STATUS_UNSUPPORTED);
        return;
    }
    nc->write_label_data(nvdimm, req->arg + sizeof(range), range.length,
                         range.offset);
    dsm_reply_status(reply, NVDIMM_STATUS_SUCCESS);
}

static void dsm_device_function(NVDIMMState *state,
                                const NvdimmDsmRequest *req,
                                NvdimmDsmReply *reply)
{
    NVDIMMDevice *nvdimm = NULL;

    if (req->handle <= NVDIMM_MAX_DEVICE_HANDLE) {
        nvdimm = nvdimm_find_by_handle(state, req->handle);
    }
    if (req->function == NVDIMM_FN_QUERY) {
        dsm_query_functions(nvdimm, reply);
        return;
    }
    if (!nvdimm) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: _DSM for handle 0x%" PRIx32
                      ", no such NVDIMM\n", req->handle);
        dsm_reply_status(reply, NVDIMM_STATUS_NO_DEVICE);
        return;
    }
    if (!nvdimm->label_size) {
        dsm_reply_status(reply, NVDIMM_STATUS_UNSUPPORTED);
        return;
    }
    switch (req->function) {
    case NVDIMM_FN_LABEL_SIZE:
        dsm_label_size(nvdimm, reply);
        break;
    case NVDIMM_FN_LABEL_READ:
        dsm_label_read(nvdimm, req, reply);
        break;
    case NVDIMM_FN_LABEL_WRITE:
        dsm_label_write(nvdimm, req, reply);
        break;
    default:
        dsm_reply_status(reply, NVDIMM_STATUS_UNSUPPORTED);
        break;
    }
}

/*
 * The root's functions are Address Range Scrub and error injection, with
 * -machine nvdimm-media-errors=on (nvdimm-ars.c); without it, none.
 */
static void dsm_root_function(NVDIMMState *state, const NvdimmDsmRequest *req,
                              NvdimmDsmReply *reply)
{
    size_t out_len;
    uint32_t status;

    if (req->function == NVDIMM_FN_QUERY) {
        dsm_reply_status(reply, nvdimm_ars_functions(state));
        return;
    }
    status = nvdimm_ars_call(state, req->function, req->arg, sizeof(req->arg),
                             reply->data, sizeof(reply->data), &out_len);
    dsm_reply_data(reply, status, out_len);
}

static void nvdimm_dsm_dispatch(NVDIMMState *state, NvdimmDsmRequest *req,
                                NvdimmDsmReply *reply)
{
    req->handle = le32_to_cpu(req->handle);
    req->revision = le32_to_cpu(req->revision);
    req->function = le32_to_cpu(req->function);
    trace_acpi_nvdimm_mbox_request(req->handle, req->revision, req->function);

    if (req->revision != NVDIMM_DSM_REVISION) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: _DSM revision %" PRIu32
                      " is not supported\n", req->revision);
        dsm_reply_status(reply, NVDIMM_STATUS_UNSUPPORTED);
    } else if (req->handle == NVDIMM_ROOT_HANDLE) {
        dsm_root_function(state, req, reply);
    } else if (req->handle == NVDIMM_QEMU_HANDLE) {
        dsm_qemu_function(state, req, reply);
    } else {
        dsm_device_function(state, req, reply);
    }
}

static uint64_t nvdimm_doorbell_read(void *opaque, hwaddr addr, unsigned size)
{
    /* The doorbell is write-only; the reply is in the page */
    return 0;
}

static void nvdimm_doorbell_write(void *opaque, hwaddr addr, uint64_t val,
                                  unsigned size)
{
    NVDIMMState *state = opaque;
    hwaddr page = (uint32_t)val;
    NvdimmDsmRequest *req = &state->mailbox->req;
    NvdimmDsmReply *reply = &state->mailbox->reply;
    MemTxResult res;

    trace_acpi_nvdimm_mbox_page(page);
    res = address_space_read(&address_space_memory, page,
                             MEMTXATTRS_UNSPECIFIED, req, sizeof(*req));
    if (res != MEMTX_OK) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: cannot read the _DSM page"
                      " at 0x%" HWADDR_PRIx "\n", page);
        return;
    }

    nvdimm_dsm_dispatch(state, req, reply);
    trace_acpi_nvdimm_mbox_reply(req->handle, req->function,
                                le32_to_cpu(reply->status),
                                le32_to_cpu(reply->length));

    res = address_space_write(&address_space_memory, page,
                              MEMTXATTRS_UNSPECIFIED, reply,
                              le32_to_cpu(reply->length));
    if (res != MEMTX_OK) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: cannot write the _DSM reply"
                      " at 0x%" HWADDR_PRIx "\n", page);
    }
}

/* The AML rings with one 32-bit access; nothing else is meaningful */
static const MemoryRegionOps nvdimm_doorbell_ops = {
    .valid.min_access_size = 4,
    .valid.max_access_size = 4,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .write = nvdimm_doorbell_write,
    .read = nvdimm_doorbell_read,
};

/* The page the firmware allocates for us; only its address matters */
static GArray *nvdimm_new_dsm_page(FWCfgState *fw_cfg)
{
    GArray *page = g_array_sized_new(false, true, 1, NVDIMM_DSM_PAGE_SIZE);

    g_array_set_size(page, NVDIMM_DSM_PAGE_SIZE);
    fw_cfg_add_file(fw_cfg, NVDIMM_DSM_MEM_FILE, page->data, page->len);
    return page;
}

void nvdimm_init_acpi_state(NVDIMMState *state, MemoryRegion *io,
                            struct AcpiGenericAddress dsm_io,
                            FWCfgState *fw_cfg, Object *owner)
{
    uint64_t width = dsm_io.bit_width / BITS_PER_BYTE;

    memory_region_init_io(&state->io_mr, owner, &nvdimm_doorbell_ops, state,
                          "nvdimm-dsm-doorbell", width);
    memory_region_add_subregion(io, dsm_io.address, &state->io_mr);
    state->dsm_io = dsm_io;
    state->dsm_mem = nvdimm_new_dsm_page(fw_cfg);
    state->mailbox = g_new0(NvdimmMailbox, 1);
    nvdimm_refresh_fit(state);
}

/* ---- The SSDT ---- */

/*
 * The SSDT.  By default it is byte for byte the table QEMU 10.0 builds, so
 * that a guest sees the same AML on either and a VM migrates both ways;
 * bios-tables-test holds it as tests/data/acpi/x86/{pc,q35}/SSDT.dimmpxm.
 * With -machine nvdimm-compact-ssdt=on the label methods of every slot
 * share one body in NVDR instead (see nvdimm_aml_shared_label_methods).
 */

/* The page address, patched by the BIOS linker */
#define NVDIMM_AML_PAGE_ADDR    "MEMA"

/* NCAL's answer when it cannot reach QEMU: a one-byte buffer */
static void nvdimm_aml_no_mailbox(Aml *method)
{
    uint8_t no_functions = 0, unsupported = NVDIMM_STATUS_UNSUPPORTED;
    Aml *query = aml_if(aml_equal(aml_arg(2), aml_int(NVDIMM_FN_QUERY)));

    aml_append(query, aml_return(aml_buffer(1, &no_functions)));
    aml_append(method, query);
    aml_append(method, aml_return(aml_buffer(1, &unsupported)));
}

/* Local0 = the _DSM UUID that the handle in Arg4 answers to */
static void nvdimm_aml_uuid_of_handle(Aml *method, Aml *uuid)
{
    Aml *root = aml_if(aml_equal(aml_arg(4), aml_int(NVDIMM_ROOT_HANDLE)));
    Aml *other = aml_else();
    Aml *qemu = aml_if(aml_equal(aml_arg(4), aml_int(NVDIMM_QEMU_HANDLE)));
    Aml *device = aml_else();

    aml_append(root, aml_store(aml_touuid(NVDIMM_ROOT_UUID), uuid));
    aml_append(method, root);
    aml_append(qemu, aml_store(aml_touuid(NVDIMM_QEMU_UUID), uuid));
    aml_append(other, qemu);
    aml_append(device, aml_store(aml_touuid(NVDIMM_DEVICE_UUID), uuid));
    aml_append(other, device);
    aml_append(method, other);
}

/* The doorbell and the two views of the page: request and reply */
static void nvdimm_aml_page_fields(Aml *method,
                                   const struct AcpiGenericAddress *dsm_io,
                                   Aml *page)
{
    Aml *field;

    aml_append(method, aml_operation_region("NPIO", dsm_io->space_id,
                                            aml_int(dsm_io->address),
                                            dsm_io->bit_width >> 3));
    aml_append(method, aml_operation_region("NRAM", AML_SYSTEM_MEMORY, page,
                                            NVDIMM_DSM_PAGE_SIZE));
    field = aml_field("NPIO", AML_DWORD_ACC, AML_NOLOCK, AML_PRESERVE);
    aml_append(field, aml_named_field("NTFI", 32));
    aml_append(method, field);
    field = aml_field("NRAM", AML_DWORD_ACC, AML_NOLOCK, AML_PRESERVE);
    aml_append(field, aml_named_field("HDLE", 32));
    aml_append(field, aml_named_field("REVS", 32));
    aml_append(field, aml_named_field("FUNC", 32));
    aml_append(field, aml_named_field("FARG",
                                      (NVDIMM_DSM_PAGE_SIZE - 12) * 8));
    aml_append(method, field);
    field = aml_field("NRAM", AML_DWORD_ACC, AML_NOLOCK, AML_PRESERVE);
    aml_append(field, aml_named_field("RLEN", 32));
    aml_append(field, aml_named_field("ODAT", (NVDIMM_DSM_PAGE_SIZE - 4) * 8));
    aml_append(method, field);
}

/*
 * A reply of 8 bytes or less: a field that small reads as an Integer, so
 * its bytes are copied one by one into a Buffer.
 */
static Aml *nvdimm_aml_short_reply(Aml *len, Aml *idx)
{
    Aml *ifc = aml_if(aml_lless(len, aml_int(8)));
    Aml *result = aml_local(7), *whilec;
    uint8_t zero = 0;

    aml_append(ifc, aml_store(aml_int(0), idx));
    aml_append(ifc, aml_name_decl("TBUF", aml_buffer(1, &zero)));
    aml_append(ifc, aml_store(aml_buffer(0, NULL), result));
    whilec = aml_while(aml_lless(idx, len));
    aml_append(whilec, aml_store(aml_derefof(aml_index(aml_name("ODAT"), idx)),
                                 aml_index(aml_name("TBUF"), aml_int(0))));
    aml_append(whilec, aml_concatenate(result, aml_name("TBUF"), result));
    aml_append(whilec, aml_increment(idx));
    aml_append(ifc, whilec);
    aml_append(ifc, aml_return(result));
    return ifc;
}

/*
 * NCAL(uuid, revision, function, args, handle): one _DSM call through the
 * page.  A foreign UUID, or no page from the firmware yet, is answered
 * without QEMU.
 */
static Aml *nvdimm_aml_ncal(const struct AcpiGenericAddress *dsm_io)
{
    Aml *method = aml_method("NCAL", 5, AML_SERIALIZED);
    Aml *uuid = aml_local(0), *len = aml_local(1), *idx = aml_local(2);
    Aml *arg = aml_local(3), *page = aml_local(6), *ifc;

    aml_append(method, aml_store(aml_name(NVDIMM_AML_PAGE_ADDR), page));
    nvdimm_aml_page_fields(method, dsm_io, page);
    nvdimm_aml_uuid_of_handle(method, uuid);

    ifc = aml_if(aml_lor(aml_equal(page, aml_int(0)),
                         aml_lnot(aml_equal(aml_arg(0), uuid))));
    nvdimm_aml_no_mailbox(ifc);
    aml_append(method, ifc);

    aml_append(method, aml_store(aml_arg(4), aml_name("HDLE")));
    aml_append(method, aml_store(aml_arg(1), aml_name("REVS")));
    aml_append(method, aml_store(aml_arg(2), aml_name("FUNC")));
    /* Arg3 is a package holding one buffer (or integer) of arguments */
    ifc = aml_if(aml_land(aml_equal(aml_object_type(aml_arg(3)), aml_int(4)),
                          aml_equal(aml_sizeof(aml_arg(3)), aml_int(1))));
    aml_append(ifc, aml_store(aml_index(aml_arg(3), aml_int(0)), idx));
    aml_append(ifc, aml_store(aml_derefof(idx), arg));
    aml_append(ifc, aml_store(arg, aml_name("FARG")));
    aml_append(method, ifc);
    aml_append(method, aml_store(page, aml_name("NTFI")));

    aml_append(method, aml_subtract(aml_name("RLEN"), aml_int(4), len));
    aml_append(method, nvdimm_aml_short_reply(len, idx));
    aml_append(method, aml_store(aml_shiftleft(len, aml_int(3)), len));
    aml_append(method, aml_create_field(aml_name("ODAT"), aml_int(0), len,
                                        "OBUF"));
    aml_append(method, aml_return(aml_name("OBUF")));
    return method;
}

static Aml *nvdimm_aml_dsm(uint32_t handle)
{
    Aml *method = aml_method("_DSM", 4, AML_NOTSERIALIZED);

    aml_append(method, aml_return(aml_call5("NCAL", aml_arg(0), aml_arg(1),
                                            aml_arg(2), aml_arg(3),
                                            aml_int(handle))));
    return method;
}

/* NCAL(QEMU's UUID, revision 1, @function, @args, QEMU's handle) */
static Aml *nvdimm_aml_qemu_call(uint32_t function, Aml *args)
{
    return aml_call5("NCAL", aml_touuid(NVDIMM_QEMU_UUID),
                     aml_int(NVDIMM_DSM_REVISION), aml_int(function), args,
                     aml_int(NVDIMM_QEMU_HANDLE));
}

/*
 * RFIT(offset): one Read FIT call.  Leaves the status in RSTA and returns
 * the FIT bytes of the reply, none when the call failed.
 */
static Aml *nvdimm_aml_read_fit(void)
{
    Aml *method = aml_method("RFIT", 1, AML_SERIALIZED);
    Aml *reply = aml_local(0), *len = aml_local(1), *args, *ifc;

    aml_append(method, aml_name_decl("OFST", aml_int(0)));
    aml_append(method, aml_store(aml_arg(0), aml_name("OFST")));
    args = aml_package(1);
    aml_append(args, aml_name("OFST"));
    aml_append(method, aml_store(nvdimm_aml_qemu_call(NVDIMM_QEMU_FN_READ_FIT,
                                                      args), reply));
    aml_append(method, aml_create_dword_field(reply, aml_int(0), "STAU"));
    aml_append(method, aml_store(aml_name("STAU"), aml_name("RSTA")));
    ifc = aml_if(aml_lnot(aml_equal(aml_int(NVDIMM_STATUS_SUCCESS),
                                    aml_name("STAU"))));
    aml_append(ifc, aml_return(aml_buffer(0, NULL)));
    aml_append(method, ifc);
    aml_append(method, aml_store(aml_sizeof(reply), len));
    aml_append(method, aml_subtract(len, aml_int(4), len));
    ifc = aml_if(aml_equal(len, aml_int(0)));
    aml_append(ifc, aml_return(aml_buffer(0, NULL)));
    aml_append(method, ifc);
    aml_append(method, aml_create_field(reply, aml_int(32),
                                        aml_shiftleft(len, aml_int(3)),
                                        "BUFF"));
    aml_append(method, aml_return(aml_name("BUFF")));
    return method;
}

/* _FIT's loop body when RSTA says the FIT changed: start over */
static Aml *nvdimm_aml_fit_restart(Aml *fit, Aml *offset)
{
    Aml *restart = aml_if(aml_equal(aml_name("RSTA"),
                                    aml_int(NVDIMM_STATUS_FIT_CHANGED)));

    aml_append(restart, aml_store(aml_buffer(0, NULL), fit));
    aml_append(restart, aml_store(aml_int(0), offset));
    return restart;
}

/* Otherwise: an empty chunk ends the FIT, another one is appended */
static Aml *nvdimm_aml_fit_append(Aml *fit, Aml *offset, Aml *chunk,
                                  Aml *len)
{
    Aml *append = aml_else();
    Aml *end = aml_if(aml_equal(len, aml_int(0)));

    aml_append(end, aml_return(fit));
    aml_append(append, end);
    aml_append(append, aml_add(offset, len, offset));
    aml_append(append, aml_concatenate(fit, chunk, fit));
    return append;
}

/*
 * MEVT: with nvdimm-media-errors=on, notify the root device (0x81, "new
 * uncorrectable memory errors") when QEMU has a media error event.  QEMU
 * raises the NVDIMM hotplug event for it, after which the guest reads
 * _FIT, which calls this: a Notify needs AML to run.
 */
static Aml *nvdimm_aml_media_event(void)
{
    Aml *method = aml_method("MEVT", 0, AML_SERIALIZED);
    Aml *reply = aml_local(0), *args = aml_package(1), *ifc;

    aml_append(args, aml_int(0));
    aml_append(method,
               aml_store(nvdimm_aml_qemu_call(NVDIMM_QEMU_FN_MEDIA_EVENT,
                                              args), reply));
    /* No mailbox yet: NCAL answers with a single byte */
    ifc = aml_if(aml_lless(aml_sizeof(reply), aml_int(8)));
    aml_append(ifc, aml_return(aml_int(0)));
    aml_append(method, ifc);
    aml_append(method, aml_create_dword_field(reply, aml_int(0), "MSTA"));
    aml_append(method, aml_create_dword_field(reply, aml_int(4), "MPND"));
    ifc = aml_if(aml_land(aml_equal(aml_name("MSTA"),
                                    aml_int(NVDIMM_STATUS_SUCCESS)),
                          aml_equal(aml_name("MPND"), aml_int(1))));
    aml_append(ifc, aml_notify(aml_name("\\_SB.NVDR"), aml_int(0x81)));
    aml_append(method, ifc);
    return method;
}

/*
 * _FIT: RFIT from the offset gathered so far until it answers with
 * nothing; first MEVT, with nvdimm-media-errors=on.
 */
static Aml *nvdimm_aml_fit(NVDIMMState *state)
{
    Aml *method = aml_method("_FIT", 0, AML_SERIALIZED);
    Aml *chunk = aml_local(0), *len = aml_local(1), *fit = aml_local(2);
    Aml *offset = aml_local(3), *loop = aml_while(aml_int(1));

    if (state->media_errors) {
        aml_append(method, aml_call0("MEVT"));
    }

    aml_append(loop, aml_store(aml_call1("RFIT", offset), chunk));
    aml_append(loop, aml_store(aml_sizeof(chunk), len));
    aml_append(loop, nvdimm_aml_fit_restart(fit, offset));
    aml_append(loop, nvdimm_aml_fit_append(fit, offset, chunk, len));
    aml_append(method, aml_store(aml_buffer(0, NULL), fit));
    aml_append(method, aml_store(aml_int(0), offset));
    aml_append(method, loop);
    return method;
}

/* Local0 = Package (1) { Buffer INPT }, the label functions' argument */
static void nvdimm_aml_inpt_package(Aml *method)
{
    Aml *args = aml_package(1);

    aml_append(args, aml_name("INPT"));
    aml_append(method, aml_store(args, aml_local(0)));
}

/* Name INPT, the {offset, length} head of a label read or write */
static void nvdimm_aml_label_head(Aml *method, const char *len_name)
{
    aml_append(method, aml_name_decl("INPT", aml_buffer(8, NULL)));
    aml_append(method, aml_create_dword_field(aml_name("INPT"), aml_int(0),
                                              "OFST"));
    aml_append(method, aml_create_dword_field(aml_name("INPT"), aml_int(4),
                                              len_name));
    aml_append(method, aml_store(aml_arg(0), aml_name("OFST")));
    aml_append(method, aml_store(aml_arg(1), aml_name("%s", len_name)));
}

/* NCAL (device UUID, revision 1, function, args, handle) */
static Aml *nvdimm_aml_label_fn(uint32_t handle, int function, Aml *args)
{
    return aml_call5("NCAL", aml_touuid(NVDIMM_DEVICE_UUID),
                     aml_int(NVDIMM_DSM_REVISION), aml_int(function), args,
                     aml_int(handle));
}

/* REPLY = the label function's reply; STTS, its status dword */
static void nvdimm_aml_label_call_status(Aml *method, uint32_t handle,
                                         int function, Aml *args, Aml *reply)
{
    aml_append(method, aml_store(nvdimm_aml_label_fn(handle, function, args),
                                 reply));
    aml_append(method, aml_create_dword_field(reply, aml_int(0), "STTS"));
}

/* Local1 = RESULT; Return (Local1) */
static void nvdimm_aml_return_via_local1(Aml *method, Aml *result)
{
    aml_append(method, aml_store(result, aml_local(1)));
    aml_append(method, aml_return(aml_local(1)));
}

static Aml *nvdimm_aml_lsi(uint32_t handle)
{
    Aml *method = aml_method("_LSI", 0, AML_SERIALIZED);
    Aml *reply = aml_local(0), *info = aml_package(3);

    nvdimm_aml_label_call_status(method, handle, NVDIMM_FN_LABEL_SIZE,
                                 aml_int(0), reply);
    aml_append(method, aml_create_dword_field(reply, aml_int(4), "SLSA"));
    aml_append(method, aml_create_dword_field(reply, aml_int(8), "MAXT"));
    aml_append(info, aml_name("STTS"));
    aml_append(info, aml_name("SLSA"));
    aml_append(info, aml_name("MAXT"));
    nvdimm_aml_return_via_local1(method, info);
    return method;
}

static Aml *nvdimm_aml_lsr(uint32_t handle)
{
    Aml *method = aml_method("_LSR", 2, AML_SERIALIZED);
    Aml *reply = aml_local(3), *result = aml_package(2);

    nvdimm_aml_label_head(method, "LEN");
    nvdimm_aml_inpt_package(method);
    nvdimm_aml_label_call_status(method, handle, NVDIMM_FN_LABEL_READ,
                                 aml_local(0), reply);
    aml_append(method, aml_create_field(reply, aml_int(32),
                                        aml_shiftleft(aml_name("LEN"),
                                                      aml_int(3)),
                                        "LDAT"));
    aml_append(method, aml_name_decl("LSA", aml_buffer(0, NULL)));
    aml_append(method, aml_to_buffer(aml_name("LDAT"), aml_name("LSA")));
    aml_append(result, aml_name("STTS"));
    aml_append(result, aml_name("LSA"));
    nvdimm_aml_return_via_local1(method, result);
    return method;
}

static Aml *nvdimm_aml_lsw(uint32_t handle)
{
    Aml *method = aml_method("_LSW", 3, AML_SERIALIZED);
    Aml *data = aml_local(2);

    aml_append(method, aml_store(aml_arg(2), data));
    nvdimm_aml_label_head(method, "TLEN");
    aml_append(method, aml_concatenate(aml_name("INPT"), data,
                                       aml_name("INPT")));
    nvdimm_aml_inpt_package(method);
    nvdimm_aml_label_call_status(method, handle, NVDIMM_FN_LABEL_WRITE,
                                 aml_local(0), aml_local(3));
    aml_append(method, aml_return(aml_name("STTS")));
    return method;
}

/* Method name(nargs): Return (call), for the thin per-slot methods */
static Aml *nvdimm_aml_forward(const char *name, int nargs, Aml *call)
{
    Aml *method = aml_method(name, nargs, AML_NOTSERIALIZED);

    aml_append(method, aml_return(call));
    return method;
}

/*
 * nvdimm-compact-ssdt=on: the label methods (_LSI, _LSR, _LSW) of every
 * slot share one body each, built once in NVDR, which takes the device
 * handle as its first argument; a slot's own methods only pass their
 * handle on, so that each slot adds a few bytes of AML (the table is half
 * the size with 256 slots) and little build time.  The shared bodies also
 * check the reply before they cut it: a failed call gives its status and
 * an empty buffer, not an AML error.
 */

/*
 * Store the status word of an NCAL reply in target.  NCAL answers with a
 * single status byte when it cannot reach QEMU (no page yet), so only a
 * reply of four bytes or more has a whole status dword.
 */
static void nvdimm_aml_label_status(Aml *method, Aml *reply, Aml *target)
{
    Aml *ifc = aml_if(aml_lgreater_equal(aml_sizeof(reply), aml_int(4)));
    Aml *elsec = aml_else();

    aml_append(ifc, aml_create_dword_field(reply, aml_int(0), "LSTS"));
    aml_append(ifc, aml_store(aml_name("LSTS"), target));
    aml_append(method, ifc);
    aml_append(elsec, aml_store(aml_derefof(aml_index(reply, aml_int(0))),
                                target));
    aml_append(method, elsec);
}

/*
 * LCAL(handle, function, args): one label function through NCAL, its
 * reply split into Package {status, Buffer of the bytes after the status
 * dword}, which is already what _LSR returns.
 */
static Aml *nvdimm_aml_label_call(void)
{
    Aml *method = aml_method("LCAL", 3, AML_SERIALIZED);
    Aml *reply = aml_local(0), *out = aml_local(1), *data = aml_local(2);
    Aml *idx = aml_local(3);
    Aml *pkg = aml_package(2), *ifc, *elsec, *whilec;
    uint8_t onebyte = 0;

    aml_append(method, aml_store(aml_call5("NCAL",
                                           aml_touuid(NVDIMM_DEVICE_UUID),
                                           aml_int(NVDIMM_DSM_REVISION),
                                           aml_arg(1), aml_arg(2),
                                           aml_arg(0)),
                                 reply));
    aml_append(pkg, aml_int(0));
    aml_append(pkg, aml_buffer(0, NULL));
    aml_append(method, aml_store(pkg, out));
    nvdimm_aml_label_status(method, reply, aml_index(out, aml_int(0)));

    /*
     * A buffer field of 64 bits or less would read as an Integer, so a
     * short tail is copied byte by byte to stay a Buffer of the right
     * length.
     */
    ifc = aml_if(aml_lgreater(aml_sizeof(reply), aml_int(12)));
    aml_append(ifc, aml_create_field(reply, aml_int(32),
                                     aml_shiftleft(aml_subtract(
                                         aml_sizeof(reply), aml_int(4),
                                         NULL), aml_int(3)),
                                     "LDAT"));
    aml_append(ifc, aml_store(aml_name("LDAT"), aml_index(out, aml_int(1))));
    aml_append(method, ifc);
    elsec = aml_else();
    aml_append(elsec, aml_name_decl("LONE", aml_buffer(1, &onebyte)));
    aml_append(elsec, aml_store(aml_buffer(0, NULL), data));
    aml_append(elsec, aml_store(aml_int(4), idx));
    whilec = aml_while(aml_lless(idx, aml_sizeof(reply)));
    aml_append(whilec, aml_store(aml_derefof(aml_index(reply, idx)),
                                 aml_index(aml_name("LONE"), aml_int(0))));
    aml_append(whilec, aml_concatenate(data, aml_name("LONE"), data));
    aml_append(whilec, aml_increment(idx));
    aml_append(elsec, whilec);
    aml_append(elsec, aml_store(data, aml_index(out, aml_int(1))));
    aml_append(method, elsec);
    aml_append(method, aml_return(out));
    return method;
}

/*
 * LARG: the 8-byte {offset, length} head of a label read or write
 * request, filled from Arg1 and Arg2 (Arg0 is the handle).
 */
static void nvdimm_aml_label_range(Aml *method)
{
    aml_append(method, aml_name_decl("LARG", aml_buffer(8, NULL)));
    aml_append(method, aml_create_dword_field(aml_name("LARG"), aml_int(0),
                                              "LOFS"));
    aml_append(method, aml_create_dword_field(aml_name("LARG"), aml_int(4),
                                              "LLEN"));
    aml_append(method, aml_store(aml_arg(1), aml_name("LOFS")));
    aml_append(method, aml_store(aml_arg(2), aml_name("LLEN")));
}

/* NCAL takes its arguments as a package of one buffer */
static void nvdimm_aml_label_args(Aml *method, Aml *buffer, Aml *pkg)
{
    Aml *one = aml_package(1);

    aml_append(one, aml_int(0));
    aml_append(method, aml_store(one, pkg));
    aml_append(method, aml_store(buffer, aml_index(pkg, aml_int(0))));
}

/* LSIX(handle): _LSI's Package {status, label area size, max transfer} */
static Aml *nvdimm_aml_label_info(void)
{
    Aml *method = aml_method("LSIX", 1, AML_SERIALIZED);
    Aml *reply = aml_local(0), *info = aml_local(1), *data = aml_local(2);
    Aml *pkg = aml_package(3), *ifc;

    aml_append(method, aml_store(aml_call3("LCAL", aml_arg(0),
                                           aml_int(NVDIMM_FN_LABEL_SIZE),
                                           aml_int(0)),
                                 reply));
    aml_append(pkg, aml_int(0));
    aml_append(pkg, aml_int(0));
    aml_append(pkg, aml_int(0));
    aml_append(method, aml_store(pkg, info));
    aml_append(method, aml_store(aml_derefof(aml_index(reply, aml_int(0))),
                                 aml_index(info, aml_int(0))));
    aml_append(method, aml_store(aml_derefof(aml_index(reply, aml_int(1))),
                                 data));
    /* A failed call (no label area) has no size words: leave them 0 */
    ifc = aml_if(aml_lgreater_equal(aml_sizeof(data), aml_int(8)));
    aml_append(ifc, aml_create_dword_field(data, aml_int(0), "LSIZ"));
    aml_append(ifc, aml_create_dword_field(data, aml_int(4), "LMAX"));
    aml_append(ifc, aml_store(aml_name("LSIZ"), aml_index(info, aml_int(1))));
    aml_append(ifc, aml_store(aml_name("LMAX"), aml_index(info, aml_int(2))));
    aml_append(method, ifc);
    aml_append(method, aml_return(info));
    return method;
}

/* LSRX(handle, offset, length): _LSR's Package {status, Buffer read} */
static Aml *nvdimm_aml_label_read(void)
{
    Aml *method = aml_method("LSRX", 3, AML_SERIALIZED);
    Aml *args = aml_local(0);

    nvdimm_aml_label_range(method);
    nvdimm_aml_label_args(method, aml_name("LARG"), args);
    aml_append(method, aml_return(aml_call3("LCAL", aml_arg(0),
                                            aml_int(NVDIMM_FN_LABEL_READ),
                                            args)));
    return method;
}

/* LSWX(handle, offset, length, data): _LSW's status Integer */
static Aml *nvdimm_aml_label_write(void)
{
    Aml *method = aml_method("LSWX", 4, AML_SERIALIZED);
    Aml *args = aml_local(0), *request = aml_local(1), *reply = aml_local(2);

    nvdimm_aml_label_range(method);
    aml_append(method, aml_concatenate(aml_name("LARG"), aml_arg(3),
                                       request));
    nvdimm_aml_label_args(method, request, args);
    aml_append(method, aml_store(aml_call3("LCAL", aml_arg(0),
                                           aml_int(NVDIMM_FN_LABEL_WRITE),
                                           args),
                                 reply));
    aml_append(method, aml_return(aml_derefof(aml_index(reply,
                                                        aml_int(0)))));
    return method;
}

/* One slot's _LSI, _LSR, _LSW and _DSM: the shared bodies with its handle */
static void nvdimm_aml_slot_methods(Aml *dev, uint32_t handle)
{
    aml_append(dev, nvdimm_aml_forward("_LSI", 0,
                                       aml_call1("LSIX", aml_int(handle))));
    aml_append(dev, nvdimm_aml_forward("_LSR", 2,
                                       aml_call3("LSRX", aml_int(handle),
                                                 aml_arg(0), aml_arg(1))));
    aml_append(dev, nvdimm_aml_forward("_LSW", 3,
                                       aml_call4("LSWX", aml_int(handle),
                                                 aml_arg(0), aml_arg(1),
                                                 aml_arg(2))));
    aml_append(dev, nvdimm_aml_dsm(handle));
}


/* One slot's label methods and _DSM, as QEMU 10.0 builds them */
static void nvdimm_aml_stock_slot_methods(Aml *dev, uint32_t handle)
{
    aml_append(dev, nvdimm_aml_lsi(handle));
    aml_append(dev, nvdimm_aml_lsr(handle));
    aml_append(dev, nvdimm_aml_lsw(handle));
    aml_append(dev, nvdimm_aml_dsm(handle));
}

static Aml *nvdimm_aml_root(NVDIMMState *state, uint32_t ram_slots)
{
    Aml *dev = aml_device("NVDR");
    uint32_t slot;

    aml_append(dev, aml_name_decl("_HID", aml_string("ACPI0012")));
    aml_append(dev, nvdimm_aml_ncal(&state->dsm_io));
    aml_append(dev, nvdimm_aml_dsm(NVDIMM_ROOT_HANDLE));
    aml_append(dev, aml_name_decl("RSTA", aml_int(0)));
    aml_append(dev, nvdimm_aml_read_fit());
    if (state->media_errors) {
        aml_append(dev, nvdimm_aml_media_event());
    }
    aml_append(dev, nvdimm_aml_fit(state));
    if (state->compact_ssdt) {
        aml_append(dev, nvdimm_aml_label_call());
        aml_append(dev, nvdimm_aml_label_info());
        aml_append(dev, nvdimm_aml_label_read());
        aml_append(dev, nvdimm_aml_label_write());
    }

    /* One device per slot, so hot-added NVDIMMs have a node to bind to */
    for (slot = 0; slot < ram_slots; slot++) {
        uint32_t handle = nvdimm_slot_to_handle(slot);
        Aml *child = aml_device("NV%02X", slot);

        aml_append(child, aml_name_decl("_ADR", aml_int(handle)));
        if (state->compact_ssdt) {
            nvdimm_aml_slot_methods(child, handle);
        } else {
            nvdimm_aml_stock_slot_methods(child, handle);
        }
        aml_append(dev, child);
    }
    return dev;
}

static void nvdimm_build_ssdt(NVDIMMState *state, GArray *table_offsets,
                              GArray *table_data, BIOSLinker *linker,
                              uint32_t ram_slots, const char *oem_id)
{
    AcpiTable table = { .sig = "SSDT", .rev = 1,
                        .oem_id = oem_id, .oem_table_id = "NVDIMM" };
    Aml *ssdt, *scope;
    uint32_t page_addr_offset;

    acpi_add_table(table_offsets, table_data);
    acpi_table_begin(&table, table_data);
    ssdt = init_aml_allocator();

    scope = aml_scope("\\_SB");
    aml_append(scope, nvdimm_aml_root(state, ram_slots));
    aml_append(ssdt, scope);
    page_addr_offset = table_data->len +
        build_append_named_dword(ssdt->buf, NVDIMM_AML_PAGE_ADDR);
    g_array_append_vals(table_data, ssdt->buf->data, ssdt->buf->len);

    bios_linker_loader_alloc(linker, NVDIMM_DSM_MEM_FILE, state->dsm_mem,
                             NVDIMM_DSM_PAGE_SIZE, false /* high memory */);
    bios_linker_loader_add_pointer(linker, ACPI_BUILD_TABLE_FILE,
                                   page_addr_offset, sizeof(uint32_t),
                                   NVDIMM_DSM_MEM_FILE, 0);
    acpi_table_end(linker, &table);
    free_aml_allocator();
}

void nvdimm_build_acpi(GArray *table_offsets, GArray *table_data,
                       BIOSLinker *linker, NVDIMMState *state,
                       uint32_t ram_slots, const char *oem_id,
                       const char *oem_table_id)
{
    nvdimm_refresh_fit(state);
    nvdimm_build_ssdt(state, table_offsets, table_data, linker, ram_slots,
                      oem_id);
    /* Without NVDIMMs there is no NFIT; hot-added ones arrive via _FIT */
    if (g_hash_table_size(state->by_handle)) {
        nvdimm_build_nfit(state, table_offsets, table_data, linker,
                          oem_id, oem_table_id);
    }
}
