/*
 * LD_PRELOAD shim for test_flush.py: every fdatasync() of the process
 * takes VNV_FDATASYNC_DELAY_MS longer, so that guest flush requests meet
 * a sync that is still running.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int fdatasync(int fd)
{
    static int (*real_fdatasync)(int);
    const char *delay = getenv("VNV_FDATASYNC_DELAY_MS");
    long ms = delay ? atol(delay) : 0;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    if (!real_fdatasync) {
        real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    }
    while (nanosleep(&ts, &ts) < 0) {
        /* interrupted: sleep what is left */
    }
    return real_fdatasync(fd);
}
