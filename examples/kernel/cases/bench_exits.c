/*
 * bench.exits: the cost of one exit round trip, libhv's and the floor's,
 * on the same guest (tests/system/guests/bench/bench.S):
 *
 *   bare_vmmcall  VMMCALL (VMCALL on VMX) under the bare handler
 *   bare_cpuid    CPUID leaf 0 under the bare handler
 *   bare_out      OUT under the bare handler
 *   cpuid         CPUID leaf 0 answered by libhv's policy
 *   hypercall_exit an unknown hypercall returned to the embedder
 *   io_out        OUT returned to the embedder's run loop and re-entered
 *   io_out_unloaded the same with a run loop that does not hv_vcpu_load
 *   io_out_osxsave the same on a host that runs with CR4.OSXSAVE and XCR0
 *                 x87|SSE|AVX, as a kernel using AVX does: the entry
 *                 switches XCR0 (CPUs with XSAVE and AVX only)
 *   io_handler    the same OUT completed by a port handler the embedder
 *                 registered (hv_vm_pio_register): no return to its loop
 *   mmio_handler  a load from MMIO completed by a registered handler
 *   mmio_exit     a load from MMIO completed by the embedder (HV_EXIT_MMIO)
 *   npf_map       a load from an unmapped page the embedder then maps
 *
 * Each is in instructions per operation, loop overhead subtracted, with
 * its ratio to the floor that fits it (bench_common.h). The embedder's loop
 * keeps the vCPU loaded (hv_vcpu_load with HV_LOAD_GUEST_FPU) while it
 * serves a command, except for the *_unloaded figures.
 */
#include "bench_common.h"
#include "core/cpu.h"
#include "core/xsave.h"
#include "cpu.h"

struct figure {
    const char *name;
    uint32_t cmd;
    int floor; /* enum bench_floor */
    bool unloaded;
    bool osxsave;
    bool pio; /* BENCH_PORT_OUT served by out_port (hv_vm_pio_register) */
};

static const struct figure figures[] = {
    {"cpuid", BENCH_CMD_CPUID, BENCH_FLOOR_CPUID, false, false, false},
    {"hypercall_exit", BENCH_CMD_HC, BENCH_FLOOR_VMMCALL, false, false, false},
    {"io_out", BENCH_CMD_OUT, BENCH_FLOOR_OUT, false, false, false},
    {"io_out_unloaded", BENCH_CMD_OUT, BENCH_FLOOR_OUT, true, false, false},
    {"io_out_osxsave", BENCH_CMD_OUT, BENCH_FLOOR_OUT, false, true, false},
    {"io_handler", BENCH_CMD_OUT, BENCH_FLOOR_OUT, false, false, true},
    {"mmio_handler", BENCH_CMD_MMIO_H, BENCH_FLOOR_VMMCALL, false, false, false},
    {"mmio_exit", BENCH_CMD_MMIO_E, BENCH_FLOOR_VMMCALL, false, false, false},
    {"npf_map", BENCH_CMD_NPF, BENCH_FLOOR_VMMCALL, false, false, false},
};

/* The io_handler device: counts the OUTs it takes. */
static hv_status_t out_port(void *opaque, uint16_t port, unsigned size, bool write, uint32_t *value)
{
    (void)port;
    (void)size;
    (void)value;
    *(uint64_t *)opaque += write;
    return HV_OK;
}

static const char *const floor_names[BENCH_FLOOR_COUNT] = {"bare_vmmcall", "bare_cpuid",
                                                           "bare_out"};

/* The host as a kernel that uses AVX runs: CR4.OSXSAVE, XCR0 x87|SSE|AVX.
   False (nothing changed) on a CPU without XSAVE or AVX. */
struct host_xsave {
    uint64_t cr4, xcr0;
};

