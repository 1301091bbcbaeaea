/*
 * PVH start_info placement and contents: hv_pvh_build() writes struct
 * hvm_start_info version 1 (layout of Xen's public start_info.h), the
 * module list, the memory map and the command lines where they collide with
 * nothing, below 4 GiB and never at 0; bad parameters and images without
 * PHYS32_ENTRY are refused.
 */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "loader/start_info.h"
#include "loader_util.h"

static uint8_t kimg[PVH_IMG_MAX];

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* The block [gpa, gpa+len) collides with no segment of the image. */
static bool clear_of_image(const struct hv_image *img, uint64_t gpa, uint64_t len)
{
    for (uint32_t i = 0; i < img->nsegs; i++) {
        if (overlaps(gpa, len, img->segs[i].paddr, img->segs[i].memsz))
            return false;
    }
    return true;
}

static void test_start_info_contents(void)
{
    static const char cmdline[] = "console=hvc0 earlyprintk=xen quiet";
    static uint8_t initrd[10000];
    const struct hv_pvh_memmap mm[] = {
        {0, 0x9f000, HV_PVH_MEMMAP_RAM},
        {0x9f000, 0x61000, HV_PVH_MEMMAP_RESERVED},
        {0x100000, (16u << 20) - 0x100000, HV_PVH_MEMMAP_RAM},
    };
    const struct hv_pvh_module mods[] = {
        {.data = initrd, .size = sizeof(initrd), .cmdline = "initrd args"},
        {.data = NULL, .paddr = 0x800000, .size = 0x2345, .cmdline = NULL},
    };
    struct hv_pvh_params p = {.memmap = mm,
                              .memmap_count = 3,
                              .cmdline = cmdline,
                              .modules = mods,
                              .module_count = 2,
                              .rsdp_paddr = 0xe0000};
    struct hv_pvh_layout lay, plan;
    struct hv_image img;
    struct fake_mem m;
    size_t n = gen_pvh_image(kimg, 64, HV_ELF_EM_X86_64, 4);

    for (size_t i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i * 13 + 1);
    CU_ASSERT_FATAL(fake_mem_init(&m, 0, 16u << 20));
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, kimg, n, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_pvh_plan(&img, &p, &plan), HV_OK);
    CU_ASSERT_EQUAL(m.writes, 0); /* planning writes nothing */
    CU_ASSERT_EQUAL_FATAL(hv_pvh_build(&img, &p, &m.sink, &lay), HV_OK);
    CU_ASSERT_PTR_NULL(lay.reason);
    CU_ASSERT_EQUAL(memcmp(&plan, &lay, sizeof(lay)), 0); /* build does what plan said */

    /* Initial state inputs. */
    CU_ASSERT_EQUAL(lay.entry, PVH_IMG_ENTRY);
    CU_ASSERT(lay.start_info_gpa != 0 && lay.start_info_gpa % 8 == 0);
    CU_ASSERT(lay.start_info_gpa + lay.start_info_size <= (1ull << 32));
    CU_ASSERT_EQUAL(lay.start_info_size, 56 + 2 * 32 + 3 * 24 + 40 + 16);
    /* Preferred: right above the image, clear of it and of both modules. */
    CU_ASSERT(lay.start_info_gpa >= img.paddr_hi);
    CU_ASSERT_TRUE(clear_of_image(&img, lay.start_info_gpa, lay.start_info_size));
    CU_ASSERT_TRUE(clear_of_image(&img, lay.module_gpa[0], sizeof(initrd)));
    CU_ASSERT_EQUAL(lay.module_gpa[0] % 4096, 0);
    CU_ASSERT_EQUAL(lay.module_gpa[1], 0x800000);
    CU_ASSERT_FALSE(
        overlaps(lay.module_gpa[0], sizeof(initrd), lay.start_info_gpa, lay.start_info_size));
    CU_ASSERT_FALSE(overlaps(0x800000, 0x2345, lay.start_info_gpa, lay.start_info_size));
    CU_ASSERT_FALSE(overlaps(0x800000, 0x2345, lay.module_gpa[0], sizeof(initrd)));

    /* struct hvm_start_info as the guest reads it. */
    const uint8_t *si = fake_mem_at(&m, lay.start_info_gpa, 56);
    CU_ASSERT_PTR_NOT_NULL_FATAL(si);
    CU_ASSERT_EQUAL(get32(si + 0), 0x336ec578u);
    CU_ASSERT_EQUAL(get32(si + 4), 1);
    CU_ASSERT_EQUAL(get32(si + 8), 0);
    CU_ASSERT_EQUAL(get32(si + 12), 2);
    CU_ASSERT_EQUAL(get64(si + 16), lay.modlist_gpa);
    CU_ASSERT_EQUAL(get64(si + 24), lay.cmdline_gpa);
    CU_ASSERT_EQUAL(get64(si + 32), 0xe0000);
    CU_ASSERT_EQUAL(get64(si + 40), lay.memmap_gpa);
    CU_ASSERT_EQUAL(get32(si + 48), 3);
    CU_ASSERT_EQUAL(get32(si + 52), 0);

    /* Command line. */
    const char *cl = (const char *)fake_mem_at(&m, get64(si + 24), sizeof(cmdline));
    CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
    CU_ASSERT_STRING_EQUAL(cl, cmdline);

    /* Module list. */
    const uint8_t *ml = fake_mem_at(&m, get64(si + 16), 2 * 32);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ml);
    CU_ASSERT_EQUAL(get64(ml + 0), lay.module_gpa[0]);
    CU_ASSERT_EQUAL(get64(ml + 8), sizeof(initrd));
    CU_ASSERT_EQUAL(get64(ml + 24), 0);
    const char *mcl = (const char *)fake_mem_at(&m, get64(ml + 16), 12);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mcl);
    CU_ASSERT_STRING_EQUAL(mcl, "initrd args");
    CU_ASSERT_EQUAL(get64(ml + 32), 0x800000);
    CU_ASSERT_EQUAL(get64(ml + 40), 0x2345);
    CU_ASSERT_EQUAL(get64(ml + 48), 0); /* no command line */
    CU_ASSERT_EQUAL(get64(ml + 56), 0);
    CU_ASSERT_EQUAL(
        memcmp(fake_mem_at(&m, lay.module_gpa[0], sizeof(initrd)), initrd, sizeof(initrd)), 0);

    /* Memory map, entry by entry. */
    const uint8_t *mt = fake_mem_at(&m, get64(si + 40), 3 * 24);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mt);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(get64(mt + 24 * i), mm[i].addr);
        CU_ASSERT_EQUAL(get64(mt + 24 * i + 8), mm[i].size);
        CU_ASSERT_EQUAL(get32(mt + 24 * i + 16), mm[i].type);
        CU_ASSERT_EQUAL(get32(mt + 24 * i + 20), 0);
    }
    /* The kernel itself is loaded. */
    CU_ASSERT_EQUAL(memcmp(fake_mem_at(&m, PVH_TEXT_PADDR, PVH_TEXT_FILESZ), kimg + PVH_TEXT_OFF,
                           PVH_TEXT_FILESZ),
                    0);
    /* The pre-placed module's range was never written. */
    const uint8_t *pre = fake_mem_at(&m, 0x800000, 0x2345);
    for (size_t i = 0; i < 0x2345; i++) {
        if (pre[i] != FAKE_FILL) {
            CU_FAIL("caller-placed module overwritten");
            break;
        }
    }
    CU_ASSERT_TRUE(fake_mem_guards_ok(&m));
    hv_image_close(&img);
    fake_mem_free(&m);
}

