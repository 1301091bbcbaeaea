/* RDTSC as the guest sees it (host TSC + the vCPU's TSC offset). */
#include "guest.inc"

    GUEST_START
    rdtsc
    pushl %eax
    movl %edx, %eax
    outl %eax, $PORT_VAL
    popl %eax
    outl %eax, $PORT_VAL
    hlt
1:  jmp 1b
