/*
 * PVH boot: hv_pvh_load() with synthetic PVH images (ELF64, ELF32, gzip):
 * what lands in guest memory, start_info, the vCPU's entry state, refusals.
 */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/objects.h"
#include "loader_util.h"
#include "xen/internal.h"
#include "xen_fixture.h"

#define MAGIC 0x336ec578u

static uint8_t img[PVH_IMG_MAX];

static void check_entry_state(struct xf *f, uint32_t entry, uint64_t si)
{
    struct hv_vcpu_state st;
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f->vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(st.rip, entry);
    CU_ASSERT_EQUAL(st.gpr[HV_GPR_RBX], si);
    for (int i = 0; i < HV_GPR_COUNT; i++)
        if (i != HV_GPR_RBX)
            CU_ASSERT_EQUAL(st.gpr[i], 0);
    CU_ASSERT_EQUAL(st.rflags, 2);
    CU_ASSERT_EQUAL(st.cr0, 0x11); /* PE | ET */
    CU_ASSERT_EQUAL(st.cr4, 0);
    CU_ASSERT_EQUAL(st.efer, 0);
    const struct hv_segment *cs = &st.seg[HV_SEG_CS];
    CU_ASSERT_EQUAL(cs->base, 0);
    CU_ASSERT_EQUAL(cs->limit, 0xffffffffu);
    CU_ASSERT_EQUAL(cs->attr & 0xf, 0xb); /* execute/read */
    CU_ASSERT(cs->attr & HV_SEG_DB);      /* 32-bit */
    CU_ASSERT_FALSE(cs->attr & HV_SEG_L);
    CU_ASSERT_EQUAL((cs->attr >> 5) & 3, 0); /* ring 0 */
    int data[] = {HV_SEG_DS, HV_SEG_ES, HV_SEG_SS};
    for (int i = 0; i < 3; i++) {
        const struct hv_segment *s = &st.seg[data[i]];
        CU_ASSERT_EQUAL(s->base, 0);
        CU_ASSERT_EQUAL(s->limit, 0xffffffffu);
        CU_ASSERT_EQUAL(s->attr & 0xf, 0x3); /* read/write */
        CU_ASSERT(s->attr & HV_SEG_DB);
        CU_ASSERT(s->attr & HV_SEG_P);
    }
    CU_ASSERT_EQUAL(st.seg[HV_SEG_TR].attr & 0x1f, 0xb); /* 32-bit TSS, system */
    CU_ASSERT(st.seg[HV_SEG_TR].attr & HV_SEG_P);
}

