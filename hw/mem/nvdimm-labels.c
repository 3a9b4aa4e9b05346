/*
 * NVDIMM label area guard
 *
 * With label-size set, the last label-size bytes of the backend are the
 * namespace label area.  A backend file that was used without labels has
 * the end of the guest's data there: turning labels on would silently
 * drop that data from the guest's region and let the first label update
 * overwrite it.  Such a label area is refused unless the user opts in,
 * or the backend is read-only: no label write can reach it then, so
 * nothing can be lost, and stock QEMU starts such a VM.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "hw/mem/nvdimm-labels.h"
#include "system/runstate.h"
#include "trace.h"

/*
 * The namespace index block (UEFI 2.7, 13.19; Linux's struct
 * nd_namespace_index): a 16-byte signature, then at byte 24 "myoff", the
 * block's own offset in the label area.  Two blocks start the area, the
 * second right after the first; each is a 256-byte aligned header of 72
 * bytes plus a free-slot bitmap of one bit per label, and labels are at
 * least 128 bytes.
 */
#define NSINDEX_SIGNATURE       "NAMESPACE_INDEX"   /* with its NUL: 16 */
#define NSINDEX_SIGNATURE_LEN   16
#define NSINDEX_MYOFF_OFFSET    24
#define NSINDEX_HEADER_SIZE     72
#define NSINDEX_ALIGN           256
#define NSLABEL_MIN_SIZE        128

/* Where the second index block can start, at the latest. */
static uint64_t nvdimm_last_index_offset(uint64_t label_size)
{
    uint64_t max_slots = label_size / NSLABEL_MIN_SIZE;

    return ROUND_UP(NSINDEX_HEADER_SIZE + DIV_ROUND_UP(max_slots, 8),
                    NSINDEX_ALIGN);
}

static bool nvdimm_index_block_at(const uint8_t *area, uint64_t size,
                                  uint64_t offset)
{
    if (offset + NSINDEX_HEADER_SIZE > size) {
        return false;
    }
    return !memcmp(area + offset, NSINDEX_SIGNATURE,
                   NSINDEX_SIGNATURE_LEN) &&
           ldq_le_p(area + offset + NSINDEX_MYOFF_OFFSET) == offset;
}

/*
 * A label area the guest has written holds at least one intact index
 * block: the protocol updates one block while the other stays valid, so
 * a torn update leaves one of them behind.
 */
static bool nvdimm_area_has_index(const uint8_t *area, uint64_t size)
{
    uint64_t last = nvdimm_last_index_offset(size);
    uint64_t offset;

    for (offset = 0; offset <= last; offset += NSINDEX_ALIGN) {
        if (nvdimm_index_block_at(area, size, offset)) {
            return true;
        }
    }
    return false;
}

/* "blank", "labelled", or NULL when the area holds something else */
static const char *nvdimm_label_area_state(NVDIMMDevice *nvdimm)
{
    const uint8_t *area = nvdimm->label_data;

    if (buffer_is_zero(area, nvdimm->label_size)) {
        return "blank";
    }
    if (nvdimm_area_has_index(area, nvdimm->label_size)) {
        return "labelled";
    }
    return NULL;
}

/*
 * On an incoming migration the stream brings the whole backend, label
 * area included, and the source made this check on the same bytes; what
 * the destination's file holds now is about to be replaced.
 */
bool nvdimm_check_label_area(NVDIMMDevice *nvdimm, Error **errp)
{
    const char *memdev = nvdimm_memdev_id(nvdimm);
    const char *state;

    if (!nvdimm->label_size || runstate_check(RUN_STATE_INMIGRATE)) {
        return true;
    }
    state = nvdimm_label_area_state(nvdimm);
    if (state) {
        trace_nvdimm_check_label_area(memdev, state);
        return true;
    }
    if (nvdimm->label_overwrite) {
        trace_nvdimm_check_label_area(memdev, "data, overwrite allowed");
        return true;
    }
    if (nvdimm->readonly) {
        trace_nvdimm_check_label_area(memdev, "data, read-only");
        warn_report("the label area of memdev %s (its last 0x%" PRIx64
                    " bytes) holds data but no namespace labels: the guest"
                    " sees that data as a label area, not in its region",
                    memdev, nvdimm->label_size);
        return true;
    }
    error_setg(errp, "the label area of memdev %s (its last 0x%" PRIx64
               " bytes) holds data but no namespace labels: the end of the"
               " guest's data would become the label area and be"
               " overwritten; set " NVDIMM_LABEL_OVERWRITE_PROP "=on to"
               " allow it", memdev, nvdimm->label_size);
    error_append_hint(errp, "A backend used without label-size keeps guest"
                      " data in its last bytes.  Use it without label-size,"
                      " or save those bytes before giving them up to the"
                      " labels.\n");
    return false;
}
