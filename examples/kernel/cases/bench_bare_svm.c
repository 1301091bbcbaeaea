/*
 * The floor on SVM: a bare-minimum exit handler run on libhv's own vCPU
 * (same VMCB, ASID, nested page table and guest), so that each benchmark
 * run prints libhv's figures beside what the hardware round trip costs.
 *
 * Per exit it stores the guest GPRs VMRUN does not switch (all but RAX and
 * RSP, which live in the VMCB: APM Vol. 2 15.5.1), checks the exit code,
 * advances RIP (for CPUID it also runs the host's CPUID with the guest's
 * EAX/ECX and hands back the result), reloads the GPRs and re-enters. No
 * VMLOAD/VMSAVE per exit: nothing here uses the state they switch, so
 * they run once around the loop. Any other exit ends the loop with RIP
 * left at the exiting instruction; libhv then runs the guest again from
 * there and handles it.
 *
 * Benchmark-only: it reads the backend's private vCPU structure
 * (svm/svm.h) for the VMCB and the per-CPU host save area.
 */
#include "bench_common.h"

#include "svm/svm.h"

/* Offsets used by the assembly below (APM Vol. 2 Appendix B). */
#define VMCB_EXITCODE  0x070
#define VMCB_EXITINFO2 0x080
#define VMCB_RIP       0x578
#define VMCB_RAX       0x5f8
_Static_assert(offsetof(struct vmcb, ctl.exitcode) == VMCB_EXITCODE, "VMCB EXITCODE");
_Static_assert(offsetof(struct vmcb, ctl.exitinfo2) == VMCB_EXITINFO2, "VMCB EXITINFO2");
_Static_assert(offsetof(struct vmcb, save.rip) == VMCB_RIP, "VMCB RIP");
_Static_assert(offsetof(struct vmcb, save.rax) == VMCB_RAX, "VMCB RAX");
_Static_assert(SVM_EXIT_VMMCALL == 0x81 && SVM_EXIT_CPUID == 0x72 && SVM_EXIT_IOIO == 0x7b,
               "SVM exit codes");
_Static_assert(offsetof(struct hv_vcpu, gpr) == 0, "gpr[] first");

/*
 * uint32_t bench_svm_bare_<kind>(uint64_t vmcb, uint64_t *gpr)
 *   vmcb: physical address of the VMCB, also its address here (this
 *   kernel maps physical memory 1:1); gpr: the vCPU's gpr[16].
 * Returns the exit code that ended the loop, with gpr[] holding the
 * guest's registers (except RAX and RSP, in the VMCB). Called with GIF=0
 * and the guest's VMLOAD state loaded.
 *
 * Frame: 16 register slots at 0(%rsp) in hv_gpr order, gpr at 128(%rsp).
 */
#define STR_(x) #x
#define STR(x)  STR_(x)

#define LOAD_FROM(base)                                                                            \
    "mov 0x08(" base "), %rcx\n mov 0x10(" base "), %rdx\n mov 0x18(" base "), %rbx\n"             \
    "mov 0x28(" base "), %rbp\n mov 0x30(" base "), %rsi\n mov 0x40(" base "), %r8\n"              \
    "mov 0x48(" base "), %r9\n mov 0x50(" base "), %r10\n mov 0x58(" base "), %r11\n"              \
    "mov 0x60(" base "), %r12\n mov 0x68(" base "), %r13\n mov 0x70(" base "), %r14\n"             \
    "mov 0x78(" base "), %r15\n mov 0x38(" base "), %rdi\n"

#define STORE_TO_STACK                                                                             \
    "mov %rcx, 0x08(%rsp)\n mov %rdx, 0x10(%rsp)\n mov %rbx, 0x18(%rsp)\n"                         \
    "mov %rbp, 0x28(%rsp)\n mov %rsi, 0x30(%rsp)\n mov %rdi, 0x38(%rsp)\n"                         \
    "mov %r8, 0x40(%rsp)\n mov %r9, 0x48(%rsp)\n mov %r10, 0x50(%rsp)\n"                           \
    "mov %r11, 0x58(%rsp)\n mov %r12, 0x60(%rsp)\n mov %r13, 0x68(%rsp)\n"                         \
    "mov %r14, 0x70(%rsp)\n mov %r15, 0x78(%rsp)\n"

