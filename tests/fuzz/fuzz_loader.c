/*
 * Fuzz target: the ELF/PVH image loader with gzip through the built-in
 * inflate. The whole input is the image file (plain ELF or gzip).
 *
 * Invariants: no sanitizer report; every write the loader makes lands
 * below max_gpa and, for start_info and modules, inside a RAM entry of the
 * memory map and below 4 GiB; every source byte it copies lies inside the
 * image bytes; the inflate buffer is released (allocator balance zero);
 * an image that opens has sane segments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hv/image.h>
#include "fuzz_common.h"

#define MAX_GPA      (64ull << 20)
#define MAX_INFLATED (8ull << 20)

struct sink_state {
    const struct hv_image *img;
    uint64_t writes, bytes;
    uint32_t sum;
};

struct alloc_state {
    long live;
    size_t live_bytes;
};

static void *a_alloc(void *opaque, size_t size)
{
    struct alloc_state *a = opaque;
    FZ_CHECK(size > 0 && size <= MAX_INFLATED, "inflate alloc of %zu bytes (limit %llu)", size,
             (unsigned long long)MAX_INFLATED);
    void *p = malloc(size);
    if (p) {
        a->live++;
        a->live_bytes += size;
    }
    return p;
}

static void a_free(void *opaque, void *ptr, size_t size)
{
    struct alloc_state *a = opaque;
    a->live--;
    a->live_bytes -= size;
    free(ptr);
}

static const struct hv_pvh_memmap memmap[] = {
    {0, 0x9f000, HV_PVH_MEMMAP_RAM},
    {0x9f000, 0x61000, HV_PVH_MEMMAP_RESERVED},
    {0x100000, MAX_GPA - 0x100000, HV_PVH_MEMMAP_RAM},
};

static bool in_ram(uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < sizeof(memmap) / sizeof(memmap[0]); i++)
        if (memmap[i].type == HV_PVH_MEMMAP_RAM && gpa >= memmap[i].addr &&
            len <= memmap[i].addr + memmap[i].size - gpa)
            return true;
    return false;
}

static bool in_segment(const struct hv_image *img, uint64_t gpa, uint64_t len)
{
    for (uint32_t i = 0; i < img->nsegs; i++) {
        const struct hv_image_segment *s = &img->segs[i];
        if (gpa >= s->paddr && len <= s->memsz && gpa - s->paddr <= s->memsz - len)
            return true;
    }
    return false;
}

static hv_status_t sink_write(void *opaque, uint64_t gpa, const void *src, uint64_t len)
{
    struct sink_state *s = opaque;
    FZ_CHECK(gpa < MAX_GPA && len <= MAX_GPA - gpa, "write [%#llx, +%#llx) past max_gpa",
             (unsigned long long)gpa, (unsigned long long)len);
    FZ_CHECK(in_segment(s->img, gpa, len) || (gpa + len <= (1ull << 32) && in_ram(gpa, len)),
             "write [%#llx, +%#llx) neither in a segment nor in RAM below 4 GiB",
             (unsigned long long)gpa, (unsigned long long)len);
    if (src) {
        /* Touch every source byte: ASan reports a read outside its buffer. */
        const uint8_t *b = src;
        uint32_t sum = 0;
        for (uint64_t i = 0; i < len; i++)
            sum = sum * 31 + b[i];
        s->sum += sum;
    }
    s->writes++;
    s->bytes += len;
    return HV_OK;
}

