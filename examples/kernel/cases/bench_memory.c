/*
 * bench.memory: host memory libhv asks for per VM and per vCPU, counted by
 * wrapping the kernel's page and object allocators (bench_util.c), and
 * SLAT table pages for typical layouts. Guest RAM is the embedder's and
 * never passes through these allocators.
 *
 * A VM of n vCPUs costs VM + n * vCPU: T1 (max_vcpus 1, one vCPU) and T4
 * (max_vcpus 4, four vCPUs) give vCPU = (T4 - T1) / 3 and VM = T1 - vCPU.
 *
 *   mem_vm_bytes, mem_vcpu_bytes      what the budget counts: everything but
 *                                     SLAT tables and architectural pages
 *   mem_vm_arch_pages, mem_vcpu_arch_pages  VMCB/VMCS, permission maps, MSR areas
 *   mem_vm_total_bytes                T1 with everything
 *   mem_xen_vm_bytes, mem_xen_vcpu_bytes    what hv_xen_enable adds (all of it)
 *   mem_xen_domain_bytes, mem_xen_domain_vcpu_bytes  a Xen domain's VM and
 *                                     vCPU, counted as mem_vm/vcpu_bytes
 *   slat_pages                        tables for the benchmark guest's map
 *                                     (1 MiB at 0, one page below 4 GiB)
 *   slat_pages_128m, slat_pages_128m_4k  128 MiB of RAM at 0, large pages
 *                                     allowed / 4 KiB pages only
 */
#include <hv/xen.h>

#include "bench_common.h"

#include "core/util.h"

struct sample {
    int64_t pages, obj_bytes; /* all host memory libhv holds for the VM */
    uint64_t slat, arch;      /* pages of it: SLAT tables, architectural */
};

static void arch_pages(const struct hv_caps *caps, struct hv_vm *vm, struct hv_vcpu **vcpus,
                       unsigned n, uint64_t *out)
{
    uint64_t per_vm, per_vcpu;
    *out = 0;
    for (unsigned i = 0; i <= n; i++) {
        struct hv_vcpu *v = i < n ? vcpus[i] : NULL;
        if (caps->backend == HV_BACKEND_VMX)
            bench_vmx_arch_pages(vm, v, &per_vm, &per_vcpu);
        else
            bench_svm_arch_pages(vm, v, &per_vm, &per_vcpu);
        *out += per_vcpu + (i == n ? per_vm : 0);
    }
}

/* A VM with @p n vCPUs (max_vcpus n), Xen enabled if @p xen. */
static int measure(struct kcase_ctx *kc, struct hv_ctx *ctx, const struct hv_caps *caps,
                   struct bench_alloc_count *cnt, unsigned n, bool xen, struct sample *s)
{
    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = n};
    struct hv_vcpu *vcpus[4] = {0};
    struct hv_vm *vm;
    struct hv_vm_stats stats;
    hv_status_t st;
    int rc = 0;
    int64_t p0 = cnt->pages, o0 = cnt->obj_bytes;

    if ((st = hv_vm_create(ctx, &vc, &vm)) != HV_OK)
        return kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    for (unsigned i = 0; !rc && i < n; i++) {
        if ((st = hv_vcpu_create(vm, i, &vcpus[i])) != HV_OK)
            rc = kcase_fail(kc, "hv_vcpu_create: %s", hv_status_str(st));
    }
    if (!rc && xen) {
        struct hv_xen_config xc = {.size = sizeof(xc), .tsc_khz = 1000000};
        if ((st = hv_xen_enable(vm, &xc)) != HV_OK)
            rc = kcase_fail(kc, "hv_xen_enable: %s", hv_status_str(st));
    }
    if (!rc) {
        s->pages = cnt->pages - p0;
        s->obj_bytes = cnt->obj_bytes - o0;
        hv_vm_stats(vm, &stats);
        s->slat = stats.slat_table_pages;
        s->arch = stats.arch_pages;
        /* hv_vm_stats() against the backend's own structures. */
        uint64_t seen;
        arch_pages(caps, vm, vcpus, n, &seen);
        if (seen != stats.arch_pages)
            rc = kcase_fail(kc, "hv_vm_stats: arch_pages %llu, the backend holds %llu",
                            (unsigned long long)stats.arch_pages, (unsigned long long)seen);
    }
    if (xen)
        hv_xen_disable(vm);
    for (unsigned i = 0; i < n; i++) {
        if (vcpus[i])
            hv_vcpu_destroy(vcpus[i]);
    }
    hv_vm_destroy(vm);
    if (!rc && (cnt->pages != p0 || cnt->obj_bytes != o0))
        rc = kcase_fail(kc, "destroying the VM left %lld pages and %lld object bytes",
                        (long long)(cnt->pages - p0), (long long)(cnt->obj_bytes - o0));
    return rc;
}

static int64_t budget_bytes(const struct sample *s)
{
    return ((int64_t)s->pages - (int64_t)s->slat - (int64_t)s->arch) * PAGE_SIZE + s->obj_bytes;
}

static int64_t total_bytes(const struct sample *s)
{
    return s->pages * PAGE_SIZE + s->obj_bytes;
}

