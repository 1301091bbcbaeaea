/*
 * Loader unit tests: parsing and loading of synthetic PVH images (ELF64,
 * ELF32 with EM_X86_64 and EM_386), hand-made malformed images (each
 * refused with its reason, nothing written, guards intact), and the suites
 * of test_loader_gzip.c and test_loader_pvh.c.
 */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "loader_util.h"

/* The mutators share one signature; many ignore some of their arguments. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

void loader_register_gzip(void);
void loader_register_pvh(void);
void loader_register_fixtures(void);

static uint8_t img_buf[PVH_IMG_MAX];

/* ---- well-formed images ------------------------------------------------ */

static void check_pvh_image(int cls, uint16_t machine, uint32_t entry_size)
{
    size_t n = gen_pvh_image(img_buf, cls, machine, entry_size);
    struct hv_image img;
    uint64_t vbase = cls == 64 ? 0xffffffff80000000ull : 0xc0000000ull;

    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_OK);
    CU_ASSERT_PTR_NULL(img.reason);
    CU_ASSERT_EQUAL(img.nproblems, 0);
    CU_ASSERT_EQUAL(img.compression, HV_IMAGE_PLAIN);
    CU_ASSERT_EQUAL(img.elf_class, cls);
    CU_ASSERT_EQUAL(img.machine, machine);
    CU_ASSERT_EQUAL(img.entry, vbase + PVH_TEXT_PADDR + 0x40);
    CU_ASSERT_EQUAL(img.phnum, 4);
    CU_ASSERT_EQUAL(img.nsegs, 2);
    CU_ASSERT_EQUAL(img.skipped_segs, 1);
    CU_ASSERT_EQUAL(img.segs[0].paddr, PVH_TEXT_PADDR);
    CU_ASSERT_EQUAL(img.segs[0].vaddr, vbase + PVH_TEXT_PADDR);
    CU_ASSERT_EQUAL(img.segs[0].offset, PVH_TEXT_OFF);
    CU_ASSERT_EQUAL(img.segs[0].filesz, PVH_TEXT_FILESZ);
    CU_ASSERT_EQUAL(img.segs[0].memsz, PVH_TEXT_MEMSZ);
    CU_ASSERT_EQUAL(img.segs[0].flags, 5);
    CU_ASSERT_EQUAL(img.segs[0].index, 0);
    CU_ASSERT_EQUAL(img.segs[1].paddr, PVH_DATA_PADDR);
    CU_ASSERT_EQUAL(img.segs[1].index, 2);
    CU_ASSERT_EQUAL(img.paddr_lo, PVH_TEXT_PADDR);
    CU_ASSERT_EQUAL(img.paddr_hi, PVH_DATA_PADDR + PVH_DATA_MEMSZ);

    CU_ASSERT_EQUAL(img.note_source, HV_IMAGE_NOTES_SEGMENTS);
    CU_ASSERT_EQUAL(img.notes, 8);
    CU_ASSERT_EQUAL(img.xen_notes, 7);
    CU_ASSERT_EQUAL(img.xen_unknown, 1);
    CU_ASSERT_TRUE(img.has_phys32_entry);
    CU_ASSERT_EQUAL(img.phys32_entry, PVH_IMG_ENTRY);
    CU_ASSERT_TRUE(img.xen[HV_XEN_ELFNOTE_PHYS32_ENTRY].present);
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_PHYS32_ENTRY].kind, HV_XEN_NOTE_NUMERIC);
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_PHYS32_ENTRY].desc_size, entry_size);
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_PHYS32_ENTRY].value, PVH_IMG_ENTRY);
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_ENTRY].value, vbase + PVH_TEXT_PADDR);
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_ENTRY].desc_size, cls == 64 ? 8 : 4);
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_GUEST_OS].kind, HV_XEN_NOTE_STRING);
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_GUEST_OS].str, "hvtest");
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_LOADER].str, "generic");
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_FEATURES].str,
                           "!writable_page_tables|pae_pgdir_above_4gb");
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_PHYS32_RELOC].kind, HV_XEN_NOTE_BYTES);
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_PHYS32_RELOC].desc_size, 12);
    CU_ASSERT_EQUAL(get32(img.xen[HV_XEN_ELFNOTE_PHYS32_RELOC].desc), 0x200000);
    CU_ASSERT_FALSE(img.xen[HV_XEN_ELFNOTE_HYPERCALL_PAGE].present);
    CU_ASSERT_FALSE(img.xen[HV_XEN_ELFNOTE_INFO].present);
    hv_image_close(&img);
    CU_ASSERT_PTR_NULL(img.data);
}

