/* RDTSC as the guest sees it (host TSC + the vCPU's TSC offset). */
#include "guest.inc"

    .section .text.start, "ax"
    .code16
    .globl start
start:
    REAL_MODE_INIT
    rdtsc
    pushl %eax
    movl %edx, %eax
    outl %eax, $PORT_VAL
    popl %eax
    outl %eax, $PORT_VAL
    hlt
1:  jmp 1b
