/*
 * QTest for NVDIMM media errors (-machine nvdimm-media-errors=on): the
 * QMP and HMP commands, and the errors' migration section
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"

#define PAGE_ADDR       0x300000ULL
#define PAGE_SIZE_DSM   4096
#define DOORBELL        0x0a18
#define BACKEND_SIZE    (64 * 1024 * 1024)
/* The first NVDIMM of a pc machine with 512M of RAM and maxmem=4G */
#define NV_BASE         0x100000000ULL
#define ROOT_HANDLE     0

/* A root function, and what the root answers without it */
#define FN_CAP          1
#define ST_UNSUPPORTED  1

typedef struct Reply {
    uint32_t length;
    uint32_t status;
    uint8_t data[PAGE_SIZE_DSM - 8];
} Reply;

typedef struct Vm {
    QTestState *qts;
    char *backend;
} Vm;

static char *backend_new(void)
{
    GError *err = NULL;
    char *path;
    int fd = g_file_open_tmp("nvdimm-ars-test-XXXXXX", &path, &err);

    g_assert_no_error(err);
    g_assert_cmpint(ftruncate(fd, BACKEND_SIZE), ==, 0);
    close(fd);
    return path;
}

static QTestState *vm_start_on(const char *backend, const char *machine,
                               const char *extra)
{
    return qtest_initf("-machine pc,nvdimm=on%s -m 512M,slots=4,maxmem=4G "
                       "-object memory-backend-file,id=m0,mem-path=%s,"
                       "size=%d,share=on -device nvdimm,memdev=m0,id=nv0 %s",
                       machine, backend, BACKEND_SIZE, extra);
}

static Vm vm_start(const char *machine)
{
    Vm vm = { .backend = backend_new() };

    vm.qts = vm_start_on(vm.backend, machine, "");
    return vm;
}

static Vm vm_start_on_errors(void)
{
    return vm_start(",nvdimm-media-errors=on");
}

static void vm_stop(Vm *vm)
{
    qtest_quit(vm->qts);
    unlink(vm->backend);
    g_free(vm->backend);
}

static void dsm_call(QTestState *qts, uint32_t handle, uint32_t func,
                     const void *arg, size_t arg_len, Reply *r)
{
    g_autofree uint8_t *req = g_malloc0(PAGE_SIZE_DSM);

    stl_le_p(req, handle);
    stl_le_p(req + 4, 1);
    stl_le_p(req + 8, func);
    if (arg_len) {
        memcpy(req + 12, arg, arg_len);
    }
    qtest_memwrite(qts, PAGE_ADDR, req, PAGE_SIZE_DSM);
    qtest_outl(qts, DOORBELL, PAGE_ADDR);
    qtest_memread(qts, PAGE_ADDR, r, sizeof(*r));
    r->length = le32_to_cpu(r->length);
    r->status = le32_to_cpu(r->status);
}

/* A root function whose input is an address and a length */
static uint32_t root_range(QTestState *qts, uint32_t func, uint64_t addr,
                           uint64_t length, Reply *r)
{
    uint8_t arg[24] = { 0 };

    stq_le_p(arg, addr);
    stq_le_p(arg + 8, length);
    dsm_call(qts, ROOT_HANDLE, func, arg, sizeof(arg), r);
    return r->status;
}

static void inject(QTestState *qts, uint64_t offset, uint64_t length)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'nvdimm-inject-error',"
                            " 'arguments': {'id': 'nv0', 'offset': %" PRIu64
                            ", 'length': %" PRIu64 ", 'notify': false}}",
                            offset, length);

    g_assert_false(qdict_haskey(resp, "error"));
    qobject_unref(resp);
}

/* nv0's poisoned ranges as "offset+length ..." */
static char *listed_errors(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'query-nvdimm-errors'}");
    QDict *dev = qobject_to(QDict, qlist_peek(qdict_get_qlist(resp,
                                                               "return")));
    QListEntry *e;
    GString *out = g_string_new("");

    g_assert_cmpstr(qdict_get_str(dev, "id"), ==, "nv0");
    g_assert_cmpuint((uint64_t)qdict_get_int(dev, "addr"), ==, NV_BASE);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(dev, "errors"), e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));

        g_string_append_printf(out, "%s0x%" PRIx64 "+0x%" PRIx64,
                               out->len ? " " : "",
                               (uint64_t)qdict_get_int(r, "offset"),
                               (uint64_t)qdict_get_int(r, "length"));
    }
    qobject_unref(resp);
    return g_string_free(out, false);
}

