/*
 * vnv-dax-read DEVICE OFFSET LENGTH: map DEVICE (a devdax character
 * device, or a file on a DAX filesystem) shared and read LENGTH bytes at
 * OFFSET through the mapping, as a DAX user does.  Prints
 * "read LENGTH bytes" and exits 0; on SIGBUS prints
 * "SIGBUS <code> offset=<offset of the address> lsb=<its granularity>"
 * and exits 7.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* devdax maps in units of its alignment, 2 MiB unless set otherwise */
#define MAP_UNIT (2UL << 20)

static sigjmp_buf on_bus_error;
static volatile int bus_code;
static volatile int bus_lsb;
static void *volatile bus_addr;

static void catch_sigbus(int sig, siginfo_t *info, void *context)
{
    bus_code = info->si_code;
    bus_addr = info->si_addr;
    bus_lsb = info->si_addr_lsb;
    siglongjmp(on_bus_error, 1);
}

static const char *bus_code_name(int code)
{
    switch (code) {
    case BUS_MCEERR_AR:
        return "BUS_MCEERR_AR";
    case BUS_MCEERR_AO:
        return "BUS_MCEERR_AO";
    case BUS_ADRERR:
        return "BUS_ADRERR";
    default:
        return "other";
    }
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_sigaction = catch_sigbus,
                            .sa_flags = SA_SIGINFO };
    unsigned long offset, length, base, span, i;
    volatile unsigned char sum = 0;
    unsigned char *map;
    int fd;

    if (argc != 4) {
        fprintf(stderr, "usage: %s DEVICE OFFSET LENGTH\n", argv[0]);
        return 2;
    }
    offset = strtoul(argv[2], NULL, 0);
    length = strtoul(argv[3], NULL, 0);
    base = offset / MAP_UNIT * MAP_UNIT;
    span = (offset + length - base + MAP_UNIT - 1) / MAP_UNIT * MAP_UNIT;
    fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    map = mmap(NULL, span, PROT_READ, MAP_SHARED, fd, base);
    if (map == MAP_FAILED) {
        fprintf(stderr, "mmap %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    sigaction(SIGBUS, &sa, NULL);
    if (sigsetjmp(on_bus_error, 1)) {
        printf("SIGBUS %s offset=%lu lsb=%d\n", bus_code_name(bus_code),
               (unsigned long)((unsigned char *)bus_addr - map) + base,
               bus_lsb);
        return 7;
    }
    for (i = 0; i < length; i++) {
        sum += map[offset - base + i];
    }
    printf("read %lu bytes\n", length);
    return 0;
}
