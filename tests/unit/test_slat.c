/*
 * SLAT engine unit tests: setup, argument validation, table-page counts,
 * splits and merges, dirty harvest, batched invalidation, retired tables.
 * The differential test and the allocation-failure runs live in
 * test_slat_diff.c and test_slat_fail.c; the format bits in
 * test_slat_format.c.
 */
#include "test_slat.h"

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL_SIZES (HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G)
#define RWX_WB    (HV_MEM_RWX | HV_MEMTYPE_WB)
#define R_WB      (HV_MEM_READ | HV_MEMTYPE_WB)

static const struct topts ept_full = {.ept_ad = true, .ept_exec_only = true};

/* ---- init / fini ---- */

static void test_init_args(void)
{
    struct tslat t;
    CU_ASSERT_EQUAL(tslat_init(&t, T_EPT, 48, 46, ALL_SIZES, NULL), HV_OK);
    CU_ASSERT_EQUAL(hv_slat_table_pages(&t.s), 1);
    CU_ASSERT_EQUAL(t.m.pages_out, 1);
    CU_ASSERT_NOT_EQUAL(hv_slat_root_hpa(&t.s), 0);
    CU_ASSERT_EQUAL(hv_slat_root_hpa(&t.s) & 0xfff, 0);
    CU_ASSERT_PTR_NOT_NULL(mock_phys_to_virt(&t.m, hv_slat_root_hpa(&t.s)));
    CU_ASSERT_EQUAL(hv_slat_mapped_bytes(&t.s), 0);
    CU_ASSERT(hv_slat_meta_bytes(&t.s) > 0);
    CU_ASSERT_FALSE(hv_slat_take_flush(&t.s));

    struct hv_slat s2;
    CU_ASSERT_EQUAL(hv_slat_init(NULL, &t.host, &t.fmt, 48, 46, 0), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_init(&s2, NULL, &t.fmt, 48, 46, 0), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, NULL, 48, 46, 0), HV_ERR_INVALID_ARG);
    struct hv_slat_format broken = t.fmt;
    broken.set_dirty = NULL;
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &broken, 48, 46, 0), HV_ERR_INVALID_ARG);
    /* Page sizes: unknown bit, no 4K, 1G without 2M, more than the format has. */
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &t.fmt, 48, 46, 0x8), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &t.fmt, 48, 46, HV_PAGE_2M), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &t.fmt, 48, 46, HV_PAGE_4K | HV_PAGE_1G),
                    HV_ERR_INVALID_ARG);
    struct hv_slat_format small = t.fmt;
    small.page_sizes = HV_PAGE_4K | HV_PAGE_2M;
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &small, 48, 46, ALL_SIZES), HV_ERR_UNSUPPORTED);
    /* Widths. */
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &t.fmt, 31, 46, 0), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &t.fmt, 49, 46, 0), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &t.fmt, 48, 31, 0), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &t.fmt, 48, 53, 0), HV_ERR_RANGE);
    /* 0 = everything the format offers. */
    CU_ASSERT_EQUAL(hv_slat_init(&s2, &t.host, &small, 32, 32, 0), HV_OK);
    CU_ASSERT_EQUAL(s2.page_sizes, HV_PAGE_4K | HV_PAGE_2M);
    hv_slat_fini(&s2);
    /* Every allocation of init can fail, leaving nothing behind. */
    for (uint64_t k = 0;; k++) {
        uint64_t pages = t.m.pages_out, objs = t.m.objs_out;
        mock_fail_in(&t.m, k);
        hv_status_t st = hv_slat_init(&s2, &t.host, &t.fmt, 48, 46, 0);
        mock_fail_none(&t.m);
        if (st == HV_OK) {
            CU_ASSERT_EQUAL(k, 2); /* the root page and its shadow */
            hv_slat_fini(&s2);
            break;
        }
        CU_ASSERT_EQUAL(st, HV_ERR_NO_MEMORY);
        CU_ASSERT_EQUAL(t.m.pages_out, pages);
        CU_ASSERT_EQUAL(t.m.objs_out, objs);
        hv_slat_fini(&s2); /* harmless on a failed init */
    }
    /* NULL-safe helpers. */
    hv_slat_fini(NULL);
    hv_slat_flush_done(NULL);
    hv_slat_take_retired(NULL, NULL);
    hv_slat_free_retired(NULL);
    CU_ASSERT_FALSE(hv_slat_take_flush(NULL));
    CU_ASSERT_EQUAL(hv_slat_root_hpa(NULL), 0);
    CU_ASSERT_EQUAL(hv_slat_table_pages(NULL), 0);
    tslat_fini(&t);
}

/* ---- argument validation ---- */

struct snap {
    uint64_t tables, mapped, pages_out, objs_out, allocs;
};

static struct snap snap(struct tslat *t)
{
    struct snap s = {hv_slat_table_pages(&t->s), hv_slat_mapped_bytes(&t->s), t->m.pages_out,
                     t->m.objs_out, t->m.alloc_index};
    return s;
}

