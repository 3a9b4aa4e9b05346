/*
 * QTest for NVDIMM health (-machine nvdimm-health=on): the NVDIMMs'
 * SMART functions through the mailbox, the QMP commands, the shutdown
 * record, and the health's migration section
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qapi/error.h"
#include "qobject/qjson.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "nvdimm-qtest.h"

#define BACKEND_SIZE    (64 * 1024 * 1024)
#define HEALTH_ON       ",nvdimm-health=on"

/* The Intel DSM health functions and their answers */
#define FN_SMART        1
#define FN_THRESHOLD    2
#define FN_LATCH        10
#define FN_SET_THRESHOLD 17
#define FN_INJECT       18
#define HEALTH_FUNCTIONS 0x60407
#define SMART_LEN       128
#define THRESHOLD_LEN   8

/* SMART flags: the fields always valid, and those a record adds */
#define VALID_ALWAYS    0x21f
#define VALID_RECORD    0x420

#define TEMP(celsius)   ((celsius) * 16)

typedef struct Smart {
    uint32_t flags;
    uint8_t health;
    uint8_t spares;
    uint8_t life_used;
    uint8_t alarms;
    uint16_t media_temp;
    uint16_t ctrl_temp;
    uint32_t shutdown_count;
    uint8_t shutdown_state;
} Smart;

typedef struct Vm {
    QTestState *qts;
    char *dir;
    char *backend;
    char *record;
} Vm;

static void vm_files(Vm *vm)
{
    GError *err = NULL;

    vm->dir = g_dir_make_tmp("nvdimm-health-test-XXXXXX", &err);
    g_assert_no_error(err);
    vm->backend = g_build_filename(vm->dir, "nv0.img", NULL);
    vm->record = g_build_filename(vm->dir, "nv0.shutdown", NULL);
    g_assert_cmpint(nvdimm_create_sparse_file(vm->backend, BACKEND_SIZE), ==,
                    0);
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
    return nvdimm_dsm_call(qts, NVDIMM_SLOT0_HANDLE, func > 10 ? 2 : 1, func,
                           arg, arg_len, r);
}

