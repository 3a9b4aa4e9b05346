/*
 * Virtual NVDIMM: health (SMART) and the unsafe-shutdown count
 *
 * With -machine nvdimm-health=on each NVDIMM has a health state that the
 * guest reads through the Intel DSM family's SMART functions
 * (hw/acpi/nvdimm-smart.c) and the host sets over QMP.  A threshold the
 * guest enabled, once crossed, or a worse health state, raises a health
 * event: Notify(0x81) on the NVDIMM's ACPI device.
 *
 * The unsafe-shutdown count and the state of the last shutdown are part
 * of the health state; nothing counts unsafe shutdowns yet, so the count
 * is reported as unknown.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "hw/acpi/acpi_dev_interface.h"
#include "hw/boards.h"
#include "hw/mem/nvdimm-health.h"
#include "migration/vmstate.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/qapi-commands-nvdimm.h"
#include "qapi/qapi-visit-nvdimm.h"
#include "qapi/qobject-input-visitor.h"
#include "qemu/nvdimm-utils.h"
#include "qobject/qdict.h"
#include "trace.h"

/* Host-side defaults: a new, healthy device at room temperature */
#define DEFAULT_SPARES              100
#define DEFAULT_MEDIA_TEMP          (25 * NVDIMM_TEMP_UNIT)
#define DEFAULT_CTRL_TEMP           (30 * NVDIMM_TEMP_UNIT)
#define DEFAULT_SPARES_THRESHOLD    10
#define DEFAULT_MEDIA_TEMP_THRESHOLD (85 * NVDIMM_TEMP_UNIT)
#define DEFAULT_CTRL_TEMP_THRESHOLD  (95 * NVDIMM_TEMP_UNIT)

/* What the 16-bit sign-and-magnitude encoding can carry, in degrees */
#define TEMP_MIN_CELSIUS            -273
#define TEMP_MAX_CELSIUS            2047

/* What the guest injected over the host's values */
#define INJECTED_MEDIA_TEMP         (1 << 0)
#define INJECTED_SPARES             (1 << 1)
#define INJECTED_FATAL              (1 << 2)

typedef struct NVDIMMHealth {
    NVDIMMDevice *owner;

    /* the host's values (QMP) */
    uint8_t health;
    uint8_t spares;
    uint8_t life_used;
    int32_t media_temp;
    int32_t ctrl_temp;

    /* the guest's */
    NVDIMMThresholds thresholds;
    uint8_t injected;
    int32_t injected_media_temp;
    uint8_t injected_spares;

    bool shutdown_dirty;
    bool count_valid;
    uint32_t shutdown_count;

    /* events: what the guest was last told, and whether it must look */
    uint8_t notified_alarms;
    uint8_t notified_health;
    bool event;
} NVDIMMHealth;

bool nvdimm_health_enabled(void)
{
    MachineState *ms = MACHINE(qdev_get_machine());

    return ms->nvdimms_state && ms->nvdimms_state->health;
}

static const char *nvdimm_health_name(NVDIMMHealth *h)
{
    return DEVICE(h->owner)->id ?: "(no id)";
}

/* The report */

static uint8_t effective_health(NVDIMMHealth *h)
{
    return h->injected & INJECTED_FATAL ? NVDIMM_HEALTH_FATAL : h->health;
}

static uint8_t effective_spares(NVDIMMHealth *h)
{
    return h->injected & INJECTED_SPARES ? h->injected_spares : h->spares;
}

static int32_t effective_media_temp(NVDIMMHealth *h)
{
    return h->injected & INJECTED_MEDIA_TEMP ? h->injected_media_temp
                                             : h->media_temp;
}

