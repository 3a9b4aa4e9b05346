/*
 * Virtual NVDIMM: what the host gave a backend's mapping
 *
 * Whether guest stores reach host persistent memory is decided by the
 * host, not by the options: a file is on a DAX file system or not, and
 * the kernel grants MAP_SYNC or QEMU goes on without it.  This file
 * asks the host, and the RAM block, what actually happened.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/pmem.h"
#include "qapi/error.h"
#include "exec/ramblock.h"
#include "exec/memory.h"
#include "hw/mem/nvdimm-persistence.h"
#include "system/hostmem.h"

#ifdef CONFIG_SYSMACROS
#include <sys/sysmacros.h>
#endif

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

/* A device DAX is a character device of the "dax" sysfs class. */
static bool nvdimm_is_device_dax(const struct stat *st)
{
#ifdef CONFIG_SYSMACROS
    g_autofree char *subsystem = NULL;
    g_autofree char *link = NULL;

    if (!S_ISCHR(st->st_mode)) {
        return false;
    }
    link = g_strdup_printf("/sys/dev/char/%u:%u/subsystem",
                           major(st->st_rdev), minor(st->st_rdev));
    subsystem = g_file_read_link(link, NULL);
    return subsystem && g_str_has_suffix(subsystem, "/dax");
#else
    return false;
#endif
}

/* Does the kernel report the file as directly mapped (STATX_ATTR_DAX)? */
static bool nvdimm_file_is_dax(int fd, const char *path)
{
#if defined(CONFIG_LINUX) && defined(STATX_BASIC_STATS)
    struct statx stx;
    int ret;

    if (fd >= 0) {
        ret = statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx);
    } else {
        ret = statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx);
    }
    return ret == 0 && (stx.stx_attributes_mask & STATX_ATTR_DAX) &&
           (stx.stx_attributes & STATX_ATTR_DAX);
#else
    return false;
#endif
}

/*
 * Look at the file the backend actually mapped, through its fd: the path
 * may have been replaced or removed since.
 */
static void nvdimm_probe_file(HostMemoryBackend *backend, MemoryRegion *mr,
                              NVDIMMHostFacts *facts)
{
    Object *obj = OBJECT(backend);
    g_autofree char *path = object_property_get_str(obj, "mem-path",
                                                    &error_abort);
    int fd = memory_region_get_fd(mr);
    struct stat st;
    int ret;

    ret = fd >= 0 ? fstat(fd, &st) : stat(path, &st);
    facts->device_dax = ret == 0 && nvdimm_is_device_dax(&st);
    facts->dax = facts->device_dax || nvdimm_file_is_dax(fd, path);
    facts->pmem = object_property_get_bool(obj, "pmem", &error_abort);
}

void nvdimm_probe_host(HostMemoryBackend *backend, NVDIMMHostFacts *facts)
{
    MemoryRegion *mr = host_memory_backend_get_memory(backend);

    memset(facts, 0, sizeof(*facts));
    facts->share = qemu_ram_is_shared(mr->ram_block);
    /* The kernel may refuse MAP_SYNC; the RAM block knows if it did. */
    facts->map_sync = mr->ram_block->map_sync;
    facts->is_file = object_dynamic_cast(OBJECT(backend),
                                         TYPE_MEMORY_BACKEND_FILE);
    if (facts->is_file) {
        nvdimm_probe_file(backend, mr, facts);
    }
}

bool nvdimm_probe_libpmem(HostMemoryBackend *backend, bool *is_pmem)
{
#ifdef CONFIG_LIBPMEM
    MemoryRegion *mr = host_memory_backend_get_memory(backend);

    *is_pmem = pmem_is_pmem(memory_region_get_ram_ptr(mr),
                            memory_region_size(mr));
    return true;
#else
    return false;
#endif
}
