/*
 * Virtual NVDIMM: the root device's _DSM functions
 *
 * With -machine nvdimm-media-errors=on the NVDIMM root device (ACPI0012)
 * implements the ACPI 6.x root _DSM functions (UUID 2f10e7a4-...): Query
 * ARS Capabilities (1), Start ARS (2), Query ARS Status (3), Clear
 * Uncorrectable Error (4), Translate SPA (5), ARS Error Inject (7),
 * Inject Clear (8) and Inject Status (9).  The errors they scrub, clear
 * and inject are the NVDIMMs' poisoned ranges (hw/mem/nvdimm-errors.c).
 *
 * A scrub is done as soon as it starts: Query ARS Status reads the lists,
 * so it costs time in proportion to the errors, not to the NVDIMMs' size.
 * Its results must fit the mailbox page; when they do not, Query ARS
 * Status says so (extended status 3, overflow) and gives the restart
 * address, from which the guest starts the next scrub.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qapi/error.h"
#include "hw/mem/nvdimm-errors.h"
#include "hw/acpi/nvdimm-ars.h"
#include "trace.h"

/* Root _DSM function indexes */
#define ARS_FN_QUERY            0
#define ARS_FN_CAP              1
#define ARS_FN_START            2
#define ARS_FN_STATUS           3
#define ARS_FN_CLEAR_ERROR      4
#define ARS_FN_TRANSLATE_SPA    5
#define ARS_FN_INJECT           7
#define ARS_FN_INJECT_CLEAR     8
#define ARS_FN_INJECT_STATUS    9
#define ARS_FUNCTIONS           ((1u << ARS_FN_QUERY) | \
                                 (1u << ARS_FN_CAP) | \
                                 (1u << ARS_FN_START) | \
                                 (1u << ARS_FN_STATUS) | \
                                 (1u << ARS_FN_CLEAR_ERROR) | \
                                 (1u << ARS_FN_TRANSLATE_SPA) | \
                                 (1u << ARS_FN_INJECT) | \
                                 (1u << ARS_FN_INJECT_CLEAR) | \
                                 (1u << ARS_FN_INJECT_STATUS))

/* Status, low 16 bits of the status word */
#define ARS_STATUS_SUCCESS      0
#define ARS_STATUS_UNSUPPORTED  1
#define ARS_STATUS_INVALID      2

/* Extended status, high 16 bits */
#define ARS_EXT(x)              ((uint32_t)(x) << 16)
#define ARS_CAP_PERSISTENT      ARS_EXT(1 << 1)
#define ARS_DONE                ARS_EXT(0)
#define ARS_NONE_THIS_BOOT      ARS_EXT(2)
#define ARS_STOPPED             ARS_EXT(3)

/* Start ARS type: persistent memory */
#define ARS_TYPE_PERSISTENT     (1 << 1)
/* Query ARS Status flags: more errors than records */
#define ARS_FLAG_OVERFLOW       (1 << 0)
/* ARS Error Inject options: notify the guest */
#define ARS_INJECT_NOTIFY       (1 << 0)

/*
 * Query ARS Status output: the status word, 44 bytes of header, then the
 * records.  All of it must fit the 4088 bytes of data a reply can carry,
 * and Linux sizes its buffer from what Query ARS Capabilities says.
 */
#define ARS_STATUS_HEADER       48
#define ARS_MAX_RECORDS         168
#define ARS_MAX_STATUS_OUT      (ARS_STATUS_HEADER + \
                                 ARS_MAX_RECORDS * sizeof(NvdimmArsRecord))
/* Inject Status: count, then base/length pairs, up to the same size */
#define ARS_MAX_INJECT_RECORDS  ((ARS_MAX_STATUS_OUT - 8) / 16)

/*
 * Clear Uncorrectable Error works in units of this many bytes: a power of
 * two that divides a 512-byte sector, as Linux requires.
 */
#define ARS_CLEAR_UNIT          256

typedef struct QEMU_PACKED NvdimmArsRecord {
    uint32_t handle;
    uint32_t reserved;
    uint64_t addr;
    uint64_t length;
} NvdimmArsRecord;

/* The last scrub: what Query ARS Status reports until the next one */
typedef struct NVDIMMArs {
    bool scrubbed;
    uint64_t addr;
    uint64_t length;
    uint16_t type;
    bool overflow;
    uint64_t restart_addr;
    uint64_t restart_length;
    uint32_t nrecords;
    NvdimmArsRecord records[ARS_MAX_RECORDS];
} NVDIMMArs;

