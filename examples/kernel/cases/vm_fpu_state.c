/*
 * vm.fpu_state: the guest's x87/SSE state through hv_vcpu_get_fpu() and
 * hv_vcpu_set_fpu() (hv/fpu.h), on a real guest (tests/system/guests/
 * fpu.S). The embedder sets XMM0, XMM15, MXCSR, FCW, FSW and ST0; the
 * guest stores what it finds, loads other values and halts; the embedder
 * reads those back. Between the two, a set whose MXCSR has a bit outside
 * the host's MXCSR_MASK (FXRSTOR would raise #GP in the host at the run)
 * must be refused and change nothing, and the host's own x87/SSE state,
 * set before the run, must come back whole.
 */
#include "core/objects.h"
#include "core/util.h"
#include "cpu.h"
#include "vm_harness.h"

VMT_GUEST(fpu);

#define FPU_REPORT 0x80000u /* guests/fpu.S */

/* FXSAVE image offsets (SDM Vol. 1 10.5.1, table 10-2). */
#define FX_FCW   0
#define FX_FSW   2
#define FX_FTW   4
#define FX_MXCSR 24
#define FX_MASK  28
#define FX_ST0   32
#define FX_XMM0  160

static void fx_save(uint8_t *a)
{
    __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])a));
}

static void fx_restore(const uint8_t *a)
{
    __asm__ volatile("fxrstor64 %0" ::"m"(*(const uint8_t(*)[512])a));
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    hv_memcpy(&v, p, sizeof(v));
    return v;
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    hv_memcpy(&v, p, sizeof(v));
    return v;
}

static void fill(uint8_t *p, unsigned n, uint8_t seed)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 13);
}

/* The values of guests/fpu.S (new_*). */
static const uint8_t new_xmm0[16] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
                                     0x00, 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99};
static const uint8_t new_xmm15[16] = {0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f,
                                      0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87};
static const uint8_t new_st0[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xbf}; /* -1.5 */
#define NEW_FCW   0x0c7fu
#define NEW_MXCSR 0xffa0u

/* The embedder's values for the guest. */
static const uint8_t set_st0[10] = {0x35, 0xc2, 0x68, 0x21, 0xa2,
                                    0xda, 0x0f, 0xc9, 0x00, 0x40}; /* pi */
#define SET_FCW   0x027fu /* PC = 10 (double), all masked */
#define SET_FSW   0x6900u /* C3, TOP = 5, C0 */
#define SET_FTW   0x20u   /* R5 (ST0 with TOP = 5) valid */
#define SET_MXCSR 0x5f80u /* RC = 10 (up), all masked */

/* The embedder's values for the guest in an image from get_fpu: the
   SET_* ones and XMM0/XMM15 filled from the seeds given. */
static void guest_image(struct hv_fpu_state *set, uint8_t xmm0_seed, uint8_t xmm15_seed)
{
    fill(set->xmm[0], 16, xmm0_seed);
    fill(set->xmm[15], 16, xmm15_seed);
    set->fcw = SET_FCW;
    set->fsw = SET_FSW;
    set->ftw = SET_FTW;
    hv_memcpy(set->st[0], set_st0, 10);
    set->mxcsr = SET_MXCSR;
}

/* The host's x87/SSE state around the run: every register its own. */
static void host_image(uint8_t *img)
{
    fx_save(img);
    img[FX_FCW] = 0x7f;
    img[FX_FCW + 1] = 0x03;
    img[FX_FSW] = 0;
    img[FX_FSW + 1] = 3 << 3; /* TOP = 3 */
    img[FX_FTW] = 0x08;       /* R3 valid */
    for (unsigned i = 0; i < 8; i++)
        hv_memset(img + FX_ST0 + 16 * i, 0, 16);
    img[FX_ST0 + 7] = 0xa0; /* ST0 = 5.0: 4001 A000000000000000 */
    img[FX_ST0 + 8] = 0x01;
    img[FX_ST0 + 9] = 0x40;
    uint32_t mxcsr = 0x3f80; /* RC = 01 (down) */
    hv_memcpy(img + FX_MXCSR, &mxcsr, 4);
    fill(img + FX_XMM0, 256, 0x40);
}

