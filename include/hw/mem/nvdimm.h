/*
 * Virtual NVDIMM: the device and the ACPI interface the machines call
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_NVDIMM_H
#define HW_MEM_NVDIMM_H

#include "hw/mem/pc-dimm.h"
#include "hw/acpi/bios-linker-loader.h"
#include "hw/acpi/acpi-defs.h"
#include "hw/hotplug.h"
#include "qemu/units.h"
#include "qemu/uuid.h"
#include "qom/object.h"

/*
 * The namespace label protocol (UEFI 2.7, 13.19) keeps two index blocks
 * and at least 256 labels of 256 bytes each: 128 KiB in all.
 */
#define MIN_NAMESPACE_LABEL_SIZE (128 * KiB)

#define NVDIMM_LABEL_SIZE_PROP  "label-size"
#define NVDIMM_UUID_PROP        "uuid"
#define NVDIMM_UNARMED_PROP     "unarmed"
#define NVDIMM_REGION_ALIGN_PROP "region-align"

#define TYPE_NVDIMM "nvdimm"
OBJECT_DECLARE_TYPE(NVDIMMDevice, NVDIMMClass, NVDIMM)

typedef struct NVDIMMFlushHints NVDIMMFlushHints;
typedef struct NVDIMMMediaErrors NVDIMMMediaErrors;
typedef struct NVDIMMHealth NVDIMMHealth;

/*
 * An NVDIMM: a pc-dimm whose backend ends with an optional namespace
 * label area.  The guest maps the rest, @nvdimm_mr.
 */
struct NVDIMMDevice {
    /* private */
    PCDIMMDevice parent_obj;

    /* public: set by the user */
    uint64_t label_size;        /* 0: no labels */
    uint64_t region_align;      /* 0: the backend's alignment */
    QemuUUID uuid;              /* reported by spapr */
    bool unarmed;               /* guest told: no persistent writes */
    bool require_persistence;   /* refuse unless writes persist */
    bool flush_hints;           /* NFIT flush hint (nvdimm-flush.c) */
    bool label_overwrite;       /* labels may replace guest data */

    /* public: derived from the backend when the device is plugged */
    MemoryRegion *nvdimm_mr;    /* alias of the backend minus the labels */
    void *label_data;           /* host address of the last label_size bytes */
    bool readonly;              /* ROM backend; label writes refused */
    NVDIMMFlushHints *flush;    /* with flush_hints: nvdimm-flush.c */
    NVDIMMMediaErrors *errors;  /* poisoned ranges: nvdimm-errors.c */
    NVDIMMHealth *health;       /* SMART state: nvdimm-health.c */
};

struct NVDIMMClass {
    /* private */
    PCDIMMDeviceClass parent_class;

    /* public: optional steps for subclasses, after/before ours */
    void (*realize)(NVDIMMDevice *nvdimm, Error **errp);
    void (*unrealize)(NVDIMMDevice *nvdimm);

    /*
     * public: the only way to the label area.  Both check @offset and
     * @size against label_size (callers check too); a write is durable
     * before it returns when the backend has pmem=on.
     */
    void (*read_label_data)(NVDIMMDevice *nvdimm, void *buf,
                            uint64_t size, uint64_t offset);
    void (*write_label_data)(NVDIMMDevice *nvdimm, const void *buf,
                             uint64_t size, uint64_t offset);
};

/* The IO port (pc, q35) or MMIO window (arm virt) of the _DSM mailbox. */
#define NVDIMM_ACPI_IO_BASE     0x0a18
#define NVDIMM_ACPI_IO_LEN      4

/**
 * NVDIMMFitBuffer:
 * @fit: the NFIT structures of every plugged NVDIMM, as _FIT returns them
 * @dirty: @fit changed since the guest's last complete _FIT read
 */
typedef struct NVDIMMFitBuffer {
    GArray *fit;
    bool dirty;
} NVDIMMFitBuffer;

/**
 * NVDIMMState: machine-wide NVDIMM state, allocated zeroed by the machine
 * @is_enabled: -machine nvdimm=on
 * @persistence: the NFIT Platform Capabilities value (2: mem-ctrl, 3: cpu);
 *               0 when -machine nvdimm-persistence is not given
 * @persistence_string: the option's value as the user gave it
 * @media_errors: -machine nvdimm-media-errors=on: the root device's _DSM
 *                offers Address Range Scrub and error injection
 * @media_error_event: new media errors wait for the guest's _FIT to
 *                     raise Notify(0x81) on the root device
 * @health: -machine nvdimm-health=on: each NVDIMM keeps a health state
 *          and an unsafe-shutdown count (nvdimm-health.c)
 * @dsm_mem: the fw_cfg file the firmware allocates as the mailbox page
 * @fit_buf: the FIT served to the guest's _FIT method
 * @by_handle: NFIT handle -> NVDIMMDevice, rebuilt with the FIT on each plug
 *             so that a mailbox call needs no walk of the QOM tree
 * @mailbox: the doorbell's request and reply buffers, allocated once
 * @ars: the last Address Range Scrub's results (hw/acpi/nvdimm-ars.c)
 * @io_mr: the mailbox doorbell
 * @dsm_io: where the doorbell is, as the AML reaches it
 */
typedef struct NVDIMMState {
    bool is_enabled;
    int32_t persistence;
    char *persistence_string;
    bool compact_ssdt;          /* -machine nvdimm-compact-ssdt=on */
    bool media_errors;
    bool media_error_event;
    bool health;

    GArray *dsm_mem;
    NVDIMMFitBuffer fit_buf;
    GHashTable *by_handle;
    struct NvdimmMailbox *mailbox;
    struct NVDIMMArs *ars;
    MemoryRegion io_mr;
    struct AcpiGenericAddress dsm_io;
} NVDIMMState;

/* The realized NVDIMM whose device id is @id, or an error naming it */
NVDIMMDevice *nvdimm_find(const char *id, Error **errp);

/*
 * The ACPI side, hw/acpi/nvdimm.c (stubbed when CONFIG_ACPI_NVDIMM is off).
 */

/* Hotplug: raise the ACPI event that makes the guest reread the FIT. */
void nvdimm_acpi_plug_cb(HotplugHandler *hotplug_dev, DeviceState *dev);

/* After a (hot)plug: rebuild the FIT the guest reads through _FIT. */
void nvdimm_plug(NVDIMMState *state);

/* Machine init: the _DSM doorbell at @dsm_io and its fw_cfg page. */
void nvdimm_init_acpi_state(NVDIMMState *state,
                            MemoryRegion *io,
                            struct AcpiGenericAddress dsm_io,
                            FWCfgState *fw_cfg,
                            Object *owner);

/* The NFIT and the SSDT holding \_SB.NVDR and its methods. */
void nvdimm_build_acpi(GArray *table_offsets,
                       GArray *table_data,
                       BIOSLinker *linker,
                       NVDIMMState *state,
                       uint32_t ram_slots,
                       const char *oem_id,
                       const char *oem_table_id);

/* SRAT memory affinity entries for every plugged NVDIMM. */
void nvdimm_build_srat(GArray *table_data);

#endif
