/*
 * The floor on VMX: a bare-minimum exit handler run on libhv's own vCPU
 * (same VMCS, EPT, VPID and guest), the VMX twin of bench_bare_svm.c.
 *
 * The VMCS host RIP and RSP are pointed at the loop below for its
 * duration (SDM Vol. 3C 27.5.3: VM exit loads RIP and RSP from them). Per
 * exit the loop stores the 15 guest GPRs the VMCS does not hold, reads the
 * exit reason, advances the guest RIP by the exit instruction length (for
 * CPUID it also runs the host's CPUID with the guest's EAX/ECX), reloads
 * the GPRs and executes VMRESUME. Any other exit ends the loop with RIP
 * left at the exiting instruction; libhv then runs the guest again from
 * there and handles it.
 *
 * Benchmark-only: it reads the backend's private vCPU structure
 * (vmx/vmx.h) for the VMCS address and its launch state.
 */
#include "bench_common.h"

#include "vmx/vmx.h"

/* VMCS field encodings (SDM Vol. 3D Appendix B). */
#define F_HOST_RSP    0x6c14
#define F_HOST_RIP    0x6c16
#define F_EXIT_REASON 0x4402
#define F_INSN_LEN    0x440c
#define F_GUEST_RSP   0x681c
#define F_GUEST_RIP   0x681e
/* Basic exit reasons (SDM Vol. 3D Appendix C). */
#define R_CPUID  10
#define R_HLT    12
#define R_VMCALL 18
#define R_IO     30
_Static_assert(offsetof(struct hv_vcpu, gpr) == 0, "gpr[] first");

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Frame: 16 register slots at 0(%rsp) in hv_gpr order, gpr at 128(%rsp). */
#define LOAD_FROM_STACK                                                                            \
    "mov 0x00(%rsp), %rax\n mov 0x08(%rsp), %rcx\n mov 0x10(%rsp), %rdx\n mov 0x18(%rsp), %rbx\n"  \
    "mov 0x28(%rsp), %rbp\n mov 0x30(%rsp), %rsi\n mov 0x38(%rsp), %rdi\n mov 0x40(%rsp), %r8\n"   \
    "mov 0x48(%rsp), %r9\n mov 0x50(%rsp), %r10\n mov 0x58(%rsp), %r11\n mov 0x60(%rsp), %r12\n"   \
    "mov 0x68(%rsp), %r13\n mov 0x70(%rsp), %r14\n mov 0x78(%rsp), %r15\n"

#define STORE_TO_STACK                                                                             \
    "mov %rax, 0x00(%rsp)\n mov %rcx, 0x08(%rsp)\n mov %rdx, 0x10(%rsp)\n mov %rbx, 0x18(%rsp)\n"  \
    "mov %rbp, 0x28(%rsp)\n mov %rsi, 0x30(%rsp)\n mov %rdi, 0x38(%rsp)\n mov %r8, 0x40(%rsp)\n"   \
    "mov %r9, 0x48(%rsp)\n mov %r10, 0x50(%rsp)\n mov %r11, 0x58(%rsp)\n mov %r12, 0x60(%rsp)\n"   \
    "mov %r13, 0x68(%rsp)\n mov %r14, 0x70(%rsp)\n mov %r15, 0x78(%rsp)\n"

/* Copy between gpr[] (in %rdi) and the frame with %rcx; RSP's slot is skipped. */
/* clang-format off */
#define COPY(from, to) "mov " from ", %rcx\n mov %rcx, " to "\n"
#define COPY_SLOTS(a, b)                                                   \
    COPY("0x00(" a ")", "0x00(" b ")") COPY("0x08(" a ")", "0x08(" b ")")  \
    COPY("0x10(" a ")", "0x10(" b ")") COPY("0x18(" a ")", "0x18(" b ")")  \
    COPY("0x28(" a ")", "0x28(" b ")") COPY("0x30(" a ")", "0x30(" b ")")  \
    COPY("0x38(" a ")", "0x38(" b ")") COPY("0x40(" a ")", "0x40(" b ")")  \
    COPY("0x48(" a ")", "0x48(" b ")") COPY("0x50(" a ")", "0x50(" b ")")  \
    COPY("0x58(" a ")", "0x58(" b ")") COPY("0x60(" a ")", "0x60(" b ")")  \
    COPY("0x68(" a ")", "0x68(" b ")") COPY("0x70(" a ")", "0x70(" b ")")  \
    COPY("0x78(" a ")", "0x78(" b ")")