static char * G_GNUC_PRINTF(2, 3)
qmp_error(QTestState *qts, const char *fmt, ...)
{
    va_list ap;
    QDict *resp, *err;
    char *desc;

    va_start(ap, fmt);
    resp = qtest_vqmp(qts, fmt, ap);
    va_end(ap);
    err = qdict_get_qdict(resp, "error");
    g_assert_nonnull(err);
    desc = g_strdup(qdict_get_str(err, "desc"));
    qobject_unref(resp);
    return desc;
}

/* Off: QEMU 10.0's root device, and QMP refuses to inject */
static void test_off(void)
{
    Vm vm = vm_start("");
    g_autofree char *err = NULL;
    Reply r;

    dsm_call(vm.qts, ROOT_HANDLE, 0, NULL, 0, &r);
    g_assert_cmpuint(r.length, ==, 8);
    g_assert_cmphex(r.status, ==, 0);
    g_assert_cmphex(root_range(vm.qts, FN_CAP, NV_BASE, BACKEND_SIZE, &r),
                    ==, ST_UNSUPPORTED);
    g_assert_cmpuint(r.length, ==, 8);
    err = qmp_error(vm.qts, "{'execute': 'nvdimm-inject-error', 'arguments':"
                    " {'id': 'nv0', 'offset': 0, 'length': 512}}");
    g_assert_nonnull(strstr(err, "nvdimm-media-errors=on"));
    vm_stop(&vm);
}

static void test_qmp_errors(void)
{
    Vm vm = vm_start_on_errors();
    g_autofree char *size = NULL, *empty = NULL, *wrap = NULL, *nodev = NULL;

    size = qmp_error(vm.qts, "{'execute': 'nvdimm-inject-error', 'arguments':"
                     " {'id': 'nv0', 'offset': %d, 'length': 1}}",
                     BACKEND_SIZE);
    g_assert_nonnull(strstr(size, "not a range inside NVDIMM 'nv0'"));
    empty = qmp_error(vm.qts, "{'execute': 'nvdimm-clear-error', 'arguments':"
                      " {'id': 'nv0', 'offset': 0, 'length': 0}}");
    g_assert_nonnull(strstr(empty, "length 0x0"));
    wrap = qmp_error(vm.qts, "{'execute': 'nvdimm-inject-error', 'arguments':"
                     " {'id': 'nv0', 'offset': 4096,"
                     " 'length': 18446744073709551615}}");
    g_assert_nonnull(strstr(wrap, "not a range inside"));
    nodev = qmp_error(vm.qts, "{'execute': 'nvdimm-inject-error',"
                      " 'arguments': {'id': 'nope', 'offset': 0,"
                      " 'length': 1}}");
    g_assert_cmpstr(nodev, ==, "no device 'nope'");
    vm_stop(&vm);
}

static void test_hmp(void)
{
    Vm vm = vm_start_on_errors();
    g_autofree char *out = NULL, *listed = NULL, *cleared = NULL;
    g_autofree char *bad = NULL;

    out = qtest_hmp(vm.qts, "nvdimm_inject_error -q nv0 4096 512");
    g_assert_cmpstr(out, ==, "");
    listed = qtest_hmp(vm.qts, "info nvdimm-errors");
    g_assert_nonnull(strstr(listed, "nv0 at 0x100000000:\r\n"
                            "  offset 0x1000 length 0x200"));
    g_free(qtest_hmp(vm.qts, "nvdimm_clear_error nv0 0 8192"));
    cleared = qtest_hmp(vm.qts, "info nvdimm-errors");
    g_assert_nonnull(strstr(cleared, "nv0 at 0x100000000: no errors"));
    bad = qtest_hmp(vm.qts, "nvdimm_inject_error nv9 0 512");
    g_assert_nonnull(strstr(bad, "no device 'nv9'"));
    vm_stop(&vm);
}

/* ---- migration ---- */

static void migrate_to_file(QTestState *qts, const char *path)
{
    QDict *resp;
    const char *status;
    g_autofree char *uri = g_strdup_printf("file:%s", path);

    resp = qtest_qmp(qts, "{'execute': 'migrate', 'arguments':"
                     " {'uri': %s}}", uri);
    qobject_unref(resp);
    for (;;) {
        resp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
        status = qdict_get_str(qdict_get_qdict(resp, "return"), "status");
        if (!strcmp(status, "completed")) {
            qobject_unref(resp);
            return;
        }
        g_assert_cmpstr(status, !=, "failed");
        qobject_unref(resp);
        g_usleep(10 * 1000);
    }
}

static bool file_has(const char *path, const char *needle)
{
    g_autofree char *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return memmem(data, len, needle, strlen(needle)) != NULL;
}

