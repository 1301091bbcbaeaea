/*
 * Self-tests of the example kernel: allocators, timer, CPU features and the
 * libhv host services table. They need no virtualization support, so they
 * prove the harness on any CPU model.
 */
#include "core/host.h" /* hv_host_init: libhv's own check of the ops table */
#include "core/util.h"
#include "cpu.h"
#include "kcase.h"

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

extern char __kernel_start[], __bss_end[]; /* linker.ld */

/* Is the page at @p a part of the kernel image or of a boot module? */
static bool page_is_reserved(uintptr_t a)
{
    if (a + PAGE_SIZE > (uintptr_t)__kernel_start && a < (uintptr_t)__bss_end)
        return true;
    for (size_t i = 0; i < boot_module_count(); i++) {
        const struct boot_module *m = boot_module(i);
        if (a + PAGE_SIZE > m->start && a < m->end)
            return true;
    }
    return false;
}

/* Page allocator: contiguity, alignment, zeroing, counts, reuse, exhaustion. */
static int case_pmm(struct kcase_ctx *ctx)
{
    size_t used0 = pmm_pages_used();
    uint8_t *a = pmm_alloc(1), *b = pmm_alloc(3), *c = pmm_alloc_aligned(4, 512);
    KCHECK(ctx, a && b && c);
    KCHECK(ctx, (uintptr_t)a % PAGE_SIZE == 0 && (uintptr_t)b % PAGE_SIZE == 0);
    KCHECK(ctx, (uintptr_t)c % (2u << 20) == 0);
    KCHECK(ctx, b >= a + PAGE_SIZE || b + 3 * PAGE_SIZE <= a);
    KCHECK(ctx, (uintptr_t)a >= 0x100000); /* never the first 1 MiB */
    KCHECK(ctx, all_zero(b, 3 * PAGE_SIZE) && all_zero(c, 4 * PAGE_SIZE));
    KCHECK(ctx, pmm_pages_used() == used0 + 8);
    memset(a, 0x5a, PAGE_SIZE);
    pmm_free(a, 1);
    uint8_t *again = pmm_alloc(1); /* first fit: the same page, zeroed again */
    KCHECK(ctx, again == a && all_zero(again, PAGE_SIZE));
    pmm_free(again, 1);
    pmm_free(b, 3);
    pmm_free(c, 4);
    KCHECK(ctx, pmm_pages_used() == used0);

    KCHECK(ctx, pmm_alloc(0) == NULL);
    KCHECK(ctx, pmm_alloc(pmm_pages_total() - used0 + 1) == NULL);
    KCHECK(ctx, pmm_pages_used() == used0);

    /* Exhaust memory one page at a time, chaining the pages through their
     * first word, then give everything back. No page may belong to the
     * kernel or to a module. */
    void *list = NULL;
    size_t got = 0, bad = 0;
    for (void **p; (p = pmm_alloc(1)) != NULL; got++) {
        bad += page_is_reserved((uintptr_t)p) || (uintptr_t)p < 0x100000;
        *p = list;
        list = p;
    }
    KCHECK(ctx, got == pmm_pages_total() - used0);
    KCHECK(ctx, bad == 0);
    KCHECK(ctx, heap_alloc(3 * PAGE_SIZE) == NULL); /* big objects need pages */
    while (list) {
        void *next = *(void **)list;
        pmm_free(list, 1);
        list = next;
    }
    KCHECK(ctx, pmm_pages_used() == used0);
    return 0;
}

/* Object allocator: size classes, page-sized objects, alignment, zeroing. */
static int case_heap(struct kcase_ctx *ctx)
{
    static const size_t sizes[] = {1, 16, 17, 100, 2048, 2049, 5000, 3 * PAGE_SIZE};
    void *obj[HV_ARRAY_SIZE(sizes)];
    size_t objects0 = heap_objects();
    for (size_t i = 0; i < HV_ARRAY_SIZE(sizes); i++) {
        obj[i] = heap_alloc(sizes[i]);
        KCHECK(ctx, obj[i] && (uintptr_t)obj[i] % 16 == 0);
        KCHECK(ctx, all_zero(obj[i], sizes[i]));
        memset(obj[i], (int)(0x10 + i), sizes[i]);
    }
    KCHECK(ctx, heap_objects() == objects0 + HV_ARRAY_SIZE(sizes));
    for (size_t i = 0; i < HV_ARRAY_SIZE(sizes); i++) { /* no two objects overlap */
        const uint8_t *p = obj[i];
        for (size_t j = 0; j < sizes[i]; j++)
            KCHECK(ctx, p[j] == 0x10 + i);
    }
    for (size_t i = 0; i < HV_ARRAY_SIZE(sizes); i++)
        heap_free(obj[i], sizes[i]);
    KCHECK(ctx, heap_objects() == objects0);
    void *p = heap_alloc(100); /* a recycled object comes back zeroed */
    KCHECK(ctx, p && all_zero(p, 100));
    heap_free(p, 100);
    KCHECK(ctx, heap_alloc(0) == NULL);
    return 0;
}

