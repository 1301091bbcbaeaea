/*
 * The SVM world switch (APM Vol. 2 15.5 VMRUN, 15.5.2 #VMEXIT, 15.17 GIF).
 *
 *   void svm_world_switch(struct hv_vcpu *vcpu,   rdi
 *                         uint64_t vmcb_pa,       rsi
 *                         uint64_t host_area_pa,  rdx
 *                         struct vmcb *vmcb);     rcx
 *
 * Called with GIF=0 (the caller executed CLGI). VMRUN saves and restores
 * only part of the host state (RAX, RSP, RIP, RFLAGS, segments' visible
 * parts, CR0/3/4, EFER, GDTR/IDTR, through VM_HSAVE_PA); the rest that the
 * guest can change is handled here:
 *   - every GPR but RAX/RSP: loaded from and stored to vcpu->gpr (the
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
 * the library runs). Otherwise it returns with GIF still 0: its C caller
 * (svm_run.c) puts the host's XCR0 and PKRU back (svm_xcr0.h, svm_pkru.h)
 * and then executes STGI, which lets a host interrupt that caused the exit
 * reach the host's IDT right away (the host keeps RFLAGS.IF=1 around
 * hv_vcpu_run).
 *
 *   hv_status_t svm_run(struct hv_vcpu *vcpu, struct hv_vexit *ex);
 *
 * The backend's run() for the common entry, fused with the world switch
 * in one frame (one set of callee-saved registers, no call in between):
 * CLGI, the host's CPU number (hv_host_ops::cpu_current) and its checks,
 * then the entry when nothing unusual is due. Anything else ends in C
 * before the entry, after STGI: a CPU out of range or not enabled, an
 * ASID whose last run on this CPU was another vCPU's (TLB control), IRET
 * bookkeeping, a guest XCR0 other than x87 on a host without CR4.OSXSAVE
 * (the XCR0 switch's CR4 dance), a vCPU hv_vcpu_load bound to
 * another CPU: svm_run_c (svm_run.c) then does the whole run, asking for
 * the CPU number again. A host with CR4.OSXSAVE (any kernel that uses AVX)
 * takes a second expansion of the same entry that switches XCR0 itself
 * (XCR0_ENTER/XCR0_LEAVE). A vCPU bound to this CPU skips the host's
 * VMSAVE (svm_load made it). After the exit: the guest's RAX/RSP to
 * vcpu->gpr, the host's registers back, STGI, and either the exit a fast
 * path filled (vcpu->exit_ready: HV_OK) or the full path's loop,
 * svm_run_full (svm_run.c), as a tail call.
 */

#include "svm/svm_asm.h"

#define TLB_FLUSH_ALL 1    /* TLB_CONTROL: flush every ASID's entries (15.16.1) */
#define VMCB_TLB_CONTROL 0x5c /* byte of the control area (APM Vol. 2 Table B-1) */

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

/* The frame both functions keep below the six callee-saved registers
   (RSP 16-aligned at the fast path's call). */
#define F_VMCBVA  0
#define F_VCPU    8
#define F_VMCBPA  16
#define F_HOST    24
#define F_EX      32 /* svm_run's ex; svm_world_switch: unused */
#define F_SIZE    40

/*
 * The guest's run with the host area VMSAVEd and the guest's CR2 loaded:
 * VMRUN, and again at once while svm_fast_exit() finishes the exits.
 * Ends with GIF=0, the host's state loaded (VMLOAD), the guest's GPRs in
 * vcpu->gpr and its CR2 still in the register. \@: labels per use.
 */
.macro WORLD_SWITCH
.Lenter\@:
    mov F_VCPU(%rsp), %rdi
    /* The SLAT grace period (core/vm.c wait_for_guests): in guest mode from
       here (odd epoch; LOCK makes the increment a full barrier), then a
       flush request still pending makes this VMRUN drop the TLB. */
    lock incq HV_VCPU_GUEST_EPOCH(%rdi)
    cmpb $0, HV_VCPU_FLUSH_REQ(%rdi)
    jne .Lflush\@
.Lgo\@:
    mov F_VMCBPA(%rsp), %rax /* VMRUN and VMLOAD take the VMCB in RAX */
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
    jnz .Lenter\@

    /* Out of the way (no jump over it on the common path). */
    .pushsection .text.unlikely, "ax", @progbits
.Lflush\@:
    movb $0, HV_VCPU_FLUSH_REQ(%rdi)
    mov F_VMCBVA(%rsp), %rax
    movb $TLB_FLUSH_ALL, VMCB_TLB_CONTROL(%rax)
    jmp .Lgo\@
    .popsection
.endm

/*
 * svm_run's pieces, expanded once for a host without CR4.OSXSAVE and once
 * for one with it (XCR0 switched between them).
 *
 * ENTRY_SETUP: with the checks passed (EAX and ECX the CPU number, RDX
 * its svm_cpu, R14 the svm_vcpu), the state the world switch needs.
 */
