/*
 * A guest that goes for the CPU's XCR0 and the host's AVX registers
 * (hostile.h).
 *
 * XCR0 is not in the VMCB or the VMCS and VMRUN/VM entry do not switch it
 * (APM Vol. 2 15.5.1); the library gives the guest its own XCR0 around the
 * world switch and switches the registers of the components it enables
 * (core/xsave.h). The host enables CR4.OSXSAVE, sets XCR0 to x87|SSE|AVX
 * (7) when the CPU has AVX (else x87|SSE, 3) and puts a pattern in the
 * upper half of YMM0; then a guest in 32-bit protected mode
 *   - sets CR4.OSXSAVE (its CPUID has XSAVE where the CPU has it),
 *   - executes XSETBV with the host's own XCR0 value (IN 0xe4): it must
 *     take effect for the guest alone,
 *   - reads XCR0 (XGETBV): the value it set,
 *   - reads and clears the upper half of YMM0 with VEX instructions: with
 *     AVX it must read 0 (a component it just enabled starts in its
 *     initial state, never with the host's values), without it #UD,
 * and the host checks its XCR0, its YMM0 and its CR4 afterwards. A CPU
 * without XSAVE (qemu64) runs the guest part only (XSETBV, XGETBV and VEX
 * #UD), and says so. QEMU's TCG does not intercept XSETBV (EPYC, max):
 * there the guest's XSETBV takes effect in the CPU and the library adopts
 * it at the next exit (the OUT right after it), before the guest's VEX
 * instructions; the case reports that.
 *
 *   hostile.xsetbv
 */
#include "core/cpu.h"
#include "core/util.h"
#include "cpu.h"
#include "guest32.h"
#include "hostile.h"

/* Addresses inside the image: label - image start + load address. */
#define HX_ADDR(label) "(" #label " - hx_start + 0x1000)"

/* The guest reports, each on PORT_VAL: the vector its CR4 write raised (0:
   none) and CR4 read back; XSETBV's vector (of the value IN 0xe4 gives);
   XGETBV's vector and EAX;
   VEXTRACTF128's vector and the upper half's low dword it read; VXORPS's
   vector. Then 0xff on PORT_MARK and HLT. A #UD or #GP handler records
   its vector and resumes at hx_resume. */
/* clang-format off */
__asm__(".pushsection .rodata.hostile_xsetbv, \"a\"\n"
        ".balign 16\n"
        "hx_start:\n"
        G32_ENTER(hx)
        "    movl %cr4, %eax\n"
        "    orl $0x200, %eax\n"           /* OSFXSR: MOVD from XMM1 below */
        "    movl %eax, %cr4\n"
        /* CR4.OSXSAVE, if IN 0xe4 says so */
        "    movl $0, " HX_ADDR(hx_fault) "\n"
        "    movl $" HX_ADDR(hx_s1) ", " HX_ADDR(hx_resume) "\n"
        "    inl $0xe4, %eax\n"
        "    testl %eax, %eax\n"
        "    jz hx_s1\n"
        "    movl %cr4, %eax\n"
        "    orl $0x40000, %eax\n"
        "    movl %eax, %cr4\n"
        "hx_s1:\n"
        "    movl " HX_ADDR(hx_fault) ", %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %cr4, %eax\n"
        "    outl %eax, $0xe0\n"
        /* XSETBV: XCR0 = the host's value */
        "    movl $0, " HX_ADDR(hx_fault) "\n"
        "    movl $" HX_ADDR(hx_s2) ", " HX_ADDR(hx_resume) "\n"
        "    inl $0xe4, %eax\n"
        "    xorl %ecx, %ecx\n"
        "    xorl %edx, %edx\n"
        "    xsetbv\n"
        "hx_s2:\n"
        "    movl " HX_ADDR(hx_fault) ", %eax\n"
        "    outl %eax, $0xe0\n"
        /* XGETBV */
        "    movl $0, " HX_ADDR(hx_fault) "\n"
        "    movl $" HX_ADDR(hx_s3) ", " HX_ADDR(hx_resume) "\n"
        "    movl $0xffffffff, %ebx\n"
        "    xorl %ecx, %ecx\n"
        "    xgetbv\n"
        "    movl %eax, %ebx\n"
        "hx_s3:\n"
        "    movl " HX_ADDR(hx_fault) ", %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %ebx, %eax\n"
        "    outl %eax, $0xe0\n"
        /* read YMM0's upper half */
        "    movl $0, " HX_ADDR(hx_fault) "\n"
        "    movl $" HX_ADDR(hx_s4) ", " HX_ADDR(hx_resume) "\n"
        "    movl $0xffffffff, %ebx\n"
        "    vextractf128 $1, %ymm0, %xmm1\n"
        "    movd %xmm1, %ebx\n"
        "hx_s4:\n"
        "    movl " HX_ADDR(hx_fault) ", %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %ebx, %eax\n"
        "    outl %eax, $0xe0\n"
        /* clear it */
        "    movl $0, " HX_ADDR(hx_fault) "\n"
        "    movl $" HX_ADDR(hx_s5) ", " HX_ADDR(hx_resume) "\n"
        "    vxorps %ymm0, %ymm0, %ymm0\n"
        "hx_s5:\n"
        "    movl " HX_ADDR(hx_fault) ", %eax\n"
        "    outl %eax, $0xe0\n"
        "    movb $0xff, %al\n"
        "    outb %al, $0x80\n"
        "1:  hlt\n"
        "    jmp 1b\n"
        G32_FAULTS(hx)
        "hx_end:\n"
        ".code64\n"
        ".popsection\n");