static void test_load_elf64(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.compat = false});
    size_t len = gen_pvh_image(img, 64, HV_ELF_EM_X86_64, 4);
    memset(xf_gpa(&f, PVH_TEXT_PADDR), 0xaa, PVH_TEXT_MEMSZ); /* bss must be zeroed */
    struct hv_pvh_config cfg = {.size = sizeof(cfg), .cmdline = "console=hvc0"};
    struct hv_pvh_info info;
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, len, &cfg, &info), HV_OK);
    CU_ASSERT_PTR_NULL(info.reason);
    CU_ASSERT_EQUAL(info.entry, PVH_IMG_ENTRY);
    CU_ASSERT_EQUAL(info.elf_class, 64);
    CU_ASSERT_EQUAL(info.compressed, 0);
    CU_ASSERT_EQUAL(info.paddr_lo, PVH_TEXT_PADDR);
    CU_ASSERT_EQUAL(info.paddr_hi, PVH_DATA_PADDR + PVH_DATA_MEMSZ);
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&f, PVH_TEXT_PADDR), img + PVH_TEXT_OFF, PVH_TEXT_FILESZ), 0);
    uint8_t *bss = xf_gpa(&f, PVH_TEXT_PADDR + PVH_TEXT_FILESZ);
    for (unsigned i = 0; i < PVH_TEXT_MEMSZ - PVH_TEXT_FILESZ; i++)
        if (bss[i])
            CU_FAIL("bss not zeroed");
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&f, PVH_DATA_PADDR), img + PVH_DATA_OFF, PVH_DATA_FILESZ), 0);
    /* start_info: magic, version 1, the memory map derived from the mappings. */
    CU_ASSERT(info.start_info_gpa >= PVH_DATA_PADDR + PVH_DATA_MEMSZ ||
              info.start_info_gpa + 56 <= PVH_TEXT_PADDR);
    uint8_t *si = xf_gpa(&f, info.start_info_gpa);
    uint32_t magic, version, nmem;
    uint64_t cmd, mem;
    memcpy(&magic, si, 4);
    memcpy(&version, si + 4, 4);
    memcpy(&cmd, si + 24, 8);
    memcpy(&mem, si + 40, 8);
    memcpy(&nmem, si + 48, 4);
    CU_ASSERT_EQUAL(magic, MAGIC);
    CU_ASSERT_EQUAL(version, 1);
    CU_ASSERT_STRING_EQUAL((char *)xf_gpa(&f, cmd), "console=hvc0");
    CU_ASSERT_EQUAL(nmem, 4); /* RAM, read-only page, RAM, RAM after the hole */
    CU_ASSERT_EQUAL(info.memmap_count, 4);
    uint64_t a0, s0;
    uint32_t t1;
    memcpy(&a0, xf_gpa(&f, mem), 8);
    memcpy(&s0, xf_gpa(&f, mem + 8), 8);
    memcpy(&t1, xf_gpa(&f, mem + 24 + 16), 4);
    CU_ASSERT_EQUAL(a0, 0);
    CU_ASSERT_EQUAL(s0, XF_RO_PAGE);
    CU_ASSERT_EQUAL(t1, 2);
    check_entry_state(&f, PVH_IMG_ENTRY, info.start_info_gpa);
    /* XENMEM_memory_map now answers with the same map. */
    f.compat = true; /* the vCPU is in 32-bit mode now: compat argument layout */
    uint32_t m32[2] = {8, XF_BUF2};
    memcpy(xf_gpa(&f, XF_BUF), m32, 8);
    CU_ASSERT_EQUAL(xf_call(&f, HC_MEMORY_OP, 9, XF_BUF, 0, 0, 0, 0), 0);
    memcpy(m32, xf_gpa(&f, XF_BUF), 4);
    CU_ASSERT_EQUAL(m32[0], 4);
    xf_teardown(&f);
}

static void test_load_elf32_and_gzip(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.no_xen = true});
    size_t len = gen_pvh_image(img, 32, HV_ELF_EM_386, 4);
    struct hv_pvh_memmap map[1] = {{0, XF_RO_PAGE, 1}};
    struct hv_pvh_config cfg = {.size = sizeof(cfg), .memmap = map, .memmap_count = 1};
    struct hv_pvh_info info;
    /* The image does not fit the given map: refused before anything is written. */
    memset(xf_gpa(&f, PVH_TEXT_PADDR), 0xaa, 16);
    CU_ASSERT_NOT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, len, &cfg, &info), HV_OK);
    CU_ASSERT_PTR_NOT_NULL(info.reason);
    CU_ASSERT_EQUAL(*(uint8_t *)xf_gpa(&f, PVH_TEXT_PADDR), 0xaa);
    map[0].size = XF_RO_PAGE; /* start_info fits below the read-only page */
    struct hv_pvh_memmap map2[2] = {{0, XF_RO_PAGE, 1}, {0x100000, 0x200000, 1}};
    cfg.memmap = map2;
    cfg.memmap_count = 2;
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, len, &cfg, &info), HV_OK);
    CU_ASSERT_EQUAL(info.elf_class, 32);
    CU_ASSERT_EQUAL(info.memmap_count, 2);
    check_entry_state(&f, PVH_IMG_ENTRY, info.start_info_gpa);

    /* gzip: the built-in inflate with host allocations. */
    size_t glen;
    uint8_t *gz = gz_compress(img, len, 9, Z_DEFAULT_STRATEGY, &glen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
    memset(xf_gpa(&f, PVH_TEXT_PADDR), 0, PVH_TEXT_MEMSZ);
    uint64_t objs = f.mh.objs_out;
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, gz, glen, NULL, &info), HV_OK);
    CU_ASSERT_EQUAL(info.compressed, 1);
    CU_ASSERT_EQUAL(f.mh.objs_out, objs); /* the inflate buffer was released */
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&f, PVH_TEXT_PADDR), img + PVH_TEXT_OFF, PVH_TEXT_FILESZ), 0);
    /* A corrupt stream. */
    gz[glen / 2] ^= 0xff;
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, gz, glen, NULL, &info), HV_ERR_BAD_IMAGE);
    CU_ASSERT_EQUAL(f.mh.objs_out, objs);
    free(gz);
    xf_teardown(&f);
}