.macro ENTRY_SETUP
    mov SVM_VCPU_VMCB(%r14), %r8
    mov HV_VCPU_RAX(%rbx), %rsi
    mov %rsi, VMCB_RAX(%r8)
    mov HV_VCPU_RSP(%rbx), %rsi
    mov %rsi, VMCB_RSP(%r8)
    mov %r8, F_VMCBVA(%rsp)
    mov SVM_VCPU_VMCB_PA(%r14), %rsi
    mov %rsi, F_VMCBPA(%rsp)
    mov SVM_CPU_HOST_AREA_PA(%rdx), %rax
    mov %rax, F_HOST(%rsp)
    cmpb $0, HV_VCPU_LOADED(%rbx)
    jne .Lloaded\@
    vmsave %rax          /* host's hidden segment and syscall MSR state */
.Lsaved\@:
    mov VMCB_CR2(%r8), %rax
    mov %rax, %cr2

    /* A vCPU hv_vcpu_load bound to this CPU: svm_load VMSAVEd the
       host's state into this area already. Bound elsewhere, the run is
       svm_run_c's to refuse. */
    .pushsection .text.unlikely, "ax", @progbits
.Lloaded\@:
    cmp HV_VCPU_LOADED_CPU(%rbx), %ecx
    jne .Lbail
    jmp .Lsaved\@
    .popsection
.endm

/* After the world switch: the guest's CR2 into the VMCB (RSI: the VMCB),
   before any C code could take a page fault. */
.macro EXIT_CR2
    mov F_VMCBVA(%rsp), %rsi
    mov %cr2, %rcx
    mov %rcx, VMCB_CR2(%rsi)
.endm

/* The guest's RAX/RSP into the vCPU, then the exit a fast path filled
   (HV_OK) or the full path's loop (RSI: the VMCB). */
.macro EXIT_RETURN
    mov F_VCPU(%rsp), %rdi
    mov VMCB_RAX(%rsi), %rcx
    mov %rcx, HV_VCPU_RAX(%rdi)
    mov VMCB_RSP(%rsi), %rdx
    mov %rdx, HV_VCPU_RSP(%rdi)

    /* No guest value stays in a caller-saved register (RDI and RSI hold
       the vCPU and its VMCB now), nor, once popped, in a callee-saved one
       when STGI lets a host interrupt that caused the exit in. */
    xor %ecx, %ecx
    xor %edx, %edx
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    cmpb $0, HV_VCPU_EXIT_READY(%rdi)
    je .Lfull
    xor %eax, %eax       /* HV_OK: svm_fast_exit filled the embedder's exit */
    add $F_SIZE, %rsp
    HV_POP_CALLEE_SAVED
    stgi
    ret
.endm

/* The guest's XCR0 in, the host's kept in svm_vcpu.host_xcr0 (XGETBV and
   XSETBV with ECX = 0, APM Vol. 3); nothing written when they are equal.
   Keeps EAX/ECX (the CPU number) and RDX (its svm_cpu). */
.macro XCR0_ENTER
    mov %eax, %r9d
    mov %rdx, %r10
    xor %ecx, %ecx
    xgetbv
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, SVM_VCPU_HOST_XCR0(%r14)
    mov HV_VCPU_XCR0(%rbx), %rdx
    cmp %rax, %rdx
    je 1f
    mov %edx, %eax
    shr $32, %rdx
    xsetbv
1:
    mov %r9d, %eax
    mov %r9d, %ecx
    mov %r10, %rdx
.endm

/* After the last exit, the host's XCR0 back. XCR0 as the guest left it is
   read first: an emulator without the XSETBV intercept (QEMU's TCG) lets
   the guest's XSETBV reach the CPU, and such a value goes to the core to
   check and adopt (hv_xcr0_untrapped, with GIF=0 and the host's XCR0, as
   svm_run_c does). Keeps RSI (the VMCB). */
.macro XCR0_LEAVE
    mov F_VCPU(%rsp), %rdi
    mov HV_VCPU_ARCH(%rdi), %r9
    xor %ecx, %ecx
    xgetbv
    shl $32, %rdx
    or %rax, %rdx                 /* the guest's XCR0 */
    mov SVM_VCPU_HOST_XCR0(%r9), %rax
    cmp %rax, %rdx
    je 1f
    mov %rdx, %r8
    mov %rax, %rdx
    shr $32, %rdx
    xsetbv
    mov %r8, %rdx
1:
    cmp HV_VCPU_XCR0(%rdi), %rdx
    jne .Luntrapped\@
.Lxcr0_done\@:

    .pushsection .text.unlikely, "ax", @progbits
.Luntrapped\@:
    mov %rdx, %rsi
    call hv_xcr0_untrapped        /* (vcpu, value) */
    mov F_VMCBVA(%rsp), %rsi
    jmp .Lxcr0_done\@
    .popsection
.endm

    .text
    .globl svm_world_switch
    .type svm_world_switch, @function
