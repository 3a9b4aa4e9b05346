/*
 * QTest for query-nvdimm-persistence, "info nvdimm" and the NVDIMM's
 * require-persistence=on strict mode
 *
 * The backend files live in the test's temporary directory, which is
 * not on a DAX file system on any build host we know of; a test that
 * finds otherwise skips instead of guessing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "nvdimm-qtest.h"

#define BACKEND_SIZE (4 * MiB)
#define MACHINE "-machine pc,nvdimm=on -m 128M,slots=2,maxmem=1G "

/* How "info nvdimm" and require-persistence=on put two of the reasons */
#define NOT_DAX_REASON "the backend file is not on a DAX file system"
#define NOT_DAX_FIX "put the backend file on a file system mounted with -o dax"

/* A backend file of BACKEND_SIZE bytes; nvdimm_remove_file() ends it. */
static char *make_backend_file(void)
{
    return nvdimm_tmp_backend("nvdimm-persistence-XXXXXX", BACKEND_SIZE);
}

/* The one element query-nvdimm-persistence returns; the caller unrefs. */
static QDict *query_single_nvdimm(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts,
                            "{ 'execute': 'query-nvdimm-persistence' }");
    QList *list;
    QDict *info;

    g_assert(qdict_haskey(resp, "return"));
    list = qdict_get_qlist(resp, "return");
    g_assert_cmpint(qlist_size(list), ==, 1);
    info = qobject_to(QDict, qlist_peek(list));
    qobject_ref(info);
    qobject_unref(resp);
    return info;
}

static int64_t query_nvdimm_count(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts,
                            "{ 'execute': 'query-nvdimm-persistence' }");
    int64_t n;

    g_assert(qdict_haskey(resp, "return"));
    n = qlist_size(qdict_get_qlist(resp, "return"));
    qobject_unref(resp);
    return n;
}

static bool skip_if_dax(QDict *info)
{
    if (qdict_get_bool(info, "dax")) {
        g_test_skip("the temporary directory is on a DAX file system");
        return true;
    }
    return false;
}

/* The reasons of @info, joined by spaces, for messages and checks. */
static char *reasons_string(QDict *info)
{
    GString *s = g_string_new(NULL);
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(info, "reasons"), e) {
        g_string_append_printf(s, "%s%s", s->len ? " " : "",
                               qstring_get_str(qobject_to(QString,
                                                          qlist_entry_obj(e))));
    }
    return g_string_free(s, false);
}

/* @info's verdict is @verdict, and its reasons are exactly @reasons. */
static void assert_verdict(QDict *info, const char *verdict,
                           const char *reasons)
{
    g_autofree char *got = reasons_string(info);

    g_test_message("verdict %s, reasons: %s",
                   qdict_get_str(info, "verdict"), got);
    g_assert_cmpstr(qdict_get_str(info, "verdict"), ==, verdict);
    g_assert_cmpstr(got, ==, reasons);
}

/*
 * The members that do not depend on the backend's settings.  Where the
 * NVDIMM sits is query-memory-devices' business: the two meet on memdev.
 */
static void assert_common(QTestState *qts, QDict *info)
{
    g_autoptr(QDict) dimm = nvdimm_query_device(qts, "query-memory-devices",
                                                "nv0");

    g_assert_cmpstr(qdict_get_str(info, "id"), ==, "nv0");
    g_assert_cmpstr(qdict_get_str(info, "memdev"), ==, "/objects/mem0");
    g_assert_cmpstr(qdict_get_str(dimm, "memdev"), ==,
                    qdict_get_str(info, "memdev"));
    g_assert_false(qdict_haskey(info, "slot"));
    g_assert_false(qdict_haskey(info, "backend"));
    g_assert_false(qdict_get_bool(info, "device-dax"));
    if (qdict_haskey(info, "libpmem-pmem")) {
        g_assert_false(qdict_get_bool(info, "libpmem-pmem"));
    }
}

/* A VM with one NVDIMM "nv0" on a backend file "mem0" of its own. */
typedef struct TestVM {
    char *path;
    QTestState *qts;
    QDict *info;            /* nv0's element of query-nvdimm-persistence */
} TestVM;

static void start_vm(TestVM *vm, const char *backend_opts,
                     const char *nvdimm_opts)
{
    vm->path = make_backend_file();
    vm->qts = qtest_initf(MACHINE
                          "-object memory-backend-file,id=mem0,mem-path=%s,"
                          "size=4M,%s "
                          "-device nvdimm,id=nv0,memdev=mem0%s",
                          vm->path, backend_opts, nvdimm_opts);
    vm->info = query_single_nvdimm(vm->qts);
    assert_common(vm->qts, vm->info);
}

static void stop_vm(TestVM *vm)
{
    qobject_unref(vm->info);
    qtest_quit(vm->qts);
    nvdimm_remove_file(vm->path);
}

