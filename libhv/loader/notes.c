/*
 * ELF notes (gABI "Note Section") and the Xen notes among them (Xen's public
 * elfnote.h: owner "Xen", types 0..19). Notes come from PT_NOTE segments, or
 * from SHT_NOTE sections when the image has no PT_NOTE. Each note is a
 * 12-byte header, the owner name padded to 4 bytes and the descriptor padded
 * to the area's alignment (4, or 8 when the area is 8-aligned, as GNU
 * property notes are); every piece must lie inside its area.
 */
#include "loader/loader.h"

static const char *const xen_note_names[HV_XEN_ELFNOTE_COUNT] = {
    "INFO",        "ENTRY",         "HYPERCALL_PAGE",     "VIRT_BASE",    "PADDR_OFFSET",
    "XEN_VERSION", "GUEST_OS",      "GUEST_VERSION",      "LOADER",       "PAE_MODE",
    "FEATURES",    "BSD_SYMTAB",    "HV_START_LOW",       "L1_MFN_VALID", "SUSPEND_CANCEL",
    "INIT_P2M",    "MOD_START_PFN", "SUPPORTED_FEATURES", "PHYS32_ENTRY", "PHYS32_RELOC",
};

/* How each Xen note type's descriptor is read (elfnote.h says which are strings). */
static const uint8_t xen_note_kinds[HV_XEN_ELFNOTE_COUNT] = {
    HV_XEN_NOTE_STRING,  HV_XEN_NOTE_NUMERIC, HV_XEN_NOTE_NUMERIC, HV_XEN_NOTE_NUMERIC,
    HV_XEN_NOTE_NUMERIC, HV_XEN_NOTE_STRING,  HV_XEN_NOTE_STRING,  HV_XEN_NOTE_STRING,
    HV_XEN_NOTE_STRING,  HV_XEN_NOTE_STRING,  HV_XEN_NOTE_STRING,  HV_XEN_NOTE_STRING,
    HV_XEN_NOTE_NUMERIC, HV_XEN_NOTE_BYTES,   HV_XEN_NOTE_NUMERIC, HV_XEN_NOTE_NUMERIC,
    HV_XEN_NOTE_NUMERIC, HV_XEN_NOTE_NUMERIC, HV_XEN_NOTE_NUMERIC, HV_XEN_NOTE_BYTES,
};

const char *hv_xen_note_name(uint32_t type)
{
    return type < HV_XEN_ELFNOTE_COUNT ? xen_note_names[type] : "unknown";
}

int ldr_note_area(const struct hv_image *img, uint32_t idx, uint64_t *base, uint64_t *size,
                  uint32_t *align)
{
    const struct elf_layout *L = ldr_layout(img);
    uint64_t hdr, a;

    if (img->note_source == HV_IMAGE_NOTES_SEGMENTS) {
        if (idx >= img->phnum)
            return -1;
        hdr = img->phoff + (uint64_t)idx * L->phdr_size;
        if (ldr_le(img->data + hdr + L->p_type, 4) != ELF_PT_NOTE)
            return 0;
        *base = ldr_le(img->data + hdr + L->p_offset, L->word);
        *size = ldr_le(img->data + hdr + L->p_filesz, L->word);
        a = ldr_le(img->data + hdr + L->p_align, L->word);
    } else if (img->note_source == HV_IMAGE_NOTES_SECTIONS) {
        if (idx >= img->shnum)
            return -1;
        hdr = img->shoff + (uint64_t)idx * L->shdr_size;
        if (ldr_le(img->data + hdr + L->sh_type, 4) != ELF_SHT_NOTE)
            return 0;
        *base = ldr_le(img->data + hdr + L->sh_offset, L->word);
        *size = ldr_le(img->data + hdr + L->sh_size, L->word);
        a = ldr_le(img->data + hdr + L->sh_addralign, L->word);
    } else {
        return -1;
    }
    *align = a == 8 ? 8 : 4;
    return ldr_in_image(img, *base, *size) ? 1 : -2;
}

int ldr_note_step(const struct hv_image *img, uint64_t base, uint64_t size, uint32_t align,
                  uint64_t *pos, struct hv_image_note *note, const char **why)
{
    uint64_t at = *pos, name_off, desc_off, name_pad, desc_pad;
    const uint8_t *h;

    if (at > size || size - at < ELF_NHDR_SIZE)
        return 0;
    h = img->data + base + at;
    note->name_size = (uint32_t)ldr_le(h, 4);
    note->desc_size = (uint32_t)ldr_le(h + 4, 4);
    note->type = (uint32_t)ldr_le(h + 8, 4);
    note->offset = base + at;

    /* 32-bit sizes padded in 64-bit arithmetic cannot wrap. */
    name_off = at + ELF_NHDR_SIZE;
    name_pad = HV_ALIGN_UP(note->name_size, 4);
    if (name_pad > size - name_off) {
        *why = "note name runs past the end of its note area";
        return -1;
    }
    desc_off = HV_ALIGN_UP(name_off + name_pad, align);
    desc_pad = HV_ALIGN_UP(note->desc_size, align);
    if (desc_off > size || desc_pad > size - desc_off) {
        *why = "note descriptor runs past the end of its note area";
        return -1;
    }
    note->name = (const char *)img->data + base + name_off;
    note->desc = img->data + base + desc_off;
    *pos = desc_off + desc_pad;
    return 1;
}

