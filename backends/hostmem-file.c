/*
 * File memory backend: guest RAM mapped from a file, a directory (for an
 * unlinked temporary file), or a device such as /dev/daxX.Y
 *
 * The mapping itself is done by memory_region_init_ram_from_file(), which
 * also guards existing data: it only sizes a file that is new or empty,
 * and refuses one that is smaller than offset + size, so an existing file
 * is never truncated or grown.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/madvise.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "qapi/qapi-builtin-visit.h"
#include "qapi/qapi-types-common.h"
#include "qapi/visitor.h"
#include "qom/object.h"
#include "qom/object_interfaces.h"
#include "system/hostmem.h"

#ifdef CONFIG_LINUX
#include <sys/vfs.h>
#include <linux/magic.h>
#endif

OBJECT_DECLARE_SIMPLE_TYPE(HostMemoryBackendFile, MEMORY_BACKEND_FILE)

struct HostMemoryBackendFile {
    HostMemoryBackend parent_obj;

    /* What to map */
    char *mem_path;             /* a file, a directory or /dev/daxX.Y */
    uint64_t offset;            /* start of the guest memory in mem_path */
    bool readonly;              /* open mem_path O_RDONLY */

    /* How to map it */
    uint64_t align;             /* host alignment; 0 means the page size */
    OnOffAuto rom;              /* ROM, writable RAM, or as readonly says */
    bool persistent;            /* pmem=on: persist QEMU's own writes */

    /* When the backend goes away */
    bool discard_data;          /* drop the contents instead of keeping */
};

/*
 * Resolve the rom property against readonly and share.  A private mapping
 * of a read-only file can still be writable RAM (VM templating); a shared
 * one cannot, since writes would have to reach a file we may not write.
 */
static bool file_backend_wants_rom(HostMemoryBackendFile *fb, bool share,
                                   bool *rom, Error **errp)
{
    switch (fb->rom) {
    case ON_OFF_AUTO_ON:
        if (!fb->readonly) {
            error_setg(errp, "property 'rom' = 'on' is not supported with"
                       " 'readonly' = 'off'");
            return false;
        }
        *rom = true;
        return true;
    case ON_OFF_AUTO_OFF:
        if (fb->readonly && share) {
            error_setg(errp, "property 'rom' = 'off' is incompatible with"
                       " 'readonly' = 'on' and 'share' = 'on'");
            return false;
        }
        *rom = false;
        return true;
    default:
        *rom = fb->readonly;
        return true;
    }
}

/*
 * Refuse a size that is not a multiple of the host page size before the
 * file is opened: the generic check in the backend core runs only after
 * the mapping, by which time a new file has been created and sized.
 */
static bool file_backend_check_options(HostMemoryBackendFile *fb,
                                       Error **errp)
{
    HostMemoryBackend *backend = MEMORY_BACKEND(fb);
    size_t pagesize = qemu_real_host_page_size();
    g_autofree char *pagesize_str = NULL;

    /* -object and object-add insist on both; other creators may not */
    if (!fb->mem_path || !backend->size) {
        error_setg(errp, "%s needs both 'mem-path' and a non-zero 'size'",
                   object_get_typename(OBJECT(fb)));
        return false;
    }
    if (!QEMU_IS_ALIGNED(backend->size, pagesize)) {
        pagesize_str = size_to_str(pagesize);
        error_setg(errp, "backend '%s' memory size must be multiple of %s",
                   object_get_typename(OBJECT(backend)), pagesize_str);
        return false;
    }
    return true;
}

static uint32_t file_backend_ram_flags(HostMemoryBackendFile *fb, bool rom)
{
    HostMemoryBackend *backend = MEMORY_BACKEND(fb);
    uint32_t flags = RAM_NAMED_FILE;

    flags |= backend->share ? RAM_SHARED : RAM_PRIVATE;
    flags |= backend->reserve ? 0 : RAM_NORESERVE;
    flags |= backend->guest_memfd ? RAM_GUEST_MEMFD : 0;
    flags |= fb->persistent ? RAM_PMEM : 0;
    flags |= fb->readonly ? RAM_READONLY_FD : 0;
    flags |= rom ? RAM_READONLY : 0;
    return flags;
}

#if defined(CONFIG_LINUX) && defined(STATX_ATTR_DAX)
/*
 * Whether Linux caches the file in pages that it writes back to a disk:
 * not on tmpfs or hugetlbfs, which write nothing back, and not on DAX,
 * where the mapping is the device itself.  Kernels too old to report DAX
 * in statx() also predate huge folios in the page cache: leave those be.
 */
static bool file_backend_in_written_back_cache(int fd)
{
    struct statfs fs;
    struct statx stx;

    if (fstatfs(fd, &fs) < 0 || fs.f_type == TMPFS_MAGIC ||
        fs.f_type == HUGETLBFS_MAGIC) {
        return false;
    }
    if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &stx) < 0 ||
        !(stx.stx_attributes_mask & STATX_ATTR_DAX)) {
        return false;
    }
    return S_ISREG(stx.stx_mode) && !(stx.stx_attributes & STATX_ATTR_DAX);
}