static void test_file_shared(void)
{
    g_autofree char *hmp = NULL;
    TestVM vm;

    start_vm(&vm, "share=on", "");
    if (!skip_if_dax(vm.info)) {
        g_assert_false(qtest_qom_get_bool(vm.qts, "/machine/peripheral/nv0",
                                           "unarmed"));
        g_assert_true(qtest_qom_get_bool(vm.qts, "/objects/mem0", "share"));
        g_assert_false(qtest_qom_get_bool(vm.qts, "/objects/mem0", "pmem"));
        g_assert_false(qdict_get_bool(vm.info, "map-sync"));
        assert_verdict(vm.info, "not-guaranteed", "not-dax no-pmem");
        g_assert_false(qdict_haskey(vm.info, "flushes"));

        hmp = qtest_hmp(vm.qts, "info nvdimm");
        g_test_message("info nvdimm: %s", hmp);
        g_assert(strstr(hmp, "nvdimm nv0:"));
        g_assert(strstr(hmp, "memdev: /objects/mem0 (memory-backend-file)"));
        g_assert(strstr(hmp, "share: on"));
        g_assert(strstr(hmp, "persistence: not-guaranteed"));
        g_assert(strstr(hmp, "not-dax: " NOT_DAX_REASON));
        g_assert(strstr(hmp, "fix: " NOT_DAX_FIX));
        g_assert(strstr(hmp, "no-pmem: pmem=off"));
    }
    stop_vm(&vm);
}

static void test_file_private(void)
{
    TestVM vm;

    start_vm(&vm, "share=off", "");
    if (!skip_if_dax(vm.info)) {
        g_assert_false(qtest_qom_get_bool(vm.qts, "/objects/mem0", "share"));
        g_assert_false(qdict_get_bool(vm.info, "map-sync"));
        assert_verdict(vm.info, "not-guaranteed", "private not-dax no-pmem");
    }
    stop_vm(&vm);
}

static void test_readonly_backend(void)
{
    TestVM vm;
    g_autofree char *hmp = NULL;

    start_vm(&vm, "share=on,readonly=on", ",unarmed=on");
    g_assert_true(qtest_qom_get_bool(vm.qts, "/machine/peripheral/nv0",
                                     "unarmed"));
    g_assert_true(qtest_qom_get_bool(vm.qts, "/objects/mem0", "readonly"));
    assert_verdict(vm.info, "not-applicable", "read-only unarmed");
    hmp = qtest_hmp(vm.qts, "info nvdimm");
    g_assert(strstr(hmp, "read-only: the backend is read-only"));
    g_assert(!strstr(hmp, "fix:"));
    stop_vm(&vm);
}

static void test_pmem_on_plain_file(void)
{
    TestVM vm;

    start_vm(&vm, "share=on,pmem=on", "");
    if (!skip_if_dax(vm.info)) {
        g_assert_true(qtest_qom_get_bool(vm.qts, "/objects/mem0", "pmem"));
        /* The kernel refused MAP_SYNC: the RAM block must know. */
        g_assert_false(qdict_get_bool(vm.info, "map-sync"));
        assert_verdict(vm.info, "not-guaranteed", "not-dax no-map-sync");
    }
    stop_vm(&vm);
}

static void test_ram_backend(void)
{
    g_autofree char *hmp = NULL;
    QTestState *qts;
    QDict *info;

    qts = qtest_init(MACHINE
                     "-object memory-backend-ram,id=mem0,size=4M,share=on "
                     "-device nvdimm,id=nv0,memdev=mem0");
    info = query_single_nvdimm(qts);
    assert_common(qts, info);
    g_assert_false(qdict_get_bool(info, "dax"));
    g_assert_false(qdict_get_bool(info, "map-sync"));
    assert_verdict(info, "not-guaranteed", "not-a-file");
    hmp = qtest_hmp(qts, "info nvdimm");
    g_assert(strstr(hmp, "memdev: /objects/mem0 (memory-backend-ram)"));
    g_assert(!strstr(hmp, "mem-path:"));
    g_assert(strstr(hmp, "not-a-file: the backend is not a file"));
    qobject_unref(info);
    qtest_quit(qts);
}

static void test_no_nvdimm(void)
{
    QTestState *qts = qtest_init(MACHINE);
    g_autofree char *hmp = NULL;

    g_assert_cmpint(query_nvdimm_count(qts), ==, 0);
    hmp = qtest_hmp(qts, "info nvdimm");
    g_assert(strstr(hmp, "No NVDIMM devices"));
    qtest_quit(qts);
}

/*
 * Start QEMU outside libqtest, which cannot start a QEMU that is
 * expected to fail.  Should QEMU start after all, SeaBIOS finds nothing
 * to boot and asks for a reboot, which -no-reboot turns into an exit.
 */
