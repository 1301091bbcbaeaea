/*
 * The library's local APIC (hv/lapic.h): one vCPU through the register
 * model, priorities, ESR, the three timer modes and x2APIC (lapic.S);
 * HLTs with an armed timer return its deadline, which the case sleeps to.
 * Two vCPUs (lapic_smp.S): INIT-SIPI-SIPI brings the AP up from
 * wait-for-SIPI, fixed IPIs both ways, an NMI IPI; the wake callback is
 * the only thing that makes a halted vCPU runnable again.
 */
#include "vm_harness.h"

#include "core/util.h"

VMT_GUEST(lapic);
VMT_GUEST(lapic_smp);

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
        /* MARK 10's HLT comes after its timer expired: the library must
           resume the guest itself. */
        if (t.nouts && t.outs[t.nouts - 1].port == PORT_MARK && t.outs[t.nouts - 1].value == 10) {
            rc = kcase_fail(kc, "a HLT with its timer already expired reached the host");
            break;
        }
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
            OUT_VAL(13),      OUT_VAL(0),          OUT_VAL(0x64),    OUT_MARK(10),  OUT_VAL(0x65),
            OUT_MARK(11),
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

/* Two vCPUs run in turn by one host thread, each until it halts. */
struct smp_rig {
    struct kcase_ctx *kc;
    struct hv_vm *vm;
    struct hv_vcpu *v[2];
    struct hv_exit exit[2];
    uint8_t *ram, *reset_page;
    bool runnable[2];
    unsigned nouts[2];
    struct vmt_out outs[2][16];
    unsigned wakes;
    bool ap_waited; /* vCPU 1's first run returned HV_HLT_WAIT_SIPI */
};

static void smp_wake(void *opaque, struct hv_vcpu *vcpu)
{
    struct smp_rig *r = opaque;
    for (int i = 0; i < 2; i++) {
        if (r->v[i] == vcpu)
            r->runnable[i] = true;
    }
    r->wakes++;
}

static int smp_setup(struct kcase_ctx *kc, struct hv_ctx *ctx, struct smp_rig *r)
{
    hv_status_t st;
    hv_memset(r, 0, sizeof(*r));
    r->kc = kc;
    if (vmt_vm_create(kc, ctx, &guest_lapic_smp, 2, &r->ram, &r->reset_page, &r->vm))
        return -1;
    struct hv_lapic_config cfg = {.size = sizeof(cfg),
                                  .tsc_khz = (uint32_t)(tsc_hz() / 1000),
                                  .flags = HV_LAPIC_APS_WAIT_SIPI,
                                  .wake = smp_wake,
                                  .opaque = r};
    if ((st = hv_lapic_enable(r->vm, &cfg)) != HV_OK)
        return kcase_fail(kc, "hv_lapic_enable: %s", hv_status_str(st));
    for (uint32_t i = 0; i < 2; i++) {
        if ((st = hv_vcpu_create(r->vm, i, &r->v[i])) != HV_OK)
            return kcase_fail(kc, "hv_vcpu_create %u: %s", i, hv_status_str(st));
        r->runnable[i] = true;
    }
    return 0;
}

static void smp_teardown(struct smp_rig *r)
{
    for (int i = 0; i < 2; i++) {
        if (r->v[i])
            hv_vcpu_destroy(r->v[i]);
    }
    if (r->vm)
        hv_vm_destroy(r->vm);
    if (r->ram)
        pmm_free(r->ram, VMT_RAM_SIZE / PAGE_SIZE);
    if (r->reset_page)
        pmm_free(r->reset_page, 1);
}

static bool bsp_finished(const struct smp_rig *r)
{
    unsigned n = r->nouts[0];
    return n && r->outs[0][n - 1].port == PORT_MARK && r->outs[0][n - 1].value == 5;
}