/*
 * physmem asks for transparent huge pages on all guest RAM.  On a shared
 * mapping of a file on a disk, Linux then caches the file in huge folios
 * (XFS since 5.18, ext4 since 6.16) and writes a whole folio back for any
 * byte the guest changed in it: each guest flush of one 4 KiB block,
 * through an NVDIMM's flush hints or virtio-pmem, writes 2 MiB to the
 * host's disk.  Ask for small pages there; a private or read-only mapping
 * writes nothing back, and keeps its huge pages.
 */
static void file_backend_avoid_huge_writeback(HostMemoryBackend *backend)
{
    HostMemoryBackendFile *fb = MEMORY_BACKEND_FILE(backend);
    int fd = memory_region_get_fd(&backend->mr);

    if (backend->share && !fb->readonly && fd >= 0 &&
        file_backend_in_written_back_cache(fd)) {
        qemu_madvise(memory_region_get_ram_ptr(&backend->mr),
                     memory_region_size(&backend->mr), QEMU_MADV_NOHUGEPAGE);
    }
}
#else
/* Without statx(), a DAX file cannot be told from one in the page cache */
static void file_backend_avoid_huge_writeback(HostMemoryBackend *backend)
{
}
#endif

static bool file_backend_memory_alloc(HostMemoryBackend *backend,
                                      Error **errp)
{
    HostMemoryBackendFile *fb = MEMORY_BACKEND_FILE(backend);
    g_autofree char *name = NULL;
    bool rom;

    if (!file_backend_check_options(fb, errp) ||
        !file_backend_wants_rom(fb, backend->share, &rom, errp)) {
        return false;
    }

    /* physmem rounds the mapping up to the file's page size. */
    backend->aligned = true;
    name = host_memory_backend_get_name(backend);
    if (!memory_region_init_ram_from_file(&backend->mr, OBJECT(backend),
                                          name, backend->size, fb->align,
                                          file_backend_ram_flags(fb, rom),
                                          fb->mem_path, fb->offset, errp)) {
        return false;
    }
    file_backend_avoid_huge_writeback(backend);
    return true;
}

/*
 * Most properties shape the mapping and are frozen once it exists.  The
 * message differs in its final full stop between the groups, as it always
 * has; keep both, since management tools match on them.
 */
static bool file_backend_changeable(Object *obj, const char *name,
                                    const char *stop, Error **errp)
{
    if (!host_memory_backend_mr_inited(MEMORY_BACKEND(obj))) {
        return true;
    }
    error_setg(errp, "cannot change property '%s' of %s%s", name,
               object_get_typename(obj), stop);
    return false;
}

static char *file_backend_get_mem_path(Object *obj, Error **errp)
{
    return g_strdup(MEMORY_BACKEND_FILE(obj)->mem_path);
}

static void file_backend_set_mem_path(Object *obj, const char *value,
                                      Error **errp)
{
    HostMemoryBackendFile *fb = MEMORY_BACKEND_FILE(obj);

    if (!file_backend_changeable(obj, "mem-path", "", errp)) {
        return;
    }
    g_free(fb->mem_path);
    fb->mem_path = g_strdup(value);
}

/* align and offset: sizes kept in the struct at the offset in @opaque */
static void file_backend_get_size_prop(Object *obj, Visitor *v,
                                       const char *name, void *opaque,
                                       Error **errp)
{
    uint64_t *field = (uint64_t *)((char *)obj + (uintptr_t)opaque);
    uint64_t value = *field;

    visit_type_size(v, name, &value, errp);
}

static void file_backend_set_size_prop(Object *obj, Visitor *v,
                                       const char *name, void *opaque,
                                       Error **errp)
{
    uint64_t *field = (uint64_t *)((char *)obj + (uintptr_t)opaque);
    uint64_t value;

    if (!file_backend_changeable(obj, name, "", errp)) {
        return;
    }
    if (visit_type_size(v, name, &value, errp)) {
        *field = value;
    }
}

static bool file_backend_get_discard_data(Object *obj, Error **errp)
{
    return MEMORY_BACKEND_FILE(obj)->discard_data;
}

/* Only consulted when the backend goes away, so it may change any time. */
static void file_backend_set_discard_data(Object *obj, bool value,
                                          Error **errp)
{
    MEMORY_BACKEND_FILE(obj)->discard_data = value;
}

static bool file_backend_get_pmem(Object *obj, Error **errp)
{
    return MEMORY_BACKEND_FILE(obj)->persistent;
}

