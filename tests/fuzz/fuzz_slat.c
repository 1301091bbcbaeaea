/*
 * Fuzz target: sequences of SLAT operations (map, unmap, protect, dirty
 * harvest, allocation failures) on the EPT and NPT formats, checked after
 * every step against a reference model of a 4 GiB guest-physical window.
 *
 * The model keeps one record per 2 MiB chunk: unmapped, linear (every page
 * maps base + offset with the same flags) or detailed (one word per 4 KiB
 * page), so large ranges cost little.
 *
 * Invariants: each call returns the status the documented checks predict;
 * on an error nothing changed; translate/query agree with the model at the
 * edges of each operation and across the touched window at the end;
 * mapped-byte and table-page counters match the model and the mock host's
 * allocations; everything is freed by hv_slat_fini; no sanitizer report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/host.h"
#include "fuzz_common.h"
#include "slat/slat.h"
#include "svm/npt_format.h"
#include "vmx/ept_format.h"

#define P4K     4096ull
#define P2M     (2ull << 20)
#define WINDOW  (4ull << 30)
#define NCHUNK  (WINDOW / P2M)
#define PER_CHK 512u
/* 4 KiB leaves an input may map (see the length rules in the loop). */
#define SMALL_BUDGET 16384u

enum ckind { C_NONE, C_LINEAR, C_DETAIL };

struct chunk {
    uint8_t kind;
    bool touched;
    uint64_t v0;  /* C_LINEAR: word of the first page (hpa | flags) */
    uint64_t *pg; /* C_DETAIL: 512 words (0: unmapped) */
};

struct model {
    uint64_t base;
    struct chunk c[NCHUNK];
    uint64_t mapped_pages;
};

static uint64_t m_get(const struct model *m, uint64_t gpa)
{
    const struct chunk *c = &m->c[(gpa - m->base) / P2M];
    unsigned i = (unsigned)(((gpa - m->base) % P2M) / P4K);
    switch (c->kind) {
    case C_LINEAR:
        return c->v0 + i * P4K;
    case C_DETAIL:
        return c->pg[i];
    default:
        return 0;
    }
}

static void detail(struct chunk *c)
{
    if (c->kind == C_DETAIL)
        return;
    uint64_t *pg = calloc(PER_CHK, sizeof(uint64_t));
    if (!pg)
        abort();
    if (c->kind == C_LINEAR)
        for (unsigned i = 0; i < PER_CHK; i++)
            pg[i] = c->v0 + i * P4K;
    c->pg = pg;
    c->kind = C_DETAIL;
}

enum op { OP_MAP, OP_UNMAP, OP_PROTECT };

/* Apply an operation the engine accepted. */
static void m_apply(struct model *m, enum op op, uint64_t a, uint64_t len, uint64_t hpa,
                    uint32_t flags)
{
    for (uint64_t g = a; g < a + len;) {
        uint64_t off = g - m->base;
        struct chunk *c = &m->c[off / P2M];
        c->touched = true;
        uint64_t cstart = g - off % P2M;
        if (g == cstart && a + len - g >= P2M && (op != OP_PROTECT || c->kind == C_LINEAR)) {
            if (c->kind == C_DETAIL) {
                free(c->pg);
                c->pg = NULL;
            }
            if (op == OP_MAP) {
                c->kind = C_LINEAR;
                c->v0 = (hpa + (g - a)) | flags;
            } else if (op == OP_UNMAP) {
                c->kind = C_NONE;
            } else {
                c->v0 = (c->v0 & ~0xfffull) | flags;
            }
            g += P2M;
            continue;
        }
        detail(c);
        uint64_t end = a + len < cstart + P2M ? a + len : cstart + P2M;
        for (; g < end; g += P4K) {
            uint64_t *w = &c->pg[(g - cstart) / P4K];
            if (op == OP_MAP)
                *w = (hpa + (g - a)) | flags;
            else if (op == OP_UNMAP)
                *w = 0;
            else
                *w = (*w & ~0xfffull) | flags;
        }
    }
}