/* One exit of vCPU i: 1 when the BSP has finished, -1 on failure. */
static int smp_step(struct smp_rig *r, int i)
{
    struct hv_exit *e = &r->exit[i];
    hv_status_t st = hv_vcpu_run(r->v[i], e);
    if (st != HV_OK)
        return kcase_fail(r->kc, "vCPU %d: hv_vcpu_run: %s", i, hv_status_str(st));
    if (e->reason == HV_EXIT_IO && e->io.write) {
        if (r->nouts[i] == HV_ARRAY_SIZE(r->outs[i]))
            return kcase_fail(r->kc, "vCPU %d: too many OUTs", i);
        struct vmt_out *o = &r->outs[i][r->nouts[i]++];
        o->port = e->io.port;
        o->size = e->io.size;
        o->value = (uint32_t)e->io.data;
        return 0;
    }
    if (e->reason != HV_EXIT_HLT)
        return kcase_fail(r->kc, "vCPU %d: exit %s at rip 0x%llx", i, vmt_exit_name(e->reason),
                          (unsigned long long)e->rip);
    if (e->hlt.source == HV_HLT_WAIT_SIPI) {
        if (i != 1)
            return kcase_fail(r->kc, "the BSP waits for a SIPI");
        if (r->nouts[1] == 0)
            r->ap_waited = true;
    } else if (e->hlt.source != HV_HLT_INSN || e->hlt.deadline_ns) {
        return kcase_fail(r->kc, "vCPU %d: HLT source %u deadline %llu", i, e->hlt.source,
                          (unsigned long long)e->hlt.deadline_ns);
    }
    if (i == 0 && bsp_finished(r))
        return 1;
    r->runnable[i] = false; /* until its wake callback */
    return 0;
}

static int smp_expect(struct smp_rig *r, int i, const struct vmt_out *exp, unsigned n)
{
    for (unsigned k = 0; k < n || k < r->nouts[i]; k++) {
        if (k >= n || k >= r->nouts[i] || r->outs[i][k].port != exp[k].port ||
            r->outs[i][k].value != exp[k].value)
            return kcase_fail(r->kc, "vCPU %d OUT %u: port 0x%x value 0x%x (of %u), want 0x%x 0x%x",
                              i, k, k < r->nouts[i] ? r->outs[i][k].port : 0,
                              k < r->nouts[i] ? r->outs[i][k].value : 0, r->nouts[i],
                              k < n ? exp[k].port : 0, k < n ? exp[k].value : 0);
    }
    return 0;
}

static int case_lapic_smp(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    static struct smp_rig r;
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    int rc = smp_setup(kc, ctx, &r);
    uint64_t limit = ktime_ns() + 5000000000ull;
    int done = 0;
    while (!rc && !done) {
        if (ktime_ns() > limit) {
            rc = kcase_fail(kc, "no end after 5 s");
            break;
        }
        bool any = false;
        for (int i = 0; i < 2 && !rc && !done; i++) {
            if (!r.runnable[i])
                continue;
            any = true;
            done = smp_step(&r, i);
            if (done < 0)
                rc = -1;
        }
        if (!rc && !done && !any)
            rc = kcase_fail(kc, "both vCPUs halted, nothing woke them (BSP %u OUTs, AP %u)",
                            r.nouts[0], r.nouts[1]);
    }
    if (!rc) {
        const struct vmt_out bsp[] = {
            OUT_MARK(1),   OUT_MARK(2), OUT_VAL(0x50), OUT_MARK(3),
            OUT_VAL(0x50), OUT_MARK(4), OUT_VAL(0x52), OUT_MARK(5),
        };
        const struct vmt_out ap[] = {OUT_MARK(0x81), OUT_MARK(0x82), OUT_MARK(0x83)};
        rc = smp_expect(&r, 0, bsp, HV_ARRAY_SIZE(bsp));
        if (!rc)
            rc = smp_expect(&r, 1, ap, HV_ARRAY_SIZE(ap));
    }
    if (!rc && !r.ap_waited)
        rc = kcase_fail(kc, "the AP ran before its SIPI");
    if (!rc && r.wakes < 3)
        rc = kcase_fail(kc, "%u wakes", r.wakes);
    smp_teardown(&r);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_lapic_cases[] KCASE_TABLE = {
    {"vm.lapic", case_lapic, 0},
    {"vm.lapic_smp", case_lapic_smp, 0},
};