static void test_parse_elf64(void)
{
    check_pvh_image(64, HV_ELF_EM_X86_64, 8);
    check_pvh_image(64, HV_ELF_EM_X86_64, 4);
}

static void test_parse_elf32_x86_64(void)
{
    check_pvh_image(32, HV_ELF_EM_X86_64, 4);
    check_pvh_image(32, HV_ELF_EM_X86_64, 8);
}

static void test_parse_elf32_i386(void)
{
    check_pvh_image(32, HV_ELF_EM_386, 4);
}

static void test_note_iterator(void)
{
    static const uint32_t types[] = {18, 1, 6, 3, 8, 10, 19, 0x1000001};
    size_t n = gen_pvh_image(img_buf, 64, HV_ELF_EM_X86_64, 4);
    struct hv_image img;
    struct hv_image_note_iter it = {0};
    struct hv_image_note note;
    unsigned count = 0;

    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_OK);
    while (hv_image_note_next(&img, &it, &note)) {
        CU_ASSERT_FATAL(count < 8);
        CU_ASSERT_EQUAL(note.type, types[count]);
        CU_ASSERT_EQUAL(note.name_size, 4);
        CU_ASSERT_STRING_EQUAL(note.name, count == 3 ? "GNU" : "Xen");
        CU_ASSERT(note.offset >= PVH_NOTE_OFF && note.offset < n);
        count++;
    }
    CU_ASSERT_EQUAL(count, 8);
    CU_ASSERT_FALSE(hv_image_note_next(&img, &it, &note)); /* stays ended */
    hv_image_close(&img);
}

static void check_loaded(const struct fake_mem *m, const uint8_t *file)
{
    const uint8_t *text = fake_mem_at(m, PVH_TEXT_PADDR, PVH_TEXT_MEMSZ);
    const uint8_t *data = fake_mem_at(m, PVH_DATA_PADDR, PVH_DATA_MEMSZ);

    CU_ASSERT_FATAL(text && data);
    CU_ASSERT_EQUAL(memcmp(text, file + PVH_TEXT_OFF, PVH_TEXT_FILESZ), 0);
    for (size_t i = PVH_TEXT_FILESZ; i < PVH_TEXT_MEMSZ; i++) {
        if (text[i] != 0) {
            CU_FAIL("bss not zeroed");
            break;
        }
    }
    CU_ASSERT_EQUAL(memcmp(data, file + PVH_DATA_OFF, PVH_DATA_FILESZ), 0);
    /* Nothing else touched: count the fill bytes outside the two segments. */
    uint64_t other = 0;
    for (uint64_t a = 0; a < m->size; a++) {
        uint64_t gpa = m->base + a;
        bool in = (gpa >= PVH_TEXT_PADDR && gpa < PVH_TEXT_PADDR + PVH_TEXT_MEMSZ) ||
                  (gpa >= PVH_DATA_PADDR && gpa < PVH_DATA_PADDR + PVH_DATA_MEMSZ);
        if (!in && m->ram[a] != FAKE_FILL)
            other++;
    }
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT_TRUE(fake_mem_guards_ok(m));
}

static void test_load_segments(void)
{
    for (int cls = 32; cls <= 64; cls += 32) {
        size_t n = gen_pvh_image(img_buf, cls, HV_ELF_EM_X86_64, 4);
        struct hv_image img;
        struct fake_mem m;

        CU_ASSERT_FATAL(fake_mem_init(&m, 0, 4u << 20));
        CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_OK);
        CU_ASSERT_EQUAL(hv_image_load(&img, &m.sink), HV_OK);
        CU_ASSERT_EQUAL(m.writes, 3); /* text, bss tail, data */
        CU_ASSERT_EQUAL(m.bytes, PVH_TEXT_MEMSZ + PVH_DATA_MEMSZ);
        check_loaded(&m, img_buf);
        hv_image_close(&img);
        /* A closed image cannot be loaded again. */
        CU_ASSERT_NOT_EQUAL(hv_image_load(&img, &m.sink), HV_OK);
        fake_mem_free(&m);
    }
}

