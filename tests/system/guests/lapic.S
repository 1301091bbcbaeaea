/*
 * The library's local APIC (include/hv/lapic.h), one vCPU, 32-bit
 * protected mode without paging (the xAPIC page is at its physical
 * address). The timers count in units of TSC ticks the host gives (IN). Every interrupt handler reports its vector (VAL) and EOIs;
 * the case checks the record:
 *   MARK 1: IA32_APIC_BASE, version, ID; software enable (SVR)
 *   MARK 2: self-IPIs 0x31, 0x52, 0x45 with IF=0 (IRR word 2 reported),
 *           delivered after STI in priority order: 0x52, 0x45, 0x31
 *   MARK 3: TPR 0x50 holds 0x44 back, 0x61 arrives; PPR reported
 *   MARK 4: TPR 0: 0x44 arrives
 *   MARK 5: a fixed IPI with vector 3: error LVT interrupt 0x7e, ESR 0x20
 *   MARK 6: one-shot timer (0x60): current count in range, interrupt
 *           through HLT, current count 0 after
 *   MARK 7: periodic timer (0x62, counted silently): at least 3 (VAL 1)
 *   MARK 8: CPUID TSC-deadline and x2APIC bits, TSC-deadline timer (0x63),
 *           IA32_TSC_DEADLINE armed (VAL 1) then cleared (VAL 0)
 *   MARK 9: x2APIC: ID, LDR, SELF IPI 0x70, #GP (VAL 13) for reading EOI,
 *           TPR reserved bits and DFR; xAPIC page reads 0; the timer
 *           through MSRs (0x64)
 *   MARK 10: a one-shot timer (0x65) that expires while the guest spins
 *           with IF=0: the STI; HLT after it must not reach the host
 *   MARK 11, CLI, HLT
 */
#include "guest.inc"

#define APIC 0xfee00000

/* A 32-bit interrupt gate for \vec pointing at \handler. */
.macro IRQ vec
h_\vec:
    pushl %eax
    movl $\vec, %eax
    jmp irq_common
.endm

#define VAL_REG(r) outl r, $PORT_VAL

.macro RDMSR_OUT msr
    movl $\msr, %ecx
    rdmsr
    outl %eax, $PORT_VAL
.endm

    GUEST_START
    ENTER_PM32
    GATE32 13, gp_handler
    GATE32 0x31, h_0x31
    GATE32 0x44, h_0x44
    GATE32 0x45, h_0x45
    GATE32 0x52, h_0x52
    GATE32 0x60, h_0x60
    GATE32 0x61, h_0x61
    GATE32 0x62, periodic_handler
    GATE32 0x63, h_0x63
    GATE32 0x64, h_0x64
    GATE32 0x65, h_0x65
    GATE32 0x70, h_0x70
    GATE32 0x7e, h_0x7e
    lidt idt_desc

    inl $PORT_ARG, %eax             /* the timer unit in TSC ticks */
    movl %eax, unit
    MARK(1)
    RDMSR_OUT 0x1b
    movl APIC + 0x30, %eax
    VAL_REG(%eax)
    movl APIC + 0x20, %eax
    VAL_REG(%eax)
    movl $0x1ff, APIC + 0xf0

    MARK(2)
    movl $0x40031, APIC + 0x300     /* fixed, self shorthand */
    movl $0x40052, APIC + 0x300
    movl $0x40045, APIC + 0x300
    movl APIC + 0x220, %eax         /* IRR 0x40-0x5f */
    VAL_REG(%eax)
    sti
    nop
    nop

    MARK(3)
    movl $0x50, APIC + 0x80
    movl $0x40044, APIC + 0x300
    movl $0x40061, APIC + 0x300
    nop
    movl APIC + 0xa0, %eax
    VAL_REG(%eax)

    MARK(4)
    movl $0, APIC + 0x80
    nop

    MARK(5)
    movl $0x7e, APIC + 0x370        /* error LVT */
    movl $0x40003, APIC + 0x300     /* illegal vector */
    nop
    movl $0, APIC + 0x280
    movl APIC + 0x280, %eax
    VAL_REG(%eax)

    MARK(6)
    movl $0xb, APIC + 0x3e0         /* divide by 1 */
    movl $0x60, APIC + 0x320        /* one-shot */
    movl $0, irq_count
    cli                             /* the count read first, however slow the host */
    movl unit, %edx
    shll $2, %edx
    movl %edx, APIC + 0x380         /* 4 units */
    movl APIC + 0x390, %eax
    xorl %ebx, %ebx
    testl %eax, %eax
    jz 1f
    cmpl %edx, %eax
    ja 1f
    incl %ebx
