/*
 * SLAT differential test: random map/unmap/protect sequences checked after
 * every step against a flat reference model (one word per 4 KiB page of a
 * window), by translation and query, and by walking the hardware tables
 * with the independent walker of test_slat_util.c, which also checks that
 * no table is empty or mergeable (so the table count is minimal).
 *
 * Seed: HV_SEED (printed). Operations per configuration: HV_SLAT_OPS
 * (default below; six configurations run).
 */
#include "test_slat.h"

#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_OPS      20000
#define FULL_CHECK_EVERY 2500

#define ALL_SIZES (HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G)

struct dcfg {
    const char *name;
    enum tkind kind;
    uint32_t sizes;
    unsigned gpa_bits, hpa_bits;
    uint64_t wbase; /* UINT64_MAX: the top of the gpa space */
    uint64_t wsize;
    bool hpa_top; /* host addresses at the top of the hpa width */
    struct topts opts;
};

static const struct dcfg cfgs[] = {
    {"ept 4K", T_EPT, HV_PAGE_4K, 48, 46, UINT64_MAX, 64 * MiB, true, {true, true}},
    {"ept 4K|2M",
     T_EPT,
     HV_PAGE_4K | HV_PAGE_2M,
     40,
     40,
     512 * GiB - 512 * MiB,
     1 * GiB,
     false,
     {true, false}},
    {"ept 4K|2M|1G", T_EPT, ALL_SIZES, 48, 52, UINT64_MAX, 8 * GiB, true, {false, true}},
    {"npt 4K", T_NPT, HV_PAGE_4K, 40, 44, 0, 64 * MiB, false, {false, false}},
    {"npt 4K|2M",
     T_NPT,
     HV_PAGE_4K | HV_PAGE_2M,
     48,
     48,
     UINT64_MAX,
     1 * GiB,
     true,
     {false, false}},
    {"npt 4K|2M|1G", T_NPT, ALL_SIZES, 36, 40, 0, 8 * GiB, false, {false, false}},
};

struct drun {
    const struct dcfg *c;
    struct tslat t;
    struct tmodel md;
    uint64_t rng;
    uint64_t wbase, wend;
    uint64_t gpa_limit, hpa_limit;
    uint64_t delta[3];
    uint64_t mapped_pages;
    /* statistics */
    uint64_t n_map, n_map_err, n_unmap, n_protect, n_protect_err, n_range_err;
    uint64_t merges, splits, max_tables;
    uint64_t step;
    bool failed;
};

static uint64_t rnd(struct drun *r, uint64_t n)
{
    return n ? trand(&r->rng) % n : 0;
}

static uint32_t pick_flags(struct drun *r)
{
    const struct hv_slat_format *f = &r->t.fmt;
    uint64_t x = rnd(r, 100);
    if (x < 50)
        return HV_MEM_RWX | HV_MEMTYPE_WB;
    if (x < 65)
        return HV_MEM_READ | HV_MEMTYPE_WB;
    if (x < 75)
        return HV_MEM_READ | HV_MEM_WRITE | HV_MEMTYPE_WB;
    static const uint32_t perms[] = {HV_MEM_READ, HV_MEM_READ | HV_MEM_WRITE,
                                     HV_MEM_READ | HV_MEM_EXEC, HV_MEM_RWX, HV_MEM_EXEC};
    for (;;) {
        uint32_t p = perms[rnd(r, 5)];
        uint32_t type = (uint32_t)rnd(r, 5);
        if (p == HV_MEM_EXEC && !f->exec_only)
            continue;
        if (!(f->memtypes & (1u << type)))
            continue;
        return p | (type << HV_MEMTYPE_SHIFT);
    }
}

/* A random range in the window, biased towards aligned large pieces. */
static void pick_range(struct drun *r, uint64_t *pa, uint64_t *plen)
{
    uint64_t w = r->wend - r->wbase;
    uint64_t big = w >= 4 * GiB ? GiB : 16 * MiB; /* "large" unit for this window */
    uint64_t a, len, x = rnd(r, 100);
    if (x < 20) {
        /* Single pages (the engine's direct path), often next to a large-page boundary. */
        a = r->wbase + rnd(r, w / P4K) * P4K;
        if (rnd(r, 2))
            a = (a & ~(P2M - 1)) + (rnd(r, 2) ? 0 : P2M - P4K);
        len = P4K;
    } else if (x < 45) {
        a = r->wbase + rnd(r, w / P4K) * P4K;
        len = (1 + rnd(r, 16)) * P4K;
    } else if (x < 75) {
        a = r->wbase + rnd(r, w / P2M) * P2M;
        len = (1 + rnd(r, 4)) * P2M;
    } else if (x < 90) {
        a = r->wbase + rnd(r, w / big) * big;
        len = (1 + rnd(r, 2)) * big;
    } else {
        a = r->wbase + rnd(r, w / P4K) * P4K;
        len = (1 + rnd(r, 2048)) * P4K;
    }
    /* Cut aligned ranges by a few pages at either end now and then. */
    if (x >= 45 && rnd(r, 3) == 0) {
        uint64_t j = rnd(r, 5) * P4K;
        if (rnd(r, 2) && a - r->wbase >= j) {
            a -= j;
            len += j;
        } else if (j < len) {
            a += j;
            len -= j;
        }
    }
    if (rnd(r, 3) == 0 && len > 4 * P4K)
        len -= rnd(r, 4) * P4K;
    if (a >= r->wend)
        a = r->wend - P4K;
    if (a + len > r->wend)
        len = r->wend - a;
    *pa = a;
    *plen = len;
}

