/*
 * QTest for the NVDIMM's flush-hints property: the NFIT Flush Hint
 * Address Structure, the hint area's flush counter in
 * query-nvdimm-persistence, and the unchanged NFIT when it is off.
 * Where each NVDIMM sits comes from query-memory-devices.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "libqos/fw_cfg.h"
#include "qobject/qdict.h"
#include "nvdimm-qtest.h"

#define BACKEND_SIZE (4 * MiB)
#define MACHINE "-machine pc,nvdimm=on -m 128M,slots=4,maxmem=1G "

#define NFIT_HEADER_LEN 40      /* ACPI header and 4 reserved bytes */
#define NFIT_FLUSH_HINT 6
#define HINT_AREA_SIZE  4096

typedef struct FlushVM {
    char *paths[2];
    QTestState *qts;
} FlushVM;

/* A backend file of BACKEND_SIZE bytes; nvdimm_remove_file() ends it. */
static char *backend_file(void)
{
    return nvdimm_tmp_backend("nvdimm-flush-XXXXXX", BACKEND_SIZE);
}

/* @ndimms NVDIMMs nv0, nv1 on share=on files; @opts added to each. */
static void flush_vm_start(FlushVM *vm, int ndimms, const char *opts)
{
    g_autoptr(GString) args = g_string_new(MACHINE);
    int i;

    memset(vm, 0, sizeof(*vm));
    for (i = 0; i < ndimms; i++) {
        vm->paths[i] = backend_file();
        g_string_append_printf(args, "-object memory-backend-file,id=mem%d,"
                               "mem-path=%s,size=4M,share=on "
                               "-device nvdimm,id=nv%d,memdev=mem%d%s ",
                               i, vm->paths[i], i, i, opts);
    }
    vm->qts = qtest_init(args->str);
}

static void flush_vm_stop(FlushVM *vm)
{
    int i;

    qtest_quit(vm->qts);
    for (i = 0; i < 2; i++) {
        if (vm->paths[i]) {
            nvdimm_remove_file(vm->paths[i]);
        }
    }
}

/* NVDIMM @id's element of query-nvdimm-persistence; the caller unrefs. */
static QDict *query_nvdimm(QTestState *qts, const char *id)
{
    return nvdimm_query_device(qts, "query-nvdimm-persistence", id);
}

static uint64_t query_flushes(QTestState *qts)
{
    g_autoptr(QDict) info = query_nvdimm(qts, "nv0");

    return qdict_get_int(info, "flushes");
}

/* The NFIT as the firmware would load it (pointers left unpatched). */
static uint8_t *nfit_from_fw_cfg(QTestState *qts, uint32_t *len)
{
    QFWCFG *fw_cfg = pc_fw_cfg_init(qts);
    size_t cap = 256 * KiB;
    g_autofree uint8_t *tables = g_malloc0(cap);
    size_t n = qfw_cfg_get_file(fw_cfg, "etc/acpi/tables", tables, cap);
    uint8_t *nfit = NULL;
    size_t pos = 0;

    pc_fw_cfg_uninit(fw_cfg);
    g_assert_cmpuint(n, >, 0);
    while (pos + 8 <= n && !nfit) {
        uint32_t table_len = ldl_le_p(tables + pos + 4);

        g_assert_cmpuint(table_len, >=, 36);
        g_assert_cmpuint(pos + table_len, <=, n);
        if (memcmp(tables + pos, "NFIT", 4) == 0) {
            *len = table_len;
            nfit = g_memdup2(tables + pos, table_len);
        }
        pos += table_len;
    }
    g_assert(nfit);
    return nfit;
}