/* Pages of the range that are mapped. */
static uint64_t m_count(const struct model *m, uint64_t a, uint64_t len)
{
    uint64_t n = 0;
    for (uint64_t g = a; g < a + len;) {
        uint64_t off = g - m->base;
        const struct chunk *c = &m->c[off / P2M];
        uint64_t cstart = g - off % P2M;
        uint64_t end = a + len < cstart + P2M ? a + len : cstart + P2M;
        if (c->kind == C_NONE)
            ;
        else if (c->kind == C_LINEAR)
            n += (end - g) / P4K;
        else
            for (uint64_t x = g; x < end; x += P4K)
                n += c->pg[(x - cstart) / P4K] != 0;
        g = end;
    }
    return n;
}

struct run {
    struct mock_host mh;
    struct hv_host host;
    struct hv_slat_format fmt;
    struct hv_slat s;
    struct model *m;
    uint64_t gpa_limit, hpa_limit;
    uint64_t step;
};

static void check_gpa(struct run *r, uint64_t gpa)
{
    if (gpa < r->m->base || gpa - r->m->base >= WINDOW)
        return;
    uint64_t want = m_get(r->m, gpa);
    struct hv_mapping mp;
    hv_status_t s = hv_slat_query(&r->s, gpa, &mp);
    uint64_t hpa = 0;
    hv_status_t t = hv_slat_translate(&r->s, gpa, 0, &hpa);
    if (!want) {
        FZ_CHECK(s == HV_ERR_NOT_FOUND && t == HV_ERR_NOT_FOUND,
                 "step %llu: gpa %#llx mapped (query %d translate %d), model says not",
                 (unsigned long long)r->step, (unsigned long long)gpa, s, t);
        return;
    }
    FZ_CHECK(s == HV_OK && t == HV_OK, "step %llu: gpa %#llx not mapped (%d/%d), model %#llx",
             (unsigned long long)r->step, (unsigned long long)gpa, s, t, (unsigned long long)want);
    uint64_t page = gpa & ~(P4K - 1);
    uint64_t got = (mp.hpa + (page - mp.gpa)) | mp.flags;
    FZ_CHECK(got == want && hpa == (want & ~0xfffull) + (gpa & 0xfff),
             "step %llu: gpa %#llx maps %#llx (page size %#llx), model %#llx",
             (unsigned long long)r->step, (unsigned long long)gpa, (unsigned long long)got,
             (unsigned long long)mp.page_size, (unsigned long long)want);
    FZ_CHECK(mp.page_size == P4K || mp.page_size == P2M || mp.page_size == (1ull << 30),
             "page size %#llx", (unsigned long long)mp.page_size);
    /* Permission checks of translate follow the flags. */
    uint32_t perm = want & 7;
    t = hv_slat_translate(&r->s, gpa, HV_MEM_RWX, &hpa);
    FZ_CHECK((t == HV_OK) == (perm == HV_MEM_RWX), "translate RWX %d with perms %u", t, perm);
}

/* hv_slat_query_next from gpa: the mapping that contains it or the lowest
   above it, with nothing mapped in between (the model's window only). */
static void check_next(struct run *r, uint64_t gpa)
{
    if (gpa < r->m->base || gpa - r->m->base >= WINDOW)
        return;
    uint64_t page = gpa & ~(P4K - 1), wend = r->m->base + WINDOW;
    struct hv_mapping q;
    hv_status_t s = hv_slat_query_next(&r->s, gpa, &q);
    if (s == HV_ERR_NOT_FOUND) {
        FZ_CHECK(m_count(r->m, page, wend - page) == 0,
                 "step %llu: query_next %#llx found nothing, the model maps above it",
                 (unsigned long long)r->step, (unsigned long long)gpa);
        return;
    }
    FZ_CHECK(s == HV_OK && q.gpa + q.page_size > gpa, "step %llu: query_next %#llx: %d, %#llx",
             (unsigned long long)r->step, (unsigned long long)gpa, s, (unsigned long long)q.gpa);
    uint64_t at = q.gpa > page ? q.gpa : page;
    uint64_t gap_end = at < wend ? at : wend;
    FZ_CHECK(m_count(r->m, page, gap_end - page) == 0,
             "step %llu: query_next %#llx skipped a mapping below %#llx",
             (unsigned long long)r->step, (unsigned long long)gpa, (unsigned long long)at);
    if (at < wend)
        FZ_CHECK(m_get(r->m, at) == ((q.hpa + (at - q.gpa)) | q.flags),
                 "step %llu: query_next %#llx reports %#llx at %#llx, model %#llx",
                 (unsigned long long)r->step, (unsigned long long)gpa,
                 (unsigned long long)((q.hpa + (at - q.gpa)) | q.flags), (unsigned long long)at,
                 (unsigned long long)m_get(r->m, at));
}

