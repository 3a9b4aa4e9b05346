/*
 * Helpers of the NVDIMM qtests: a _DSM call through the mailbox, a
 * migration to a file, and what it holds, and one device's element of a
 * QMP query
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_NVDIMM_QTEST_H
#define TESTS_QTEST_NVDIMM_QTEST_H

#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"

/* Where the tests put the mailbox page, and the pc doorbell */
#define NVDIMM_PAGE_ADDR        0x300000ULL
#define NVDIMM_PAGE_SIZE        4096
#define NVDIMM_DOORBELL         0x0a18

/* The reply page, its length and status in host order */
typedef struct NvdimmReply {
    uint32_t length;
    uint32_t status;
    uint8_t data[NVDIMM_PAGE_SIZE - 8];
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
    g_assert_cmpuint(arg_len, <=, NVDIMM_PAGE_SIZE - 12);
    if (arg_len) {
        memcpy(req + 12, arg, arg_len);
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
