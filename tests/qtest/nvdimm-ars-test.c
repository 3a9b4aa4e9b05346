/*
 * QTest for NVDIMM media errors (-machine nvdimm-media-errors=on): the
 * root device's _DSM functions through the mailbox, the QMP commands,
 * and the errors' migration section
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "nvdimm-qtest.h"

#define BACKEND_SIZE    (64 * 1024 * 1024)
/* The first NVDIMM of a pc machine with 512M of RAM and maxmem=4G */
#define NV_BASE         0x100000000ULL

/* Root functions (ACPI 6.x) and what they answer */
#define FN_CAP          1
#define FN_START        2
#define FN_STATUS       3
#define FN_CLEAR        4
#define FN_TRANSLATE    5
#define FN_INJECT       7
#define FN_INJECT_CLEAR 8
#define FN_INJECT_LIST  9
#define ALL_FUNCTIONS   0x3bf
#define EXT_PERSISTENT  (2u << 16)
#define EXT_NO_ARS      (2u << 16)
#define EXT_STOPPED     (3u << 16)
#define MAX_STATUS_OUT  4080
#define MAX_RECORDS     168
#define CLEAR_UNIT      256

typedef struct Vm {
    QTestState *qts;
    char *backend;
} Vm;

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
    Vm vm = {
        .backend = nvdimm_tmp_backend("nvdimm-ars-test-XXXXXX", BACKEND_SIZE),
    };

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
    nvdimm_remove_file(vm->backend);
}

static void dsm_call(QTestState *qts, uint32_t handle, uint32_t func,
                     const void *arg, size_t arg_len, NvdimmReply *r)
{
    nvdimm_dsm_call(qts, handle, 1, func, arg, arg_len, r);
}

/* A root function whose input is an address and a length */
static uint32_t root_range(QTestState *qts, uint32_t func, uint64_t addr,
                           uint64_t length, NvdimmReply *r)
{
    uint8_t arg[24] = { 0 };

    stq_le_p(arg, addr);
    stq_le_p(arg + 8, length);
    dsm_call(qts, NVDIMM_ROOT_HANDLE, func, arg, sizeof(arg), r);
    return r->status;
}

static uint32_t ars_start(QTestState *qts, uint64_t addr, uint64_t length)
{
    uint8_t arg[24] = { 0 };
    NvdimmReply r;

    stq_le_p(arg, addr);
    stq_le_p(arg + 8, length);
    stw_le_p(arg + 16, 2);          /* persistent memory */
    stb_p(arg + 18, 2);             /* return previous data: Linux's short */
    dsm_call(qts, NVDIMM_ROOT_HANDLE, FN_START, arg, sizeof(arg), &r);
    return r.status;
}

static uint32_t ars_status(QTestState *qts, NvdimmReply *r)
{
    dsm_call(qts, NVDIMM_ROOT_HANDLE, FN_STATUS, NULL, 0, r);
    return r->status;
}

/* Record @i of a Query ARS Status reply (the header is 44 data bytes) */
static uint64_t record_addr(const NvdimmReply *r, int i)
{
    return ldq_le_p(r->data + 44 + i * 24 + 8);
}

static uint64_t record_length(const NvdimmReply *r, int i)
{
    return ldq_le_p(r->data + 44 + i * 24 + 16);
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
    NvdimmReply r;

    dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, NVDIMM_DSM_FN_QUERY, NULL, 0, &r);
    g_assert_cmpuint(r.length, ==, 8);
    g_assert_cmphex(r.status, ==, 0);
    g_assert_cmphex(root_range(vm.qts, FN_CAP, NV_BASE, BACKEND_SIZE, &r),
                    ==, NVDIMM_ROOT_ST_UNSUPPORTED);
    g_assert_cmpuint(r.length, ==, 8);
    err = qmp_error(vm.qts, "{'execute': 'nvdimm-inject-error', 'arguments':"
                    " {'id': 'nv0', 'offset': 0, 'length': 512}}");
    g_assert_nonnull(strstr(err, "nvdimm-media-errors=on"));
    vm_stop(&vm);
}

