/*
 * A guest that goes for the CPU's PKRU (protection keys, SDM Vol. 3A
 * 4.6.2).
 *
 * PKRU is in neither the VMCS nor the VMCB, and neither VM entry/exit nor
 * VMRUN/#VMEXIT switch it. The host (this kernel has no user pages: only
 * PKRU's value matters) enables CR4.PKE and sets PKRU to a pattern when the
 * CPU has PKU; then a guest in 32-bit protected mode
 *   - sets CR4.PKE: #GP on both backends (the policy hides PKU; VMX owns
 *     the bit through its CR4 mask, SVM intercepts MOV to CR4, svm_cr4.c),
 *   - executes WRPKRU(another pattern): #UD without CR4.PKE,
 *   - exits (OUT, IN) and tries RDPKRU: #UD again,
 * and the host checks its own PKRU at every IN it answers and after the
 * run. A CPU without PKU (qemu64, the Bochs models) runs the guest part
 * only (WRPKRU and RDPKRU must #UD) and says so.
 *
 *   hostile.pkru
 */
#include "core/cpu.h"
#include "core/util.h"
#include "cpu.h"
#include "guest32.h"
#include "hostile.h"

/* Addresses inside the image: label - image start + load address. */
#define HP_ADDR(label) "(" #label " - hp_start + 0x1000)"

#define PKRU_HOST  0x5555000cu /* keys 1 and 8..15 write- or access-disabled */
#define PKRU_GUEST 0x3000c0f0u

/* The guest reports, each on PORT_VAL: the vector its CR4 write raised (0:
   none) and CR4 read back; RDPKRU's vector and EAX (its PKRU as it found
   it); WRPKRU's vector; RDPKRU's vector and EAX after two exits. Then
   0xff on PORT_MARK and HLT. A #UD or #GP handler records its vector and
   resumes at hp_resume. */
/* clang-format off */
__asm__(".pushsection .rodata.hostile_pkru, \"a\"\n"
        ".balign 16\n"
        "hp_start:\n"
        G32_ENTER(hp)
        /* CR4.PKE, if IN 0xe4 says the CPU has PKU */
        "    movl $0, " HP_ADDR(hp_fault) "\n"
        "    movl $" HP_ADDR(hp_s1) ", " HP_ADDR(hp_resume) "\n"
        "    inl $0xe4, %eax\n"
        "    testl %eax, %eax\n"
        "    jz hp_s1\n"
        "    movl %cr4, %eax\n"
        "    orl $0x400000, %eax\n"
        "    movl %eax, %cr4\n"
        "hp_s1:\n"
        "    movl " HP_ADDR(hp_fault) ", %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %cr4, %eax\n"
        "    outl %eax, $0xe0\n"
        /* RDPKRU: a new vCPU's PKRU */
        "    movl $0, " HP_ADDR(hp_fault) "\n"
        "    movl $" HP_ADDR(hp_s15) ", " HP_ADDR(hp_resume) "\n"
        "    movl $0xffffffff, %ebx\n"
        "    xorl %ecx, %ecx\n"
        "    .byte 0x0f, 0x01, 0xee\n"      /* rdpkru */
        "    movl %eax, %ebx\n"
        "hp_s15:\n"
        "    movl " HP_ADDR(hp_fault) ", %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %ebx, %eax\n"
        "    outl %eax, $0xe0\n"
        /* WRPKRU(PKRU_GUEST) */
        "    movl $0, " HP_ADDR(hp_fault) "\n"
        "    movl $" HP_ADDR(hp_s2) ", " HP_ADDR(hp_resume) "\n"
        "    xorl %ecx, %ecx\n"
        "    xorl %edx, %edx\n"
        "    movl $0x3000c0f0, %eax\n"
        "    .byte 0x0f, 0x01, 0xef\n"      /* wrpkru */
        "hp_s2:\n"
        "    movl " HP_ADDR(hp_fault) ", %eax\n"
        "    outl %eax, $0xe0\n"            /* an exit: the host runs */
        "    inl $0xe4, %eax\n"             /* and checks its PKRU */
        /* RDPKRU */
        "    movl $0, " HP_ADDR(hp_fault) "\n"
        "    movl $" HP_ADDR(hp_s3) ", " HP_ADDR(hp_resume) "\n"
        "    movl $0xffffffff, %ebx\n"
        "    xorl %ecx, %ecx\n"
        "    .byte 0x0f, 0x01, 0xee\n"      /* rdpkru */
        "    movl %eax, %ebx\n"
        "hp_s3:\n"
        "    movl " HP_ADDR(hp_fault) ", %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %ebx, %eax\n"
        "    outl %eax, $0xe0\n"
        "    movb $0xff, %al\n"
        "    outb %al, $0x80\n"
        "1:  hlt\n"
        "    jmp 1b\n"
        G32_FAULTS(hp)
        "hp_end:\n"
        ".code64\n"
        ".popsection\n");