static bool host_avx_on(struct host_xsave *h)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!((r[2] >> 26) & 1) || !((r[2] >> 28) & 1)) /* XSAVE, AVX */
        return false;
    h->cr4 = hv_read_cr4();
    h->xcr0 = (h->cr4 & CR4_OSXSAVE) ? hv_xgetbv0() : HV_XCR0_X87;
    hv_write_cr4(h->cr4 | CR4_OSFXSR | CR4_OSXSAVE);
    hv_xsetbv0(HV_XCR0_X87 | HV_XCR0_SSE | HV_XCR0_AVX);
    return true;
}

/* This kernel's own back (XCR0 before CR4: clearing CR4.OSXSAVE leaves
   XCR0 as it is). */
static void host_avx_off(const struct host_xsave *h)
{
    hv_xsetbv0(h->xcr0);
    hv_write_cr4(h->cr4);
}

static int case_exits(struct kcase_ctx *kc)
{
    static const struct {
        uint32_t cmd;
        enum bench_bare_kind kind;
    } floors[BENCH_FLOOR_COUNT] = {
        {BENCH_CMD_HC, BENCH_BARE_HC},
        {BENCH_CMD_CPUID, BENCH_BARE_CPUID},
        {BENCH_CMD_OUT, BENCH_BARE_OUT},
    };
    struct hv_ctx *ctx;
    struct hv_caps caps;
    struct bench_vm b;
    uint64_t floor[BENCH_FLOOR_COUNT] = {0};
    int rc;

    bool any = false;
    for (int i = 0; i < BENCH_FLOOR_COUNT; i++)
        any |= bench_selected(floor_names[i]);
    for (unsigned i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
        any |= bench_selected(figures[i].name);
    if (!any)
        return 0;
    if (bench_ctx_create(kc, &ctx, &caps))
        return -1;
    const char *be = bench_backend(&caps);
    rc = bench_vm_create(kc, ctx, &b, NULL);
    for (int i = 0; !rc && i < BENCH_FLOOR_COUNT; i++) {
        if (!bench_selected(floor_names[i]))
            continue;
        rc = bench_measure(&b, floors[i].cmd, &floors[i].kind, &floor[i]);
        if (!rc)
            bench_print(be, floor_names[i], floor[i], NULL, 0);
    }
    for (unsigned i = 0; !rc && i < sizeof(figures) / sizeof(figures[0]); i++) {
        uint64_t c;
        if (!bench_selected(figures[i].name))
            continue;
        struct host_xsave hx = {0, 0};
        if (figures[i].osxsave && !host_avx_on(&hx)) {
            kprintf("bench: %s skipped: no XSAVE or AVX on this CPU\n", figures[i].name);
            continue;
        }
        uint64_t outs = 0;
        hv_status_t st;
        if (figures[i].pio &&
            (st = hv_vm_pio_register(b.vm, BENCH_PORT_OUT, 1, out_port, &outs)) != HV_OK) {
            rc = kcase_fail(kc, "hv_vm_pio_register: %s", hv_status_str(st));
            continue; /* rc ends the loop */
        }
        b.unloaded = figures[i].unloaded;
        rc = bench_measure(&b, figures[i].cmd, NULL, &c);
        b.unloaded = false;
        if (figures[i].pio) {
            if ((st = hv_vm_pio_unregister(b.vm, BENCH_PORT_OUT)) != HV_OK && !rc)
                rc = kcase_fail(kc, "hv_vm_pio_unregister: %s", hv_status_str(st));
            if (!rc && outs < bench_iters())
                rc = kcase_fail(kc, "io_handler: %llu OUTs reached the handler",
                                (unsigned long long)outs);
        }
        if (figures[i].osxsave)
            host_avx_off(&hx);
        if (!rc)
            bench_print(be, figures[i].name, c, floor_names[figures[i].floor],
                        floor[figures[i].floor]);
    }
    bench_vm_destroy(&b);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase bench_exit_cases[] KCASE_TABLE = {
    {"bench.exits", case_exits, KCASE_EXPLICIT},
};
