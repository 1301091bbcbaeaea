/*
 * bench.xen: the Xen PV paths, on the same guest with the VM made a Xen
 * domain (hv_xen_enable):
 *
 *   hypercall      a hypercall number Xen does not know: -ENOSYS from libhv
 *                  (what KVM does with an unknown VMMCALL: tests/kvm)
 *   xen_version    xen_version(XENVER_version, NULL), finished by libhv
 *   evtchn_upcall  EVTCHNOP_send to the guest's own IPI port, the upcall
 *                  delivered through the vector the guest registered
 *                  (HVMOP_set_evtchn_upcall_vector) and acknowledged by its
 *                  handler (clear upcall_pending, the selector and the
 *                  port's pending bit, IRET): the handler's instructions
 *                  are part of the figure
 *
 * The floor (bare_vmmcall) is measured again on this VM for the ratios.
 * Host side, with the host's RDTSC:
 *
 *   xen_enable     hv_xen_enable with the memory map derived from the
 *                  VM's mappings (1 MiB of RAM at 0, the reset page below
 *                  4 GiB): the shared_info page, the domain's state and
 *                  the walk that lists the mappings
 */
#include <hv/xen.h>

#include "bench_common.h"

static uint64_t rc_of(struct bench_vm *b, unsigned i)
{
    return *(volatile uint64_t *)(b->ram + BENCH_RES_RC + 8 * i);
}

static int xen_setup(struct bench_vm *b)
{
    static const char *const what[] = {"XENMEM_add_to_physmap(shared_info)",
                                       "HVMOP_set_evtchn_upcall_vector", "EVTCHNOP_bind_ipi"};
    if (bench_command(b, BENCH_CMD_XEN_SETUP))
        return -1;
    for (unsigned i = 0; i < 3; i++) {
        if (rc_of(b, i) != 0)
            return kcase_fail(b->kc, "guest %s returned %lld", what[i], (long long)rc_of(b, i));
    }
    if (rc_of(b, 3) == 0)
        return kcase_fail(b->kc, "EVTCHNOP_bind_ipi gave port 0");
    return 0;
}

static int case_xen(struct kcase_ctx *kc)
{
    static const enum bench_bare_kind hc = BENCH_BARE_HC;
    struct hv_ctx *ctx;
    struct hv_caps caps;
    struct bench_vm b;
    uint64_t floor = 0, c;
    bool enabled = false;
    hv_status_t st;
    int rc;

    if (!bench_selected("hypercall") && !bench_selected("xen_version") &&
        !bench_selected("evtchn_upcall") && !bench_selected("xen_enable"))
        return 0;
    if (bench_ctx_create(kc, &ctx, &caps))
        return -1;
    const char *be = bench_backend(&caps);
    rc = bench_vm_create(kc, ctx, &b, NULL);
    if (!rc) {
        /* A fixed TSC rate: no calibration against the host clock; no
           memory map: derived from the mappings, as part of the figure. */
        struct hv_xen_config xc = {.size = sizeof(xc), .tsc_khz = 1000000};
        uint64_t t0 = bench_rdtsc();
        st = hv_xen_enable(b.vm, &xc);
        uint64_t t1 = bench_rdtsc();
        if (st != HV_OK)
            rc = kcase_fail(kc, "hv_xen_enable: %s", hv_status_str(st));
        else if (bench_selected("xen_enable"))
            bench_print_value(be, "xen_enable", t1 - t0);
        enabled = !rc;
    }
    if (!rc)
        rc = xen_setup(&b);
    if (!rc)
        rc = bench_measure(&b, BENCH_CMD_HC, &hc, &floor);
    if (!rc && bench_selected("hypercall")) {
        rc = bench_measure(&b, BENCH_CMD_HC, NULL, &c);
        if (!rc)
            bench_print(be, "hypercall", c, "bare_vmmcall", floor);
    }
    if (!rc && bench_selected("xen_version")) {
        rc = bench_measure(&b, BENCH_CMD_XENVER, NULL, &c);
        if (!rc)
            bench_print(be, "xen_version", c, "bare_vmmcall", floor);
    }
    if (!rc && bench_selected("evtchn_upcall")) {
        rc = bench_measure(&b, BENCH_CMD_EVTCHN, NULL, &c);
        uint64_t taken = *(volatile uint64_t *)(b.ram + BENCH_RES_COUNT);
        uint64_t spurious = *(volatile uint64_t *)(b.ram + BENCH_RES_SPURIOUS);
        if (!rc && taken != bench_iters())
            rc = kcase_fail(kc, "%llu upcalls found their event for %llu sends",
                            (unsigned long long)taken, (unsigned long long)bench_iters());
        if (!rc && spurious)
            kprintf("bench.xen: %llu spurious upcalls (nothing pending) beside %llu sends\n",
                    (unsigned long long)spurious, (unsigned long long)bench_iters());
        if (!rc)
            bench_print(be, "evtchn_upcall", c, "bare_vmmcall", floor);
    }
    if (enabled && (st = hv_xen_disable(b.vm)) != HV_OK && !rc)
        rc = kcase_fail(kc, "hv_xen_disable: %s", hv_status_str(st));
    bench_vm_destroy(&b);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase bench_xen_cases[] KCASE_TABLE = {
    {"bench.xen", case_xen, KCASE_EXPLICIT},
};
