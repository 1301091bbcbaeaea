/*
 * ELF header and program header parsing: hv_image_open() validates an image
 * without writing anything (the "describe/plan" step). Offsets and sizes
 * come from the System V gABI; every value read from the image is checked
 * before it is used as an offset, a size, a count or an address.
 */
#include "loader/loader.h"

const struct elf_layout hv_elf_layouts[2] = {
    /* ELF32: Elf32_Ehdr 52 bytes, Elf32_Phdr 32, Elf32_Shdr 40 */
    {.ehdr_size = 52,
     .phdr_size = 32,
     .shdr_size = 40,
     .e_entry = 24,
     .e_phoff = 28,
     .e_shoff = 32,
     .e_phentsize = 42,
     .e_phnum = 44,
     .e_shentsize = 46,
     .e_shnum = 48,
     .p_type = 0,
     .p_offset = 4,
     .p_vaddr = 8,
     .p_paddr = 12,
     .p_filesz = 16,
     .p_memsz = 20,
     .p_flags = 24,
     .p_align = 28,
     .sh_type = 4,
     .sh_offset = 16,
     .sh_size = 20,
     .sh_info = 28,
     .sh_addralign = 32,
     .word = 4},
    /* ELF64: Elf64_Ehdr 64 bytes, Elf64_Phdr 56, Elf64_Shdr 64 */
    {.ehdr_size = 64,
     .phdr_size = 56,
     .shdr_size = 64,
     .e_entry = 24,
     .e_phoff = 32,
     .e_shoff = 40,
     .e_phentsize = 54,
     .e_phnum = 56,
     .e_shentsize = 58,
     .e_shnum = 60,
     .p_type = 0,
     .p_flags = 4,
     .p_offset = 8,
     .p_vaddr = 16,
     .p_paddr = 24,
     .p_filesz = 32,
     .p_memsz = 40,
     .p_align = 48,
     .sh_type = 4,
     .sh_offset = 24,
     .sh_size = 32,
     .sh_info = 44,
     .sh_addralign = 48,
     .word = 8},
};

void ldr_fail(struct hv_image *img, hv_status_t status, const char *reason)
{
    if (img->status == HV_OK) {
        img->status = status;
        img->reason = reason;
    }
    for (uint32_t i = 0; i < img->nproblems; i++) {
        if (img->problems[i] == reason)
            return;
    }
    if (img->nproblems < HV_IMAGE_MAX_PROBLEMS)
        img->problems[img->nproblems++] = reason;
}

const char *hv_image_machine_str(uint16_t machine)
{
    switch (machine) {
    case HV_ELF_EM_386:
        return "i386";
    case HV_ELF_EM_X86_64:
        return "x86-64";
    default:
        return "other";
    }
}

/* Reads field @p field_off (of @p width bytes) of the ELF header; in bounds once checked. */
static uint64_t ehdr_field(const struct hv_image *img, uint32_t field_off, uint32_t width)
{
    return ldr_le(img->data + field_off, width);
}

/* e_ident, e_type, e_machine, e_version and the header's own size. */
static bool parse_ident(struct hv_image *img)
{
    const uint8_t *d = img->data;

    if (img->size < ELF_EI_NIDENT) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "image shorter than the ELF identification");
        return false;
    }
    if (d[0] != 0x7f || d[1] != 'E' || d[2] != 'L' || d[3] != 'F') {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "not an ELF image (bad magic)");
        return false;
    }
    if (d[ELF_EI_CLASS] == ELF_CLASS32) {
        img->elf_class = 32;
    } else if (d[ELF_EI_CLASS] == ELF_CLASS64) {
        img->elf_class = 64;
    } else {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "unknown ELF class (neither ELF32 nor ELF64)");
        return false;
    }
    if (d[ELF_EI_DATA] == ELF_DATA2MSB) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "big-endian ELF image (only little-endian is supported)");
        return false;
    }
    if (d[ELF_EI_DATA] != ELF_DATA2LSB) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "unknown ELF data encoding");
        return false;
    }
    if (d[ELF_EI_VERSION] != ELF_EV_CURRENT) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "unknown ELF identification version");
        return false;
    }
    const struct elf_layout *L = ldr_layout(img);
    if (img->size < L->ehdr_size) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "truncated ELF header");
        return false;
    }
    img->type = (uint16_t)ehdr_field(img, 16, 2);
    img->machine = (uint16_t)ehdr_field(img, 18, 2);
    img->entry = ehdr_field(img, L->e_entry, L->word);
    if (ehdr_field(img, 20, 4) != ELF_EV_CURRENT) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "unknown ELF version (e_version)");
        return false;
    }
    return true;
}

