/*
 * Virtual NVDIMM: the NVDIMMs' health functions (Intel DSM family)
 *
 * With -machine nvdimm-health=on each NVDIMM's _DSM (UUID 4309ac30-...)
 * implements Get SMART and Health Info (1), Get SMART Threshold (2),
 * Enable Latch System Shutdown Status (10), Set SMART Threshold (17) and
 * Inject SMART (18), with the layouts of the Intel NVDIMM DSM interface
 * that Linux's nfit driver and ndctl use.  The state they read and change
 * is the device's (hw/mem/nvdimm-health.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/log.h"
#include "hw/acpi/nvdimm-smart.h"
#include "hw/mem/nvdimm-health.h"
#include "hw/mem/pc-dimm.h"
#include "trace.h"

/* Intel DSM function indexes */
#define SMART_FN_GET                1
#define SMART_FN_GET_THRESHOLD      2
#define SMART_FN_LATCH_SHUTDOWN     10
#define SMART_FN_SET_THRESHOLD      17
#define SMART_FN_INJECT             18
#define SMART_FUNCTIONS             ((1u << SMART_FN_GET) | \
                                     (1u << SMART_FN_GET_THRESHOLD) | \
                                     (1u << SMART_FN_LATCH_SHUTDOWN) | \
                                     (1u << SMART_FN_SET_THRESHOLD) | \
                                     (1u << SMART_FN_INJECT))

#define SMART_STATUS_SUCCESS        0
#define SMART_STATUS_INVALID        3

/* Get SMART and Health Info: which fields are valid */
#define SMART_VALID_HEALTH          (1u << 0)
#define SMART_VALID_SPARES          (1u << 1)
#define SMART_VALID_LIFE_USED       (1u << 2)
#define SMART_VALID_MEDIA_TEMP      (1u << 3)
#define SMART_VALID_CTRL_TEMP       (1u << 4)
#define SMART_VALID_SHUTDOWN_COUNT  (1u << 5)
#define SMART_VALID_ALARMS          (1u << 9)
#define SMART_VALID_SHUTDOWN_STATE  (1u << 10)

/* Inject SMART: which fields the call sets */
#define INJECT_MEDIA_TEMP           (1u << 0)
#define INJECT_SPARES               (1u << 1)
#define INJECT_FATAL                (1u << 2)
#define INJECT_SHUTDOWN             (1u << 3)
#define INJECT_ALL                  0xf

/* Temperatures: bit 15 is the sign, bits 14..0 the magnitude */
#define TEMP_SIGN                   0x8000
#define TEMP_MAGNITUDE              0x7fff

/* Output of Get SMART and Health Info, after the status */
typedef struct QEMU_PACKED SmartInfo {
    uint32_t flags;
    uint8_t reserved0[4];
    uint8_t health;
    uint8_t spares;
    uint8_t life_used;
    uint8_t alarm_flags;
    uint16_t media_temp;
    uint16_t ctrl_temp;
    uint32_t shutdown_count;
    uint8_t ait_status;
    uint16_t pmic_temp;
    uint8_t reserved1[8];
    uint8_t shutdown_state;
    uint32_t vendor_size;
    uint8_t vendor_data[92];
} SmartInfo;
QEMU_BUILD_BUG_ON(sizeof(SmartInfo) != 128);

/* Output of Get SMART Threshold after the status; Set's input is 7 bytes */
typedef struct QEMU_PACKED SmartThreshold {
    uint16_t alarm_control;
    uint8_t spares;
    uint16_t media_temp;
    uint16_t ctrl_temp;
    uint8_t reserved;
} SmartThreshold;
QEMU_BUILD_BUG_ON(sizeof(SmartThreshold) != 8);
#define SMART_SET_THRESHOLD_IN      7

/* Input of Inject SMART */
typedef struct QEMU_PACKED SmartInject {
    uint64_t flags;
    uint8_t media_temp_enable;
    uint16_t media_temp;
    uint8_t spares_enable;
    uint8_t spares;
    uint8_t fatal_enable;
    uint8_t unsafe_shutdown_enable;
} SmartInject;
QEMU_BUILD_BUG_ON(sizeof(SmartInject) != 15);

