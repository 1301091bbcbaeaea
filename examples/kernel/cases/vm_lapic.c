/*
 * The library's local APIC (hv/lapic.h): one vCPU through the register
 * model, priorities, ESR, the three timer modes and x2APIC (lapic.S);
 * HLTs with an armed timer return its deadline, which the case sleeps to.
 */
#include "vm_harness.h"

#include "core/util.h"

VMT_GUEST(lapic);

static void count_wake(void *opaque, struct hv_vcpu *vcpu)
{
    (void)vcpu;
    __atomic_add_fetch((volatile unsigned *)opaque, 1, __ATOMIC_RELAXED);
}

/* Give the harness's VM a local APIC: enabled before any vCPU exists, so
   vCPU 0 is created again. */
static int enable_lapic(struct vmt *t, volatile unsigned *wakes)
{
    struct hv_lapic_config cfg = {.size = sizeof(cfg),
                                  .tsc_khz = (uint32_t)(tsc_hz() / 1000),
                                  .wake = count_wake,
                                  .opaque = (void *)wakes};
    struct hv_vcpu *v = t->vcpu;
    t->vcpu = NULL; /* the watchdog tick reads it */
    hv_vcpu_destroy(v);
    hv_status_t st = hv_lapic_enable(t->vm, &cfg);
    if (st != HV_OK)
        return kcase_fail(t->kc, "hv_lapic_enable: %s", hv_status_str(st));
    if ((st = hv_vcpu_create(t->vm, 0, &v)) != HV_OK)
        return kcase_fail(t->kc, "hv_vcpu_create: %s", hv_status_str(st));
    t->vcpu = v;
    return 0;
}

/* The guest's timer unit: 2 ms of TSC, at least 300000 ticks (a periodic
   timer must leave the guest time between its interrupts, and an exit
   costs more emulated time under Bochs, whose TSC counts instructions). */
static uint32_t timer_unit(struct vmt *t, uint16_t port, uint8_t size)
{
    (void)t;
    (void)port;
    (void)size;
    uint64_t u = tsc_hz() / 500;
    return u < 300000 ? 300000 : u > 0x10000000 ? 0x10000000 : (uint32_t)u;
}

/* Sleep (spin) to a HLT's deadline, which must be near. */
static int sleep_to(struct vmt *t, uint64_t deadline)
{
    uint64_t now = ktime_ns();
    if (deadline > now + 2000000000ull)
        return kcase_fail(t->kc, "HLT deadline %llu ns away", (unsigned long long)(deadline - now));
    while (ktime_ns() < deadline)
        __builtin_ia32_pause();
    return 0;
}

static int case_lapic(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    volatile unsigned wakes = 0;
    unsigned timed_hlts = 0;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_lapic);
    if (!rc)
        rc = enable_lapic(&t, &wakes);
    t.on_in = timer_unit;
    if (!rc) {
        /* Once only, and only before vCPUs exist. */
        struct hv_lapic_config cfg = {.tsc_khz = 1000};
        KCHECK(kc, hv_lapic_enable(t.vm, &cfg) == HV_ERR_EXISTS);
        KCHECK(kc, hv_lapic_raise(t.vcpu, 9, 0x40) == HV_ERR_INVALID_ARG);
        KCHECK(kc, hv_lapic_send(t.vm, 0, 2, HV_LAPIC_FIXED, 0x40) == HV_ERR_INVALID_ARG);
    }
    while (!rc) {
        rc = vmt_run(&t);
        if (rc)
            break;
        if (t.exit.reason != HV_EXIT_HLT) {
            rc = kcase_fail(kc, "exit %s at rip 0x%llx", vmt_exit_name(t.exit.reason),
                            (unsigned long long)t.exit.rip);
            break;
        }
        if (t.exit.hlt.source != HV_HLT_INSN) {
            rc = kcase_fail(kc, "HLT source %u", t.exit.hlt.source);
            break;
        }
        if (!t.exit.hlt.deadline_ns)
            break; /* the final CLI; HLT: no timer armed */
        timed_hlts++;
        rc = sleep_to(&t, t.exit.hlt.deadline_ns);
    }
    if (!rc) {
        const struct vmt_out exp[] = {
            OUT_MARK(1),      OUT_VAL(0xfee00900), OUT_VAL(0x50014), OUT_VAL(0),    OUT_MARK(2),
            OUT_VAL(0x40020), OUT_VAL(0x52),       OUT_VAL(0x45),    OUT_VAL(0x31), OUT_MARK(3),
            OUT_VAL(0x61),    OUT_VAL(0x50),       OUT_MARK(4),      OUT_VAL(0x44), OUT_MARK(5),
            OUT_VAL(0x7e),    OUT_VAL(0x20),       OUT_MARK(6),      OUT_VAL(1),    OUT_VAL(0x60),
            OUT_VAL(0),       OUT_MARK(7),         OUT_VAL(1),       OUT_MARK(8),   OUT_VAL(1),
            OUT_VAL(1),       OUT_VAL(1),          OUT_VAL(0x63),    OUT_VAL(0),    OUT_MARK(9),
            OUT_VAL(0),       OUT_VAL(1),          OUT_VAL(0x70),    OUT_VAL(13),   OUT_VAL(13),
            OUT_VAL(13),      OUT_VAL(0),          OUT_VAL(0x64),    OUT_MARK(10),
        };
        rc = vmt_expect(&t, exp, HV_ARRAY_SIZE(exp));
    }
    /* Each timer wait (one-shot, periodic, TSC deadline, x2APIC) went
       through at least one HLT with the deadline; no other vCPU to wake. */
    if (!rc && timed_hlts < 4)
        rc = kcase_fail(kc, "%u HLTs with a deadline", timed_hlts);
    if (!rc && wakes)
        rc = kcase_fail(kc, "%u wakes of a vCPU that was never woken", wakes);
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_lapic_cases[] KCASE_TABLE = {
    {"vm.lapic", case_lapic, 0},
};