static uint8_t tripped_alarms(NVDIMMHealth *h)
{
    const NVDIMMThresholds *t = &h->thresholds;
    uint8_t alarms = 0;

    if (effective_spares(h) <= t->spares) {
        alarms |= NVDIMM_ALARM_SPARES;
    }
    if (effective_media_temp(h) >= t->media_temp) {
        alarms |= NVDIMM_ALARM_MEDIA_TEMP;
    }
    if (h->ctrl_temp >= t->ctrl_temp) {
        alarms |= NVDIMM_ALARM_CTRL_TEMP;
    }
    return alarms & t->alarm_control;
}

void nvdimm_health_report(NVDIMMDevice *nvdimm, NVDIMMHealthReport *report)
{
    NVDIMMHealth *h = nvdimm->health;

    *report = (NVDIMMHealthReport) {
        .health = effective_health(h),
        .spares = effective_spares(h),
        .life_used = h->life_used,
        .media_temp = effective_media_temp(h),
        .ctrl_temp = h->ctrl_temp,
        .alarms = tripped_alarms(h),
        .shutdown_dirty = h->shutdown_dirty,
        .count_valid = h->count_valid,
        .shutdown_count = h->shutdown_count,
    };
}

/* Events */

/*
 * The guest learns of a health event from Notify(0x81) on the NVDIMM's
 * device, which only AML can raise: the NVDIMM hotplug event makes the
 * guest evaluate _FIT, whose AML asks QEMU which devices to notify.
 */
static void nvdimm_health_raise_event(NVDIMMHealth *h)
{
    Object *acpi = object_resolve_type_unambiguous(TYPE_ACPI_DEVICE_IF,
                                                   NULL);

    h->event = true;
    trace_nvdimm_health_event(nvdimm_health_name(h), tripped_alarms(h),
                              effective_health(h), h->shutdown_dirty);
    if (acpi) {
        acpi_send_event(DEVICE(acpi), ACPI_NVDIMM_HOTPLUG_STATUS);
    }
}

/* A newly tripped alarm, or a worse health state, is an event */
static void nvdimm_health_changed(NVDIMMHealth *h)
{
    uint8_t alarms = tripped_alarms(h), health = effective_health(h);
    bool news = (alarms & ~h->notified_alarms) || health > h->notified_health;

    h->notified_alarms = alarms;
    h->notified_health = health;
    if (news) {
        nvdimm_health_raise_event(h);
    }
}

bool nvdimm_health_take_event(NVDIMMDevice *nvdimm)
{
    bool event = nvdimm->health && nvdimm->health->event;

    if (event) {
        nvdimm->health->event = false;
    }
    return event;
}

/* The guest's side */

void nvdimm_health_get_thresholds(NVDIMMDevice *nvdimm, NVDIMMThresholds *t)
{
    *t = nvdimm->health->thresholds;
}

void nvdimm_health_set_thresholds(NVDIMMDevice *nvdimm,
                                  const NVDIMMThresholds *t)
{
    nvdimm->health->thresholds = *t;
    nvdimm->health->thresholds.alarm_control &= NVDIMM_ALARM_ALL;
    nvdimm_health_changed(nvdimm->health);
}

static void set_injected(NVDIMMHealth *h, uint8_t what, bool enable)
{
    if (enable) {
        h->injected |= what;
    } else {
        h->injected &= ~what;
    }
}

void nvdimm_health_inject_media_temp(NVDIMMDevice *nvdimm, bool enable,
                                     int32_t temp)
{
    nvdimm->health->injected_media_temp = temp;
    set_injected(nvdimm->health, INJECTED_MEDIA_TEMP, enable);
    nvdimm_health_changed(nvdimm->health);
}

void nvdimm_health_inject_spares(NVDIMMDevice *nvdimm, bool enable,
                                 uint8_t spares)
{
    nvdimm->health->injected_spares = MIN(spares, 100);
    set_injected(nvdimm->health, INJECTED_SPARES, enable);
    nvdimm_health_changed(nvdimm->health);
}

void nvdimm_health_inject_fatal(NVDIMMDevice *nvdimm, bool enable)
{
    set_injected(nvdimm->health, INJECTED_FATAL, enable);
    nvdimm_health_changed(nvdimm->health);
}

