/*
 * QTest for NVDIMM health (-machine nvdimm-health=on): the QMP
 * commands and the health's migration section
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "nvdimm-qtest.h"

#define BACKEND_SIZE    (64 * 1024 * 1024)
#define NV_HANDLE       1
#define HEALTH_ON       ",nvdimm-health=on"

/* Without the option: the label functions only */
#define FN_QUERY        0
#define FN_SMART        1
#define LABEL_FUNCTIONS 0x71
#define ST_UNSUPPORTED  1

typedef struct Vm {
    QTestState *qts;
    char *dir;
    char *backend;
} Vm;

static void vm_files(Vm *vm)
{
    GError *err = NULL;
    int fd;

    vm->dir = g_dir_make_tmp("nvdimm-health-test-XXXXXX", &err);
    g_assert_no_error(err);
    vm->backend = g_build_filename(vm->dir, "nv0.img", NULL);
    fd = open(vm->backend, O_CREAT | O_RDWR, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, BACKEND_SIZE), ==, 0);
    close(fd);
}

static QTestState *vm_start_on(Vm *vm, const char *machine,
                               const char *extra)
{
    return qtest_initf("-machine pc,nvdimm=on%s -m 512M,slots=4,maxmem=4G "
                       "-object memory-backend-file,id=m0,mem-path=%s,"
                       "size=%d,share=on -device nvdimm,memdev=m0,id=nv0,"
                       "label-size=128K %s", machine, vm->backend,
                       BACKEND_SIZE, extra);
}

static Vm vm_start(const char *machine)
{
    Vm vm = { 0 };

    vm_files(&vm);
    vm.qts = vm_start_on(&vm, machine, "");
    return vm;
}

static void vm_stop(Vm *vm)
{
    if (vm->qts) {
        qtest_quit(vm->qts);
    }
    unlink(vm->backend);
    rmdir(vm->dir);
    g_free(vm->backend);
    g_free(vm->dir);
}

/* Linux's revisions: 1 for functions up to 10, 2 beyond */
static uint32_t dsm_call(QTestState *qts, uint32_t func, const void *arg,
                         size_t arg_len, NvdimmReply *r)
{
    return nvdimm_dsm_call(qts, NV_HANDLE, func > 10 ? 2 : 1, func, arg,
                        arg_len, r);
}

static uint32_t functions(QTestState *qts, uint32_t revision)
{
    NvdimmReply r;

    nvdimm_dsm_call(qts, NV_HANDLE, revision, FN_QUERY, NULL, 0, &r);
    return r.status;
}

static char *set_health_error(QTestState *qts, const char *args)
{
    g_autofree char *cmd = g_strdup_printf("{'execute': 'nvdimm-set-health',"
                                           " 'arguments': {'id': 'nv0', %s}}",
                                           args);
    QDict *resp = qtest_qmp(qts, cmd);
    char *desc = NULL;

    if (qdict_haskey(resp, "error")) {
        desc = g_strdup(qdict_get_str(qdict_get_qdict(resp, "error"),
                                      "desc"));
    }
    qobject_unref(resp);
    return desc;
}

static QDict *health_of_nv0(QTestState *qts, QDict **resp)
{
    QList *list;

    *resp = qtest_qmp(qts, "{'execute': 'query-nvdimm-health'}");
    list = qdict_get_qlist(*resp, "return");
    g_assert_cmpint(qlist_size(list), ==, 1);
    return qobject_to(QDict, qlist_peek(list));
}

/* nv0's integer @key in query-nvdimm-health */
static int64_t health_int(QTestState *qts, const char *key)
{
    QDict *resp, *h = health_of_nv0(qts, &resp);
    int64_t value = qdict_get_int(h, key);

    qobject_unref(resp);
    return value;
}

/* Without the option: QEMU 10.0's functions and revision, QMP refuses */
static void test_off(void)
{
    Vm vm = vm_start("");
    g_autofree char *err = set_health_error(vm.qts, "'spares': 5");
    QDict *resp;
    NvdimmReply r;

    g_assert_cmphex(functions(vm.qts, 1), ==, LABEL_FUNCTIONS);
    g_assert_cmpuint(functions(vm.qts, 2), ==, ST_UNSUPPORTED);
    g_assert_cmpuint(dsm_call(vm.qts, FN_SMART, NULL, 0, &r), ==,
                     ST_UNSUPPORTED);
    g_assert_nonnull(strstr(err, "nvdimm-health=on"));
    resp = qtest_qmp(vm.qts, "{'execute': 'query-nvdimm-health'}");
    g_assert_cmpint(qlist_size(qdict_get_qlist(resp, "return")), ==, 0);
    qobject_unref(resp);
    vm_stop(&vm);
}