QEMU_BUILD_BUG_ON(ARS_MAX_STATUS_OUT != 4080);

uint32_t nvdimm_ars_functions(NVDIMMState *state)
{
    return state->media_errors ? ARS_FUNCTIONS : 0;
}

/*
 * -- The NVDIMMs, by guest physical address --
 *
 * From the mailbox's handle index (state->by_handle, rebuilt on each
 * plug), not from a walk of the QOM tree on every call.
 */

static uint64_t nvdimm_spa_base(NVDIMMDevice *nvdimm)
{
    return PC_DIMM(nvdimm)->addr;
}

static uint64_t nvdimm_spa_size(NVDIMMDevice *nvdimm)
{
    return memory_region_size(nvdimm->nvdimm_mr);
}

static gint nvdimm_spa_compare(gconstpointer a, gconstpointer b)
{
    uint64_t base_a = nvdimm_spa_base(NVDIMM(a));
    uint64_t base_b = nvdimm_spa_base(NVDIMM(b));

    return base_a < base_b ? -1 : base_a > base_b;
}

/* The plugged NVDIMMs, in address order */
static GList *nvdimm_ars_devices(NVDIMMState *state)
{
    return g_list_sort(g_hash_table_get_values(state->by_handle),
                       nvdimm_spa_compare);
}

/* The NVDIMM that holds all of [addr, addr + length), if one does */
static NVDIMMDevice *nvdimm_holding(NVDIMMState *state, uint64_t addr,
                                    uint64_t length)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, state->by_handle);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        NVDIMMDevice *nvdimm = NVDIMM(value);
        uint64_t base = nvdimm_spa_base(nvdimm);

        if (addr >= base &&
            nvdimm_errors_range_valid(nvdimm, addr - base, length)) {
            return nvdimm;
        }
    }
    return NULL;
}

/* Argument fields: the AML zero-fills the argument area past Arg3 */
static uint64_t arg64(const uint8_t *in, size_t offset)
{
    return ldq_le_p(in + offset);
}

/* -- Query ARS Capabilities -- */

static uint32_t ars_cap(NVDIMMState *state, const uint8_t *in,
                        uint8_t *out, size_t *out_len)
{
    uint64_t addr = arg64(in, 0), length = arg64(in, 8);

    if (!nvdimm_holding(state, addr, length)) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: ARS capabilities for"
                      " 0x%" PRIx64 "+0x%" PRIx64 ", not an NVDIMM range\n",
                      addr, length);
        return ARS_STATUS_INVALID;
    }
    stl_le_p(out, ARS_MAX_STATUS_OUT);
    stl_le_p(out + 4, ARS_CLEAR_UNIT);
    stl_le_p(out + 8, 0);       /* flags, reserved */
    *out_len = 12;
    return ARS_STATUS_SUCCESS | ARS_CAP_PERSISTENT;
}

/* -- Start ARS: the scrub runs at once -- */

typedef struct ArsScan {
    NVDIMMArs *ars;
    uint64_t base;              /* of the NVDIMM being scanned */
    uint32_t handle;
} ArsScan;

static bool ars_add_record(NVDIMMDevice *nvdimm,
                           const NVDIMMErrorRange *range, void *opaque)
{
    ArsScan *scan = opaque;
    NVDIMMArs *ars = scan->ars;
    uint64_t addr = scan->base + range->offset;

    if (ars->nrecords == ARS_MAX_RECORDS) {
        ars->overflow = true;
        ars->restart_addr = addr;
        ars->restart_length = ars->addr + ars->length - addr;
        return false;
    }
    ars->records[ars->nrecords++] = (NvdimmArsRecord) {
        .handle = cpu_to_le32(scan->handle),
        .addr = cpu_to_le64(addr),
        .length = cpu_to_le64(range->length),
    };
    return true;
}

static void ars_scan_nvdimm(NVDIMMArs *ars, NVDIMMDevice *nvdimm)
{
    ArsScan scan = {
        .ars = ars,
        .base = nvdimm_spa_base(nvdimm),
        .handle = nvdimm_acpi_device_handle(nvdimm),
    };
    uint64_t start = MAX(ars->addr, scan.base);
    uint64_t end = MIN(ars->addr + ars->length,
                       scan.base + nvdimm_spa_size(nvdimm));

    if (start < end) {
        nvdimm_errors_foreach(nvdimm, start - scan.base, end - start,
                              ars_add_record, &scan);
    }
}

