/*
 * Virtual NVDIMM: health (SMART) and the unsafe-shutdown count
 *
 * With -machine nvdimm-health=on each NVDIMM has a health state that the
 * guest reads through the Intel DSM family's SMART functions
 * (hw/acpi/nvdimm-smart.c) and the host sets over QMP.  A threshold the
 * guest enabled, once crossed, or a worse health state, raises a health
 * event: Notify(0x81) on the NVDIMM's ACPI device.
 *
 * The unsafe-shutdown count is kept in a shutdown record, a small file
 * the user names with shutdown-record=.  While QEMU runs, the record says
 * "in-use"; an orderly exit that made the guest's writes durable (the
 * backend synced) turns it back to "clean".  A start that finds "in-use"
 * knows that QEMU was killed or the host went down with writes that may
 * not have reached the backend: it counts an unsafe shutdown and tells
 * the guest the last shutdown was dirty.  A backend whose writes are
 * always durable (MAP_SYNC, device DAX) never leaves "clean".
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <math.h>
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "hw/acpi/acpi_dev_interface.h"
#include "hw/boards.h"
#include "hw/mem/nvdimm-health.h"
#include "hw/mem/nvdimm-persistence.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/qapi-commands-nvdimm.h"
#include "qapi/qapi-visit-nvdimm.h"
#include "qapi/qobject-input-visitor.h"
#include "qemu/nvdimm-utils.h"
#include "qobject/qdict.h"
#include "system/hostmem.h"
#include "system/runstate.h"
#include "system/system.h"
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

#define RECORD_MAGIC                "QEMU NVDIMM shutdown record 1"

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

    /* the shutdown record, while this QEMU owns the backend */
    char *record;
    bool record_owned;
    bool always_durable;
    Notifier exit_notifier;
    NotifierWithReturn migration_notifier;
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

/* The shutdown record */

static bool record_parse(const char *text, uint32_t *count, bool *in_use)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", 0);
    uint64_t value;

    if (g_strv_length(lines) < 3 || strcmp(lines[0], RECORD_MAGIC) ||
        !g_str_has_prefix(lines[1], "count=") ||
        qemu_strtou64(lines[1] + strlen("count="), NULL, 10, &value) ||
        value > UINT32_MAX) {
        return false;
    }
    *count = value;
    if (!strcmp(lines[2], "state=in-use")) {
        *in_use = true;
    } else if (!strcmp(lines[2], "state=clean")) {
        *in_use = false;
    } else {
        return false;
    }
    return true;
}

/*
 * What the last QEMU on this backend left.  A missing record is a first
 * start; one that cannot be read or parsed counts as an unsafe shutdown,
 * since nothing proves the last one was safe.
 */
static void record_load(NVDIMMHealth *h)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) gerr = NULL;
    uint32_t count = 0;
    bool in_use = false;

    if (!g_file_get_contents(h->record, &text, NULL, &gerr)) {
        if (!g_error_matches(gerr, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            warn_report("nvdimm '%s': %s '%s' cannot be read (%s): counting"
                        " an unsafe shutdown", nvdimm_health_name(h),
                        NVDIMM_SHUTDOWN_RECORD_PROP, h->record,
                        gerr->message);
            in_use = true;
        }
    } else if (!record_parse(text, &count, &in_use)) {
        warn_report("nvdimm '%s': %s '%s' is not a shutdown record:"
                    " counting an unsafe shutdown", nvdimm_health_name(h),
                    NVDIMM_SHUTDOWN_RECORD_PROP, h->record);
        count = 0;
        in_use = true;
    }
    h->shutdown_dirty = in_use;
    h->shutdown_count = count + in_use;
    h->count_valid = true;
}

static bool record_store(NVDIMMHealth *h, bool in_use, Error **errp)
{
    g_autofree char *text = g_strdup_printf("%s\ncount=%" PRIu32
                                            "\nstate=%s\n", RECORD_MAGIC,
                                            h->shutdown_count,
                                            in_use ? "in-use" : "clean");
    g_autoptr(GError) gerr = NULL;

    trace_nvdimm_health_record(h->record, h->shutdown_count, in_use);
    if (!g_file_set_contents_full(h->record, text, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT |
                                  G_FILE_SET_CONTENTS_DURABLE, 0644,
                                  &gerr)) {
        error_setg(errp, "nvdimm '%s': %s '%s' cannot be written: %s",
                   nvdimm_health_name(h), NVDIMM_SHUTDOWN_RECORD_PROP,
                   h->record, gerr->message);
        return false;
    }
    return true;
}

/*
 * Write back every page of the backend; only then is the exit safe.  Only
 * a shared file mapping keeps the guest's writes past QEMU's exit: a RAM
 * or memfd backend, or a private mapping, never makes them durable.
 */