/* clang-format on */

/*
 * uint32_t bench_vmx_bare_<kind>(uint64_t *gpr)
 * With the vCPU's VMCS current and launched, interrupts off. Returns the
 * exit reason that ended the loop, or 0xffffffff if VMRESUME failed.
 */
#define PROLOGUE(name)                                                                             \
    ".text\n .globl " name "\n .type " name ", @function\n" name ":\n"                             \
    "push %rbp\n push %rbx\n push %r12\n push %r13\n push %r14\n push %r15\n"                      \
    "push %rdi\n sub $128, %rsp\n" COPY_SLOTS("%rdi", "%rsp") "mov $" STR(                         \
        F_HOST_RSP) ", %eax\n vmwrite %rsp, %rax\n"                                                \
                    "lea 2f(%rip), %rdx\n mov $" STR(                                              \
                        F_HOST_RIP) ", %eax\n vmwrite %rdx, %rax\n" LOAD_FROM_STACK                \
                                    "vmresume\n jmp 8f\n"                                          \
                                    "2:\n" STORE_TO_STACK                                          \
                                    "mov $" STR(F_EXIT_REASON) ", %eax\n vmread %rax, %rax\n"

/* Advance the guest RIP by the exit instruction length and re-enter. */
#define NEXT                                                                                       \
    "mov $" STR(                                                                                   \
        F_GUEST_RIP) ", %ecx\n vmread %rcx, %rdx\n"                                                \
                     "mov $" STR(                                                                  \
                         F_INSN_LEN) ", %eax\n vmread %rax, %rax\n"                                \
                                     "add %rax, %rdx\n vmwrite %rdx, %rcx\n" LOAD_FROM_STACK       \
                                     "vmresume\n"

#define EPILOGUE(name)                                                                             \
    "8: mov $0xffffffff, %eax\n"                                                                   \
    "9: mov 128(%rsp), %rdi\n" COPY_SLOTS("%rsp",                                                  \
                                          "%rdi") "add $136, %rsp\n pop %r15\n pop %r14\n pop "    \
                                                  "%r13\n pop %r12\n pop %rbx\n pop %rbp\n ret\n"  \
                                                  ".size " name ", . - " name "\n"

/* clang-format off */
__asm__(PROLOGUE("bench_vmx_bare_hc")
        "cmp $" STR(R_VMCALL) ", %eax\n jne 9f\n" NEXT
        EPILOGUE("bench_vmx_bare_hc"));

__asm__(PROLOGUE("bench_vmx_bare_cpuid")
        "cmp $" STR(R_CPUID) ", %eax\n jne 9f\n"
        "mov 0x00(%rsp), %rax\n mov 0x08(%rsp), %rcx\n cpuid\n"
        "mov %rax, 0x00(%rsp)\n mov %rbx, 0x18(%rsp)\n mov %rcx, 0x08(%rsp)\n mov %rdx, 0x10(%rsp)\n"
        NEXT
        EPILOGUE("bench_vmx_bare_cpuid"));

__asm__(PROLOGUE("bench_vmx_bare_out")
        "cmp $" STR(R_IO) ", %eax\n jne 9f\n" NEXT
        EPILOGUE("bench_vmx_bare_out"));
/* clang-format on */

uint32_t bench_vmx_bare_hc(uint64_t *gpr);
uint32_t bench_vmx_bare_cpuid(uint64_t *gpr);
uint32_t bench_vmx_bare_out(uint64_t *gpr);