/* When RAM above the image is full, start_info goes below it, still clear of it and of page 0. */
static void test_placement_fallback_and_reserved(void)
{
    const struct hv_pvh_memmap mm[] = {
        {0, 0x1000, HV_PVH_MEMMAP_RAM},           /* page 0 only: never used */
        {0x1000, 0x1000, HV_PVH_MEMMAP_RESERVED}, /* overlaps the next RAM entry */
        {0x1000, PVH_DATA_PADDR + PVH_DATA_MEMSZ - 0x1000, HV_PVH_MEMMAP_RAM},
    };
    struct hv_pvh_params p = {.memmap = mm, .memmap_count = 3, .cmdline = "x"};
    struct hv_pvh_layout lay;
    struct hv_image img;
    size_t n = gen_pvh_image(kimg, 32, HV_ELF_EM_X86_64, 4);

    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, kimg, n, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_pvh_plan(&img, &p, &lay), HV_OK);
    CU_ASSERT_EQUAL(lay.start_info_gpa, 0x2000); /* first free after page 0 and the reserved page */
    CU_ASSERT_TRUE(clear_of_image(&img, lay.start_info_gpa, lay.start_info_size));

    /* Room only in the gap between the text bss and the data segment. */
    const struct hv_pvh_memmap gap[] = {
        {PVH_TEXT_PADDR, PVH_DATA_PADDR + PVH_DATA_MEMSZ - PVH_TEXT_PADDR, HV_PVH_MEMMAP_RAM},
    };
    p.memmap = gap;
    p.memmap_count = 1;
    CU_ASSERT_EQUAL_FATAL(hv_pvh_plan(&img, &p, &lay), HV_OK);
    CU_ASSERT_EQUAL(lay.start_info_gpa, PVH_TEXT_PADDR + PVH_TEXT_MEMSZ);

    /* No room at all. */
    const struct hv_pvh_memmap tight[] = {
        {PVH_TEXT_PADDR, PVH_TEXT_MEMSZ, HV_PVH_MEMMAP_RAM},
        {PVH_DATA_PADDR, PVH_DATA_MEMSZ, HV_PVH_MEMMAP_RAM},
    };
    p.memmap = tight;
    p.memmap_count = 2;
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_RANGE);
    CU_ASSERT_STRING_EQUAL(lay.reason, "no room in guest RAM below 4 GiB for start_info");

    /* RAM only above 4 GiB is no use: EBX is 32-bit. */
    const struct hv_pvh_memmap high[] = {
        {PVH_TEXT_PADDR, PVH_TEXT_MEMSZ, HV_PVH_MEMMAP_RAM},
        {1ull << 32, 1ull << 30, HV_PVH_MEMMAP_RAM},
    };
    p.memmap = high;
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_RANGE);
    hv_image_close(&img);
}

