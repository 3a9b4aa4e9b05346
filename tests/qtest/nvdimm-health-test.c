/*
 * QTest for NVDIMM health (-machine nvdimm-health=on): the QMP
 * commands, the shutdown record, and the health's migration section
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
    char *record;
} Vm;

static void vm_files(Vm *vm)
{
    GError *err = NULL;
    int fd;

    vm->dir = g_dir_make_tmp("nvdimm-health-test-XXXXXX", &err);
    g_assert_no_error(err);
    vm->backend = g_build_filename(vm->dir, "nv0.img", NULL);
    vm->record = g_build_filename(vm->dir, "nv0.shutdown", NULL);
    fd = open(vm->backend, O_CREAT | O_RDWR, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, BACKEND_SIZE), ==, 0);
    close(fd);
}

static QTestState *vm_start_on(Vm *vm, const char *machine, bool record,
                               const char *extra)
{
    g_autofree char *rec = record ?
        g_strdup_printf(",shutdown-record=%s", vm->record) : g_strdup("");

    return qtest_initf("-machine pc,nvdimm=on%s -m 512M,slots=4,maxmem=4G "
                       "-object memory-backend-file,id=m0,mem-path=%s,"
                       "size=%d,share=on -device nvdimm,memdev=m0,id=nv0,"
                       "label-size=128K%s %s", machine, vm->backend,
                       BACKEND_SIZE, rec, extra);
}

static Vm vm_start(const char *machine, bool record)
{
    Vm vm = { 0 };

    vm_files(&vm);
    vm.qts = vm_start_on(&vm, machine, record, "");
    return vm;
}

static void vm_stop(Vm *vm)
{
    if (vm->qts) {
        qtest_quit(vm->qts);
    }
    unlink(vm->backend);
    unlink(vm->record);
    rmdir(vm->dir);
    g_free(vm->backend);
    g_free(vm->record);
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

static bool shutdown_dirty(QTestState *qts)
{
    QDict *resp, *h = health_of_nv0(qts, &resp);
    bool dirty = !strcmp(qdict_get_str(h, "shutdown-state"), "dirty");

    qobject_unref(resp);
    return dirty;
}

static char *record_text(const Vm *vm)
{
    char *text = NULL;

    g_file_get_contents(vm->record, &text, NULL, NULL);
    return text;
}

#define RECORD(count, state) \
    "QEMU NVDIMM shutdown record 1\ncount=" #count "\nstate=" state "\n"

/* Without the option: QEMU 10.0's functions and revision, QMP refuses */
static void test_off(void)
{
    Vm vm = vm_start("", false);
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
    Vm vm = vm_start(HEALTH_ON, false);
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
static void test_record(void)
{
    Vm vm = vm_start(HEALTH_ON, true);
    g_autofree char *running = record_text(&vm);
    g_autofree char *after = NULL, *second = NULL;

    g_assert_cmpstr(running, ==, RECORD(0, "in-use"));
    g_assert_false(shutdown_dirty(vm.qts));
    qtest_quit(vm.qts);
    after = record_text(&vm);
    g_assert_cmpstr(after, ==, RECORD(0, "clean"));

    /* what a kill leaves */
    g_assert_true(g_file_set_contents(vm.record, RECORD(4, "in-use"), -1,
                                      NULL));
    vm.qts = vm_start_on(&vm, HEALTH_ON, true, "");
    g_assert_cmpint(health_int(vm.qts, "shutdown-count"), ==, 5);
    g_assert_true(shutdown_dirty(vm.qts));
    qtest_quit(vm.qts);

    /* a record that is not one counts as an unsafe shutdown */
    g_assert_true(g_file_set_contents(vm.record, "garbage", -1, NULL));
    vm.qts = vm_start_on(&vm, HEALTH_ON, true, "");
    g_assert_cmpint(health_int(vm.qts, "shutdown-count"), ==, 1);
    g_assert_true(shutdown_dirty(vm.qts));
    second = record_text(&vm);
    g_assert_cmpstr(second, ==, RECORD(1, "in-use"));
    vm_stop(&vm);
}

/* A record that cannot be written, or without the option, stops QEMU */
static void test_record_refused(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    Vm vm = { 0 };
    const char *cases[][2] = {
        { HEALTH_ON, "cannot be written" },
        { "", "needs -machine nvdimm-health=on" },
    };
    int i;

    vm_files(&vm);
    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autofree char *cmd = g_strdup_printf(
            "%s -accel qtest -display none -nodefaults -machine pc,nvdimm=on%s"
            " -m 512M,slots=4,maxmem=4G -object memory-backend-file,id=m0,"
            "mem-path=%s,size=%d,share=on -device nvdimm,memdev=m0,id=nv0,"
            "shutdown-record=%s/no/such/dir/rec", qemu, cases[i][0],
            vm.backend, BACKEND_SIZE, vm.dir);
        g_auto(GStrv) argv = NULL;
        g_autofree char *err = NULL;
        int status;

        g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
        g_assert_true(g_spawn_sync(NULL, argv, NULL,
                                   G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                   NULL, &err, &status, NULL));
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        g_assert_nonnull(strstr(err, "shutdown-record"));
        g_assert_nonnull(strstr(err, cases[i][1]));
    }
    vm_stop(&vm);
}

