/*
 * Every paging mode, entered and left by the guest itself:
 *   real mode -> protected mode, paging off -> 32-bit paging -> PAE paging
 *   -> long mode -> back to protected mode -> back to real mode.
 * In each paged mode it reads a canary through an alias mapping that only
 * exists in that mode's page tables, so a read that bypassed the guest's
 * paging would miss it. Markers (PORT_MARK) and values (PORT_VAL):
 *   1  real mode;        VAL dword at 0100:0000 (= linear 0x1000)
 *   2  protected, paging off
 *   3  32-bit paging;   VAL [0x40000000]   = 0x11111111
 *   4  PAE paging;      VAL [0x40000004]   = 0x22222222
 *   5  long mode;       VAL [0x8000000008] = 0x33333333, VAL EFER (low)
 *   6  protected again; VAL EFER (low)
 *   7  real mode again; VAL dword at 0100:0000, then HLT
 */
#include "guest.inc"

    GUEST_START
    MARK(1)
    movw $0x0100, %ax
    movw %ax, %es
    movl %es:0, %eax
    outl %eax, $PORT_VAL

    ENTER_PM32
    MARK(2)

    /* 32-bit paging: 4 MiB identity page (PSE) + 4 KiB alias at 1 GiB. */
    movl $pd32, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x10, %eax                 /* PSE */
    movl %eax, %cr4
    movl %cr0, %eax
    orl $0x80000000, %eax
    movl %eax, %cr0
    movl 0x40000000, %eax
    outl %eax, $PORT_VAL
    MARK(3)
    movl %cr0, %eax
    andl $0x7fffffff, %eax
    movl %eax, %cr0

    /* PAE paging: 2 MiB identity page + 4 KiB alias at 1 GiB. */
    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl $pae_pdpt, %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80000000, %eax
    movl %eax, %cr0
    movl 0x40000004, %eax
    outl %eax, $PORT_VAL
    MARK(4)
    movl %cr0, %eax
    andl $0x7fffffff, %eax
    movl %eax, %cr0

    /* Long mode: link the alias (PML4 slot 1 = 512 GiB) into the shared
       tables, then switch (EFER.LME through WRMSR, then CR0.PG). */
    movl $(lm_alias_pdpt + 3), lm_pml4 + 8
    ENTER_LONG
    movabsq $0x8000000008, %rax
    movl (%rax), %eax
    outl %eax, $PORT_VAL
    MARK(5)
    movl $0xc0000080, %ecx
    rdmsr
    outl %eax, $PORT_VAL

    /* Back to 32-bit code, then out of long mode by turning paging off. */
    pushq $SEL_CODE32
    pushq $back32
    lretq

    .code32
back32:
    movl %cr0, %eax
    andl $0x7fffffff, %eax
    movl %eax, %cr0
    movl $0xc0000080, %ecx
    rdmsr
    andl $~0x100, %eax
    wrmsr
    movl %cr4, %eax
    andl $~0x30, %eax
    movl %eax, %cr4
    MARK(6)
    movl $0xc0000080, %ecx
    rdmsr
    outl %eax, $PORT_VAL
    ljmp $SEL_CODE16, $pm16

    .code16
pm16:
    movw $SEL_DATA16, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr0, %eax
    andl $~1, %eax
    movl %eax, %cr0
    ljmp $0, $real2
real2:
    REAL_MODE_INIT
    MARK(7)
    movw $0x0100, %ax
    movw %ax, %es
    movl %es:0, %eax
    outl %eax, $PORT_VAL
    hlt
1:  jmp 1b

    .balign 4096
canary:
    .long 0x11111111, 0x22222222, 0x33333333
    .balign 4096
pd32:                               /* 32-bit page directory */
    .long 0x83                      /* 4 MiB page at 0: P, RW, PS */
    .fill 255, 4, 0
    .long pt32 + 3                  /* 0x40000000 */
    .fill 767, 4, 0
pt32:
    .long canary + 3
    .fill 1023, 4, 0
pae_pdpt:                           /* PDPTEs: P only (RW/US reserved) */
    .quad pae_pd + 1
    .quad pae_alias_pd + 1
    .quad 0, 0
    .balign 4096
pae_pd:
    .quad 0x83                      /* 2 MiB page at 0 */
    .fill 511, 8, 0
pae_alias_pd:                       /* also the long-mode alias PD */
    .quad alias_pt + 3
    .fill 511, 8, 0
alias_pt:
    .quad canary + 3
    .fill 511, 8, 0
lm_alias_pdpt:
    .quad pae_alias_pd + 3
    .fill 511, 8, 0

    GUEST_TABLES
