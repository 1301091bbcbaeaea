/*
 * Placing a parsed image in guest memory: each PT_LOAD segment's file bytes
 * at p_paddr, then zeros for the p_memsz - p_filesz tail (bss). All writes
 * go through the caller's sink; its first error stops the load and sticks.
 */
#include "loader/loader.h"

hv_status_t hv_image_load(struct hv_image *img, const struct hv_image_sink *sink)
{
    hv_status_t st;

    if (!img)
        return HV_ERR_INVALID_ARG;
    if (img->status != HV_OK)
        return img->status;
    if (!sink || !sink->write)
        return HV_ERR_INVALID_ARG;
    for (uint32_t i = 0; i < img->nsegs; i++) {
        const struct hv_image_segment *s = &img->segs[i];
        /* hv_image_open() checked offset+filesz against the image and paddr+memsz for overflow. */
        st = HV_OK;
        if (s->filesz)
            st = sink->write(sink->opaque, s->paddr, img->data + s->offset, s->filesz);
        if (st == HV_OK && s->memsz > s->filesz)
            st = sink->write(sink->opaque, s->paddr + s->filesz, NULL, s->memsz - s->filesz);
        if (st != HV_OK) {
            ldr_fail(img, st, "guest memory write rejected");
            return st;
        }
    }
    return HV_OK;
}