void nvdimm_health_inject_unsafe_shutdown(NVDIMMDevice *nvdimm, bool enable)
{
    NVDIMMHealth *h = nvdimm->health;

    if (enable) {
        h->shutdown_count++;
        h->shutdown_dirty = true;
        nvdimm_health_raise_event(h);
    } else {
        h->shutdown_dirty = false;
    }
}

/* Migration */

static bool nvdimm_health_needed(void *opaque)
{
    return nvdimm_health_enabled();
}

bool nvdimm_health_temp_valid(int32_t temp)
{
    return temp >= TEMP_MIN_CELSIUS * NVDIMM_TEMP_UNIT &&
           temp < (TEMP_MAX_CELSIUS + 1) * NVDIMM_TEMP_UNIT;
}

static bool temps_valid(NVDIMMHealth *h)
{
    return nvdimm_health_temp_valid(h->media_temp) &&
           nvdimm_health_temp_valid(h->ctrl_temp) &&
           nvdimm_health_temp_valid(h->injected_media_temp) &&
           nvdimm_health_temp_valid(h->thresholds.media_temp) &&
           nvdimm_health_temp_valid(h->thresholds.ctrl_temp);
}

static bool state_valid(NVDIMMHealth *h)
{
    return h->health <= NVDIMM_HEALTH_FATAL && h->spares <= 100 &&
           h->life_used <= 100 && h->injected_spares <= 100 &&
           h->thresholds.spares <= 100 &&
           !(h->thresholds.alarm_control & ~NVDIMM_ALARM_ALL) &&
           !(h->injected & ~(INJECTED_MEDIA_TEMP | INJECTED_SPARES |
                             INJECTED_FATAL)) &&
           temps_valid(h);
}

/* The stream is untrusted: values the guest could not have seen fail */
static int nvdimm_health_post_load(void *opaque, int version_id)
{
    NVDIMMHealth *h = opaque;

    if (!state_valid(h)) {
        error_report("nvdimm '%s': migrated health state out of range",
                     nvdimm_health_name(h));
        return -EINVAL;
    }
    return 0;
}

static const VMStateDescription vmstate_nvdimm_health = {
    .name = "nvdimm/health",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = nvdimm_health_needed,
    .post_load = nvdimm_health_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(health, NVDIMMHealth),
        VMSTATE_UINT8(spares, NVDIMMHealth),
        VMSTATE_UINT8(life_used, NVDIMMHealth),
        VMSTATE_INT32(media_temp, NVDIMMHealth),
        VMSTATE_INT32(ctrl_temp, NVDIMMHealth),
        VMSTATE_UINT16(thresholds.alarm_control, NVDIMMHealth),
        VMSTATE_UINT8(thresholds.spares, NVDIMMHealth),
        VMSTATE_INT32(thresholds.media_temp, NVDIMMHealth),
        VMSTATE_INT32(thresholds.ctrl_temp, NVDIMMHealth),
        VMSTATE_UINT8(injected, NVDIMMHealth),
        VMSTATE_INT32(injected_media_temp, NVDIMMHealth),
        VMSTATE_UINT8(injected_spares, NVDIMMHealth),
        VMSTATE_BOOL(shutdown_dirty, NVDIMMHealth),
        VMSTATE_BOOL(count_valid, NVDIMMHealth),
        VMSTATE_UINT32(shutdown_count, NVDIMMHealth),
        VMSTATE_UINT8(notified_alarms, NVDIMMHealth),
        VMSTATE_UINT8(notified_health, NVDIMMHealth),
        VMSTATE_BOOL(event, NVDIMMHealth),
        VMSTATE_END_OF_LIST()
    },
};

/* Realize */

