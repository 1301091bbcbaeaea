/*
 * EPT and NPT format functions against hand-computed entries (SDM Vol. 3C
 * 29.3.2 Tables 29-1..29-6 and 25.6.11; APM Vol. 2 5.4 and 15.25), and the
 * contract the engine relies on (slat.h) for every flag combination.
 */
#include "test_slat.h"

#include <CUnit/CUnit.h>

#include "vmx/ept_format.h"
#include "svm/npt_format.h"

#define RWX          HV_MEM_RWX
#define R            HV_MEM_READ
#define W            HV_MEM_WRITE
#define X            HV_MEM_EXEC
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_ept_bits(void)
{
    /* Table entry: address | R | W | X. */
    CU_ASSERT_EQUAL(hv_ept_make_table(0x1234000), 0x1234007ull);
    CU_ASSERT_EQUAL(hv_ept_table_hpa(0x1234007ull | (1ull << 8)), 0x1234000ull);
    /* 4 KiB RWX WB: memory type 6 in bits 5:3 = 0x30. */
    CU_ASSERT_EQUAL(hv_ept_make_leaf(0x12345000, RWX | HV_MEMTYPE_WB, 0), 0x12345037ull);
    /* 1 GiB read-only WB: bit 7 set. */
    CU_ASSERT_EQUAL(hv_ept_make_leaf(0x40000000, R | HV_MEMTYPE_WB, 2), 0x400000b1ull);
    /* 2 MiB RW UC: type 0. */
    CU_ASSERT_EQUAL(hv_ept_make_leaf(0x200000, R | W | HV_MEMTYPE_UC, 1), 0x200083ull);
    /* WC = 1, WT = 4, WP = 5. */
    CU_ASSERT_EQUAL(hv_ept_make_leaf(0x1000, R | HV_MEMTYPE_WC, 0), 0x1009ull);
    CU_ASSERT_EQUAL(hv_ept_make_leaf(0x1000, R | HV_MEMTYPE_WT, 0), 0x1021ull);
    CU_ASSERT_EQUAL(hv_ept_make_leaf(0x1000, R | HV_MEMTYPE_WP, 0), 0x1029ull);
    /* Highest 52-bit address. */
    CU_ASSERT_EQUAL(hv_ept_make_leaf(0x000ffffffffff000ull, R | HV_MEMTYPE_WB, 0),
                    0x000ffffffffff031ull);
    /* Execute-only: bit 2 alone is present. */
    CU_ASSERT_EQUAL(hv_ept_make_leaf(0x5000, X | HV_MEMTYPE_WB, 0), 0x5034ull);
    CU_ASSERT_TRUE(hv_ept_is_present(0x5034));
    CU_ASSERT_FALSE(hv_ept_is_present(0));
    CU_ASSERT_FALSE(hv_ept_is_present(0x12345038)); /* type bits only */
    CU_ASSERT_TRUE(hv_ept_is_present(1));
    CU_ASSERT_TRUE(hv_ept_is_leaf(0x7, 0));
    CU_ASSERT_TRUE(hv_ept_is_leaf(0x80, 1));
    CU_ASSERT_TRUE(hv_ept_is_leaf(0x80, 2));
    CU_ASSERT_FALSE(hv_ept_is_leaf(0x87, 3));
    CU_ASSERT_FALSE(hv_ept_is_leaf(0x7, 1));
    /* Large leaf address drops the in-page bits; A/D bits ignored. */
    CU_ASSERT_EQUAL(hv_ept_leaf_hpa(0x400003b1ull, 2), 0x40000000ull);
    CU_ASSERT_EQUAL(hv_ept_leaf_hpa(0x12345337ull, 0), 0x12345000ull);
    CU_ASSERT_EQUAL(hv_ept_leaf_flags(0x12345037, 0), RWX | HV_MEMTYPE_WB);
    CU_ASSERT_EQUAL(hv_ept_leaf_flags(0x1029, 0), R | HV_MEMTYPE_WP);
    CU_ASSERT_EQUAL(hv_ept_leaf_flags(0x200083, 1), R | W | HV_MEMTYPE_UC);
    CU_ASSERT_EQUAL(hv_ept_leaf_flags(0x1011, 0), R | HV_MEMTYPE_MASK); /* type 2 reserved */
    /* Dirty = bit 9, accessed = bit 8. */
    CU_ASSERT_TRUE(hv_ept_is_dirty(0x200));
    CU_ASSERT_FALSE(hv_ept_is_dirty(0x100));
    CU_ASSERT_EQUAL(hv_ept_set_dirty(0x12345037), 0x12345237ull);
    CU_ASSERT_EQUAL(hv_ept_clear_dirty(0x12345337), 0x12345137ull);
    /* EPTP: WB (6) | walk length 4 (3 << 3) | A/D enable (bit 6). */
    CU_ASSERT_EQUAL(hv_ept_eptp(0x5000, false), 0x501eull);
    CU_ASSERT_EQUAL(hv_ept_eptp(0x5000, true), 0x505eull);

    struct hv_slat_format f;
    hv_ept_format_init(&f, HV_PAGE_2M, true, false);
    CU_ASSERT_STRING_EQUAL(f.name, "ept");
    CU_ASSERT_EQUAL(f.page_sizes, HV_PAGE_4K | HV_PAGE_2M);
    CU_ASSERT_TRUE(f.has_ad);
    CU_ASSERT_FALSE(f.exec_only);
    CU_ASSERT_EQUAL(f.ad_mask, 0x300ull);
    CU_ASSERT_EQUAL(f.memtypes, 0x1fu);
    hv_ept_format_init(&f, HV_PAGE_2M | HV_PAGE_1G, false, true);
    CU_ASSERT_EQUAL(f.page_sizes, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G);
    CU_ASSERT_FALSE(f.has_ad);
    CU_ASSERT_TRUE(f.exec_only);
}

