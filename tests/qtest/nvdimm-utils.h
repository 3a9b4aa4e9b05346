/*
 * The NVDIMM _DSM mailbox as a guest drives it, and the backend files
 * the tests give QEMU: what the NVDIMM qtests and the fuzz target share
 *
 * The fuzz target runs inside QEMU, without libqtest's QMP helpers and
 * their test asserts, so this header has neither; nvdimm-qtest.h builds
 * the qtests' helpers on it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_NVDIMM_UTILS_H
#define TESTS_QTEST_NVDIMM_UTILS_H

/*
 * The mailbox of docs/specs/acpi_nvdimm.rst: the guest writes a request
 * page (handle, revision, function, then the function's input) and the
 * page's address to the doorbell port; QEMU writes the reply (length,
 * status, then the output) over the same page.
 */
#define NVDIMM_DOORBELL         0x0a18
#define NVDIMM_PAGE_SIZE        4096
#define NVDIMM_DSM_IN_HDR       12
#define NVDIMM_DSM_OUT_HDR      8

/* Where the tests put the page: RAM that no firmware uses under qtest */
#define NVDIMM_PAGE_ADDR        0x300000ULL

/* Handles 1 to 0xffff are NVDIMMs (slot + 1); 0 and 0x10000 are reserved */
#define NVDIMM_SLOT0_HANDLE     1
#define NVDIMM_ROOT_HANDLE      0
#define NVDIMM_QEMU_HANDLE      0x10000

/*
 * The NVDIMMs' functions (Intel's NVDIMM DSM interface).  Function 0
 * of every handle returns the bitmap of the functions it supports.
 */
#define NVDIMM_DSM_FN_QUERY         0
#define NVDIMM_DSM_FN_LABEL_SIZE    4
#define NVDIMM_DSM_FN_LABEL_GET     5
#define NVDIMM_DSM_FN_LABEL_SET     6
#define NVDIMM_DSM_LABEL_FUNCTIONS  0x71

/*
 * The largest label transfer, QEMU 10.0's: a Set Namespace Label Data
 * request (the header, offset and length, then the data) fills a page.
 */
#define NVDIMM_DSM_MAX_LABEL_XFER   (NVDIMM_PAGE_SIZE - NVDIMM_DSM_IN_HDR - 8)

/*
 * The QEMU handle's functions, which the SSDT's own methods call; one
 * numbering for all three, so they are listed together.
 */
#define NVDIMM_QEMU_FN_READ_FIT     1
#define NVDIMM_QEMU_FN_MEDIA_EVENT  2   /* nvdimm-media-errors=on */
#define NVDIMM_QEMU_FN_HEALTH_EVENT 3   /* nvdimm-health=on */

/*
 * Status of the NVDIMMs' functions (Intel's NVDIMM DSM interface,
 * chapter 3) and of the QEMU handle's, which follow it; FIT_CHANGED
 * asks _FIT to start again.
 */
#define NVDIMM_DSM_ST_SUCCESS       0
#define NVDIMM_DSM_ST_UNSUPPORTED   1
#define NVDIMM_DSM_ST_NO_DEVICE     2
#define NVDIMM_DSM_ST_INVALID_INPUT 3
#define NVDIMM_DSM_ST_FIT_CHANGED   0x100

/*
 * Status of the root device's functions (ACPI 6.x, the NVDIMM root
 * device's _DSM): the same low codes, but without "no device", so
 * "invalid input" is 2, not 3.  The extended status is in bits 16-31.
 */
#define NVDIMM_ROOT_ST_SUCCESS       0
#define NVDIMM_ROOT_ST_UNSUPPORTED   1
#define NVDIMM_ROOT_ST_INVALID_INPUT 2

/*
 * Make @path a sparse file of @size bytes, a backend file no guest has
 * written yet; 0 or -errno, for the caller to report as it can.
 */
static inline int nvdimm_create_sparse_file(const char *path, off_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int ret = 0;

    if (fd < 0) {
        return -errno;
    }
    if (ftruncate(fd, size) < 0) {
        ret = -errno;
    }
    close(fd);
    return ret;
}

#endif