/* The host's state after the run against the image it set. */
static int host_check(struct kcase_ctx *kc, const uint8_t *want, const uint8_t *got)
{
    if (rd16(got + FX_FCW) != rd16(want + FX_FCW) || rd16(got + FX_FSW) != rd16(want + FX_FSW) ||
        got[FX_FTW] != want[FX_FTW] || rd32(got + FX_MXCSR) != rd32(want + FX_MXCSR))
        return kcase_fail(kc, "host FCW/FSW/FTW/MXCSR %x/%x/%x/%x after the run, not %x/%x/%x/%x",
                          rd16(got + FX_FCW), rd16(got + FX_FSW), got[FX_FTW], rd32(got + FX_MXCSR),
                          rd16(want + FX_FCW), rd16(want + FX_FSW), want[FX_FTW],
                          rd32(want + FX_MXCSR));
    for (unsigned i = 0; i < 8; i++)
        if (hv_memcmp(got + FX_ST0 + 16 * i, want + FX_ST0 + 16 * i, 10))
            return kcase_fail(kc, "host ST%u changed across the run", i);
    for (unsigned i = 0; i < 16; i++)
        if (hv_memcmp(got + FX_XMM0 + 16 * i, want + FX_XMM0 + 16 * i, 16))
            return kcase_fail(kc, "host XMM%u changed across the run", i);
    return 0;
}

/* What the guest stored at FPU_REPORT: the values the embedder set. */
static int report_check(struct kcase_ctx *kc, const uint8_t *r, const struct hv_fpu_state *set)
{
    if (hv_memcmp(r, set->xmm[0], 16) || hv_memcmp(r + 16, set->xmm[15], 16))
        return kcase_fail(kc, "the guest read XMM0 %08x.. XMM15 %08x.., not the %08x.. %08x.. set",
                          rd32(r), rd32(r + 16), rd32(set->xmm[0]), rd32(set->xmm[15]));
    if (rd32(r + 32) != SET_MXCSR || rd16(r + 36) != SET_FCW || rd16(r + 38) != SET_FSW)
        return kcase_fail(kc, "the guest read MXCSR %x FCW %x FSW %x, not %x %x %x", rd32(r + 32),
                          rd16(r + 36), rd16(r + 38), SET_MXCSR, SET_FCW, SET_FSW);
    if (hv_memcmp(r + 48, set_st0, 10))
        return kcase_fail(kc, "the guest read ST0 %04x:%08x%08x, not the value set", rd16(r + 56),
                          rd32(r + 52), rd32(r + 48));
    return 0;
}

/* The state the guest left, through the API. */
static int result_check(struct kcase_ctx *kc, const struct hv_fpu_state *g, uint32_t mask)
{
    if (hv_memcmp(g->xmm[0], new_xmm0, 16) || hv_memcmp(g->xmm[15], new_xmm15, 16))
        return kcase_fail(kc, "get_fpu: XMM0 %08x.. XMM15 %08x.., not the guest's", rd32(g->xmm[0]),
                          rd32(g->xmm[15]));
    /* After FSTP and FLD: TOP 5 again, R5 valid, no exception (ES);
       FLD leaves C0, C2, C3 undefined (SDM Vol. 2A FLD). */
    if (g->mxcsr != NEW_MXCSR || g->fcw != NEW_FCW || (g->fsw & 0x3880) != 0x2800 ||
        g->ftw != SET_FTW || g->mxcsr_mask != mask)
        return kcase_fail(kc, "get_fpu: MXCSR %x FCW %x FSW %x FTW %x mask %x, not %x %x %x %x %x",
                          g->mxcsr, g->fcw, g->fsw, g->ftw, g->mxcsr_mask, NEW_MXCSR, NEW_FCW,
                          0x2800, SET_FTW, mask);
    if (hv_memcmp(g->st[0], new_st0, 10))
        return kcase_fail(kc, "get_fpu: ST0 is not the guest's -1.5");
    return 0;
}