static void check_counts(struct run *r)
{
    FZ_CHECK(hv_slat_mapped_bytes(&r->s) == r->m->mapped_pages * P4K,
             "step %llu: mapped bytes %#llx, model %#llx", (unsigned long long)r->step,
             (unsigned long long)hv_slat_mapped_bytes(&r->s),
             (unsigned long long)(r->m->mapped_pages * P4K));
    FZ_CHECK(r->mh.pages_out == hv_slat_table_pages(&r->s), "pages out %llu, table pages %llu",
             (unsigned long long)r->mh.pages_out, (unsigned long long)hv_slat_table_pages(&r->s));
    FZ_CHECK(r->mh.obj_bytes_out == hv_slat_meta_bytes(&r->s), "object bytes %llu, meta %llu",
             (unsigned long long)r->mh.obj_bytes_out,
             (unsigned long long)hv_slat_meta_bytes(&r->s));
}

static void end_call(struct run *r)
{
    (void)hv_slat_take_flush(&r->s);
    hv_slat_flush_done(&r->s);
}

/* Valid flag sets for the format (index from the input). */
static uint32_t pick_flags(const struct hv_slat_format *f, uint8_t x)
{
    static const uint32_t perms[] = {HV_MEM_RWX, HV_MEM_READ, HV_MEM_READ | HV_MEM_WRITE,
                                     HV_MEM_READ | HV_MEM_EXEC, HV_MEM_EXEC};
    uint32_t p = perms[(x & 7) % 5];
    if (p == HV_MEM_EXEC && !f->exec_only)
        p = HV_MEM_RWX;
    uint32_t type = (x >> 3) % 5;
    if (!(f->memtypes & (1u << type)))
        type = 0;
    return p | (type << HV_MEMTYPE_SHIFT);
}