static void nvdimm_health_defaults(NVDIMMHealth *h)
{
    h->spares = DEFAULT_SPARES;
    h->media_temp = DEFAULT_MEDIA_TEMP;
    h->ctrl_temp = DEFAULT_CTRL_TEMP;
    h->injected_media_temp = DEFAULT_MEDIA_TEMP;
    h->injected_spares = DEFAULT_SPARES;
    h->thresholds = (NVDIMMThresholds) {
        .spares = DEFAULT_SPARES_THRESHOLD,
        .media_temp = DEFAULT_MEDIA_TEMP_THRESHOLD,
        .ctrl_temp = DEFAULT_CTRL_TEMP_THRESHOLD,
    };
}

bool nvdimm_health_realize(NVDIMMDevice *nvdimm, Error **errp)
{
    NVDIMMHealth *h = g_new0(NVDIMMHealth, 1);

    h->owner = nvdimm;
    nvdimm_health_defaults(h);
    nvdimm->health = h;
    /* By slot, as the flush hints: both sides agree on the slots. */
    vmstate_register(NULL, PC_DIMM(nvdimm)->slot, &vmstate_nvdimm_health, h);
    return true;
}

/* Hot-unplug, or a realize that failed later on */
void nvdimm_health_unrealize(NVDIMMDevice *nvdimm)
{
    NVDIMMHealth *h = nvdimm->health;

    if (!h) {
        return;
    }
    vmstate_unregister(NULL, &vmstate_nvdimm_health, h);
    g_free(h);
    nvdimm->health = NULL;
}

/* QMP */

static NVDIMMDevice *nvdimm_health_device(const char *id, Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());

    if (!nvdimm_health_enabled()) {
        error_setg(errp, "NVDIMM health is off: start QEMU with"
                   " -machine nvdimm-health=on");
        return NULL;
    }
    /* The guest reads health through the NFIT devices' _DSM */
    if (!ms->nvdimms_state->dsm_mem) {
        error_setg(errp, "machine type '%s' has no NFIT, so its guests"
                   " cannot see NVDIMM health",
                   object_get_typename(OBJECT(ms)));
        return NULL;
    }
    return nvdimm_find(id, errp);
}

static bool check_percent(const char *name, bool has, uint64_t value,
                          Error **errp)
{
    if (has && value > 100) {
        error_setg(errp, "'%s' %" PRIu64 " is not a percentage (0 to 100)",
                   name, value);
        return false;
    }
    return true;
}

static bool check_temp(const char *name, bool has, double value,
                       Error **errp)
{
    if (has && !(value >= TEMP_MIN_CELSIUS && value <= TEMP_MAX_CELSIUS)) {
        error_setg(errp, "'%s' %g is not a temperature from %d to %d"
                   " degrees Celsius", name, value, TEMP_MIN_CELSIUS,
                   TEMP_MAX_CELSIUS);
        return false;
    }
    return true;
}

static int32_t temp_from_celsius(double celsius)
{
    return lround(celsius * NVDIMM_TEMP_UNIT);
}

static double temp_to_celsius(int32_t temp)
{
    return (double)temp / NVDIMM_TEMP_UNIT;
}

static const uint8_t health_bits[NVDIMM_HEALTH_STATE__MAX] = {
    [NVDIMM_HEALTH_STATE_OK] = 0,
    [NVDIMM_HEALTH_STATE_NON_CRITICAL] = NVDIMM_HEALTH_NON_CRITICAL,
    [NVDIMM_HEALTH_STATE_CRITICAL] = NVDIMM_HEALTH_CRITICAL,
    [NVDIMM_HEALTH_STATE_FATAL] = NVDIMM_HEALTH_FATAL,
};

static NvdimmHealthState health_state(uint8_t bits)
{
    if (bits & NVDIMM_HEALTH_FATAL) {
        return NVDIMM_HEALTH_STATE_FATAL;
    }
    if (bits & NVDIMM_HEALTH_CRITICAL) {
        return NVDIMM_HEALTH_STATE_CRITICAL;
    }
    return bits ? NVDIMM_HEALTH_STATE_NON_CRITICAL : NVDIMM_HEALTH_STATE_OK;
}