static void test_sink_rejection_sticky(void)
{
    size_t n = gen_pvh_image(img_buf, 64, HV_ELF_EM_X86_64, 4);
    struct hv_image img;
    struct fake_mem m;

    /* RAM ends inside the text segment's bss: the sink refuses the zero fill. */
    CU_ASSERT_FATAL(fake_mem_init(&m, 0, PVH_TEXT_PADDR + 0x2000));
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL(hv_image_load(&img, &m.sink), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(img.status, HV_ERR_RANGE);
    CU_ASSERT_STRING_EQUAL(img.reason, "guest memory write rejected");
    CU_ASSERT_EQUAL(m.rejected, 1);
    CU_ASSERT_TRUE(fake_mem_guards_ok(&m));
    uint64_t writes = m.writes;
    CU_ASSERT_EQUAL(hv_image_load(&img, &m.sink), HV_ERR_RANGE); /* sticky: no new writes */
    CU_ASSERT_EQUAL(m.writes, writes);
    CU_ASSERT_EQUAL(m.rejected, 1);
    hv_image_close(&img);
    fake_mem_free(&m);
}

static void test_bad_args(void)
{
    struct hv_image img;
    struct hv_image_sink none = {0};

    CU_ASSERT_EQUAL(hv_image_open(NULL, img_buf, 100, NULL, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_image_open(&img, NULL, 100, NULL, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(img.reason);
    hv_image_close(&img);
    size_t n = gen_pvh_image(img_buf, 64, HV_ELF_EM_X86_64, 4);
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL(hv_image_load(&img, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_image_load(&img, &none), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_image_load(NULL, &none), HV_ERR_INVALID_ARG);
    hv_image_close(&img);
    hv_image_close(&img); /* twice is harmless */
    hv_image_close(NULL);
    CU_ASSERT_STRING_EQUAL(hv_xen_note_name(18), "PHYS32_ENTRY");
    CU_ASSERT_STRING_EQUAL(hv_xen_note_name(99), "unknown");
    CU_ASSERT_STRING_EQUAL(hv_image_machine_str(62), "x86-64");
}

/* ---- malformed images -------------------------------------------------- */

struct bad_case {
    const char *name;
    /* Mutates the standard image of class cls; returns its new size. */
    size_t (*mutate)(uint8_t *b, size_t n, int cls);
    hv_status_t status;
    const char *reason;
    uint64_t max_gpa; /* 0: default */
};

static void set_ph(uint8_t *b, int cls, int i, int field, uint64_t v)
{
    /* field: 0 type, 1 offset, 2 paddr, 3 filesz, 4 memsz, 5 align */
    static const int off64[] = {0, 8, 24, 32, 40, 48}, off32[] = {0, 4, 12, 16, 20, 28};
    uint8_t *p = b + gen_phdr_off(cls, i);
    if (field == 0)
        put32(p, (uint32_t)v);
    else if (cls == 64)
        put64(p + off64[field], v);
    else
        put32(p + off32[field], (uint32_t)v);
}

/* Replaces the note area with @p notes and fixes up the PT_NOTE size. */
static size_t with_notes(uint8_t *b, int cls, const uint8_t *notes, size_t len)
{
    memcpy(b + PVH_NOTE_OFF, notes, len);
    set_ph(b, cls, 3, 3, len);
    set_ph(b, cls, 3, 4, len);
    return PVH_NOTE_OFF + len;
}

static size_t m_short_ident(uint8_t *b, size_t n, int cls)
{
    return 10;
}
static size_t m_short_ehdr(uint8_t *b, size_t n, int cls)
{
    return cls == 64 ? 60 : 48;
}
static size_t m_magic(uint8_t *b, size_t n, int cls)
{
    b[1] = 'X';
    return n;
}
static size_t m_class(uint8_t *b, size_t n, int cls)
{
    b[4] = 3;
    return n;
}
static size_t m_bigendian(uint8_t *b, size_t n, int cls)
{
    b[5] = 2;
    return n;
}
static size_t m_encoding(uint8_t *b, size_t n, int cls)
{
    b[5] = 0;
    return n;
}
static size_t m_identver(uint8_t *b, size_t n, int cls)
{
    b[6] = 0;
    return n;
}
static size_t m_version(uint8_t *b, size_t n, int cls)
{
    put32(b + 20, 2);
    return n;
}
static size_t m_machine(uint8_t *b, size_t n, int cls)
{
    put16(b + 18, 40);
    return n;
}
static size_t m_rel(uint8_t *b, size_t n, int cls)
{
    put16(b + 16, 1);
    return n;
}
static size_t m_core(uint8_t *b, size_t n, int cls)
{
    put16(b + 16, 4);
    return n;
}
static size_t m_phnum0(uint8_t *b, size_t n, int cls)
{
    put16(b + (cls == 64 ? 56 : 44), 0);
    return n;
}
static size_t m_phentsize(uint8_t *b, size_t n, int cls)
{
    put16(b + (cls == 64 ? 54 : 42), 40);
    return n;
}
static size_t m_phnum_huge(uint8_t *b, size_t n, int cls)
{
    put16(b + (cls == 64 ? 56 : 44), 0xfffe);
    return n;
}
static size_t m_phnum_xnum(uint8_t *b, size_t n, int cls)
{
    put16(b + (cls == 64 ? 56 : 44), 0xffff);
    return n;
}
static size_t m_phoff_end(uint8_t *b, size_t n, int cls)
{
    if (cls == 64)
        put64(b + 32, n - 100);
    else
        put32(b + 28, (uint32_t)n - 60);
    return n;
}
static size_t m_phoff_wrap(uint8_t *b, size_t n, int cls)
{
    if (cls == 64)
        put64(b + 32, 0xffffffffffffff00ull);
    else
        put32(b + 28, 0xffffff00u);
    return n;
}
static size_t m_shoff_end(uint8_t *b, size_t n, int cls)
{
    if (cls == 64)
        put64(b + 40, n - 8);
    else
        put32(b + 32, (uint32_t)n - 8);
    return n;
}
static size_t m_seg_past_end(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 2, 1, n - 0x10);
    return n;
}
static size_t m_seg_truncated(uint8_t *b, size_t n, int cls)
{
    return PVH_DATA_OFF + 0x100;
}
static size_t m_seg_off_wrap(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 0, 1, cls == 64 ? 0xffffffffffffff00ull : 0xffffff00u);
    return n;
}
static size_t m_filesz(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 2, 4, 0x10);
    return n;
}
static size_t m_filesz_memsz0(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 1, 3, 0x10);
    return n;
}
static size_t m_overlap(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 2, 2, PVH_TEXT_PADDR + 0x2000);
    return n;
}
static size_t m_overlap_exact(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 2, 2, PVH_TEXT_PADDR);
    return n;
}
static size_t m_paddr_wrap(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 2, 2, cls == 64 ? 0xfffffffffffff000ull : 0xfffff000u);
    set_ph(b, cls, 2, 4, 0x2000);
    return n;
}
static size_t m_align(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 0, 5, 0x3000);
    return n;
}
static size_t m_noload(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 0, 0, 6);
    set_ph(b, cls, 1, 0, 6);
    set_ph(b, cls, 2, 0, 6);
    return n;
}
static size_t m_note_past_end(uint8_t *b, size_t n, int cls)
{
    set_ph(b, cls, 3, 3, n);
    return n;
}
static size_t m_note_namesz(uint8_t *b, size_t n, int cls)
{
    put32(b + PVH_NOTE_OFF, 0xfffffff0u);
    return n;
}
static size_t m_note_descsz(uint8_t *b, size_t n, int cls)
{
    put32(b + PVH_NOTE_OFF + 4, 0x7fffffffu);
    return n;
}
static size_t m_note_descsz_max(uint8_t *b, size_t n, int cls)
{
    put32(b + PVH_NOTE_OFF + 4, 0xffffffffu);
    return n;
}
static size_t m_note_pad(uint8_t *b, size_t n, int cls)
{
    /* Area ends inside the last note's descriptor padding. */
    uint8_t notes[64];
    size_t len = gen_note(notes, 0, "Xen", HV_XEN_ELFNOTE_GUEST_OS, "ab", 3);
    return with_notes(b, cls, notes, len - 1);
}
static size_t m_note_numeric3(uint8_t *b, size_t n, int cls)
{
    uint8_t notes[64];
    size_t len = gen_note(notes, 0, "Xen", HV_XEN_ELFNOTE_PHYS32_ENTRY, "\x40\x00\x10", 3);
    return with_notes(b, cls, notes, len);
}
static size_t m_note_unterminated(uint8_t *b, size_t n, int cls)
{
    uint8_t notes[64];
    size_t len = gen_note(notes, 0, "Xen", HV_XEN_ELFNOTE_GUEST_OS, "abcd", 4);
    return with_notes(b, cls, notes, len);
}
/* A string without NUL whose padding is not zero either. */
static size_t m_note_unterminated_pad(uint8_t *b, size_t n, int cls)
{
    uint8_t notes[64];
    size_t len = gen_note(notes, 0, "Xen", HV_XEN_ELFNOTE_GUEST_OS, "abcde", 5);
    memset(notes + len - 3, 'x', 3);
    return with_notes(b, cls, notes, len);
}
static size_t m_note_empty_string(uint8_t *b, size_t n, int cls)
{
    uint8_t notes[64];
    size_t len = gen_note(notes, 0, "Xen", HV_XEN_ELFNOTE_LOADER, "", 0);
    return with_notes(b, cls, notes, len);
}
static size_t m_note_entry_high(uint8_t *b, size_t n, int cls)
{
    uint8_t notes[64], v[8];
    put64(v, 0x100000000ull);
    size_t len = gen_note(notes, 0, "Xen", HV_XEN_ELFNOTE_PHYS32_ENTRY, v, 8);
    return with_notes(b, cls, notes, len);
}
static size_t m_note_reloc(uint8_t *b, size_t n, int cls)
{
    uint8_t notes[64];
    size_t len = gen_note(notes, 0, "Xen", HV_XEN_ELFNOTE_PHYS32_RELOC, "12345", 5);
    return with_notes(b, cls, notes, len);
}

