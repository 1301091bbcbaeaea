/*
 * Loader tests on PVH guests built by the real toolchain (GNU as/ld/objcopy,
 * see data/loader_make_fixtures.sh): ELF64, ELF32-class with EM_X86_64 (as
 * some Xen guests are built), i386, and the gzip-compressed ELF64. Notes,
 * entry points and segments must match what the sources and linker script
 * say; the gzip image must load byte for byte like the plain one; PVH boot
 * must place start_info clear of the image.
 */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "loader/inflate_zlib.h"
#include "loader_util.h"

/* Symbols of the fixture (nm loader_pvh_guest64.elf). */
#define FX_PVH_START      0x100000u
#define FX_HYPERCALL_PAGE 0x101000u

static void check_fixture(const char *name, int cls, uint16_t machine, struct fake_mem *m)
{
    size_t len = 0;
    uint8_t *buf = loader_read_fixture(name, &len);
    struct hv_image img;

    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, buf, len, NULL, &hv_inflate_zlib_ops), HV_OK);
    CU_ASSERT_EQUAL(img.elf_class, cls);
    CU_ASSERT_EQUAL(img.machine, machine);
    CU_ASSERT_EQUAL(img.entry, FX_PVH_START);
    CU_ASSERT_EQUAL(img.nsegs, 2);
    CU_ASSERT_EQUAL(img.segs[0].paddr, 0x100000);
    CU_ASSERT_EQUAL(img.segs[1].paddr, 0x103000);
    CU_ASSERT_EQUAL(img.segs[1].memsz, 0x5000); /* data + 16 KiB bss, page-aligned */
    CU_ASSERT(img.segs[1].filesz < img.segs[1].memsz);
    CU_ASSERT_EQUAL(img.note_source, HV_IMAGE_NOTES_SEGMENTS);
    CU_ASSERT_EQUAL(img.notes, 7);
    CU_ASSERT_EQUAL(img.xen_notes, 7);
    CU_ASSERT_TRUE(img.has_phys32_entry);
    CU_ASSERT_EQUAL(img.phys32_entry, FX_PVH_START);
    CU_ASSERT_EQUAL(img.xen[HV_XEN_ELFNOTE_HYPERCALL_PAGE].value, FX_HYPERCALL_PAGE);
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_GUEST_OS].str, "hvfixture");
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_GUEST_VERSION].str, "1.0");
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_XEN_VERSION].str, "xen-3.0");
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_LOADER].str, "generic");
    CU_ASSERT_STRING_EQUAL(img.xen[HV_XEN_ELFNOTE_FEATURES].str, "!writable_page_tables");
    CU_ASSERT_EQUAL(hv_image_load(&img, &m->sink), HV_OK);
    /* The entry point holds the fixture's first instruction: mov %ebx, %esi (89 de). */
    const uint8_t *code = fake_mem_at(m, FX_PVH_START, 2);
    CU_ASSERT_FATAL(code != NULL);
    CU_ASSERT(code[0] == 0x89 && code[1] == 0xde);
    CU_ASSERT_TRUE(fake_mem_guards_ok(m));
    hv_image_close(&img);
    free(buf);
}

static void test_fixtures_parse_and_load(void)
{
    struct fake_mem m64, m32, mi386, mgz;

    CU_ASSERT_FATAL(fake_mem_init(&m64, 0, 2u << 20) && fake_mem_init(&m32, 0, 2u << 20) &&
                    fake_mem_init(&mi386, 0, 2u << 20) && fake_mem_init(&mgz, 0, 2u << 20));
    check_fixture("loader_pvh_guest64.elf", 64, HV_ELF_EM_X86_64, &m64);
    check_fixture("loader_pvh_guest_elf32_x86_64.elf", 32, HV_ELF_EM_X86_64, &m32);
    check_fixture("loader_pvh_guest_i386.elf", 32, HV_ELF_EM_386, &mi386);
    check_fixture("loader_pvh_guest64.elf.gz", 64, HV_ELF_EM_X86_64, &mgz);
    /* Same guest memory from the plain, the gzip and the ELF32 conversion of the ELF64. */
    CU_ASSERT_EQUAL(memcmp(m64.raw, mgz.raw, m64.size + 2 * FAKE_GUARD), 0);
    CU_ASSERT_EQUAL(memcmp(m64.raw, m32.raw, m64.size + 2 * FAKE_GUARD), 0);
    fake_mem_free(&m64);
    fake_mem_free(&m32);
    fake_mem_free(&mi386);
    fake_mem_free(&mgz);
}

static void test_fixture_pvh_boot(void)
{
    const struct hv_pvh_memmap mm[] = {{0, 0xa0000, HV_PVH_MEMMAP_RAM},
                                       {0x100000, 0x700000, HV_PVH_MEMMAP_RAM}};
    struct hv_pvh_params p = {.memmap = mm, .memmap_count = 2, .cmdline = "console=hvc0"};
    struct hv_pvh_layout lay;
    struct hv_image img;
    struct fake_mem m;
    size_t len = 0;
    uint8_t *buf = loader_read_fixture("loader_pvh_guest_elf32_x86_64.elf", &len);

    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    CU_ASSERT_FATAL(fake_mem_init(&m, 0, 8u << 20));
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, buf, len, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_pvh_build(&img, &p, &m.sink, &lay), HV_OK);
    CU_ASSERT_EQUAL(lay.entry, FX_PVH_START);
    CU_ASSERT(lay.start_info_gpa >= img.paddr_hi); /* above the image, its bss included */
    const uint8_t *si = fake_mem_at(&m, lay.start_info_gpa, 56);
    CU_ASSERT_FATAL(si != NULL);
    CU_ASSERT_EQUAL(get32(si), 0x336ec578u);
    CU_ASSERT_STRING_EQUAL((const char *)fake_mem_at(&m, get64(si + 24), 13), "console=hvc0");
    CU_ASSERT_EQUAL(get32(si + 48), 2);
    CU_ASSERT_TRUE(fake_mem_guards_ok(&m));
    hv_image_close(&img);
    fake_mem_free(&m);
    free(buf);
}

void loader_register_fixtures(void);
void loader_register_fixtures(void)
{
    CU_pSuite s = CU_add_suite("loader.fixtures", NULL, NULL);
    CU_add_test(s, "toolchain-built PVH guests parse and load", test_fixtures_parse_and_load);
    CU_add_test(s, "toolchain-built ELF32 x86-64 guest boots by PVH layout", test_fixture_pvh_boot);
}