/* The first NFIT structure of @type for @handle, or NULL. */
static const uint8_t *nfit_find(const uint8_t *nfit, uint32_t len,
                                uint16_t type, uint32_t handle)
{
    uint32_t pos = NFIT_HEADER_LEN;

    while (pos + 4 <= len) {
        uint16_t st_len = lduw_le_p(nfit + pos + 2);

        g_assert_cmpuint(st_len, >=, 4);
        g_assert_cmpuint(pos + st_len, <=, len);
        if (lduw_le_p(nfit + pos) == type &&
            ldl_le_p(nfit + pos + 4) == handle) {
            return nfit + pos;
        }
        pos += st_len;
    }
    return NULL;
}

/* The address of NVDIMM @id, which has flush-hints=on. */
static uint64_t nvdimm_addr(QTestState *qts, const char *id)
{
    g_autoptr(QDict) dimm = nvdimm_query_device(qts, "query-memory-devices",
                                                id);

    /* The memory device is the persistent memory and the hint area. */
    g_assert_cmpint(qdict_get_int(dimm, "size"), ==,
                    BACKEND_SIZE + HINT_AREA_SIZE);
    return qdict_get_int(dimm, "addr");
}

static void test_off_has_no_hint(void)
{
    g_autofree uint8_t *nfit = NULL;
    g_autoptr(QDict) info = NULL;
    uint32_t len;
    FlushVM vm;

    flush_vm_start(&vm, 1, "");
    nfit = nfit_from_fw_cfg(vm.qts, &len);
    g_assert_null(nfit_find(nfit, len, NFIT_FLUSH_HINT, 1));
    info = query_nvdimm(vm.qts, "nv0");
    g_assert_false(qdict_get_bool(info, "flush-hints"));
    /* Without hints there is nothing to count. */
    g_assert_false(qdict_haskey(info, "flushes"));
    flush_vm_stop(&vm);
}

static void test_hint_structure(void)
{
    static const uint8_t reserved[6];
    g_autofree uint8_t *nfit = NULL;
    const uint8_t *hint;
    uint32_t len;
    FlushVM vm;

    flush_vm_start(&vm, 1, ",flush-hints=on");
    nfit = nfit_from_fw_cfg(vm.qts, &len);
    hint = nfit_find(nfit, len, NFIT_FLUSH_HINT, 1);
    g_assert(hint);
    g_assert_cmpuint(lduw_le_p(hint + 2), ==, 16 + 8);
    g_assert_cmpuint(lduw_le_p(hint + 8), ==, 1);
    g_assert(memcmp(hint + 10, reserved, sizeof(reserved)) == 0);
    /* Right after the persistent memory, which keeps its size */
    g_assert_cmpuint(ldq_le_p(hint + 16), ==,
                     nvdimm_addr(vm.qts, "nv0") + BACKEND_SIZE);
    flush_vm_stop(&vm);
}

static void test_hint_write_counts(void)
{
    g_autoptr(QDict) info = NULL;
    g_autofree char *data = NULL;
    uint64_t addr, hint;
    gsize len;
    FlushVM vm;
    int i;

    flush_vm_start(&vm, 1, ",flush-hints=on");
    addr = nvdimm_addr(vm.qts, "nv0");
    hint = addr + BACKEND_SIZE;
    info = query_nvdimm(vm.qts, "nv0");
    g_assert_true(qdict_get_bool(info, "flush-hints"));
    g_assert_cmpint(qdict_get_int(info, "flushes"), ==, 0);

    qtest_writeq(vm.qts, addr + 4096, 0x5a5aa5a5deadbeefULL);
    qtest_writeq(vm.qts, hint, 1);
    g_assert_cmpint(query_flushes(vm.qts), ==, 1);
    for (i = 0; i < 3; i++) {
        qtest_writel(vm.qts, hint, 1);
    }
    g_assert_cmpint(query_flushes(vm.qts), ==, 4);
    /* Reads are harmless and flush nothing */
    g_assert_cmpuint(qtest_readq(vm.qts, hint), ==, 0);
    g_assert_cmpint(query_flushes(vm.qts), ==, 4);

    g_assert(g_file_get_contents(vm.paths[0], &data, &len, NULL));
    g_assert_cmpuint(len, ==, BACKEND_SIZE);
    g_assert_cmpuint(ldq_le_p(data + 4096), ==, 0x5a5aa5a5deadbeefULL);
    flush_vm_stop(&vm);
}