/* Nothing changed since `a`, and no flush is pending. */
static void assert_same(struct tslat *t, struct snap a, struct tmodel *md)
{
    struct snap b = snap(t);
    CU_ASSERT_EQUAL(a.tables, b.tables);
    CU_ASSERT_EQUAL(a.mapped, b.mapped);
    CU_ASSERT_EQUAL(a.pages_out, b.pages_out);
    CU_ASSERT_EQUAL(a.objs_out, b.objs_out);
    CU_ASSERT_FALSE(hv_slat_take_flush(&t->s));
    if (md)
        tcompare(t, md, md->base, md->base + md->size);
}

static void model_map(struct tmodel *md, uint64_t gpa, uint64_t hpa, uint64_t len, uint32_t f)
{
    for (uint64_t o = 0; o < len; o += P4K)
        *tmodel_at(md, gpa + o) = (hpa + o) | f;
}

static void model_unmap(struct tmodel *md, uint64_t gpa, uint64_t len)
{
    for (uint64_t o = 0; o < len; o += P4K)
        *tmodel_at(md, gpa + o) = 0;
}

static void model_protect(struct tmodel *md, uint64_t gpa, uint64_t len, uint32_t f)
{
    for (uint64_t o = 0; o < len; o += P4K) {
        uint64_t *p = tmodel_at(md, gpa + o);
        *p = (*p & ~0xfffull) | f;
    }
}

static void check_flag_errors(struct tslat *t, struct tmodel *md, bool npt)
{
    struct hv_slat *s = &t->s;
    const uint64_t g = 64 * MiB, h = 1 * GiB;
    struct snap a = snap(t);
    static const uint32_t invalid[] = {
        0,                                       /* no permission */
        HV_MEM_WRITE,                            /* W without R */
        HV_MEM_WRITE | HV_MEM_EXEC,              /* W without R */
        0x8 | HV_MEM_READ,                       /* unknown permission bit */
        0x1000 | HV_MEM_READ,                    /* unknown bit above the type */
        (5u << HV_MEMTYPE_SHIFT) | HV_MEM_READ,  /* unknown memory type */
        (15u << HV_MEMTYPE_SHIFT) | HV_MEM_READ, /* unknown memory type */
        0x80000000u | HV_MEM_READ,
    };
    for (unsigned i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        CU_ASSERT_EQUAL(hv_slat_map(s, g, h, P4K, invalid[i]), HV_ERR_INVALID_ARG);
        CU_ASSERT_EQUAL(hv_slat_protect(s, 0, P4K, invalid[i]), HV_ERR_INVALID_ARG);
    }
    if (npt) {
        /* NPT: no execute-only, no WC/WP with the default host PAT. */
        CU_ASSERT_EQUAL(hv_slat_map(s, g, h, P4K, HV_MEM_EXEC), HV_ERR_UNSUPPORTED);
        CU_ASSERT_EQUAL(hv_slat_map(s, g, h, P4K, HV_MEM_READ | HV_MEMTYPE_WC), HV_ERR_UNSUPPORTED);
        CU_ASSERT_EQUAL(hv_slat_map(s, g, h, P4K, HV_MEM_READ | HV_MEMTYPE_WP), HV_ERR_UNSUPPORTED);
        CU_ASSERT_EQUAL(hv_slat_protect(s, 0, P4K, HV_MEM_EXEC), HV_ERR_UNSUPPORTED);
        CU_ASSERT_EQUAL(hv_slat_protect(s, 0, P4K, HV_MEM_READ | HV_MEMTYPE_WC),
                        HV_ERR_UNSUPPORTED);
    }
    /* Flags are checked before alignment and range. */
    CU_ASSERT_EQUAL(hv_slat_map(s, 1, 1, 0, 0), HV_ERR_INVALID_ARG);
    assert_same(t, a, md);
}