/* The whole exchange on a VM of ctx; name prefixes the summary line. */
static int fpu_exchange(struct kcase_ctx *kc, struct hv_ctx *ctx, const char *name)
{
    struct vmt t;
    struct hv_fpu_state set, bad, got;
    uint8_t kernel_fpu[512] __attribute__((aligned(16)));
    uint8_t host_set[512] __attribute__((aligned(16)));
    uint8_t host_after[512] __attribute__((aligned(16)));
    int rc;

    hv_memset(&t, 0, sizeof(t));
    rc = vmt_create(kc, ctx, &t, &guest_fpu);

    /* The mask the library must report: this CPU's (SDM Vol. 1 11.6.6). */
    fx_save(kernel_fpu);
    uint32_t mask = rd32(kernel_fpu + FX_MASK) ? rd32(kernel_fpu + FX_MASK) : 0xffbf;
    if (!rc && hv_vcpu_get_fpu(t.vcpu, &got) != HV_OK)
        rc = kcase_fail(kc, "get_fpu of a new vCPU failed");
    if (!rc &&
        (got.fcw != HV_FPU_FCW_INIT || got.mxcsr != HV_FPU_MXCSR_INIT || got.mxcsr_mask != mask))
        rc = kcase_fail(kc, "new vCPU: FCW %x MXCSR %x mask %x, not %x %x %x", got.fcw, got.mxcsr,
                        got.mxcsr_mask, HV_FPU_FCW_INIT, HV_FPU_MXCSR_INIT, mask);

    hv_memcpy(&set, &got, sizeof(set));
    guest_image(&set, 0x10, 0xf0);
    if (!rc && hv_vcpu_set_fpu(t.vcpu, &set) != HV_OK)
        rc = kcase_fail(kc, "set_fpu refused a valid image");

    /* The lowest MXCSR bit this CPU lacks: FXRSTOR would #GP in the host. */
    uint32_t bad_bit = 1;
    while (bad_bit && (mask & bad_bit))
        bad_bit <<= 1;
    hv_memcpy(&bad, &set, sizeof(bad));
    fill(bad.xmm[0], 16, 0x99);
    bad.mxcsr = SET_MXCSR | bad_bit;
    bad.mxcsr_mask = 0xffffffffu;
    if (!rc && hv_vcpu_set_fpu(t.vcpu, &bad) != HV_ERR_INVALID_ARG)
        rc = kcase_fail(kc, "set_fpu took MXCSR %x with host mask %x", bad.mxcsr, mask);

    /* The host's own state, then the run: the guest must see the values
       set (not the refused ones), the host its own afterwards. */
    if (!rc) {
        host_image(host_set);
        fx_restore(host_set);
        rc = vmt_run_until(&t, HV_EXIT_HLT);
        fx_save(host_after);
        fx_restore(kernel_fpu);
        if (!rc)
            rc = host_check(kc, host_set, host_after);
    }
    if (!rc && (t.nouts != 1 || t.outs[0].port != PORT_MARK || t.outs[0].value != 1))
        rc = kcase_fail(kc, "the guest did not reach its report (%u OUTs)", t.nouts);
    if (!rc)
        rc = report_check(kc, t.ram + FPU_REPORT, &set);
    if (!rc && hv_vcpu_get_fpu(t.vcpu, &got) != HV_OK)
        rc = kcase_fail(kc, "get_fpu after the run failed");
    if (!rc)
        rc = result_check(kc, &got, mask);
    if (!rc)
        kprintf("%s: host MXCSR_MASK 0x%x, MXCSR bit 0x%x refused; guest read and "
                "wrote XMM0/XMM15/ST0/MXCSR/FCW\n",
                name, mask, bad_bit);
    vmt_destroy(&t);
    return rc;
}

static int case_fpu_state(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    int rc = fpu_exchange(kc, ctx, "vm.fpu_state");
    hv_ctx_destroy(ctx);
    return rc;
}

/* GDTR's limit (SGDT): VM exits on VMX leave it 0xffff (SDM Vol. 3C
   28.5.2) until the library loads the host's back. */
static uint16_t gdt_limit(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } d;
    __asm__ volatile("sgdt %0" : "=m"(d));
    return d.limit;
}

/* The CPU's x87/SSE registers against XMM0/XMM15/MXCSR of a guest. */
static int cpu_holds(struct kcase_ctx *kc, const char *when, const uint8_t *xmm0,
                     const uint8_t *xmm15, uint32_t mxcsr)
{
    uint8_t img[512] __attribute__((aligned(16)));
    fx_save(img);
    if (hv_memcmp(img + FX_XMM0, xmm0, 16) || hv_memcmp(img + FX_XMM0 + 15 * 16, xmm15, 16) ||
        rd32(img + FX_MXCSR) != mxcsr)
        return kcase_fail(kc,
                          "%s: the CPU holds XMM0 %08x.. XMM15 %08x.. MXCSR %x, not the "
                          "guest's %08x.. %08x.. %x",
                          when, rd32(img + FX_XMM0), rd32(img + FX_XMM0 + 15 * 16),
                          rd32(img + FX_MXCSR), rd32(xmm0), rd32(xmm15), mxcsr);
    return 0;
}