svm_world_switch:
    /* Host callee-saved registers (SysV ABI). */
    HV_PUSH_CALLEE_SAVED
    sub $8, %rsp         /* F_EX: unused here */
    push %rdx            /* host area pa */
    push %rsi            /* vmcb pa */
    push %rdi            /* vcpu */
    push %rcx            /* vmcb */

    mov %rdx, %rax
    vmsave %rax          /* host's hidden segment and syscall MSR state */
    mov VMCB_CR2(%rcx), %rax
    mov %rax, %cr2

    WORLD_SWITCH

    mov F_VMCBVA(%rsp), %rax
    mov %cr2, %rcx
    mov %rcx, VMCB_CR2(%rax)

    HV_CLEAR_GUEST_SCRATCH

    add $F_SIZE, %rsp
    HV_POP_CALLEE_SAVED
    ret
    .size svm_world_switch, .-svm_world_switch

    .globl svm_run
    .type svm_run, @function
svm_run:
    HV_PUSH_CALLEE_SAVED
    push %rsi            /* F_EX */
    sub $F_EX, %rsp
    mov %rdi, F_VCPU(%rsp)
    mov %rdi, %rbx       /* vcpu, across the callback */

    /* GIF=0 from here to the exit: no migration, and an interrupt that
       arrives now (a kick after a SLAT flush) stays pending and makes the
       guest exit at once instead of slipping in before VMRUN. */
    clgi
    mov HV_VCPU_VM(%rbx), %r12           /* struct hv_vm */
    mov HV_VM_CTX(%r12), %r13            /* struct hv_ctx */
    mov HV_CTX_HOST_OPAQUE(%r13), %rdi
    call *HV_CTX_HOST_CPU_CURRENT(%r13)  /* the host's CPU number, in EAX */

    mov HV_CTX_ARCH(%r13), %r13          /* struct svm_ctx */
    cmp SVM_CTX_NCPUS(%r13), %eax
    jae .Lbail
    mov %eax, %ecx
    imul $SVM_CPU_SIZE, %rcx, %rdx
    add SVM_CTX_CPU(%r13), %rdx          /* &sc->cpu[cpu] */
    cmpb $0, SVM_CPU_ENABLED(%rdx)
    je .Lbail
    /* This vCPU was the last of its ASID on this CPU (svm_asid.c). */
    mov HV_VM_ARCH(%r12), %rsi
    mov SVM_VM_LAST_ON(%rsi), %rsi
    mov HV_VCPU_ARCH(%rbx), %r14         /* struct svm_vcpu */
    mov (%rsi,%rcx,8), %rsi
    cmp SVM_VCPU_SERIAL(%r14), %rsi
    jne .Lbail
    /* Where kicks and the SLAT grace period find it (before the guest-mode
       epoch turns odd); then, after a full barrier, a kick set before it
       (its interrupt taken before the CLGI, or sent to the CPU this vCPU
       ran on last: core/objects.h HV_KICK_EVENT) keeps it out: the C run
       sees it too and ends the run loop's turn. */
    mov %eax, HV_VCPU_HOST_CPU(%rbx)
    lock orl $0, (%rsp)
    cmpl $0, HV_VCPU_KICK_PENDING(%rbx)
    jne .Lbail
    /* A host with CR4.OSXSAVE (one that uses AVX: its XCR0 may be
       anything) gets XCR0 switched by the entry below. */
    mov %cr4, %rsi
    test $SVM_ASM_CR4_OSXSAVE, %esi
    jnz .Lxsave_host
    /* No IRET bookkeeping (it keeps the fast path off: svm_run.c) and the
       guest's XCR0 x87 (svm_vcpu.xcr0_switch clear, the next byte: on a
       host without CR4.OSXSAVE switching it needs the C entry's CR4 dance,
       svm_xcr0.h). PKRU needs no switch: the guest cannot set CR4.PKE
       (svm_cr4.c). */
    cmpw $0, SVM_VCPU_IRET_PENDING(%r14)
    jne .Lbail

    ENTRY_SETUP
    WORLD_SWITCH
    EXIT_CR2
    EXIT_RETURN

    /* The same entry for a host with CR4.OSXSAVE: XCR0 is not in the VMCB
       (APM Vol. 2 15.5.1), so the guest's goes in after the checks and the
       host's comes back after the last exit, both with GIF=0, as
       svm_xcr0.h does for the C entry (the exit fast path, library code
       only, runs with the guest's: it uses no XSAVE-managed register). */
.Lxsave_host:
    cmpb $0, SVM_VCPU_IRET_PENDING(%r14)
    jne .Lbail
    XCR0_ENTER
    ENTRY_SETUP
    WORLD_SWITCH
    EXIT_CR2
    XCR0_LEAVE
    EXIT_RETURN

.Lfull:                  /* svm_run_full(vcpu, ex) */
    mov F_EX(%rsp), %rsi
    add $F_SIZE, %rsp
    HV_POP_CALLEE_SAVED
    stgi
    jmp svm_run_full

.Lbail:                  /* svm_run_c(vcpu, ex): the run in C */
    stgi
    mov %rbx, %rdi
    mov F_EX(%rsp), %rsi
    add $F_SIZE, %rsp
    HV_POP_CALLEE_SAVED
    jmp svm_run_c
    .size svm_run, .-svm_run

    .section .note.GNU-stack, "", @progbits