static void test_args_map(void)
{
    for (int k = 0; k < 2; k++) {
        struct tslat t;
        CU_ASSERT_EQUAL_FATAL(tslat_init(&t, k ? T_NPT : T_EPT, 40, 36, ALL_SIZES, NULL), HV_OK);
        struct hv_slat *s = &t.s;
        struct tmodel md;
        tmodel_init(&md, 0, 4 * GiB);
        /* Existing mappings: a 1 GiB page at 1 GiB and 4 KiB pages at 8 KiB. */
        CU_ASSERT_EQUAL(hv_slat_map(s, 1 * GiB, 2 * GiB, 1 * GiB, RWX_WB), HV_OK);
        model_map(&md, 1 * GiB, 2 * GiB, 1 * GiB, RWX_WB);
        CU_ASSERT_EQUAL(hv_slat_map(s, 8 * KiB, 0x100000, 8 * KiB, R_WB), HV_OK);
        model_map(&md, 8 * KiB, 0x100000, 8 * KiB, R_WB);
        tslat_end_call(&t);
        struct snap a = snap(&t);

        CU_ASSERT_EQUAL(hv_slat_map(NULL, 0, 0, P4K, RWX_WB), HV_ERR_INVALID_ARG);
        struct hv_slat zero;
        memset(&zero, 0, sizeof(zero));
        CU_ASSERT_EQUAL(hv_slat_map(&zero, 0, 0, P4K, RWX_WB), HV_ERR_INVALID_ARG);
        check_flag_errors(&t, &md, k == 1);
        if (k == 0) /* EPT without execute-only support */
            CU_ASSERT_EQUAL(hv_slat_map(s, 0, 0, P4K, HV_MEM_EXEC), HV_ERR_UNSUPPORTED);
        /* Alignment of gpa, hpa, len. */
        CU_ASSERT_EQUAL(hv_slat_map(s, 0x10, 0, P4K, RWX_WB), HV_ERR_ALIGNMENT);
        CU_ASSERT_EQUAL(hv_slat_map(s, 0, 0x800, P4K, RWX_WB), HV_ERR_ALIGNMENT);
        CU_ASSERT_EQUAL(hv_slat_map(s, 0, 0, 100, RWX_WB), HV_ERR_ALIGNMENT);
        /* Alignment is checked before range. */
        CU_ASSERT_EQUAL(hv_slat_map(s, 1ull << 41, 0, 100, RWX_WB), HV_ERR_ALIGNMENT);
        /* Ranges: zero length, wrap, beyond the gpa width, beyond the hpa width. */
        CU_ASSERT_EQUAL(hv_slat_map(s, 0, 0, 0, RWX_WB), HV_ERR_RANGE);
        CU_ASSERT_EQUAL(hv_slat_map(s, UINT64_MAX & ~0xfffull, 0, 2 * P4K, RWX_WB), HV_ERR_RANGE);
        CU_ASSERT_EQUAL(hv_slat_map(s, 0x1000, 0, UINT64_MAX & ~0xfffull, RWX_WB), HV_ERR_RANGE);
        CU_ASSERT_EQUAL(hv_slat_map(s, 1ull << 40, 0, P4K, RWX_WB), HV_ERR_RANGE);
        CU_ASSERT_EQUAL(hv_slat_map(s, (1ull << 40) - P4K, 0, 2 * P4K, RWX_WB), HV_ERR_RANGE);
        CU_ASSERT_EQUAL(hv_slat_map(s, 8 * GiB, 1ull << 36, P4K, RWX_WB), HV_ERR_RANGE);
        CU_ASSERT_EQUAL(hv_slat_map(s, 8 * GiB, (1ull << 36) - P4K, 2 * P4K, RWX_WB), HV_ERR_RANGE);
        CU_ASSERT_EQUAL(hv_slat_map(s, 8 * GiB, UINT64_MAX & ~0xfffull, P4K, RWX_WB), HV_ERR_RANGE);
        /* The last page of both widths is fine. */
        CU_ASSERT_EQUAL(hv_slat_map(s, (1ull << 40) - P4K, (1ull << 36) - P4K, P4K, RWX_WB), HV_OK);
        CU_ASSERT_EQUAL(hv_slat_unmap(s, (1ull << 40) - P4K, P4K), HV_OK);
        tslat_end_call(&t);
        /* Overlaps: exact, partial, inside a large page, spanning a 4 KiB page. */
        CU_ASSERT_EQUAL(hv_slat_map(s, 1 * GiB, 0, 1 * GiB, RWX_WB), HV_ERR_EXISTS);
        CU_ASSERT_EQUAL(hv_slat_map(s, 1 * GiB - P2M, 0, P2M + P4K, RWX_WB), HV_ERR_EXISTS);
        CU_ASSERT_EQUAL(hv_slat_map(s, 1 * GiB + 5 * P2M + P4K, 0, P4K, RWX_WB), HV_ERR_EXISTS);
        CU_ASSERT_EQUAL(hv_slat_map(s, 2 * GiB - P4K, 0, 2 * P4K, RWX_WB), HV_ERR_EXISTS);
        CU_ASSERT_EQUAL(hv_slat_map(s, 0, 0, 1 * GiB, RWX_WB), HV_ERR_EXISTS);
        CU_ASSERT_EQUAL(hv_slat_map(s, 12 * KiB, 0, P4K, RWX_WB), HV_ERR_EXISTS);
        assert_same(&t, a, &md);
        tmodel_fini(&md);
        tslat_fini(&t);
    }
}

