/* HLT twice: each returns to the host, which resumes after it. */
#include "guest.inc"

    GUEST_START
    MARK(1)
    hlt
    MARK(2)
    hlt
    MARK(3)
    hlt
1:  jmp 1b
