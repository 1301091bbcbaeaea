/*
 * CPUID at one linear address whose mapping the guest changes without an
 * exit: where the CPU does not report where an intercepted instruction
 * ends (SVM without NRIP save: QEMU's TCG), the library measures it from
 * the code page it memoized, which must notice a guest page-table write.
 *
 * The alias region (PDPT slot 1, linear 1 GiB) maps CODE_LA through
 * alias_pd and a 4 KiB page table to one of two code pages with CPUID at
 * the same offset: page_a has it bare (2 bytes), page_b with a DS prefix
 * (3 bytes). Taking page_a's length for page_b's instruction would resume
 * at its A2 byte, a store to an unmapped address: a triple fault, where
 * the host expects the values below. Each call reports CPUID(0).EBX and
 * the page's tag (PORT_VAL); markers (PORT_MARK) between the steps:
 *   1  page_a, twice (the second through the memo);
 *   2  the leaf entry rewritten to page_b;
 *   3  back to page_a, twice;
 *   4  the directory entry rewritten to a second table that maps page_b
 *      (the leaf entry the memo read is unchanged);
 *   5  back to page_a, twice; then page_a's guest-physical address
 *      (PORT_VAL) and an IN from PORT_ARG, on which the embedder backs
 *      that address with a copy of page_b (hv_vm_unmap, hv_vm_map): the
 *      guest's page tables stay as they are, the SLAT changed;
 *   6  after one more call, which must run the copy.
 */
#include "guest.inc"

#define CODE_OFF 0x123                  /* the instruction's page offset */
#define CODE_LA  (0x40000000 + CODE_OFF)

/* Code page \page with the called routine at CODE_OFF: CPUID, \prefix (optional) before its
   opcode, with EAX=ECX=0 from the caller; then EBX and the page's tag
   reported. */
.macro CPUID_PAGE page, tag, prefix
    .balign 4096
\page:
    .skip CODE_OFF
    .ifnb \prefix
    .byte \prefix
    .endif
    cpuid
    movl %ebx, %eax
    outl %eax, $PORT_VAL
    movl $\tag, %eax
    outl %eax, $PORT_VAL
    ret
.endm

/* EAX=ECX=0 and a call of CODE_LA. */
.macro CALL_CODE
    xorl %eax, %eax
    xorl %ecx, %ecx
    call *%rsi
.endm

    GUEST_START
    ENTER_PM32
    movl $(alias_pd + 3), lm_pdpt + 8
    ENTER_LONG
    movl $CODE_LA, %esi

    CALL_CODE
    CALL_CODE
    MARK(1)

    movl $(page_b + 3), alias_pt
    invlpg (%rsi)
    CALL_CODE
    MARK(2)

    movl $(page_a + 3), alias_pt
    invlpg (%rsi)
    CALL_CODE
    CALL_CODE
    MARK(3)

    movl $(alias_pt2 + 3), alias_pd
    invlpg (%rsi)                   /* also drops cached directory entries */
    CALL_CODE
    MARK(4)

    movl $(alias_pt + 3), alias_pd
    invlpg (%rsi)
    CALL_CODE
    CALL_CODE
    MARK(5)
    movl $page_a, %eax
    outl %eax, $PORT_VAL
    inl $PORT_ARG, %eax
    CALL_CODE
    MARK(6)
    hlt
1:  jmp 1b

    GUEST_TABLES

    .balign 4096
alias_pd:
    .quad alias_pt + 3
    .fill 511, 8, 0
alias_pt:
    .quad page_a + 3
    .fill 511, 8, 0
alias_pt2:
    .quad page_b + 3
    .fill 511, 8, 0

    CPUID_PAGE page_a, 0xa
    CPUID_PAGE page_b, 0xb, 0x3e            /* DS: no effect on CPUID */
