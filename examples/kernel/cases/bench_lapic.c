/*
 * bench.lapic: the exits a guest of libhv's local APIC (hv/lapic.h) makes
 * on its hot paths, on the same guest in a VM with hv_lapic_enable:
 *
 *   apic_eoi_mmio  the xAPIC EOI: a 32-bit store to 0xfee000b0, nothing
 *                  in service (decoded and carried out by the library)
 *   apic_eoi       the x2APIC EOI: WRMSR 0x80b, nothing in service
 *   apic_tscdl     WRMSR IA32_TSC_DEADLINE, the timer in TSC-deadline mode
 *                  armed 2^40 ticks ahead (what a tickless guest does on
 *                  each idle entry and exit)
 *   apic_self_ipi  WRMSR x2APIC SELF IPI, the interrupt delivered and its
 *                  handler's EOI by WRMSR (two exits, the handler's ~12
 *                  instructions in the figure)
 *
 * Each in instructions per operation with its ratio to bare_vmmcall,
 * measured again on this VM.
 */
#include <hv/lapic.h>

#include "bench_common.h"

struct apic_figure {
    const char *name;
    uint32_t cmd;
};

/* In this order: the xAPIC one before BENCH_CMD_APIC_X2 switches modes. */
static const struct apic_figure apic_figures[] = {
    {"apic_eoi_mmio", BENCH_CMD_APIC_MMIO_EOI},
    {"apic_eoi", BENCH_CMD_APIC_EOI},
    {"apic_tscdl", BENCH_CMD_APIC_TSCDL},
    {"apic_self_ipi", BENCH_CMD_APIC_IPI},
};

static int case_lapic(struct kcase_ctx *kc)
{
    static const enum bench_bare_kind hc = BENCH_BARE_HC;
    struct hv_ctx *ctx;
    struct hv_caps caps;
    struct bench_vm b;
    uint64_t floor = 0;
    int rc;

    bool any = false;
    for (unsigned i = 0; i < sizeof(apic_figures) / sizeof(apic_figures[0]); i++)
        any |= bench_selected(apic_figures[i].name);
    if (!any)
        return 0;
    if (bench_ctx_create(kc, &ctx, &caps))
        return -1;
    const char *be = bench_backend(&caps);
    /* A fixed TSC rate: only hlt.deadline_ns depends on it. */
    struct hv_lapic_config lc = {.size = sizeof(lc), .tsc_khz = 1000000};
    rc = bench_vm_create(kc, ctx, &b, &lc);
    if (!rc)
        rc = bench_measure(&b, BENCH_CMD_HC, &hc, &floor);
    for (unsigned i = 0; !rc && i < sizeof(apic_figures) / sizeof(apic_figures[0]); i++) {
        const struct apic_figure *f = &apic_figures[i];
        if (f->cmd == BENCH_CMD_APIC_EOI)
            rc = bench_command(&b, BENCH_CMD_APIC_X2);
        if (rc || !bench_selected(f->name))
            continue;
        uint64_t c;
        rc = bench_measure(&b, f->cmd, NULL, &c);
        if (!rc && f->cmd == BENCH_CMD_APIC_IPI) {
            uint64_t taken = *(volatile uint64_t *)(b.ram + BENCH_RES_APIC);
            if (taken != bench_iters())
                rc = kcase_fail(kc, "%llu interrupts for %llu self IPIs", (unsigned long long)taken,
                                (unsigned long long)bench_iters());
        }
        if (!rc)
            bench_print(be, f->name, c, "bare_vmmcall", floor);
    }
    bench_vm_destroy(&b);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase bench_lapic_cases[] KCASE_TABLE = {
    {"bench.lapic", case_lapic, KCASE_EXPLICIT},
};
