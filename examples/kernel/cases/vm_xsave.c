/*
 * vm.xsave: a guest's XCR0 and YMM registers (core/xsave.h, hv/xsave.h),
 * on a real guest (tests/system/guests/xsave.S).
 *
 * The host (this kernel) enables CR4.OSXSAVE and XCR0 = x87|SSE|AVX for
 * itself and puts a pattern in its YMM0-15; the guest
 *   - gets #UD for XSETBV without CR4.OSXSAVE, sees CPUID.1 OSXSAVE follow
 *     its CR4,
 *   - gets #GP for bad XCR0 values (no x87, AVX without SSE, ECX = 1,
 *     PKRU, AVX-512 incomplete where offered) and XCR0 stays x87,
 *   - sets XCR0 = 7, reads it back (XGETBV, CPUID 0DH.0 EBX = 832),
 *     loads distinct YMM0-15 and exits: the host checks its own YMM
 *     survived, clobbers them, reads the guest's through
 *     hv_vcpu_get_xsave(); the guest stores its YMM (all must have
 *     survived) and exits again: the embedder's hv_vcpu_set_xsave()
 *     (after refusing bad XCR0, XSTATE_BV and header values) writes new
 *     ones, which the guest stores;
 *   - with XCR0 = 3 again gets #UD for VEX, then loads other YMM values
 *     with XCR0 = 7 and halts: the host reads them through the API and
 *     checks its own YMM and XCR0.
 * Where AVX-512 is offered (Bochs Ice Lake) the guest then sets XCR0 =
 * 0xe7 and loads ZMM16, ZMM31, ZMM15's upper half, K1 and K7: the host
 * reads them through the API and writes ZMM16 and K1, which the guest
 * stores. A CPU without AVX (qemu64) says "skipped: no AVX". QEMU 7.2's TCG does
 * not intercept XSETBV (SVM): its own checks run in the guest and the
 * library adopts a valid value after the exit (backends/svm/svm_xcr0.h);
 * a CPU model with PKRU (max) takes 0x207 there, which the library
 * undoes at the next entry: the case reports it and checks that XGETBV
 * reads x87 again.
 * vm.xsave_load runs the same with the vCPU loaded (hv_vcpu_load with
 * HV_LOAD_GUEST_FPU) around the runs and put for the embedder's side.
 */
#include "core/cpu.h"
#include "core/util.h"
#include "cpu.h"
#include "vm_harness.h"

VMT_GUEST(xsave);

#define XS_REPORT 0x80000u /* guests/xsave.S */
#define VEC_UD    6u
#define VEC_GP    13u
#define YMM_HI    576u /* AVX state (upper halves of YMM0-15): CPUID 0DH.2 EBX */

static void ymm_load(const uint8_t *p)
{
    __asm__ volatile(".irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
                     "vmovdqu 32 * \\r(%0), %%ymm\\r\n\t"
                     ".endr" ::"r"(p)
                     : "memory");
}

static void ymm_store(uint8_t *p)
{
    __asm__ volatile(".irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
                     "vmovdqu %%ymm\\r, 32 * \\r(%0)\n\t"
                     ".endr" ::"r"(p)
                     : "memory");
}

/* YMM i, dword k of a pattern: base + (i << 8) + k (row offset: the
   guest's step 7 loads its table from row 1). */
static void pattern(uint8_t *p, uint32_t base, unsigned row0)
{
    for (unsigned i = 0; i < 16; i++)
        for (unsigned k = 0; k < 8; k++) {
            uint32_t v = base + ((i + row0) << 8) + k;
            hv_memcpy(p + 32 * i + 4 * k, &v, 4);
        }
}

/* A YMM image (16 x 32 bytes) from an XSAVE image: XMM at 160, the upper
   halves at 576. */
