/*
 * Interrupt entry stubs for vectors 0..47 (exceptions and the remapped 8259
 * IRQs). Each stub makes the stack look the same, an error code (0 if the
 * CPU pushed none) and the vector on top of the CPU's frame, then saves
 * the general registers and calls isr_dispatch(struct isr_frame *) in
 * idt.c. SDM Vol. 3A 6.14 "Exception and Interrupt Handling in 64-bit Mode"
 * and 6.15 (table of which exceptions push an error code).
 */

    .text
.macro ISR vec
    .balign 16
isr_\vec:
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    /* the CPU pushed an error code */
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp isr_common
.endm

.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ISR \v
.endr
.irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    ISR \v
.endr

isr_common:
    /* Same order as struct isr_frame (idt.h), which starts at r15. */
    push %rax
    push %rcx
    push %rdx
    push %rbx
    push %rbp
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    /* The CPU aligned RSP to 16 before pushing its 5-word frame; 2 + 15
     * more words keep it 16-byte aligned for the call (SysV ABI). */
    mov %rsp, %rdi
    call isr_dispatch
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rbp
    pop %rbx
    pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp /* vector and error code */
    iretq

    /* Stub addresses, indexed by vector, for idt.c. */
    .section .rodata
    .balign 8
    .globl isr_stubs
isr_stubs:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad isr_\v
.endr
.irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    .quad isr_\v
.endr

    .section .note.GNU-stack, "", @progbits /* no executable stack */