static void test_capabilities(void)
{
    Vm vm = vm_start_on_errors();
    NvdimmReply r;

    dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, NVDIMM_DSM_FN_QUERY, NULL, 0, &r);
    g_assert_cmphex(r.status, ==, ALL_FUNCTIONS);
    g_assert_cmphex(root_range(vm.qts, FN_CAP, NV_BASE, BACKEND_SIZE, &r),
                    ==, NVDIMM_ROOT_ST_SUCCESS | EXT_PERSISTENT);
    g_assert_cmpuint(r.length, ==, 8 + 12);
    g_assert_cmpuint(ldl_le_p(r.data), ==, MAX_STATUS_OUT);
    g_assert_cmpuint(ldl_le_p(r.data + 4), ==, CLEAR_UNIT);
    /* A sub-range is fine; one that leaves the NVDIMM is not */
    g_assert_cmphex(root_range(vm.qts, FN_CAP, NV_BASE + 4096, 512, &r),
                    ==, NVDIMM_ROOT_ST_SUCCESS | EXT_PERSISTENT);
    g_assert_cmphex(root_range(vm.qts, FN_CAP, NV_BASE + 4096, BACKEND_SIZE,
                               &r), ==, NVDIMM_ROOT_ST_INVALID_INPUT);
    g_assert_cmphex(root_range(vm.qts, FN_CAP, 0, 4096, &r), ==,
                    NVDIMM_ROOT_ST_INVALID_INPUT);
    g_assert_cmphex(root_range(vm.qts, FN_CAP, UINT64_MAX, 2, &r), ==,
                    NVDIMM_ROOT_ST_INVALID_INPUT);
    vm_stop(&vm);
}