/* SLAT table pages after mapping [0, ram) (+ the reset page if @p reset). */
static int slat_pages(struct kcase_ctx *kc, struct hv_ctx *ctx, uint8_t *block, uint32_t sizes,
                      uint64_t ram, bool reset, uint64_t *pages)
{
    struct hv_vm_config vc = {.size = sizeof(vc), .page_sizes = sizes};
    struct hv_vm_stats stats;
    struct hv_vm *vm;
    hv_status_t st = hv_vm_create(ctx, &vc, &vm);
    if (st != HV_OK)
        return kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    /* Every 2 MiB of guest RAM maps the same host block: only the tables
       matter here. */
    for (uint64_t gpa = 0; st == HV_OK && gpa < ram; gpa += 2u << 20)
        st = hv_vm_map(vm, gpa, (uintptr_t)block, HV_MIN(ram - gpa, 2u << 20), HV_MEM_RWX);
    if (st == HV_OK && reset)
        st = hv_vm_map(vm, 0xfffff000ull, (uintptr_t)block, PAGE_SIZE, HV_MEM_READ | HV_MEM_EXEC);
    if (st == HV_OK)
        st = hv_vm_stats(vm, &stats);
    hv_vm_destroy(vm);
    if (st != HV_OK)
        return kcase_fail(kc, "mapping for the SLAT count: %s", hv_status_str(st));
    *pages = stats.slat_table_pages;
    return 0;
}

static int case_memory(struct kcase_ctx *kc)
{
    struct bench_alloc_count cnt;
    struct hv_host_ops ops;
    struct hv_ctx_config cfg = {.size = sizeof(cfg), .log_level = HV_LOG_WARN};
    struct hv_caps caps = {.size = sizeof(caps)};
    struct hv_ctx *ctx;
    struct sample t1, t4, x1, x4;
    uint64_t slat = 0, slat128 = 0, slat128_4k = 0;
    hv_status_t st;
    int rc;

    if (!bench_selected("mem_vm_bytes") && !bench_selected("mem_vcpu_bytes") &&
        !bench_selected("slat_pages"))
        return 0;
    bench_counting_ops(&cnt, &kc->host_ops, &ops);
    if ((st = hv_ctx_create(&ops, &cfg, &ctx)) != HV_OK)
        return kcase_fail(kc, "hv_ctx_create: %s", hv_status_str(st));
    hv_ctx_caps(ctx, &caps);
    uint8_t *block = pmm_alloc_aligned(512, 512);
    rc = block ? 0 : kcase_fail(kc, "out of memory");
    if (!rc)
        rc = measure(kc, ctx, &caps, &cnt, 1, false, &t1);
    if (!rc)
        rc = measure(kc, ctx, &caps, &cnt, 4, false, &t4);
    if (!rc)
        rc = measure(kc, ctx, &caps, &cnt, 1, true, &x1);
    if (!rc)
        rc = measure(kc, ctx, &caps, &cnt, 4, true, &x4);
    if (!rc)
        rc = slat_pages(kc, ctx, block, 0, 1u << 20, true, &slat);
    if (!rc)
        rc = slat_pages(kc, ctx, block, 0, 128u << 20, false, &slat128);
    if (!rc)
        rc = slat_pages(kc, ctx, block, HV_PAGE_4K, 128u << 20, false, &slat128_4k);
    if (block)
        pmm_free(block, 512);
    hv_ctx_destroy(ctx);
    if (rc)
        return rc;

    const char *be = bench_backend(&caps);
    int64_t vcpu = (budget_bytes(&t4) - budget_bytes(&t1)) / 3;
    int64_t vcpu_arch = ((int64_t)t4.arch - (int64_t)t1.arch) / 3;
    int64_t xen1 = total_bytes(&x1) - total_bytes(&t1), xen4 = total_bytes(&x4) - total_bytes(&t4);
    int64_t xen_vcpu = (xen4 - xen1) / 3;
    int64_t dom_vcpu = (budget_bytes(&x4) - budget_bytes(&x1)) / 3;
    bench_print_value(be, "mem_vm_bytes", (uint64_t)(budget_bytes(&t1) - vcpu));
    bench_print_value(be, "mem_vcpu_bytes", (uint64_t)vcpu);
    bench_print_value(be, "mem_vm_arch_pages", (uint64_t)((int64_t)t1.arch - vcpu_arch));
    bench_print_value(be, "mem_vcpu_arch_pages", (uint64_t)vcpu_arch);
    bench_print_value(be, "mem_vm_total_bytes", (uint64_t)total_bytes(&t1));
    bench_print_value(be, "mem_xen_vm_bytes", (uint64_t)(xen1 - xen_vcpu));
    bench_print_value(be, "mem_xen_vcpu_bytes", (uint64_t)xen_vcpu);
    bench_print_value(be, "mem_xen_domain_bytes", (uint64_t)(budget_bytes(&x1) - dom_vcpu));
    bench_print_value(be, "mem_xen_domain_vcpu_bytes", (uint64_t)dom_vcpu);
    bench_print_value(be, "slat_pages", slat);
    bench_print_value(be, "slat_pages_128m", slat128);
    bench_print_value(be, "slat_pages_128m_4k", slat128_4k);
    return 0;
}

static const struct kcase bench_memory_cases[] KCASE_TABLE = {
    {"bench.memory", case_memory, KCASE_EXPLICIT},
};