static Smart smart(QTestState *qts)
{
    NvdimmReply r;
    Smart s;

    g_assert_cmpuint(dsm_call(qts, FN_SMART, NULL, 0, &r), ==,
                     NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(r.length, ==, 8 + SMART_LEN);
    s = (Smart) {
        .flags = ldl_le_p(r.data),
        .health = r.data[8],
        .spares = r.data[9],
        .life_used = r.data[10],
        .alarms = r.data[11],
        .media_temp = lduw_le_p(r.data + 12),
        .ctrl_temp = lduw_le_p(r.data + 14),
        .shutdown_count = ldl_le_p(r.data + 16),
        .shutdown_state = r.data[31],
    };
    return s;
}

static uint32_t set_threshold(QTestState *qts, uint16_t alarms,
                              uint8_t spares, uint16_t media, uint16_t ctrl)
{
    uint8_t arg[7];
    NvdimmReply r;

    stw_le_p(arg, alarms);
    arg[2] = spares;
    stw_le_p(arg + 3, media);
    stw_le_p(arg + 5, ctrl);
    return dsm_call(qts, FN_SET_THRESHOLD, arg, sizeof(arg), &r);
}

/* Inject SMART with one field: @what, enabled or not, and its value */
static uint32_t inject(QTestState *qts, uint64_t what, bool enable,
                       uint16_t value)
{
    uint8_t arg[15] = { 0 };
    NvdimmReply r;

    stq_le_p(arg, what);
    if (what & 1) {
        arg[8] = enable;
        stw_le_p(arg + 9, value);
    }
    if (what & 2) {
        arg[11] = enable;
        arg[12] = value;
    }
    arg[13] = (what & 4) && enable;
    arg[14] = (what & 8) && enable;
    return dsm_call(qts, FN_INJECT, arg, sizeof(arg), &r);
}

static uint32_t functions(QTestState *qts, uint32_t revision)
{
    NvdimmReply r;

    nvdimm_dsm_call(qts, NVDIMM_SLOT0_HANDLE, revision, NVDIMM_DSM_FN_QUERY,
                    NULL, 0, &r);
    return r.status;
}

static char *set_health_error(QTestState *qts, const char *args)
{
    g_autofree char *json = g_strdup_printf("{'id': 'nv0', %s}", args);
    QObject *arguments = qobject_from_json(json, &error_abort);
    QDict *resp = qtest_qmp(qts, "{'execute': 'nvdimm-set-health',"
                            " 'arguments': %p}", arguments);
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

    g_assert_cmphex(functions(vm.qts, 1), ==, NVDIMM_DSM_LABEL_FUNCTIONS);
    g_assert_cmpuint(functions(vm.qts, 2), ==, NVDIMM_DSM_ST_UNSUPPORTED);
    g_assert_cmpuint(dsm_call(vm.qts, FN_SMART, NULL, 0, &r), ==,
                     NVDIMM_DSM_ST_UNSUPPORTED);
    g_assert_nonnull(strstr(err, "nvdimm-health=on"));
    resp = qtest_qmp(vm.qts, "{'execute': 'query-nvdimm-health'}");
    g_assert_cmpint(qlist_size(qdict_get_qlist(resp, "return")), ==, 0);
    qobject_unref(resp);
    vm_stop(&vm);
}

/* Function 0 lists the health functions under both revisions */
static void test_functions(void)
{
    Vm vm = vm_start(HEALTH_ON, false);

    g_assert_cmphex(functions(vm.qts, 1), ==,
                    NVDIMM_DSM_LABEL_FUNCTIONS | HEALTH_FUNCTIONS);
    g_assert_cmphex(functions(vm.qts, 2), ==,
                    NVDIMM_DSM_LABEL_FUNCTIONS | HEALTH_FUNCTIONS);
    vm_stop(&vm);
}

/* A new device: healthy, and no shutdown count without a record */
static void test_defaults(void)
{
    Vm vm = vm_start(HEALTH_ON, false);
    Smart s = smart(vm.qts);
    NvdimmReply r;

    g_assert_cmphex(s.flags, ==, VALID_ALWAYS);
    g_assert_cmpuint(s.health, ==, 0);
    g_assert_cmpuint(s.spares, ==, 100);
    g_assert_cmpuint(s.life_used, ==, 0);
    g_assert_cmpuint(s.alarms, ==, 0);
    g_assert_cmpuint(s.media_temp, ==, TEMP(25));
    g_assert_cmpuint(s.ctrl_temp, ==, TEMP(30));
    g_assert_cmpuint(dsm_call(vm.qts, FN_THRESHOLD, NULL, 0, &r), ==,
                     NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(r.length, ==, 8 + THRESHOLD_LEN);
    g_assert_cmpuint(lduw_le_p(r.data), ==, 0);
    g_assert_cmpuint(r.data[2], ==, 10);
    g_assert_cmpuint(lduw_le_p(r.data + 3), ==, TEMP(85));
    g_assert_cmpuint(lduw_le_p(r.data + 5), ==, TEMP(95));
    vm_stop(&vm);
}

/* Thresholds the guest sets; bad ones change nothing */
static void test_thresholds(void)
{
    Vm vm = vm_start(HEALTH_ON, false);
    NvdimmReply r;

    g_assert_cmpuint(set_threshold(vm.qts, 7, 20, TEMP(70), 0x8000 |
                                   TEMP(5)), ==, NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(set_threshold(vm.qts, 8, 20, TEMP(70), 0), ==,
                     NVDIMM_DSM_ST_INVALID_INPUT);
    g_assert_cmpuint(set_threshold(vm.qts, 7, 101, TEMP(70), 0), ==,
                     NVDIMM_DSM_ST_INVALID_INPUT);
    g_assert_cmpuint(set_threshold(vm.qts, 7, 20, 0x8000 | TEMP(300), 0),
                     ==, NVDIMM_DSM_ST_INVALID_INPUT);
    dsm_call(vm.qts, FN_THRESHOLD, NULL, 0, &r);
    g_assert_cmpuint(lduw_le_p(r.data), ==, 7);
    g_assert_cmpuint(r.data[2], ==, 20);
    g_assert_cmpuint(lduw_le_p(r.data + 3), ==, TEMP(70));
    g_assert_cmphex(lduw_le_p(r.data + 5), ==, 0x8000 | TEMP(5));
    /* controller at 30 C is above -5 C: that alarm trips */
    g_assert_cmpuint(smart(vm.qts).alarms, ==, 4);
    vm_stop(&vm);
}

/* Each injection overrides the host's value until it is uninjected */
static void test_inject(void)
{
    Vm vm = vm_start(HEALTH_ON, true);
    Smart s;
    NvdimmReply r;

    g_assert_cmpuint(inject(vm.qts, 1, true, TEMP(60)), ==,
                     NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(inject(vm.qts, 2, true, 7), ==, NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(inject(vm.qts, 4, true, 0), ==, NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(inject(vm.qts, 8, true, 0), ==, NVDIMM_DSM_ST_SUCCESS);
    s = smart(vm.qts);
    g_assert_cmpuint(s.media_temp, ==, TEMP(60));
    g_assert_cmpuint(s.spares, ==, 7);
    g_assert_cmpuint(s.health, ==, 4);
    g_assert_cmpuint(s.shutdown_state, ==, 1);
    g_assert_cmpuint(s.shutdown_count, ==, 1);
    g_assert_cmphex(s.flags, ==, VALID_ALWAYS | VALID_RECORD);

    g_assert_cmpuint(inject(vm.qts, 0xf, false, 0), ==, NVDIMM_DSM_ST_SUCCESS);
    s = smart(vm.qts);
    g_assert_cmpuint(s.media_temp, ==, TEMP(25));
    g_assert_cmpuint(s.spares, ==, 100);
    g_assert_cmpuint(s.health, ==, 0);
    g_assert_cmpuint(s.shutdown_state, ==, 0);
    g_assert_cmpuint(s.shutdown_count, ==, 1);

    g_assert_cmpuint(inject(vm.qts, 0x10, true, 0), ==,
                     NVDIMM_DSM_ST_INVALID_INPUT);
    g_assert_cmpuint(inject(vm.qts, 2, true, 101), ==,
                     NVDIMM_DSM_ST_INVALID_INPUT);
    g_assert_cmpuint(smart(vm.qts).spares, ==, 100);
    g_assert_cmpuint(dsm_call(vm.qts, FN_LATCH, "\x01", 1, &r), ==,
                     NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(dsm_call(vm.qts, FN_LATCH, "\x02", 1, &r), ==,
                     NVDIMM_DSM_ST_INVALID_INPUT);
    vm_stop(&vm);
}

/* The host's values, and refusals that name the argument */
static void test_qmp(void)
{
    Vm vm = vm_start(HEALTH_ON, false);
    g_autofree char *spares = NULL, *temp = NULL, *dev = NULL;
    QDict *resp, *h;
    Smart s;

    g_assert_null(set_health_error(vm.qts, "'health': 'critical',"
                                   " 'spares': 42, 'life-used': 3,"
                                   " 'media-temperature': -2.5,"
                                   " 'controller-temperature': 40"));
    spares = set_health_error(vm.qts, "'spares': 101, 'life-used': 50");
    g_assert_nonnull(strstr(spares, "'spares' 101"));
    temp = set_health_error(vm.qts, "'media-temperature': 5000");
    g_assert_nonnull(strstr(temp, "'media-temperature'"));
    s = smart(vm.qts);
    g_assert_cmpuint(s.health, ==, 2);
    g_assert_cmpuint(s.spares, ==, 42);
    g_assert_cmpuint(s.life_used, ==, 3);
    g_assert_cmphex(s.media_temp, ==, 0x8000 | 40);
    g_assert_cmpuint(s.ctrl_temp, ==, TEMP(40));
    h = health_of_nv0(vm.qts, &resp);
    g_assert_cmpstr(qdict_get_str(h, "health"), ==, "critical");
    g_assert_cmpfloat(qdict_get_double(h, "media-temperature"), ==, -2.5);
    g_assert_false(qdict_haskey(h, "shutdown-count"));
    qobject_unref(resp);

    resp = qtest_qmp(vm.qts, "{'execute': 'nvdimm-set-health',"
                     " 'arguments': {'id': 'nope', 'spares': 1}}");
    dev = g_strdup(qdict_get_str(qdict_get_qdict(resp, "error"), "desc"));
    g_assert_nonnull(strstr(dev, "'nope'"));
    qobject_unref(resp);
    vm_stop(&vm);
}

static uint8_t take_events(QTestState *qts)
{
    NvdimmReply r;

    g_assert_cmpuint(nvdimm_dsm_call(qts, NVDIMM_QEMU_HANDLE, 1,
                                     NVDIMM_QEMU_FN_HEALTH_EVENT, NULL, 0,
                                     &r), ==, NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(r.length, ==, 8 + 32);
    return r.data[0];
}

/* An alarm that trips is one event for slot 0, taken once */
static void test_events(void)
{
    Vm vm = vm_start(HEALTH_ON, false);

    g_assert_cmpuint(take_events(vm.qts), ==, 0);
    g_assert_null(set_health_error(vm.qts, "'spares': 5"));
    g_assert_cmpuint(take_events(vm.qts), ==, 0);
    g_assert_null(set_health_error(vm.qts, "'spares-alarm': true"));
    g_assert_cmpuint(take_events(vm.qts), ==, 1);
    g_assert_cmpuint(take_events(vm.qts), ==, 0);
    /* still tripped: no new event */
    g_assert_null(set_health_error(vm.qts, "'spares': 4"));
    g_assert_cmpuint(take_events(vm.qts), ==, 0);
    g_assert_null(set_health_error(vm.qts, "'health': 'fatal'"));
    g_assert_cmpuint(take_events(vm.qts), ==, 1);
    vm_stop(&vm);
}

/* in-use while running, clean after an orderly exit, counted if not */
static void test_record(void)
{
    Vm vm = vm_start(HEALTH_ON, true);
    g_autofree char *running = record_text(&vm);
    g_autofree char *after = NULL, *second = NULL;
    Smart s;

    g_assert_cmpstr(running, ==, RECORD(0, "in-use"));
    g_assert_cmpuint(smart(vm.qts).shutdown_state, ==, 0);
    qtest_quit(vm.qts);
    after = record_text(&vm);
    g_assert_cmpstr(after, ==, RECORD(0, "clean"));

    /* what a kill leaves */
    g_assert_true(g_file_set_contents(vm.record, RECORD(4, "in-use"), -1,
                                      NULL));
    vm.qts = vm_start_on(&vm, HEALTH_ON, true, "");
    s = smart(vm.qts);
    g_assert_cmpuint(s.shutdown_count, ==, 5);
    g_assert_cmpuint(s.shutdown_state, ==, 1);
    qtest_quit(vm.qts);

    /* a record that is not one counts as an unsafe shutdown */
    g_assert_true(g_file_set_contents(vm.record, "garbage", -1, NULL));
    vm.qts = vm_start_on(&vm, HEALTH_ON, true, "");
    s = smart(vm.qts);
    g_assert_cmpuint(s.shutdown_count, ==, 1);
    g_assert_cmpuint(s.shutdown_state, ==, 1);
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
    Vm vm = vm_start(HEALTH_ON, true);
    g_autofree char *path = g_build_filename(vm.dir, "stream", NULL);
    g_autofree char *incoming = g_strdup_printf("-incoming file:%s", path);
    g_autofree char *left = NULL, *taken = NULL, *done = NULL;
    Smart s;

    g_assert_null(set_health_error(vm.qts, "'spares': 33,"
                                   " 'media-temperature': 44"));
    g_assert_cmpuint(set_threshold(vm.qts, 1, 40, TEMP(70), TEMP(90)), ==,
                     NVDIMM_DSM_ST_SUCCESS);
    g_assert_cmpuint(inject(vm.qts, 8, true, 0), ==, NVDIMM_DSM_ST_SUCCESS);
    nvdimm_migrate_to_file(vm.qts, path);
    g_assert_true(nvdimm_file_has(path, "nvdimm/health"));
    qtest_quit(vm.qts);
    left = record_text(&vm);
    g_assert_cmpstr(left, ==, RECORD(0, "in-use"));

    vm.qts = vm_start_on(&vm, HEALTH_ON, true, incoming);
    qtest_qmp_eventwait(vm.qts, "RESUME");
    taken = record_text(&vm);
    g_assert_cmpstr(taken, ==, RECORD(1, "in-use"));
    s = smart(vm.qts);
    g_assert_cmpuint(s.spares, ==, 33);
    g_assert_cmpuint(s.media_temp, ==, TEMP(44));
    g_assert_cmpuint(s.alarms, ==, 1);
    g_assert_cmpuint(s.shutdown_count, ==, 1);
    g_assert_cmpuint(s.shutdown_state, ==, 1);
    qtest_quit(vm.qts);
    vm.qts = NULL;
    done = record_text(&vm);
    g_assert_cmpstr(done, ==, RECORD(1, "clean"));
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
    gsize len;

    nvdimm_migrate_to_file(vm.qts, path);
    qtest_quit(vm.qts);
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    /* the data: health, then spares */
    ((uint8_t *)data)[nvdimm_subsection_data(data, len, "nvdimm/health") + 1] =
        200;
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
    qtest_add_func("/nvdimm/health/functions", test_functions);
    qtest_add_func("/nvdimm/health/defaults", test_defaults);
    qtest_add_func("/nvdimm/health/thresholds", test_thresholds);
    qtest_add_func("/nvdimm/health/inject", test_inject);
    qtest_add_func("/nvdimm/health/qmp", test_qmp);
    qtest_add_func("/nvdimm/health/events", test_events);
    qtest_add_func("/nvdimm/health/record", test_record);
    qtest_add_func("/nvdimm/health/record-refused", test_record_refused);
    qtest_add_func("/nvdimm/health/migrate", test_migrate);
    qtest_add_func("/nvdimm/health/migrate-off", test_migrate_off);
    qtest_add_func("/nvdimm/health/migrate-hostile", test_migrate_hostile);
    return g_test_run();
}