static void test_scrub(void)
{
    Vm vm = vm_start_on_errors();
    g_autofree char *listed = NULL;
    NvdimmReply r;

    /* Before any scrub: "no ARS performed", a header and no records */
    g_assert_cmphex(ars_status(vm.qts, &r), ==, EXT_NO_ARS);
    g_assert_cmpuint(ldl_le_p(r.data), ==, 48);

    inject(vm.qts, 0x3000, 512);
    inject(vm.qts, 0x1000, 0x1000);
    inject(vm.qts, 0x2000, 0x200);      /* touches 0x1000+0x1000: merged */
    listed = listed_errors(vm.qts);
    g_assert_cmpstr(listed, ==, "0x1000+0x1200 0x3000+0x200");

    g_assert_cmphex(ars_start(vm.qts, NV_BASE, BACKEND_SIZE), ==,
                    NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmphex(ars_status(vm.qts, &r), ==, NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmpuint(ldl_le_p(r.data), ==, 48 + 2 * 24);
    g_assert_cmpuint(r.length, ==, 4 + 48 + 2 * 24);
    g_assert_cmphex(ldq_le_p(r.data + 4), ==, NV_BASE);
    g_assert_cmphex(ldq_le_p(r.data + 12), ==, BACKEND_SIZE);
    g_assert_cmpuint(ldl_le_p(r.data + 40), ==, 2);
    g_assert_cmpuint(ldl_le_p(r.data + 44), ==, NVDIMM_SLOT0_HANDLE);
    g_assert_cmphex(record_addr(&r, 0), ==, NV_BASE + 0x1000);
    g_assert_cmphex(record_length(&r, 0), ==, 0x1200);
    g_assert_cmphex(record_addr(&r, 1), ==, NV_BASE + 0x3000);

    /* A scrub of part of the range reports the errors clipped to it */
    g_assert_cmphex(ars_start(vm.qts, NV_BASE + 0x1800, 0x2000), ==,
                    NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmphex(ars_status(vm.qts, &r), ==, NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmpuint(ldl_le_p(r.data + 40), ==, 2);
    g_assert_cmphex(record_addr(&r, 0), ==, NV_BASE + 0x1800);
    g_assert_cmphex(record_length(&r, 0), ==, 0xa00);
    g_assert_cmphex(record_length(&r, 1), ==, 0x200);

    /* A type without persistent memory, or an empty range, is refused */
    g_assert_cmphex(root_range(vm.qts, FN_START, NV_BASE, 4096, &r), ==,
                    NVDIMM_ROOT_ST_INVALID_INPUT);
    vm_stop(&vm);
}

/* More errors than one reply holds: overflow, then the restart range */
static void test_scrub_overflow(void)
{
    Vm vm = vm_start_on_errors();
    int i, n = MAX_RECORDS + 32;
    NvdimmReply r;

    for (i = 0; i < n; i++) {
        inject(vm.qts, i * 0x2000, 512);
    }
    g_assert_cmphex(ars_start(vm.qts, NV_BASE, BACKEND_SIZE), ==,
                    NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmphex(ars_status(vm.qts, &r), ==, EXT_STOPPED);
    g_assert_cmpuint(ldl_le_p(r.data), ==, MAX_STATUS_OUT);
    g_assert_cmpuint(ldl_le_p(r.data + 40), ==, MAX_RECORDS);
    g_assert_cmpuint(lduw_le_p(r.data + 38), ==, 1);       /* overflow */
    g_assert_cmphex(ldq_le_p(r.data + 20), ==,
                    NV_BASE + MAX_RECORDS * 0x2000);
    g_assert_cmphex(ldq_le_p(r.data + 28), ==,
                    BACKEND_SIZE - MAX_RECORDS * 0x2000);
    g_assert_cmphex(record_addr(&r, MAX_RECORDS - 1), ==,
                    NV_BASE + (MAX_RECORDS - 1) * 0x2000);

    g_assert_cmphex(ars_start(vm.qts, ldq_le_p(r.data + 20),
                              ldq_le_p(r.data + 28)), ==,
                    NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmphex(ars_status(vm.qts, &r), ==, NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmpuint(ldl_le_p(r.data + 40), ==, n - MAX_RECORDS);
    vm_stop(&vm);
}

static void test_clear(void)
{
    Vm vm = vm_start_on_errors();
    g_autofree char *after = NULL;
    NvdimmReply r;

    inject(vm.qts, 0x1000, 0x1000);
    g_assert_cmphex(root_range(vm.qts, FN_CLEAR, NV_BASE + 0x1400, 0x200,
                               &r), ==, NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmpuint(r.length, ==, 8 + 12);
    g_assert_cmphex(ldq_le_p(r.data + 4), ==, 0x200);
    after = listed_errors(vm.qts);
    g_assert_cmpstr(after, ==, "0x1000+0x400 0x1600+0xa00");
    /* Not in clear units, or outside the NVDIMM: refused */
    g_assert_cmphex(root_range(vm.qts, FN_CLEAR, NV_BASE + 0x1080, 0x200,
                               &r), ==, NVDIMM_ROOT_ST_INVALID_INPUT);
    g_assert_cmphex(root_range(vm.qts, FN_CLEAR, NV_BASE + 0x1000, 0x80, &r),
                    ==, NVDIMM_ROOT_ST_INVALID_INPUT);
    g_assert_cmphex(root_range(vm.qts, FN_CLEAR, NV_BASE - 0x1000, 0x2000,
                               &r), ==, NVDIMM_ROOT_ST_INVALID_INPUT);
    /* A scrub started before the clear does not report what it cleared */
    g_assert_cmphex(ars_start(vm.qts, NV_BASE, BACKEND_SIZE), ==,
                    NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmphex(root_range(vm.qts, FN_CLEAR, NV_BASE, 0x4000, &r), ==,
                    NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmphex(ars_status(vm.qts, &r), ==, NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmpuint(ldl_le_p(r.data + 40), ==, 0);
    vm_stop(&vm);
}

static void test_inject_functions(void)
{
    Vm vm = vm_start_on_errors();
    g_autofree char *listed = NULL, *empty = NULL;
    uint8_t arg[24] = { 0 };
    NvdimmReply r;

    stq_le_p(arg, NV_BASE + 0x8000);
    stq_le_p(arg + 8, 256);
    dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, FN_INJECT, arg, 17, &r);
    g_assert_cmphex(r.status, ==, NVDIMM_ROOT_ST_SUCCESS);
    listed = listed_errors(vm.qts);
    g_assert_cmpstr(listed, ==, "0x8000+0x100");

    dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, FN_INJECT_LIST, NULL, 0, &r);
    g_assert_cmphex(r.status, ==, NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmpuint(ldl_le_p(r.data), ==, 1);
    g_assert_cmphex(ldq_le_p(r.data + 4), ==, NV_BASE + 0x8000);
    g_assert_cmphex(ldq_le_p(r.data + 12), ==, 256);

    g_assert_cmphex(root_range(vm.qts, FN_INJECT_CLEAR, NV_BASE + 0x8000,
                               256, &r), ==, NVDIMM_ROOT_ST_SUCCESS);
    empty = listed_errors(vm.qts);
    g_assert_cmpstr(empty, ==, "");

    /* Nothing outside the NVDIMM, nothing empty, nothing that wraps */
    stq_le_p(arg, NV_BASE + BACKEND_SIZE);
    dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, FN_INJECT, arg, 17, &r);
    g_assert_cmphex(r.status, ==, NVDIMM_ROOT_ST_INVALID_INPUT);
    stq_le_p(arg, NV_BASE);
    stq_le_p(arg + 8, 0);
    dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, FN_INJECT, arg, 17, &r);
    g_assert_cmphex(r.status, ==, NVDIMM_ROOT_ST_INVALID_INPUT);
    stq_le_p(arg + 8, UINT64_MAX);
    dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, FN_INJECT, arg, 17, &r);
    g_assert_cmphex(r.status, ==, NVDIMM_ROOT_ST_INVALID_INPUT);
    vm_stop(&vm);
}

static void test_translate_spa(void)
{
    Vm vm = vm_start_on_errors();
    uint8_t arg[8];
    NvdimmReply r;

    stq_le_p(arg, NV_BASE + 0x12345);
    dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, FN_TRANSLATE, arg, sizeof(arg), &r);
    g_assert_cmphex(r.status, ==, NVDIMM_ROOT_ST_SUCCESS);
    g_assert_cmphex(ldq_le_p(r.data + 4), ==, BACKEND_SIZE - 0x12345);
    g_assert_cmpuint(ldl_le_p(r.data + 12), ==, 1);
    g_assert_cmpuint(ldl_le_p(r.data + 16), ==, NVDIMM_SLOT0_HANDLE);
    g_assert_cmphex(ldq_le_p(r.data + 24), ==, 0x12345);
    stq_le_p(arg, NV_BASE - 1);
    dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, FN_TRANSLATE, arg, sizeof(arg), &r);
    g_assert_cmphex(r.status, ==, NVDIMM_ROOT_ST_INVALID_INPUT);
    vm_stop(&vm);
}

/* The event that _FIT's MEVT takes: pending once per notification */
static void test_media_event(void)
{
    Vm vm = vm_start_on_errors();
    NvdimmReply r;

    dsm_call(vm.qts, NVDIMM_QEMU_HANDLE, NVDIMM_QEMU_FN_MEDIA_EVENT, NULL,
             0, &r);
    g_assert_cmphex(r.status, ==, NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(ldl_le_p(r.data), ==, 0);
    qtest_qmp_assert_success(vm.qts, "{'execute': 'nvdimm-inject-error',"
                             " 'arguments': {'id': 'nv0', 'offset': 0,"
                             " 'length': 512}}");
    dsm_call(vm.qts, NVDIMM_QEMU_HANDLE, NVDIMM_QEMU_FN_MEDIA_EVENT, NULL,
             0, &r);
    g_assert_cmpuint(ldl_le_p(r.data), ==, 1);
    dsm_call(vm.qts, NVDIMM_QEMU_HANDLE, NVDIMM_QEMU_FN_MEDIA_EVENT, NULL,
             0, &r);
    g_assert_cmpuint(ldl_le_p(r.data), ==, 0);
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
    NvdimmReply r;

    out = qtest_hmp(vm.qts, "nvdimm_inject_error -q nv0 4096 512");
    g_assert_cmpstr(out, ==, "");
    listed = qtest_hmp(vm.qts, "info nvdimm-errors");
    g_assert_nonnull(strstr(listed, "nv0 at 0x100000000:\r\n"
                            "  offset 0x1000 length 0x200"));
    /* -q: no event for the guest */
    dsm_call(vm.qts, NVDIMM_QEMU_HANDLE, NVDIMM_QEMU_FN_MEDIA_EVENT, NULL,
             0, &r);
    g_assert_cmpuint(ldl_le_p(r.data), ==, 0);
    g_free(qtest_hmp(vm.qts, "nvdimm_clear_error nv0 0 8192"));
    cleared = qtest_hmp(vm.qts, "info nvdimm-errors");
    g_assert_nonnull(strstr(cleared, "nv0 at 0x100000000: no errors"));
    bad = qtest_hmp(vm.qts, "nvdimm_inject_error nv9 0 512");
    g_assert_nonnull(strstr(bad, "no device 'nv9'"));
    vm_stop(&vm);
}

/* The I/O overlays that make loads of poisoned pages fail, in info mtree */
static int poison_overlays(QTestState *qts)
{
    g_autofree char *mtree = qtest_hmp(qts, "info mtree");
    int n = 0;
    char *p;

    for (p = strstr(mtree, "nvdimm-poison"); p;
         p = strstr(p + 1, "nvdimm-poison")) {
        n++;
    }
    return n;
}

static void clear_all(QTestState *qts)
{
    qtest_qmp_assert_success(qts, "{'execute': 'nvdimm-clear-error',"
                             " 'arguments': {'id': 'nv0', 'offset': 0,"
                             " 'length': %d}}", BACKEND_SIZE);
}

/*
 * One overlay per run of poisoned 4 KiB pages, at most 64, none once
 * the errors are cleared
 */
static void test_poison_overlays(void)
{
    Vm vm = vm_start_on_errors();
    int i;

    g_assert_cmpint(poison_overlays(vm.qts), ==, 0);
    inject(vm.qts, 0x1000, 512);
    inject(vm.qts, 0x1e00, 512);
    g_assert_cmpint(poison_overlays(vm.qts), ==, 1);
    inject(vm.qts, 0x3000, 1);
    g_assert_cmpint(poison_overlays(vm.qts), ==, 2);
    inject(vm.qts, 0x2000, 16);
    g_assert_cmpint(poison_overlays(vm.qts), ==, 1);
    for (i = 0; i < 100; i++) {
        inject(vm.qts, 0x10000 + i * 0x2000, 512);
    }
    g_assert_cmpint(poison_overlays(vm.qts), ==, 64);
    clear_all(vm.qts);
    g_assert_cmpint(poison_overlays(vm.qts), ==, 0);
    vm_stop(&vm);
}

/* Under the overlay, stores reach the backend and loads read it */
static void test_poison_passes_through(void)
{
    static const char data[] = "written over a poisoned range";
    Vm vm = vm_start_on_errors();
    char back[sizeof(data)], file[sizeof(data)];
    uint64_t clean;

    inject(vm.qts, 0x1000, 512);
    qtest_memwrite(vm.qts, NV_BASE + 0x1000, data, sizeof(data));
    qtest_memread(vm.qts, NV_BASE + 0x1000, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), data, sizeof(data));
    qtest_writeq(vm.qts, NV_BASE + 0x1800, 0x1122334455667788ULL);
    clean = qtest_readq(vm.qts, NV_BASE + 0x1800);
    g_assert_cmphex(clean, ==, 0x1122334455667788ULL);
    nvdimm_file_read_at(vm.backend, 0x1000, file, sizeof(file));
    g_assert_cmpmem(file, sizeof(file), data, sizeof(data));
    vm_stop(&vm);
}

/* Random root calls, plausible and not: each gets a reply, none hurts */
static void test_random_requests(void)
{
    Vm vm = vm_start_on_errors();
    g_autoptr(GRand) rng = g_rand_new_with_seed(0x4a52);
    uint8_t arg[24];
    NvdimmReply r;
    int i, j;

    for (i = 0; i < 3000; i++) {
        uint32_t func = g_rand_int_range(rng, 0, 12);

        for (j = 0; j < sizeof(arg); j += 4) {
            stl_le_p(arg + j, g_rand_int(rng));
        }
        if (g_rand_boolean(rng)) {
            /* inside or around the NVDIMM, short ranges */
            stq_le_p(arg, NV_BASE - 0x1000 +
                     g_rand_int_range(rng, 0, BACKEND_SIZE / 0x100) * 0x100);
            stq_le_p(arg + 8, g_rand_int_range(rng, 0, 0x4000));
        }
        dsm_call(vm.qts, NVDIMM_ROOT_HANDLE, func, arg, sizeof(arg), &r);
        g_assert_cmpuint(r.length, >=, 8);
        g_assert_cmpuint(r.length, <=, NVDIMM_PAGE_SIZE);
    }
    /* Still answering, and the list is consistent */
    g_free(listed_errors(vm.qts));
    vm_stop(&vm);
}

/* ---- migration ---- */

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
    nvdimm_migrate_to_file(src.qts, path);
    g_assert_true(nvdimm_file_has(path, "nvdimm/media-errors"));
    dst = vm_start_on(src.backend, ",nvdimm-media-errors=on", incoming);
    qtest_qmp_eventwait(dst, "RESUME");
    got = listed_errors(dst);
    g_assert_cmpstr(got, ==, want);
    g_assert_cmpint(poison_overlays(dst), ==, 2);
    qtest_quit(dst);
    unlink(path);
    vm_stop(&src);
}

/* Without errors the stream is QEMU 10.0's: no section of ours */
static void test_migrate_none(void)
{
    Vm src = vm_start_on_errors();
    g_autofree char *path = stream_path();

    nvdimm_migrate_to_file(src.qts, path);
    g_assert_false(nvdimm_file_has(path, "nvdimm/media-errors"));
    unlink(path);
    vm_stop(&src);
}

/* Load @path, with the 8 bytes at @at of the section's data replaced */
static void load_corrupted(const char *backend, const char *path,
                           size_t at, uint64_t be_value, int width)
{
    g_autofree char *data = NULL;
    g_autofree char *bad = g_strdup_printf("%s.bad", path);
    gsize len;
    size_t off;
    g_autofree char *status = NULL;
    QTestState *dst;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    off = nvdimm_subsection_data(data, len, "nvdimm/media-errors") + at;
    if (width == 4) {
        stl_be_p(data + off, be_value);
    } else {
        stq_be_p(data + off, be_value);
    }
    g_assert_true(g_file_set_contents(bad, data, len, NULL));
    dst = vm_start_on(backend, ",nvdimm-media-errors=on", "-incoming defer");
    status = nvdimm_migrate_from_file(dst, bad);
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
    nvdimm_migrate_to_file(src.qts, path);
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
    qtest_add_func("/nvdimm/ars/capabilities", test_capabilities);
    qtest_add_func("/nvdimm/ars/scrub", test_scrub);
    qtest_add_func("/nvdimm/ars/scrub-overflow", test_scrub_overflow);
    qtest_add_func("/nvdimm/ars/clear", test_clear);
    qtest_add_func("/nvdimm/ars/inject-functions", test_inject_functions);
    qtest_add_func("/nvdimm/ars/translate-spa", test_translate_spa);
    qtest_add_func("/nvdimm/ars/media-event", test_media_event);
    qtest_add_func("/nvdimm/ars/qmp-errors", test_qmp_errors);
    qtest_add_func("/nvdimm/ars/hmp", test_hmp);
    qtest_add_func("/nvdimm/ars/poison-overlays", test_poison_overlays);
    qtest_add_func("/nvdimm/ars/poison-passes-through",
                   test_poison_passes_through);
    qtest_add_func("/nvdimm/ars/random-requests", test_random_requests);
    qtest_add_func("/nvdimm/ars/migrate-errors", test_migrate_errors);
    qtest_add_func("/nvdimm/ars/migrate-none", test_migrate_none);
    qtest_add_func("/nvdimm/ars/migrate-hostile", test_migrate_hostile);
    return g_test_run();
}
