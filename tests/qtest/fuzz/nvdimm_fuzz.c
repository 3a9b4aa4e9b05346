/*
 * Fuzz target for the NVDIMM _DSM mailbox (hw/acpi/nvdimm.c)
 *
 * The guest ABI (docs/specs/acpi_nvdimm.rst): the guest writes a request
 * page (handle, revision, function, argument) into its RAM and writes the
 * page's address to the doorbell I/O port; QEMU reads the page, runs the
 * function and writes the reply into the same page.  generic-fuzz reaches
 * the doorbell too, but it has to guess a page address that it also
 * fills with a DMA pattern; this target instead hands whole request pages
 * to the mailbox, so every input runs the request decoder, Read FIT, the
 * per-NVDIMM label and health (SMART) functions and the root device's
 * scrub and error injection functions (the machine has
 * nvdimm-media-errors=on and nvdimm-health=on).
 *
 * The input is a list of commands separated by SEPARATOR.  The first byte
 * of a command picks its kind:
 *   CMD_REQUEST:  the rest is the start of a request page (the remainder of
 *                 the page is zero); it is written at NVDIMM_PAGE_ADDR and
 *                 the doorbell is rung with that address.  The reply's
 *                 length must then lie within the page.
 *   CMD_RING:     the next 4 bytes are written to the doorbell as they are:
 *                 a page anywhere below 4 GiB (straddling the end of RAM,
 *                 in MMIO, in a hole) with whatever it holds.
 *   CMD_ODD_SIZE: byte, word and long reads and writes of the doorbell,
 *                 most of them sizes the device refuses.
 *
 * The machine has three NVDIMMs, so every kind of device handle exists:
 *   handle 1: 128 KiB of labels; handle 2: no labels;
 *   handle 3: labels on a read-only backend (unarmed).
 *
 * Nothing is reset between inputs: label contents and injected errors
 * persist, which changes data but not control flow, and a full reset
 * costs more than the request.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/module.h"

#include "tests/qtest/libqtest.h"
#include "tests/qtest/nvdimm-utils.h"
#include "fuzz.h"

#define SEPARATOR           "NVDM"
#define BACKEND_SIZE        (4 * 1024 * 1024)
#define NUM_BACKENDS        3

enum {
    CMD_REQUEST,
    CMD_RING,
    CMD_ODD_SIZE,
    CMD_MAX
};

/* The backend files, removed once QEMU has mapped them */
static char *backend_dir;
static char *backend_path[NUM_BACKENDS];

static void create_backend(int i)
{
    int ret;

    backend_path[i] = g_strdup_printf("%s/nvdimm%d", backend_dir, i);
    ret = nvdimm_create_sparse_file(backend_path[i], BACKEND_SIZE);
    if (ret < 0) {
        fprintf(stderr, "nvdimm-dsm-fuzz: cannot create %s: %s\n",
                backend_path[i], strerror(-ret));
        exit(1);
    }
}

static GString *nvdimm_fuzz_cmdline(FuzzTarget *t)
{
    GString *cmd = g_string_new(TARGET_NAME);
    int i;

    backend_dir = g_dir_make_tmp("nvdimm-fuzz-XXXXXX", NULL);
    g_assert(backend_dir);
    for (i = 0; i < NUM_BACKENDS; i++) {
        create_backend(i);
    }
    g_string_append_printf(cmd,
        " -machine pc,accel=qtest,nvdimm=on,nvdimm-media-errors=on,"
        "nvdimm-health=on"
        " -m 512M,slots=4,maxmem=4G"
        " -display none -nodefaults"
        " -object memory-backend-file,id=m0,share=on,mem-path=%s,size=%d"
        " -device nvdimm,id=nv0,memdev=m0,label-size=128K"
        " -object memory-backend-file,id=m1,share=on,mem-path=%s,size=%d"
        " -device nvdimm,id=nv1,memdev=m1"
        " -object memory-backend-file,id=m2,readonly=on,mem-path=%s,size=%d"
        " -device nvdimm,id=nv2,memdev=m2,label-size=128K,unarmed=on",
        backend_path[0], BACKEND_SIZE, backend_path[1], BACKEND_SIZE,
        backend_path[2], BACKEND_SIZE);
    return cmd;
}