/* ---- checks ---- */

static void check_step(struct drun *r, uint64_t a, uint64_t len, const char *what)
{
    struct tslat *t = &r->t;
    /* Region around the change, rounded out to 2 MiB (merges/splits nearby). */
    uint64_t lo = a & ~(P2M - 1), hi = (a + len + P2M - 1) & ~(P2M - 1);
    if (lo < r->wbase)
        lo = r->wbase;
    if (hi > r->wend || hi < lo)
        hi = r->wend;
    if (tcompare(t, &r->md, lo, hi)) {
        fprintf(stderr, "slat diff %s step %" PRIu64 ": %s [%#" PRIx64 ", +%#" PRIx64 ")\n",
                r->c->name, r->step, what, a, len);
        r->failed = true;
    }
    uint64_t probes[8] = {a,
                          a + len - 1,
                          a + len,
                          a - 1,
                          r->wbase + rnd(r, r->wend - r->wbase),
                          r->wbase + rnd(r, r->wend - r->wbase),
                          lo + rnd(r, hi - lo),
                          a + rnd(r, len)};
    for (unsigned i = 0; i < 8; i++)
        if (probes[i] >= r->wbase && probes[i] < r->wend)
            tcheck_translate(t, &r->md, probes[i]);
    CU_ASSERT_EQUAL(hv_slat_mapped_bytes(&t->s), r->mapped_pages * P4K);
    CU_ASSERT_EQUAL(t->m.pages_out, hv_slat_table_pages(&t->s));
    CU_ASSERT_EQUAL(t->m.obj_bytes_out, hv_slat_meta_bytes(&t->s));
    if (hv_slat_table_pages(&t->s) > r->max_tables)
        r->max_tables = hv_slat_table_pages(&t->s);
}

static void full_check(struct drun *r)
{
    struct wresult w;
    if (tcompare(&r->t, &r->md, r->wbase, r->wend))
        r->failed = true;
    twalk(&r->t, 0, 1ull << 48, NULL, NULL, &w);
    CU_ASSERT_EQUAL(w.tables, hv_slat_table_pages(&r->t.s));
    CU_ASSERT_EQUAL(w.errors, 0);
}

/* ---- one step ---- */

struct before {
    uint64_t tables, page_frees, obj_frees, pages_out, objs_out;
};

static struct before before(struct drun *r)
{
    struct before b = {hv_slat_table_pages(&r->t.s), r->t.m.page_frees, r->t.m.obj_frees,
                       r->t.m.pages_out, r->t.m.objs_out};
    return b;
}

/* After the call, before the end of call: no reserve leftover was freed. */
static void check_exact_plan(struct drun *r, struct before b)
{
    CU_ASSERT_EQUAL(r->t.m.page_frees, b.page_frees);
    CU_ASSERT_EQUAL(r->t.m.obj_frees, b.obj_frees);
    CU_ASSERT_EQUAL(r->t.m.pages_out, hv_slat_table_pages(&r->t.s) + r->t.s.retired.table_pages);
}

static void check_unchanged(struct drun *r, struct before b)
{
    CU_ASSERT_EQUAL(hv_slat_table_pages(&r->t.s), b.tables);
    CU_ASSERT_EQUAL(r->t.m.pages_out, b.pages_out);
    CU_ASSERT_EQUAL(r->t.m.objs_out, b.objs_out);
    CU_ASSERT_FALSE(hv_slat_take_flush(&r->t.s));
}