static void check_image(const struct hv_image *img)
{
    FZ_CHECK(img->nsegs <= HV_IMAGE_MAX_SEGMENTS, "nsegs %u", img->nsegs);
    FZ_CHECK(img->elf_class == 32 || img->elf_class == 64, "class %u", img->elf_class);
    for (uint32_t i = 0; i < img->nsegs; i++) {
        const struct hv_image_segment *s = &img->segs[i];
        FZ_CHECK(s->filesz <= s->memsz, "segment %u filesz > memsz", i);
        FZ_CHECK(s->offset <= img->size && s->filesz <= img->size - s->offset,
                 "segment %u file range outside the image", i);
        FZ_CHECK(s->paddr < MAX_GPA && s->memsz <= MAX_GPA - s->paddr, "segment %u past max_gpa",
                 i);
        for (uint32_t j = 0; j < i; j++) {
            const struct hv_image_segment *t = &img->segs[j];
            FZ_CHECK(s->paddr >= t->paddr + t->memsz || t->paddr >= s->paddr + s->memsz,
                     "segments %u and %u overlap", j, i);
        }
    }
    for (uint32_t t = 0; t < HV_XEN_ELFNOTE_COUNT; t++) {
        const struct hv_xen_note *n = &img->xen[t];
        if (!n->present)
            continue;
        if (n->desc) {
            FZ_CHECK(n->desc >= img->data && n->desc_size <= img->size &&
                         (size_t)(n->desc - img->data) <= img->size - n->desc_size,
                     "note %u descriptor outside the image", t);
        }
        if (n->kind == HV_XEN_NOTE_STRING && n->str) {
            /* ASan: must be terminated inside the image; the NUL may sit in
               the descriptor's padding to 4 bytes (Linux's FEATURES note). */
            size_t l = strlen(n->str);
            FZ_CHECK(l < ((n->desc_size + 3u) & ~3u),
                     "note %u string not terminated in its padded descriptor", t);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so that ASan sees any read past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);

    struct alloc_state as = {0, 0};
    struct hv_inflate_alloc alloc = {&as, a_alloc, a_free};
    struct hv_inflate_ops inflate;
    hv_inflate_builtin_ops(&inflate, &alloc);
    struct hv_image_limits limits = {MAX_GPA, MAX_INFLATED};

    struct hv_image img;
    hv_status_t st = hv_image_open(&img, copy, size, &limits, &inflate);
    FZ_CHECK(st == img.status, "open returned %d, img.status %d", st, img.status);
    if (st == HV_OK) {
        check_image(&img);
        struct hv_image_note_iter it;
        memset(&it, 0, sizeof(it));
        struct hv_image_note note;
        unsigned notes = 0;
        while (hv_image_note_next(&img, &it, &note))
            FZ_CHECK(++notes <= img.notes + 1, "note iterator runs past %u notes", img.notes);

        struct sink_state ss = {&img, 0, 0, 0};
        struct hv_image_sink sink = {&ss, sink_write};
        static const char mod_data[] = "module bytes";
        struct hv_pvh_module mod = {mod_data, 0, sizeof(mod_data), "mod=1"};
        struct hv_pvh_params params = {memmap, 3, "console=hvc0", &mod, 1, 0xe0000};
        struct hv_pvh_layout lay;
        st = hv_pvh_build(&img, &params, &sink, &lay);
        if (st == HV_OK) {
            FZ_CHECK(lay.start_info_gpa && lay.start_info_gpa < (1ull << 32) &&
                         in_ram(lay.start_info_gpa, lay.start_info_size),
                     "start_info at %#llx outside RAM", (unsigned long long)lay.start_info_gpa);
            FZ_CHECK(img.has_phys32_entry && lay.entry == img.phys32_entry, "entry mismatch");
        } else if (img.status == HV_OK) {
            /* Planning failures leave the image usable: a plain load works or fails in the sink. */
            FZ_CHECK(lay.reason != NULL || st != HV_ERR_RANGE, "plan failed without a reason");
        }
    } else {
        FZ_CHECK(img.reason != NULL, "open failed (%d) without a reason", st);
    }
    hv_image_close(&img);
    hv_image_close(&img); /* documented as safe */
    FZ_CHECK(as.live == 0 && as.live_bytes == 0, "inflate buffer not released (%ld live)", as.live);

    /* The raw gunzip into a small buffer: bounded writes, never past dst_cap. */
    if (size >= 2 && copy[0] == 0x1f && copy[1] == 0x8b) {
        size_t cap = 1 + (copy[size - 1] % 64) * 64;
        uint8_t *dst = malloc(cap);
        size_t out = 0;
        if (dst) {
            if (hv_gunzip(copy, size, dst, cap, &out) == HV_OK)
                FZ_CHECK(out <= cap, "gunzip produced %zu > %zu", out, cap);
            free(dst);
        }
    }
    free(copy);
    return 0;
}