/* clang-format on */

extern const uint8_t hx_start[], hx_end[];
static const struct vmt_image hx_guest = {"hostile_xsetbv", hx_start, hx_end};

#define VEC_UD      6u
#define VEC_GP      13u
#define YMM_PATTERN 0x7e57a11du

/* The upper half of the host's YMM0 (low dword; this kernel is built
   without SSE, so only asm touches vector registers). */
static void ymm0_hi_set(uint32_t v)
{
    __asm__ volatile("movd %0, %%xmm1\n\tvinsertf128 $1, %%xmm1, %%ymm0, %%ymm0" ::"r"(v));
}

static uint32_t ymm0_hi_get(void)
{
    uint32_t v;
    __asm__ volatile("vextractf128 $1, %%ymm0, %%xmm1\n\tmovd %%xmm1, %0" : "=r"(v));
    return v;
}

/* The guest's questions: set CR4.OSXSAVE? Only where the CPU has XSAVE (a
   CPU without it refuses the bit: #GP, or a failed entry under QEMU).
   Then the XCR0 value for its XSETBV. */
struct hx_answers {
    bool xsave;
    uint32_t xcr0;
    unsigned n;
};

static uint32_t answer_osxsave(struct vmt *t, uint16_t port, uint8_t size)
{
    struct hx_answers *a = t->arg;
    (void)port;
    (void)size;
    return a->n++ == 0 ? a->xsave : a->xcr0;
}

struct xs_seen {
    uint32_t cr4_vec, cr4, xsetbv_vec, xgetbv_vec, xgetbv, read_vec, read, clear_vec;
};

static int run_guest(struct kcase_ctx *kc, struct hv_ctx *ctx, bool xsave, uint32_t xcr0,
                     struct xs_seen *s)
{
    struct vmt t;
    struct hx_answers a = {xsave, xcr0 ? xcr0 : 1, 0};
    int rc;

    hv_memset(&t, 0, sizeof(t));
    rc = vmt_create(kc, ctx, &t, &hx_guest);
    t.on_in = answer_osxsave;
    t.arg = &a;
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc && (t.nouts != 9 || t.outs[8].port != PORT_MARK || t.outs[8].value != 0xff))
        rc = kcase_fail(kc, "the guest reported %u values, expected 8 and its end mark", t.nouts);
    if (!rc) {
        uint32_t *v = &s->cr4_vec;
        for (unsigned i = 0; i < 8; i++)
            v[i] = t.outs[i].value;
    }
    vmt_destroy(&t);
    return rc;
}