/* The hint page is the first NVDIMM's: the next one starts after it. */
static void test_two_nvdimms(void)
{
    g_autofree uint8_t *nfit = NULL;
    const uint8_t *hint0, *hint1;
    uint64_t addr0, addr1;
    uint32_t len;
    FlushVM vm;

    flush_vm_start(&vm, 2, ",flush-hints=on");
    addr0 = nvdimm_addr(vm.qts, "nv0");
    addr1 = nvdimm_addr(vm.qts, "nv1");
    nfit = nfit_from_fw_cfg(vm.qts, &len);
    hint0 = nfit_find(nfit, len, NFIT_FLUSH_HINT, 1);
    hint1 = nfit_find(nfit, len, NFIT_FLUSH_HINT, 2);
    g_assert(hint0 && hint1);
    g_assert_cmpuint(ldq_le_p(hint0 + 16), ==, addr0 + BACKEND_SIZE);
    g_assert_cmpuint(ldq_le_p(hint1 + 16), ==, addr1 + BACKEND_SIZE);
    g_assert(addr1 >= addr0 + BACKEND_SIZE + HINT_AREA_SIZE ||
             addr0 >= addr1 + BACKEND_SIZE + HINT_AREA_SIZE);
    flush_vm_stop(&vm);
}

static void test_hotplug(void)
{
    g_autofree char *path = backend_file();
    g_autoptr(QDict) info = NULL;
    QTestState *qts;
    uint64_t hint;

    qts = qtest_init(MACHINE);
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments':"
                             " { 'qom-type': 'memory-backend-file',"
                             " 'id': 'mem0', 'mem-path': %s,"
                             " 'size': 4194304, 'share': true } }", path);
    qtest_qmp_device_add(qts, "nvdimm", "nv0", "{ 'memdev': 'mem0',"
                         " 'flush-hints': true }");
    info = query_nvdimm(qts, "nv0");
    g_assert_true(qdict_get_bool(info, "flush-hints"));
    hint = nvdimm_addr(qts, "nv0") + BACKEND_SIZE;
    qtest_writeq(qts, hint, 1);
    g_assert_cmpint(query_flushes(qts), ==, 1);
    qtest_quit(qts);
    unlink(path);
}

/*
 * A machine without a memory hotplug handler (none) realizes the device
 * without plugging it first; flush-hints=on must build its region then.
 */
static void test_no_hotplug_handler(void)
{
    g_autofree char *path = backend_file();
    QTestState *qts;

    qts = qtest_initf("-machine none -object memory-backend-file,id=mem0,"
                      "mem-path=%s,size=4M,share=on "
                      "-device nvdimm,id=nv0,memdev=mem0,flush-hints=on",
                      path);
    g_assert_true(qtest_qom_get_bool(qts, "nv0", "realized"));
    qtest_quit(qts);
    unlink(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!qtest_has_machine("pc") || !qtest_has_device("nvdimm")) {
        g_test_skip("no pc machine or nvdimm device");
        return g_test_run();
    }
    qtest_add_func("/nvdimm/flush/off-has-no-hint", test_off_has_no_hint);
    qtest_add_func("/nvdimm/flush/hint-structure", test_hint_structure);
    qtest_add_func("/nvdimm/flush/hint-write-counts", test_hint_write_counts);
    qtest_add_func("/nvdimm/flush/two-nvdimms", test_two_nvdimms);
    qtest_add_func("/nvdimm/flush/hotplug", test_hotplug);
    qtest_add_func("/nvdimm/flush/no-hotplug-handler",
                   test_no_hotplug_handler);
    return g_test_run();
}
