/*
 * The mock host itself (tests/unit/mock_host.c): the SLAT tests and the
 * other unit tests rely on its lookups, counters, failure injection and
 * misuse detection, so those are checked here.
 */
#include "test_slat.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

static void test_pages_and_lookup(void)
{
    struct mock_host m;
    mock_host_init(&m);
    struct hv_host_ops *o = &m.ops;
    CU_ASSERT_EQUAL(o->opaque, &m);
    CU_ASSERT_EQUAL(o->version, HV_HOST_OPS_VERSION);
    uint64_t h1 = 0, h3 = 0;
    unsigned char *p1 = o->page_alloc(o->opaque, 1, &h1);
    unsigned char *p3 = o->page_alloc(o->opaque, 3, &h3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p3);
    /* Fake, page-aligned, distinct from the virtual address. */
    CU_ASSERT(h1 >= MOCK_HPA_BASE && h3 >= MOCK_HPA_BASE);
    CU_ASSERT_EQUAL(h1 & 0xfff, 0);
    CU_ASSERT_EQUAL((uintptr_t)p1 & 0xfff, 0);
    CU_ASSERT_NOT_EQUAL(h1, (uint64_t)(uintptr_t)p1);
    CU_ASSERT(h3 >= h1 + 2 * P4K); /* a gap page between blocks */
    /* Zeroed. */
    for (unsigned i = 0; i < 3 * P4K; i++)
        if (p3[i]) {
            CU_FAIL("page not zeroed");
            break;
        }
    /* Any address inside a block, both ways. */
    CU_ASSERT_EQUAL(o->phys_to_virt(o->opaque, h3 + 2 * P4K + 123), p3 + 2 * P4K + 123);
    CU_ASSERT_EQUAL(o->virt_to_phys(o->opaque, p3 + P4K + 7), h3 + P4K + 7);
    CU_ASSERT_PTR_NULL(o->phys_to_virt(o->opaque, h3 + 3 * P4K));
    CU_ASSERT_PTR_NULL(o->phys_to_virt(o->opaque, 0x1000));
    CU_ASSERT_EQUAL(o->virt_to_phys(o->opaque, &m), UINT64_MAX);
    CU_ASSERT_EQUAL(m.pages_out, 4);
    CU_ASSERT_EQUAL(m.page_allocs, 2);
    o->page_free(o->opaque, p3, 3);
    CU_ASSERT_PTR_NULL(o->phys_to_virt(o->opaque, h3));
    CU_ASSERT_EQUAL(m.pages_out, 1);
    /* Guest RAM translates but is not a library allocation. */
    uint64_t gh;
    unsigned char *g = mock_guest_ram_alloc(&m, 5 * P4K + 1, &gh);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(o->phys_to_virt(o->opaque, gh + 5 * P4K + 9), g + 5 * P4K + 9);
    CU_ASSERT_EQUAL(m.pages_out, 1);
    mock_guest_ram_free(&m, g);
    CU_ASSERT_PTR_NULL(o->phys_to_virt(o->opaque, gh));
    uint64_t r = mock_reserve_hpa(&m, 3 * GiB, GiB);
    CU_ASSERT_EQUAL(r & (GiB - 1), 0);
    CU_ASSERT_PTR_NULL(o->phys_to_virt(o->opaque, r));
    o->page_free(o->opaque, p1, 1);
    CU_ASSERT_TRUE(mock_host_clean(&m));
    /* Many blocks: the hash tables grow and keep every translation. */
    enum { N = 5000 };
    static void *pp[N];
    static uint64_t hh[N];
    for (int i = 0; i < N; i++)
        pp[i] = o->page_alloc(o->opaque, 1 + i % 2, &hh[i]);
    for (int i = 0; i < N; i += 2)
        o->page_free(o->opaque, pp[i], 1 + i % 2);
    for (int i = 0; i < N; i++) {
        void *v = o->phys_to_virt(o->opaque, hh[i] + 5);
        CU_ASSERT_EQUAL(v, i % 2 ? (char *)pp[i] + 5 : NULL);
    }
    for (int i = 1; i < N; i += 2)
        o->page_free(o->opaque, pp[i], 2);
    CU_ASSERT_TRUE(mock_host_clean(&m));
    mock_host_fini(&m);
}