static void test_npt_bits(void)
{
    /* Table entry: address | P | RW | US. */
    CU_ASSERT_EQUAL(hv_npt_make_table(0x1234000), 0x1234007ull);
    CU_ASSERT_EQUAL(hv_npt_table_hpa(0x1234027ull), 0x1234000ull);
    /* 4 KiB RWX WB: P | RW | US, no NX, PWT = PCD = 0. */
    CU_ASSERT_EQUAL(hv_npt_make_leaf(0x12345000, RWX | HV_MEMTYPE_WB, 0), 0x12345007ull);
    /* Read-only, no execute: P | US | NX. */
    CU_ASSERT_EQUAL(hv_npt_make_leaf(0x12345000, R | HV_MEMTYPE_WB, 0), 0x8000000012345005ull);
    /* RW UC: PCD | PWT (PAT entry 3). */
    CU_ASSERT_EQUAL(hv_npt_make_leaf(0x12345000, R | W | HV_MEMTYPE_UC, 0), 0x800000001234501full);
    /* RX WT: PWT (PAT entry 1). */
    CU_ASSERT_EQUAL(hv_npt_make_leaf(0x12345000, R | X | HV_MEMTYPE_WT, 0), 0x1234500dull);
    /* 2 MiB and 1 GiB: PS. */
    CU_ASSERT_EQUAL(hv_npt_make_leaf(0x200000, RWX | HV_MEMTYPE_WB, 1), 0x200087ull);
    CU_ASSERT_EQUAL(hv_npt_make_leaf(0x40000000, R | W | HV_MEMTYPE_WB, 2), 0x8000000040000087ull);
    CU_ASSERT_TRUE(hv_npt_is_present(1));
    CU_ASSERT_FALSE(hv_npt_is_present(0x6));
    CU_ASSERT_TRUE(hv_npt_is_leaf(0x5, 0));
    CU_ASSERT_TRUE(hv_npt_is_leaf(0x87, 1));
    CU_ASSERT_FALSE(hv_npt_is_leaf(0x87, 3));
    CU_ASSERT_FALSE(hv_npt_is_leaf(0x7, 2));
    /* Large leaf: bit 12 is PAT, not address. */
    CU_ASSERT_EQUAL(hv_npt_leaf_hpa(0x201087ull, 1), 0x200000ull);
    CU_ASSERT_EQUAL(hv_npt_leaf_hpa(0x8000000012345065ull, 0), 0x12345000ull);
    CU_ASSERT_EQUAL(hv_npt_leaf_flags(0x8000000012345005ull, 0), R | HV_MEMTYPE_WB);
    CU_ASSERT_EQUAL(hv_npt_leaf_flags(0x1234500dull, 0), R | X | HV_MEMTYPE_WT);
    CU_ASSERT_EQUAL(hv_npt_leaf_flags(0x800000001234501full, 0), R | W | HV_MEMTYPE_UC);
    CU_ASSERT_EQUAL(hv_npt_leaf_flags(0x200087ull, 1), RWX | HV_MEMTYPE_WB);
    CU_ASSERT_EQUAL(hv_npt_leaf_flags(0x85ull, 0) & HV_MEMTYPE_MASK, HV_MEMTYPE_MASK); /* PAT */
    /* Dirty = bit 6, accessed = bit 5. */
    CU_ASSERT_TRUE(hv_npt_is_dirty(0x40));
    CU_ASSERT_FALSE(hv_npt_is_dirty(0x20));
    CU_ASSERT_EQUAL(hv_npt_set_dirty(0x12345007), 0x12345047ull);
    CU_ASSERT_EQUAL(hv_npt_clear_dirty(0x12345067), 0x12345027ull);

    struct hv_slat_format f;
    hv_npt_format_init(&f, 0);
    CU_ASSERT_STRING_EQUAL(f.name, "npt");
    CU_ASSERT_EQUAL(f.page_sizes, HV_PAGE_4K | HV_PAGE_2M);
    CU_ASSERT_TRUE(f.has_ad);
    CU_ASSERT_FALSE(f.exec_only);
    CU_ASSERT_EQUAL(f.ad_mask, 0x60ull);
    CU_ASSERT_EQUAL(f.memtypes, 0xbu); /* WB (0), UC (1), WT (3) */
    hv_npt_format_init(&f, HV_PAGE_1G);
    CU_ASSERT_EQUAL(f.page_sizes, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G);
}