/*
 * The records of the last scrub's range, read when the guest asks for
 * them: an error cleared since the scrub started is not reported, or
 * Linux would mark it bad again after the write that cleared it.
 */
static void ars_scrub(NVDIMMState *state, NVDIMMArs *ars)
{
    g_autoptr(GList) list = nvdimm_ars_devices(state);
    GList *l;

    ars->nrecords = 0;
    ars->overflow = false;
    ars->restart_addr = ars->restart_length = 0;
    for (l = list; l && !ars->overflow; l = l->next) {
        ars_scan_nvdimm(ars, NVDIMM(l->data));
    }
    trace_acpi_nvdimm_ars_scrub(ars->addr, ars->length, ars->nrecords,
                                ars->overflow);
}

static uint32_t ars_start(NVDIMMState *state, const uint8_t *in,
                          uint8_t *out, size_t *out_len)
{
    NVDIMMArs *ars = state->ars;
    uint64_t addr = arg64(in, 0), length = arg64(in, 8);
    uint16_t type = lduw_le_p(in + 16);

    if (!length || addr + length < addr || !(type & ARS_TYPE_PERSISTENT)) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: Start ARS of 0x%" PRIx64
                      "+0x%" PRIx64 " type 0x%" PRIx16 " refused\n",
                      addr, length, type);
        return ARS_STATUS_INVALID;
    }
    ars->addr = addr;
    ars->length = length;
    ars->type = ARS_TYPE_PERSISTENT;
    ars->scrubbed = true;
    stl_le_p(out, 0);           /* estimated seconds: none */
    *out_len = 4;
    return ARS_STATUS_SUCCESS;
}

/* -- Query ARS Status -- */

static uint32_t ars_status(NVDIMMState *state, uint8_t *out, size_t *out_len)
{
    NVDIMMArs *ars = state->ars;
    size_t records;

    if (ars->scrubbed) {
        ars_scrub(state, ars);
    }
    records = ars->nrecords * sizeof(NvdimmArsRecord);
    /* out_length counts the whole output, the status word included */
    stl_le_p(out, ARS_STATUS_HEADER + records);
    stq_le_p(out + 4, ars->addr);
    stq_le_p(out + 12, ars->length);
    stq_le_p(out + 20, ars->restart_addr);
    stq_le_p(out + 28, ars->restart_length);
    stw_le_p(out + 36, ars->type);
    stw_le_p(out + 38, ars->overflow ? ARS_FLAG_OVERFLOW : 0);
    stl_le_p(out + 40, ars->nrecords);
    memcpy(out + ARS_STATUS_HEADER - 4, ars->records, records);
    *out_len = ARS_STATUS_HEADER - 4 + records;
    if (!ars->scrubbed) {
        return ARS_STATUS_SUCCESS | ARS_NONE_THIS_BOOT;
    }
    return ARS_STATUS_SUCCESS | (ars->overflow ? ARS_STOPPED : ARS_DONE);
}

/* -- Clear Uncorrectable Error -- */

static uint32_t ars_clear_error(NVDIMMState *state, const uint8_t *in,
                                uint8_t *out, size_t *out_len)
{
    uint64_t addr = arg64(in, 0), length = arg64(in, 8);
    NVDIMMDevice *nvdimm = nvdimm_holding(state, addr, length);

    if (!nvdimm || (addr | length) % ARS_CLEAR_UNIT) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: Clear Uncorrectable Error"
                      " of 0x%" PRIx64 "+0x%" PRIx64 " refused\n",
                      addr, length);
        return ARS_STATUS_INVALID;
    }
    nvdimm_errors_clear(nvdimm, addr - nvdimm_spa_base(nvdimm), length);
    /* The whole range is clean now, whatever was poisoned in it */
    stl_le_p(out, 0);
    stq_le_p(out + 4, length);
    *out_len = 12;
    return ARS_STATUS_SUCCESS;
}

/* -- Translate SPA -- */

static uint32_t ars_translate_spa(NVDIMMState *state, const uint8_t *in,
                                  uint8_t *out, size_t *out_len)
{
    uint64_t spa = arg64(in, 0), base;
    NVDIMMDevice *nvdimm = nvdimm_holding(state, spa, 1);

    if (!nvdimm) {
        return ARS_STATUS_INVALID;
    }
    base = nvdimm_spa_base(nvdimm);
    stl_le_p(out, 0);           /* flags, reserved */
    stq_le_p(out + 4, base + nvdimm_spa_size(nvdimm) - spa);
    stl_le_p(out + 12, 1);      /* one NVDIMM: no interleave */
    stl_le_p(out + 16, nvdimm_acpi_device_handle(nvdimm));
    stl_le_p(out + 20, 0);
    stq_le_p(out + 24, spa - base);
    *out_len = 32;
    return ARS_STATUS_SUCCESS;
}

