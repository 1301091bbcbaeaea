/*
 * Events and abnormal ends: injected interrupts and exceptions delivered
 * through the guest's IDT (inject.S), a spinning guest stopped by the
 * host's timer through hv_vcpu_kick (spin.S), a triple fault (shutdown.S),
 * and states the CPU would refuse to enter.
 */
#include "vm_harness.h"

#include "core/util.h"

VMT_GUEST(inject);
VMT_GUEST(spin);
VMT_GUEST(shutdown);
VMT_GUEST(hlt);

/* Run until the guest reports marker @p m (the last OUT recorded). */
static int run_to_mark(struct vmt *t, uint32_t m)
{
    for (;;) {
        unsigned n = t->nouts;
        t->exit.reason = HV_EXIT_NONE;
        hv_status_t st = hv_vcpu_run(t->vcpu, &t->exit);
        if (st != HV_OK)
            return kcase_fail(t->kc, "hv_vcpu_run: %s", hv_status_str(st));
        if (t->exit.reason != HV_EXIT_IO || !t->exit.io.write)
            return kcase_fail(t->kc, "exit %s before marker %u", vmt_exit_name(t->exit.reason), m);
        if (n == VMT_MAX_OUTS)
            return kcase_fail(t->kc, "too many OUTs");
        struct vmt_out *o = &t->outs[t->nouts++];
        o->port = t->exit.io.port;
        o->size = t->exit.io.size;
        o->value = (uint32_t)t->exit.io.data;
        if (o->port == PORT_MARK && o->value == m)
            return 0;
    }
}

static int case_inject(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    int rc;
    const struct hv_event irq = {.type = HV_EVENT_EXTINT, .vector = 0x40};
    const struct hv_event gp = {
        .type = HV_EVENT_EXCEPTION, .vector = 13, .has_error_code = 1, .error_code = 0x1234};
    const struct hv_event pf = {.type = HV_EVENT_EXCEPTION,
                                .vector = 14,
                                .has_error_code = 1,
                                .error_code = 2,
                                .cr2 = 0xdead000};

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_inject);
    /* IF=0 at MARK 1: the interrupt must wait for the guest's STI. */
    if (!rc)
        rc = run_to_mark(&t, 1);
    if (!rc && hv_vcpu_inject(t.vcpu, &irq) != HV_OK)
        rc = kcase_fail(kc, "inject interrupt failed");
    if (!rc)
        rc = run_to_mark(&t, 4);
    if (!rc && hv_vcpu_inject(t.vcpu, &gp) != HV_OK)
        rc = kcase_fail(kc, "inject #GP failed");
    if (!rc)
        rc = run_to_mark(&t, 5);
    if (!rc && hv_vcpu_inject(t.vcpu, &pf) != HV_OK)
        rc = kcase_fail(kc, "inject #PF failed");
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc) {
        const struct vmt_out exp[] = {
            OUT_MARK(1),   OUT_MARK(2),                                      /* IF=0: held back */
            OUT_VAL(0x40), OUT_MARK(3),                                      /* after STI */
            OUT_MARK(4),   OUT_VAL(13), OUT_VAL(0x1234),                     /* #GP, error code */
            OUT_MARK(5),   OUT_VAL(14), OUT_VAL(2),      OUT_VAL(0xdead000), /* #PF, CR2 */
            OUT_MARK(6),
        };
        rc = vmt_expect(&t, exp, HV_ARRAY_SIZE(exp));
    }
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

struct kick_timer {
    struct hv_vcpu *vcpu;
    uint64_t at;
    volatile bool fired;
};

static void kick_tick(void *arg, uint64_t ticks)
{
    struct kick_timer *k = arg;
    if (!k->fired && ticks >= k->at) {
        k->fired = true;
        hv_vcpu_kick(k->vcpu);
    }
}