static void test_args_unmap_protect(void)
{
    struct tslat t;
    CU_ASSERT_EQUAL_FATAL(tslat_init(&t, T_EPT, 39, 40, ALL_SIZES, &ept_full), HV_OK);
    struct hv_slat *s = &t.s;
    struct tmodel md;
    tmodel_init(&md, 0, 4 * GiB);
    CU_ASSERT_EQUAL(hv_slat_map(s, 0, 0, 3 * GiB, RWX_WB), HV_OK);
    model_map(&md, 0, 0, 3 * GiB, RWX_WB);
    CU_ASSERT_EQUAL(hv_slat_unmap(s, 1 * GiB + P2M, P4K), HV_OK); /* a hole */
    model_unmap(&md, 1 * GiB + P2M, P4K);
    tslat_end_call(&t);
    struct snap a = snap(&t);

    CU_ASSERT_EQUAL(hv_slat_unmap(NULL, 0, P4K), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_unmap(s, 0x10, P4K), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_slat_unmap(s, 0, 0x10), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_slat_unmap(s, 0, 0), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_unmap(s, 1ull << 39, P4K), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_unmap(s, (1ull << 39) - P4K, 2 * P4K), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_unmap(s, UINT64_MAX & ~0xfffull, 2 * P4K), HV_ERR_RANGE);
    /* Unmapping only holes is fine and changes nothing. */
    CU_ASSERT_EQUAL(hv_slat_unmap(s, 8 * GiB, 4 * GiB), HV_OK);
    CU_ASSERT_EQUAL(hv_slat_unmap(s, 1 * GiB + P2M, P4K), HV_OK);
    assert_same(&t, a, &md);

    CU_ASSERT_EQUAL(hv_slat_protect(NULL, 0, P4K, R_WB), HV_ERR_INVALID_ARG);
    check_flag_errors(&t, &md, false);
    CU_ASSERT_EQUAL(hv_slat_protect(s, 0x10, P4K, R_WB), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_slat_protect(s, 0, 0x10, R_WB), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_slat_protect(s, 0, 0, R_WB), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_protect(s, 1ull << 39, P4K, R_WB), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_protect(s, UINT64_MAX & ~0xfffull, 2 * P4K, R_WB), HV_ERR_RANGE);
    /* Holes: at the start, in the middle (inside a split 2 MiB page), at the end. */
    CU_ASSERT_EQUAL(hv_slat_protect(s, 3 * GiB, P4K, R_WB), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_slat_protect(s, 0, 2 * GiB, R_WB), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_slat_protect(s, 1 * GiB + P2M - P4K, 3 * P4K, R_WB), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_slat_protect(s, 2 * GiB, 1 * GiB + P4K, R_WB), HV_ERR_NOT_FOUND);
    /* Same flags: nothing to do, no flush. */
    CU_ASSERT_EQUAL(hv_slat_protect(s, 0, 1 * GiB, RWX_WB), HV_OK);
    CU_ASSERT_EQUAL(hv_slat_protect(s, 5 * P4K, P4K, RWX_WB), HV_OK);
    assert_same(&t, a, &md);
    /* Execute-only is accepted with exec_only. */
    CU_ASSERT_EQUAL(hv_slat_protect(s, 0, P4K, HV_MEM_EXEC | HV_MEMTYPE_WB), HV_OK);
    model_protect(&md, 0, P4K, HV_MEM_EXEC | HV_MEMTYPE_WB);
    CU_ASSERT_TRUE(tslat_end_call(&t));
    tcheck_translate(&t, &md, 0x123);
    tcompare(&t, &md, 0, 4 * GiB);
    tmodel_fini(&md);
    tslat_fini(&t);
}

static void test_args_lookup(void)
{
    struct tslat t;
    CU_ASSERT_EQUAL_FATAL(tslat_init(&t, T_NPT, 40, 40, ALL_SIZES, NULL), HV_OK);
    struct hv_slat *s = &t.s;
    CU_ASSERT_EQUAL(hv_slat_map(s, P2M, 4 * P2M, P2M, R_WB), HV_OK);
    uint64_t hpa;
    struct hv_mapping q;
    CU_ASSERT_EQUAL(hv_slat_translate(NULL, 0, 0, &hpa), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_translate(s, 0, 0, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_translate(s, P2M, 0x8, &hpa), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_translate(s, 1ull << 40, 0, &hpa), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_translate(s, 0, 0, &hpa), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_slat_translate(s, P2M + 5, HV_MEM_WRITE, &hpa), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(hv_slat_translate(s, P2M + 5, HV_MEM_EXEC, &hpa), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(hv_slat_translate(s, P2M + 0x12345, HV_MEM_READ, &hpa), HV_OK);
    CU_ASSERT_EQUAL(hpa, 4 * P2M + 0x12345);
    CU_ASSERT_EQUAL(hv_slat_query(NULL, 0, &q), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_query(s, 0, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_query(s, 1ull << 40, &q), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_query(s, 2 * P2M, &q), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_slat_query(s, P2M + 0x12345, &q), HV_OK);
    CU_ASSERT_EQUAL(q.gpa, P2M);
    CU_ASSERT_EQUAL(q.hpa, 4 * P2M);
    CU_ASSERT_EQUAL(q.page_size, P2M);
    CU_ASSERT_EQUAL(q.flags, R_WB);
    CU_ASSERT_EQUAL(hv_slat_query_next(NULL, 0, &q), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_query_next(s, 0, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_query_next(s, 1ull << 40, &q), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_query_next(s, 2 * P2M, &q), HV_ERR_NOT_FOUND);
    memset(&q, 0, sizeof(q));
    CU_ASSERT_EQUAL(hv_slat_query_next(s, 0, &q), HV_OK); /* the next one up */
    CU_ASSERT_EQUAL(q.gpa, P2M);
    CU_ASSERT_EQUAL(q.hpa, 4 * P2M);
    CU_ASSERT_EQUAL(q.page_size, P2M);
    CU_ASSERT_EQUAL(q.flags, R_WB);
    memset(&q, 0, sizeof(q));
    CU_ASSERT_EQUAL(hv_slat_query_next(s, P2M + 0x12345, &q), HV_OK); /* the one containing it */
    CU_ASSERT_EQUAL(q.gpa, P2M);
    CU_ASSERT_EQUAL(q.page_size, P2M);

    uint64_t bm[8];
    CU_ASSERT_EQUAL(hv_slat_dirty_harvest(NULL, 0, P4K, bm), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, 0, P4K, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, 0x10, P4K, bm), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, 0, 0x10, bm), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, 0, 0, bm), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, 1ull << 40, P4K, bm), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, UINT64_MAX & ~0xfffull, 2 * P4K, bm), HV_ERR_RANGE);
    tslat_end_call(&t);
    tslat_fini(&t);

    /* EPT without A/D: no dirty log. */
    CU_ASSERT_EQUAL_FATAL(tslat_init(&t, T_EPT, 40, 40, ALL_SIZES, NULL), HV_OK);
    CU_ASSERT_EQUAL(hv_slat_dirty_harvest(&t.s, 0, P4K, bm), HV_ERR_UNSUPPORTED);
    tslat_fini(&t);
}

