/* A triple fault: #UD with an empty IDT -> #GP -> #DF -> shutdown. */
#include "guest.inc"

    GUEST_START
    ENTER_PM32
    lidt null_idt
    MARK(1)
    ud2
    MARK(2)
    hlt
1:  jmp 1b

null_idt:
    .word 0
    .long 0

    GUEST_TABLES