/* string.c: the compiler's memory primitives, overlapping moves included. */
static int case_string(struct kcase_ctx *ctx)
{
    char buf[32];
    memset(buf, 'x', sizeof(buf));
    memcpy(buf, "0123456789", 10);
    KCHECK(ctx, memcmp(buf, "0123456789xx", 12) == 0);
    memmove(buf + 2, buf, 10); /* overlap, destination above: copies backwards */
    KCHECK(ctx, memcmp(buf, "010123456789x", 13) == 0);
    memmove(buf, buf + 3, 10); /* overlap, destination below */
    KCHECK(ctx, memcmp(buf, "123456789x89x", 13) == 0);
    KCHECK(ctx, memcmp("abc", "abd", 3) < 0 && memcmp("abd", "abc", 3) > 0);
    return 0;
}

static void count_tick(void *arg, uint64_t ticks)
{
    (*(volatile uint64_t *)arg)++;
}

/* Spin until the tick count reaches @p target or @p max_ns pass on the TSC clock. */
static bool wait_ticks(uint64_t target, uint64_t max_ns)
{
    uint64_t start = ktime_ns();
    while (timer_ticks() < target)
        if (ktime_ns() - start > max_ns)
            return false;
    return true;
}

/* Timer: ticks advance, callbacks run once per tick, ktime_ns agrees with ticks. */
static int case_timer(struct kcase_ctx *ctx)
{
    static volatile uint64_t calls;
    calls = 0;
    uint64_t flags = irq_save();
    bool added = timer_add_tick_fn(count_tick, (void *)&calls);
    uint64_t t0 = timer_ticks(), ns0 = ktime_ns();
    irq_restore(flags);
    KCHECK(ctx, added);

    KCHECK(ctx, wait_ticks(t0 + 10, 2000000000ull));
    flags = irq_save();
    uint64_t t1 = timer_ticks(), ns1 = ktime_ns(), n = calls;
    irq_restore(flags);
    if (n != t1 - t0)
        return kcase_fail(ctx, "tick callback ran %llu times in %llu ticks", (unsigned long long)n,
                          (unsigned long long)(t1 - t0));
    uint64_t expect_ns = (t1 - t0) * (1000000000ull / TIMER_HZ), ns = ns1 - ns0;
    kprintf("kernel.timer: %llu ticks in %llu us of TSC time\n", (unsigned long long)(t1 - t0),
            (unsigned long long)(ns / 1000));
    if (ns < expect_ns / 2 || ns > expect_ns * 2)
        return kcase_fail(ctx, "%llu ticks took %llu ns", (unsigned long long)(t1 - t0),
                          (unsigned long long)ns);

    timer_remove_tick_fn(count_tick, (void *)&calls);
    n = calls;
    KCHECK(ctx, wait_ticks(timer_ticks() + 3, 2000000000ull));
    KCHECK(ctx, calls == n); /* removed: no more calls */

    uint64_t prev = ktime_ns();
    for (int i = 0; i < 1000; i++) {
        uint64_t now = ktime_ns();
        KCHECK(ctx, now >= prev);
        prev = now;
    }
    return 0;
}