/* Copy the frame's slots to gpr[] (end of the loop). */
#define FRAME_TO_GPR                                                                               \
    "mov 128(%rsp), %rdi\n"                                                                        \
    "mov 0x08(%rsp), %rcx\n mov %rcx, 0x08(%rdi)\n mov 0x10(%rsp), %rcx\n mov %rcx, 0x10(%rdi)\n"  \
    "mov 0x18(%rsp), %rcx\n mov %rcx, 0x18(%rdi)\n mov 0x28(%rsp), %rcx\n mov %rcx, 0x28(%rdi)\n"  \
    "mov 0x30(%rsp), %rcx\n mov %rcx, 0x30(%rdi)\n mov 0x38(%rsp), %rcx\n mov %rcx, 0x38(%rdi)\n"  \
    "mov 0x40(%rsp), %rcx\n mov %rcx, 0x40(%rdi)\n mov 0x48(%rsp), %rcx\n mov %rcx, 0x48(%rdi)\n"  \
    "mov 0x50(%rsp), %rcx\n mov %rcx, 0x50(%rdi)\n mov 0x58(%rsp), %rcx\n mov %rcx, 0x58(%rdi)\n"  \
    "mov 0x60(%rsp), %rcx\n mov %rcx, 0x60(%rdi)\n mov 0x68(%rsp), %rcx\n mov %rcx, 0x68(%rdi)\n"  \
    "mov 0x70(%rsp), %rcx\n mov %rcx, 0x70(%rdi)\n mov 0x78(%rsp), %rcx\n mov %rcx, 0x78(%rdi)\n"

/* Copy gpr[] (in %rsi) to the frame's slots (start of the loop). */
#define GPR_TO_FRAME                                                                               \
    "mov 0x08(%rsi), %rcx\n mov %rcx, 0x08(%rsp)\n mov 0x10(%rsi), %rcx\n mov %rcx, 0x10(%rsp)\n"  \
    "mov 0x18(%rsi), %rcx\n mov %rcx, 0x18(%rsp)\n mov 0x28(%rsi), %rcx\n mov %rcx, 0x28(%rsp)\n"  \
    "mov 0x30(%rsi), %rcx\n mov %rcx, 0x30(%rsp)\n mov 0x38(%rsi), %rcx\n mov %rcx, 0x38(%rsp)\n"  \
    "mov 0x40(%rsi), %rcx\n mov %rcx, 0x40(%rsp)\n mov 0x48(%rsi), %rcx\n mov %rcx, 0x48(%rsp)\n"  \
    "mov 0x50(%rsi), %rcx\n mov %rcx, 0x50(%rsp)\n mov 0x58(%rsi), %rcx\n mov %rcx, 0x58(%rsp)\n"  \
    "mov 0x60(%rsi), %rcx\n mov %rcx, 0x60(%rsp)\n mov 0x68(%rsi), %rcx\n mov %rcx, 0x68(%rsp)\n"  \
    "mov 0x70(%rsi), %rcx\n mov %rcx, 0x70(%rsp)\n mov 0x78(%rsi), %rcx\n mov %rcx, 0x78(%rsp)\n"

#define PROLOGUE(name)                                                                             \
    ".text\n .globl " name "\n .type " name ", @function\n" name ":\n"                             \
    "push %rbp\n push %rbx\n push %r12\n push %r13\n push %r14\n push %r15\n"                      \
    "push %rsi\n sub $128, %rsp\n" GPR_TO_FRAME "mov %rdi, %rax\n" LOAD_FROM("%rsp")

#define EPILOGUE(name)                                                                             \
    "9:\n" FRAME_TO_GPR "mov " STR(VMCB_EXITCODE) "(%rax), %eax\n"                                 \
                                                  "add $136, %rsp\n pop %r15\n pop %r14\n pop "    \
                                                  "%r13\n pop %r12\n pop %rbx\n pop %rbp\n ret\n"  \
                                                  ".size " name ", . - " name "\n"

/* clang-format off */
/* VMMCALL: advance past the 3-byte instruction. */
__asm__(PROLOGUE("bench_svm_bare_hc")
        "1: vmrun %rax\n" STORE_TO_STACK
        "cmpl $0x81, " STR(VMCB_EXITCODE) "(%rax)\n jne 9f\n"
        "addq $3, " STR(VMCB_RIP) "(%rax)\n"
        LOAD_FROM("%rsp") "jmp 1b\n"
        EPILOGUE("bench_svm_bare_hc"));

