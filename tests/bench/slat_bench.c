/*
 * SLAT benchmark (a program, not a test): cost per 4 KiB page of map,
 * translate, protect and unmap for
 *   - 1 GiB mapped at 4 KiB granularity (page sizes 4K only), as one call
 *     and as one call per page;
 *   - 64 GiB mapped with large pages (1 GiB, and 2 MiB only),
 * plus the table pages each layout uses. Host: the unit tests' mock host
 * (table pages from aligned_alloc; the engine never calls phys_to_virt).
 *
 * Output: "bench slat <name> <ns per 4K page>" and
 *         "bench slat <name> tables <n>" lines. Each figure is the best of
 * several repetitions (the machine may be shared).
 * Usage: hv_bench_slat [ept|npt] (default: both)
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/host.h"
#include "slat/slat.h"
#include "mock_host.h"
#include "svm/npt_format.h"
#include "vmx/ept_format.h"

#define GiB     (1ull << 30)
#define P4K     4096ull
#define REPEATS 5
#define RWX_WB  (HV_MEM_RWX | HV_MEMTYPE_WB)
#define R_WB    (HV_MEM_READ | HV_MEMTYPE_WB)

struct env {
    struct mock_host m;
    struct hv_host host;
    struct hv_slat_format fmt;
    struct hv_slat s;
    const char *name;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, hv_status_t st)
{
    fprintf(stderr, "bench slat: %s failed: %s\n", what, hv_status_str(st));
    exit(1);
}

static void check(const char *what, hv_status_t st)
{
    if (st != HV_OK)
        die(what, st);
}

static void env_init(struct env *e, const char *fmt, uint32_t sizes)
{
    memset(e, 0, sizeof(*e));
    mock_host_init(&e->m);
    check("hv_host_init", hv_host_init(&e->host, &e->m.ops));
    if (!strcmp(fmt, "ept"))
        hv_ept_format_init(&e->fmt, HV_PAGE_2M | HV_PAGE_1G, true, false);
    else
        hv_npt_format_init(&e->fmt, HV_PAGE_1G);
    e->name = fmt;
    check("hv_slat_init", hv_slat_init(&e->s, &e->host, &e->fmt, 48, 46, sizes));
}

static void env_fini(struct env *e)
{
    hv_slat_fini(&e->s);
    if (!mock_host_clean(&e->m)) {
        fprintf(stderr, "bench slat: mock host not clean after fini\n");
        exit(1);
    }
    mock_host_fini(&e->m);
}

/* End of an API call as the VM layer does it. */
static void end_call(struct env *e)
{
    hv_slat_take_flush(&e->s);
    hv_slat_flush_done(&e->s);
}

static void report(struct env *e, const char *what, double ns, uint64_t pages)
{
    printf("bench slat %s.%s %.3f\n", e->name, what, ns / (double)pages);
}

static volatile uint64_t sink;

/* Translate every page of `gpas` (read access); returns elapsed ns. */
static double translate_all(struct env *e, const uint64_t *gpas, uint64_t n)
{
    uint64_t acc = 0, hpa;
    double t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        if (hv_slat_translate(&e->s, gpas[i], HV_MEM_READ, &hpa) != HV_OK)
            die("translate", HV_ERR_NOT_FOUND);
        acc += hpa;
    }
    double t = now_ns() - t0;
    sink = acc;
    return t;
}