/* One hv_vcpu_run of a, the exit it must end with. */
static int run_to(struct vmt *t, uint32_t reason)
{
    hv_status_t st = hv_vcpu_run(t->vcpu, &t->exit);
    if (st != HV_OK || t->exit.reason != reason)
        return kcase_fail(t->kc, "hv_vcpu_run: %s, exit %s, expected %s", hv_status_str(st),
                          vmt_exit_name(t->exit.reason), vmt_exit_name(reason));
    return 0;
}

/*
 * vm.load: hv_vcpu_load with HV_LOAD_GUEST_FPU around the fpu guest's two
 * runs (to its report OUT, then to its HLT). The guest's x87/SSE state is
 * the CPU's from the load (the values set) to the put (the values the
 * guest left, still there after the runs return: no run switches it);
 * the host's comes back whole at the put. Meanwhile the state cannot be
 * read, the vCPU neither loaded again nor destroyed; a run while it is
 * bound to another CPU is refused without entering the guest; another
 * vCPU, not loaded, runs on this CPU between the two runs (its own switch
 * keeps the loaded guest's registers); on VMX the GDTR limit a VM exit
 * leaves (0xffff) stays until the put, which restores it.
 */
static int case_load(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct vmt a, b;
    struct hv_fpu_state set, got;
    uint8_t kernel_fpu[512] __attribute__((aligned(16)));
    uint8_t host_set[512] __attribute__((aligned(16)));
    uint8_t host_after[512] __attribute__((aligned(16)));
    struct hv_caps caps;
    hv_status_t st;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    hv_memset(&a, 0, sizeof(a));
    hv_memset(&b, 0, sizeof(b));
    hv_memset(&caps, 0, sizeof(caps));
    caps.size = sizeof(caps);
    int rc = hv_ctx_caps(ctx, &caps) != HV_OK ? kcase_fail(kc, "hv_ctx_caps failed") : 0;
    bool vmx = caps.backend == HV_BACKEND_VMX;
    if (!rc)
        rc = vmt_create(kc, ctx, &a, &guest_fpu);
    if (!rc)
        rc = vmt_create(kc, ctx, &b, &guest_fpu);
    if (!rc && hv_vcpu_get_fpu(a.vcpu, &set) != HV_OK)
        rc = kcase_fail(kc, "get_fpu of a new vCPU failed");
    guest_image(&set, 0x21, 0xe1);
    if (!rc && (hv_vcpu_set_fpu(a.vcpu, &set) != HV_OK || hv_vcpu_set_fpu(b.vcpu, &set) != HV_OK))
        rc = kcase_fail(kc, "set_fpu refused a valid image");
    if (rc)
        goto out;

    uint16_t gdt_host = gdt_limit();
    fx_save(kernel_fpu);
    host_image(host_set);
    fx_restore(host_set);
    st = hv_vcpu_load(a.vcpu, HV_LOAD_GUEST_FPU);
    if (st != HV_OK) {
        fx_restore(kernel_fpu);
        rc = kcase_fail(kc, "hv_vcpu_load: %s", hv_status_str(st));
        goto out;
    }
    rc = cpu_holds(kc, "after the load", set.xmm[0], set.xmm[15], SET_MXCSR);
    if (!rc &&
        (hv_vcpu_load(a.vcpu, 0) != HV_ERR_BUSY || hv_vcpu_get_fpu(a.vcpu, &got) != HV_ERR_BUSY ||
         hv_vcpu_set_fpu(a.vcpu, &set) != HV_ERR_BUSY || hv_vcpu_destroy(a.vcpu) != HV_ERR_BUSY))
        rc = kcase_fail(kc, "a loaded vCPU: load, get_fpu, set_fpu or destroy not refused");
    /* Bound to another CPU (as if this thread had moved): refused before
       the entry, the guest untouched. */
    if (!rc) {
        a.vcpu->loaded_cpu ^= 1;
        st = hv_vcpu_run(a.vcpu, &a.exit);
        a.vcpu->loaded_cpu ^= 1;
        if (st != HV_ERR_STATE)
            rc = kcase_fail(kc, "a run away from the CPU of the load: %s, not HV_ERR_STATE",
                            hv_status_str(st));
    }
    if (!rc)
        rc = run_to(&a, HV_EXIT_IO);
    if (!rc && (a.exit.io.port != PORT_MARK || a.exit.io.data != 1))
        rc = kcase_fail(kc, "first exit: port 0x%x value %llu, not the report's MARK 1",
                        a.exit.io.port, (unsigned long long)a.exit.io.data);
    if (!rc && vmx && gdt_limit() != 0xffff)
        rc = kcase_fail(kc, "VMX, loaded: GDTR limit 0x%x between runs, expected the exit's 0xffff",
                        gdt_limit());
    /* Another vCPU on this CPU meanwhile, with the usual switch. */
    if (!rc)
        rc = vmt_run_until(&b, HV_EXIT_HLT);
    if (!rc)
        rc = report_check(kc, b.ram + FPU_REPORT, &set);
    if (!rc)
        rc = run_to(&a, HV_EXIT_HLT);
    if (!rc)
        rc = cpu_holds(kc, "after the last run", new_xmm0, new_xmm15, NEW_MXCSR);
    st = hv_vcpu_put(a.vcpu);
    fx_save(host_after);
    fx_restore(kernel_fpu);
    if (!rc && st != HV_OK)
        rc = kcase_fail(kc, "hv_vcpu_put: %s", hv_status_str(st));
    if (!rc)
        rc = host_check(kc, host_set, host_after);
    if (!rc && gdt_limit() != gdt_host)
        rc = kcase_fail(kc, "GDTR limit 0x%x after the put, not the host's 0x%x", gdt_limit(),
                        gdt_host);
    if (!rc)
        rc = report_check(kc, a.ram + FPU_REPORT, &set);
    if (!rc && hv_vcpu_get_fpu(a.vcpu, &got) != HV_OK)
        rc = kcase_fail(kc, "get_fpu after the put failed");
    if (!rc)
        rc = result_check(kc, &got, got.mxcsr_mask);
    if (!rc && hv_vcpu_put(a.vcpu) != HV_ERR_STATE)
        rc = kcase_fail(kc, "a second put was not refused");
    if (!rc)
        kprintf("vm.load: guest x87/SSE state in the CPU from load to put, host's back; run "
                "elsewhere refused; another vCPU ran between%s\n",
                vmx ? "; GDTR limit restored at the put" : "");
out:
    vmt_destroy(&a);
    vmt_destroy(&b);
    hv_ctx_destroy(ctx);
    return rc;
}