uint32_t nvdimm_smart_functions(void)
{
    return SMART_FUNCTIONS;
}

bool nvdimm_smart_has_function(uint32_t function)
{
    return function < 32 && (SMART_FUNCTIONS & (1u << function));
}

static uint16_t temp_encode(int32_t temp)
{
    return temp < 0 ? TEMP_SIGN | MIN(-temp, TEMP_MAGNITUDE)
                    : MIN(temp, TEMP_MAGNITUDE);
}

static int32_t temp_decode(uint16_t raw)
{
    int32_t magnitude = raw & TEMP_MAGNITUDE;

    return raw & TEMP_SIGN ? -magnitude : magnitude;
}

static bool temp_ok(uint16_t raw)
{
    return nvdimm_health_temp_valid(temp_decode(raw));
}

static uint32_t smart_get(NVDIMMDevice *nvdimm, uint8_t *out,
                          size_t *out_len)
{
    NVDIMMHealthReport r;
    SmartInfo info = { 0 };
    uint32_t flags = SMART_VALID_HEALTH | SMART_VALID_SPARES |
                     SMART_VALID_LIFE_USED | SMART_VALID_MEDIA_TEMP |
                     SMART_VALID_CTRL_TEMP | SMART_VALID_ALARMS;

    nvdimm_health_report(nvdimm, &r);
    /* Without a shutdown record, QEMU knows nothing of the last one */
    if (r.count_valid) {
        flags |= SMART_VALID_SHUTDOWN_COUNT;
    }
    if (r.count_valid || r.shutdown_dirty) {
        flags |= SMART_VALID_SHUTDOWN_STATE;
    }
    info.flags = cpu_to_le32(flags);
    info.health = r.health;
    info.spares = r.spares;
    info.life_used = r.life_used;
    info.alarm_flags = r.alarms;
    info.media_temp = cpu_to_le16(temp_encode(r.media_temp));
    info.ctrl_temp = cpu_to_le16(temp_encode(r.ctrl_temp));
    info.shutdown_count = cpu_to_le32(r.count_valid ? r.shutdown_count : 0);
    info.shutdown_state = r.shutdown_dirty;
    memcpy(out, &info, sizeof(info));
    *out_len = sizeof(info);
    return SMART_STATUS_SUCCESS;
}

static uint32_t smart_get_threshold(NVDIMMDevice *nvdimm, uint8_t *out,
                                    size_t *out_len)
{
    NVDIMMThresholds t;
    SmartThreshold thr = { 0 };

    nvdimm_health_get_thresholds(nvdimm, &t);
    thr.alarm_control = cpu_to_le16(t.alarm_control);
    thr.spares = t.spares;
    thr.media_temp = cpu_to_le16(temp_encode(t.media_temp));
    thr.ctrl_temp = cpu_to_le16(temp_encode(t.ctrl_temp));
    memcpy(out, &thr, sizeof(thr));
    *out_len = sizeof(thr);
    return SMART_STATUS_SUCCESS;
}

static uint32_t smart_set_threshold(NVDIMMDevice *nvdimm, const uint8_t *in)
{
    SmartThreshold thr = { 0 };
    NVDIMMThresholds t;

    memcpy(&thr, in, SMART_SET_THRESHOLD_IN);
    t = (NVDIMMThresholds) {
        .alarm_control = le16_to_cpu(thr.alarm_control),
        .spares = thr.spares,
        .media_temp = temp_decode(le16_to_cpu(thr.media_temp)),
        .ctrl_temp = temp_decode(le16_to_cpu(thr.ctrl_temp)),
    };
    trace_acpi_nvdimm_smart_set_threshold(t.alarm_control, t.spares,
                                          t.media_temp, t.ctrl_temp);
    if ((t.alarm_control & ~NVDIMM_ALARM_ALL) || t.spares > 100 ||
        !temp_ok(le16_to_cpu(thr.media_temp)) ||
        !temp_ok(le16_to_cpu(thr.ctrl_temp))) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: Set SMART Threshold with"
                      " alarms 0x%" PRIx16 " spares %" PRIu8 "%%, or a"
                      " temperature out of range\n", t.alarm_control,
                      t.spares);
        return SMART_STATUS_INVALID;
    }
    nvdimm_health_set_thresholds(nvdimm, &t);
    return SMART_STATUS_SUCCESS;
}