static const struct bad_case bad_cases[] = {
    {"short ident", m_short_ident, HV_ERR_BAD_IMAGE, "image shorter than the ELF identification"},
    {"short ehdr", m_short_ehdr, HV_ERR_BAD_IMAGE, "truncated ELF header"},
    {"magic", m_magic, HV_ERR_BAD_IMAGE, "not an ELF image (bad magic)"},
    {"class", m_class, HV_ERR_BAD_IMAGE, "unknown ELF class (neither ELF32 nor ELF64)"},
    {"big endian", m_bigendian, HV_ERR_BAD_IMAGE,
     "big-endian ELF image (only little-endian is supported)"},
    {"encoding", m_encoding, HV_ERR_BAD_IMAGE, "unknown ELF data encoding"},
    {"ident version", m_identver, HV_ERR_BAD_IMAGE, "unknown ELF identification version"},
    {"e_version", m_version, HV_ERR_BAD_IMAGE, "unknown ELF version (e_version)"},
    {"machine", m_machine, HV_ERR_BAD_IMAGE, "machine is not x86 (EM_386 or EM_X86_64)"},
    {"ET_REL", m_rel, HV_ERR_BAD_IMAGE, "relocatable object, not an executable image"},
    {"ET_CORE", m_core, HV_ERR_BAD_IMAGE, "ELF type is neither ET_EXEC nor ET_DYN"},
    {"phnum 0", m_phnum0, HV_ERR_BAD_IMAGE, "no program headers"},
    {"phentsize", m_phentsize, HV_ERR_BAD_IMAGE, "unexpected program header entry size"},
    {"phnum huge", m_phnum_huge, HV_ERR_BAD_IMAGE, "program header count larger than the image"},
    {"PN_XNUM", m_phnum_xnum, HV_ERR_BAD_IMAGE, "PN_XNUM program header count without section 0"},
    {"phoff end", m_phoff_end, HV_ERR_BAD_IMAGE, "program header table past end of image"},
    {"phoff wrap", m_phoff_wrap, HV_ERR_BAD_IMAGE, "program header table past end of image"},
    {"shoff end", m_shoff_end, HV_ERR_BAD_IMAGE, "section header table past end of image"},
    {"segment past end", m_seg_past_end, HV_ERR_BAD_IMAGE, "segment data past end of image"},
    {"truncated file", m_seg_truncated, HV_ERR_BAD_IMAGE, "segment data past end of image"},
    {"segment offset wrap", m_seg_off_wrap, HV_ERR_BAD_IMAGE, "segment data past end of image"},
    {"filesz > memsz", m_filesz, HV_ERR_BAD_IMAGE, "segment file size larger than its memory size"},
    {"filesz, memsz 0", m_filesz_memsz0, HV_ERR_BAD_IMAGE,
     "segment file size larger than its memory size"},
    {"overlap", m_overlap, HV_ERR_BAD_IMAGE, "overlapping PT_LOAD segments"},
    {"overlap exact", m_overlap_exact, HV_ERR_BAD_IMAGE, "overlapping PT_LOAD segments"},
    {"paddr wrap", m_paddr_wrap, HV_ERR_BAD_IMAGE, "segment physical address range overflows"},
    {"outside limit", NULL, HV_ERR_RANGE, "segment outside the guest-physical limit",
     PVH_DATA_PADDR + 0x7ff},
    {"align", m_align, HV_ERR_BAD_IMAGE, "segment alignment is not a power of two"},
    {"no PT_LOAD", m_noload, HV_ERR_BAD_IMAGE, "no loadable (PT_LOAD) segments"},
    {"note past end", m_note_past_end, HV_ERR_BAD_IMAGE, "note segment past end of image"},
    {"note namesz", m_note_namesz, HV_ERR_BAD_IMAGE,
     "note name runs past the end of its note area"},
    {"note descsz", m_note_descsz, HV_ERR_BAD_IMAGE,
     "note descriptor runs past the end of its note area"},
    {"note descsz max", m_note_descsz_max, HV_ERR_BAD_IMAGE,
     "note descriptor runs past the end of its note area"},
    {"note padding", m_note_pad, HV_ERR_BAD_IMAGE,
     "note descriptor runs past the end of its note area"},
    {"numeric 3 bytes", m_note_numeric3, HV_ERR_BAD_IMAGE,
     "numeric Xen note is not 4 or 8 bytes long"},
    {"unterminated string", m_note_unterminated, HV_ERR_BAD_IMAGE,
     "Xen string note is not NUL-terminated"},
    {"unterminated string, padding", m_note_unterminated_pad, HV_ERR_BAD_IMAGE,
     "Xen string note is not NUL-terminated"},
    {"empty string", m_note_empty_string, HV_ERR_BAD_IMAGE,
     "Xen string note is not NUL-terminated"},
    {"PHYS32_ENTRY > 4G", m_note_entry_high, HV_ERR_BAD_IMAGE,
     "PHYS32_ENTRY note does not fit in 32 bits"},
    {"PHYS32_RELOC size", m_note_reloc, HV_ERR_BAD_IMAGE,
     "PHYS32_RELOC note is not up to three 32-bit values"},
};