static void from_xsave(uint8_t *ymm, const uint8_t *img)
{
    for (unsigned i = 0; i < 16; i++) {
        hv_memcpy(ymm + 32 * i, img + 160 + 16 * i, 16);
        hv_memcpy(ymm + 32 * i + 16, img + YMM_HI + 16 * i, 16);
    }
}

static void to_xsave(uint8_t *img, const uint8_t *ymm)
{
    for (unsigned i = 0; i < 16; i++) {
        hv_memcpy(img + 160 + 16 * i, ymm + 32 * i, 16);
        hv_memcpy(img + YMM_HI + 16 * i, ymm + 32 * i + 16, 16);
    }
}

struct xs_run {
    struct kcase_ctx *kc;
    unsigned ins;
    int rc;
    bool avx512;
    /* vm.xsave_load: the vCPU loaded with HV_LOAD_GUEST_FPU around the
       runs, put only for the embedder's side between them. */
    bool loaded;
    uint8_t host1[512], host2[512], guest1[512], guest2[512];
    uint8_t img[HV_XSAVE_MAX_SIZE] __attribute__((aligned(64)));
    uint8_t buf[512];
    uint32_t off[8]; /* CPUID 0DH.i EBX: the standard-format offsets */
};

/* dword k of row r of the guest's zmm_tab (guests/xsave.S). */
static uint32_t zmm_dword(unsigned r, unsigned k)
{
    return 0x7b000000u + (r << 8) + k;
}

static bool zmm_row_is(const uint8_t *p, unsigned r, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        uint32_t v;
        hv_memcpy(&v, p + 4 * k, 4);
        if (v != zmm_dword(r, k))
            return false;
    }
    return true;
}

/* The AVX-512 exchange (step 8, the fourth IN). */
static int at_in_avx512(struct vmt *t, struct xs_run *x)
{
    struct kcase_ctx *kc = x->kc;
    uint64_t xcr0 = 0, bv;
    size_t used = 0;
    if (hv_vcpu_get_xsave(t->vcpu, &xcr0, x->img, sizeof(x->img), &used) != HV_OK)
        return kcase_fail(kc, "get_xsave with AVX-512 failed");
    hv_memcpy(&bv, x->img + HV_XSAVE_HEADER, 8);
    if (xcr0 != 0xe7 || (bv & 0xe0) != 0xe0)
        return kcase_fail(kc, "get_xsave: XCR0 0x%lx XSTATE_BV 0x%lx, want 0xe7 with 0xe0",
                          (unsigned long)xcr0, (unsigned long)bv);
    const uint8_t *k = x->img + x->off[5], *hi = x->img + x->off[6], *z = x->img + x->off[7];
    uint64_t k1, k7;
    hv_memcpy(&k1, k + 8, 8);
    hv_memcpy(&k7, k + 56, 8);
    if (k1 != 0x1234 || k7 != 0xfedc)
        return kcase_fail(kc, "get_xsave: K1 0x%lx K7 0x%lx", (unsigned long)k1, (unsigned long)k7);
    if (!zmm_row_is(z, 0, 16) || !zmm_row_is(z + 15 * 64, 1, 16) || !zmm_row_is(hi + 15 * 32, 2, 8))
        return kcase_fail(kc, "get_xsave: ZMM16, ZMM31 or ZMM15's upper half not the guest's");
    /* New ZMM16 and K1 for the guest. */
    for (unsigned i = 0; i < 64; i++)
        x->img[x->off[7] + i] = (uint8_t)(0xc3 ^ i);
    k1 = 0x4321;
    hv_memcpy(x->img + x->off[5] + 8, &k1, 8);
    if (hv_vcpu_set_xsave(t->vcpu, 0x67, x->img, sizeof(x->img)) != HV_ERR_INVALID_ARG)
        return kcase_fail(kc, "set_xsave took XCR0 0x67 (two AVX-512 bits of three)");
    if (hv_vcpu_set_xsave(t->vcpu, 0xe7, x->img, used) != HV_OK)
        return kcase_fail(kc, "set_xsave refused an AVX-512 image");
    return 0;
}

