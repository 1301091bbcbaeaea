/* HLT twice: each returns to the host, which resumes after it. */
#include "guest.inc"

    .section .text.start, "ax"
    .code16
    .globl start
start:
    REAL_MODE_INIT
    MARK(1)
    hlt
    MARK(2)
    hlt
    MARK(3)
    hlt
1:  jmp 1b