static size_t m_identity(uint8_t *b, size_t n, int cls)
{
    return n;
}

static void run_bad_case(const struct bad_case *c, int cls)
{
    size_t n = gen_pvh_image(img_buf, cls, HV_ELF_EM_X86_64, 4);
    struct hv_image_limits lim = {.max_gpa = c->max_gpa};
    struct hv_image img;
    struct fake_mem m;
    hv_status_t st;

    n = (c->mutate ? c->mutate : m_identity)(img_buf, n, cls);
    CU_ASSERT_FATAL(fake_mem_init(&m, 0, 4u << 20));
    st = hv_image_open(&img, img_buf, n, &lim, NULL);
    if (st != c->status || !img.reason || strcmp(img.reason, c->reason) != 0) {
        fprintf(stderr, "\n  case '%s' (ELF%d): got %d '%s', want %d '%s'\n", c->name, cls, st,
                img.reason ? img.reason : "(null)", c->status, c->reason);
        CU_FAIL("malformed image not refused with the expected reason");
    }
    CU_ASSERT_EQUAL(img.status, st);
    CU_ASSERT(img.nproblems >= 1);
    /* Refused images load nothing and keep refusing. */
    CU_ASSERT_EQUAL(hv_image_load(&img, &m.sink), c->status);
    CU_ASSERT_EQUAL(m.writes + m.rejected, 0);
    CU_ASSERT_TRUE(fake_mem_untouched(&m));
    CU_ASSERT_TRUE(fake_mem_guards_ok(&m));
    hv_image_close(&img);
    fake_mem_free(&m);
}

