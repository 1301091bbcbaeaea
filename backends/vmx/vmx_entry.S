/*
 * VMX world switch (SDM Vol. 3C 26 VM entry, 27 VM exit).
 *
 * int vmx_enter(struct hv_vcpu *vcpu, struct vmx_vcpu *vv)
 *   vcpu->gpr[16] is at offset 0 of struct hv_vcpu (hv_gpr order: RAX RCX
 *   RDX RBX RSP RBP RSI RDI R8..R15); vv->host_rsp at 0 (the VMCS's host
 *   RSP as last written), vv->guest_cr2 at 8,
 *   vv->launched at 16 (set here before the entry, cleared again when
 *   VMLAUNCH fails). RSP, RIP and RFLAGS come from the VMCS; every other
 *   guest GPR is switched here, and CR2, which the VMCS does not hold.
 *   Called with interrupts off and the vCPU's VMCS current.
 * Returns 0 after a VM exit (through vmx_exit_trampoline, the VMCS host
 * RIP), 1 if VMLAUNCH/VMRESUME failed with VMfailInvalid (CF), 2 with
 * VMfailValid (ZF; the VM-instruction error field says why).
 *
 * After each exit, with the guest's GPRs and CR2 saved and interrupts
 * still off (RFLAGS is 2 after a VM exit, SDM Vol. 3C 28.5.3 in the 2023
 * numbering),
 * vmx_fast_exit(vcpu) may finish the exit (vmx_fast.c): then the guest
 * re-enters at once with VMRESUME, without returning to vmx_run (an MMIO
 * exit it filled for the embedder returns here, and vmx_run sees
 * exit_ready). The host state VM exit loaded (CR0/3/4, segments, FS/GS
 * base, EFER, PAT, and the MSR list's KERNEL_GS_BASE and syscall MSRs) is
 * what that C code runs on, an MMIO handler's included; the GDTR/IDTR/TR
 * limits VM exit leaves at 0xffff/0x67 (SDM 28.5.2) are put back by
 * vmx_run when the loop ends: nothing in between needs them.
 */
#include "core/vcpu_asm.h"

/* Every guest GPR but RSP from vcpu->gpr (in %rdi, enum hv_gpr order:
   RAX RCX RDX RBX RSP RBP RSI RDI R8..R15); RDI last. */
.macro LOAD_GUEST_GPRS
    mov 0x08(%rdi), %rcx
    mov 0x10(%rdi), %rdx
    mov 0x18(%rdi), %rbx
    mov 0x28(%rdi), %rbp
    mov 0x30(%rdi), %rsi
    mov 0x40(%rdi), %r8
    mov 0x48(%rdi), %r9
    mov 0x50(%rdi), %r10
    mov 0x58(%rdi), %r11
    mov 0x60(%rdi), %r12
    mov 0x68(%rdi), %r13
    mov 0x70(%rdi), %r14
    mov 0x78(%rdi), %r15
    mov 0x00(%rdi), %rax
    mov 0x38(%rdi), %rdi
.endm

    .text
    .globl vmx_enter
    .type vmx_enter, @function
vmx_enter:
    HV_PUSH_CALLEE_SAVED
    push %rdi                   /* vcpu: found again after the exit */
    push %rsi                   /* vv */
    sub $8, %rsp                /* RSP 16-aligned for vmx_fast_exit */

    /* Host RSP for the exit: the stack as it is now (VMCS field 6C14H):
       vv at 8(%rsp), vcpu at 16(%rsp). vv->host_rsp is what the VMCS
       holds (0 for a new VMCS: obj_alloc zeroes vv; VMCLEAR and VMPTRLD
       keep the field; code that writes the field itself, like the bare
       benchmark handler, must zero it): written only when the stack
       moved. */
    cmp %rsp, 0(%rsi)
    je 6f
    mov $0x6c14, %eax
    vmwrite %rsp, %rax
    mov %rsp, 0(%rsi)
6:

    /* The SLAT grace period (core/vm.c wait_for_guests): in guest mode from
       here (odd epoch; LOCK makes the increment a full barrier), then a
       flush request still pending is carried out before the entry. */
    lock incq HV_VCPU_GUEST_EPOCH(%rdi)
    cmpb $0, HV_VCPU_FLUSH_REQ(%rdi)
    je 7f
    call vmx_flush_for_entry    /* (vcpu in RDI); RSP is 16-aligned */
    mov 16(%rsp), %rdi
    mov 8(%rsp), %rsi