/* ---- table-page counts ---- */

static uint64_t walked_tables(struct tslat *t)
{
    struct wresult r;
    twalk(t, 0, 1ull << 48, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.errors, 0);
    if (r.errors)
        fprintf(stderr, "walker: %s\n", r.first_error);
    return r.tables;
}

static void expect_tables(struct tslat *t, uint64_t n)
{
    CU_ASSERT_EQUAL(hv_slat_table_pages(&t->s), n);
    CU_ASSERT_EQUAL(walked_tables(t), n);
    CU_ASSERT_EQUAL(t->m.pages_out, n);
    if (hv_slat_table_pages(&t->s) != n)
        fprintf(stderr, "table pages %llu, expected %llu\n",
                (unsigned long long)hv_slat_table_pages(&t->s), (unsigned long long)n);
}

static void test_counts(void)
{
    static const struct {
        uint32_t sizes;
        uint64_t tables; /* for 4 GiB at a 1 GiB-aligned gpa and hpa */
    } cases[] = {
        {ALL_SIZES, 2},               /* PML4 + PDPT */
        {HV_PAGE_4K | HV_PAGE_2M, 6}, /* + 4 PDs */
        {HV_PAGE_4K, 6 + 4 * 512},    /* + 2048 PTs */
    };
    for (int k = 0; k < 2; k++)
        for (unsigned c = 0; c < 3; c++) {
            struct tslat t;
            CU_ASSERT_EQUAL_FATAL(tslat_init(&t, k ? T_NPT : T_EPT, 48, 46, cases[c].sizes, NULL),
                                  HV_OK);
            CU_ASSERT_EQUAL(hv_slat_map(&t.s, 5 * GiB, 7 * GiB, 4 * GiB, RWX_WB), HV_OK);
            CU_ASSERT_FALSE(tslat_end_call(&t));
            expect_tables(&t, cases[c].tables);
            CU_ASSERT_EQUAL(hv_slat_mapped_bytes(&t.s), 4 * GiB);
            CU_ASSERT_EQUAL(hv_slat_unmap(&t.s, 5 * GiB, 4 * GiB), HV_OK);
            CU_ASSERT_TRUE(tslat_end_call(&t));
            /* Only the root stays; fini frees it. */
            expect_tables(&t, 1);
            CU_ASSERT_EQUAL(hv_slat_mapped_bytes(&t.s), 0);
            tslat_fini(&t);
        }

    /* Mixed sizes: [1G - 8K, 2G + 2M + 4K) at hpa = gpa + 64 GiB. */
    struct tslat t;
    CU_ASSERT_EQUAL_FATAL(tslat_init(&t, T_EPT, 48, 46, ALL_SIZES, NULL), HV_OK);
    /* One page: a table at every level; unmapping it retires them all. */
    CU_ASSERT_EQUAL(hv_slat_map(&t.s, 300 * GiB + 5 * P4K, 0, P4K, RWX_WB), HV_OK);
    CU_ASSERT_EQUAL(hv_slat_map(&t.s, 300 * GiB + 6 * P4K, 0, P4K, RWX_WB), HV_OK);
    expect_tables(&t, 4);
    CU_ASSERT_EQUAL(hv_slat_unmap(&t.s, 300 * GiB + 5 * P4K, P4K), HV_OK);
    CU_ASSERT_TRUE(tslat_end_call(&t));
    expect_tables(&t, 4);
    CU_ASSERT_EQUAL(hv_slat_unmap(&t.s, 300 * GiB + 6 * P4K, P4K), HV_OK);
    CU_ASSERT_TRUE(tslat_end_call(&t));
    expect_tables(&t, 1);
    CU_ASSERT_EQUAL(
        hv_slat_map(&t.s, GiB - 2 * P4K, 64 * GiB + GiB - 2 * P4K, GiB + P2M + 3 * P4K, RWX_WB),
        HV_OK);
    /* PML4, PDPT, PD+PT below 1G, PD+PT above 2G (1 GiB leaf + 2 MiB leaf between). */
    expect_tables(&t, 6);
    struct hv_mapping q;
    CU_ASSERT_EQUAL(hv_slat_query(&t.s, GiB + 12345, &q), HV_OK);
    CU_ASSERT_EQUAL(q.page_size, P1G);
    CU_ASSERT_EQUAL(hv_slat_query(&t.s, 2 * GiB + 12345, &q), HV_OK);
    CU_ASSERT_EQUAL(q.page_size, P2M);
    CU_ASSERT_EQUAL(hv_slat_query(&t.s, 2 * GiB + P2M, &q), HV_OK);
    CU_ASSERT_EQUAL(q.page_size, P4K);
    /* Across a 512 GiB boundary: a second PDPT. */
    CU_ASSERT_EQUAL(hv_slat_map(&t.s, 512 * GiB - GiB, 0, 2 * GiB, RWX_WB), HV_OK);
    expect_tables(&t, 7);
    CU_ASSERT_EQUAL(hv_slat_unmap(&t.s, 0, 1ull << 48), HV_OK);
    CU_ASSERT_TRUE(tslat_end_call(&t));
    expect_tables(&t, 1);
    tslat_fini(&t);
}

