/*
 * Port I/O of each size in both directions. OUTs of known values, then INs
 * whose results are echoed in full (EAX) so the host can check that only
 * AL / AX are replaced and a 32-bit IN fills EAX.
 */
#include "guest.inc"

    GUEST_START
    movb $0x12, %al
    outb %al, $0x10
    movw $0x3456, %ax
    outw %ax, $0x10
    movl $0x789abcde, %eax
    outl %eax, $0x10

    movl $0xa5a5a5a5, %eax
    inb $0x11, %al
    outl %eax, $PORT_VAL
    movl $0xa5a5a5a5, %eax
    inw $0x11, %ax
    outl %eax, $PORT_VAL
    movl $0xa5a5a5a5, %eax
    inl $0x11, %eax
    outl %eax, $PORT_VAL

    /* DX forms reach the whole 16-bit port space. */
    movw $0x1234, %dx
    movb $0x77, %al
    outb %al, %dx
    xorl %eax, %eax
    inw %dx, %ax
    outl %eax, $PORT_VAL
    hlt
1:  jmp 1b