static void full_check(struct run *r)
{
    struct model *m = r->m;
    for (uint64_t i = 0; i < NCHUNK; i++) {
        struct chunk *c = &m->c[i];
        if (!c->touched)
            continue;
        uint64_t g = m->base + i * P2M;
        if (c->kind == C_DETAIL) {
            /* Both sides of every run boundary (where splits and merges go
               wrong), and every 32nd page. */
            for (unsigned k = 0; k < PER_CHK; k++) {
                bool edge = k == 0 || k == PER_CHK - 1 || k % 32 == 0;
                if (!edge) {
                    uint64_t prev = c->pg[k - 1], cur = c->pg[k], next = c->pg[k + 1];
                    edge = !(prev && cur == prev + P4K) || !(next && next == cur + P4K) ||
                           (!cur && (prev || next));
                    if (!cur && !prev && !next)
                        edge = false;
                }
                if (edge)
                    check_gpa(r, g + k * P4K);
            }
        } else {
            check_gpa(r, g);
            check_gpa(r, g + 0x1ff000);
            check_gpa(r, g + 0x7b123);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    /* The mock host lives across inputs; each input must give back all it took. */
    static struct run *r;
    static uint64_t inputs;
    static bool trace;
    if (!r) {
        trace = getenv("FUZZ_TRACE") != NULL;
        r = calloc(1, sizeof(*r));
        if (!r)
            abort();
        mock_host_init(&r->mh);
        /* Freed blocks go back to ASan at once: its quarantine reports any
           later read or write of them (the mock's poison only caught writes,
           and scanning it cost a tenth of the time). */
        r->mh.poison_free = false;
        hv_host_init(&r->host, &r->mh.ops);
    }
    struct model *m = calloc(1, sizeof(*m));
    if (!m)
        abort();
    r->m = m;
    memset(&r->s, 0, sizeof(r->s));
    mock_fail_none(&r->mh);
    r->mh.failed = 0;

    uint8_t cfg = fz_u8(&in);
    static const uint32_t sizes_tab[] = {HV_PAGE_4K, HV_PAGE_4K | HV_PAGE_2M,
                                         HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G,
                                         HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G};
    uint32_t sizes = sizes_tab[(cfg >> 1) & 3];
    if (cfg & 1)
        hv_npt_format_init(&r->fmt, sizes);
    else
        hv_ept_format_init(&r->fmt, sizes, cfg & 8, cfg & 16);
    static const unsigned gbits[] = {32, 36, 39, 48};
    static const unsigned hbits[] = {36, 40, 46, 52};
    unsigned gb = gbits[(cfg >> 5) & 3], hb = hbits[fz_u8(&in) & 3];
    r->gpa_limit = 1ull << gb;
    r->hpa_limit = 1ull << hb;
    m->base = (cfg & 0x80) ? r->gpa_limit - WINDOW : 0;
    uint64_t hbase = (cfg & 4) ? r->hpa_limit - WINDOW : (1ull << 33);

    hv_status_t st = hv_slat_init(&r->s, &r->host, &r->fmt, gb, hb, sizes);
    FZ_CHECK(st == HV_OK, "slat init %d", st);
    end_call(r);

    uint64_t small_pages = 0;
    for (r->step = 0; r->step < 64 && !fz_empty(&in); r->step++) {
        uint8_t opb = fz_u8(&in);
        uint8_t shape = fz_u8(&in);
        uint32_t off = fz_u32(&in);
        uint16_t n = fz_u16(&in);
        uint8_t fl = fz_u8(&in);
        uint8_t extra = fz_u8(&in);
        enum op op = (enum op)((opb & 3) % 3);
        bool harvest = (opb & 0x1c) == 0x1c;

        /* Address and length: 4 KiB, 2 MiB or 1 GiB granules, some cut by pages. */
        uint64_t unit = (shape & 3) == 0   ? P4K
                        : (shape & 3) == 1 ? P2M
                        : (shape & 3) == 2 ? (1ull << 30)
                                           : P4K;
        uint64_t a = m->base + ((uint64_t)off * unit) % WINDOW;
        uint64_t len = (1 + n % (unit == P4K ? 2048 : unit == P2M ? 64 : 4)) * unit;
        if (shape & 4)
            a += (uint64_t)(extra & 7) * P4K;
        if (shape & 8 && len > 8 * P4K)
            len -= (uint64_t)((extra >> 3) & 7) * P4K;
        uint64_t delta = hbase - m->base -
                         ((shape & 0x30) == 0x10   ? P4K
                          : (shape & 0x30) == 0x20 ? P2M
                                                   : 0);
        /*
         * A range built of 4 KiB leaves (a 4 KiB-only SLAT, or a host address
         * not 2 MiB-aligned with the guest's) costs a table page per 2 MiB and
         * an entry per page in every later protect, unmap and model update:
         * at most 8 MiB per call (still four tables, across a 1 GiB boundary
         * when placed there) and SMALL_BUDGET pages per input. Past that a
         * call takes 64 KiB: the same paths, not the same cost again.
         */
        bool small = !(sizes & HV_PAGE_2M) || (op == OP_MAP && delta % P2M);
        if (small && len > (8ull << 20))
            len = 8ull << 20;
        if (small && op == OP_MAP && small_pages + len / P4K > SMALL_BUDGET && len > 16 * P4K)
            len = 16 * P4K;
        if (a - m->base >= WINDOW)
            a = m->base + WINDOW - P4K;
        if (len > m->base + WINDOW - a)
            len = m->base + WINDOW - a;
        if (small && op == OP_MAP)
            small_pages += len / P4K;
        uint64_t hpa = a + delta;
        uint32_t flags = pick_flags(&r->fmt, fl);
        bool misalign = (shape & 0xc0) == 0xc0;
        bool beyond = (shape & 0xc0) == 0x80 && m->base + WINDOW == r->gpa_limit;
        uint64_t ca = a, clen = len;
        hv_status_t want = HV_OK;
        if (misalign) {
            ca += 1 + (extra & 0x7ff);
            want = HV_ERR_ALIGNMENT;
        } else if (beyond) {
            ca = r->gpa_limit - P4K; /* runs past the guest-physical width */
            clen = len + P4K;
            want = HV_ERR_RANGE;
        } else if (op == OP_MAP && hpa + len > r->hpa_limit) {
            want = HV_ERR_RANGE;
        } else if (op == OP_MAP && m_count(m, a, len)) {
            want = HV_ERR_EXISTS;
        } else if (op == OP_PROTECT && m_count(m, a, len) != len / P4K) {
            want = HV_ERR_NOT_FOUND;
        }
        bool inject = (opb & 0xe0) == 0xe0 && want == HV_OK && op != OP_UNMAP;
        if (inject || (op == OP_UNMAP && (opb & 0xe0) == 0xe0))
            mock_fail_in(&r->mh, extra % 4);

        uint64_t pages_before = r->mh.pages_out, objs_before = r->mh.objs_out;
        if (harvest) {
            uint64_t words = (len / P4K + 63) / 64;
            uint64_t *bm = malloc(words * 8);
            if (!bm)
                abort();
            st = hv_slat_dirty_harvest(&r->s, a, len, bm);
            if (st == HV_OK) {
                /* No CPU ran: nothing can be dirty. */
                for (uint64_t w = 0; w < words; w++)
                    FZ_CHECK(bm[w] == 0, "harvest found a dirty page nobody wrote");
            } else {
                FZ_CHECK(st == HV_ERR_UNSUPPORTED && !r->fmt.has_ad, "harvest %d", st);
            }
            free(bm);
            mock_fail_none(&r->mh);
            end_call(r);
            check_counts(r);
            continue;
        }
        if (op == OP_MAP)
            st = hv_slat_map(&r->s, ca, hpa, clen, flags);
        else if (op == OP_UNMAP)
            st = hv_slat_unmap(&r->s, ca, clen);
        else
            st = hv_slat_protect(&r->s, ca, clen, flags);
        bool injected = r->mh.failed != 0;
        if (trace)
            fprintf(stderr, "step %llu: %s%s [%#llx, +%#llx) hpa %#llx flags %#x -> %d (want %d)\n",
                    (unsigned long long)r->step,
                    op == OP_MAP     ? "map"
                    : op == OP_UNMAP ? "unmap"
                                     : "protect",
                    injected ? " (alloc fails)" : "", (unsigned long long)ca,
                    (unsigned long long)clen, (unsigned long long)hpa, flags, st, want);
        mock_fail_none(&r->mh);
        r->mh.failed = 0;
        if (st == HV_ERR_NO_MEMORY && injected) {
            FZ_CHECK(!hv_slat_take_flush(&r->s), "step %llu: failed call requested a flush",
                     (unsigned long long)r->step);
            FZ_CHECK(r->mh.pages_out == pages_before && r->mh.objs_out == objs_before,
                     "step %llu: failed call kept allocations", (unsigned long long)r->step);
        } else {
            FZ_CHECK(st == want,
                     "step %llu: op %d [%#llx, +%#llx) hpa %#llx flags %#x: %d, want %d",
                     (unsigned long long)r->step, op, (unsigned long long)ca,
                     (unsigned long long)clen, (unsigned long long)hpa, flags, st, want);
            if (st == HV_OK) {
                if (op == OP_MAP)
                    m->mapped_pages += len / P4K;
                else if (op == OP_UNMAP)
                    m->mapped_pages -= m_count(m, a, len);
                m_apply(m, op, a, len, hpa, flags);
            } else {
                FZ_CHECK(!hv_slat_take_flush(&r->s), "step %llu: refused call requested a flush",
                         (unsigned long long)r->step);
                FZ_CHECK(r->mh.pages_out == pages_before && r->mh.objs_out == objs_before,
                         "step %llu: refused call changed allocations",
                         (unsigned long long)r->step);
            }
        }
        end_call(r);
        check_counts(r);
        uint64_t probes[6] = {a,
                              a + len - P4K,
                              a + len,
                              a - P4K,
                              a + (len / 2 & ~(P4K - 1)),
                              m->base + ((uint64_t)fz_u16(&in) << 16)};
        for (unsigned i = 0; i < 6; i++) {
            check_gpa(r, probes[i]);
            check_next(r, probes[i]);
        }
    }
    full_check(r);
    hv_slat_fini(&r->s);
    fz_check_clean(&r->mh, "slat teardown");
    if (++inputs % 256 == 0)
        fz_check_quarantine(&r->mh, "slat");
    for (uint64_t i = 0; i < NCHUNK; i++)
        free(m->c[i].pg);
    free(m);
    return 0;
}