static void test_failures(void)
{
    struct mock_host m;
    mock_host_init(&m);
    struct hv_host_ops *o = &m.ops;
    uint64_t h;
    /* Pages and objects share one index. */
    mock_fail_in(&m, 2);
    void *a = o->page_alloc(o->opaque, 1, &h);
    void *b = o->obj_alloc(o->opaque, 24);
    void *c = o->page_alloc(o->opaque, 1, &h);
    void *d = o->obj_alloc(o->opaque, 24);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NOT_NULL(d);
    CU_ASSERT_EQUAL(m.failed, 1);
    CU_ASSERT_EQUAL(m.alloc_index, 4);
    CU_ASSERT_EQUAL(m.allocs_total, 3);
    mock_fail_from_now(&m, 1);
    void *e = o->obj_alloc(o->opaque, 8);
    CU_ASSERT_PTR_NOT_NULL(e);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_PTR_NULL(o->obj_alloc(o->opaque, 8));
    CU_ASSERT_EQUAL(m.failed, 6);
    mock_fail_none(&m);
    void *f = o->obj_alloc(o->opaque, 8);
    CU_ASSERT_PTR_NOT_NULL(f);
    CU_ASSERT_EQUAL(m.objs_out, 4);
    CU_ASSERT_EQUAL(m.obj_bytes_out, 64);
    o->page_free(o->opaque, a, 1);
    o->obj_free(o->opaque, b, 24);
    o->obj_free(o->opaque, d, 24);
    o->obj_free(o->opaque, e, 8);
    o->obj_free(o->opaque, f, 8);
    CU_ASSERT_TRUE(mock_host_clean(&m));
    mock_host_fini(&m);
}

static void test_misuse(void)
{
    struct mock_host m;
    mock_host_init(&m);
    struct hv_host_ops *o = &m.ops;
    fprintf(stderr, "\n(the mock_host misuse messages below are expected)\n");
    /* A write one byte past an object is caught at free. */
    unsigned char *p = o->obj_alloc(o->opaque, 20);
    CU_ASSERT_EQUAL((uintptr_t)p & 15, 0);
    for (int i = 0; i < 20; i++)
        CU_ASSERT_EQUAL(p[i], 0);
    p[20] = 1;
    CU_ASSERT_EQUAL(mock_check_guards(&m), 1);
    o->obj_free(o->opaque, p, 20);
    CU_ASSERT(m.errors >= 2);
    CU_ASSERT(strstr(m.last_error, "guard") != NULL);
    /* Wrong size, double free, unknown pointers, wrong page count. */
    uint64_t before = m.errors;
    p = o->obj_alloc(o->opaque, 32);
    o->obj_free(o->opaque, p, 16);
    CU_ASSERT_EQUAL(m.errors, before + 1);
    o->obj_free(o->opaque, p, 32);
    CU_ASSERT_EQUAL(m.errors, before + 2);
    uint64_t h;
    void *pg = o->page_alloc(o->opaque, 2, &h);
    o->page_free(o->opaque, (char *)pg + P4K, 1);
    CU_ASSERT_EQUAL(m.errors, before + 3);
    o->page_free(o->opaque, pg, 1);
    CU_ASSERT_EQUAL(m.errors, before + 4);
    CU_ASSERT_EQUAL(m.pages_out, 0);
    /* Freed memory written after free is caught (poisoned quarantine). */
    m.poison_free = true;
    unsigned char *q = o->page_alloc(o->opaque, 1, &h);
    o->page_free(o->opaque, q, 1);
    CU_ASSERT_EQUAL(q[100], MOCK_POISON_BYTE);
    CU_ASSERT_EQUAL(mock_check_quarantine(&m), 0);
    q[100] = 0; /* deliberate write after free (the block is still held) */
    CU_ASSERT_EQUAL(mock_check_quarantine(&m), 1);
    /* irq_restore with a stale token. */
    before = m.errors;
    uint64_t t1 = o->irq_save(o->opaque);
    uint64_t t2 = o->irq_save(o->opaque);
    CU_ASSERT_EQUAL(m.irq_depth, 2);
    o->irq_restore(o->opaque, t1);
    CU_ASSERT_EQUAL(m.errors, before + 1);
    o->irq_restore(o->opaque, t2);
    CU_ASSERT_EQUAL(m.errors, before + 2);
    CU_ASSERT_EQUAL(m.irq_depth, 0);
    CU_ASSERT_FALSE(mock_host_clean(&m)); /* errors were recorded */
    mock_host_fini(&m);
}