/* Checks that only refuse the image but leave the tables readable. */
static void check_kind(struct hv_image *img)
{
    if (img->machine != HV_ELF_EM_386 && img->machine != HV_ELF_EM_X86_64)
        ldr_fail(img, HV_ERR_BAD_IMAGE, "machine is not x86 (EM_386 or EM_X86_64)");
    if (img->type == ELF_ET_REL)
        ldr_fail(img, HV_ERR_BAD_IMAGE, "relocatable object, not an executable image");
    else if (img->type != ELF_ET_EXEC && img->type != ELF_ET_DYN)
        ldr_fail(img, HV_ERR_BAD_IMAGE, "ELF type is neither ET_EXEC nor ET_DYN");
}

/*
 * Section header table bounds and count, and the program header count, which
 * lives in section 0 when it does not fit 16 bits (gABI "Extended
 * numbering"). Sections are only used for that and for the SHT_NOTE
 * fallback; img->shnum stays 0 unless the whole table is in bounds.
 */
static bool parse_counts(struct hv_image *img)
{
    const struct elf_layout *L = ldr_layout(img);
    uint64_t shentsize = ehdr_field(img, L->e_shentsize, 2);
    uint64_t shnum = ehdr_field(img, L->e_shnum, 2);
    uint64_t phnum = ehdr_field(img, L->e_phnum, 2);
    bool sec0 = false;

    img->shoff = ehdr_field(img, L->e_shoff, L->word);
    if (img->shoff != 0) {
        if (shentsize != L->shdr_size)
            ldr_fail(img, HV_ERR_BAD_IMAGE, "unexpected section header entry size");
        else if (!ldr_in_image(img, img->shoff, L->shdr_size))
            ldr_fail(img, HV_ERR_BAD_IMAGE, "section header table past end of image");
        else
            sec0 = true;
    }
    if (phnum == ELF_PN_XNUM) {
        if (!sec0) {
            ldr_fail(img, HV_ERR_BAD_IMAGE, "PN_XNUM program header count without section 0");
            return false;
        }
        phnum = ldr_le(img->data + img->shoff + L->sh_info, 4);
    }
    img->phnum = (uint32_t)phnum;
    if (!sec0)
        return true;
    if (shnum == 0)
        shnum = ldr_le(img->data + img->shoff + L->sh_size, L->word);
    /* Bounding the count by the image size first keeps the product from overflowing. */
    if (shnum > img->size / L->shdr_size ||
        !ldr_in_image(img, img->shoff, shnum * (uint64_t)L->shdr_size)) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "section header table past end of image");
        return true;
    }
    img->shnum = (uint32_t)shnum;
    return true;
}

static bool parse_phdr_table(struct hv_image *img)
{
    const struct elf_layout *L = ldr_layout(img);

    img->phoff = ehdr_field(img, L->e_phoff, L->word);
    if (img->phnum == 0) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "no program headers");
        return false;
    }
    if (ehdr_field(img, L->e_phentsize, 2) != L->phdr_size) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "unexpected program header entry size");
        return false;
    }
    if (img->phnum > img->size / L->phdr_size) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "program header count larger than the image");
        return false;
    }
    if (!ldr_in_image(img, img->phoff, (uint64_t)img->phnum * L->phdr_size)) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "program header table past end of image");
        return false;
    }
    return true;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    /* Both ranges are non-empty and known not to wrap. */
    return a < b + blen && b < a + alen;
}

/* Validates one PT_LOAD header and appends it to img->segs. */
static void parse_load(struct hv_image *img, uint32_t index, uint64_t ph)
{
    const struct elf_layout *L = ldr_layout(img);
    struct hv_image_segment s;
    uint64_t end, flags;
    /* ELF32 addresses live in a 32-bit space: a segment may not wrap past 4 GiB. */
    uint64_t space_end = img->elf_class == 32 ? (1ull << 32) : UINT64_MAX;

    hv_memset(&s, 0, sizeof(s));
    s.index = index;
    s.offset = ldr_le(img->data + ph + L->p_offset, L->word);
    s.vaddr = ldr_le(img->data + ph + L->p_vaddr, L->word);
    s.paddr = ldr_le(img->data + ph + L->p_paddr, L->word);
    s.filesz = ldr_le(img->data + ph + L->p_filesz, L->word);
    s.memsz = ldr_le(img->data + ph + L->p_memsz, L->word);
    s.align = ldr_le(img->data + ph + L->p_align, L->word);
    flags = ldr_le(img->data + ph + L->p_flags, 4);
    s.flags = (uint32_t)flags;

    if (s.filesz > s.memsz) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "segment file size larger than its memory size");
        return;
    }
    if (s.memsz == 0) {
        img->skipped_segs++;
        return;
    }
    if (!ldr_in_image(img, s.offset, s.filesz)) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "segment data past end of image");
        return;
    }
    if (s.align > 1 && (s.align & (s.align - 1)) != 0) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "segment alignment is not a power of two");
        return;
    }
    if (hv_add_overflows(s.paddr, s.memsz, &end) || end > space_end) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "segment physical address range overflows");
        return;
    }
    if (end > img->max_gpa) {
        ldr_fail(img, HV_ERR_RANGE, "segment outside the guest-physical limit");
        return;
    }
    for (uint32_t i = 0; i < img->nsegs; i++) {
        if (ranges_overlap(s.paddr, s.memsz, img->segs[i].paddr, img->segs[i].memsz)) {
            ldr_fail(img, HV_ERR_BAD_IMAGE, "overlapping PT_LOAD segments");
            return;
        }
    }
    if (img->nsegs >= HV_IMAGE_MAX_SEGMENTS) {
        ldr_fail(img, HV_ERR_BAD_IMAGE, "too many PT_LOAD segments");
        return;
    }
    hv_memcpy(&img->segs[img->nsegs++], &s, sizeof(s));
    if (img->nsegs == 1 || s.paddr < img->paddr_lo)
        img->paddr_lo = s.paddr;
    if (end > img->paddr_hi)
        img->paddr_hi = end;
}