/* Splits on unmap and protect, merges when the range becomes uniform again. */
static void test_split_merge(void)
{
    for (int k = 0; k < 2; k++) {
        struct tslat t;
        CU_ASSERT_EQUAL_FATAL(tslat_init(&t, k ? T_NPT : T_EPT, 48, 46, ALL_SIZES, NULL), HV_OK);
        struct hv_slat *s = &t.s;
        const uint64_t g = 3 * GiB, h = 9 * GiB, mid = g + 300 * P2M + 7 * P4K;
        struct hv_mapping q;
        CU_ASSERT_EQUAL(hv_slat_map(s, g, h, GiB, RWX_WB), HV_OK);
        expect_tables(&t, 2);
        /* Unmap one 4 KiB page: 1G -> 512 x 2M -> 512 x 4K. */
        CU_ASSERT_EQUAL(hv_slat_unmap(s, mid, P4K), HV_OK);
        CU_ASSERT_TRUE(tslat_end_call(&t));
        expect_tables(&t, 4);
        CU_ASSERT_EQUAL(hv_slat_query(s, mid, &q), HV_ERR_NOT_FOUND);
        CU_ASSERT_EQUAL(hv_slat_query(s, mid + P4K, &q), HV_OK);
        CU_ASSERT_EQUAL(q.page_size, P4K);
        CU_ASSERT_EQUAL(q.hpa, h + (mid - g) + P4K);
        CU_ASSERT_EQUAL(hv_slat_query(s, g, &q), HV_OK);
        CU_ASSERT_EQUAL(q.page_size, P2M);
        /* Map it back with the matching hpa: merges all the way back to 1 GiB. */
        CU_ASSERT_EQUAL(hv_slat_map(s, mid, h + (mid - g), P4K, RWX_WB), HV_OK);
        CU_ASSERT_TRUE(tslat_end_call(&t));
        expect_tables(&t, 2);
        CU_ASSERT_EQUAL(hv_slat_query(s, mid, &q), HV_OK);
        CU_ASSERT_EQUAL(q.page_size, P1G);
        CU_ASSERT_EQUAL(q.gpa, g);
        /* Protect one page: split; protect it back: merge. */
        CU_ASSERT_EQUAL(hv_slat_protect(s, mid, P4K, R_WB), HV_OK);
        CU_ASSERT_TRUE(tslat_end_call(&t));
        expect_tables(&t, 4);
        CU_ASSERT_EQUAL(hv_slat_query(s, mid, &q), HV_OK);
        CU_ASSERT_EQUAL(q.flags, R_WB);
        CU_ASSERT_EQUAL(q.page_size, P4K);
        CU_ASSERT_EQUAL(hv_slat_protect(s, mid, P4K, RWX_WB), HV_OK);
        CU_ASSERT_TRUE(tslat_end_call(&t));
        expect_tables(&t, 2);
        /* Protect a 2 MiB-aligned part: only the 1G page splits. */
        CU_ASSERT_EQUAL(hv_slat_protect(s, g + 4 * P2M, 2 * P2M, R_WB), HV_OK);
        CU_ASSERT_TRUE(tslat_end_call(&t));
        expect_tables(&t, 3);
        /* Protect the whole 1G: uniform again, merges. */
        CU_ASSERT_EQUAL(hv_slat_protect(s, g, GiB, R_WB), HV_OK);
        CU_ASSERT_TRUE(tslat_end_call(&t));
        expect_tables(&t, 2);
        /* Map the neighbour 1 GiB in 4 KiB steps with contiguous hpa: one leaf at the end. */
        for (uint64_t o = 0; o < GiB; o += 512 * P4K - P4K) {
            uint64_t n = GiB - o < 511 * P4K ? GiB - o : 511 * P4K;
            CU_ASSERT_EQUAL_FATAL(hv_slat_map(s, g + GiB + o, h + GiB + o, n, R_WB), HV_OK);
        }
        tslat_end_call(&t);
        expect_tables(&t, 2);
        CU_ASSERT_EQUAL(hv_slat_query(s, g + GiB, &q), HV_OK);
        CU_ASSERT_EQUAL(q.page_size, P1G);
        /* A misaligned hpa never merges above 4 KiB... */
        CU_ASSERT_EQUAL(hv_slat_map(s, 16 * GiB, 32 * GiB + P4K, P2M, R_WB), HV_OK);
        expect_tables(&t, 4);
        /* ...and 2 MiB-aligned hpa not above 2 MiB. */
        CU_ASSERT_EQUAL(hv_slat_map(s, 17 * GiB, 33 * GiB + P2M, GiB, R_WB), HV_OK);
        expect_tables(&t, 5);
        CU_ASSERT_EQUAL(hv_slat_query(s, 17 * GiB, &q), HV_OK);
        CU_ASSERT_EQUAL(q.page_size, P2M);
        CU_ASSERT_EQUAL(hv_slat_unmap(s, 0, 1ull << 48), HV_OK);
        tslat_end_call(&t);
        expect_tables(&t, 1);
        tslat_fini(&t);
    }
}