1:  movl %ebx, %eax
    VAL_REG(%eax)
    sti
    WAIT_COUNT irq_count, 1
    movl APIC + 0x390, %eax
    VAL_REG(%eax)

    MARK(7)
    movl $0, periodic_count
    movl $0x20062, APIC + 0x320     /* periodic */
    movl unit, %eax
    movl %eax, APIC + 0x380
1:  cmpl $3, periodic_count
    jae 2f
    hlt
    jmp 1b
2:  movl $0, APIC + 0x380
    movl $1, %eax
    VAL_REG(%eax)

    MARK(8)
    movl $1, %eax
    cpuid
    movl %ecx, %eax
    shrl $24, %eax
    andl $1, %eax
    VAL_REG(%eax)
    movl %ecx, %eax
    shrl $21, %eax
    andl $1, %eax
    VAL_REG(%eax)
    movl $0x40063, APIC + 0x320     /* TSC deadline */
    movl $0, irq_count
    cli                             /* the MSR read first, however slow the host */
    rdtsc
    addl unit, %eax
    adcl $0, %edx
    addl unit, %eax
    adcl $0, %edx
    movl $0x6e0, %ecx
    wrmsr
    rdmsr
    xorl %ebx, %ebx
    orl %edx, %eax
    setnz %bl
    movl %ebx, %eax
    VAL_REG(%eax)
    sti
    WAIT_COUNT irq_count, 1
    RDMSR_OUT 0x6e0

    MARK(9)
    movl $0x1b, %ecx
    rdmsr
    orl $0x400, %eax                /* EXTD */
    wrmsr
    movb $1, x2mode
    RDMSR_OUT 0x802                 /* ID */
    RDMSR_OUT 0x80d                 /* LDR */
    movl $0x83f, %ecx               /* SELF IPI */
    movl $0x70, %eax
    xorl %edx, %edx
    wrmsr
    nop
    movl $0x80b, %ecx               /* EOI is write-only */
    rdmsr
    movl $0x808, %ecx               /* TPR bits 8+ reserved */
    movl $0x100, %eax
    xorl %edx, %edx
    wrmsr
    movl $0x80e, %ecx               /* no DFR in x2APIC mode */
    rdmsr
    movl APIC + 0x30, %eax          /* no xAPIC page in x2APIC mode */
    VAL_REG(%eax)
    movl $0x83e, %ecx               /* TDCR: divide by 1 */
    movl $0xb, %eax
    xorl %edx, %edx
    wrmsr
    movl $0x832, %ecx               /* LVT timer: one-shot 0x64 */
    movl $0x64, %eax
    wrmsr
    movl $0, irq_count
    movl $0x838, %ecx               /* TMICT */
    movl unit, %eax
    wrmsr
    WAIT_COUNT irq_count, 1

    MARK(10)
    cli
    movl $0, irq_count
    movl $0x832, %ecx               /* LVT timer: one-shot 0x65 */
    movl $0x65, %eax
    xorl %edx, %edx
    wrmsr
    movl unit, %eax                 /* a quarter unit */
    shrl $2, %eax
    movl $0x838, %ecx
    wrmsr
    rdtsc                           /* spin half a unit: it expires */
    movl %eax, %ebx
    movl unit, %esi
    shrl $1, %esi
1:  rdtsc
    subl %ebx, %eax
    cmpl %esi, %eax
    jb 1b
    sti
    hlt
    cli

    MARK(11)
    hlt
1:  jmp 1b

    IRQ 0x31
    IRQ 0x44
    IRQ 0x45
    IRQ 0x52
    IRQ 0x60
    IRQ 0x61
    IRQ 0x63
    IRQ 0x64
    IRQ 0x65
    IRQ 0x70
    IRQ 0x7e

irq_common:
    outl %eax, $PORT_VAL
    incl irq_count
    call eoi
    popl %eax
    iret

periodic_handler:
    pushl %eax
    incl periodic_count
    call eoi
    popl %eax
    iret

/* EOI through the page or the MSR (clobbers EAX). */
eoi:
    cmpb $0, x2mode
    jne 1f
    movl $0, APIC + 0xb0
    ret
1:  pushl %ecx
    pushl %edx
    movl $0x80b, %ecx
    xorl %eax, %eax
    xorl %edx, %edx
    wrmsr
    popl %edx
    popl %ecx
    ret

/* #GP: report it and skip the 2-byte RDMSR/WRMSR. */
gp_handler:
    pushl %eax
    movl $13, %eax
    outl %eax, $PORT_VAL
    popl %eax
    addl $4, %esp                   /* error code */
    addl $2, (%esp)
    iret

    .balign 4
irq_count:
    .long 0
periodic_count:
    .long 0
unit:
    .long 0
x2mode:
    .byte 0

    .balign 16
idt_desc:
    .word 0x80 * 8 - 1
    .long idt
    .balign 16
idt:
    .fill 0x80 * 8, 1, 0

    GUEST_TABLES
