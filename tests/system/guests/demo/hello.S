/*
 * The demo guest (examples/demo.sh, case demo.hello). It starts in real
 * mode at 0000:1000 like a boot sector, switches itself to 64-bit mode
 * (guest.inc: GDT and protected mode, then PAE paging, EFER.LME and
 * CR0.PG), writes a greeting to I/O port 0xe9 one byte at a time and
 * halts. Each OUT is a VM exit that libhv hands to the host, which prints
 * the bytes (examples/kernel/cases/demo_hello.c).
 */
#include "guest.inc"

#define DEMO_PORT 0xe9

    GUEST_START
    ENTER_PM32
    ENTER_LONG
    leaq msg(%rip), %rsi
1:  lodsb
    testb %al, %al
    jz 2f
    outb %al, $DEMO_PORT
    jmp 1b
2:  hlt
    jmp 2b

msg:
    .asciz "Hello from a libhv guest, in 64-bit mode!\n"

    GUEST_TABLES
