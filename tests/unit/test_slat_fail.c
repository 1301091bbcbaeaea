/*
 * Allocation-failure injection: a scripted sequence of SLAT operations
 * (map big, protect the middle, unmap a part, map 4 KiB holes, cross a
 * 512 GiB boundary, merge back, unmap everything) is run so that, for every
 * allocation the engine makes, one run fails exactly that allocation. The
 * call must return HV_ERR_NO_MEMORY and leave the SLAT exactly as before
 * (compared with the reference model, counts, mock outstanding memory, no
 * pending flush); the script then goes on. A second pass fails every
 * allocation from a given one on and tears the SLAT down right after the
 * failure. The mock must end with nothing outstanding.
 */
#include "test_slat.h"

#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum sop_kind { S_MAP, S_UNMAP, S_PROTECT };

struct sop {
    enum sop_kind kind;
    uint64_t gpa, len; /* in units of U (see run_script), plus a byte offset */
    int64_t gpa_off, len_off;
    uint64_t hpa;
    int64_t hpa_off;
    uint32_t flags;
};

#define RWX_WB (HV_MEM_RWX | HV_MEMTYPE_WB)
#define R_WB   (HV_MEM_READ | HV_MEMTYPE_WB)

/*
 * Window base B = 508 GiB (1 GiB-aligned, 4 GiB below the 512 GiB
 * boundary), host base H = 64 GiB. Offsets are in units U (1 GiB for the
 * large-page configurations, 8 MiB for 4 KiB only) plus bytes.
 */
static const struct sop script[] = {
    /* 1. big map: 3 units */
    {S_MAP, 0, 3, 0, 0, 0, 0, RWX_WB},
    /* 2. protect the middle of unit 1, cutting a 2 MiB page */
    {S_PROTECT, 1, 0, 2 * MiB + 4 * KiB, 4 * MiB - 4 * KiB, 0, 0, R_WB},
    /* 3. unmap a part of unit 2, cutting two 2 MiB pages */
    {S_UNMAP, 2, 0, 4 * KiB, 2 * MiB + 4 * KiB, 0, 0, 0},
    /* 4. map 4 KiB holes back with the matching hpa */
    {S_MAP, 2, 0, 4 * KiB, 8 * KiB, 2, 4 * KiB, RWX_WB},
    /* 5. across the 512 GiB boundary: last page of unit 3 to unit 5 + 2 MiB + 4 KiB */
    {S_MAP, 4, 1, -4 * (int64_t)KiB, 2 * MiB + 8 * KiB, 4, -4 * (int64_t)KiB, RWX_WB},
    /* 6. misaligned host address: 4 KiB pages only */
    {S_MAP, 6, 0, 0, 3 * MiB, 20, 4 * KiB, R_WB},
    /* 7. protect units 0-1 back: merges, no allocation */
    {S_PROTECT, 0, 2, 0, 0, 0, 0, RWX_WB},
    /* 8. unmap unit 1 and a page of unit 2 */
    {S_UNMAP, 1, 1, 0, 4 * KiB, 0, 0, 0},
    /* 9. 4 KiB holes mapped in the middle of nowhere */
    {S_MAP, 7, 0, 12 * KiB, 64 * KiB, 30, 12 * KiB, R_WB},
    /* 10. protect across the 512 GiB boundary region */
    {S_PROTECT, 4, 1, 0, 0, 0, 0, R_WB},
    /* 11. unmap part of unit 4, then everything */
    {S_UNMAP, 4, 0, 8 * KiB, 1 * MiB, 0, 0, 0},
    {S_UNMAP, 0, 8, 0, 0, 0, 0, 0},
};

#define NOPS (sizeof(script) / sizeof(script[0]))

struct srun {
    struct tslat t;
    struct tmodel md;
    uint64_t B, H, U;
};

static void op_args(const struct srun *r, const struct sop *o, uint64_t *gpa, uint64_t *len,
                    uint64_t *hpa)
{
    *gpa = r->B + o->gpa * r->U + (uint64_t)o->gpa_off;
    *len = o->len * r->U + (uint64_t)o->len_off;
    *hpa = r->H + o->hpa * r->U + (uint64_t)o->hpa_off;
}

static hv_status_t op_run(struct srun *r, const struct sop *o)
{
    uint64_t gpa, len, hpa;
    op_args(r, o, &gpa, &len, &hpa);
    switch (o->kind) {
    case S_MAP:
        return hv_slat_map(&r->t.s, gpa, hpa, len, o->flags);
    case S_UNMAP:
        return hv_slat_unmap(&r->t.s, gpa, len);
    default:
        return hv_slat_protect(&r->t.s, gpa, len, o->flags);
    }
}

static void op_model(struct srun *r, const struct sop *o)
{
    uint64_t gpa, len, hpa;
    op_args(r, o, &gpa, &len, &hpa);
    for (uint64_t x = 0; x < len; x += P4K) {
        uint64_t *p = tmodel_at(&r->md, gpa + x);
        if (o->kind == S_MAP)
            *p = (hpa + x) | o->flags;
        else if (o->kind == S_UNMAP)
            *p = 0;
        else
            *p = (*p & ~0xfffull) | o->flags;
    }
}