static void parse_segments(struct hv_image *img)
{
    const struct elf_layout *L = ldr_layout(img);

    for (uint32_t i = 0; i < img->phnum; i++) {
        uint64_t ph = img->phoff + (uint64_t)i * L->phdr_size;
        if (ldr_le(img->data + ph + L->p_type, 4) == ELF_PT_LOAD)
            parse_load(img, i, ph);
    }
    if (img->nsegs == 0 && img->nproblems == 0)
        ldr_fail(img, HV_ERR_BAD_IMAGE, "no loadable (PT_LOAD) segments");
}

/* gzip member magic (RFC 1952 2.3.1: ID1 = 31, ID2 = 139). */
static bool is_gzip(const uint8_t *d, size_t size)
{
    return size >= 2 && d[0] == 0x1f && d[1] == 0x8b;
}

static bool decompress(struct hv_image *img, const struct hv_image_limits *limits,
                       const struct hv_inflate_ops *inflate)
{
    uint64_t max =
        limits && limits->max_inflated ? limits->max_inflated : HV_IMAGE_DEFAULT_MAX_INFLATED;
    void *out = NULL;
    size_t out_len = 0;
    hv_status_t st;

    img->compression = HV_IMAGE_GZIP;
    if (!inflate || !inflate->inflate || !inflate->release) {
        ldr_fail(img, HV_ERR_UNSUPPORTED, "gzip-compressed image but no decompression hook");
        return false;
    }
    if (max > SIZE_MAX)
        max = SIZE_MAX;
    st = inflate->inflate(inflate->opaque, img->data, img->size, (size_t)max, &out, &out_len);
    if (st != HV_OK) {
        if (st == HV_ERR_LIMIT)
            ldr_fail(img, st, "decompressed image exceeds the size limit (decompression bomb)");
        else if (st == HV_ERR_NO_MEMORY)
            ldr_fail(img, st, "no memory to decompress the image");
        else
            ldr_fail(img, HV_ERR_BAD_IMAGE, "corrupt gzip data");
        return false;
    }
    img->inflate = inflate;
    img->inflated = out;
    img->inflated_size = out_len;
    if (out_len > max || (out_len && !out)) {
        /* A hook that broke its contract: do not read past what it promised. */
        ldr_fail(img, HV_ERR_LIMIT,
                 "decompressed image exceeds the size limit (decompression bomb)");
        return false;
    }
    img->data = out;
    img->size = out_len;
    return true;
}

hv_status_t hv_image_open(struct hv_image *img, const void *data, size_t size,
                          const struct hv_image_limits *limits,
                          const struct hv_inflate_ops *inflate)
{
    if (!img)
        return HV_ERR_INVALID_ARG;
    hv_memset(img, 0, sizeof(*img));
    img->max_gpa = limits && limits->max_gpa ? limits->max_gpa : HV_IMAGE_DEFAULT_MAX_GPA;
    if (!data) {
        ldr_fail(img, HV_ERR_INVALID_ARG, "no image data");
        return img->status;
    }
    img->data = data;
    img->size = size;
    img->stored_size = size;

    if (is_gzip(img->data, img->size) && !decompress(img, limits, inflate))
        return img->status;
    if (!parse_ident(img))
        return img->status;
    check_kind(img);
    if (!parse_counts(img))
        return img->status;
    if (!parse_phdr_table(img))
        return img->status;
    parse_segments(img);
    ldr_parse_notes(img);
    return img->status;
}

void hv_image_close(struct hv_image *img)
{
    if (!img)
        return;
    if (img->inflated && img->inflate && img->inflate->release)
        img->inflate->release(img->inflate->opaque, img->inflated, img->inflated_size);
    img->inflated = NULL;
    img->inflate = NULL;
    img->data = NULL;
    img->size = 0;
    if (img->status == HV_OK) {
        img->status = HV_ERR_STATE;
        img->reason = "image closed";
    }
}