/* CPU: vendor and virtualization features; "expect=svm|vmx" makes one required. */
static int case_cpu(struct kcase_ctx *ctx)
{
    uint32_t r[4];
    char vendor[13];
    cpuid(0, 0, r);
    memcpy(vendor, &r[1], 4); /* EBX, EDX, ECX spell the vendor */
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = '\0';

    cpuid(1, 0, r);
    bool vmx = r[2] & (1u << 5); /* CPUID.1:ECX.VMX (SDM Vol. 3C 23.6) */
    cpuid(0x80000000, 0, r);
    uint32_t max_ext = r[0];
    bool svm = false, npt = false;
    if (max_ext >= 0x80000001) {
        cpuid(0x80000001, 0, r);
        svm = r[2] & (1u << 2); /* CPUID Fn8000_0001 ECX.SVM (APM Vol. 2 15.4) */
    }
    if (svm && max_ext >= 0x8000000a) {
        cpuid(0x8000000a, 0, r);
        npt = r[3] & 1u; /* CPUID Fn8000_000A EDX.NP */
    }
    kprintf("kernel.cpu: vendor %s, SVM %s (NPT %s), VMX %s, CR0 0x%llx\n", vendor,
            svm ? "yes" : "no", npt ? "yes" : "no", vmx ? "yes" : "no",
            (unsigned long long)read_cr0());
    KCHECK(ctx, read_cr0() & (1u << 5)); /* CR0.NE, needed by VMXON */

    char expect[8];
    if (boot_arg("expect", expect, sizeof(expect))) {
        if (hv_strcmp(expect, "svm") == 0 && !(svm && npt))
            return kcase_fail(ctx, "expected SVM with NPT on this CPU model");
        if (hv_strcmp(expect, "vmx") == 0 && !vmx)
            return kcase_fail(ctx, "expected VMX on this CPU model");
    }
    return 0;
}

static int on_cpu_calls;

static void on_cpu(void *arg, uint32_t cpu)
{
    on_cpu_calls += cpu == 0 && arg == &on_cpu_calls;
}

/* The host services table: accepted by libhv, and each callback does its job. */
static int case_host_ops(struct kcase_ctx *ctx)
{
    const struct hv_host_ops *o = &ctx->host_ops;
    struct hv_host host;
    KCHECK(ctx, hv_host_init(&host, o) == HV_OK);

    uint64_t hpa = 0;
    uint8_t *p = o->page_alloc(o->opaque, 3, &hpa);
    KCHECK(ctx, p && hpa == (uintptr_t)p && hpa % PAGE_SIZE == 0);
    KCHECK(ctx, all_zero(p, 3 * PAGE_SIZE));
    KCHECK(ctx, o->virt_to_phys(o->opaque, p + 5000) == hpa + 5000);
    KCHECK(ctx, o->phys_to_virt(o->opaque, hpa + 5000) == p + 5000);
    KCHECK(ctx, o->phys_to_virt(o->opaque, 1ull << 40) == NULL); /* beyond the map */
    o->page_free(o->opaque, p, 3);

    uint8_t *obj = o->obj_alloc(o->opaque, 40);
    KCHECK(ctx, obj && (uintptr_t)obj % 16 == 0 && all_zero(obj, 40));
    o->obj_free(o->opaque, obj, 40);

    KCHECK(ctx, o->cpu_count(o->opaque) == 1 && o->cpu_current(o->opaque) == 0);
    on_cpu_calls = 0;
    KCHECK(ctx, o->run_on_each_cpu(o->opaque, on_cpu, &on_cpu_calls) == 0 && on_cpu_calls == 1);

    uint64_t token = o->irq_save(o->opaque);
    bool off = !(irq_save() & RFLAGS_IF);
    o->irq_restore(o->opaque, token);
    uint64_t after = irq_save();
    irq_restore(after);
    KCHECK(ctx, off && (token & RFLAGS_IF) && (after & RFLAGS_IF));

    uint64_t t0 = o->time_ns(o->opaque);
    KCHECK(ctx, wait_ticks(timer_ticks() + 2, 2000000000ull));
    KCHECK(ctx, o->time_ns(o->opaque) > t0);
    hv_log(&host, HV_LOG_INFO, "kernel.host_ops: log through libhv %s", "works");
    return 0;
}

/* Takes a page fault on purpose: proves that exceptions end the run with a FAIL line. */
static int case_fault(struct kcase_ctx *ctx)
{
    return *(volatile int *)(1ull << 40); /* canonical but not mapped: #PF */
}

static const struct kcase kernel_cases[] KCASE_TABLE = {
    {"kernel.pmm", case_pmm, 0},
    {"kernel.heap", case_heap, 0},
    {"kernel.string", case_string, 0},
    {"kernel.timer", case_timer, 0},
    {"kernel.cpu", case_cpu, 0},
    {"kernel.host_ops", case_host_ops, 0},
    {"kernel.fault", case_fault, KCASE_EXPLICIT},
};