/* ---- dirty harvest ---- */

static bool bit(const uint64_t *bm, uint64_t i)
{
    return (bm[i / 64] >> (i % 64)) & 1;
}

static void test_dirty(void)
{
    static const struct topts ad = {.ept_ad = true};
    for (int k = 0; k < 2; k++) {
        struct tslat t;
        CU_ASSERT_EQUAL_FATAL(tslat_init(&t, k ? T_NPT : T_EPT, 40, 40, ALL_SIZES, &ad), HV_OK);
        struct hv_slat *s = &t.s;
        const uint64_t g = 2 * GiB;
        /* 4 MiB: two 2 MiB pages; plus 16 KiB of 4 KiB pages after them. */
        CU_ASSERT_EQUAL(hv_slat_map(s, g, 6 * GiB, 4 * MiB + 16 * KiB, RWX_WB), HV_OK);
        tslat_end_call(&t);
        const uint64_t pages = (4 * MiB + 16 * KiB) / P4K; /* 1028 */
        uint64_t *bm = calloc((pages + 63) / 64 + 1, 8);
        CU_ASSERT_PTR_NOT_NULL_FATAL(bm);
        const uint64_t canary = 0xdeadbeefcafef00dull;
        bm[(pages + 63) / 64] = canary;
        CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, g, pages * P4K, bm), HV_OK);
        CU_ASSERT_FALSE(tslat_end_call(&t));
        for (uint64_t i = 0; i < pages; i++)
            CU_ASSERT_FALSE(bit(bm, i));
        /* The CPU writes: the second 2 MiB page and the 4 KiB page at +4M+8K. */
        CU_ASSERT_TRUE(tset_dirty(&t, g + P2M + 77 * P4K));
        CU_ASSERT_TRUE(tset_dirty(&t, g + 4 * MiB + 2 * P4K));
        memset(bm, 0xff, (pages + 63) / 64 * 8);
        CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, g, pages * P4K, bm), HV_OK);
        CU_ASSERT_TRUE(tslat_end_call(&t));
        for (uint64_t i = 0; i < pages; i++)
            CU_ASSERT_EQUAL(bit(bm, i), (i >= 512 && i < 1024) || i == 1026);
        CU_ASSERT_EQUAL(bm[(pages + 63) / 64], canary); /* wrote only its words */
        /* Cleared: a second harvest finds nothing and requests no flush. */
        CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, g, pages * P4K, bm), HV_OK);
        CU_ASSERT_FALSE(tslat_end_call(&t));
        for (uint64_t i = 0; i < pages; i++)
            CU_ASSERT_FALSE(bit(bm, i));
        /* Part of a dirty large page: reported, but the page stays dirty. */
        CU_ASSERT_TRUE(tset_dirty(&t, g));
        CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, g + 8 * P4K, 16 * P4K, bm), HV_OK);
        CU_ASSERT_FALSE(tslat_end_call(&t));
        CU_ASSERT_EQUAL(bm[0], 0xffff);
        CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, g, P2M, bm), HV_OK);
        CU_ASSERT_TRUE(tslat_end_call(&t));
        for (uint64_t i = 0; i < 512; i++)
            CU_ASSERT_TRUE(bit(bm, i));
        /* A split keeps the dirty state in every piece; protect keeps it too. */
        CU_ASSERT_TRUE(tset_dirty(&t, g));
        CU_ASSERT_EQUAL(hv_slat_protect(s, g + 4 * P4K, P4K, R_WB), HV_OK);
        tslat_end_call(&t);
        CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, g, P2M, bm), HV_OK);
        for (uint64_t i = 0; i < 512; i++)
            CU_ASSERT_TRUE(bit(bm, i));
        /* A merge keeps it as well: dirty one piece, then re-merge. */
        CU_ASSERT_TRUE(tset_dirty(&t, g + 9 * P4K));
        CU_ASSERT_EQUAL(hv_slat_protect(s, g + 4 * P4K, P4K, RWX_WB), HV_OK);
        CU_ASSERT_TRUE(tslat_end_call(&t));
        struct hv_mapping q;
        CU_ASSERT_EQUAL(hv_slat_query(s, g, &q), HV_OK);
        CU_ASSERT_EQUAL(q.page_size, P2M);
        CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, g, P2M, bm), HV_OK);
        for (uint64_t i = 0; i < 512; i++)
            CU_ASSERT_TRUE(bit(bm, i));
        /* Unmapped pages and holes read as clean. */
        CU_ASSERT_EQUAL(hv_slat_dirty_harvest(s, 0, 64 * P4K, bm), HV_OK);
        CU_ASSERT_EQUAL(bm[0], 0);
        tslat_end_call(&t);
        free(bm);
        tslat_fini(&t);
    }
}

/* ---- batched invalidation and retired tables ---- */

