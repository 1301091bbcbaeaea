/*
 * A minimal PVH guest as Xen guests are built: Xen ELF notes in an
 * allocated SHT_NOTE section (the linker makes it a PT_NOTE segment), a
 * 32-bit entry point named by XEN_ELFNOTE_PHYS32_ENTRY, text, data and bss.
 * Fixture for the loader tests; see loader_make_fixtures.sh.
 */
#define NOTE(type, desc_directive, value)                                  \
    .balign 4;                                                             \
    .long 4f - 3f; /* namesz */                                            \
    .long 6f - 5f; /* descsz */                                            \
    .long type;                                                            \
3:  .asciz "Xen";                                                          \
4:  .balign 4;                                                             \
5:  desc_directive value;                                                  \
6:  .balign 4

    .section .note.Xen, "a", @note
    NOTE(6, .asciz, "hvfixture")          /* GUEST_OS */
    NOTE(7, .asciz, "1.0")                /* GUEST_VERSION */
    NOTE(5, .asciz, "xen-3.0")            /* XEN_VERSION */
    NOTE(8, .asciz, "generic")            /* LOADER */
    NOTE(10, .asciz, "!writable_page_tables") /* FEATURES */
    NOTE(2, .long, hypercall_page)        /* HYPERCALL_PAGE */
    NOTE(18, .long, pvh_start)            /* PHYS32_ENTRY */

    .text
    .code32
    .globl pvh_start
pvh_start:
    movl %ebx, %esi          /* start_info */
    movl $0x3f8, %edx
    movb $'!', %al
    outb %al, %dx
1:  hlt
    jmp 1b

    .balign 4096
    .globl hypercall_page
hypercall_page:
    .skip 4096, 0xc3

    .data
message:
    .asciz "hello from a PVH fixture"

    .bss
    .balign 4096
stack:
    .skip 16384
