/*
 * Helpers of the NVDIMM qtests: _DSM calls through the mailbox,
 * temporary backend files and what they hold, a migration to a file, and
 * one device's element of a QMP query
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_NVDIMM_QTEST_H
#define TESTS_QTEST_NVDIMM_QTEST_H

#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "nvdimm-utils.h"

/* The reply page, its length and status in host order */
typedef struct NvdimmReply {
    uint32_t length;
    uint32_t status;
    uint8_t data[NVDIMM_PAGE_SIZE - NVDIMM_DSM_OUT_HDR];
} NvdimmReply;

/*
 * One _DSM call, as the AML makes it, through the page at guest address
 * @page; the reply goes to @r unless it is NULL.
 */
static inline void nvdimm_dsm_call_at(QTestState *qts, uint64_t page,
                                      uint32_t handle, uint32_t revision,
                                      uint32_t func, const void *arg,
                                      size_t arg_len, NvdimmReply *r)
{
    g_autofree uint8_t *req = g_malloc0(NVDIMM_PAGE_SIZE);

    stl_le_p(req, handle);
    stl_le_p(req + 4, revision);
    stl_le_p(req + 8, func);
    g_assert_cmpuint(arg_len, <=, NVDIMM_PAGE_SIZE - NVDIMM_DSM_IN_HDR);
    if (arg_len) {
        memcpy(req + NVDIMM_DSM_IN_HDR, arg, arg_len);
    }
    qtest_memwrite(qts, page, req, NVDIMM_PAGE_SIZE);
    qtest_outl(qts, NVDIMM_DOORBELL, page);
    if (r) {
        qtest_memread(qts, page, r, sizeof(*r));
        r->length = le32_to_cpu(r->length);
        r->status = le32_to_cpu(r->status);
    }
}

/* The same through the tests' page; returns the reply's status */
static inline uint32_t nvdimm_dsm_call(QTestState *qts, uint32_t handle,
                                       uint32_t revision, uint32_t func,
                                       const void *arg, size_t arg_len,
                                       NvdimmReply *r)
{
    nvdimm_dsm_call_at(qts, NVDIMM_PAGE_ADDR, handle, revision, func, arg,
                       arg_len, r);
    return r->status;
}

/*
 * Get Namespace Label Data of NVDIMM @handle: @len bytes at @off into
 * @out; the status.  A reply carries the data only on success.
 */
static inline uint32_t nvdimm_label_read(QTestState *qts, uint32_t handle,
                                         uint32_t off, uint32_t len, void *out)
{
    uint32_t arg[2] = { cpu_to_le32(off), cpu_to_le32(len) };
    NvdimmReply r;

    nvdimm_dsm_call(qts, handle, 1, NVDIMM_DSM_FN_LABEL_GET, arg,
                    sizeof(arg), &r);
    if (r.status == NVDIMM_DSM_ST_SUCCESS) {
        g_assert_cmpuint(r.length, ==, NVDIMM_DSM_OUT_HDR + len);
        memcpy(out, r.data, len);
    } else {
        g_assert_cmpuint(r.length, ==, NVDIMM_DSM_OUT_HDR);
    }
    return r.status;
}

/*
 * Set Namespace Label Data of NVDIMM @handle: @len bytes at @off, from
 * the @data_len bytes of @data (a mismatch is for malformed requests);
 * the status.
 */
static inline uint32_t nvdimm_label_write(QTestState *qts, uint32_t handle,
                                          uint32_t off, uint32_t len,
                                          const void *data, size_t data_len)
{
    g_autofree uint8_t *arg = g_malloc0(8 + data_len);
    NvdimmReply r;

    stl_le_p(arg, off);
    stl_le_p(arg + 4, len);
    memcpy(arg + 8, data, data_len);
    nvdimm_dsm_call(qts, handle, 1, NVDIMM_DSM_FN_LABEL_SET, arg,
                    8 + data_len, &r);
    g_assert_cmpuint(r.length, ==, NVDIMM_DSM_OUT_HDR);
    return r.status;
}

/*
 * A sparse backend file of @size bytes in the temporary directory,
 * named after @tmpl (g_file_open_tmp()); nvdimm_remove_file() ends it.
 */
static inline char *nvdimm_tmp_backend(const char *tmpl, uint64_t size)
{
    g_autoptr(GError) err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp(tmpl, &path, &err);

    g_assert_no_error(err);
    close(fd);
    g_assert_cmpint(nvdimm_create_sparse_file(path, size), ==, 0);
    return path;
}

/* Unlink @path and free it */
static inline void nvdimm_remove_file(char *path)
{
    unlink(path);
    g_free(path);
}

static inline void nvdimm_file_read_at(const char *path, uint64_t offset,
                                       void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, offset), ==, len);
    close(fd);
}

static inline void nvdimm_file_write_at(const char *path, uint64_t offset,
                                        const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, buf, len, offset), ==, len);
    close(fd);
}