static void nvdimm_fuzz_pre(QTestState *s)
{
    int i;

    for (i = 0; i < NUM_BACKENDS; i++) {
        unlink(backend_path[i]);
        g_free(backend_path[i]);
    }
    rmdir(backend_dir);
    g_free(backend_dir);
}

/* One request page from the command's bytes; the reply must fit the page */
static void run_request(QTestState *s, const uint8_t *data, size_t len)
{
    uint8_t page[NVDIMM_PAGE_SIZE] = { 0 };
    uint32_t reply_len;

    memcpy(page, data, MIN(len, sizeof(page)));
    qtest_memwrite(s, NVDIMM_PAGE_ADDR, page, sizeof(page));
    qtest_outl(s, NVDIMM_DOORBELL, NVDIMM_PAGE_ADDR);
    reply_len = qtest_readl(s, NVDIMM_PAGE_ADDR);
    /* A reply is at least length + status, and never leaves the page */
    g_assert(reply_len >= NVDIMM_DSM_OUT_HDR && reply_len <= NVDIMM_PAGE_SIZE);
}

static void run_ring(QTestState *s, const uint8_t *data, size_t len)
{
    uint32_t page = 0;

    memcpy(&page, data, MIN(len, sizeof(page)));
    qtest_outl(s, NVDIMM_DOORBELL, le32_to_cpu(page));
}

static void run_odd_size(QTestState *s, const uint8_t *data, size_t len)
{
    uint32_t val = 0;

    memcpy(&val, data, MIN(len, sizeof(val)));
    qtest_outb(s, NVDIMM_DOORBELL, val);
    qtest_outw(s, NVDIMM_DOORBELL, val);
    qtest_outb(s, NVDIMM_DOORBELL + 3, val);
    qtest_inb(s, NVDIMM_DOORBELL);
    qtest_inw(s, NVDIMM_DOORBELL + 2);
    qtest_inl(s, NVDIMM_DOORBELL);
}

static void run_command(QTestState *s, const uint8_t *cmd, size_t len)
{
    if (len == 0) {
        return;
    }
    switch (cmd[0] % CMD_MAX) {
    case CMD_REQUEST:
        run_request(s, cmd + 1, len - 1);
        break;
    case CMD_RING:
        run_ring(s, cmd + 1, len - 1);
        break;
    case CMD_ODD_SIZE:
        run_odd_size(s, cmd + 1, len - 1);
        break;
    }
}

static void nvdimm_fuzz(QTestState *s, const unsigned char *data, size_t size)
{
    const uint8_t *cmd = data;
    size_t left = size;

    while (left) {
        const uint8_t *next = memmem(cmd, left, SEPARATOR, strlen(SEPARATOR));
        size_t len = next ? next - cmd : left;

        run_command(s, cmd, len);
        if (!next) {
            break;
        }
        left -= len + strlen(SEPARATOR);
        cmd = next + strlen(SEPARATOR);
    }
    flush_events(s);
}

static void register_nvdimm_fuzz_targets(void)
{
    fuzz_add_target(&(FuzzTarget){
        .name = "nvdimm-dsm-fuzz",
        .description = "Fuzz the NVDIMM _DSM mailbox with whole request "
                       "pages (see the comment in nvdimm_fuzz.c)",
        .get_init_cmdline = nvdimm_fuzz_cmdline,
        .pre_fuzz = nvdimm_fuzz_pre,
        .fuzz = nvdimm_fuzz,
    });
}

fuzz_target_init(register_nvdimm_fuzz_targets);