#define MSR_EFER   0xc0000080u
#define EFER_FFXSR (1ull << 14) /* AMD fast FXSAVE/FXRSTOR (APM Vol. 2 3.1.7) */

static void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/*
 * vm.fpu_ffxsr: a host that runs with EFER.FFXSR, under which FXSAVE and
 * FXRSTOR in 64-bit mode at CPL 0 skip XMM0-15 (APM Vol. 2 3.1.7, Vol. 4
 * FXSAVE): the library's switch of the x87/SSE state would then leave the
 * host's XMM registers to the guest and the guest's to the host. Set on
 * this CPU before the context exists, the bit must be clear while it
 * does (the exchange above passes), and set again after hv_ctx_destroy.
 */
static int case_fpu_ffxsr(struct kcase_ctx *kc)
{
    uint32_t r[4];
    cpuid(0x80000000u, 0, r);
    bool has = false;
    if (r[0] >= 0x80000001u) {
        cpuid(0x80000001u, 0, r);
        has = (r[3] >> 25) & 1;
    }
    if (!has) {
        kprintf("vm.fpu_ffxsr: this CPU has no EFER.FFXSR: nothing to check\n");
        return 0;
    }
    uint64_t efer = rdmsr(MSR_EFER);
    wrmsr(MSR_EFER, efer | EFER_FFXSR);
    struct hv_ctx *ctx;
    int rc = vmt_ctx_create(kc, &ctx);
    if (rc) {
        wrmsr(MSR_EFER, efer);
        return rc;
    }
    if (rdmsr(MSR_EFER) & EFER_FFXSR)
        rc = kcase_fail(kc, "EFER.FFXSR still set with the context enabled on this CPU");
    if (!rc)
        rc = fpu_exchange(kc, ctx, "vm.fpu_ffxsr");
    hv_ctx_destroy(ctx);
    if (!rc && !(rdmsr(MSR_EFER) & EFER_FFXSR))
        rc = kcase_fail(kc, "EFER.FFXSR not set again after hv_ctx_destroy");
    wrmsr(MSR_EFER, efer);
    if (!rc)
        kprintf("vm.fpu_ffxsr: EFER.FFXSR clear while the context lived, set again after\n");
    return rc;
}

static const struct kcase vm_fpu_state_cases[] KCASE_TABLE = {
    {"vm.fpu_state", case_fpu_state, 0},
    {"vm.fpu_ffxsr", case_fpu_ffxsr, 0},
    {"vm.load", case_load, 0},
};