/* CPUID: the host's CPUID for the guest's EAX (VMCB) and ECX. */
__asm__(PROLOGUE("bench_svm_bare_cpuid")
        "1: vmrun %rax\n" STORE_TO_STACK
        "cmpl $0x72, " STR(VMCB_EXITCODE) "(%rax)\n jne 9f\n"
        "mov %rax, %rdi\n"
        "mov " STR(VMCB_RAX) "(%rdi), %eax\n"
        "cpuid\n"
        "mov %rax, " STR(VMCB_RAX) "(%rdi)\n"
        "mov %rbx, 0x18(%rsp)\n mov %rcx, 0x08(%rsp)\n mov %rdx, 0x10(%rsp)\n"
        "addq $2, " STR(VMCB_RIP) "(%rdi)\n"
        "mov %rdi, %rax\n"
        LOAD_FROM("%rsp") "jmp 1b\n"
        EPILOGUE("bench_svm_bare_cpuid"));

/* OUT: EXITINFO2 holds the next RIP (APM Vol. 2 15.10.2). */
__asm__(PROLOGUE("bench_svm_bare_out")
        "1: vmrun %rax\n" STORE_TO_STACK
        "cmpl $0x7b, " STR(VMCB_EXITCODE) "(%rax)\n jne 9f\n"
        "mov " STR(VMCB_EXITINFO2) "(%rax), %rdx\n"
        "mov %rdx, " STR(VMCB_RIP) "(%rax)\n"
        LOAD_FROM("%rsp") "jmp 1b\n"
        EPILOGUE("bench_svm_bare_out"));
/* clang-format on */

uint32_t bench_svm_bare_hc(uint64_t vmcb, uint64_t *gpr);
uint32_t bench_svm_bare_cpuid(uint64_t vmcb, uint64_t *gpr);
uint32_t bench_svm_bare_out(uint64_t vmcb, uint64_t *gpr);

int bench_bare_svm(struct bench_vm *b, enum bench_bare_kind kind)
{
    struct hv_vcpu *vcpu = b->vcpu;
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct svm_ctx *sc = svm_ctx_of(b->ctx);
    struct vmcb *v = s->vmcb;
    uint64_t host_area = sc->cpu[0].host_area_pa;
    uint32_t code;

    if ((uint64_t)(uintptr_t)v != s->vmcb_pa)
        return kcase_fail(b->kc, "bare SVM handler: the VMCB is not identity-mapped");
    /* What svm_run() does around its world switch, once. */
    v->save.rax = vcpu->gpr[HV_GPR_RAX];
    v->save.rsp = vcpu->gpr[HV_GPR_RSP];
    v->ctl.tlb_control = SVM_TLB_NONE;
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli; clgi" : "=r"(flags) : : "memory");
    __asm__ volatile("vmsave %%rax" : : "a"(host_area) : "memory");
    __asm__ volatile("vmload %%rax" : : "a"(s->vmcb_pa) : "memory");
    switch (kind) {
    case BENCH_BARE_HC:
        code = bench_svm_bare_hc(s->vmcb_pa, vcpu->gpr);
        break;
    case BENCH_BARE_CPUID:
        code = bench_svm_bare_cpuid(s->vmcb_pa, vcpu->gpr);
        break;
    default:
        code = bench_svm_bare_out(s->vmcb_pa, vcpu->gpr);
        break;
    }
    __asm__ volatile("vmsave %%rax" : : "a"(s->vmcb_pa) : "memory");
    __asm__ volatile("vmload %%rax" : : "a"(host_area) : "memory");
    __asm__ volatile("stgi; pushq %0; popfq" : : "r"(flags) : "memory", "cc");
    vcpu->gpr[HV_GPR_RAX] = v->save.rax;
    vcpu->gpr[HV_GPR_RSP] = v->save.rsp;
    if (code != SVM_EXIT_HLT)
        return kcase_fail(b->kc, "bare SVM handler ended on exit 0x%x at rip 0x%llx, expected HLT",
                          code, (unsigned long long)v->save.rip);
    return 0;
}

void bench_svm_arch_pages(struct hv_vm *vm, struct hv_vcpu *vcpu, uint64_t *per_vm,
                          uint64_t *per_vcpu)
{
    const struct svm_vm *sv = svm_vm_of(vm);
    *per_vm = (sv->iopm ? 3 : 0) + (sv->msrpm ? 2 : 0); /* APM 15.10.1, 15.11 */
    *per_vcpu = vcpu && svm_vcpu_of(vcpu)->vmcb ? 1 : 0;
}