/* The engine's assumptions about any format, for every accepted flag set. */
static void check_contract(const struct hv_slat_format *f)
{
    static const uint32_t perms[] = {R, R | W, R | X, RWX, X};
    for (int level = 0; level <= 2; level++) {
        uint64_t size = 1ull << (12 + 9 * level);
        const uint64_t hpas[] = {0, size, 7 * size, (1ull << 40) + 3 * size, (1ull << 52) - size};
        for (unsigned p = 0; p < ARRAY_LEN(perms); p++) {
            if (perms[p] == X && !f->exec_only)
                continue;
            for (uint32_t type = 0; type <= 4; type++) {
                if (!(f->memtypes & (1u << type)))
                    continue;
                uint32_t flags = perms[p] | (type << HV_MEMTYPE_SHIFT);
                uint64_t t0 = f->make_leaf(0, flags, level);
                for (unsigned h = 0; h < ARRAY_LEN(hpas); h++) {
                    uint64_t e = f->make_leaf(hpas[h], flags, level);
                    CU_ASSERT_EQUAL(e, t0 | hpas[h]);
                    CU_ASSERT_EQUAL(f->leaf_hpa(e, level), hpas[h]);
                    CU_ASSERT_EQUAL(f->leaf_flags(e, level), flags);
                    CU_ASSERT_TRUE(f->is_present(e));
                    CU_ASSERT_TRUE(f->is_leaf(e, level));
                    CU_ASSERT_FALSE(f->is_dirty(e));
                    CU_ASSERT_EQUAL(e & f->ad_mask, 0);
                    uint64_t d = f->set_dirty(e);
                    CU_ASSERT_TRUE(f->is_dirty(d));
                    CU_ASSERT_EQUAL(d & ~f->ad_mask, e);
                    CU_ASSERT_EQUAL(f->clear_dirty(d), e);
                    CU_ASSERT_EQUAL(f->leaf_hpa(d | f->ad_mask, level), hpas[h]);
                    CU_ASSERT_EQUAL(f->leaf_flags(d | f->ad_mask, level), flags);
                }
            }
        }
    }
    for (uint64_t h = 0x1000; h < (1ull << 52); h = h * 3 + 0x1000) {
        uint64_t hpa = h & ~0xfffull & ((1ull << 52) - 1);
        uint64_t e = f->make_table(hpa);
        CU_ASSERT_EQUAL(e, f->make_table(0) | hpa);
        CU_ASSERT_EQUAL(f->table_hpa(e), hpa);
        CU_ASSERT_TRUE(f->is_present(e));
        for (int level = 1; level <= 3; level++)
            CU_ASSERT_FALSE(f->is_leaf(e, level));
        /* Retired tables are linked through page-aligned pointers: not present. */
        CU_ASSERT_FALSE(f->is_present(hpa));
    }
}

