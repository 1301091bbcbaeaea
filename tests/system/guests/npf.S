/*
 * Accesses the host has not allowed yet:
 *   read of gpa 0x200000 (unmapped)   -> VAL (what the host mapped there)
 *   write to gpa 0x300000 (read-only) -> after the host allows it, VAL of
 *                                        the value read back
 */
#include "guest.inc"

    GUEST_START
    ENTER_PM32
    movl 0x200000, %eax
    outl %eax, $PORT_VAL
    movl $0x5a5a5a5a, 0x300000
    movl 0x300000, %eax
    outl %eax, $PORT_VAL
    hlt
1:  jmp 1b

    GUEST_TABLES