static void do_map(struct drun *r)
{
    uint64_t a, len;
    pick_range(r, &a, &len);
    /* Mostly aim at a hole: shrink the range to the free run at its start. */
    if (rnd(r, 10) < 7 && !*tmodel_at(&r->md, a)) {
        uint64_t n = 0;
        while (n < len && !*tmodel_at(&r->md, a + n))
            n += P4K;
        len = n;
    }
    uint64_t x = rnd(r, 10);
    uint64_t d = r->delta[x < 8 ? 0 : x - 7];
    uint64_t hpa = a + d;
    uint32_t flags = pick_flags(r);
    hv_status_t want = HV_OK;
    bool beyond = false;
    if (rnd(r, 200) == 0 && r->c->hpa_top) {
        /* One page past the hpa width. */
        hpa = r->hpa_limit - len + P4K;
        want = HV_ERR_RANGE;
        beyond = true;
    }
    if (rnd(r, 200) == 0 && r->wend == r->gpa_limit) {
        /* Past the gpa width. */
        a = r->gpa_limit - P4K;
        len = 2 * P4K;
        want = HV_ERR_RANGE;
        beyond = true;
    }
    if (!beyond)
        for (uint64_t o = 0; o < len; o += P4K)
            if (*tmodel_at(&r->md, a + o)) {
                want = HV_ERR_EXISTS;
                break;
            }
    struct before b = before(r);
    hv_status_t st = hv_slat_map(&r->t.s, a, hpa, len, flags);
    CU_ASSERT_EQUAL(st, want);
    if (st != want) {
        fprintf(stderr,
                "slat diff %s step %" PRIu64 ": map %#" PRIx64 "+%#" PRIx64 " -> %d, want %d\n",
                r->c->name, r->step, a, len, st, want);
        r->failed = true;
    }
    r->n_map++;
    if (want != HV_OK) {
        r->n_map_err++;
        r->n_range_err += want == HV_ERR_RANGE;
        check_unchanged(r, b);
        if (beyond)
            return;
    } else {
        check_exact_plan(r, b);
        for (uint64_t o = 0; o < len; o += P4K)
            *tmodel_at(&r->md, a + o) = (hpa + o) | flags;
        r->mapped_pages += len / P4K;
        bool flush = tslat_end_call(&r->t);
        /* A map only adds translations, unless a merge changed a page size. */
        if (hv_slat_table_pages(&r->t.s) < b.tables)
            r->merges++;
        CU_ASSERT(flush || hv_slat_table_pages(&r->t.s) >= b.tables);
    }
    check_step(r, a, len, "map");
}

static void do_unmap(struct drun *r)
{
    uint64_t a, len;
    pick_range(r, &a, &len);
    if (rnd(r, 100) == 0 && r->wend == r->gpa_limit) {
        struct before b = before(r);
        CU_ASSERT_EQUAL(hv_slat_unmap(&r->t.s, r->gpa_limit - P4K, 2 * P4K), HV_ERR_RANGE);
        check_unchanged(r, b);
        r->n_range_err++;
    }
    uint64_t had = 0;
    for (uint64_t o = 0; o < len; o += P4K) {
        uint64_t *p = tmodel_at(&r->md, a + o);
        had += *p != 0;
        *p = 0;
    }
    struct before b = before(r);
    CU_ASSERT_EQUAL(hv_slat_unmap(&r->t.s, a, len), HV_OK);
    check_exact_plan(r, b);
    r->mapped_pages -= had;
    r->n_unmap++;
    if (hv_slat_table_pages(&r->t.s) > b.tables)
        r->splits++;
    /* A flush exactly when a translation went away. */
    CU_ASSERT_EQUAL(tslat_end_call(&r->t), had != 0);
    check_step(r, a, len, "unmap");
}

static void do_protect(struct drun *r)
{
    uint64_t a, len;
    pick_range(r, &a, &len);
    /* Mostly aim at a mapped run: probe for a mapped page, keep its run. */
    if (rnd(r, 10) < 7) {
        for (int tries = 0; tries < 16 && !*tmodel_at(&r->md, a); tries++)
            a = r->wbase + rnd(r, (r->wend - r->wbase) / P4K) * P4K;
        if (a + len > r->wend)
            len = r->wend - a;
        uint64_t n = 0;
        while (n < len && *tmodel_at(&r->md, a + n))
            n += P4K;
        if (n)
            len = n;
    }
    uint32_t flags = pick_flags(r);
    hv_status_t want = HV_OK;
    bool change = false;
    for (uint64_t o = 0; o < len; o += P4K) {
        uint64_t v = *tmodel_at(&r->md, a + o);
        if (!v) {
            want = HV_ERR_NOT_FOUND;
            break;
        }
        change |= (v & 0xfff) != flags;
    }
    struct before b = before(r);
    hv_status_t st = hv_slat_protect(&r->t.s, a, len, flags);
    CU_ASSERT_EQUAL(st, want);
    if (st != want) {
        fprintf(stderr,
                "slat diff %s step %" PRIu64 ": protect %#" PRIx64 "+%#" PRIx64 " -> %d, want %d\n",
                r->c->name, r->step, a, len, st, want);
        r->failed = true;
    }
    r->n_protect++;
    if (want != HV_OK) {
        r->n_protect_err++;
        check_unchanged(r, b);
    } else {
        check_exact_plan(r, b);
        for (uint64_t o = 0; o < len; o += P4K) {
            uint64_t *p = tmodel_at(&r->md, a + o);
            *p = (*p & ~0xfffull) | flags;
        }
        if (hv_slat_table_pages(&r->t.s) > b.tables)
            r->splits++;
        if (hv_slat_table_pages(&r->t.s) < b.tables)
            r->merges++;
        /* A flush exactly when some page's flags changed. */
        CU_ASSERT_EQUAL(tslat_end_call(&r->t), change);
    }
    check_step(r, a, len, "protect");
}

