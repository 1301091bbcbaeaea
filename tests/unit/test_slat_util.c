/*
 * SLAT test helpers: setup, the independent table walker and the reference
 * model (see test_slat.h). The walker decodes entries from the bit layouts
 * of SDM Vol. 3C 29.3.2 (EPT) and APM Vol. 2 5.4 / 15.25 (NPT) written out
 * here again, so a mistake in the backends' format files cannot hide itself.
 */
#include "test_slat.h"

#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmx/ept_format.h"
#include "svm/npt_format.h"

#define ADDR_BITS 0x000ffffffffff000ull

const char *tkind_name(enum tkind k)
{
    return k == T_EPT ? "ept" : "npt";
}

hv_status_t tslat_init(struct tslat *t, enum tkind kind, unsigned gpa_bits, unsigned hpa_bits,
                       uint32_t page_sizes, const struct topts *opts)
{
    struct topts none = {false, false};
    if (!opts)
        opts = &none;
    memset(t, 0, sizeof(*t));
    mock_host_init(&t->m);
    t->kind = kind;
    hv_status_t st = hv_host_init(&t->host, &t->m.ops);
    CU_ASSERT_EQUAL_FATAL(st, HV_OK);
    if (kind == T_EPT)
        hv_ept_format_init(&t->fmt, HV_PAGE_2M | HV_PAGE_1G, opts->ept_ad, opts->ept_exec_only);
    else
        hv_npt_format_init(&t->fmt, HV_PAGE_1G);
    t->page_sizes = page_sizes;
    return hv_slat_init(&t->s, &t->host, &t->fmt, gpa_bits, hpa_bits, page_sizes);
}

void tslat_fini(struct tslat *t)
{
    hv_slat_fini(&t->s);
    CU_ASSERT_EQUAL(t->m.pages_out, 0);
    CU_ASSERT_EQUAL(t->m.objs_out, 0);
    CU_ASSERT_EQUAL(t->m.errors, 0);
    if (t->m.errors)
        fprintf(stderr, "mock error: %s\n", t->m.last_error);
    mock_host_fini(&t->m);
}

bool tslat_end_call(struct tslat *t)
{
    bool f = hv_slat_take_flush(&t->s);
    hv_slat_flush_done(&t->s);
    return f;
}

uint64_t tseed(void)
{
    static bool printed;
    static uint64_t seed;
    if (!printed) {
        const char *env = getenv("HV_SEED");
        if (env && *env)
            seed = strtoull(env, NULL, 0);
        else
            seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
        if (!seed)
            seed = 1;
        printf("\nslat: seed 0x%" PRIx64 " (set HV_SEED to repeat)\n", seed);
        printed = true;
    }
    return seed;
}

/* ---- entry decoding from the manuals ---- */

static uint64_t lsize(int level)
{
    return 1ull << (12 + 9 * level);
}

static bool t_present(enum tkind k, uint64_t e)
{
    return k == T_EPT ? (e & 7) != 0 : (e & 1) != 0;
}

/* Bit 7 is the page-size bit of PDPTEs/PDEs in both formats. */
static bool t_leaf(uint64_t e, int level)
{
    return level == 0 || (level <= 2 && (e & 0x80));
}

/* Checks a present non-leaf entry; returns an error or NULL. */
static const char *t_table_entry(enum tkind k, uint64_t e)
{
    if (k == T_EPT) {
        if ((e & 7) != 7)
            return "EPT table entry without R+W+X";
        if (e & 0xf8)
            return "EPT table entry with reserved bits 7:3 set";
        if (e & 0xe00)
            return "EPT table entry with bits 11:9 set";
    } else {
        if ((e & 7) != 7)
            return "NPT table entry without P+RW+US";
        if (e & 0x18)
            return "NPT table entry with PWT/PCD";
        if (e & 0x80)
            return "NPT table entry with PS";
        if (e & 0xf40)
            return "NPT table entry with bits 11:8 or 6 set";
        if (e & (1ull << 63))
            return "NPT table entry with NX";
    }
    if (e & 0x7ff0000000000000ull)
        return "table entry with bits 62:52 set";
    return NULL;
}