static int first_diff(const uint8_t *a, const uint8_t *b)
{
    for (unsigned i = 0; i < 512; i++)
        if (a[i] != b[i])
            return (int)i;
    return -1;
}

/* The embedder's side of steps 5 and 6 (between runs). */
static int at_in(struct vmt *t, struct xs_run *x)
{
    struct kcase_ctx *kc = x->kc;
    uint64_t xcr0 = 0;
    size_t used = 0;
    int d;
    ymm_store(x->buf);
    if (x->ins == 2) {
        /* The host's YMM kept across the guest's run (its own came back at
           the end of hv_vcpu_run), then clobbered. */
        if ((d = first_diff(x->buf, x->host1)) >= 0)
            return kcase_fail(kc, "host YMM%d changed across the guest's run", d / 32);
        ymm_load(x->host2);
        if (hv_vcpu_get_xsave(t->vcpu, &xcr0, x->img, sizeof(x->img), &used) != HV_OK)
            return kcase_fail(kc, "get_xsave failed");
        uint64_t bv;
        hv_memcpy(&bv, x->img + HV_XSAVE_HEADER, 8);
        if (xcr0 != 7 || used != 832 || bv != 7)
            return kcase_fail(kc,
                              "get_xsave: XCR0 0x%lx, %lu bytes, XSTATE_BV 0x%lx; want 7, 832, 7",
                              (unsigned long)xcr0, (unsigned long)used, (unsigned long)bv);
        from_xsave(x->buf, x->img);
        if ((d = first_diff(x->buf, x->guest1)) >= 0)
            return kcase_fail(kc, "get_xsave: YMM%d byte %d is not the guest's", d / 32, d % 32);
        return 0;
    }
    /* ins == 3: refusals, then new values. */
    if ((d = first_diff(x->buf, x->host2)) >= 0)
        return kcase_fail(kc, "host YMM%d changed across the guest's second run", d / 32);
    if (hv_vcpu_get_xsave(t->vcpu, &xcr0, x->img, sizeof(x->img), &used) != HV_OK)
        return kcase_fail(kc, "get_xsave failed");
    if (hv_vcpu_get_xsave(t->vcpu, &xcr0, x->img, 831, &used) != HV_ERR_RANGE || used != 832)
        return kcase_fail(kc, "get_xsave took a buffer of 831 bytes");
    to_xsave(x->img, x->guest2);
    if (hv_vcpu_set_xsave(t->vcpu, 5, x->img, sizeof(x->img)) != HV_ERR_INVALID_ARG ||
        hv_vcpu_set_xsave(t->vcpu, 6, x->img, sizeof(x->img)) != HV_ERR_INVALID_ARG ||
        hv_vcpu_set_xsave(t->vcpu, 0x207, x->img, sizeof(x->img)) != HV_ERR_INVALID_ARG)
        return kcase_fail(kc, "set_xsave took an invalid XCR0 (5, 6 or 0x207)");
    if (hv_vcpu_set_xsave(t->vcpu, 3, x->img, sizeof(x->img)) != HV_ERR_INVALID_ARG)
        return kcase_fail(kc, "set_xsave took XSTATE_BV 7 with XCR0 3");
    x->img[HV_XSAVE_HEADER + 8] = 1; /* XCOMP_BV */
    if (hv_vcpu_set_xsave(t->vcpu, 7, x->img, sizeof(x->img)) != HV_ERR_INVALID_ARG)
        return kcase_fail(kc, "set_xsave took a non-zero XCOMP_BV");
    x->img[HV_XSAVE_HEADER + 8] = 0;
    x->img[HV_XSAVE_HEADER + 40] = 1; /* reserved */
    if (hv_vcpu_set_xsave(t->vcpu, 7, x->img, sizeof(x->img)) != HV_ERR_INVALID_ARG)
        return kcase_fail(kc, "set_xsave took a reserved header byte");
    x->img[HV_XSAVE_HEADER + 40] = 0;
    if (hv_vcpu_set_xsave(t->vcpu, 7, x->img, 831) != HV_ERR_RANGE)
        return kcase_fail(kc, "set_xsave took 831 bytes for XCR0 7");
    if (hv_vcpu_set_xsave(t->vcpu, 7, x->img, 832) != HV_OK)
        return kcase_fail(kc, "set_xsave refused a valid image");
    /* The legacy region is hv_vcpu_get_fpu()'s. */
    struct hv_fpu_state f;
    if (hv_vcpu_get_fpu(t->vcpu, &f) != HV_OK || hv_memcmp(f.xmm[3], x->guest2 + 3 * 32, 16))
        return kcase_fail(kc, "get_fpu does not show XMM3 as set_xsave wrote it");
    return 0;
}