/* The host's values, and refusals that name the argument */
static void test_qmp(void)
{
    Vm vm = vm_start(HEALTH_ON);
    g_autofree char *spares = NULL, *temp = NULL, *dev = NULL;
    QDict *resp, *h;

    g_assert_null(set_health_error(vm.qts, "'health': 'critical',"
                                   " 'spares': 42, 'life-used': 3,"
                                   " 'media-temperature': -2.5,"
                                   " 'controller-temperature': 40"));
    spares = set_health_error(vm.qts, "'spares': 101, 'life-used': 50");
    g_assert_nonnull(strstr(spares, "'spares' 101"));
    temp = set_health_error(vm.qts, "'media-temperature': 5000");
    g_assert_nonnull(strstr(temp, "'media-temperature'"));
    h = health_of_nv0(vm.qts, &resp);
    g_assert_cmpstr(qdict_get_str(h, "health"), ==, "critical");
    g_assert_cmpint(qdict_get_int(h, "spares"), ==, 42);
    g_assert_cmpint(qdict_get_int(h, "life-used"), ==, 3);
    g_assert_cmpfloat(qdict_get_double(h, "media-temperature"), ==, -2.5);
    g_assert_cmpfloat(qdict_get_double(h, "controller-temperature"), ==, 40);
    g_assert_false(qdict_haskey(h, "shutdown-count"));
    qobject_unref(resp);

    resp = qtest_qmp(vm.qts, "{'execute': 'nvdimm-set-health',"
                     " 'arguments': {'id': 'nope', 'spares': 1}}");
    dev = g_strdup(qdict_get_str(qdict_get_qdict(resp, "error"), "desc"));
    g_assert_nonnull(strstr(dev, "'nope'"));
    qobject_unref(resp);
    vm_stop(&vm);
}

/* in-use while running, clean after an orderly exit, counted if not */
/* Health moves with the VM; the unsafe-shutdown count stays unknown */
static void test_migrate(void)
{
    Vm vm = vm_start(HEALTH_ON);
    g_autofree char *path = g_build_filename(vm.dir, "stream", NULL);
    g_autofree char *incoming = g_strdup_printf("-incoming file:%s", path);
    QDict *resp, *h;

    g_assert_null(set_health_error(vm.qts, "'spares': 33,"
                                   " 'media-temperature': 44,"
                                   " 'spares-threshold': 40,"
                                   " 'spares-alarm': true"));
    nvdimm_migrate_to_file(vm.qts, path);
    g_assert_true(nvdimm_file_has(path, "nvdimm/health"));
    qtest_quit(vm.qts);

    vm.qts = vm_start_on(&vm, HEALTH_ON, incoming);
    qtest_qmp_eventwait(vm.qts, "RESUME");
    h = health_of_nv0(vm.qts, &resp);
    g_assert_cmpint(qdict_get_int(h, "spares"), ==, 33);
    g_assert_cmpfloat(qdict_get_double(h, "media-temperature"), ==, 44);
    g_assert_cmpint(qdict_get_int(h, "spares-threshold"), ==, 40);
    g_assert_true(qdict_get_bool(h, "spares-tripped"));
    g_assert_false(qdict_haskey(h, "shutdown-count"));
    g_assert_cmpstr(qdict_get_str(h, "shutdown-state"), ==, "clean");
    qobject_unref(resp);
    unlink(path);
    vm_stop(&vm);
}

/* Without the option the stream is QEMU 10.0's: no section of ours */
static void test_migrate_off(void)
{
    Vm vm = vm_start("");
    g_autofree char *path = g_build_filename(vm.dir, "stream", NULL);

    nvdimm_migrate_to_file(vm.qts, path);
    g_assert_false(nvdimm_file_has(path, "nvdimm/health"));
    unlink(path);
    vm_stop(&vm);
}

/* A stream with a spare percentage above 100 fails to load */
static void test_migrate_hostile(void)
{
    Vm vm = vm_start(HEALTH_ON);
    g_autofree char *path = g_build_filename(vm.dir, "stream", NULL);
    g_autofree char *data = NULL, *status = NULL;
    const char *name;
    gsize len;

    nvdimm_migrate_to_file(vm.qts, path);
    qtest_quit(vm.qts);
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    name = memmem(data, len, "nvdimm/health", strlen("nvdimm/health"));
    g_assert_nonnull(name);
    /* after the name: instance, version, then health and spares */
    data[name - data + strlen("nvdimm/health") + 8 + 1] = 200;
    g_assert_true(g_file_set_contents(path, data, len, NULL));

    vm.qts = vm_start_on(&vm, HEALTH_ON, "-incoming defer");
    status = nvdimm_migrate_from_file(vm.qts, path);
    g_assert_cmpstr(status, ==, "failed");
    unlink(path);
    vm_stop(&vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (strcmp(qtest_get_arch(), "x86_64")) {
        return g_test_run();
    }
    qtest_add_func("/nvdimm/health/off", test_off);
    qtest_add_func("/nvdimm/health/qmp", test_qmp);
    qtest_add_func("/nvdimm/health/migrate", test_migrate);
    qtest_add_func("/nvdimm/health/migrate-off", test_migrate_off);
    qtest_add_func("/nvdimm/health/migrate-hostile", test_migrate_hostile);
    return g_test_run();
}