static void test_refusals(void)
{
    struct xf f;
    xf_setup(&f, &(struct xf_opts){.no_xen = true});
    size_t len = gen_pvh_image(img, 64, HV_ELF_EM_X86_64, 8);
    struct hv_pvh_info info;
    struct hv_vcpu_state before, after;
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, HV_STATE_ALL, &before), HV_OK);

    /* No PHYS32_ENTRY note: the first note becomes an unknown type. */
    uint32_t unknown = 0x1000002;
    memcpy(img + PVH_NOTE_OFF + 8, &unknown, 4);
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, len, NULL, &info), HV_ERR_BAD_IMAGE);
    CU_ASSERT_PTR_NOT_NULL(info.reason);
    CU_ASSERT_PTR_NOT_NULL(strstr(info.reason, "PHYS32_ENTRY"));
    CU_ASSERT_EQUAL(*(uint8_t *)xf_gpa(&f, PVH_TEXT_PADDR), 0);

    /* A segment over read-only memory: the write is refused, the vCPU untouched. */
    len = gen_pvh_image(img, 64, HV_ELF_EM_X86_64, 8);
    CU_ASSERT_EQUAL(hv_vm_protect(f.vm, PVH_DATA_PADDR, 4096, HV_MEM_READ), HV_OK);
    /* The derived map calls the page reserved: the image is not in RAM. */
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, len, NULL, &info), HV_ERR_RANGE);
    CU_ASSERT_PTR_NOT_NULL(info.reason);
    /* A caller's map that claims it is RAM: the write itself faults. */
    struct hv_pvh_memmap all[1] = {{0, XF_RAM_SIZE, 1}};
    struct hv_pvh_config ac = {.size = sizeof(ac), .memmap = all, .memmap_count = 1};
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, len, &ac, &info), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, HV_STATE_ALL, &after), HV_OK);
    CU_ASSERT_EQUAL(after.rip, before.rip);
    CU_ASSERT_EQUAL(after.cr0, before.cr0);

    /* Garbage, truncation, bad arguments. */
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, "not an elf", 10, NULL, &info), HV_ERR_BAD_IMAGE);
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, 40, NULL, &info), HV_ERR_BAD_IMAGE);
    CU_ASSERT_EQUAL(hv_pvh_load(NULL, f.vcpu, img, len, NULL, &info), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, NULL, img, len, NULL, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, NULL, len, NULL, NULL), HV_ERR_INVALID_ARG);
    struct hv_pvh_config cfg = {.size = 2};
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, len, &cfg, NULL), HV_ERR_INVALID_ARG);
    cfg.size = sizeof(cfg);
    cfg.memmap_count = 3;
    CU_ASSERT_EQUAL(hv_pvh_load(f.vm, f.vcpu, img, len, &cfg, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vcpu_get_state(f.vcpu, HV_STATE_ALL, &after), HV_OK);
    CU_ASSERT_EQUAL(after.rip, before.rip);
    xf_teardown(&f);
}

void xen_suite_pvh(void)
{
    CU_pSuite s = CU_add_suite("xen_pvh", NULL, NULL);
    CU_add_test(s, "load_elf64", test_load_elf64);
    CU_add_test(s, "load_elf32_and_gzip", test_load_elf32_and_gzip);
    CU_add_test(s, "refusals", test_refusals);
}