/* clang-format on */

extern const uint8_t hp_start[], hp_end[];
static const struct vmt_image hp_guest = {"hostile_pkru", hp_start, hp_end};

#define VEC_UD 6u
#define VEC_GP 13u

struct hp_host {
    bool pku;         /* the CPU has PKU: the guest tries CR4.PKE */
    bool host_pke;    /* the host runs with CR4.PKE: it checks its PKRU */
    unsigned ins;     /* INs answered */
    unsigned bad_ins; /* ... with the host's PKRU not its own */
    uint32_t bad;     /* the first wrong value seen */
};

/* The guest's question (has the CPU PKU?), and the host's check of its
   PKRU between two runs of the guest. */
static uint32_t answer(struct vmt *t, uint16_t port, uint8_t size)
{
    struct hp_host *h = t->arg;
    (void)port;
    (void)size;
    h->ins++;
    if (h->host_pke) {
        uint32_t now = rdpkru();
        if (now != PKRU_HOST && !h->bad_ins++)
            h->bad = now;
    }
    return h->pku;
}

struct hp_seen {
    uint32_t cr4_vec, cr4, rd0_vec, rd0, wr_vec, rd_vec, rd;
};
#define HP_NVALS 7u

/* One guest in a new VM of ctx. */
static int run_guest(struct kcase_ctx *kc, struct hv_ctx *ctx, struct hp_host *h, struct hp_seen *s)
{
    struct vmt t;
    int rc;

    hv_memset(&t, 0, sizeof(t));
    hv_memset(s, 0, sizeof(*s));
    h->ins = 0;
    rc = vmt_create(kc, ctx, &t, &hp_guest);
    t.on_in = answer;
    t.arg = h;
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc && (t.nouts != HP_NVALS + 1 || t.outs[HP_NVALS].port != PORT_MARK ||
                t.outs[HP_NVALS].value != 0xff))
        rc = kcase_fail(kc, "the guest reported %u values, expected %u and its end mark", t.nouts,
                        HP_NVALS);
    if (!rc) {
        uint32_t *v = &s->cr4_vec;
        for (unsigned i = 0; i < HP_NVALS; i++)
            v[i] = t.outs[i].value;
    }
    vmt_destroy(&t);
    if (!rc && h->ins != 2)
        rc = kcase_fail(kc, "the guest asked %u questions, expected 2", h->ins);
    return rc;
}

/* What one guest saw, against what the backend and the CPU allow. */
static int judge(struct kcase_ctx *kc, const struct hp_host *h, const struct hp_seen *s,
                 const char *when)
{
    kprintf("hostile.pkru: %s: guest CR4.PKE vector %u (CR4 0x%x), first RDPKRU vector %u (0x%x), "
            "WRPKRU vector %u, RDPKRU vector %u (0x%x)\n",
            when, s->cr4_vec, s->cr4, s->rd0_vec, s->rd0, s->wr_vec, s->rd_vec, s->rd);
    /* No CR4.PKE in the guest: the CPU has none, or the library refuses it. */
    if (h->pku && s->cr4_vec != VEC_GP)
        return kcase_fail(kc, "the guest's CR4.PKE write raised vector %u, expected #GP",
                          s->cr4_vec);
    if (s->cr4 & CR4_PKE)
        return kcase_fail(kc, "the guest reads CR4.PKE set: 0x%x", s->cr4);
    if (s->rd0_vec != VEC_UD || s->wr_vec != VEC_UD || s->rd_vec != VEC_UD)
        return kcase_fail(kc, "the guest's RDPKRU/WRPKRU/RDPKRU raised %u/%u/%u, expected #UD",
                          s->rd0_vec, s->wr_vec, s->rd_vec);
    return 0;
}