/* Decodes a present leaf; returns an error or NULL. */
static const char *t_leaf_decode(enum tkind k, uint64_t e, int level, uint64_t *hpa,
                                 uint32_t *flags, bool *dirty)
{
    uint64_t off = lsize(level) - 1;
    *hpa = e & ADDR_BITS & ~off;
    if (e & 0x7ff0000000000000ull)
        return "leaf with bits 62:52 set";
    if (k == T_EPT) {
        uint32_t f = (uint32_t)(e & 7);
        if ((f & 2) && !(f & 1))
            return "EPT leaf writable but not readable (misconfiguration)";
        if (e & (1ull << 63))
            return "EPT leaf with suppress-#VE";
        switch ((e >> 3) & 7) {
        case 6:
            f |= HV_MEMTYPE_WB;
            break;
        case 0:
            f |= HV_MEMTYPE_UC;
            break;
        case 1:
            f |= HV_MEMTYPE_WC;
            break;
        case 4:
            f |= HV_MEMTYPE_WT;
            break;
        case 5:
            f |= HV_MEMTYPE_WP;
            break;
        default:
            return "EPT leaf with a reserved memory type";
        }
        if (e & 0x40)
            return "EPT leaf with ignore-PAT";
        if (level == 0 && (e & 0x80))
            return "EPT PTE with bit 7 set";
        if (e & 0xc00)
            return "EPT leaf with bits 11:10 set";
        if (level > 0 && (e & off & ~0xfffull))
            return "EPT large leaf with reserved address bits set";
        *flags = f;
        *dirty = (e & (1u << 9)) != 0;
    } else {
        uint32_t f = HV_MEM_READ;
        if (!(e & 4))
            return "NPT leaf without U/S";
        if (e & 2)
            f |= HV_MEM_WRITE;
        if (!(e & (1ull << 63)))
            f |= HV_MEM_EXEC;
        switch (e & 0x18) {
        case 0:
            f |= HV_MEMTYPE_WB;
            break;
        case 0x08:
            f |= HV_MEMTYPE_WT;
            break;
        case 0x18:
            f |= HV_MEMTYPE_UC;
            break;
        default:
            return "NPT leaf with PCD alone (UC-)";
        }
        if (level == 0 && (e & 0x80))
            return "NPT PTE with PAT bit set";
        if (level > 0 && (e & 0x1000))
            return "NPT large leaf with PAT bit set";
        if (e & 0xf00)
            return "NPT leaf with bits 11:8 set";
        if (level > 0 && (e & off & ~0x1fffull))
            return "NPT large leaf with reserved address bits set";
        *flags = f;
        *dirty = (e & 0x40) != 0;
    }
    return NULL;
}

/* ---- walker ---- */

struct walk {
    struct tslat *t;
    uint64_t a, b;
    wleaf_fn fn;
    void *ctx;
    struct wresult *r;
};

static void werror(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void werror(struct walk *w, const char *fmt, ...)
{
    if (!w->r->errors) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->r->first_error, sizeof(w->r->first_error), fmt, ap);
        va_end(ap);
    }
    w->r->errors++;
}

static bool t_size_allowed(struct tslat *t, int level)
{
    return level == 0 || (level == 1 && (t->page_sizes & HV_PAGE_2M)) ||
           (level == 2 && (t->page_sizes & HV_PAGE_1G));
}

/* A non-root table at `level` must have an entry and must not be mergeable. */
static void check_canonical(struct walk *w, const uint64_t *tbl, int level, uint64_t span)
{
    enum tkind k = w->t->kind;
    unsigned present = 0;
    for (unsigned i = 0; i < 512; i++)
        present += t_present(k, tbl[i]);
    if (!present) {
        werror(w, "empty level-%d table kept at gpa %#" PRIx64, level, span);
        return;
    }
    if (present != 512 || level > 1 || !t_size_allowed(w->t, level + 1))
        return;
    uint64_t h0 = 0;
    uint32_t f0 = 0;
    for (unsigned i = 0; i < 512; i++) {
        uint64_t h;
        uint32_t f;
        bool d;
        if (!t_leaf(tbl[i], level) || t_leaf_decode(k, tbl[i], level, &h, &f, &d))
            return;
        if (i == 0) {
            h0 = h;
            f0 = f;
            if (h0 & (lsize(level + 1) - 1))
                return;
        } else if (h != h0 + i * lsize(level) || f != f0) {
            return;
        }
    }
    werror(w, "uniform level-%d table at gpa %#" PRIx64 " not merged", level, span);
}