static void test_malformed(void)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        run_bad_case(&bad_cases[i], 64);
        run_bad_case(&bad_cases[i], 32);
    }
}

/* Every truncation of a valid image is refused or parsed without reading past it. */
static void test_every_truncation(void)
{
    size_t n = gen_pvh_image(img_buf, 64, HV_ELF_EM_X86_64, 8);
    struct hv_image img;
    unsigned refused = 0;

    for (size_t len = 0; len < n; len++) {
        /* A heap copy of exactly len bytes: ASan catches any read past it. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, img_buf, len);
        if (hv_image_open(&img, copy, len, NULL, NULL) != HV_OK) {
            refused++;
            CU_ASSERT_PTR_NOT_NULL(img.reason);
        }
        hv_image_close(&img);
        free(copy);
    }
    /* The note area is last: every truncation cuts a note or a segment. */
    CU_ASSERT_EQUAL(refused, n);
}

static void test_many_problems_listed(void)
{
    size_t n = gen_pvh_image(img_buf, 64, HV_ELF_EM_X86_64, 4);
    struct hv_image img;

    set_ph(img_buf, 64, 0, 5, 0x3000);      /* bad alignment */
    set_ph(img_buf, 64, 2, 1, n + 0x1000);  /* data past end */
    put32(img_buf + PVH_NOTE_OFF, 0x10000); /* note name too long */
    CU_ASSERT_EQUAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_ERR_BAD_IMAGE);
    CU_ASSERT_STRING_EQUAL(img.reason, "segment alignment is not a power of two");
    CU_ASSERT_EQUAL_FATAL(img.nproblems, 3);
    CU_ASSERT_STRING_EQUAL(img.problems[0], "segment alignment is not a power of two");
    CU_ASSERT_STRING_EQUAL(img.problems[1], "segment data past end of image");
    CU_ASSERT_STRING_EQUAL(img.problems[2], "note name runs past the end of its note area");
    hv_image_close(&img);
}