static void file_backend_set_pmem(Object *obj, bool value, Error **errp)
{
    if (!file_backend_changeable(obj, "pmem", ".", errp)) {
        return;
    }
#ifndef CONFIG_LIBPMEM
    /*
     * Without libpmem QEMU cannot make its own writes durable, and the
     * user asked for exactly that: refuse rather than pretend.
     */
    if (value) {
        error_setg(errp, "cannot set 'pmem' = 'on' on %s: lack of libpmem"
                   " support in this QEMU build, so it cannot ensure the"
                   " persistence of its writes to the backend",
                   object_get_typename(obj));
        error_append_hint(errp, "Rebuild QEMU with libpmem support"
                          " (--enable-libpmem), or use 'pmem' = 'off'.\n");
        return;
    }
#endif
    MEMORY_BACKEND_FILE(obj)->persistent = value;
}

static bool file_backend_get_readonly(Object *obj, Error **errp)
{
    return MEMORY_BACKEND_FILE(obj)->readonly;
}

static void file_backend_set_readonly(Object *obj, bool value, Error **errp)
{
    if (!file_backend_changeable(obj, "readonly", ".", errp)) {
        return;
    }
    MEMORY_BACKEND_FILE(obj)->readonly = value;
}

static int file_backend_get_rom(Object *obj, Error **errp)
{
    return MEMORY_BACKEND_FILE(obj)->rom;
}

static void file_backend_set_rom(Object *obj, int value, Error **errp)
{
    if (!file_backend_changeable(obj, "rom", ".", errp)) {
        return;
    }
    MEMORY_BACKEND_FILE(obj)->rom = value;
}

/*
 * discard-data: punch the guest's memory out of the file while the mapping
 * still exists; by finalize time the region's child has already unmapped
 * it.  A read-only file cannot be punched, and is left alone.
 */
static void file_backend_unparent(Object *obj)
{
    HostMemoryBackend *backend = MEMORY_BACKEND(obj);
    HostMemoryBackendFile *fb = MEMORY_BACKEND_FILE(obj);

    if (fb->discard_data && !fb->readonly &&
        host_memory_backend_mr_inited(backend)) {
        qemu_madvise(memory_region_get_ram_ptr(&backend->mr),
                     memory_region_size(&backend->mr), QEMU_MADV_REMOVE);
    }
}

static void file_backend_instance_init(Object *obj)
{
    MEMORY_BACKEND_FILE(obj)->rom = ON_OFF_AUTO_AUTO;
}

static void file_backend_instance_finalize(Object *obj)
{
    g_free(MEMORY_BACKEND_FILE(obj)->mem_path);
}

static void file_backend_add_size_prop(ObjectClass *oc, const char *name,
                                       size_t field, const char *desc)
{
    object_class_property_add(oc, name, "int", file_backend_get_size_prop,
                              file_backend_set_size_prop, NULL,
                              (void *)(uintptr_t)field);
    object_class_property_set_description(oc, name, desc);
}

static void file_backend_class_init(ObjectClass *oc, void *data)
{
    HostMemoryBackendClass *bc = MEMORY_BACKEND_CLASS(oc);

    bc->alloc = file_backend_memory_alloc;
    oc->unparent = file_backend_unparent;

    object_class_property_add_str(oc, "mem-path", file_backend_get_mem_path,
                                  file_backend_set_mem_path);
    object_class_property_set_description(oc, "mem-path",
        "File, directory or device backing the memory");
    file_backend_add_size_prop(oc, "align",
        offsetof(HostMemoryBackendFile, align),
        "Alignment of the host mapping (ex: 2M; 0: the page size)");
    file_backend_add_size_prop(oc, "offset",
        offsetof(HostMemoryBackendFile, offset),
        "Offset into the target file (ex: 1G)");
    object_class_property_add_bool(oc, "discard-data",
                                   file_backend_get_discard_data,
                                   file_backend_set_discard_data);
    object_class_property_set_description(oc, "discard-data",
        "Discard the file's contents when QEMU exits");
    object_class_property_add_bool(oc, "pmem", file_backend_get_pmem,
                                   file_backend_set_pmem);
    object_class_property_set_description(oc, "pmem",
        "The file is persistent memory; persist QEMU's writes to it");
    object_class_property_add_bool(oc, "readonly", file_backend_get_readonly,
                                   file_backend_set_readonly);
    object_class_property_set_description(oc, "readonly",
        "Open the file read-only");
    object_class_property_add_enum(oc, "rom", "OnOffAuto", &OnOffAuto_lookup,
                                   file_backend_get_rom, file_backend_set_rom);
    object_class_property_set_description(oc, "rom",
        "Whether to create Read Only Memory (ROM)");
}

static const TypeInfo file_backend_types[] = {
    {
        .name = TYPE_MEMORY_BACKEND_FILE,
        .parent = TYPE_MEMORY_BACKEND,
        .instance_size = sizeof(HostMemoryBackendFile),
        .instance_init = file_backend_instance_init,
        .instance_finalize = file_backend_instance_finalize,
        .class_init = file_backend_class_init,
    },
};

DEFINE_TYPES(file_backend_types)