/*
 * Health and the count move with the VM; the source leaves the record
 * to the destination, which marks it in use.
 */
static void test_migrate(void)
{
    Vm vm = { 0 };
    g_autofree char *path = NULL, *incoming = NULL;
    g_autofree char *left = NULL, *taken = NULL, *done = NULL;
    QDict *resp, *h;

    /* a source that starts after an unsafe shutdown */
    vm_files(&vm);
    path = g_build_filename(vm.dir, "stream", NULL);
    incoming = g_strdup_printf("-incoming file:%s", path);
    g_assert_true(g_file_set_contents(vm.record, RECORD(4, "in-use"), -1,
                                      NULL));
    vm.qts = vm_start_on(&vm, HEALTH_ON, true, "");
    g_assert_null(set_health_error(vm.qts, "'spares': 33,"
                                   " 'media-temperature': 44,"
                                   " 'spares-threshold': 40,"
                                   " 'spares-alarm': true"));
    nvdimm_migrate_to_file(vm.qts, path);
    g_assert_true(nvdimm_file_has(path, "nvdimm/health"));
    qtest_quit(vm.qts);
    left = record_text(&vm);
    g_assert_cmpstr(left, ==, RECORD(5, "in-use"));

    vm.qts = vm_start_on(&vm, HEALTH_ON, true, incoming);
    qtest_qmp_eventwait(vm.qts, "RESUME");
    taken = record_text(&vm);
    g_assert_cmpstr(taken, ==, RECORD(5, "in-use"));
    h = health_of_nv0(vm.qts, &resp);
    g_assert_cmpint(qdict_get_int(h, "spares"), ==, 33);
    g_assert_cmpfloat(qdict_get_double(h, "media-temperature"), ==, 44);
    g_assert_cmpint(qdict_get_int(h, "spares-threshold"), ==, 40);
    g_assert_true(qdict_get_bool(h, "spares-tripped"));
    g_assert_cmpint(qdict_get_int(h, "shutdown-count"), ==, 5);
    g_assert_cmpstr(qdict_get_str(h, "shutdown-state"), ==, "dirty");
    qobject_unref(resp);
    qtest_quit(vm.qts);
    vm.qts = NULL;
    done = record_text(&vm);
    g_assert_cmpstr(done, ==, RECORD(5, "clean"));
    unlink(path);
    vm_stop(&vm);
}

/* Without the option the stream is QEMU 10.0's: no section of ours */
static void test_migrate_off(void)
{
    Vm vm = vm_start("", false);
    g_autofree char *path = g_build_filename(vm.dir, "stream", NULL);

    nvdimm_migrate_to_file(vm.qts, path);
    g_assert_false(nvdimm_file_has(path, "nvdimm/health"));
    unlink(path);
    vm_stop(&vm);
}

/* A stream with a spare percentage above 100 fails to load */
static void test_migrate_hostile(void)
{
    Vm vm = vm_start(HEALTH_ON, false);
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

    vm.qts = vm_start_on(&vm, HEALTH_ON, false, "-incoming defer");
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
    qtest_add_func("/nvdimm/health/record", test_record);
    qtest_add_func("/nvdimm/health/record-refused", test_record_refused);
    qtest_add_func("/nvdimm/health/migrate", test_migrate);
    qtest_add_func("/nvdimm/health/migrate-off", test_migrate_off);
    qtest_add_func("/nvdimm/health/migrate-hostile", test_migrate_hostile);
    return g_test_run();
}
