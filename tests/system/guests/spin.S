/* Spins forever with interrupts off: only the host's timer can stop it. */
#include "guest.inc"

    GUEST_START
    MARK(1)
    cli
1:  jmp 1b