7:
    mov 8(%rsi), %rax
    mov %rax, %cr2

    cmpq $0, 16(%rsi)           /* flags survive the MOVs below */
    movq $1, 16(%rsi)           /* launched: a VMLAUNCH that fails clears it */

    LOAD_GUEST_GPRS

    /* STI right before the entry: its shadow keeps interrupts out until
       VMLAUNCH/VMRESUME, which leave RFLAGS to the guest. Entering with
       IF=1 makes Bochs re-evaluate interrupt masking for the guest (with
       external-interrupt exiting, host interrupts exit even when the guest
       has IF=0); without it, Bochs keeps host interrupts masked in a guest
       that entered with IF=0 and never executes STI/CLI again. */
    je 1f
    sti
    vmresume
    jmp 2f
1:  sti
    vmlaunch
    cli                         /* VMLAUNCH failed: still not launched */
    mov 8(%rsp), %rsi           /* (MOVs leave CF and ZF alone) */
    movq $0, 16(%rsi)
2:  /* Only reached when the instruction failed: CF or ZF is set. CLI
       leaves both alone. */
    cli
    mov $1, %eax
    jc 3f
    mov $2, %eax
3:  mov 16(%rsp), %rdi          /* no entry: out of guest mode again */
    incq HV_VCPU_GUEST_EPOCH(%rdi)
    add $24, %rsp
    jmp 4f

    .globl vmx_exit_trampoline
    .type vmx_exit_trampoline, @function
vmx_exit_trampoline:
    /* VM exit: RSP = host RSP above, RFLAGS = 2, interrupts off. */
    push %rdi                   /* guest RDI */
    mov 24(%rsp), %rdi          /* vcpu */
    mov %rax, 0x00(%rdi)
    mov %rcx, 0x08(%rdi)
    mov %rdx, 0x10(%rdi)
    mov %rbx, 0x18(%rdi)
    mov %rbp, 0x28(%rdi)
    mov %rsi, 0x30(%rdi)
    mov %r8, 0x40(%rdi)
    mov %r9, 0x48(%rdi)
    mov %r10, 0x50(%rdi)
    mov %r11, 0x58(%rdi)
    mov %r12, 0x60(%rdi)
    mov %r13, 0x68(%rdi)
    mov %r14, 0x70(%rdi)
    mov %r15, 0x78(%rdi)
    pop %rax
    mov %rax, 0x38(%rdi)
    incq HV_VCPU_GUEST_EPOCH(%rdi) /* out of guest mode (even) */
    mov 8(%rsp), %rsi           /* vv */
    mov %cr2, %rax
    mov %rax, 8(%rsi)

    /* The exit fast path (RSP is 16-aligned here, as the call needs). */
    call vmx_fast_exit          /* (vcpu in RDI): finished? IF stays 0 */
    test %al, %al
    jz 5f

    /* Re-enter: in guest mode again, with the flush request taken as at
       the first entry; the guest's GPRs again (vmx_fast_exit changed
       some); CR2 from vv->guest_cr2 every time: an injected #PF sets it,
       and a host NMI handler or an MMIO region's handler that takes a
       page fault in between changes the register. */
    mov 16(%rsp), %rdi          /* vcpu */
    lock incq HV_VCPU_GUEST_EPOCH(%rdi)
    cmpb $0, HV_VCPU_FLUSH_REQ(%rdi)
    je 8f
    call vmx_flush_for_entry
    mov 16(%rsp), %rdi          /* vcpu */
8:  mov 8(%rsp), %rax           /* vv */
    mov 8(%rax), %rax
    mov %rax, %cr2
    LOAD_GUEST_GPRS
    sti                         /* as above: its shadow covers VMRESUME */
    vmresume
    jmp 2b                      /* failed: the stack is as vmx_enter's */

5:  add $24, %rsp
    HV_CLEAR_GUEST_SCRATCH       /* the callee-saved get the host's back below */
    xor %eax, %eax
4:  HV_POP_CALLEE_SAVED
    ret
    .size vmx_enter, . - vmx_enter

    .section .note.GNU-stack, "", @progbits