static void test_too_many_segments(void)
{
    static uint8_t b[8192];
    struct gen_elf g = {.cls = 64, .machine = HV_ELF_EM_X86_64, .type = 2, .entry = 0x100000};
    struct hv_image img;

    /* 16 phdrs fit the builder; replicate to 40 by hand after it. */
    g.nph = 1;
    g.ph[0] = (struct gen_phdr){1, 5, 0x1000, 0x100000, 0x100000, 0x10, 0x10, 0x10};
    gen_write_headers(b, &g);
    for (int i = 1; i < 40; i++) {
        memcpy(b + gen_phdr_off(64, i), b + gen_phdr_off(64, 0), 56);
        set_ph(b, 64, i, 2, 0x100000 + 0x100 * i);
    }
    put16(b + 56, 40);
    CU_ASSERT_EQUAL(hv_image_open(&img, b, sizeof(b), NULL, NULL), HV_ERR_BAD_IMAGE);
    CU_ASSERT_STRING_EQUAL(img.reason, "too many PT_LOAD segments");
    CU_ASSERT_EQUAL(img.nsegs, HV_IMAGE_MAX_SEGMENTS);
    hv_image_close(&img);
    /* Exactly the maximum is fine. */
    put16(b + 56, HV_IMAGE_MAX_SEGMENTS);
    CU_ASSERT_EQUAL(hv_image_open(&img, b, sizeof(b), NULL, NULL), HV_OK);
    hv_image_close(&img);
}

/* SHT_NOTE sections are read when there is no PT_NOTE; extended numbering is honoured. */
static void test_section_notes_and_xnum(void)
{
    size_t n = gen_pvh_image(img_buf, 64, HV_ELF_EM_X86_64, 4);
    size_t notes_len = n - PVH_NOTE_OFF, sh = (n + 7) & ~7ul;
    struct hv_image img;

    set_ph(img_buf, 64, 3, 0, 6); /* PT_NOTE -> PT_PHDR */
    memset(img_buf + sh, 0, 3 * 64);
    /* section 0: extended counts; section 1: SHT_NOTE over the note area */
    put32(img_buf + sh + 44, 4);     /* sh_info of section 0: real e_phnum */
    put64(img_buf + sh + 32, 3);     /* sh_size of section 0: real e_shnum */
    put32(img_buf + sh + 64 + 4, 7); /* SHT_NOTE */
    put64(img_buf + sh + 64 + 24, PVH_NOTE_OFF);
    put64(img_buf + sh + 64 + 32, notes_len);
    put64(img_buf + sh + 64 + 48, 4);
    put64(img_buf + 40, sh);     /* e_shoff */
    put16(img_buf + 60, 0);      /* e_shnum: see section 0 */
    put16(img_buf + 56, 0xffff); /* e_phnum = PN_XNUM */
    n = sh + 3 * 64;
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL(img.phnum, 4);
    CU_ASSERT_EQUAL(img.shnum, 3);
    CU_ASSERT_EQUAL(img.note_source, HV_IMAGE_NOTES_SECTIONS);
    CU_ASSERT_EQUAL(img.notes, 8);
    CU_ASSERT_TRUE(img.has_phys32_entry);
    CU_ASSERT_EQUAL(img.phys32_entry, PVH_IMG_ENTRY);
    hv_image_close(&img);
    /* A huge count behind PN_XNUM is bounded like a 16-bit one. */
    put32(img_buf + sh + 44, 0x7fffffffu);
    CU_ASSERT_EQUAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_ERR_BAD_IMAGE);
    CU_ASSERT_STRING_EQUAL(img.reason, "program header count larger than the image");
    hv_image_close(&img);
    /* So is a huge section count in section 0. */
    put32(img_buf + sh + 44, 4);
    put64(img_buf + sh + 32, 0xffffffffffffull);
    CU_ASSERT_EQUAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_ERR_BAD_IMAGE);
    CU_ASSERT_STRING_EQUAL(img.reason, "section header table past end of image");
    hv_image_close(&img);
}