static int case_xsetbv(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct xs_seen s;
    uint32_t r[4];
    uint64_t cr4 = hv_read_cr4(), old_xcr0 = 0, xcr0 = 0;
    bool xsave, avx = false;
    int rc;

    cpuid(1, 0, r);
    xsave = (r[2] >> 26) & 1;
    if (xsave) {
        bool avx_cpu = (r[2] >> 28) & 1;
        cpuid(0xd, 0, r);
        avx = avx_cpu && (r[0] & 7) == 7;
        xcr0 = avx ? 7 : 3;
        if (cr4 & CR4_OSXSAVE)
            old_xcr0 = hv_xgetbv0();
        hv_write_cr4(cr4 | CR4_OSFXSR | CR4_OSXSAVE);
        hv_xsetbv0(xcr0);
        if (avx)
            ymm0_hi_set(YMM_PATTERN);
    }
    hv_memset(&s, 0, sizeof(s));
    rc = vmt_ctx_create(kc, &ctx);
    if (!rc) {
        rc = run_guest(kc, ctx, xsave, (uint32_t)xcr0, &s);
        hv_ctx_destroy(ctx);
    }
    uint64_t xcr0_after = xsave ? hv_xgetbv0() : 0;
    uint32_t ymm_after = avx ? ymm0_hi_get() : 0;
    uint64_t cr4_after = hv_read_cr4();
    if (xsave) {
        hv_xsetbv0(old_xcr0 ? old_xcr0 : 1);
        hv_write_cr4(cr4);
    }
    if (rc)
        return rc;
    const char *osxsave = "ignored";
    if (!xsave)
        osxsave = "not tried (no XSAVE)";
    else if (s.cr4_vec)
        osxsave = "refused";
    else if (s.cr4 & CR4_OSXSAVE)
        osxsave = "set";
    kprintf("hostile.xsetbv: guest CR4.OSXSAVE %s (vector %u), XSETBV vector %u, XGETBV vector %u "
            "(0x%x), VEX vectors %u/%u (read 0x%x)\n",
            osxsave, s.cr4_vec, s.xsetbv_vec, s.xgetbv_vec, s.xgetbv, s.read_vec, s.clear_vec,
            s.read);
    if (cr4_after != (xsave ? cr4 | CR4_OSFXSR | CR4_OSXSAVE : cr4))
        return kcase_fail(kc, "the host's CR4 changed: 0x%lx", (unsigned long)cr4_after);
    if (!xsave) {
        /* No XSAVE in its CPUID, no CR4.OSXSAVE: all three #UD. */
        if (s.xsetbv_vec != VEC_UD || s.xgetbv_vec != VEC_UD || s.read_vec != VEC_UD ||
            s.clear_vec != VEC_UD)
            return kcase_fail(kc, "without XSAVE: XSETBV/XGETBV/VEX raised %u/%u/%u/%u, not #UD",
                              s.xsetbv_vec, s.xgetbv_vec, s.read_vec, s.clear_vec);
        kprintf("hostile.xsetbv: this CPU has no XSAVE: checked only that XSETBV and VEX "
                "instructions raise #UD in the guest\n");
        return 0;
    }
    if (s.cr4_vec != 0 || !(s.cr4 & CR4_OSXSAVE))
        return kcase_fail(kc, "the guest could not set CR4.OSXSAVE (vector %u)", s.cr4_vec);
    if (s.xsetbv_vec != 0 || s.xgetbv_vec != 0 || s.xgetbv != (uint32_t)xcr0)
        return kcase_fail(kc, "the guest's XSETBV(0x%lx) raised %u, XGETBV %u read 0x%x",
                          (unsigned long)xcr0, s.xsetbv_vec, s.xgetbv_vec, s.xgetbv);
    if (kcase_on_qemu())
        kprintf("hostile.xsetbv: QEMU: XSETBV is not intercepted, adopted at the next exit\n");
    if (avx && (s.read_vec != 0 || s.read != 0 || s.clear_vec != 0))
        return kcase_fail(kc,
                          "with AVX the guest's YMM0 upper half read 0x%x (vector %u), clear "
                          "vector %u: not its own initial state",
                          s.read, s.read_vec, s.clear_vec);
    if (!avx && (s.read_vec != VEC_UD || s.clear_vec != VEC_UD))
        return kcase_fail(kc, "without AVX VEX instructions raised %u/%u, not #UD", s.read_vec,
                          s.clear_vec);
    if (xcr0_after != xcr0)
        return kcase_fail(kc, "the host's XCR0 is 0x%lx after the guest's run, was 0x%lx",
                          (unsigned long)xcr0_after, (unsigned long)xcr0);
    if (avx && ymm_after != YMM_PATTERN)
        return kcase_fail(kc, "the host's YMM0 upper half holds 0x%x, expected 0x%x", ymm_after,
                          YMM_PATTERN);
    kprintf("hostile.xsetbv: host XCR0 0x%lx kept%s\n", (unsigned long)xcr0,
            avx ? ", YMM0's upper half kept and out of the guest's reach (it read its own 0)"
                : " (no AVX)");
    return 0;
}

static const struct kcase hostile_xsetbv_cases[] KCASE_TABLE = {
    {"hostile.xsetbv", case_xsetbv, 0},
};