/* -- Error injection -- */

static uint32_t ars_inject(NVDIMMState *state, const uint8_t *in)
{
    uint64_t addr = arg64(in, 0), length = arg64(in, 8);
    NVDIMMDevice *nvdimm = nvdimm_holding(state, addr, length);
    Error *err = NULL;

    if (!nvdimm || !nvdimm_errors_add(nvdimm, addr - nvdimm_spa_base(nvdimm),
                                      length, &err)) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: ARS Error Inject of"
                      " 0x%" PRIx64 "+0x%" PRIx64 " refused%s%s\n", addr,
                      length, err ? ": " : "",
                      err ? error_get_pretty(err) : "");
        error_free(err);
        return ARS_STATUS_INVALID;
    }
    if (in[16] & ARS_INJECT_NOTIFY) {
        nvdimm_errors_notify_guest(state);
    }
    return ARS_STATUS_SUCCESS;
}

static uint32_t ars_inject_clear(NVDIMMState *state, const uint8_t *in)
{
    uint64_t addr = arg64(in, 0), length = arg64(in, 8);
    NVDIMMDevice *nvdimm = nvdimm_holding(state, addr, length);

    if (!nvdimm) {
        return ARS_STATUS_INVALID;
    }
    nvdimm_errors_clear(nvdimm, addr - nvdimm_spa_base(nvdimm), length);
    return ARS_STATUS_SUCCESS;
}

typedef struct InjectList {
    uint8_t *out;
    uint64_t base;
    uint32_t count;
} InjectList;

static bool ars_list_injected(NVDIMMDevice *nvdimm,
                              const NVDIMMErrorRange *range, void *opaque)
{
    InjectList *list = opaque;
    uint8_t *rec = list->out + 4 + list->count * 16;

    if (list->count == ARS_MAX_INJECT_RECORDS) {
        return false;
    }
    stq_le_p(rec, list->base + range->offset);
    stq_le_p(rec + 8, range->length);
    list->count++;
    return true;
}

static uint32_t ars_inject_status(NVDIMMState *state, uint8_t *out,
                                  size_t *out_len)
{
    g_autoptr(GList) devices = nvdimm_ars_devices(state);
    InjectList list = { .out = out };
    GList *l;

    for (l = devices; l; l = l->next) {
        NVDIMMDevice *nvdimm = NVDIMM(l->data);

        list.base = nvdimm_spa_base(nvdimm);
        nvdimm_errors_foreach(nvdimm, 0, nvdimm_spa_size(nvdimm),
                              ars_list_injected, &list);
    }
    stl_le_p(out, list.count);
    *out_len = 4 + list.count * 16;
    return ARS_STATUS_SUCCESS;
}

uint32_t nvdimm_ars_call(NVDIMMState *state, uint32_t function,
                         const uint8_t *in, size_t in_len,
                         uint8_t *out, size_t out_max, size_t *out_len)
{
    /* Every function's input fits 24 bytes, its output the reply */
    assert(in_len >= 24 && out_max >= ARS_MAX_STATUS_OUT - 4);
    *out_len = 0;
    if (!state->media_errors) {
        return ARS_STATUS_UNSUPPORTED;
    }
    if (!state->ars) {
        state->ars = g_new0(NVDIMMArs, 1);
    }
    switch (function) {
    case ARS_FN_CAP:
        return ars_cap(state, in, out, out_len);
    case ARS_FN_START:
        return ars_start(state, in, out, out_len);
    case ARS_FN_STATUS:
        return ars_status(state, out, out_len);
    case ARS_FN_CLEAR_ERROR:
        return ars_clear_error(state, in, out, out_len);
    case ARS_FN_TRANSLATE_SPA:
        return ars_translate_spa(state, in, out, out_len);
    case ARS_FN_INJECT:
        return ars_inject(state, in);
    case ARS_FN_INJECT_CLEAR:
        return ars_inject_clear(state, in);
    case ARS_FN_INJECT_STATUS:
        return ars_inject_status(state, out, out_len);
    default:
        return ARS_STATUS_UNSUPPORTED;
    }
}