static uint32_t answer(struct vmt *t, uint16_t port, uint8_t size)
{
    struct xs_run *x = t->arg;
    (void)port;
    (void)size;
    x->ins++;
    /* The host's XCR0 at every exit to it, whatever the guest's (x87 at
       the first, 7 or 0xe7 later): the entries put it back. */
    uint64_t host_xcr0 = hv_xgetbv0();
    if (host_xcr0 != 7 && !x->rc)
        x->rc = kcase_fail(x->kc, "host XCR0 0x%lx at the guest's IN %u, not its 7",
                           (unsigned long)host_xcr0, x->ins);
    if (x->ins == 1)
        return 1u | (x->avx512 ? 2u : 0u);
    /* Loaded, the CPU holds the guest's registers: the embedder's side
       (the host's YMM, the state API) needs the put first. */
    hv_status_t st;
    if (x->loaded && !x->rc && (st = hv_vcpu_put(t->vcpu)) != HV_OK)
        x->rc = kcase_fail(x->kc, "hv_vcpu_put: %s", hv_status_str(st));
    if (!x->rc)
        x->rc = x->ins == 4 ? at_in_avx512(t, x) : at_in(t, x);
    if (x->loaded && !x->rc && (st = hv_vcpu_load(t->vcpu, HV_LOAD_GUEST_FPU)) != HV_OK)
        x->rc = kcase_fail(x->kc, "hv_vcpu_load: %s", hv_status_str(st));
    return 0;
}

static int check_outs(struct kcase_ctx *kc, struct vmt *t, bool avx512)
{
    unsigned n = 0;
    const struct vmt_out *o = t->outs;
    uint32_t exp[24];
    exp[n++] = VEC_UD; /* XSETBV without CR4.OSXSAVE */
    unsigned cpuid_at = n;
    n += 2;            /* CPUID.1 ECX twice: checked apart */
    exp[n++] = VEC_GP; /* XCR0 0 */
    exp[n++] = VEC_GP; /* 5 */
    exp[n++] = VEC_GP; /* ECX 1 */
    unsigned pkru_at = n;
    exp[n++] = VEC_GP; /* 0x207 */
    if (avx512)
        exp[n++] = VEC_GP; /* 0x27 */
    exp[n++] = 1;          /* XGETBV */
    exp[n++] = 0;          /* XSETBV(7) */
    exp[n++] = 7;          /* XGETBV */
    exp[n++] = 832;        /* CPUID 0DH.0 EBX */
    unsigned marks = n;
    exp[n++] = 2;
    exp[n++] = 3;
    exp[n++] = VEC_UD; /* VEX with XCR0 = 3 */
    unsigned mark4 = n;
    if (avx512) {
        exp[n++] = 0; /* XSETBV(0xe7) */
        exp[n++] = 4;
    }
    if (t->nouts != n)
        return kcase_fail(kc, "the guest reported %u values, expected %u", t->nouts, n);
    uint32_t r[4];
    cpuid(0xd, 0, r);
    if (o[pkru_at].port == PORT_VAL && o[pkru_at].value == 0 && ((r[0] >> 9) & 1) &&
        kcase_on_qemu()) {
        kprintf("vm.xsave: QEMU does not intercept XSETBV: its CPU took XCR0 0x207, undone at "
                "the next entry\n");
        exp[pkru_at] = 0;
    }
    for (unsigned i = 0; i < n; i++) {
        if (i == cpuid_at || i == cpuid_at + 1)
            continue;
        uint16_t port =
            (i == marks || i == marks + 1 || (avx512 && i == mark4 + 1)) ? PORT_MARK : PORT_VAL;
        if (o[i].port != port || o[i].value != exp[i])
            return kcase_fail(kc, "guest report %u: 0x%x on port 0x%x, expected 0x%x", i,
                              o[i].value, o[i].port, exp[i]);
    }
    uint32_t before = o[cpuid_at].value, after = o[cpuid_at + 1].value;
    /* XSAVE (26) and AVX (28) both times; OSXSAVE (27) as CR4.OSXSAVE. */
    if ((before & (7u << 26)) != (5u << 26) || (after & (7u << 26)) != (7u << 26))
        return kcase_fail(kc, "CPUID.1 ECX 0x%x / 0x%x around CR4.OSXSAVE", before, after);
    return 0;
}

