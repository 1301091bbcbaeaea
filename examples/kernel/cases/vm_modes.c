/*
 * Guest CPU modes: the architectural reset state of a new vCPU, and a guest
 * that walks itself through every paging mode and back (guests/modes.S).
 */
#include "vm_harness.h"

#include "core/util.h"

VMT_GUEST(modes);

/* A new vCPU is in the INIT state (SDM Vol. 3A 9.1.4, APM Vol. 2 14.1.3)
   and the guest's view of EFER hides the virtualization bit. */
static int case_reset_state(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    struct hv_vcpu_state st;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_modes);
    if (!rc && hv_vcpu_get_state(t.vcpu, HV_STATE_ALL, &st) != HV_OK)
        rc = kcase_fail(kc, "get_state failed");
    if (!rc) {
        const struct hv_segment *cs = &st.seg[HV_SEG_CS];
        if (cs->selector != 0xf000 || cs->base != 0xffff0000ull || cs->limit != 0xffff ||
            st.rip != 0xfff0)
            rc = kcase_fail(kc,
                            "CS:IP %x:%llx base 0x%llx limit 0x%x, expected f000:fff0 "
                            "base 0xffff0000",
                            cs->selector, (unsigned long long)st.rip, (unsigned long long)cs->base,
                            cs->limit);
        else if (st.cr0 != 0x60000010ull || st.cr3 || st.cr4 || st.efer)
            rc = kcase_fail(kc,
                            "CR0 0x%llx CR3 0x%llx CR4 0x%llx EFER 0x%llx, expected "
                            "0x60000010 0 0 0",
                            (unsigned long long)st.cr0, (unsigned long long)st.cr3,
                            (unsigned long long)st.cr4, (unsigned long long)st.efer);
        else if (st.rflags != 2 || st.dr7 != 0x400 || st.gdtr.limit != 0xffff ||
                 st.idtr.limit != 0xffff || st.pat != 0x0007040600070406ull)
            rc = kcase_fail(kc, "RFLAGS 0x%llx DR7 0x%llx GDTR/IDTR limit %x/%x PAT 0x%llx",
                            (unsigned long long)st.rflags, (unsigned long long)st.dr7,
                            st.gdtr.limit, st.idtr.limit, (unsigned long long)st.pat);
        else if (st.pending.type != HV_EVENT_NONE || st.interrupt_shadow)
            rc = kcase_fail(kc, "events pending at reset");
    }
    /* And the guest really starts there: the reset vector jumps to 0x1000. */
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc && (t.nouts < 1 || t.outs[0].port != PORT_MARK || t.outs[0].value != 1))
        rc = kcase_fail(kc, "the guest did not start at the reset vector");
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static int case_modes(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    struct hv_vcpu_state st;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_modes);
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc) {
        /* EFER in long mode: LME|LMA (0x500), never SVME (0x1000). */
        uint32_t first = *(const uint32_t *)guest_modes_start;
        const struct vmt_out exp[] = {
            OUT_MARK(1), OUT_VAL(first),      OUT_MARK(2), OUT_VAL(0x11111111),
            OUT_MARK(3), OUT_VAL(0x22222222), OUT_MARK(4), OUT_VAL(0x33333333),
            OUT_MARK(5), OUT_VAL(0x500),      OUT_MARK(6), OUT_VAL(0),
            OUT_MARK(7), OUT_VAL(first),
        };
        rc = vmt_expect(&t, exp, HV_ARRAY_SIZE(exp));
    }
    if (!rc && hv_vcpu_get_state(t.vcpu, HV_STATE_ALL, &st) != HV_OK)
        rc = kcase_fail(kc, "get_state failed");
    if (!rc && ((st.cr0 & 0x80000001ull) || st.efer || (st.cr4 & 0x20)))
        rc = kcase_fail(kc, "final CR0 0x%llx CR4 0x%llx EFER 0x%llx: not back in real mode",
                        (unsigned long long)st.cr0, (unsigned long long)st.cr4,
                        (unsigned long long)st.efer);
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_mode_cases[] KCASE_TABLE = {
    {"vm.reset_state", case_reset_state, 0},
    {"vm.modes", case_modes, 0},
};
