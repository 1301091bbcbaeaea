/*
 * Hostile guests (issue 7): guests that try to read host state, reach
 * memory they were not given, or stall the host, each run next to a
 * neighbour VM holding canary data.
 *
 * After every hostile run the case checks that the neighbour's canary page
 * range is intact (host-side compare) and that the neighbour still runs
 * (it checksums its canaries and reports the sum), and that the host's
 * timer kept ticking. Backend agnostic: the same cases run on SVM (QEMU,
 * Bochs) and VMX (Bochs).
 *
 *   hostile.msr_cpuid   RDMSR of host-state MSRs (the host first loads
 *                       sentinels into them), SVM/VMX capability MSRs and
 *                       VM_HSAVE_PA; CPUID must hide VMX/SVM
 *   hostile.escape      reads and writes at guest-physical addresses
 *                       outside its RAM and at the neighbour's
 *                       host-physical address
 *   hostile.spin_cli    spins with interrupts off: the host's timer gets
 *                       control back through hv_vcpu_kick, repeatedly
 *   hostile.storm       exception storms (#BP, #DE, #UD through the guest's
 *                       IVT) and an interrupt storm injected by the host
 *   hostile.triple      triple faults in a loop (new vCPU after each)
 */
#include "core/util.h"
#include "cpu.h"
#include "hostile.h"

VMT_GUEST(spin);
VMT_GUEST(shutdown);

/* ---- guest images (flat, run at 0x1000 in real mode; see vm_harness.h) ---- */

/* Addresses inside an image: label - image start + load address. */
#define HG_ADDR(img, label) "(" #label " - " #img "_start + 0x1000)"