static void test_batching(void)
{
    struct tslat t;
    CU_ASSERT_EQUAL_FATAL(tslat_init(&t, T_NPT, 40, 40, HV_PAGE_4K, NULL), HV_OK);
    struct hv_slat *s = &t.s;
    /* Map 8 MiB of 4 KiB pages: new translations only, no flush. */
    CU_ASSERT_EQUAL(hv_slat_map(s, 0, 0, 8 * MiB, RWX_WB), HV_OK);
    CU_ASSERT_FALSE(hv_slat_take_flush(s));
    /* 2048 pages lose write access in one call: one pending flush, taken once. */
    CU_ASSERT_EQUAL(hv_slat_protect(s, 0, 8 * MiB, R_WB), HV_OK);
    CU_ASSERT_TRUE(hv_slat_take_flush(s));
    CU_ASSERT_FALSE(hv_slat_take_flush(s));
    /* Unmapping every other page (1024 unmaps) in one call... */
    for (uint64_t o = 0; o < 8 * MiB; o += 2 * P4K)
        CU_ASSERT_EQUAL_FATAL(hv_slat_unmap(s, o, P4K), HV_OK);
    /* ...sets the same single flag (the VM layer batches per API call). */
    CU_ASSERT_TRUE(hv_slat_take_flush(s));
    CU_ASSERT_FALSE(hv_slat_take_flush(s));
    /* Unmap of the whole range: tables become empty and are retired, not freed. */
    uint64_t live = hv_slat_table_pages(s);
    CU_ASSERT_EQUAL(live, 3 + 4);
    uint64_t frees = t.m.page_frees;
    CU_ASSERT_EQUAL(hv_slat_unmap(s, 0, 8 * MiB), HV_OK);
    CU_ASSERT_EQUAL(t.m.page_frees, frees); /* nothing freed before the flush */
    CU_ASSERT_EQUAL(hv_slat_table_pages(s), 1);
    CU_ASSERT_EQUAL(t.m.pages_out, live);
    CU_ASSERT_TRUE(hv_slat_take_flush(s));
    struct hv_slat_retired r;
    hv_slat_take_retired(s, &r);
    CU_ASSERT_EQUAL(r.table_pages, live - 1);
    CU_ASSERT_EQUAL(s->retired.table_pages, 0);
    /* The caller flushes, then frees them without the SLAT. */
    hv_slat_free_retired(&r);
    CU_ASSERT_EQUAL(t.m.pages_out, 1);
    CU_ASSERT_EQUAL(t.m.page_frees, frees + live - 1);
    /* Retired tables not freed by the caller are freed by fini. */
    CU_ASSERT_EQUAL(hv_slat_map(s, 0, 0, 8 * MiB, RWX_WB), HV_OK);
    CU_ASSERT_EQUAL(hv_slat_unmap(s, 0, 8 * MiB), HV_OK);
    CU_ASSERT_TRUE(t.m.pages_out > 1);
    tslat_fini(&t);
}

/* Freed and retired memory is never written after free (poisoned quarantine). */
static void test_hygiene(void)
{
    struct tslat t;
    CU_ASSERT_EQUAL_FATAL(tslat_init(&t, T_EPT, 40, 40, ALL_SIZES, NULL), HV_OK);
    t.m.poison_free = true;
    struct hv_slat *s = &t.s;
    for (int round = 0; round < 4; round++) {
        CU_ASSERT_EQUAL(hv_slat_map(s, 0, 0, 2 * GiB, RWX_WB), HV_OK);
        for (uint64_t o = P2M + P4K; o < 2 * GiB; o += 64 * MiB + P4K)
            CU_ASSERT_EQUAL(hv_slat_unmap(s, o, P4K), HV_OK);
        tslat_end_call(&t);
        for (uint64_t o = P2M + P4K; o < 2 * GiB; o += 64 * MiB + P4K)
            CU_ASSERT_EQUAL(hv_slat_map(s, o, o, P4K, RWX_WB), HV_OK);
        tslat_end_call(&t);
        CU_ASSERT_EQUAL(hv_slat_table_pages(s), 2);
        CU_ASSERT_EQUAL(hv_slat_unmap(s, 0, 2 * GiB), HV_OK);
        tslat_end_call(&t);
    }
    CU_ASSERT_EQUAL(mock_check_quarantine(&t.m), 0);
    CU_ASSERT_EQUAL(mock_check_guards(&t.m), 0);
    tslat_fini(&t);
}

void test_slat_register_basic(void)
{
    CU_pSuite s = CU_add_suite("slat", NULL, NULL);
    CU_add_test(s, "init arguments and failures", test_init_args);
    CU_add_test(s, "map arguments", test_args_map);
    CU_add_test(s, "unmap/protect arguments", test_args_unmap_protect);
    CU_add_test(s, "translate/query/query_next/harvest arguments", test_args_lookup);
    CU_add_test(s, "table-page counts", test_counts);
    CU_add_test(s, "split and merge", test_split_merge);
    CU_add_test(s, "dirty harvest", test_dirty);
    CU_add_test(s, "batched flush, retired tables", test_batching);
    CU_add_test(s, "freed memory hygiene", test_hygiene);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    test_slat_register_mock();
    test_slat_register_format();
    test_slat_register_basic();
    test_slat_register_diff();
    test_slat_register_fail();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return failures || !run ? 1 : 0;
}
