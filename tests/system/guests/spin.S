/* Spins forever with interrupts off: only the host's timer can stop it. */
#include "guest.inc"

    .section .text.start, "ax"
    .code16
    .globl start
start:
    REAL_MODE_INIT
    MARK(1)
    cli
1:  jmp 1b