static int cpu_seen[8];

static void on_cpu(void *arg, uint32_t cpu)
{
    struct mock_host *m = arg;
    CU_ASSERT_EQUAL(m->ops.cpu_current(m), cpu);
    if (cpu < 8)
        cpu_seen[cpu]++;
}

static void test_cpus_log_time(void)
{
    struct mock_host m;
    mock_host_init(&m);
    struct hv_host_ops *o = &m.ops;
    CU_ASSERT_EQUAL(o->cpu_count(o->opaque), 1);
    m.cpus = 4;
    m.current_cpu = 2;
    CU_ASSERT_EQUAL(o->cpu_count(o->opaque), 4);
    memset(cpu_seen, 0, sizeof(cpu_seen));
    CU_ASSERT_EQUAL(o->run_on_each_cpu(o->opaque, on_cpu, &m), 0);
    CU_ASSERT(cpu_seen[0] == 1 && cpu_seen[1] == 1 && cpu_seen[2] == 1 && cpu_seen[3] == 1);
    CU_ASSERT_EQUAL(o->cpu_current(o->opaque), 2);
    m.fail_cpu = 1;
    memset(cpu_seen, 0, sizeof(cpu_seen));
    CU_ASSERT_NOT_EQUAL(o->run_on_each_cpu(o->opaque, on_cpu, &m), 0);
    CU_ASSERT(cpu_seen[0] == 1 && cpu_seen[1] == 0 && cpu_seen[2] == 0);
    CU_ASSERT_EQUAL(m.run_calls, 2);
    o->kick_cpu(o->opaque, 3);
    o->kick_cpu(o->opaque, 3);
    o->kick_cpu(o->opaque, 0);
    CU_ASSERT_EQUAL(m.kicks, 3);
    CU_ASSERT_EQUAL(m.kicks_per_cpu[3], 2);
    CU_ASSERT_EQUAL(m.last_kick_cpu, 0);
    uint64_t t = o->irq_save(o->opaque);
    uint64_t u = o->irq_save(o->opaque);
    o->irq_restore(o->opaque, u);
    o->irq_restore(o->opaque, t);
    CU_ASSERT_EQUAL(m.irq_saves, 2);
    CU_ASSERT_EQUAL(m.irq_max_depth, 2);
    CU_ASSERT_EQUAL(m.irq_depth, 0);
    for (int i = 0; i < MOCK_LOG_LINES + 5; i++) {
        char line[32];
        snprintf(line, sizeof(line), "line %d", i);
        o->log(o->opaque, HV_LOG_INFO, line);
    }
    CU_ASSERT_STRING_EQUAL(mock_log_line(&m, 0), "line 36");
    CU_ASSERT_STRING_EQUAL(mock_log_line(&m, 1), "line 35");
    CU_ASSERT_TRUE(mock_log_contains(&m, "line 5"));
    CU_ASSERT_FALSE(mock_log_contains(&m, "line 4"));
    CU_ASSERT_PTR_NULL(mock_log_line(&m, MOCK_LOG_LINES));
    mock_log_clear(&m);
    CU_ASSERT_PTR_NULL(mock_log_line(&m, 0));
    m.time = 1000;
    m.time_step = 10;
    CU_ASSERT_EQUAL(o->time_ns(o->opaque), 1000);
    CU_ASSERT_EQUAL(o->time_ns(o->opaque), 1010);
    CU_ASSERT_TRUE(mock_host_clean(&m));
    mock_host_fini(&m);
}

void test_slat_register_mock(void)
{
    CU_pSuite s = CU_add_suite("mock_host", NULL, NULL);
    CU_add_test(s, "pages and address lookup", test_pages_and_lookup);
    CU_add_test(s, "failure injection", test_failures);
    CU_add_test(s, "misuse detection", test_misuse);
    CU_add_test(s, "cpus, irq, log, time", test_cpus_log_time);
}