/* clang-format off */
__asm__(".pushsection .rodata.hostile, \"a\"\n"
        ".code16\n"

        /* msr: RDMSR each listed MSR (#GP skipped by an IVT handler), OUT
           index, low, high (0xe0) and the #GP flag (0x80); then CPUID of each
           listed (leaf, subleaf), OUT EAX..EDX; then HLT. */
        ".balign 16\n"
        "hg_msr_start:\n"
        "    cli\n"
        "    xorw %ax, %ax\n"
        "    movw %ax, %ds\n"
        "    movw %ax, %ss\n"
        "    movw $0x1000, %sp\n"
        "    movw $" HG_ADDR(hg_msr, hg_msr_gp) ", 13*4\n"
        "    movw $0, 13*4+2\n"
        "    movw $" HG_ADDR(hg_msr, hg_msr_list) ", %si\n"
        "1:  movl (%si), %ecx\n"
        "    cmpl $0xffffffff, %ecx\n"
        "    je 2f\n"
        "    movb $0, " HG_ADDR(hg_msr, hg_msr_flag) "\n"
        "    xorl %eax, %eax\n"
        "    xorl %edx, %edx\n"
        "    rdmsr\n"
        "    pushl %eax\n"
        "    movl %ecx, %eax\n"
        "    outl %eax, $0xe0\n"
        "    popl %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %edx, %eax\n"
        "    outl %eax, $0xe0\n"
        "    movb " HG_ADDR(hg_msr, hg_msr_flag) ", %al\n"
        "    outb %al, $0x80\n"
        "    addw $4, %si\n"
        "    jmp 1b\n"
        "2:  movb $0xff, %al\n"
        "    outb %al, $0x80\n"
        "    movw $" HG_ADDR(hg_msr, hg_cpuid_list) ", %si\n"
        "3:  movl (%si), %eax\n"
        "    cmpl $0xffffffff, %eax\n"
        "    je 4f\n"
        "    movl 4(%si), %ecx\n"
        "    cpuid\n"
        "    outl %eax, $0xe0\n"
        "    movl %ebx, %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %ecx, %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %edx, %eax\n"
        "    outl %eax, $0xe0\n"
        "    addw $8, %si\n"
        "    jmp 3b\n"
        "4:  hlt\n"
        "    jmp 4b\n"
        "hg_msr_gp:\n" /* #GP: skip the 2-byte RDMSR, note it */
        "    pushw %bp\n"
        "    movw %sp, %bp\n"
        "    addw $2, 2(%bp)\n"
        "    popw %bp\n"
        "    movb $1, " HG_ADDR(hg_msr, hg_msr_flag) "\n"
        "    iret\n"
        "hg_msr_flag: .byte 0\n"
        ".balign 4\n"
        "hg_msr_list:\n"
        "    .long 0x174, 0x175, 0x176\n"                               /* SYSENTER */
        "    .long 0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084\n" /* EFER, STAR.. */
        "    .long 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103\n"    /* FS/GS/KGS base, TSC_AUX */
        "    .long 0x3a, 0x480, 0x481, 0x482, 0x485, 0x48b, 0x48c\n"    /* VMX capabilities */
        "    .long 0xc0010114, 0xc0010117\n"                            /* VM_CR, VM_HSAVE_PA */
        "    .long 0x1d9, 0x1b, 0x277, 0x10, 0xe7, 0xe8\n" /* DEBUGCTL, APIC base, PAT, TSC, MPERF.. */
        "    .long 0xffffffff\n"
        "hg_cpuid_list:\n"
        "    .long 0, 0, 1, 0, 7, 0, 0xb, 0, 0xb, 1, 0x40000000, 0, 0x80000001, 0, 0x8000000a, 0\n"
        "    .long 0xffffffff\n"
        "hg_msr_end:\n"

        /* escape: 32-bit flat protected mode; for each address from IN 0xe4
           (0 ends): write 0x5a5a5a5a there, read it back, OUT the value read. */
        ".balign 16\n"
        "hg_escape_start:\n"
        "    cli\n"
        "    xorw %ax, %ax\n"
        "    movw %ax, %ds\n"
        "    movw %ax, %ss\n"
        "    movw $0x1000, %sp\n"
        "    lgdtl " HG_ADDR(hg_escape, hg_escape_gdtr) "\n"
        "    movl %cr0, %eax\n"
        "    orl $1, %eax\n"
        "    movl %eax, %cr0\n"
        "    ljmpl $0x08, $" HG_ADDR(hg_escape, hg_escape_pm) "\n"
        ".code32\n"
        "hg_escape_pm:\n"
        "    movw $0x10, %ax\n"
        "    movw %ax, %ds\n"
        "    movw %ax, %es\n"
        "    movw %ax, %ss\n"
        "    movl $0x1000, %esp\n"
        "1:  inl $0xe4, %eax\n"
        "    testl %eax, %eax\n"
        "    jz 2f\n"
        "    movl %eax, %edi\n"
        "    movl $0x5a5a5a5a, (%edi)\n"
        "    movl (%edi), %eax\n"
        "    outl %eax, $0xe0\n"
        "    jmp 1b\n"
        "2:  hlt\n"
        "    jmp 2b\n"
        ".balign 8\n"
        "hg_escape_gdt:\n"
        "    .quad 0\n"
        "    .quad 0x00cf9b000000ffff\n"
        "    .quad 0x00cf93000000ffff\n"
        "hg_escape_gdtr:\n"
        "    .word 23\n"
        "    .long " HG_ADDR(hg_escape, hg_escape_gdt) "\n"
        ".code16\n"
        "hg_escape_end:\n"

        /* storm: #BP x 20000, #DE x 5000, #UD x 5000 through IVT handlers that
           count and return past the instruction; OUT the three counts; then
           STI and count injected vector 0x40 until IN 0xe4 says stop; OUT that
           count; HLT. */
        ".balign 16\n"
        "hg_storm_start:\n"
        "    cli\n"
        "    xorw %ax, %ax\n"
        "    movw %ax, %ds\n"
        "    movw %ax, %ss\n"
        "    movw $0x1000, %sp\n"
        "    movw $" HG_ADDR(hg_storm, hg_storm_bp) ", 3*4\n"
        "    movw $0, 3*4+2\n"
        "    movw $" HG_ADDR(hg_storm, hg_storm_de) ", 0*4\n"
        "    movw $0, 0*4+2\n"
        "    movw $" HG_ADDR(hg_storm, hg_storm_ud) ", 6*4\n"
        "    movw $0, 6*4+2\n"
        "    movw $" HG_ADDR(hg_storm, hg_storm_irq) ", 0x40*4\n"
        "    movw $0, 0x40*4+2\n"
        "    xorl %ebx, %ebx\n" /* #BP count */
        "    xorl %esi, %esi\n" /* #DE count */
        "    xorl %edi, %edi\n" /* #UD count */
        "    xorl %ebp, %ebp\n" /* interrupt count */
        "    movl $20000, %ecx\n"
        "1:  int3\n"
        "    loopl 1b\n"
        "    movl $5000, %ecx\n"
        "2:  xorw %dx, %dx\n"
        "    xorw %ax, %ax\n"
        "    divw %ax\n" /* 2 bytes: F7 F0 */
        "    loopl 2b\n"
        "    movl $5000, %ecx\n"
        "3:  ud2\n"
        "    loopl 3b\n"
        "    movl %ebx, %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %esi, %eax\n"
        "    outl %eax, $0xe0\n"
        "    movl %edi, %eax\n"
        "    outl %eax, $0xe0\n"
        "    sti\n"
        "4:  inl $0xe4, %eax\n"
        "    testl %eax, %eax\n"
        "    jz 4b\n"
        "    cli\n"
        "    movl %ebp, %eax\n"
        "    outl %eax, $0xe0\n"
        "5:  hlt\n"
        "    jmp 5b\n"
        "hg_storm_bp:\n"
        "    incl %ebx\n"
        "    iret\n"
        "hg_storm_de:\n" /* skip the 2-byte DIV */
        "    incl %esi\n"
        "    pushw %bp\n"
        "    movw %sp, %bp\n"
        "    addw $2, 2(%bp)\n"
        "    popw %bp\n"
        "    iret\n"
        "hg_storm_ud:\n" /* skip the 2-byte UD2 */
        "    incl %edi\n"
        "    pushw %bp\n"
        "    movw %sp, %bp\n"
        "    addw $2, 2(%bp)\n"
        "    popw %bp\n"
        "    iret\n"
        "hg_storm_irq:\n"
        "    incl %ebp\n"
        "    iret\n"
        "hg_storm_end:\n"

        ".code64\n"
        ".popsection\n");