static void set_alarm(NVDIMMThresholds *t, uint16_t alarm, bool has,
                      bool enable)
{
    if (has) {
        t->alarm_control = enable ? t->alarm_control | alarm
                                  : t->alarm_control & ~alarm;
    }
}

void qmp_nvdimm_set_health(NvdimmHealthSettings *s, Error **errp)
{
    NVDIMMDevice *nvdimm = nvdimm_health_device(s->id, errp);
    NVDIMMHealth *h;
    NVDIMMThresholds *t;

    if (!nvdimm ||
        !check_percent("spares", s->has_spares, s->spares, errp) ||
        !check_percent("life-used", s->has_life_used, s->life_used, errp) ||
        !check_percent("spares-threshold", s->has_spares_threshold,
                       s->spares_threshold, errp) ||
        !check_temp("media-temperature", s->has_media_temperature,
                    s->media_temperature, errp) ||
        !check_temp("controller-temperature", s->has_controller_temperature,
                    s->controller_temperature, errp) ||
        !check_temp("media-temperature-threshold",
                    s->has_media_temperature_threshold,
                    s->media_temperature_threshold, errp) ||
        !check_temp("controller-temperature-threshold",
                    s->has_controller_temperature_threshold,
                    s->controller_temperature_threshold, errp)) {
        return;
    }
    h = nvdimm->health;
    t = &h->thresholds;
    if (s->has_health) {
        h->health = health_bits[s->health];
    }
    if (s->has_spares) {
        h->spares = s->spares;
    }
    if (s->has_life_used) {
        h->life_used = s->life_used;
    }
    if (s->has_media_temperature) {
        h->media_temp = temp_from_celsius(s->media_temperature);
    }
    if (s->has_controller_temperature) {
        h->ctrl_temp = temp_from_celsius(s->controller_temperature);
    }
    if (s->has_spares_threshold) {
        t->spares = s->spares_threshold;
    }
    if (s->has_media_temperature_threshold) {
        t->media_temp = temp_from_celsius(s->media_temperature_threshold);
    }
    if (s->has_controller_temperature_threshold) {
        t->ctrl_temp = temp_from_celsius(s->controller_temperature_threshold);
    }
    set_alarm(t, NVDIMM_ALARM_SPARES, s->has_spares_alarm, s->spares_alarm);
    set_alarm(t, NVDIMM_ALARM_MEDIA_TEMP, s->has_media_temperature_alarm,
              s->media_temperature_alarm);
    set_alarm(t, NVDIMM_ALARM_CTRL_TEMP, s->has_controller_temperature_alarm,
              s->controller_temperature_alarm);
    nvdimm_health_changed(h);
}

static NvdimmHealthInfo *nvdimm_health_info(NVDIMMDevice *nvdimm)
{
    NvdimmHealthInfo *info = g_new0(NvdimmHealthInfo, 1);
    NVDIMMHealth *h = nvdimm->health;
    const NVDIMMThresholds *t = &h->thresholds;
    NVDIMMHealthReport r;

    nvdimm_health_report(nvdimm, &r);
    info->id = g_strdup(DEVICE(nvdimm)->id);
    info->health = health_state(r.health);
    info->spares = r.spares;
    info->life_used = r.life_used;
    info->media_temperature = temp_to_celsius(r.media_temp);
    info->controller_temperature = temp_to_celsius(r.ctrl_temp);
    info->spares_threshold = t->spares;
    info->media_temperature_threshold = temp_to_celsius(t->media_temp);
    info->controller_temperature_threshold = temp_to_celsius(t->ctrl_temp);
    info->spares_alarm = t->alarm_control & NVDIMM_ALARM_SPARES;
    info->media_temperature_alarm = t->alarm_control &
                                    NVDIMM_ALARM_MEDIA_TEMP;
    info->controller_temperature_alarm = t->alarm_control &
                                         NVDIMM_ALARM_CTRL_TEMP;
    info->spares_tripped = r.alarms & NVDIMM_ALARM_SPARES;
    info->media_temperature_tripped = r.alarms & NVDIMM_ALARM_MEDIA_TEMP;
    info->controller_temperature_tripped = r.alarms & NVDIMM_ALARM_CTRL_TEMP;
    info->shutdown_state = r.shutdown_dirty ? NVDIMM_SHUTDOWN_STATE_DIRTY
                                            : NVDIMM_SHUTDOWN_STATE_CLEAN;
    info->has_shutdown_count = r.count_valid;
    info->shutdown_count = r.shutdown_count;
    return info;
}