static int case_kick(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    struct kick_timer k = {0};
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_spin);
    if (!rc) {
        k.vcpu = t.vcpu;
        k.at = timer_ticks() + TIMER_HZ / 5;
        if (!timer_add_tick_fn(kick_tick, &k))
            rc = kcase_fail(kc, "no tick slot");
    }
    uint64_t t0 = timer_ticks();
    if (!rc) {
        hv_status_t st = hv_vcpu_run(t.vcpu, &t.exit); /* the marker OUT */
        if (st == HV_OK)
            st = hv_vcpu_run(t.vcpu, &t.exit); /* spins until kicked */
        if (st != HV_OK)
            rc = kcase_fail(kc, "hv_vcpu_run: %s", hv_status_str(st));
    }
    timer_remove_tick_fn(kick_tick, &k);
    if (!rc && (t.exit.reason != HV_EXIT_KICK || !k.fired))
        rc = kcase_fail(kc, "exit %s, expected KICK from the timer", vmt_exit_name(t.exit.reason));
    if (!rc && timer_ticks() - t0 > 2 * TIMER_HZ)
        rc = kcase_fail(kc, "the kick took %u ticks", (unsigned)(timer_ticks() - t0));
    /* The host keeps running and so can the guest: it is still spinning. */
    if (!rc && (t.exit.rip < VMT_LOAD_GPA || t.exit.rip > VMT_LOAD_GPA + 0x40))
        rc = kcase_fail(kc, "kicked at rip 0x%llx, outside the spin loop",
                        (unsigned long long)t.exit.rip);
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static int case_shutdown(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_shutdown);
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_SHUTDOWN);
    if (!rc && (t.nouts != 1 || t.outs[0].value != 1))
        rc = kcase_fail(kc, "the guest did not reach its UD2");
    if (!rc && hv_vcpu_run(t.vcpu, &t.exit) != HV_ERR_STATE)
        rc = kcase_fail(kc, "running a shut-down vCPU did not return HV_ERR_STATE");
    vmt_destroy(&t);
    /* The host is unharmed: a new VM runs normally. */
    if (!rc)
        rc = vmt_create(kc, ctx, &t, &guest_hlt);
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc && (t.nouts != 1 || t.outs[0].value != 1))
        rc = kcase_fail(kc, "the VM after the shutdown did not run");
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

/* States VM entry would refuse are refused by set_state, which then
   changes nothing: the vCPU still runs from where it was. */
static int case_invalid_state(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    struct hv_vcpu_state good, bad;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_hlt);
    if (!rc && hv_vcpu_get_state(t.vcpu, HV_STATE_ALL, &good) != HV_OK)
        rc = kcase_fail(kc, "get_state failed");
    static const char *const what[] = {
        "CR0.NW without CD",          "CR0.PG without PE",
        "EFER.LMA without paging",    "long mode with CS.L and CS.D",
        "long mode without CR4.PAE",  "CR0 upper half",
        "exception vector 2 pending",
    };
    for (unsigned i = 0; !rc && i < HV_ARRAY_SIZE(what); i++) {
        hv_memcpy(&bad, &good, sizeof(bad));
        switch (i) {
        case 0:
            bad.cr0 = 0x20000010; /* NW=1, CD=0 */
            break;
        case 1:
            bad.cr0 = 0x80000010;
            break;
        case 2:
            bad.efer = 0x500;
            break;
        case 3:
        case 4:
            bad.cr0 = 0x80000011;
            bad.cr4 = i == 3 ? 0x20 : 0;
            bad.efer = 0x500;
            bad.seg[HV_SEG_CS].attr = 0x0e9b; /* L, D/B, G */
            break;
        case 5:
            bad.cr0 = 0x100000010ull;
            break;
        default:
            bad.pending.type = HV_EVENT_EXCEPTION;
            bad.pending.vector = 2;
            break;
        }
        hv_status_t st = hv_vcpu_set_state(t.vcpu, HV_STATE_ALL, &bad);
        if (st != HV_ERR_INVALID_ARG)
            rc = kcase_fail(kc, "set_state with %s: %s, expected HV_ERR_INVALID_ARG", what[i],
                            hv_status_str(st));
    }
    /* Nothing was written: the guest starts from the reset state. */
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc && (t.nouts != 1 || t.outs[0].value != 1))
        rc = kcase_fail(kc, "the guest did not run normally after the refused states");
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_event_cases[] KCASE_TABLE = {
    {"vm.inject", case_inject, 0},
    {"vm.kick", case_kick, 0},
    {"vm.shutdown", case_shutdown, 0},
    {"vm.invalid_state", case_invalid_state, 0},
};
