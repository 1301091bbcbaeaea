/*
 * vm.cpu_number: the host's CPU number (hv_host_ops::cpu_current) is asked
 * at every entry, and one that names no CPU libhv enabled ends the run
 * with HV_ERR_HOST before the guest runs (SVM: svm_entry.S svm_run's
 * checks; VMX: the number against the CPU its VMCS is current on). The
 * vCPU stays as it was: the OUT that exited before is completed exactly once (its
 * completion is neither lost nor repeated), the vCPU is not left running
 * (the next call is not HV_ERR_BUSY), the host's interrupts are on again
 * (the timer ticks), and the guest (io.S) goes on to the end with the
 * same port I/O as vm.io. An hv_vcpu_load during which the number
 * changes is refused on SVM (svm_load asks again) and holds on VMX (its
 * VMCS proves the CPU).
 */
#include "vm_harness.h"

#include "core/util.h"
#include "kernel.h"

VMT_GUEST(io);

/* The CPU number to report instead of the kernel's, or NO_OVERRIDE. The
   context copies the host ops with the kernel's opaque pointer, so the
   wrapper has no pointer of its own to find this by: a file-scope
   variable of this test case, not of the library. */
#define NO_OVERRIDE 0xfffffffeu
static volatile uint32_t cpu_override = NO_OVERRIDE;
/* Calls answered truly before the override applies. */
static volatile unsigned override_after;
static uint32_t (*kernel_cpu_current)(void *opaque);

static uint32_t cpu_current_wrapped(void *opaque)
{
    uint32_t c = cpu_override;
    if (c == NO_OVERRIDE || override_after) {
        if (c != NO_OVERRIDE)
            override_after--;
        return kernel_cpu_current(opaque);
    }
    return c;
}

/* The timer ticks within 200 ms of host time: interrupts (and on SVM,
   GIF) are on. */
static int ticking(struct kcase_ctx *kc, const char *when)
{
    const struct hv_host_ops *h = &kc->host_ops;
    uint64_t t0 = timer_ticks(), start = h->time_ns(h->opaque);
    while (timer_ticks() == t0)
        if (h->time_ns(h->opaque) - start > 200000000ull)
            return kcase_fail(kc, "no timer tick after %s: interrupts left off", when);
    return 0;
}

/* One run with the CPU number cpu: HV_ERR_HOST. */
static int bad_run(struct vmt *t, uint32_t cpu)
{
    cpu_override = cpu;
    hv_status_t st = hv_vcpu_run(t->vcpu, &t->exit);
    cpu_override = NO_OVERRIDE;
    if (st != HV_ERR_HOST)
        return kcase_fail(t->kc, "CPU number 0x%x: hv_vcpu_run %s, expected HV_ERR_HOST", cpu,
                          hv_status_str(st));
    return ticking(t->kc, "a run with a bad CPU number");
}

static int case_cpu_number(struct kcase_ctx *kc)
{
    struct hv_host_ops ops = kc->host_ops;
    struct hv_ctx *ctx;
    struct vmt t;
    hv_status_t st;
    int rc;

    kernel_cpu_current = kc->host_ops.cpu_current;
    ops.cpu_current = cpu_current_wrapped;
    if ((st = hv_ctx_create(&ops, NULL, &ctx)) != HV_OK)
        return kcase_fail(kc, "hv_ctx_create: %s", hv_status_str(st));
    uint32_t ncpus = kc->host_ops.cpu_count(kc->host_ops.opaque);
    rc = vmt_create(kc, ctx, &t, &guest_io);
    t.on_in = vmt_io_guest_in;

    /* Before the first entry, and with an OUT's completion pending. */
    if (!rc)
        rc = bad_run(&t, ncpus);
    if (!rc) {
        st = hv_vcpu_run(t.vcpu, &t.exit);
        if (st != HV_OK || t.exit.reason != HV_EXIT_IO || t.exit.io.port != 0x10)
            rc = kcase_fail(kc, "first run: %s, exit %s", hv_status_str(st),
                            vmt_exit_name(t.exit.reason));
    }
    if (!rc && t.exit.reason == HV_EXIT_IO && t.exit.io.write) {
        t.outs[t.nouts++] =
            (struct vmt_out){t.exit.io.port, t.exit.io.size, (uint32_t)t.exit.io.data};
        rc = bad_run(&t, 0xffffffffu);
        if (!rc)
            rc = bad_run(&t, ncpus + 7);
    } else if (!rc) {
        rc = kcase_fail(kc, "exit %s, expected the first OUT", vmt_exit_name(t.exit.reason));
    }
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc) {
        const struct vmt_out exp[] = {
            {0x10, 1, 0x12},     {0x10, 2, 0x3456},   {0x10, 4, 0x789abcde}, OUT_VAL(0xa5a5a55b),
            OUT_VAL(0xa5a5cafe), OUT_VAL(0x13579bdf), {0x1234, 1, 0x77},     OUT_VAL(0x4321),
        };
        rc = vmt_expect(&t, exp, HV_ARRAY_SIZE(exp));
    }
    /* hv_vcpu_load whose caller seems to move between the core's question
       and the backend's: SVM asks again under GIF=0 (svm_load) and refuses,
       as its VMSAVE would fill the other CPU's host area; VMX finds its
       VMCS current here by VMPTRST and never asks again (the number the
       core got is this CPU's), so the load holds. */
    if (!rc) {
        struct hv_caps caps = {.size = sizeof(caps)};
        hv_ctx_caps(ctx, &caps);
        bool svm = caps.backend == HV_BACKEND_SVM;
        override_after = 1;
        cpu_override = ncpus;
        st = hv_vcpu_load(t.vcpu, 0);
        cpu_override = NO_OVERRIDE;
        override_after = 0;
        if (st != (svm ? HV_ERR_HOST : HV_OK))
            rc = kcase_fail(kc, "hv_vcpu_load with a CPU number that changed: %s, expected %s",
                            hv_status_str(st), svm ? "HV_ERR_HOST" : "HV_OK");
        hv_status_t put = hv_vcpu_put(t.vcpu);
        if (!rc && put != (svm ? HV_ERR_STATE : HV_OK))
            rc = kcase_fail(kc, "hv_vcpu_put after it: %s", hv_status_str(put));
        if (!rc)
            rc = ticking(kc, "the load");
    }
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_cpu_number_cases[] KCASE_TABLE = {
    {"vm.cpu_number", case_cpu_number, 0},
};