NvdimmHealthInfoList *qmp_query_nvdimm_health(Error **errp)
{
    NvdimmHealthInfoList *head = NULL, **tail = &head;
    GSList *list, *l;

    if (!nvdimm_health_enabled()) {
        return NULL;
    }
    list = nvdimm_get_device_list();
    for (l = list; l; l = l->next) {
        if (NVDIMM(l->data)->health) {
            QAPI_LIST_APPEND(tail, nvdimm_health_info(NVDIMM(l->data)));
        }
    }
    g_slist_free(list);
    return head;
}

/* HMP */

/* nvdimm_set_health ID FIELD VALUE: one field, named as in QMP */
void hmp_nvdimm_set_health(Monitor *mon, const QDict *qdict)
{
    const char *field = qdict_get_str(qdict, "field");
    const char *value = qdict_get_str(qdict, "value");
    g_autoptr(QDict) args = qdict_new();
    g_autoptr(NvdimmHealthSettings) s = NULL;
    Visitor *v;
    Error *err = NULL;

    qdict_put_str(args, "id", qdict_get_str(qdict, "id"));
    qdict_put_str(args, field, value);
    v = qobject_input_visitor_new_keyval(QOBJECT(args));
    if (visit_type_NvdimmHealthSettings(v, NULL, &s, &err)) {
        qmp_nvdimm_set_health(s, &err);
    }
    visit_free(v);
    hmp_handle_error(mon, err);
}

void hmp_info_nvdimm_health(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(NvdimmHealthInfoList) list = qmp_query_nvdimm_health(&err);
    NvdimmHealthInfoList *l;

    if (!nvdimm_health_enabled()) {
        monitor_printf(mon, "NVDIMM health is off (-machine"
                       " nvdimm-health=on)\n");
        return;
    }
    for (l = list; l; l = l->next) {
        NvdimmHealthInfo *i = l->value;

        monitor_printf(mon, "%s: %s, spares %" PRIu8 "%% (alarm %s at %"
                       PRIu8 "%%%s), life used %" PRIu8 "%%\n",
                       i->id ?: "(no id)", NvdimmHealthState_str(i->health),
                       i->spares, i->spares_alarm ? "on" : "off",
                       i->spares_threshold,
                       i->spares_tripped ? ", tripped" : "", i->life_used);
        monitor_printf(mon, "  media %.1f C (alarm %s at %.1f C%s),"
                       " controller %.1f C (alarm %s at %.1f C%s)\n",
                       i->media_temperature,
                       i->media_temperature_alarm ? "on" : "off",
                       i->media_temperature_threshold,
                       i->media_temperature_tripped ? ", tripped" : "",
                       i->controller_temperature,
                       i->controller_temperature_alarm ? "on" : "off",
                       i->controller_temperature_threshold,
                       i->controller_temperature_tripped ? ", tripped" : "");
        if (i->has_shutdown_count) {
            monitor_printf(mon, "  last shutdown %s, %" PRIu32 " unsafe\n",
                           NvdimmShutdownState_str(i->shutdown_state),
                           i->shutdown_count);
        } else {
            monitor_printf(mon, "  last shutdown %s, count unknown\n",
                           NvdimmShutdownState_str(i->shutdown_state));
        }
    }
}