static void test_pvh_refusals(void)
{
    const struct hv_pvh_memmap mm[] = {{0, 16u << 20, HV_PVH_MEMMAP_RAM}};
    struct hv_pvh_params p = {.memmap = mm, .memmap_count = 1};
    struct hv_pvh_module mod = {.paddr = PVH_TEXT_PADDR + 0x100, .size = 0x10};
    struct hv_pvh_layout lay;
    struct hv_image img;
    struct fake_mem m;
    char *longcl = malloc(HV_PVH_MAX_CMDLINE + 2);
    size_t n = gen_pvh_image(kimg, 64, HV_ELF_EM_X86_64, 4);
    uint8_t v[4];

    memset(longcl, 'a', HV_PVH_MAX_CMDLINE + 1);
    longcl[HV_PVH_MAX_CMDLINE + 1] = 0;
    CU_ASSERT_FATAL(fake_mem_init(&m, 0, 16u << 20));
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, kimg, n, NULL, NULL), HV_OK);

    p.memmap_count = 0;
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_INVALID_ARG);
    p.memmap_count = 1;
    p.cmdline = longcl;
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_INVALID_ARG);
    CU_ASSERT_STRING_EQUAL(lay.reason, "command line too long");
    longcl[HV_PVH_MAX_CMDLINE] = 0; /* exactly the maximum is fine */
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_OK);
    p.cmdline = NULL;
    p.modules = &mod;
    p.module_count = 1;
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_INVALID_ARG);
    CU_ASSERT_STRING_EQUAL(lay.reason,
                           "module overlaps the image, another module or a reserved range");
    mod.paddr = 0xfffffffffffff000ull;
    mod.size = 0x2000;
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_INVALID_ARG);
    p.module_count = HV_PVH_MAX_MODULES + 1;
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_INVALID_ARG);
    CU_ASSERT_STRING_EQUAL(lay.reason, "too many modules"); /* before any module is read */
    p.module_count = 0;
    /* A memory map entry whose end overflows. */
    const struct hv_pvh_memmap wrap[] = {{0xfffffffffffff000ull, 0x2000, HV_PVH_MEMMAP_RAM}};
    p.memmap = wrap;
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_INVALID_ARG);
    CU_ASSERT_STRING_EQUAL(lay.reason, "memory map entry empty or overflowing");
    p.memmap = mm;
    CU_ASSERT_EQUAL(hv_pvh_plan(NULL, &p, &lay), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, NULL, &lay), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, NULL), HV_ERR_INVALID_ARG);

    /* A sink failure half-way through is reported and sticks to the image. */
    m.fail_after = 2;
    CU_ASSERT_EQUAL(hv_pvh_build(&img, &p, &m.sink, &lay), HV_ERR_HOST);
    CU_ASSERT_EQUAL(img.status, HV_ERR_HOST);
    CU_ASSERT_TRUE(fake_mem_guards_ok(&m));
    hv_image_close(&img);
    CU_ASSERT_EQUAL(m.writes, 2);

    /* No PHYS32_ENTRY note: not a PVH kernel. */
    size_t notes_end = PVH_NOTE_OFF + gen_note(kimg, PVH_NOTE_OFF, "Xen", 6, "os", 3);
    put64(kimg + gen_phdr_off(64, 3) + 32, notes_end - PVH_NOTE_OFF);
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, kimg, notes_end, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_BAD_IMAGE);
    CU_ASSERT_STRING_EQUAL(lay.reason, "no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel");
    hv_image_close(&img);

    /* PHYS32_ENTRY pointing outside every segment. */
    put32(v, 0x5000);
    notes_end = PVH_NOTE_OFF + gen_note(kimg, PVH_NOTE_OFF, "Xen", 18, v, 4);
    put64(kimg + gen_phdr_off(64, 3) + 32, notes_end - PVH_NOTE_OFF);
    CU_ASSERT_EQUAL_FATAL(hv_image_open(&img, kimg, notes_end, NULL, NULL), HV_OK);
    CU_ASSERT_EQUAL(hv_pvh_plan(&img, &p, &lay), HV_ERR_BAD_IMAGE);
    CU_ASSERT_STRING_EQUAL(lay.reason, "PHYS32_ENTRY lies outside the loaded segments");
    hv_image_close(&img);

    /* A failed image stays failed for PVH too. */
    kimg[0] = 0;
    CU_ASSERT_EQUAL(hv_image_open(&img, kimg, notes_end, NULL, NULL), HV_ERR_BAD_IMAGE);
    CU_ASSERT_EQUAL(hv_pvh_build(&img, &p, &m.sink, &lay), HV_ERR_BAD_IMAGE);
    CU_ASSERT_STRING_EQUAL(lay.reason, "not an ELF image (bad magic)");
    hv_image_close(&img);
    free(longcl);
    fake_mem_free(&m);
}

void loader_register_pvh(void);
void loader_register_pvh(void)
{
    CU_pSuite s = CU_add_suite("loader.pvh", NULL, NULL);
    CU_add_test(s, "start_info placement and contents", test_start_info_contents);
    CU_add_test(s, "placement fallback, reserved ranges, no room",
                test_placement_fallback_and_reserved);
    CU_add_test(s, "bad parameters and non-PVH images refused", test_pvh_refusals);
}