static void walk_table(struct walk *w, uint64_t table_hpa, int level, uint64_t span, bool root)
{
    enum tkind k = w->t->kind;
    uint64_t *tbl = mock_phys_to_virt(&w->t->m, table_hpa);
    if (!tbl || (table_hpa & 0xfff)) {
        werror(w, "level-%d table at hpa %#" PRIx64 " is not a live page", level, table_hpa);
        return;
    }
    w->r->tables++;
    if (!root)
        check_canonical(w, tbl, level, span);
    uint64_t sz = lsize(level);
    uint64_t end = span + 512 * sz;
    uint64_t lo = w->a > span ? w->a : span;
    uint64_t hi = w->b < end ? w->b : end;
    if (lo >= hi)
        return;
    for (unsigned i = (unsigned)((lo - span) / sz); i <= (unsigned)((hi - 1 - span) / sz); i++) {
        uint64_t e = tbl[i];
        uint64_t g = span + i * sz;
        if (!t_present(k, e))
            continue;
        if (level == 3 || !t_leaf(e, level)) {
            const char *err = t_table_entry(k, e);
            if (err) {
                werror(w, "%s (level %d, gpa %#" PRIx64 ", entry %#" PRIx64 ")", err, level, g, e);
                continue;
            }
            walk_table(w, e & ADDR_BITS, level - 1, g, false);
            continue;
        }
        struct wleaf l = {.gpa = g, .size = sz, .level = level, .entry = &tbl[i]};
        const char *err = t_leaf_decode(k, e, level, &l.hpa, &l.flags, &l.dirty);
        if (err) {
            werror(w, "%s (level %d, gpa %#" PRIx64 ", entry %#" PRIx64 ")", err, level, g, e);
            continue;
        }
        if (!t_size_allowed(w->t, level))
            werror(w, "level-%d leaf at gpa %#" PRIx64 " with that page size disallowed", level, g);
        w->r->leaves++;
        if (w->fn)
            w->fn(w->ctx, &l);
    }
}

void twalk(struct tslat *t, uint64_t a, uint64_t b, wleaf_fn fn, void *ctx, struct wresult *r)
{
    memset(r, 0, sizeof(*r));
    struct walk w = {.t = t, .a = a, .b = b, .fn = fn, .ctx = ctx, .r = r};
    walk_table(&w, hv_slat_root_hpa(&t->s), 3, 0, true);
}

struct find_ctx {
    uint64_t *entry;
    int level;
};

static void find_cb(void *ctx, const struct wleaf *l)
{
    struct find_ctx *f = ctx;
    f->entry = l->entry;
    f->level = l->level;
}

uint64_t *twalk_entry(struct tslat *t, uint64_t gpa, int *level)
{
    struct find_ctx f = {NULL, -1};
    struct wresult r;
    twalk(t, gpa, gpa + 1, find_cb, &f, &r);
    if (level)
        *level = f.level;
    return f.entry;
}

bool tset_dirty(struct tslat *t, uint64_t gpa)
{
    int level;
    uint64_t *e = twalk_entry(t, gpa, &level);
    if (!e)
        return false;
    /* EPT: bit 9 (SDM Vol. 3C 29.3.5); NPT: bit 6 (APM Vol. 2 5.4.1). */
    *e |= t->kind == T_EPT ? (1ull << 9) : (1ull << 6);
    return true;
}

/* ---- model ---- */

void tmodel_init(struct tmodel *md, uint64_t base, uint64_t size)
{
    md->base = base;
    md->size = size;
    md->pg = calloc(size >> 12, sizeof(uint64_t));
    CU_ASSERT_PTR_NOT_NULL_FATAL(md->pg);
}

void tmodel_fini(struct tmodel *md)
{
    free(md->pg);
    md->pg = NULL;
}

struct cmp_ctx {
    struct tmodel *md;
    uint64_t a, b;
    uint64_t covered, bad;
    char first[256];
};

static void cmp_cb(void *ctx, const struct wleaf *l)
{
    struct cmp_ctx *c = ctx;
    uint64_t lo = l->gpa > c->a ? l->gpa : c->a;
    uint64_t hi = l->gpa + l->size < c->b ? l->gpa + l->size : c->b;
    uint64_t want = (l->hpa + (lo - l->gpa)) | l->flags;
    const uint64_t *pg = &c->md->pg[(lo - c->md->base) >> 12];
    for (uint64_t n = (hi - lo) >> 12; n; n--, pg++, want += P4K) {
        if (*pg != want) {
            if (!c->bad)
                snprintf(c->first, sizeof(c->first),
                         "gpa %#" PRIx64 ": tables map %#" PRIx64 " flags %#x (level %d leaf), "
                         "model has %#" PRIx64,
                         (uint64_t)(hi - (n << 12)), (uint64_t)(want & ~0xfffull), l->flags,
                         l->level, *pg);
            c->bad++;
        }
    }
    c->covered += (hi - lo) >> 12;
}

