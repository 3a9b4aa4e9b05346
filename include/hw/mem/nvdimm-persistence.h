/*
 * Virtual NVDIMM: what the host gave each NVDIMM for persistence
 *
 * Three parts: the host probe (nvdimm-persistence-probe.c) finds out
 * what the host gave a backend's mapping; the verdict
 * (nvdimm-persistence.c) decides from that whether guest writes
 * survive a host crash, and why; the monitor commands
 * (nvdimm-persistence-monitor.c) report it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_NVDIMM_PERSISTENCE_H
#define HW_MEM_NVDIMM_PERSISTENCE_H

#include "hw/mem/nvdimm.h"
#include "qapi/qapi-types-nvdimm.h"

#define NVDIMM_REQUIRE_PERSISTENCE_PROP "require-persistence"

/* What the host gave a memory backend's mapping. */
typedef struct NVDIMMHostFacts {
    bool is_file;       /* memory-backend-file */
    bool share;         /* mapped shared: writes reach the file */
    bool pmem;          /* pmem=on: QEMU asked for MAP_SYNC */
    bool map_sync;      /* the kernel granted MAP_SYNC */
    bool dax;           /* on a DAX file system, or a device DAX */
    bool device_dax;
} NVDIMMHostFacts;

/**
 * nvdimm_probe_host: find out what the host gave @backend's mapping
 * @backend: a memory backend whose memory is allocated
 * @facts: filled in
 */
void nvdimm_probe_host(HostMemoryBackend *backend, NVDIMMHostFacts *facts);

/**
 * nvdimm_probe_libpmem: ask libpmem whether @backend's mapping is
 * persistent memory
 * @backend: a memory backend whose memory is allocated
 * @is_pmem: set to libpmem's answer
 *
 * Returns: false when QEMU is built without libpmem (@is_pmem unset).
 */
bool nvdimm_probe_libpmem(HostMemoryBackend *backend, bool *is_pmem);

/* A verdict has at most this many reasons. */
#define NVDIMM_PERSISTENCE_MAX_REASONS 4

/* Whether guest writes to an NVDIMM persist, and why. */
typedef struct NVDIMMPersistence {
    HostMemoryBackend *backend;     /* the NVDIMM's memdev */
    NVDIMMHostFacts host;
    NvdimmPersistenceVerdict verdict;
    NvdimmPersistenceReason reasons[NVDIMM_PERSISTENCE_MAX_REASONS];
    unsigned nreasons;              /* at least one */
} NVDIMMPersistence;

/**
 * nvdimm_evaluate_persistence: decide whether guest writes to @nvdimm
 * survive a host crash
 * @nvdimm: an NVDIMM whose backend is mapped
 * @p: filled in
 */
void nvdimm_evaluate_persistence(NVDIMMDevice *nvdimm, NVDIMMPersistence *p);

/**
 * nvdimm_persistence_reason_text: @reason in words
 *
 * Returns: a sentence without a final period.
 */
const char *nvdimm_persistence_reason_text(NvdimmPersistenceReason reason);

/**
 * nvdimm_persistence_reason_fix: what the user can change about @reason
 *
 * Returns: the fix in words, or NULL for a reason that needs none (one
 * that explains a guaranteed or not-applicable verdict).
 */
const char *nvdimm_persistence_reason_fix(NvdimmPersistenceReason reason);

/**
 * nvdimm_check_persistence: fail unless guest writes to @nvdimm are
 * guaranteed to survive a host crash
 * @nvdimm: a realized-enough NVDIMM: its backend is mapped
 * @errp: set to a message naming every condition that failed, and its fix
 *
 * Unarmed and read-only NVDIMMs always pass: the guest does not expect
 * its writes to them to persist.
 *
 * Returns: true if persistence is guaranteed or not applicable.
 */
bool nvdimm_check_persistence(NVDIMMDevice *nvdimm, Error **errp);

#endif
