/*
 * Memory isolation: forever { IN a new value; OUT what gpa 0x800 held;
 * store the new value there }. Two VMs run this alternately; each must
 * always read back its own last value.
 */
#include "guest.inc"

    GUEST_START
1:  inl $PORT_ARG, %eax
    movl 0x800, %ebx
    xchgl %eax, %ebx
    outl %eax, $PORT_VAL
    movl %ebx, 0x800
    jmp 1b