/* clang-format on */

#define HG_IMAGE(n)                                                                                \
    extern const uint8_t hg_##n##_start[], hg_##n##_end[];                                         \
    static const struct vmt_image hg_##n = {"hostile_" #n, hg_##n##_start, hg_##n##_end}

HG_IMAGE(msr);
HG_IMAGE(escape);
HG_IMAGE(storm);

/* ---- a run loop that hands every OUT/IN to the case ---- */

struct hrun {
    struct vmt *t;
    int (*out)(struct hrun *r, uint16_t port, uint32_t value); /* non-zero: fail */
    uint32_t (*in)(struct hrun *r, uint16_t port);
    bool (*mmio)(struct hrun *r); /* an MMIO / SLAT exit: true to continue */
    void *arg;
    uint64_t ins, outs, mmios;
};

/* Run until HLT (returns 0) or another exit (fails). */
static int hrun_until_hlt(struct hrun *r, const char *what)
{
    struct vmt *t = r->t;
    struct kcase_ctx *kc = t->kc;
    uint64_t start = timer_ticks();
    for (;;) {
        hv_status_t st = hv_vcpu_run(t->vcpu, &t->exit);
        if (st != HV_OK)
            return kcase_fail(kc, "%s: hv_vcpu_run: %s", what, hv_status_str(st));
        if (timer_ticks() - start > 20 * TIMER_HZ)
            return kcase_fail(kc, "%s: no end after 20 s (exit %s at 0x%llx)", what,
                              vmt_exit_name(t->exit.reason), (unsigned long long)t->exit.rip);
        switch (t->exit.reason) {
        case HV_EXIT_HLT:
            return 0;
        case HV_EXIT_KICK:
            continue;
        case HV_EXIT_IO:
            if (t->exit.io.write) {
                r->outs++;
                if (r->out && r->out(r, t->exit.io.port, (uint32_t)t->exit.io.data))
                    return -1;
            } else {
                r->ins++;
                t->exit.io.data = r->in ? r->in(r, t->exit.io.port) : 0;
            }
            continue;
        case HV_EXIT_MMIO:
        case HV_EXIT_SLAT_FAULT:
            r->mmios++;
            if (r->mmio && r->mmio(r))
                continue;
            return kcase_fail(
                kc, "%s: unexpected %s at gpa 0x%llx", what, vmt_exit_name(t->exit.reason),
                (unsigned long long)(t->exit.reason == HV_EXIT_MMIO ? t->exit.mmio.gpa
                                                                    : t->exit.slat.gpa));
        default:
            return kcase_fail(kc, "%s: exit %s (raw 0x%llx) at rip 0x%llx", what,
                              vmt_exit_name(t->exit.reason), (unsigned long long)t->exit.raw_code,
                              (unsigned long long)t->exit.rip);
        }
    }
}