static char *stream_path(void)
{
    return g_strdup_printf("%s/nvdimm-ars-test-%d.mig", g_get_tmp_dir(),
                           getpid());
}

static void test_migrate_errors(void)
{
    Vm src = vm_start_on_errors();
    g_autofree char *path = stream_path();
    g_autofree char *incoming = g_strdup_printf("-incoming file:%s", path);
    g_autofree char *want = NULL, *got = NULL;
    QTestState *dst;

    inject(src.qts, 0x1000, 512);
    inject(src.qts, 0x10000, 0x1000);
    want = listed_errors(src.qts);
    migrate_to_file(src.qts, path);
    g_assert_true(file_has(path, "nvdimm/media-errors"));
    dst = vm_start_on(src.backend, ",nvdimm-media-errors=on", incoming);
    qtest_qmp_eventwait(dst, "RESUME");
    got = listed_errors(dst);
    g_assert_cmpstr(got, ==, want);
    qtest_quit(dst);
    unlink(path);
    vm_stop(&src);
}

/* Without errors the stream is QEMU 10.0's: no section of ours */
static void test_migrate_none(void)
{
    Vm src = vm_start_on_errors();
    g_autofree char *path = stream_path();

    migrate_to_file(src.qts, path);
    g_assert_false(file_has(path, "nvdimm/media-errors"));
    unlink(path);
    vm_stop(&src);
}

/* Where the section's data starts: after its name, instance and version */
static size_t section_data(const char *data, size_t len)
{
    const char *name = memmem(data, len, "nvdimm/media-errors",
                              strlen("nvdimm/media-errors"));

    g_assert_nonnull(name);
    return name - data + strlen("nvdimm/media-errors") + 8;
}

/* Load @path, with the 8 bytes at @at of the section's data replaced */
static void load_corrupted(const char *backend, const char *path,
                           size_t at, uint64_t be_value, int width)
{
    g_autofree char *data = NULL;
    g_autofree char *bad = g_strdup_printf("%s.bad", path);
    g_autofree char *uri = g_strdup_printf("file:%s", bad);
    gsize len;
    size_t off;
    g_autofree char *status = NULL;
    QTestState *dst;
    QDict *resp;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    off = section_data(data, len) + at;
    if (width == 4) {
        stl_be_p(data + off, be_value);
    } else {
        stq_be_p(data + off, be_value);
    }
    g_assert_true(g_file_set_contents(bad, data, len, NULL));
    dst = vm_start_on(backend, ",nvdimm-media-errors=on", "-incoming defer");
    qtest_qmp_assert_success(dst, "{'execute': 'migrate-incoming',"
                             " 'arguments': {'uri': %s,"
                             " 'exit-on-error': false}}", uri);
    do {
        g_free(status);
        g_usleep(10 * 1000);
        resp = qtest_qmp(dst, "{'execute': 'query-migrate'}");
        status = g_strdup(qdict_get_try_str(qdict_get_qdict(resp, "return"),
                                            "status") ?: "none");
        qobject_unref(resp);
    } while (!strcmp(status, "active") || !strcmp(status, "none") ||
             !strcmp(status, "setup"));
    g_assert_cmpstr(status, ==, "failed");
    qtest_quit(dst);
    unlink(bad);
}

/* A stream with too many, overlapping or oversized ranges fails to load */
static void test_migrate_hostile(void)
{
    Vm src = vm_start_on_errors();
    g_autofree char *path = stream_path();

    inject(src.qts, 0x1000, 512);
    inject(src.qts, 0x10000, 0x1000);
    migrate_to_file(src.qts, path);
    /* count, then offset and length of each range */
    load_corrupted(src.backend, path, 0, 0xffffffff, 4);
    load_corrupted(src.backend, path, 4 + 16, 0x1100, 8);
    load_corrupted(src.backend, path, 4 + 8, UINT64_MAX, 8);
    load_corrupted(src.backend, path, 4 + 16 + 8, BACKEND_SIZE, 8);
    unlink(path);
    vm_stop(&src);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_machine("pc") || !qtest_has_device("nvdimm")) {
        return g_test_run();
    }
    qtest_add_func("/nvdimm/ars/off", test_off);
    qtest_add_func("/nvdimm/ars/qmp-errors", test_qmp_errors);
    qtest_add_func("/nvdimm/ars/hmp", test_hmp);
    qtest_add_func("/nvdimm/ars/migrate-errors", test_migrate_errors);
    qtest_add_func("/nvdimm/ars/migrate-none", test_migrate_none);
    qtest_add_func("/nvdimm/ars/migrate-hostile", test_migrate_hostile);
    return g_test_run();
}
