/*
 * Events injected by the host, delivered through a 64-bit IDT.
 *   MARK 1: the host queues external interrupt 0x40 while IF=0
 *   MARK 2: still IF=0, so nothing may have arrived yet
 *   STI; the interrupt must arrive right after (handler: VAL 0x40)
 *   MARK 3, MARK 4: the host injects #GP(0x1234) (handler: VAL 13, VAL err)
 *   MARK 5: the host injects #PF(err 2, CR2) (handler: VAL 14, VAL err, VAL CR2)
 *   MARK 6, HLT
 */
#include "guest.inc"

/* Write a 64-bit interrupt gate for \vec pointing at \handler (< 4 GiB). */
.macro GATE vec, handler
    movl $\handler, %eax
    movw %ax, idt + \vec * 16
    movw $SEL_CODE64, idt + \vec * 16 + 2
    movw $0x8e00, idt + \vec * 16 + 4  /* P, DPL 0, 64-bit interrupt gate */
    shrl $16, %eax
    movw %ax, idt + \vec * 16 + 6
    movl $0, idt + \vec * 16 + 8
    movl $0, idt + \vec * 16 + 12
.endm

    GUEST_START
    ENTER_PM32
    ENTER_LONG
    GATE 13, gp_handler
    GATE 14, pf_handler
    GATE 0x40, irq_handler
    lidt idt_desc
    MARK(1)
    MARK(2)
    sti
    nop
    nop
    MARK(3)
    cli
    MARK(4)
    MARK(5)
    MARK(6)
    hlt
1:  jmp 1b

irq_handler:
    pushq %rax
    movl $0x40, %eax
    outl %eax, $PORT_VAL
    popq %rax
    iretq

gp_handler:
    pushq %rax
    movl $13, %eax
    outl %eax, $PORT_VAL
    movl 8(%rsp), %eax              /* error code */
    outl %eax, $PORT_VAL
    popq %rax
    addq $8, %rsp
    iretq

pf_handler:
    pushq %rax
    movl $14, %eax
    outl %eax, $PORT_VAL
    movl 8(%rsp), %eax
    outl %eax, $PORT_VAL
    movq %cr2, %rax
    outl %eax, $PORT_VAL
    popq %rax
    addq $8, %rsp
    iretq

    .balign 16
idt_desc:
    .word 0x41 * 16 - 1
    .quad idt
    .balign 16
idt:
    .fill 0x41 * 16, 1, 0

    GUEST_TABLES