static int spawn_qemu(const char *path, const char *nvdimm_opts,
                      char **err_out)
{
    g_autofree char *object = g_strdup_printf(
        "memory-backend-file,id=mem0,mem-path=%s,size=4M,share=on", path);
    g_autofree char *device = g_strdup_printf(
        "nvdimm,id=nv0,memdev=mem0,%s", nvdimm_opts);
    const char *argv[] = {
        g_getenv("QTEST_QEMU_BINARY"),
        "-machine", "pc,nvdimm=on", "-m", "128M,slots=2,maxmem=1G",
        "-accel", "tcg", "-nodefaults", "-display", "none",
        "-boot", "reboot-timeout=0", "-no-reboot",
        "-object", object, "-device", device, NULL
    };
    g_autoptr(GError) err = NULL;
    int status;

    g_assert(g_spawn_sync(NULL, (char **)argv, NULL,
                          G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                          err_out, &status, &err));
    g_assert_no_error(err);
    return status;
}

static void test_strict_refuses_startup(void)
{
    char *path = make_backend_file();
    g_autofree char *err = NULL;
    int status;

    status = spawn_qemu(path, "require-persistence=on", &err);
    g_test_message("stderr: %s", err);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert(strstr(err, "nvdimm 'nv0'"));
    g_assert(strstr(err, "require-persistence=on"));
    g_assert(strstr(err, NOT_DAX_REASON));
    g_assert(strstr(err, "(fix: put the backend file on a file system"
                    " mounted with -o dax"));
    nvdimm_remove_file(path);
}

static void test_strict_accepts_unarmed(void)
{
    TestVM vm;

    start_vm(&vm, "share=on", ",unarmed=on,require-persistence=on");
    assert_verdict(vm.info, "not-applicable", "unarmed");
    stop_vm(&vm);
}

static void test_strict_refuses_hotplug(void)
{
    char *path = make_backend_file();
    QTestState *qts = qtest_init(MACHINE);
    QDict *resp;
    const char *desc;

    qtest_qmp_assert_success(qts,
        "{ 'execute': 'object-add', 'arguments': {"
        " 'qom-type': 'memory-backend-file', 'id': 'mem0',"
        " 'mem-path': %s, 'size': %u, 'share': true } }",
        path, (unsigned)BACKEND_SIZE);
    resp = qtest_qmp(qts,
        "{ 'execute': 'device_add', 'arguments': {"
        " 'driver': 'nvdimm', 'id': 'nv0', 'memdev': 'mem0',"
        " 'require-persistence': true } }");
    g_assert(qdict_haskey(resp, "error"));
    desc = qdict_get_str(qdict_get_qdict(resp, "error"), "desc");
    g_test_message("error: %s", desc);
    g_assert(strstr(desc, "require-persistence=on"));
    g_assert(strstr(desc, NOT_DAX_REASON));
    g_assert(strstr(desc, "(fix: "));
    qobject_unref(resp);

    /* The VM runs on, without the device; an unarmed one is accepted. */
    resp = qtest_qmp_assert_success_ref(qts,
                                        "{ 'execute': 'query-status' }");
    g_assert_true(qdict_get_bool(resp, "running"));
    qobject_unref(resp);
    g_assert_cmpint(query_nvdimm_count(qts), ==, 0);
    qtest_qmp_assert_success(qts,
        "{ 'execute': 'device_add', 'arguments': {"
        " 'driver': 'nvdimm', 'id': 'nv0', 'memdev': 'mem0',"
        " 'unarmed': true, 'require-persistence': true } }");
    g_assert_cmpint(query_nvdimm_count(qts), ==, 1);

    qtest_quit(qts);
    nvdimm_remove_file(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_machine("pc") || !qtest_has_device("nvdimm")) {
        g_test_skip("no pc machine or no nvdimm device");
        return g_test_run();
    }
    qtest_add_func("/nvdimm/persistence/no-nvdimm", test_no_nvdimm);
    qtest_add_func("/nvdimm/persistence/file-share-on", test_file_shared);
    qtest_add_func("/nvdimm/persistence/file-share-off", test_file_private);
    qtest_add_func("/nvdimm/persistence/readonly-backend",
                   test_readonly_backend);
    qtest_add_func("/nvdimm/persistence/pmem-on-plain-file",
                   test_pmem_on_plain_file);
    qtest_add_func("/nvdimm/persistence/ram-backend", test_ram_backend);
    qtest_add_func("/nvdimm/persistence/strict/refuses-startup",
                   test_strict_refuses_startup);
    qtest_add_func("/nvdimm/persistence/strict/accepts-unarmed",
                   test_strict_accepts_unarmed);
    qtest_add_func("/nvdimm/persistence/strict/refuses-hotplug",
                   test_strict_refuses_hotplug);
    return g_test_run();
}