static void run_cfg(const struct dcfg *c, unsigned idx, uint64_t seed, uint64_t ops)
{
    struct drun *r = calloc(1, sizeof(*r));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    r->c = c;
    r->rng = seed ^ (idx + 1) * 0x9E3779B97F4A7C15ull;
    if (!r->rng)
        r->rng = 1;
    CU_ASSERT_EQUAL_FATAL(tslat_init(&r->t, c->kind, c->gpa_bits, c->hpa_bits, c->sizes, &c->opts),
                          HV_OK);
    r->gpa_limit = 1ull << c->gpa_bits;
    r->hpa_limit = 1ull << c->hpa_bits;
    r->wbase = c->wbase == UINT64_MAX ? r->gpa_limit - c->wsize : c->wbase;
    r->wend = r->wbase + c->wsize;
    uint64_t hbase = c->hpa_top ? r->hpa_limit - c->wsize : 3 * GiB;
    r->delta[0] = hbase - r->wbase;
    r->delta[1] = r->delta[0] - P2M;
    r->delta[2] = r->delta[0] - 5 * P4K;
    tmodel_init(&r->md, r->wbase, c->wsize);

    for (r->step = 0; r->step < ops && !r->failed; r->step++) {
        uint64_t x = rnd(r, 100);
        if (x < 40)
            do_map(r);
        else if (x < 70)
            do_unmap(r);
        else
            do_protect(r);
        if (r->step % FULL_CHECK_EVERY == FULL_CHECK_EVERY - 1)
            full_check(r);
    }
    full_check(r);
    printf("slat diff %-13s %" PRIu64 " ops: map %" PRIu64 " (%" PRIu64 " refused), unmap %" PRIu64
           ", protect %" PRIu64 " (%" PRIu64 " refused), range errors %" PRIu64 "; merges %" PRIu64
           ", splits %" PRIu64 ", max tables %" PRIu64 "\n",
           c->name, r->step, r->n_map, r->n_map_err, r->n_unmap, r->n_protect, r->n_protect_err,
           r->n_range_err, r->merges, r->splits, r->max_tables);
    CU_ASSERT_FALSE(r->failed);
    /* The sequences must really exercise large pages. */
    if (c->sizes != HV_PAGE_4K && ops >= 5000) {
        CU_ASSERT(r->merges > 20);
        CU_ASSERT(r->splits > 20);
    }
    /* Everything unmapped: the root alone remains. */
    CU_ASSERT_EQUAL(hv_slat_unmap(&r->t.s, r->wbase, c->wsize), HV_OK);
    tslat_end_call(&r->t);
    CU_ASSERT_EQUAL(hv_slat_table_pages(&r->t.s), 1);
    CU_ASSERT_EQUAL(hv_slat_mapped_bytes(&r->t.s), 0);
    tslat_fini(&r->t);
    tmodel_fini(&r->md);
    free(r);
}

static uint64_t ops_per_cfg(void)
{
    const char *env = getenv("HV_SLAT_OPS");
    uint64_t n = env && *env ? strtoull(env, NULL, 0) : DEFAULT_OPS;
    return n ? n : DEFAULT_OPS;
}

static void test_diff(void)
{
    uint64_t seed = tseed(), ops = ops_per_cfg(), total = 0;
    for (unsigned i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        run_cfg(&cfgs[i], i, seed, ops);
        total += ops;
    }
    printf("slat diff: %" PRIu64 " operations in total\n", total);
}

void test_slat_register_diff(void)
{
    CU_pSuite s = CU_add_suite("slat_diff", NULL, NULL);
    CU_add_test(s, "random sequences vs flat model", test_diff);
}
