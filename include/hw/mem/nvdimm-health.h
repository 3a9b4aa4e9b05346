/*
 * Virtual NVDIMM: health (SMART) and the unsafe-shutdown count
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_NVDIMM_HEALTH_H
#define HW_MEM_NVDIMM_HEALTH_H

#include "hw/mem/nvdimm.h"

/* Health state bits; none set is a healthy device */
#define NVDIMM_HEALTH_NON_CRITICAL  (1 << 0)
#define NVDIMM_HEALTH_CRITICAL      (1 << 1)
#define NVDIMM_HEALTH_FATAL         (1 << 2)

/* Alarms, as enable bits (thresholds) and as tripped bits (report) */
#define NVDIMM_ALARM_SPARES         (1 << 0)
#define NVDIMM_ALARM_MEDIA_TEMP     (1 << 1)
#define NVDIMM_ALARM_CTRL_TEMP      (1 << 2)
#define NVDIMM_ALARM_ALL            0x7

/* Temperatures are in 1/16 degree Celsius, as the Intel DSM encodes them */
#define NVDIMM_TEMP_UNIT            16

/**
 * NVDIMMHealthReport: what the guest's Get SMART and Health Info sees
 * @health: NVDIMM_HEALTH_* bits
 * @spares: spare capacity left, percent
 * @life_used: life used, percent
 * @media_temp, @ctrl_temp: in 1/16 degree Celsius
 * @alarms: NVDIMM_ALARM_* that are enabled and past their threshold
 * @shutdown_dirty: the last shutdown may have lost writes
 * @count_valid: @shutdown_count is known
 * @shutdown_count: unsafe shutdowns so far
 */
typedef struct NVDIMMHealthReport {
    uint8_t health;
    uint8_t spares;
    uint8_t life_used;
    int32_t media_temp;
    int32_t ctrl_temp;
    uint8_t alarms;
    bool shutdown_dirty;
    bool count_valid;
    uint32_t shutdown_count;
} NVDIMMHealthReport;

/**
 * NVDIMMThresholds: the guest's alarm settings
 * @alarm_control: NVDIMM_ALARM_* enabled
 * @spares: alarm at or below this percentage
 * @media_temp, @ctrl_temp: alarm at or above, in 1/16 degree Celsius
 */
typedef struct NVDIMMThresholds {
    uint16_t alarm_control;
    uint8_t spares;
    int32_t media_temp;
    int32_t ctrl_temp;
} NVDIMMThresholds;

/* Realize: the state and its migration section */
bool nvdimm_health_realize(NVDIMMDevice *nvdimm, Error **errp);
void nvdimm_health_unrealize(NVDIMMDevice *nvdimm);

/* Whether -machine nvdimm-health=on gave this machine's NVDIMMs health */
bool nvdimm_health_enabled(void);

/* Whether @temp (1/16 degree Celsius) is one a device can report */
bool nvdimm_health_temp_valid(int32_t temp);

void nvdimm_health_report(NVDIMMDevice *nvdimm, NVDIMMHealthReport *report);
void nvdimm_health_get_thresholds(NVDIMMDevice *nvdimm, NVDIMMThresholds *t);
void nvdimm_health_set_thresholds(NVDIMMDevice *nvdimm,
                                  const NVDIMMThresholds *t);

/*
 * The guest's Inject SMART: each overrides the host's value until it is
 * uninjected.  An injected unsafe shutdown counts one and reports the
 * last shutdown dirty, as a real one would after the next boot.
 */
void nvdimm_health_inject_media_temp(NVDIMMDevice *nvdimm, bool enable,
                                     int32_t temp);
void nvdimm_health_inject_spares(NVDIMMDevice *nvdimm, bool enable,
                                 uint8_t spares);
void nvdimm_health_inject_fatal(NVDIMMDevice *nvdimm, bool enable);
void nvdimm_health_inject_unsafe_shutdown(NVDIMMDevice *nvdimm, bool enable);

/* A health event waits for the guest to notify this device; take it. */
bool nvdimm_health_take_event(NVDIMMDevice *nvdimm);

#endif
