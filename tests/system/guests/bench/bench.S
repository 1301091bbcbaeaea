/*
 * The exit-cost guest of the benchmarks (bench_abi.h has the protocol).
 *
 * Starts in real mode at 0000:1000 like the other system-test guests,
 * enters 64-bit mode, switches to an identity map of the first 4 GiB
 * (2 MiB pages: MMIO and the fault range are reachable), then serves
 * commands:
 *
 *     IN  BENCH_PORT_CMD   -> command
 *     HLT                  (the host may hand over to a bare handler here)
 *     baseline loop, loop with the operation, both between RDTSCs
 *     HLT                  (results in guest RAM at BENCH_RES_*)
 *
 * Registers: R12 loop counter, R13 base of the access, R14 start TSC, R15
 * iterations. The instruction under test may clobber RAX..RDI only.
 */
#include "guest.inc"
#include "bench_abi.h"

/* Xen ABI: hypercall numbers and sub-operations used here. */
#define HC_MEMORY_OP        12
#define HC_XEN_VERSION      17
#define HC_EVENT_CHANNEL_OP 32
#define HC_HVM_OP           34
#define XENMEM_ADD_TO_PHYSMAP 7
#define XENMAPSPACE_SHARED_INFO 0
#define EVTCHNOP_SEND       4
#define EVTCHNOP_BIND_IPI   7
#define HVMOP_SET_EVTCHN_UPCALL_VECTOR 23
#define DOMID_SELF          0x7ff0
/* shared_info layout (64-bit guest): vcpu_info[0] at 0 (upcall_pending at
   0, upcall_mask at 1, pending_sel at 8), evtchn_pending[] at 2048. */
#define SHI_UPCALL_PENDING  (BENCH_SHINFO_GPA + 0)
#define SHI_UPCALL_MASK     (BENCH_SHINFO_GPA + 1)
#define SHI_PENDING_SEL     (BENCH_SHINFO_GPA + 8)
#define SHI_EVTCHN_PENDING  (BENCH_SHINFO_GPA + 2048)

/* RAX = TSC (RDX clobbered). */
.macro TSC
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
.endm

/*
 * One timed pair: \pre once before each loop, \setup each iteration of
 * both loops, \op each iteration of the second only. Ends at the result
 * HLT and goes back for the next command.
 */
.macro TIMED pre, setup, op, post=NONE
    movq BENCH_ITERS, %r15
    TSC
    movq %rax, %r14
    movq %r15, %r12
    \pre
1:  \setup
    decq %r12
    jnz 1b
    TSC
    subq %r14, %rax
    movq %rax, BENCH_RES_BASE
    TSC
    movq %rax, %r14
    movq %r15, %r12
    \pre
2:  \setup
    \op
    decq %r12
    jnz 2b
    TSC
    subq %r14, %rax
    movq %rax, BENCH_RES_OP
    \post
    jmp done
.endm

/* A hypercall: \insn is vmmcall (AMD) or vmcall (Intel). */
.macro HYPERCALL nr, a1, a2, insn
    movl $\nr, %eax
    movl $\a1, %edi
    movl $\a2, %esi
    \insn
.endm

    GUEST_START
    ENTER_PM32
    ENTER_LONG
    movl $bench_pml4, %eax
    movq %rax, %cr3
    /* IDT: only the upcall vector has a gate (a stray vector faults). */
    movl $upcall, %eax
    movl $idt + BENCH_UPCALL_VECTOR * 16, %edi
    movw %ax, 0(%rdi)               /* offset 15:0 */
    movw $SEL_CODE64, 2(%rdi)
    movw $0x8e00, 4(%rdi)           /* present, DPL 0, 64-bit interrupt gate */
    shrl $16, %eax
    movw %ax, 6(%rdi)               /* offset 31:16; 63:32 stay 0 */
    movl $apic_isr, %eax
    movl $idt + BENCH_APIC_VECTOR * 16, %edi
    movw %ax, 0(%rdi)
    movw $SEL_CODE64, 2(%rdi)
    movw $0x8e00, 4(%rdi)
    shrl $16, %eax
    movw %ax, 6(%rdi)
    lidt idt_desc

cmd_loop:
    cli                             /* the evtchn command turned them on */
    inl $BENCH_PORT_CMD, %eax
    hlt                             /* hand-over point for bare handlers */
    movl %eax, %ebx
    andl $0xff, %eax
    cmpl $BENCH_CMD_APIC_IPI, %eax
    ja cmd_loop
    testl $BENCH_CMD_INTEL, %ebx
    jnz 1f
    jmp *cmd_amd(, %rax, 8)
1:  jmp *cmd_intel(, %rax, 8)

done:
    hlt                             /* results ready */
    jmp cmd_loop

stop:
    hlt
    jmp stop

/* Loop bodies (named macros: the preprocessor does not expand inside the
   quoted arguments GAS would need for multi-instruction bodies). */
.macro NONE
.endm
.macro S_CPUID
    xorl %eax, %eax
    xorl %ecx, %ecx