/*
 * What the start of a file holds, to compare before and after: the
 * bytes read (up to @limit), and a hash of their 8-byte words,
 * h = h * ODD + word, which any change of one word changes (an odd
 * factor is invertible modulo 2^64).  It streams a 256 MiB backend file
 * several times faster than SHA-256 would, and the tests take many.
 */
typedef struct NvdimmFileDigest {
    uint64_t limit;
    uint64_t size;
    uint64_t hash;
} NvdimmFileDigest;

#define NVDIMM_DIGEST_FACTOR    0x100000001b3ULL
#define NVDIMM_WHOLE_FILE       UINT64_MAX

/* The digest of the first @len bytes of @path, or of all of a shorter one */
static inline NvdimmFileDigest nvdimm_file_digest(const char *path,
                                                  uint64_t len)
{
    g_autofree uint64_t *buf = g_new(uint64_t, MiB / 8);
    NvdimmFileDigest d = { .limit = len };
    FILE *f = fopen(path, "rb");
    size_t n, i;

    g_assert(f);
    while (d.size < len &&
           (n = fread(buf, 1, MIN(MiB, len - d.size), f)) > 0) {
        /* Only the last read may be short: zero the rest of its word */
        memset((char *)buf + n, 0, ROUND_UP(n, 8) - n);
        for (i = 0; i < DIV_ROUND_UP(n, 8); i++) {
            d.hash = d.hash * NVDIMM_DIGEST_FACTOR + buf[i];
        }
        d.size += n;
    }
    g_assert_false(ferror(f));
    fclose(f);
    return d;
}

/* @path still holds what it held when @before was taken */
static inline void nvdimm_assert_file_unchanged(const char *path,
                                                NvdimmFileDigest before)
{
    NvdimmFileDigest after = nvdimm_file_digest(path, before.limit);

    g_assert_cmpuint(after.size, ==, before.size);
    g_assert_cmphex(after.hash, ==, before.hash);
}

/* query-migrate's status, "none" before one started */
static inline char *nvdimm_migration_status(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
    const char *status = qdict_get_try_str(qdict_get_qdict(resp, "return"),
                                           "status");
    char *copy = g_strdup(status ?: "none");

    qobject_unref(resp);
    return copy;
}

/* Wait until the migration has ended; its final status */
static inline char *nvdimm_migration_wait(QTestState *qts)
{
    for (;;) {
        char *status = nvdimm_migration_status(qts);

        if (!strcmp(status, "completed") || !strcmp(status, "failed") ||
            !strcmp(status, "cancelled")) {
            return status;
        }
        g_free(status);
        g_usleep(10 * 1000);
    }
}

/* Save the VM to @path; the migration must complete */
static inline void nvdimm_migrate_to_file(QTestState *qts, const char *path)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    g_autofree char *status = NULL;

    qtest_qmp_assert_success(qts, "{'execute': 'migrate',"
                             " 'arguments': {'uri': %s}}", uri);
    status = nvdimm_migration_wait(qts);
    g_assert_cmpstr(status, ==, "completed");
}

/* Load @path into @qts (started with -incoming defer); its final status */
static inline char *nvdimm_migrate_from_file(QTestState *qts,
                                             const char *path)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);

    qtest_qmp_assert_success(qts, "{'execute': 'migrate-incoming',"
                             " 'arguments': {'uri': %s,"
                             " 'exit-on-error': false}}", uri);
    return nvdimm_migration_wait(qts);
}

static inline bool nvdimm_file_has(const char *path, const char *needle)
{
    g_autofree char *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return memmem(data, len, needle, strlen(needle)) != NULL;
}

/*
 * Where the data of the NVDIMM's migration subsection @name starts in a
 * stream: after the name and its version.  The device's own section holds
 * no fields, so its subsections follow its header.
 */
static inline size_t nvdimm_subsection_data(const char *data, size_t len,
                                            const char *name)
{
    const char *found = memmem(data, len, name, strlen(name));

    g_assert_nonnull(found);
    return found - data + strlen(name) + 4;
}

/*
 * The element of the list @command returns for the device @id, the
 * "data" of a union like query-memory-devices' one; the caller unrefs.
 */
static inline QDict *nvdimm_query_device(QTestState *qts, const char *command,
                                         const char *id)
{
    QDict *resp = qtest_qmp(qts, "{'execute': %s}", command);
    QDict *found = NULL;
    QListEntry *e;

    g_assert(qdict_haskey(resp, "return"));
    QLIST_FOREACH_ENTRY(qdict_get_qlist(resp, "return"), e) {
        QDict *item = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_haskey(item, "data")) {
            item = qdict_get_qdict(item, "data");
        }
        if (!g_strcmp0(qdict_get_try_str(item, "id"), id)) {
            found = item;
        }
    }
    g_assert(found);
    qobject_ref(found);
    qobject_unref(resp);
    return found;
}

#endif