static void shuffle(uint64_t *a, uint64_t n)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (uint64_t i = n - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t j = x % (i + 1), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

#define BEST(var, expr)                                                                            \
    do {                                                                                           \
        double t_ = (expr);                                                                        \
        if (t_ < (var))                                                                            \
            (var) = t_;                                                                            \
    } while (0)

/* 1 GiB at 4 KiB granularity, page sizes 4K only. */
static void bench_4k(const char *fmt)
{
    const uint64_t base = 4 * GiB, hbase = 16 * GiB, len = GiB, pages = len / P4K;
    struct env e;
    env_init(&e, fmt, HV_PAGE_4K);
    double map1 = 1e30, mapn = 1e30, tr_seq = 1e30, tr_rnd = 1e30, prot1 = 1e30, protn = 1e30,
           unmap1 = 1e30, unmapn = 1e30, t0;
    uint64_t *gpas = malloc(pages * sizeof(uint64_t));
    for (uint64_t i = 0; i < pages; i++)
        gpas[i] = base + i * P4K + (i & 0xfff);
    uint64_t tables = 0, meta = 0;
    for (int r = 0; r < REPEATS; r++) {
        /* One call for the whole GiB. */
        t0 = now_ns();
        check("map", hv_slat_map(&e.s, base, hbase, len, RWX_WB));
        end_call(&e);
        BEST(map1, now_ns() - t0);
        tables = hv_slat_table_pages(&e.s);
        meta = hv_slat_meta_bytes(&e.s);

        BEST(tr_seq, translate_all(&e, gpas, pages));

        t0 = now_ns();
        check("protect", hv_slat_protect(&e.s, base, len, R_WB));
        end_call(&e);
        BEST(prot1, now_ns() - t0);

        t0 = now_ns();
        check("unmap", hv_slat_unmap(&e.s, base, len));
        end_call(&e);
        BEST(unmap1, now_ns() - t0);

        /* One call per 4 KiB page. */
        t0 = now_ns();
        for (uint64_t o = 0; o < len; o += P4K) {
            check("map", hv_slat_map(&e.s, base + o, hbase + o, P4K, RWX_WB));
            end_call(&e);
        }
        BEST(mapn, now_ns() - t0);

        t0 = now_ns();
        for (uint64_t o = 0; o < len; o += P4K) {
            check("protect", hv_slat_protect(&e.s, base + o, P4K, R_WB));
            end_call(&e);
        }
        BEST(protn, now_ns() - t0);

        t0 = now_ns();
        for (uint64_t o = 0; o < len; o += P4K) {
            check("unmap", hv_slat_unmap(&e.s, base + o, P4K));
            end_call(&e);
        }
        BEST(unmapn, now_ns() - t0);
    }
    /* Random-order translation over the mapped GiB. */
    check("map", hv_slat_map(&e.s, base, hbase, len, RWX_WB));
    shuffle(gpas, pages);
    for (int r = 0; r < REPEATS; r++)
        BEST(tr_rnd, translate_all(&e, gpas, pages));
    check("unmap", hv_slat_unmap(&e.s, base, len));
    end_call(&e);

    report(&e, "4k.map", map1, pages);
    report(&e, "4k.map_per_call", mapn, pages);
    report(&e, "4k.translate", tr_seq, pages);
    report(&e, "4k.translate_random", tr_rnd, pages);
    report(&e, "4k.protect", prot1, pages);
    report(&e, "4k.protect_per_call", protn, pages);
    report(&e, "4k.unmap", unmap1, pages);
    report(&e, "4k.unmap_per_call", unmapn, pages);
    printf("bench slat %s.4k tables %" PRIu64 " (shadow bytes %" PRIu64 ")\n", e.name, tables,
           meta);
    free(gpas);
    env_fini(&e);
}

/* 64 GiB with large pages: 1 GiB pages, or 2 MiB pages only. */
static void bench_large(const char *fmt, uint32_t sizes, const char *tag)
{
    const uint64_t base = 64 * GiB, hbase = 128 * GiB, len = 64 * GiB, pages = len / P4K;
    const uint64_t samples = 1u << 20;
    struct env e;
    env_init(&e, fmt, sizes);
    double map1 = 1e30, tr = 1e30, prot1 = 1e30, unmap1 = 1e30, t0;
    uint64_t *gpas = malloc(samples * sizeof(uint64_t));
    uint64_t x = 88172645463325252ull;
    for (uint64_t i = 0; i < samples; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        gpas[i] = base + x % len;
    }
    uint64_t tables = 0, meta = 0;
    for (int r = 0; r < REPEATS; r++) {
        t0 = now_ns();
        check("map", hv_slat_map(&e.s, base, hbase, len, RWX_WB));
        end_call(&e);
        BEST(map1, now_ns() - t0);
        tables = hv_slat_table_pages(&e.s);
        meta = hv_slat_meta_bytes(&e.s);
        BEST(tr, translate_all(&e, gpas, samples));
        t0 = now_ns();
        check("protect", hv_slat_protect(&e.s, base, len, R_WB));
        end_call(&e);
        BEST(prot1, now_ns() - t0);
        t0 = now_ns();
        check("unmap", hv_slat_unmap(&e.s, base, len));
        end_call(&e);
        BEST(unmap1, now_ns() - t0);
    }
    char name[64];
    snprintf(name, sizeof(name), "%s.map", tag);
    report(&e, name, map1, pages);
    printf("bench slat %s.%s.map_call_ns %.0f (the whole 64 GiB in one call)\n", e.name, tag, map1);
    snprintf(name, sizeof(name), "%s.translate", tag);
    printf("bench slat %s.%s %.3f (ns per call, random addresses)\n", e.name, name,
           tr / (double)samples);
    snprintf(name, sizeof(name), "%s.protect", tag);
    report(&e, name, prot1, pages);
    snprintf(name, sizeof(name), "%s.unmap", tag);
    report(&e, name, unmap1, pages);
    printf("bench slat %s.%s tables %" PRIu64 " (shadow bytes %" PRIu64 ")\n", e.name, tag, tables,
           meta);
    free(gpas);
    env_fini(&e);
}

int main(int argc, char **argv)
{
    static const char *const fmts[] = {"ept", "npt"};
    for (unsigned i = 0; i < 2; i++) {
        if (argc > 1 && strcmp(argv[1], fmts[i]))
            continue;
        bench_4k(fmts[i]);
        bench_large(fmts[i], HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, "64g_1g");
        bench_large(fmts[i], HV_PAGE_4K | HV_PAGE_2M, "64g_2m");
    }
    return 0;
}