static void srun_init(struct srun *r, enum tkind kind, uint32_t sizes)
{
    CU_ASSERT_EQUAL_FATAL(tslat_init(&r->t, kind, 48, 46, sizes, NULL), HV_OK);
    r->B = 508 * GiB;
    r->H = 64 * GiB;
    r->U = sizes == HV_PAGE_4K ? 8 * MiB : GiB;
    tmodel_init(&r->md, r->B, 8 * r->U);
    /* The script's unit-4 boundary is the 512 GiB line for U = 1 GiB. */
}

static void srun_fini(struct srun *r)
{
    tslat_fini(&r->t);
    tmodel_fini(&r->md);
}

/*
 * Run op i with the k-th allocation from now failing, until it succeeds.
 * Returns the number of allocation sites the op has (failures seen).
 */
static uint64_t op_all_failures(struct srun *r, unsigned i)
{
    struct tslat *t = &r->t;
    for (uint64_t k = 0;; k++) {
        uint64_t tables = hv_slat_table_pages(&t->s);
        uint64_t mapped = hv_slat_mapped_bytes(&t->s);
        uint64_t pages = t->m.pages_out, objs = t->m.objs_out, failed = t->m.failed;
        uint64_t start = t->m.alloc_index;
        mock_fail_in(&t->m, k);
        hv_status_t st = op_run(r, &script[i]);
        mock_fail_none(&t->m);
        if (st == HV_OK) {
            /* Succeeded: the call made exactly k allocations. */
            CU_ASSERT_EQUAL(t->m.alloc_index - start, k);
            CU_ASSERT_EQUAL(t->m.failed, failed);
            op_model(r, &script[i]);
            tslat_end_call(t);
            uint64_t w = r->md.size;
            tcompare(t, &r->md, r->B, r->B + w);
            return k;
        }
        CU_ASSERT_EQUAL(st, HV_ERR_NO_MEMORY);
        if (st != HV_ERR_NO_MEMORY) {
            fprintf(stderr, "slat fail: op %u, allocation %" PRIu64 ": status %d\n", i, k, st);
            return k;
        }
        CU_ASSERT_EQUAL(t->m.failed, failed + 1);
        CU_ASSERT_EQUAL(hv_slat_table_pages(&t->s), tables);
        CU_ASSERT_EQUAL(hv_slat_mapped_bytes(&t->s), mapped);
        CU_ASSERT_EQUAL(t->m.pages_out, pages);
        CU_ASSERT_EQUAL(t->m.objs_out, objs);
        CU_ASSERT_FALSE(hv_slat_take_flush(&t->s));
        if (tcompare(t, &r->md, r->B, r->B + r->md.size)) {
            fprintf(stderr, "slat fail: op %u, allocation %" PRIu64 " changed the tables\n", i, k);
            return k;
        }
    }
}

static void run_fail_at(enum tkind kind, uint32_t sizes, uint64_t sites[NOPS])
{
    struct srun r;
    srun_init(&r, kind, sizes);
    uint64_t total = 0;
    for (unsigned i = 0; i < NOPS; i++) {
        sites[i] = op_all_failures(&r, i);
        total += sites[i];
    }
    CU_ASSERT_EQUAL(hv_slat_table_pages(&r.t.s), 1);
    printf("slat fail %s sizes %#x: %" PRIu64 " allocation sites exercised (per op:",
           tkind_name(kind), sizes, total);
    for (unsigned i = 0; i < NOPS; i++)
        printf(" %" PRIu64, sites[i]);
    printf(")\n");
    CU_ASSERT(total >= NOPS); /* the script really allocates */
    srun_fini(&r);
}

/* Fail every allocation from the k-th of op i on, then tear down at once. */
static void run_fail_from(enum tkind kind, uint32_t sizes, const uint64_t sites[NOPS])
{
    uint64_t runs = 0;
    for (unsigned i = 0; i < NOPS; i++)
        for (uint64_t k = 0; k < sites[i]; k++) {
            struct srun r;
            srun_init(&r, kind, sizes);
            for (unsigned j = 0; j < i; j++) {
                CU_ASSERT_EQUAL_FATAL(op_run(&r, &script[j]), HV_OK);
                tslat_end_call(&r.t);
            }
            mock_fail_from_now(&r.t.m, k);
            CU_ASSERT_EQUAL(op_run(&r, &script[i]), HV_ERR_NO_MEMORY);
            CU_ASSERT_FALSE(hv_slat_take_flush(&r.t.s));
            /* Teardown allocates nothing and frees everything. */
            uint64_t idx = r.t.m.alloc_index;
            hv_slat_fini(&r.t.s);
            CU_ASSERT_EQUAL(r.t.m.alloc_index, idx);
            srun_fini(&r);
            runs++;
        }
    printf("slat fail %s sizes %#x: %" PRIu64 " teardown-after-failure runs\n", tkind_name(kind),
           sizes, runs);
}

static void test_fail(void)
{
    static const uint32_t sizes[] = {HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, HV_PAGE_4K | HV_PAGE_2M,
                                     HV_PAGE_4K};
    for (int k = 0; k < 2; k++)
        for (unsigned s = 0; s < 3; s++) {
            uint64_t sites[NOPS];
            run_fail_at(k ? T_NPT : T_EPT, sizes[s], sites);
            run_fail_from(k ? T_NPT : T_EPT, sizes[s], sites);
        }
}

void test_slat_register_fail(void)
{
    CU_pSuite s = CU_add_suite("slat_fail", NULL, NULL);
    CU_add_test(s, "allocation failure injection", test_fail);
}