static void test_contract(void)
{
    struct hv_slat_format f;
    hv_ept_format_init(&f, HV_PAGE_2M | HV_PAGE_1G, true, true);
    check_contract(&f);
    hv_ept_format_init(&f, HV_PAGE_2M | HV_PAGE_1G, false, false);
    check_contract(&f);
    hv_npt_format_init(&f, HV_PAGE_1G);
    check_contract(&f);
}

/* The masks the engine derives at init agree with the functions (slat.h). */
static void check_masks(const struct hv_slat_format *f, uint64_t present, uint64_t pm[3],
                        uint64_t pw[3])
{
    struct mock_host m;
    struct hv_host host;
    struct hv_slat s;
    mock_host_init(&m);
    CU_ASSERT_EQUAL_FATAL(hv_host_init(&host, &m.ops), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_slat_init(&s, &host, f, 48, 52, 0), HV_OK);
    CU_ASSERT_EQUAL(s.present_mask, present);
    for (int p = 0; p < 3; p++) {
        CU_ASSERT_EQUAL(s.perm_mask[p], pm[p]);
        CU_ASSERT_EQUAL(s.perm_want[p], pw[p]);
    }
    CU_ASSERT_EQUAL(s.addr_mask[0], 0x000ffffffffff000ull);
    CU_ASSERT_EQUAL(s.addr_mask[1], 0x000fffffffe00000ull);
    CU_ASSERT_EQUAL(s.addr_mask[2], 0x000fffffc0000000ull);
    uint64_t x = 0x123456789abcdefull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t e = x >> (i % 61);
        CU_ASSERT_EQUAL(f->is_present(e), (e & s.present_mask) != 0);
        for (int l = 0; l < 3; l++)
            CU_ASSERT_EQUAL(f->leaf_hpa(e, l), e & s.addr_mask[l]);
    }
    /* Permissions by pattern equal leaf_flags for every leaf the engine makes. */
    static const uint32_t perms[] = {R, R | W, R | X, RWX, X};
    for (unsigned p = 0; p < ARRAY_LEN(perms); p++)
        for (uint32_t type = 0; type <= 4; type++)
            for (int l = 0; l < 3; l++) {
                if ((perms[p] == X && !f->exec_only) || !(f->memtypes & (1u << type)))
                    continue;
                uint64_t e = f->make_leaf(0x40000000, perms[p] | (type << HV_MEMTYPE_SHIFT), l);
                uint32_t granted = 0;
                for (int b = 0; b < 3; b++)
                    if ((e & s.perm_mask[b]) == s.perm_want[b])
                        granted |= 1u << b;
                CU_ASSERT_EQUAL(granted, f->leaf_flags(e, l) & HV_MEM_RWX);
            }
    hv_slat_fini(&s);
    CU_ASSERT_TRUE(mock_host_clean(&m));
    mock_host_fini(&m);
}

static void test_masks(void)
{
    struct hv_slat_format f;
    hv_ept_format_init(&f, HV_PAGE_2M | HV_PAGE_1G, true, true);
    check_masks(&f, 7, (uint64_t[]){1, 2, 4}, (uint64_t[]){1, 2, 4});
    hv_ept_format_init(&f, HV_PAGE_2M | HV_PAGE_1G, true, false);
    check_masks(&f, 7, (uint64_t[]){0, 2, 4}, (uint64_t[]){0, 2, 4});
    hv_npt_format_init(&f, HV_PAGE_1G);
    check_masks(&f, 1, (uint64_t[]){0, 2, 1ull << 63}, (uint64_t[]){0, 2, 0});
}

void test_slat_register_format(void)
{
    CU_pSuite s = CU_add_suite("slat_format", NULL, NULL);
    CU_add_test(s, "ept entry bits", test_ept_bits);
    CU_add_test(s, "npt entry bits", test_npt_bits);
    CU_add_test(s, "format contract", test_contract);
    CU_add_test(s, "masks derived at init", test_masks);
}