/* A "Xe" owner (or "Xen" without the NUL in namesz) is not Xen's. */
static void test_foreign_owner_ignored(void)
{
    uint8_t notes[64], v[4];
    size_t n = gen_pvh_image(img_buf, 64, HV_ELF_EM_X86_64, 4), len;
    struct hv_image img;

    put32(v, PVH_IMG_ENTRY);
    len = gen_note(notes, 0, "Xe", HV_XEN_ELFNOTE_PHYS32_ENTRY, v, 4);
    n = with_notes(img_buf, 64, notes, len);
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL(img.notes, 1);
    CU_ASSERT_EQUAL(img.xen_notes, 0);
    CU_ASSERT_FALSE(img.has_phys32_entry);
    hv_image_close(&img);
}

/* Linux writes XEN_ELFNOTE_FEATURES with .ascii: 41 bytes, the NUL only in
   the descriptor's padding, which Xen's libelf reads up to. */
static void test_string_note_nul_in_padding(void)
{
    static const char features[] = "!writable_page_tables|pae_pgdir_above_4gb";
    uint8_t notes[128];
    struct hv_image img;

    gen_pvh_image(img_buf, 64, HV_ELF_EM_X86_64, 4);
    size_t len = gen_note(notes, 0, "Xen", HV_XEN_ELFNOTE_FEATURES, features, sizeof(features) - 1);
    CU_ASSERT_EQUAL_FATAL(sizeof(features) - 1, 41);
    len += gen_note(notes, len, "Xen", HV_XEN_ELFNOTE_GUEST_OS, "linux", 5);
    size_t n = with_notes(img_buf, 64, notes, len);
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, img_buf, n, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_FEATURES].desc_size, 41);
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_FEATURES].str, features);
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_GUEST_OS].str, "linux");
    hv_image_close(&img);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("loader.parse", NULL, NULL);
    CU_add_test(s, "ELF64 PVH image", test_parse_elf64);
    CU_add_test(s, "ELF32 image with EM_X86_64", test_parse_elf32_x86_64);
    CU_add_test(s, "ELF32 image with EM_386", test_parse_elf32_i386);
    CU_add_test(s, "note iterator", test_note_iterator);
    CU_add_test(s, "SHT_NOTE fallback and extended numbering", test_section_notes_and_xnum);
    CU_add_test(s, "foreign note owners ignored", test_foreign_owner_ignored);
    CU_add_test(s, "string note with its NUL in the padding", test_string_note_nul_in_padding);
    CU_add_test(s, "load writes segments and zero fill", test_load_segments);
    CU_add_test(s, "sink rejection is sticky", test_sink_rejection_sticky);
    CU_add_test(s, "bad arguments", test_bad_args);
    s = CU_add_suite("loader.malformed", NULL, NULL);
    CU_add_test(s, "each malformed image refused with its reason", test_malformed);
    CU_add_test(s, "every truncation refused", test_every_truncation);
    CU_add_test(s, "independent problems all listed", test_many_problems_listed);
    CU_add_test(s, "too many PT_LOAD segments", test_too_many_segments);
    loader_register_gzip();
    loader_register_pvh();
    loader_register_fixtures();

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