.endm
.macro O_CPUID
    cpuid
.endm
.macro S_HC
    movl $BENCH_HC_UNKNOWN, %eax
.endm
.macro O_VMMCALL
    vmmcall
.endm
.macro O_VMCALL
    vmcall
.endm
/* xen_version(XENVER_version, NULL) */
.macro S_XENVER
    movl $HC_XEN_VERSION, %eax
    xorl %edi, %edi
    xorl %esi, %esi
.endm
.macro S_OUT
    movb $0x5a, %al
.endm
.macro O_OUT
    outb %al, $BENCH_PORT_OUT
.endm
.macro P_MMIO_H
    movl $BENCH_MMIO_HANDLER_GPA, %r13d
.endm
.macro P_MMIO_E
    movl $BENCH_MMIO_EXIT_GPA, %r13d
.endm
.macro O_LOAD
    movl (%r13), %eax
.endm
/* A new page each iteration: the host maps it on the fault and unmaps the
   whole range between runs. */
.macro P_NPF
    movl $BENCH_NPF_GPA, %r13d
.endm
.macro S_NPF
    addq $4096, %r13
.endm
.macro O_NPF
    movl -4096(%r13), %eax
.endm
/* event_channel_op(EVTCHNOP_send, {port}): the port is the guest's own
   IPI port, so each send raises an upcall taken before the next
   instruction. */
.macro S_EVTCHN
    movl $HC_EVENT_CHANNEL_OP, %eax
    movl $EVTCHNOP_SEND, %edi
    movl $BENCH_EVT_SEND, %esi
.endm

/* The local APIC's registers as MSRs (x2APIC, SDM Vol. 3A 11.12.1) and
   IA32_TSC_DEADLINE (11.5.4.1). */
#define MSR_APIC_BASE    0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_EOI   0x80b
#define MSR_X2APIC_SVR   0x80f
#define MSR_X2APIC_LVTT  0x832
#define MSR_X2APIC_SELF_IPI 0x83f
.macro P_APIC_MMIO
    movl $BENCH_APIC_EOI_GPA, %r13d
.endm
/* A register store, as Linux's writel() makes it. */
.macro S_ZERO
    xorl %eax, %eax
.endm
.macro O_STORE
    movl %eax, (%r13)
.endm
.macro S_X2EOI
    movl $MSR_X2APIC_EOI, %ecx
    xorl %eax, %eax
    xorl %edx, %edx
.endm
.macro O_WRMSR
    wrmsr
.endm
/* A deadline 2^40 TSC ticks from now: armed, never reached. */
.macro S_TSCDL
    rdtsc
    addl $0x100, %edx
    movl $MSR_TSC_DEADLINE, %ecx
.endm
.macro TSCDL_OFF
    movl $MSR_TSC_DEADLINE, %ecx
    xorl %eax, %eax
    xorl %edx, %edx
    wrmsr
.endm
.macro S_SELF_IPI
    movl $MSR_X2APIC_SELF_IPI, %ecx
    movl $BENCH_APIC_VECTOR, %eax
    xorl %edx, %edx
.endm

t_cpuid:
    TIMED NONE, S_CPUID, O_CPUID
t_hc_amd:
    TIMED NONE, S_HC, O_VMMCALL
t_hc_intel:
    TIMED NONE, S_HC, O_VMCALL
t_xenver_amd:
    TIMED NONE, S_XENVER, O_VMMCALL
t_xenver_intel:
    TIMED NONE, S_XENVER, O_VMCALL
t_out:
    TIMED NONE, S_OUT, O_OUT
t_mmio_h:
    TIMED P_MMIO_H, NONE, O_LOAD
t_mmio_e:
    TIMED P_MMIO_E, NONE, O_LOAD
t_npf:
    TIMED P_NPF, S_NPF, O_NPF
t_evtchn_amd:
    movq $0, BENCH_RES_COUNT
    movq $0, BENCH_RES_SPURIOUS
    sti
    TIMED NONE, S_EVTCHN, O_VMMCALL
t_evtchn_intel:
    movq $0, BENCH_RES_COUNT
    movq $0, BENCH_RES_SPURIOUS
    sti
    TIMED NONE, S_EVTCHN, O_VMCALL

t_apic_mmio_eoi:
    TIMED P_APIC_MMIO, S_ZERO, O_STORE
t_apic_eoi:
    TIMED NONE, S_X2EOI, O_WRMSR
t_apic_tscdl:
    TIMED NONE, S_TSCDL, O_WRMSR, TSCDL_OFF
t_apic_ipi:
    movq $0, BENCH_RES_APIC
    sti
    TIMED NONE, S_SELF_IPI, O_WRMSR

/* x2APIC mode (IA32_APIC_BASE EN and EXTD, SDM Vol. 3A 11.12.1), the APIC
   software-enabled (SVR bit 8, spurious vector 0xff) and its LVT timer in
   TSC-deadline mode (bits 18:17 = 10b) on BENCH_APIC_VECTOR. */
