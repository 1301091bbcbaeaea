/*
 * The SVM world switch (APM Vol. 2 15.5 VMRUN, 15.5.2 #VMEXIT, 15.17 GIF).
 *
 *   void svm_world_switch(struct hv_vcpu *vcpu,   rdi
 *                         uint64_t vmcb_pa,       rsi
 *                         uint64_t host_area_pa,  rdx
 *                         uint64_t *guest_cr2,    rcx (&vmcb->save.cr2)
 *                         struct vmcb *vmcb);     r8
 *
 * Called with GIF=0 (the caller executed CLGI). VMRUN saves and restores
 * only part of the host state (RAX, RSP, RIP, RFLAGS, segments' visible
 * parts, CR0/3/4, EFER, GDTR/IDTR, through VM_HSAVE_PA); the rest that the
 * guest can change is handled here:
 *   - every GPR but RAX/RSP: loaded from and stored to vcpu->gpr (the C
 *     caller keeps RAX/RSP in sync with the VMCB);
 *   - FS/GS/TR/LDTR hidden state, KERNEL_GS_BASE, STAR/LSTAR/CSTAR/SFMASK,
 *     SYSENTER_*: VMSAVE to the per-CPU host area before, VMLOAD of the
 *     guest's from the VMCB, VMSAVE of the guest's after, VMLOAD of the
 *     host's back (15.5.4);
 *   - CR2: VMRUN loads it from the VMCB and #VMEXIT stores it there, but not
 *     every implementation does (Bochs leaves it alone), and the host does
 *     not need its own value back: it is also moved by hand, which is
 *     harmless where the CPU does it too.
 * After each exit svm_fast_exit(vcpu) may finish it (svm_fast.c): then the
 * guest re-enters at once, still with GIF=0, the guest's CR2 in place and
 * the host area VMSAVEd once (the host's state does not change while only
 * the library runs). Otherwise it returns with GIF still 0: svm_run puts
 * the host's XCR0 and PKRU back (svm_xcr0.h, svm_pkru.h) and then executes
 * STGI, which lets a host interrupt that caused the exit reach the host's
 * IDT right away (the host keeps RFLAGS.IF=1 around hv_vcpu_run).
 */

#include "core/vcpu_asm.h"

#define VMCB_TLB_CONTROL 0x5c /* byte of the control area (APM Vol. 2 Table B-1) */
#define TLB_FLUSH_ALL    1    /* TLB_CONTROL: flush every ASID's entries (15.16.1) */

/* Offsets of the GPRs in struct hv_vcpu: gpr[] is its first member, in
   enum hv_gpr order. */
#define G_RCX (1 * 8)
#define G_RDX (2 * 8)
#define G_RBX (3 * 8)
#define G_RBP (5 * 8)
#define G_RSI (6 * 8)
#define G_RDI (7 * 8)
#define G_R8  (8 * 8)
#define G_R9  (9 * 8)
#define G_R10 (10 * 8)
#define G_R11 (11 * 8)
#define G_R12 (12 * 8)
#define G_R13 (13 * 8)
#define G_R14 (14 * 8)
#define G_R15 (15 * 8)

/* Stack frame below the pushed callee-saved registers (11 pushes in all
   keep RSP 16-aligned at the call). */
#define F_VMCBVA  0
#define F_VCPU    8
#define F_VMCB    16
#define F_CR2     24
#define F_HOST    32
#define F_SIZE    40

    .text
    .globl svm_world_switch
    .type svm_world_switch, @function
svm_world_switch:
    /* Host callee-saved registers (SysV ABI). */
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdx            /* host area pa */
    push %rcx            /* &vmcb->save.cr2 */
    push %rsi            /* vmcb pa */
    push %rdi            /* vcpu */
    push %r8             /* vmcb */

    mov %rdx, %rax
    vmsave %rax          /* host's hidden segment and syscall MSR state */
    mov (%rcx), %rax
    mov %rax, %cr2

.Lenter:
    mov F_VCPU(%rsp), %rdi
    /* The SLAT grace period (core/vm.c wait_for_guests): in guest mode from
       here (odd epoch; LOCK makes the increment a full barrier), then a
       flush request still pending makes this VMRUN drop the TLB. */
    lock incq HV_VCPU_GUEST_EPOCH(%rdi)
    cmpb $0, HV_VCPU_FLUSH_REQ(%rdi)
    jne .Lflush
.Lgo:
    mov F_VMCB(%rsp), %rax /* VMRUN and VMLOAD take the VMCB in RAX */
    mov G_RCX(%rdi), %rcx
    mov G_RDX(%rdi), %rdx
    mov G_RBX(%rdi), %rbx
    mov G_RBP(%rdi), %rbp
    mov G_RSI(%rdi), %rsi
    mov G_R8(%rdi), %r8
    mov G_R9(%rdi), %r9
    mov G_R10(%rdi), %r10
    mov G_R11(%rdi), %r11
    mov G_R12(%rdi), %r12
    mov G_R13(%rdi), %r13
    mov G_R14(%rdi), %r14
    mov G_R15(%rdi), %r15
    mov G_RDI(%rdi), %rdi

    vmload %rax
    vmrun %rax
    vmsave %rax          /* RAX is the VMCB again: VMRUN restored the host's */

    push %rdi            /* guest RDI */
    mov F_VCPU+8(%rsp), %rdi
    mov %rcx, G_RCX(%rdi)
    mov %rdx, G_RDX(%rdi)
    mov %rbx, G_RBX(%rdi)
    mov %rbp, G_RBP(%rdi)
    mov %rsi, G_RSI(%rdi)
    mov %r8, G_R8(%rdi)
    mov %r9, G_R9(%rdi)
    mov %r10, G_R10(%rdi)
    mov %r11, G_R11(%rdi)
    mov %r12, G_R12(%rdi)
    mov %r13, G_R13(%rdi)
    mov %r14, G_R14(%rdi)
    mov %r15, G_R15(%rdi)
    popq G_RDI(%rdi)
    incq HV_VCPU_GUEST_EPOCH(%rdi) /* out of guest mode (even) */

    mov F_HOST(%rsp), %rax
    vmload %rax          /* the host's state back, for C code */
    mov F_VMCBVA(%rsp), %rsi
    call svm_fast_exit   /* (vcpu, vmcb): finished here? GIF stays 0 */
    test %al, %al
    jnz .Lenter

    mov F_CR2(%rsp), %rax
    mov %cr2, %rcx
    mov %rcx, (%rax)

    /* No guest value stays in a caller-saved register. */
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d

    add $F_SIZE, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

.Lflush:
    movb $0, HV_VCPU_FLUSH_REQ(%rdi)
    mov F_VMCBVA(%rsp), %rax
    movb $TLB_FLUSH_ALL, VMCB_TLB_CONTROL(%rax)
    jmp .Lgo
    .size svm_world_switch, .-svm_world_switch

    .section .note.GNU-stack, "", @progbits
