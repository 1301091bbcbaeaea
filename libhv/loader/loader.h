/*
 * Internals shared by the loader's files: checked little-endian reads of the
 * image bytes and the sticky error recorder.
 */
#ifndef HV_LOADER_LOADER_H
#define HV_LOADER_LOADER_H

#include <hv/image.h>

#include "core/util.h"
#include "loader/elf.h"

/* Layout table of the image's class (valid once elf_class is set). */
static inline const struct elf_layout *ldr_layout(const struct hv_image *img)
{
    return &hv_elf_layouts[img->elf_class == 64 ? 1 : 0];
}

/* [off, off+len) lies inside the image bytes (no overflow). */
static inline bool ldr_in_image(const struct hv_image *img, uint64_t off, uint64_t len)
{
    return off <= img->size && len <= img->size - off;
}

/* Little-endian load of @p width (1..8) bytes at @p off; false if out of bounds. */
static inline bool ldr_read(const struct hv_image *img, uint64_t off, uint32_t width, uint64_t *v)
{
    uint64_t r = 0;
    if (!ldr_in_image(img, off, width))
        return false;
    for (uint32_t i = 0; i < width; i++)
        r |= (uint64_t)img->data[off + i] << (8 * i);
    *v = r;
    return true;
}

/* Little-endian decode of bytes already known to be in bounds. */
static inline uint64_t ldr_le(const uint8_t *p, uint32_t width)
{
    uint64_t r = 0;
    for (uint32_t i = 0; i < width; i++)
        r |= (uint64_t)p[i] << (8 * i);
    return r;
}

/*
 * Record a problem. The first one sets the sticky status and reason; later
 * ones are only listed (deduplicated) for tools that report them all.
 */
void ldr_fail(struct hv_image *img, hv_status_t status, const char *reason);

/* Note areas (notes.c). */
void ldr_parse_notes(struct hv_image *img);

/*
 * One checked step of a note walk over the area [base, base+size) with
 * alignment @p align (4 or 8): reads the note at area offset *pos and
 * advances *pos. Returns 1 with @p note filled, 0 at a clean end (fewer than
 * a header's worth of bytes left), or -1 with *why set when the note does
 * not fit the area.
 */
int ldr_note_step(const struct hv_image *img, uint64_t base, uint64_t size, uint32_t align,
                  uint64_t *pos, struct hv_image_note *note, const char **why);

/*
 * Note area number @p idx of the image (index into the program or section
 * header table, per img->note_source): 1 with base/size/align filled, 0 if
 * that header is not a note area, -1 past the table end.
 */
int ldr_note_area(const struct hv_image *img, uint32_t idx, uint64_t *base, uint64_t *size,
                  uint32_t *align);

#endif /* HV_LOADER_LOADER_H */