struct dtr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static uint64_t vmread(uint64_t field)
{
    uint64_t v;
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
    return v;
}

static void vmwrite(uint64_t field, uint64_t v)
{
    __asm__ volatile("vmwrite %1, %0" : : "r"(field), "r"(v) : "cc");
}

int bench_bare_vmx(struct bench_vm *b, enum bench_bare_kind kind)
{
    struct hv_vcpu *vcpu = b->vcpu;
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    struct dtr gdtr, idtr;
    uint16_t tr;
    uint32_t reason;
    uint8_t fail;

    if (!vv->launched)
        return kcase_fail(b->kc, "bare VMX handler: the VMCS was never launched");
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    /* Current already after libhv's last run on this (only) CPU; loading
       it again is harmless and makes sure. */
    __asm__ volatile("vmptrld %1; setna %0" : "=r"(fail) : "m"(vv->vmcs_hpa) : "cc", "memory");
    if (fail) {
        __asm__ volatile("pushq %0; popfq" : : "r"(flags) : "memory", "cc");
        return kcase_fail(b->kc, "bare VMX handler: VMPTRLD failed");
    }
    /* The RIP past the hand-over HLT, which the backend writes at its
       next access to the VMCS (vmx_set_rip): this loop is that access. */
    if (vv->rip_due_set)
        vmx_rip_due_write(vv);
    __asm__ volatile("sgdt %0; sidt %1; str %2" : "=m"(gdtr), "=m"(idtr), "=r"(tr));
    uint64_t host_rip = vmread(F_HOST_RIP);
    vmwrite(F_GUEST_RSP, vcpu->gpr[HV_GPR_RSP]);
    switch (kind) {
    case BENCH_BARE_HC:
        reason = bench_vmx_bare_hc(vcpu->gpr);
        break;
    case BENCH_BARE_CPUID:
        reason = bench_vmx_bare_cpuid(vcpu->gpr);
        break;
    default:
        reason = bench_vmx_bare_out(vcpu->gpr);
        break;
    }
    vcpu->gpr[HV_GPR_RSP] = vmread(F_GUEST_RSP);
    uint64_t rip = vmread(F_GUEST_RIP);
    vmwrite(F_HOST_RIP, host_rip);
    /* Its HOST_RSP was this handler's: libhv writes the field only when
       the stack differs from its copy (vmx_entry.S), so drop the copy. */
    vv->host_rsp = 0;
    /* VM exit sets the GDTR/IDTR limits to 0xffff and TR's to 0x67 (SDM
       27.5.2): put the host's back, as the backend does after each exit. */
    __asm__ volatile("lgdt %0; lidt %1" : : "m"(gdtr), "m"(idtr) : "memory");
    uint8_t *desc = (uint8_t *)(uintptr_t)(gdtr.base + (tr & ~7u));
    desc[5] &= (uint8_t)~0x02u; /* LTR faults on a busy TSS */
    __asm__ volatile("ltr %0" : : "r"(tr) : "memory");
    __asm__ volatile("pushq %0; popfq" : : "r"(flags) : "memory", "cc");
    if (reason != R_HLT)
        return kcase_fail(b->kc,
                          "bare VMX handler ended on exit reason 0x%x at rip 0x%llx, "
                          "expected HLT",
                          reason, (unsigned long long)rip);
    return 0;
}

void bench_vmx_arch_pages(struct hv_vm *vm, struct hv_vcpu *vcpu, uint64_t *per_vm,
                          uint64_t *per_vcpu)
{
    /* The MSR bitmap per VM (SDM 24.6.9; the EPT is counted as SLAT); VMCS
       and VM-entry/exit MSR areas per vCPU (SDM 24.2, 24.7.2). */
    *per_vm = vmx_vm_of(vm)->msr_bitmap ? 1 : 0;
    *per_vcpu = 0;
    if (!vcpu)
        return;
    const struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    *per_vcpu = (vv->vmcs ? 1 : 0) + (vv->msrs ? 1 : 0);
}
