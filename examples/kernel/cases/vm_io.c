/* Port I/O of each size, HLT, and the TSC offset (guests io.S, hlt.S, tsc.S). */
#include "vm_harness.h"

#include "core/util.h"

VMT_GUEST(io);
VMT_GUEST(hlt);
VMT_GUEST(tsc);

static int case_io(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_io);
    t.on_in = vmt_io_guest_in;
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc) {
        const struct vmt_out exp[] = {
            {0x10, 1, 0x12},       {0x10, 2, 0x3456},
            {0x10, 4, 0x789abcde}, OUT_VAL(0xa5a5a55b), /* IN AL keeps EAX[31:8] */
            OUT_VAL(0xa5a5cafe),                        /* IN AX keeps EAX[31:16] */
            OUT_VAL(0x13579bdf),                        /* IN EAX */
            {0x1234, 1, 0x77},     OUT_VAL(0x4321),     /* DX-addressed port */
        };
        rc = vmt_expect(&t, exp, HV_ARRAY_SIZE(exp));
    }
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static int case_hlt(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    struct hv_vcpu_state st;
    int rc;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_hlt);
    for (unsigned i = 1; !rc && i <= 3; i++) {
        rc = vmt_run_until(&t, HV_EXIT_HLT);
        if (rc)
            break;
        if (t.nouts != i || t.outs[i - 1].value != i)
            rc = kcase_fail(kc, "HLT %u: %u markers seen", i, t.nouts);
        else if (hv_vcpu_get_state(t.vcpu, HV_STATE_GPR, &st) != HV_OK)
            rc = kcase_fail(kc, "get_state failed");
        else if (st.rip != t.exit.rip + 1 && st.rip != (t.exit.rip & 0xffff) + 1)
            rc = kcase_fail(kc, "HLT %u at 0x%llx: RIP 0x%llx is not past it", i,
                            (unsigned long long)t.exit.rip, (unsigned long long)st.rip);
    }
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

/* The guest's RDTSC is the host TSC plus the vCPU's offset. */
static int case_tsc(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt t;
    struct hv_vcpu_state st;
    int rc;
    const uint64_t offset = 0x4000000000000000ull;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &guest_tsc);
    if (!rc) {
        hv_memset(&st, 0, sizeof(st));
        st.tsc_offset = offset;
        if (hv_vcpu_set_state(t.vcpu, HV_STATE_TSC, &st) != HV_OK)
            rc = kcase_fail(kc, "set_state TSC failed");
    }
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t before = ((uint64_t)hi << 32) | lo;
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t after = ((uint64_t)hi << 32) | lo;
    if (!rc && t.nouts != 2)
        rc = kcase_fail(kc, "%u values, expected 2", t.nouts);
    if (!rc) {
        uint64_t guest = ((uint64_t)t.outs[0].value << 32) | t.outs[1].value;
        if (guest < before + offset || guest > after + offset)
            rc = kcase_fail(kc, "guest TSC 0x%llx outside [0x%llx, 0x%llx] + offset",
                            (unsigned long long)guest, (unsigned long long)before,
                            (unsigned long long)after);
    }
    if (!rc && (hv_vcpu_get_state(t.vcpu, HV_STATE_TSC, &st) != HV_OK || st.tsc_offset != offset))
        rc = kcase_fail(kc, "TSC offset did not read back");
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_io_cases[] KCASE_TABLE = {
    {"vm.io", case_io, 0},
    {"vm.hlt", case_hlt, 0},
    {"vm.tsc_offset", case_tsc, 0},
};