static bool nvdimm_backend_synced(NVDIMMDevice *nvdimm)
{
    HostMemoryBackend *backend = nvdimm_backend(nvdimm);
    MemoryRegion *mr = &backend->mr;

    if (!object_dynamic_cast(OBJECT(backend), TYPE_MEMORY_BACKEND_FILE) ||
        !backend->share) {
        return false;
    }
    return !qemu_msync(memory_region_get_ram_ptr(mr),
                       memory_region_size(mr), memory_region_get_fd(mr));
}

static void nvdimm_health_exit(Notifier *n, void *data)
{
    NVDIMMHealth *h = container_of(n, NVDIMMHealth, exit_notifier);
    Error *err = NULL;

    if (!h->record_owned || h->always_durable) {
        return;
    }
    if (!nvdimm_backend_synced(h->owner)) {
        warn_report("nvdimm '%s': the backend could not be synced: the next"
                    " start counts an unsafe shutdown", nvdimm_health_name(h));
        return;
    }
    if (!record_store(h, false, &err)) {
        error_report_err(err);
    }
}

/* After a migration, the destination owns the backend and the record */
static int nvdimm_health_migration(NotifierWithReturn *n, MigrationEvent *e,
                                   Error **errp)
{
    NVDIMMHealth *h = container_of(n, NVDIMMHealth, migration_notifier);

    if (e->type == MIG_EVENT_PRECOPY_DONE) {
        h->record_owned = false;
    }
    return 0;
}

static bool record_open(NVDIMMHealth *h, Error **errp)
{
    h->always_durable = nvdimm_check_persistence(h->owner, NULL);
    /* An incoming VM takes its count from the stream (post_load) */
    if (!runstate_check(RUN_STATE_INMIGRATE)) {
        record_load(h);
        if (!record_store(h, !h->always_durable, errp)) {
            return false;
        }
        h->record_owned = true;
    }
    h->exit_notifier.notify = nvdimm_health_exit;
    qemu_add_exit_notifier(&h->exit_notifier);
    migration_add_notifier(&h->migration_notifier, nvdimm_health_migration);
    return true;
}

/* Migration */

static bool nvdimm_health_needed(void *opaque)
{
    return nvdimm_health_enabled() && NVDIMM(opaque)->health;
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
    Error *err = NULL;

    if (!state_valid(h)) {
        error_report("nvdimm '%s': migrated health state out of range",
                     nvdimm_health_name(h));
        return -EINVAL;
    }
    if (h->record) {
        if (!record_store(h, !h->always_durable, &err)) {
            error_report_err(err);
            return -EIO;
        }
        h->record_owned = true;
    }
    return 0;
}

/* Not a subsection's name prefix: the loader looks those up in it. */
static const VMStateDescription vmstate_health_state = {
    .name = "nvdimm-health",
    .version_id = 1,
    .minimum_version_id = 1,
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

const VMStateDescription vmstate_nvdimm_health = {
    .name = "nvdimm/health",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = nvdimm_health_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_POINTER(health, NVDIMMDevice, vmstate_health_state,
                               NVDIMMHealth),
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
    NVDIMMHealth *h;

    if (nvdimm->shutdown_record && !nvdimm_health_enabled()) {
        error_setg(errp, "Property '%s.%s' needs -machine nvdimm-health=on",
                   object_get_typename(OBJECT(nvdimm)),
                   NVDIMM_SHUTDOWN_RECORD_PROP);
        return false;
    }
    h = g_new0(NVDIMMHealth, 1);
    h->owner = nvdimm;
    nvdimm_health_defaults(h);
    h->record = g_strdup(nvdimm->shutdown_record);
    if (h->record && !record_open(h, errp)) {
        g_free(h->record);
        g_free(h);
        return false;
    }
    nvdimm->health = h;
    return true;
}

/* Hot-unplug: the device leaves in order, its record with it */
void nvdimm_health_unrealize(NVDIMMDevice *nvdimm)
{
    NVDIMMHealth *h = nvdimm->health;

    if (!h) {
        return;
    }
    if (h->record) {
        nvdimm_health_exit(&h->exit_notifier, NULL);
        qemu_remove_exit_notifier(&h->exit_notifier);
        migration_remove_notifier(&h->migration_notifier);
    }
    g_free(h->record);
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
    info->shutdown_record = g_strdup(h->record);
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
            monitor_printf(mon, "  last shutdown %s, %" PRIu32 " unsafe"
                           " (record %s)\n",
                           NvdimmShutdownState_str(i->shutdown_state),
                           i->shutdown_count, i->shutdown_record ?: "none");
        } else {
            monitor_printf(mon, "  last shutdown %s, no shutdown record\n",
                           NvdimmShutdownState_str(i->shutdown_state));
        }
    }
}