static int case_pkru(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct hv_caps caps;
    struct hp_host h;
    struct hp_seen s[3];
    uint32_t r[4];
    uint64_t cr4;
    uint32_t old_pkru = 0, pkru_after = 0, pkru_later = 0;
    uint64_t cr4_after = 0, cr4_after_off = 0;
    int rc;

    hv_memset(&h, 0, sizeof(h));
    hv_memset(&caps, 0, sizeof(caps));
    caps.size = sizeof(caps);
    cpuid(0, 0, r);
    if (r[0] >= 7) {
        cpuid(7, 0, r);
        h.pku = (r[2] >> 3) & 1;
    }
    rc = vmt_ctx_create(kc, &ctx);
    if (rc)
        return rc;
    hv_ctx_caps(ctx, &caps);
    cr4 = hv_read_cr4(); /* with VMXE now, on VMX */
    bool vmx = caps.backend == HV_BACKEND_VMX;
    /* 1: the host with CR4.PKE and its own PKRU. */
    if (h.pku) {
        hv_write_cr4(cr4 | CR4_PKE);
        old_pkru = rdpkru();
        wrpkru(PKRU_HOST);
        h.host_pke = true;
    }
    rc = run_guest(kc, ctx, &h, &s[0]);
    cr4_after = hv_read_cr4();
    if (h.pku) {
        pkru_after = rdpkru();
        /* 2: the host without CR4.PKE: two guests in turn, neither
           reaching PKRU. */
        hv_write_cr4(cr4 & ~CR4_PKE);
        h.host_pke = false;
        for (unsigned i = 1; i < 3 && !rc; i++)
            rc = run_guest(kc, ctx, &h, &s[i]);
        cr4_after_off = hv_read_cr4();
        hv_write_cr4(cr4 | CR4_PKE);
        pkru_later = rdpkru();
        wrpkru(old_pkru);
        hv_write_cr4(cr4);
    }
    hv_ctx_destroy(ctx);
    if (rc)
        return rc;
    kprintf("hostile.pkru: %s, CPU %s PKU\n", vmx ? "VMX" : "SVM", h.pku ? "with" : "without");
    rc = judge(kc, &h, &s[0], h.pku ? "host with CR4.PKE" : "guest");
    if (rc)
        return rc;
    if (!h.pku) {
        if (cr4_after != cr4)
            return kcase_fail(kc, "the host's CR4 changed: 0x%lx", (unsigned long)cr4_after);
        kprintf("hostile.pkru: this CPU has no PKU: checked only that RDPKRU and WRPKRU raise "
                "#UD in the guest\n");
        return 0;
    }
    for (unsigned i = 1; i < 3; i++) {
        rc = judge(kc, &h, &s[i], i == 1 ? "host without, first" : "host without, second");
        if (rc)
            return rc;
    }
    if (cr4_after != (cr4 | CR4_PKE) || cr4_after_off != (cr4 & ~CR4_PKE))
        return kcase_fail(kc, "the host's CR4 changed: 0x%lx / 0x%lx", (unsigned long)cr4_after,
                          (unsigned long)cr4_after_off);
    if (h.bad_ins)
        return kcase_fail(kc, "the host's PKRU was 0x%x (not 0x%x) at %u of its exits", h.bad,
                          PKRU_HOST, h.bad_ins);
    if (pkru_after != PKRU_HOST || pkru_later != PKRU_HOST)
        return kcase_fail(kc, "the host's PKRU is 0x%x / 0x%x after the guests' runs, was 0x%x",
                          pkru_after, pkru_later, PKRU_HOST);
    kprintf("hostile.pkru: host PKRU 0x%x kept at every exit, with and without its CR4.PKE, "
            "CR4 kept\n",
            PKRU_HOST);
    return 0;
}

static const struct kcase hostile_pkru_cases[] KCASE_TABLE = {
    {"hostile.pkru", case_pkru, 0},
};