static int run_case(struct kcase_ctx *kc, struct xs_run *x)
{
    struct hv_ctx *ctx;
    struct vmt t;
    uint64_t allowed = 0;
    int rc, d;

    if (vmt_ctx_create(kc, &ctx))
        return -1;
    hv_memset(&t, 0, sizeof(t));
    rc = vmt_create(kc, ctx, &t, &guest_xsave);
    if (!rc && hv_vcpu_xsave_info(t.vcpu, &allowed, NULL) != HV_OK)
        rc = kcase_fail(kc, "xsave_info failed");
    if (!rc && (allowed & 7) != 7)
        rc = kcase_fail(kc, "the guest may not enable AVX (allowed 0x%lx)", (unsigned long)allowed);
    x->avx512 = (allowed & 0xe0) == 0xe0;
    for (unsigned i = 2; i < 8; i++) {
        uint32_t r[4];
        cpuid(0xd, i, r);
        x->off[i] = r[1];
    }
    t.on_in = answer;
    t.arg = x;
    if (!rc) {
        ymm_load(x->host1);
        hv_status_t st = x->loaded ? hv_vcpu_load(t.vcpu, HV_LOAD_GUEST_FPU) : HV_OK;
        rc = st == HV_OK ? vmt_run_until(&t, HV_EXIT_HLT)
                         : kcase_fail(kc, "hv_vcpu_load: %s", hv_status_str(st));
        if (x->loaded && st == HV_OK && (st = hv_vcpu_put(t.vcpu)) != HV_OK && !rc)
            rc = kcase_fail(kc, "hv_vcpu_put: %s", hv_status_str(st));
        ymm_store(x->buf);
    }
    if (!rc && x->rc)
        rc = x->rc;
    if (!rc && x->ins != (x->avx512 ? 4u : 3u))
        rc = kcase_fail(kc, "the guest asked %u times, expected %u", x->ins, x->avx512 ? 4u : 3u);
    if (!rc)
        rc = check_outs(kc, &t, x->avx512);
    if (!rc && (d = first_diff(x->buf, x->host2)) >= 0)
        rc = kcase_fail(kc, "host YMM%d changed by the guest's last run", d / 32);
    if (!rc && (d = first_diff(t.ram + XS_REPORT, x->guest1)) >= 0)
        rc = kcase_fail(kc, "guest YMM%d byte %d did not survive the exit", d / 32, d % 32);
    if (!rc && (d = first_diff(t.ram + XS_REPORT + 512, x->guest2)) >= 0)
        rc = kcase_fail(kc, "guest YMM%d byte %d is not what set_xsave wrote", d / 32, d % 32);
    if (!rc && x->avx512) {
        const uint8_t *r = t.ram + XS_REPORT + 1024;
        uint32_t k1;
        hv_memcpy(&k1, r + 64, 4);
        for (unsigned i = 0; i < 64 && !rc; i++)
            if (r[i] != (uint8_t)(0xc3 ^ i))
                rc = kcase_fail(kc, "guest ZMM16 byte %u is not what set_xsave wrote", i);
        if (!rc && k1 != 0x4321)
            rc = kcase_fail(kc, "guest K1 0x%x, not the 0x4321 set_xsave wrote", k1);
    }
    uint64_t xcr0 = 0;
    if (!rc && hv_vcpu_get_xsave(t.vcpu, &xcr0, x->img, sizeof(x->img), NULL) != HV_OK)
        rc = kcase_fail(kc, "get_xsave after the run failed");
    pattern(x->guest1, 0x5a000000u, 1);
    from_xsave(x->buf, x->img);
    if (!rc && (xcr0 != (x->avx512 ? 0xe7u : 7u) || (d = first_diff(x->buf, x->guest1)) >= 0))
        rc = kcase_fail(kc, "get_xsave after the run: XCR0 0x%lx, YMM differ at %d",
                        (unsigned long)xcr0, d);
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static int xsave_case(struct kcase_ctx *kc, bool loaded)
{
    const char *name = loaded ? "vm.xsave_load" : "vm.xsave";
    uint32_t r[4];
    cpuid(1, 0, r);
    bool avx = ((r[2] >> 26) & 1) && ((r[2] >> 28) & 1);
    if (avx) {
        cpuid(0xd, 0, r);
        avx = (r[0] & 7) == 7;
    }
    if (!avx) {
        kprintf("%s: skipped: no AVX on this CPU\n", name);
        return 0;
    }
    static struct xs_run x;
    hv_memset(&x, 0, sizeof(x));
    x.kc = kc;
    x.loaded = loaded;
    pattern(x.host1, 0x11000000u, 0);
    pattern(x.host2, 0x22000000u, 0);
    pattern(x.guest1, 0x5a000000u, 0);
    pattern(x.guest2, 0x3c000000u, 0);

    /* The host's own AVX, as a kernel using it would run. */
    uint64_t cr4 = hv_read_cr4(), old_xcr0 = 0;
    if (cr4 & CR4_OSXSAVE)
        old_xcr0 = hv_xgetbv0();
    hv_write_cr4(cr4 | CR4_OSFXSR | CR4_OSXSAVE);
    hv_xsetbv0(7);
    int rc = run_case(kc, &x);
    uint64_t xcr0_after = hv_xgetbv0();
    hv_xsetbv0(old_xcr0 ? old_xcr0 : 1);
    hv_write_cr4(cr4);
    if (!rc && xcr0_after != 7)
        rc = kcase_fail(kc, "the host's XCR0 is 0x%lx after the runs, not 7",
                        (unsigned long)xcr0_after);
    if (!rc)
        kprintf("%s: XSETBV checked (#UD, %u #GP), YMM0-15 kept and isolated across "
                "exits, read and written through the API%s%s\n",
                name, x.avx512 ? 5u : 4u, loaded ? ", the vCPU loaded around the runs" : "",
                x.avx512 ? "; AVX-512: ZMM16/ZMM31/ZMM15 upper/K1/K7 too" : " (no AVX-512)");
    return rc;
}

static int case_xsave(struct kcase_ctx *kc)
{
    return xsave_case(kc, false);
}

/* The same with hv_vcpu_load (HV_LOAD_GUEST_FPU) around the runs: AVX the
   guest enables while loaded is switched at the put and the next load
   (core/vcpu_load.c), the host's YMM come back at every put. */
static int case_xsave_load(struct kcase_ctx *kc)
{
    return xsave_case(kc, true);
}

static const struct kcase vm_xsave_cases[] KCASE_TABLE = {
    {"vm.xsave", case_xsave, 0},
    {"vm.xsave_load", case_xsave_load, 0},
};