/*
 * The same range listed through hv_slat_query_next (the engine's own walk,
 * which skips unmapped subtrees): every leaf it reports agrees with the
 * model page by page, and the model maps nothing between them. Returns the
 * pages that disagree.
 */
static uint64_t compare_query_next(struct tslat *t, struct tmodel *md, uint64_t a, uint64_t b)
{
    uint64_t bad = 0, g = a;
    struct hv_mapping q;
    while (g < b && hv_slat_query_next(&t->s, g, &q) == HV_OK && q.gpa < b) {
        if (q.gpa + q.page_size <= g) { /* must contain g or lie above it */
            bad++;
            break;
        }
        for (; g < q.gpa; g += P4K)
            bad += *tmodel_at(md, g) != 0;
        uint64_t end = q.gpa + q.page_size < b ? q.gpa + q.page_size : b;
        for (; g < end; g += P4K)
            bad += *tmodel_at(md, g) != ((q.hpa + (g - q.gpa)) | q.flags);
    }
    for (; g < b; g += P4K)
        bad += *tmodel_at(md, g) != 0;
    if (bad)
        fprintf(stderr, "slat query_next [%#" PRIx64 ", %#" PRIx64 "): %" PRIu64 " pages differ\n",
                a, b, bad);
    return bad;
}

uint64_t tcompare(struct tslat *t, struct tmodel *md, uint64_t a, uint64_t b)
{
    struct cmp_ctx c = {.md = md, .a = a, .b = b};
    struct wresult r;
    twalk(t, a, b, cmp_cb, &c, &r);
    uint64_t mapped = 0;
    for (uint64_t g = a; g < b; g += P4K)
        mapped += *tmodel_at(md, g) != 0;
    uint64_t bad = c.bad + r.errors + (mapped != c.covered) + compare_query_next(t, md, a, b);
    if (r.errors)
        fprintf(stderr, "slat walker: %s\n", r.first_error);
    if (c.bad)
        fprintf(stderr, "slat compare: %s\n", c.first);
    if (mapped != c.covered)
        fprintf(stderr,
                "slat compare [%#" PRIx64 ", %#" PRIx64 "): model maps %" PRIu64
                " pages, tables %" PRIu64 "\n",
                a, b, mapped, c.covered);
    CU_ASSERT_EQUAL(bad, 0);
    return bad;
}

void tcheck_translate(struct tslat *t, struct tmodel *md, uint64_t gpa)
{
    uint64_t v = *tmodel_at(md, gpa & ~0xfffull);
    uint64_t hpa = 0;
    struct hv_mapping q;
    if (!v) {
        CU_ASSERT_EQUAL(hv_slat_translate(&t->s, gpa, 0, &hpa), HV_ERR_NOT_FOUND);
        CU_ASSERT_EQUAL(hv_slat_query(&t->s, gpa, &q), HV_ERR_NOT_FOUND);
        return;
    }
    uint64_t want = (v & ~0xfffull) | (gpa & 0xfff);
    uint32_t flags = (uint32_t)(v & 0xfff);
    for (uint32_t acc = 0; acc <= HV_MEM_RWX; acc++) {
        hpa = 0;
        hv_status_t st = hv_slat_translate(&t->s, gpa, acc, &hpa);
        if ((flags & acc) == acc) {
            CU_ASSERT_EQUAL(st, HV_OK);
            CU_ASSERT_EQUAL(hpa, want);
        } else {
            CU_ASSERT_EQUAL(st, HV_ERR_GUEST_FAULT);
        }
    }
    CU_ASSERT_EQUAL_FATAL(hv_slat_query(&t->s, gpa, &q), HV_OK);
    CU_ASSERT(q.page_size == P4K || q.page_size == P2M || q.page_size == P1G);
    CU_ASSERT_EQUAL(q.gpa, gpa & ~(q.page_size - 1));
    CU_ASSERT_EQUAL(q.hpa + (gpa - q.gpa), want);
    CU_ASSERT_EQUAL(q.flags, flags);
}
