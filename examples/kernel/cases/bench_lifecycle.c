/*
 * bench.lifecycle: host instructions (host RDTSC, timer masked) to create
 * a VM, map its RAM, create its vCPU, PVH-load a 128 KiB guest
 * (tests/system/guests/bench/pvh.S), run it to its first hypercall and
 * destroy it all. Guest RAM (2 MiB) is the embedder's and is handed in
 * already zeroed: zeroing it again between runs is not counted.
 *
 *   vm_lifecycle             the whole sequence
 *   lifecycle_<step>         each step (create, map, vcpu, load, run, destroy)
 */
#include <hv/pvh.h>

#include "bench_common.h"

#include "core/util.h"

extern const uint8_t guest_bench_pvh_start[] __attribute__((weak));
extern const uint8_t guest_bench_pvh_end[] __attribute__((weak));

#define RAM_SIZE  (2u << 20)
#define RAM_PAGES (RAM_SIZE / PAGE_SIZE)
#define STEPS     6

static const char *const step_names[STEPS] = {
    "lifecycle_create", "lifecycle_map", "lifecycle_vcpu",
    "lifecycle_load",   "lifecycle_run", "lifecycle_destroy",
};

/* One timed lifecycle; t[i] = TSC after step i, t0 before the first. */
static int lifecycle(struct kcase_ctx *kc, struct hv_ctx *ctx, uint8_t *ram, const uint8_t *img,
                     size_t len, uint64_t *t0, uint64_t t[STEPS])
{
    struct hv_vm *vm = NULL;
    struct hv_vcpu *vcpu = NULL;
    struct hv_pvh_info info;
    struct hv_exit exit;
    hv_status_t st;
    int rc = 0;

    *t0 = bench_rdtsc();
    st = hv_vm_create(ctx, NULL, &vm);
    t[0] = bench_rdtsc();
    if (st != HV_OK)
        return kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    st = hv_vm_map(vm, 0, (uintptr_t)ram, RAM_SIZE, HV_MEM_RWX);
    t[1] = bench_rdtsc();
    if (st == HV_OK) {
        st = hv_vcpu_create(vm, 0, &vcpu);
        t[2] = bench_rdtsc();
    }
    if (st == HV_OK) {
        st = hv_pvh_load(vm, vcpu, img, len, NULL, &info);
        t[3] = bench_rdtsc();
        if (st != HV_OK)
            rc = kcase_fail(kc, "hv_pvh_load: %s (%s)", hv_status_str(st),
                            info.reason ? info.reason : "");
    } else {
        rc = kcase_fail(kc, "hv_vm_map/hv_vcpu_create: %s", hv_status_str(st));
    }
    if (!rc) {
        st = hv_vcpu_run(vcpu, &exit);
        t[4] = bench_rdtsc();
        if (st != HV_OK)
            rc = kcase_fail(kc, "hv_vcpu_run: %s", hv_status_str(st));
        else if (exit.reason != HV_EXIT_HYPERCALL || exit.hypercall.nr != BENCH_HC_UNKNOWN)
            rc = kcase_fail(kc,
                            "exit %u (nr 0x%llx) at rip 0x%llx, expected the guest's "
                            "hypercall 0x%x",
                            exit.reason, (unsigned long long)exit.hypercall.nr,
                            (unsigned long long)exit.rip, BENCH_HC_UNKNOWN);
    }
    if (vcpu)
        hv_vcpu_destroy(vcpu);
    hv_vm_destroy(vm);
    t[5] = bench_rdtsc();
    return rc;
}

static int case_lifecycle(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct hv_caps caps;
    uint64_t best[STEPS], best_total = UINT64_MAX;
    size_t len = (size_t)(guest_bench_pvh_end - guest_bench_pvh_start);
    int rc = 0;

    if (!guest_bench_pvh_start || !guest_bench_pvh_end || len == 0)
        return kcase_fail(kc, "lifecycle guest missing: build with tests/bench "
                              "(tests/system/guests/bench)");
    if (!bench_selected("vm_lifecycle"))
        return 0;
    if (bench_ctx_create(kc, &ctx, &caps))
        return -1;
    /* 2 MiB aligned: one large SLAT page, as an embedder would arrange. */
    uint8_t *ram = pmm_alloc_aligned(RAM_PAGES, RAM_PAGES);
    if (!ram) {
        hv_ctx_destroy(ctx);
        return kcase_fail(kc, "out of memory for guest RAM");
    }
    for (unsigned r = 0; !rc && r < bench_repeats() + 1; r++) {
        uint64_t t0, t[STEPS];
        uint8_t mask = bench_quiet_begin();
        rc = lifecycle(kc, ctx, ram, guest_bench_pvh_start, len, &t0, t);
        bench_quiet_end(mask);
        hv_memset(ram, 0, RAM_SIZE); /* the embedder's zeroing, not counted */
        /* The first run fills the kernel's object caches: not counted. */
        if (rc || r == 0)
            continue;
        if (t[STEPS - 1] - t0 < best_total) {
            best_total = t[STEPS - 1] - t0;
            for (int i = 0; i < STEPS; i++)
                best[i] = t[i] - (i ? t[i - 1] : t0);
        }
    }
    pmm_free(ram, RAM_PAGES);
    hv_ctx_destroy(ctx);
    if (rc)
        return rc;
    const char *be = bench_backend(&caps);
    bench_print_value(be, "vm_lifecycle", best_total);
    for (int i = 0; i < STEPS; i++)
        bench_print_value(be, step_names[i], best[i]);
    return 0;
}

static const struct kcase bench_lifecycle_cases[] KCASE_TABLE = {
    {"bench.lifecycle", case_lifecycle, KCASE_EXPLICIT},
};