static bool is_xen_owner(const struct hv_image_note *n)
{
    return n->name_size == 4 && n->name[0] == 'X' && n->name[1] == 'e' && n->name[2] == 'n' &&
           n->name[3] == '\0';
}

/* Records one "Xen" note; the last note of a type wins, as in Xen. */
static void take_xen_note(struct hv_image *img, const struct hv_image_note *n)
{
    struct hv_xen_note x;

    img->xen_notes++;
    if (n->type >= HV_XEN_ELFNOTE_COUNT) {
        img->xen_unknown++;
        return;
    }
    hv_memset(&x, 0, sizeof(x));
    x.present = true;
    x.kind = (hv_xen_note_kind_t)xen_note_kinds[n->type];
    x.desc_size = n->desc_size;
    x.desc = n->desc;
    switch (x.kind) {
    case HV_XEN_NOTE_NUMERIC:
        if (n->desc_size != 4 && n->desc_size != 8) {
            ldr_fail(img, HV_ERR_BAD_IMAGE, "numeric Xen note is not 4 or 8 bytes long");
            return;
        }
        x.value = ldr_le(n->desc, n->desc_size);
        break;
    case HV_XEN_NOTE_STRING:
        /* The NUL may sit in the descriptor's padding: Linux writes
           FEATURES with .ascii (41 bytes, no NUL) and Xen's libelf reads a
           string note up to its first NUL. ldr_note_step() checked that
           the padding lies inside the note area. */
        if (hv_strnlen((const char *)n->desc, HV_ALIGN_UP(n->desc_size, 4)) >=
            HV_ALIGN_UP(n->desc_size, 4)) {
            ldr_fail(img, HV_ERR_BAD_IMAGE, "Xen string note is not NUL-terminated");
            return;
        }
        x.str = (const char *)n->desc;
        break;
    case HV_XEN_NOTE_BYTES:
        /* elfnote.h: PHYS32_RELOC carries up to three 32-bit values. */
        if (n->type == HV_XEN_ELFNOTE_PHYS32_RELOC && (n->desc_size % 4 || n->desc_size > 12)) {
            ldr_fail(img, HV_ERR_BAD_IMAGE, "PHYS32_RELOC note is not up to three 32-bit values");
            return;
        }
        break;
    }
    if (n->type == HV_XEN_ELFNOTE_PHYS32_ENTRY) {
        if (x.value > UINT32_MAX) {
            ldr_fail(img, HV_ERR_BAD_IMAGE, "PHYS32_ENTRY note does not fit in 32 bits");
            return;
        }
        img->has_phys32_entry = true;
        img->phys32_entry = (uint32_t)x.value;
    }
    hv_memcpy(&img->xen[n->type], &x, sizeof(x));
}

/* PT_NOTE segments if there are any, else SHT_NOTE sections. */
static void choose_source(struct hv_image *img)
{
    uint64_t base, size;
    uint32_t align;

    img->note_source = HV_IMAGE_NOTES_SEGMENTS;
    for (uint32_t i = 0; i < img->phnum; i++) {
        if (ldr_note_area(img, i, &base, &size, &align) != 0)
            return;
    }
    img->note_source = HV_IMAGE_NOTES_SECTIONS;
    for (uint32_t i = 0; i < img->shnum; i++) {
        if (ldr_note_area(img, i, &base, &size, &align) != 0)
            return;
    }
    img->note_source = HV_IMAGE_NOTES_NONE;
}

void ldr_parse_notes(struct hv_image *img)
{
    struct hv_image_note n;
    uint64_t base, size, pos;
    uint32_t align;
    const char *why;
    int r;

    choose_source(img);
    for (uint32_t i = 0;; i++) {
        r = ldr_note_area(img, i, &base, &size, &align);
        if (r == -1)
            break;
        if (r == 0)
            continue;
        if (r == -2) {
            ldr_fail(img, HV_ERR_BAD_IMAGE,
                     img->note_source == HV_IMAGE_NOTES_SEGMENTS
                         ? "note segment past end of image"
                         : "note section past end of image");
            continue;
        }
        pos = 0;
        while ((r = ldr_note_step(img, base, size, align, &pos, &n, &why)) == 1) {
            img->notes++;
            if (is_xen_owner(&n))
                take_xen_note(img, &n);
        }
        if (r < 0)
            ldr_fail(img, HV_ERR_BAD_IMAGE, why);
    }
}

bool hv_image_note_next(const struct hv_image *img, struct hv_image_note_iter *it,
                        struct hv_image_note *note)
{
    uint64_t base, size;
    uint32_t align;
    const char *why;
    int r;

    if (!img || !it || !note || !img->data || it->done)
        return false;
    for (;;) {
        r = ldr_note_area(img, it->area, &base, &size, &align);
        if (r == -1) {
            it->done = true;
            return false;
        }
        if (r == 1 && ldr_note_step(img, base, size, align, &it->pos, note, &why) == 1)
            return true;
        /* Not a note area, out of bounds, exhausted or malformed: next area. */
        it->area++;
        it->pos = 0;
    }
}