t_apic_x2:
    movl $MSR_APIC_BASE, %ecx
    rdmsr
    orl $0xc00, %eax
    wrmsr
    movl $MSR_X2APIC_SVR, %ecx
    movl $0x1ff, %eax
    xorl %edx, %edx
    wrmsr
    movl $MSR_X2APIC_LVTT, %ecx
    movl $(0x40000 | BENCH_APIC_VECTOR), %eax
    wrmsr
    jmp done

/* Map shared_info, unmask upcalls, set the upcall vector, bind an IPI
   port; each hypercall's result goes to BENCH_RES_RC[i]. */
.macro XEN_SETUP insn
    movw $DOMID_SELF, BENCH_XATP + 0
    movw $0, BENCH_XATP + 2
    movl $XENMAPSPACE_SHARED_INFO, BENCH_XATP + 4
    movq $0, BENCH_XATP + 8
    movq $(BENCH_SHINFO_GPA >> 12), BENCH_XATP + 16
    HYPERCALL HC_MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, BENCH_XATP, \insn
    movq %rax, BENCH_RES_RC + 0
    testq %rax, %rax
    jnz done
    movb $0, SHI_UPCALL_MASK
    movl $0, BENCH_HVM_PARAM + 0            /* vcpu 0 */
    movb $BENCH_UPCALL_VECTOR, BENCH_HVM_PARAM + 4
    HYPERCALL HC_HVM_OP, HVMOP_SET_EVTCHN_UPCALL_VECTOR, BENCH_HVM_PARAM, \insn
    movq %rax, BENCH_RES_RC + 8
    movl $0, BENCH_BIND_IPI + 0             /* vcpu 0 */
    HYPERCALL HC_EVENT_CHANNEL_OP, EVTCHNOP_BIND_IPI, BENCH_BIND_IPI, \insn
    movq %rax, BENCH_RES_RC + 16
    movl BENCH_BIND_IPI + 4, %eax
    movl %eax, BENCH_EVT_SEND
    movq %rax, BENCH_RES_RC + 24
    /* Setting the vector asserts the upcall once, as on Xen: take it now
       (at the entry after a hypercall), not in the first timed loop. */
    sti
    HYPERCALL HC_XEN_VERSION, 0, 0, \insn
    cli
    jmp done
.endm
t_xen_setup_amd:
    XEN_SETUP vmmcall
t_xen_setup_intel:
    XEN_SETUP vmcall

/* The upcall: acknowledge as a Xen guest does (clear upcall_pending, the
   selector and the port's pending bit), count, return. An upcall that
   finds the port already acknowledged is counted apart: Xen guests must
   tolerate spurious upcalls, and QEMU's TCG, at coarse -icount shifts,
   delivers an injected interrupt a second time now and then (libhv
   injected once per send, counted at the injection point). */
upcall:
    pushq %rax
    movb $0, SHI_UPCALL_PENDING
    xorl %eax, %eax
    xchgq %rax, SHI_PENDING_SEL
    movl BENCH_EVT_SEND, %eax
    lock btrq %rax, SHI_EVTCHN_PENDING
    jnc 1f
    incq BENCH_RES_COUNT
    popq %rax
    iretq
1:  incq BENCH_RES_SPURIOUS
    popq %rax
    iretq

/* The APIC vector (self IPIs): count, EOI through the x2APIC MSR, return. */
apic_isr:
    pushq %rax
    pushq %rcx
    pushq %rdx
    incq BENCH_RES_APIC
    movl $MSR_X2APIC_EOI, %ecx
    xorl %eax, %eax
    xorl %edx, %edx
    wrmsr
    popq %rdx
    popq %rcx
    popq %rax
    iretq

    .balign 8
cmd_amd:
    .quad stop, t_cpuid, t_hc_amd, t_xenver_amd, t_out, t_mmio_h, t_mmio_e, t_npf
    .quad t_evtchn_amd, t_xen_setup_amd
    .quad t_apic_mmio_eoi, t_apic_x2, t_apic_eoi, t_apic_tscdl, t_apic_ipi
cmd_intel:
    .quad stop, t_cpuid, t_hc_intel, t_xenver_intel, t_out, t_mmio_h, t_mmio_e, t_npf
    .quad t_evtchn_intel, t_xen_setup_intel
    .quad t_apic_mmio_eoi, t_apic_x2, t_apic_eoi, t_apic_tscdl, t_apic_ipi

    .balign 16
idt_desc:
    .word 256 * 16 - 1
    .quad idt

    GUEST_TABLES

/* Identity map of the first 4 GiB with 2 MiB pages. */
    .balign 4096
bench_pml4:
    .quad bench_pdpt + 0x3
    .fill 511, 8, 0
bench_pdpt:
    .quad bench_pd + 0x0003, bench_pd + 0x1003, bench_pd + 0x2003, bench_pd + 0x3003
    .fill 508, 8, 0
bench_pd:
    .set page, 0
    .rept 2048
    .quad page + 0x83
    .set page, page + 0x200000
    .endr
idt:
    .fill 256 * 16, 1, 0