/* ---- hostile.msr_cpuid ---- */

static inline void wrmsr64(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* Host MSRs loaded with values the guest must never see. */
static const struct {
    uint32_t msr;
    uint64_t sentinel;
} sentinels[] = {
    {0x174, 0x10},                       /* SYSENTER_CS */
    {0x175, 0xffff8000cafe0000ull},      /* SYSENTER_ESP */
    {0x176, 0xffff8000f00d0000ull},      /* SYSENTER_EIP */
    {0xc0000081, 0x0023001000000000ull}, /* STAR */
    {0xc0000082, 0xffff8000beef0000ull}, /* LSTAR */
    {0xc0000083, 0xffff8000bead0000ull}, /* CSTAR */
    {0xc0000084, 0x4700},                /* SFMASK */
    {0xc0000102, 0xffff8000dead0000ull}, /* KERNEL_GS_BASE */
};
#define NSENT (sizeof(sentinels) / sizeof(sentinels[0]))

/* Entries of hg_msr_list (the guest's table below). */
#define NMSR 27u

struct msr_probe {
    struct kcase_ctx *kc;
    bool svm;
    uint64_t hsave; /* the host's VM_HSAVE_PA (SVM) */
    unsigned phase; /* 0: MSR records, 1: CPUID records */
    unsigned field; /* position within a record */
    uint32_t rec[4];
    unsigned msrs, gps, leaves;
};

static const uint32_t cpuid_list[][2] = {
    {0, 0}, {1, 0}, {7, 0}, {0xb, 0}, {0xb, 1}, {0x40000000, 0}, {0x80000001, 0}, {0x8000000a, 0}};

static int msr_record(struct msr_probe *p, uint32_t idx, uint64_t v, bool gp)
{
    struct kcase_ctx *kc = p->kc;
    p->msrs++;
    p->gps += gp;
    if (gp)
        return 0;
    for (unsigned i = 0; i < NSENT; i++)
        if (sentinels[i].msr == idx && v == sentinels[i].sentinel)
            return kcase_fail(kc, "guest read the host's value 0x%llx of MSR 0x%x",
                              (unsigned long long)v, idx);
    if ((idx >= 0x480 && idx <= 0x491) || idx == 0x3a) {
        /* VMX capabilities (and the feature control lock) of the host CPU. */
        if (idx != 0x3a)
            return kcase_fail(kc, "guest read VMX capability MSR 0x%x = 0x%llx", idx,
                              (unsigned long long)v);
        if (v & (1u << 2))
            return kcase_fail(kc, "guest sees VMX enabled outside SMX in FEATURE_CONTROL");
    }
    if (idx == 0xc0010117 && p->hsave && v == p->hsave)
        return kcase_fail(kc, "guest read the host save area address 0x%llx",
                          (unsigned long long)v);
    if (idx == 0xc0000080 && (v & (1u << 12)))
        return kcase_fail(kc, "guest sees EFER.SVME");
    return 0;
}

static int cpuid_record(struct msr_probe *p, const uint32_t r[4])
{
    struct kcase_ctx *kc = p->kc;
    unsigned i = p->leaves++;
    if (i >= sizeof(cpuid_list) / sizeof(cpuid_list[0]))
        return kcase_fail(kc, "more CPUID records than leaves");
    uint32_t leaf = cpuid_list[i][0];
    if (leaf == 1 && (r[2] & (1u << 5)))
        return kcase_fail(kc, "CPUID.1:ECX.VMX visible to the guest");
    if (leaf == 0x80000001 && (r[2] & (1u << 2)))
        return kcase_fail(kc, "CPUID.80000001h:ECX.SVM visible to the guest");
    if (leaf == 1 && (r[1] >> 24) != 0)
        return kcase_fail(kc, "vCPU 0 sees initial APIC id %u", r[1] >> 24);
    return 0;
}

/* MSR records: index, low, high (port 0xe0), #GP flag (port 0x80); a mark
   0xff ends them; then CPUID records of four values. */
static int msr_out(struct msr_probe *p, uint16_t port, uint32_t value)
{
    if (p->phase == 0 && port == PORT_MARK) {
        if (value == 0xff && p->field == 0) {
            p->phase = 1;
            return 0;
        }
        if (p->field != 3)
            return kcase_fail(p->kc, "MSR record cut short");
        p->field = 0;
        return msr_record(p, p->rec[0], ((uint64_t)p->rec[2] << 32) | p->rec[1], value & 1);
    }
    if (port != PORT_VAL || p->field >= 4)
        return kcase_fail(p->kc, "OUT 0x%x to port 0x%x", value, port);
    p->rec[p->field++] = value;
    if (p->phase == 1 && p->field == 4) {
        p->field = 0;
        return cpuid_record(p, p->rec);
    }
    return 0;
}

static int case_msr_cpuid(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct neighbour n;
    struct vmt t;
    struct msr_probe p;
    struct hv_caps caps;
    uint64_t saved[NSENT];
    int rc;

    hv_memset(&p, 0, sizeof(p));
    hv_memset(&n, 0, sizeof(n));
    hv_memset(&t, 0, sizeof(t));
    p.kc = kc;
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    hv_ctx_caps(ctx, &caps);
    p.svm = caps.backend == HV_BACKEND_SVM;
    if (p.svm)
        p.hsave = rdmsr(0xc0010117);
    rc = neighbour_create(kc, ctx, &n);
    if (!rc)
        rc = vmt_create(kc, ctx, &t, &hg_msr);
    for (unsigned i = 0; i < NSENT; i++) {
        saved[i] = rdmsr(sentinels[i].msr);
        wrmsr64(sentinels[i].msr, sentinels[i].sentinel);
    }
    if (!rc) {
        for (;;) {
            hv_status_t st = hv_vcpu_run(t.vcpu, &t.exit);
            if (st != HV_OK) {
                rc = kcase_fail(kc, "hv_vcpu_run: %s", hv_status_str(st));
                break;
            }
            if (t.exit.reason == HV_EXIT_HLT)
                break;
            if (t.exit.reason == HV_EXIT_KICK)
                continue;
            if (t.exit.reason != HV_EXIT_IO || !t.exit.io.write) {
                rc = kcase_fail(kc, "exit %s at rip 0x%llx", vmt_exit_name(t.exit.reason),
                                (unsigned long long)t.exit.rip);
                break;
            }
            if ((rc = msr_out(&p, t.exit.io.port, (uint32_t)t.exit.io.data)) != 0)
                break;
        }
    }
    for (unsigned i = 0; i < NSENT; i++)
        wrmsr64(sentinels[i].msr, saved[i]);
    if (!rc && (p.msrs != NMSR || p.leaves != sizeof(cpuid_list) / sizeof(cpuid_list[0])))
        rc = kcase_fail(kc, "%u MSR and %u CPUID records, expected %u and %u", p.msrs, p.leaves,
                        NMSR, (unsigned)(sizeof(cpuid_list) / sizeof(cpuid_list[0])));
    if (!rc)
        rc = neighbour_check(kc, &n, "MSR/CPUID probing");
    if (!rc)
        kprintf("hostile.msr_cpuid: %u MSRs read (%u #GP), %u CPUID leaves, no host value\n",
                p.msrs, p.gps, p.leaves);
    vmt_destroy(&t);
    vmt_destroy(&n.t);
    hv_ctx_destroy(ctx);
    return rc;
}

/* ---- hostile.escape ---- */

struct escape {
    struct kcase_ctx *kc;
    uint32_t addr[8];
    unsigned n, next, reads;
    uint64_t mmio_writes;
};

static uint32_t escape_in(struct hrun *r, uint16_t port)
{
    struct escape *e = r->arg;
    (void)port;
    return e->next < e->n ? e->addr[e->next++] : 0;
}

static int escape_out(struct hrun *r, uint16_t port, uint32_t value)
{
    struct escape *e = r->arg;
    e->reads++;
    /* Outside its RAM the guest reads what the host's MMIO answer was (0). */
    if (port != PORT_VAL || value != 0)
        return kcase_fail(e->kc, "the guest read 0x%x at 0x%x (port 0x%x)", value,
                          e->addr[e->next - 1], port);
    return 0;
}

/* The host's device model at those addresses: writes dropped, reads 0. */
static hv_status_t escape_handler(void *opaque, uint64_t gpa, unsigned size, bool write,
                                  uint64_t *value)
{
    struct escape *e = opaque;
    (void)gpa;
    (void)size;
    if (write)
        e->mmio_writes++;
    else
        *value = 0;
    return HV_OK;
}

/* An access the library could not finish there is reported as MMIO. */
static bool escape_mmio(struct hrun *r)
{
    struct escape *e = r->arg;
    struct vmt *t = r->t;
    if (t->exit.reason == HV_EXIT_MMIO) {
        if (t->exit.mmio.write)
            e->mmio_writes++;
        else
            t->exit.mmio.data = 0;
        return true;
    }
    return false;
}

static int case_escape(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct neighbour n;
    struct vmt t;
    struct escape e;
    int rc;

    hv_memset(&e, 0, sizeof(e));
    hv_memset(&n, 0, sizeof(n));
    hv_memset(&t, 0, sizeof(t));
    e.kc = kc;
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = neighbour_create(kc, ctx, &n);
    if (!rc)
        rc = vmt_create(kc, ctx, &t, &hg_escape);
    if (!rc) {
        /* The neighbour's canaries by their host-physical address (the
           kernel identity-maps memory), just past this guest's RAM,
           unmapped space below 4 GiB, the local APIC page, the page below
           the reset page. (Writes to read-only pages: vm.slat cases.) */
        uint32_t nb = (uint32_t)(uintptr_t)(n.t.ram + CANARY_GPA);
        const uint32_t a[] = {nb,          nb + 0x800,  VMT_RAM_SIZE, VMT_RAM_SIZE + 0x1000,
                              0x40000000u, 0xfee00000u, 0xffffe000u};
        e.n = sizeof(a) / sizeof(a[0]);
        for (unsigned i = 0; i < e.n && !rc; i++) {
            e.addr[i] = a[i];
            /* Nothing is mapped there: the host claims the pages as MMIO. */
            hv_status_t st = hv_vm_mmio_register(t.vm, a[i] & ~0xfffu, 4096, escape_handler, &e);
            if (st != HV_OK && st != HV_ERR_EXISTS)
                rc = kcase_fail(kc, "hv_vm_mmio_register 0x%x: %s", a[i], hv_status_str(st));
        }
        struct hrun r = {&t, escape_out, escape_in, escape_mmio, &e, 0, 0, 0};
        if (!rc)
            rc = hrun_until_hlt(&r, "escape");
        if (!rc && e.reads != e.n)
            rc = kcase_fail(kc, "the guest reported %u of %u reads", e.reads, e.n);
        if (!rc && e.mmio_writes < e.n)
            rc = kcase_fail(kc, "only %llu of %u writes reached the host as MMIO",
                            (unsigned long long)e.mmio_writes, e.n);
    }
    if (!rc)
        rc = neighbour_check(kc, &n, "escape attempts");
    vmt_destroy(&t);
    vmt_destroy(&n.t);
    hv_ctx_destroy(ctx);
    return rc;
}

/* ---- hostile.spin_cli ---- */

struct kicker {
    struct hv_vcpu *vcpu;
    uint64_t every, next;
    volatile uint64_t kicks;
};

static void kicker_tick(void *arg, uint64_t ticks)
{
    struct kicker *k = arg;
    if (k->vcpu && ticks >= k->next) {
        k->next = ticks + k->every;
        k->kicks++;
        hv_vcpu_kick(k->vcpu);
    }
}

static int case_spin_cli(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct neighbour n;
    struct vmt t;
    struct kicker k = {NULL, TIMER_HZ / 10, 0, 0};
    int rc;

    hv_memset(&n, 0, sizeof(n));
    hv_memset(&t, 0, sizeof(t));
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = neighbour_create(kc, ctx, &n);
    if (!rc)
        rc = vmt_create(kc, ctx, &t, &guest_spin);
    if (!rc && !timer_add_tick_fn(kicker_tick, &k))
        rc = kcase_fail(kc, "no tick slot");
    if (!rc) {
        /* Five slices of the spinning guest, the neighbour served in between. */
        for (unsigned i = 0; i < 5 && !rc; i++) {
            uint64_t t0 = timer_ticks();
            hv_status_t st;
            k.next = t0 + k.every;
            k.vcpu = t.vcpu;
            /* The marker OUT, and a kick left pending from the last slice
               (it can land after the exit), return at once: run again. */
            do
                st = hv_vcpu_run(t.vcpu, &t.exit);
            while (st == HV_OK && (t.exit.reason == HV_EXIT_IO ||
                                   (t.exit.reason == HV_EXIT_KICK && timer_ticks() == t0)));
            k.vcpu = NULL;
            if (st != HV_OK)
                rc = kcase_fail(kc, "hv_vcpu_run: %s", hv_status_str(st));
            else if (t.exit.reason != HV_EXIT_KICK)
                rc = kcase_fail(kc, "exit %s, expected KICK", vmt_exit_name(t.exit.reason));
            else if (timer_ticks() - t0 > TIMER_HZ)
                rc = kcase_fail(kc, "control came back after %u ticks",
                                (unsigned)(timer_ticks() - t0));
            if (!rc)
                rc = neighbour_check(kc, &n, "a spinning guest");
        }
        k.vcpu = NULL;
        timer_remove_tick_fn(kicker_tick, &k);
    }
    vmt_destroy(&t);
    vmt_destroy(&n.t);
    hv_ctx_destroy(ctx);
    return rc;
}

/* ---- hostile.storm ---- */

struct storm {
    struct kcase_ctx *kc;
    struct vmt *t;
    uint32_t counts[4];
    unsigned nvals;
    unsigned injected, target;
};

static int storm_out(struct hrun *r, uint16_t port, uint32_t value)
{
    struct storm *s = r->arg;
    if (port != PORT_VAL || s->nvals >= 4)
        return kcase_fail(s->kc, "OUT 0x%x to port 0x%x", value, port);
    s->counts[s->nvals++] = value;
    return 0;
}

/* While the guest polls with IF=1: inject one interrupt per poll. */
static uint32_t storm_in(struct hrun *r, uint16_t port)
{
    struct storm *s = r->arg;
    (void)port;
    if (s->injected >= s->target)
        return 1;
    struct hv_event ev = {HV_EVENT_EXTINT, 0x40, 0, 0, 0, 0};
    if (hv_vcpu_inject(r->t->vcpu, &ev) == HV_OK)
        s->injected++;
    return 0;
}

static int case_storm(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct neighbour n;
    struct vmt t;
    struct storm s;
    int rc;

    hv_memset(&s, 0, sizeof(s));
    hv_memset(&n, 0, sizeof(n));
    hv_memset(&t, 0, sizeof(t));
    s.kc = kc;
    s.target = 2000;
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = neighbour_create(kc, ctx, &n);
    if (!rc)
        rc = vmt_create(kc, ctx, &t, &hg_storm);
    uint64_t t0 = timer_ticks();
    if (!rc) {
        struct hrun r = {&t, storm_out, storm_in, NULL, &s, 0, 0, 0};
        rc = hrun_until_hlt(&r, "storm");
    }
    if (!rc && (s.nvals != 4 || s.counts[0] != 20000 || s.counts[1] != 5000 || s.counts[2] != 5000))
        rc = kcase_fail(kc, "exception counts %u/%u/%u (%u values), expected 20000/5000/5000",
                        s.counts[0], s.counts[1], s.counts[2], s.nvals);
    if (!rc && s.counts[3] != s.injected)
        rc = kcase_fail(kc, "the guest took %u of %u injected interrupts", s.counts[3], s.injected);
    if (!rc && timer_ticks() == t0)
        rc = kcase_fail(kc, "the host timer did not tick during the storm");
    if (!rc)
        rc = neighbour_check(kc, &n, "exception and interrupt storms");
    vmt_destroy(&t);
    vmt_destroy(&n.t);
    hv_ctx_destroy(ctx);
    return rc;
}

/* ---- hostile.triple ---- */

static int case_triple(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct neighbour n;
    struct vmt t;
    int rc;

    hv_memset(&n, 0, sizeof(n));
    hv_memset(&t, 0, sizeof(t));
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = neighbour_create(kc, ctx, &n);
    if (!rc)
        rc = vmt_create(kc, ctx, &t, &guest_shutdown);
    for (unsigned i = 0; i < 20 && !rc; i++) {
        t.nouts = 0;
        rc = vmt_run_until(&t, HV_EXIT_SHUTDOWN);
        if (rc)
            break;
        /* A shut-down vCPU is replaced; the new one starts from reset. */
        hv_status_t st = hv_vcpu_destroy(t.vcpu);
        t.vcpu = NULL;
        if (st == HV_OK)
            st = hv_vcpu_create(t.vm, 0, &t.vcpu);
        if (st != HV_OK)
            rc = kcase_fail(kc, "vCPU replacement %u: %s", i, hv_status_str(st));
        if (!rc && i % 5 == 4)
            rc = neighbour_check(kc, &n, "triple faults");
    }
    vmt_destroy(&t);
    vmt_destroy(&n.t);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase hostile_cases[] KCASE_TABLE = {
    {"hostile.msr_cpuid", case_msr_cpuid, 0}, {"hostile.escape", case_escape, 0},
    {"hostile.spin_cli", case_spin_cli, 0},   {"hostile.storm", case_storm, 0},
    {"hostile.triple", case_triple, 0},
};
