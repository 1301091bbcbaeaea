/* Port I/O of each size (to the embedder and to a port handler), HLT, and the
   TSC offset (guests io.S, hlt.S, tsc.S). */
#include "vm_harness.h"

#include "core/util.h"

VMT_GUEST(io);
VMT_GUEST(hlt);
VMT_GUEST(tsc);

/* What the io guest writes, with the IN results it echoes on PORT_VAL. */
static const struct vmt_out io_outs[] = {
    {0x10, 1, 0x12},       {0x10, 2, 0x3456},
    {0x10, 4, 0x789abcde}, OUT_VAL(0xa5a5a55b), /* IN AL keeps EAX[31:8] */
    OUT_VAL(0xa5a5cafe),                        /* IN AX keeps EAX[31:16] */
    OUT_VAL(0x13579bdf),                        /* IN EAX */
    {0x1234, 1, 0x77},     OUT_VAL(0x4321),     /* DX-addressed port */
};

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
    if (!rc)
        rc = vmt_expect(&t, io_outs, HV_ARRAY_SIZE(io_outs));
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

/*
 * The io guest again with its device ports served by a handler
 * (hv_vm_pio_register): 0x10-0x17 and 0x1234-0x1235 are the handler's, which
 * records OUTs and answers INs as the embedder did in vm.io; PORT_VAL's
 * echoes of the IN results still exit, so the record must come out the
 * same, with only AL/AX replaced. Then the handler refuses the OUT to
 * 0x1234: the run stops there with HV_EXIT_UNHANDLED.
 */
struct io_dev {
    struct vmt *t;
    unsigned calls;
    bool refuse_1234;
};

static hv_status_t io_dev_port(void *opaque, uint16_t port, unsigned size, bool write,
                               uint32_t *value)
{
    struct io_dev *d = opaque;
    struct vmt *t = d->t;
    d->calls++;
    if (d->refuse_1234 && port == 0x1234)
        return HV_ERR_STATE;
    if (!write) {
        *value = vmt_io_guest_in(t, port, (uint8_t)size);
        return HV_OK;
    }
    if (t->nouts == VMT_MAX_OUTS)
        return HV_ERR_LIMIT;
    t->outs[t->nouts++] = (struct vmt_out){.port = port, .size = (uint8_t)size, .value = *value};
    return HV_OK;
}

static int run_io_with_handler(struct kcase_ctx *kc, struct hv_ctx *ctx, bool refuse)
{
    struct vmt t;
    struct io_dev d = {.t = &t, .refuse_1234 = refuse};
    hv_status_t st;
    int rc = vmt_create(kc, ctx, &t, &guest_io);
    t.on_in = NULL; /* an IN reaching the embedder ends vmt_run: the test fails */
    if (!rc && ((st = hv_vm_pio_register(t.vm, 0x10, 8, io_dev_port, &d)) != HV_OK ||
                (st = hv_vm_pio_register(t.vm, 0x1234, 2, io_dev_port, &d)) != HV_OK))
        rc = kcase_fail(kc, "hv_vm_pio_register: %s", hv_status_str(st));
    if (!rc && !refuse) {
        rc = vmt_run_until(&t, HV_EXIT_HLT);
        if (!rc)
            rc = vmt_expect(&t, io_outs, HV_ARRAY_SIZE(io_outs));
        if (!rc && d.calls != 8)
            rc = kcase_fail(kc,
                            "%u handler calls, expected 8 (3 OUT, 3 IN to 0x10/0x11, 2 to "
                            "0x1234)",
                            d.calls);
    } else if (!rc) {
        rc = vmt_run_until(&t, HV_EXIT_UNHANDLED);
        struct hv_vcpu_state vs;
        if (!rc && (t.exit.raw_info1 != HV_ERR_STATE || t.exit.raw_info2 != 0x1234))
            rc = kcase_fail(kc, "unhandled exit: status %llu, port 0x%llx",
                            (unsigned long long)t.exit.raw_info1,
                            (unsigned long long)t.exit.raw_info2);
        /* RIP stays on the OUT (EE: OUT DX, AL). */
        if (!rc && (hv_vcpu_get_state(t.vcpu, HV_STATE_GPR, &vs) != HV_OK || vs.rip != t.exit.rip ||
                    t.ram[vs.rip] != 0xee))
            rc = kcase_fail(kc, "RIP 0x%llx after the refused OUT, exit at 0x%llx",
                            (unsigned long long)vs.rip, (unsigned long long)t.exit.rip);
        if (!rc && t.nouts != 6)
            rc = kcase_fail(kc, "%u OUTs before the refused one, expected 6", t.nouts);
    }
    vmt_destroy(&t);
    return rc;
}

static int case_io_handler(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    int rc = run_io_with_handler(kc, ctx, false);
    if (!rc)
        rc = run_io_with_handler(kc, ctx, true);
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
    {"vm.io_handler", case_io_handler, 0},
    {"vm.hlt", case_hlt, 0},
    {"vm.tsc_offset", case_tsc, 0},
};