static bool inject_args_valid(const SmartInject *inj, uint64_t flags)
{
    if (flags & ~(uint64_t)INJECT_ALL) {
        return false;
    }
    if ((flags & INJECT_MEDIA_TEMP) && inj->media_temp_enable &&
        !temp_ok(le16_to_cpu(inj->media_temp))) {
        return false;
    }
    return !((flags & INJECT_SPARES) && inj->spares_enable &&
             inj->spares > 100);
}

static uint32_t smart_inject(NVDIMMDevice *nvdimm, const uint8_t *in)
{
    SmartInject inj;
    uint64_t flags;

    memcpy(&inj, in, sizeof(inj));
    flags = le64_to_cpu(inj.flags);
    trace_acpi_nvdimm_smart_inject(flags);
    if (!inject_args_valid(&inj, flags)) {
        qemu_log_mask(LOG_GUEST_ERROR, "nvdimm: Inject SMART with fields"
                      " 0x%" PRIx64 ": an unknown field or a value out of"
                      " range\n", flags);
        return SMART_STATUS_INVALID;
    }
    if (flags & INJECT_MEDIA_TEMP) {
        nvdimm_health_inject_media_temp(nvdimm, inj.media_temp_enable,
                                        temp_decode(le16_to_cpu(
                                                        inj.media_temp)));
    }
    if (flags & INJECT_SPARES) {
        nvdimm_health_inject_spares(nvdimm, inj.spares_enable, inj.spares);
    }
    if (flags & INJECT_FATAL) {
        nvdimm_health_inject_fatal(nvdimm, inj.fatal_enable);
    }
    if (flags & INJECT_SHUTDOWN) {
        nvdimm_health_inject_unsafe_shutdown(nvdimm,
                                             inj.unsafe_shutdown_enable);
    }
    return SMART_STATUS_SUCCESS;
}

/*
 * The count is always latched: the shutdown record keeps it whatever the
 * guest asks, so only the argument is checked.
 */
static uint32_t smart_latch_shutdown(const uint8_t *in)
{
    return in[0] <= 1 ? SMART_STATUS_SUCCESS : SMART_STATUS_INVALID;
}

uint32_t nvdimm_smart_call(NVDIMMDevice *nvdimm, uint32_t function,
                           const uint8_t *in, size_t in_len,
                           uint8_t *out, size_t out_max, size_t *out_len)
{
    *out_len = 0;
    assert(in_len >= sizeof(SmartInject) && out_max >= sizeof(SmartInfo));
    switch (function) {
    case SMART_FN_GET:
        return smart_get(nvdimm, out, out_len);
    case SMART_FN_GET_THRESHOLD:
        return smart_get_threshold(nvdimm, out, out_len);
    case SMART_FN_SET_THRESHOLD:
        return smart_set_threshold(nvdimm, in);
    case SMART_FN_INJECT:
        return smart_inject(nvdimm, in);
    case SMART_FN_LATCH_SHUTDOWN:
        return smart_latch_shutdown(in);
    default:
        g_assert_not_reached();
    }
}

typedef struct SlotBitmap {
    uint8_t *bits;
    size_t len;
} SlotBitmap;

static void take_event(gpointer key, gpointer value, gpointer opaque)
{
    NVDIMMDevice *nvdimm = value;
    SlotBitmap *bitmap = opaque;
    unsigned slot = PC_DIMM(nvdimm)->slot;

    if (slot / 8 < bitmap->len && nvdimm_health_take_event(nvdimm)) {
        bitmap->bits[slot / 8] |= 1u << (slot % 8);
    }
}

void nvdimm_smart_take_events(NVDIMMState *state, uint8_t *bitmap,
                              size_t len)
{
    SlotBitmap view = { .bits = bitmap, .len = len };

    memset(bitmap, 0, len);
    if (state->by_handle) {
        g_hash_table_foreach(state->by_handle, take_event, &view);
    }
}
