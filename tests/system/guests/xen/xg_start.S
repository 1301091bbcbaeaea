/*
 * Entry of the Xen test guest (xg.h): the PVH entry point named by the
 * XEN_ELFNOTE_PHYS32_ENTRY note, the guest's own GDT, long-mode set-up for
 * the 64-bit build, and the interrupt stubs that call xg_trap().
 *
 * PVH entry state (Xen docs/misc/pvh.pandoc): 32-bit protected mode,
 * paging off, flat CS/DS/ES/SS, EBX = physical address of hvm_start_info;
 * no GDT or IDT the guest may rely on, and no stack.
 */
#define SEL_CODE32 0x08
#define SEL_DATA   0x10
#define SEL_CODE64 0x18

    /* Xen ELF notes (elfnote.h): name "Xen", the type, a descriptor. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4, 4f - 3f, 18            /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
3:
#ifdef __x86_64__
    .quad xg_entry32                /* 8-byte value, as 64-bit Linux emits it */
#else
    .long xg_entry32
#endif
4:  .balign 4
    .long 4, 6f - 5f, 6             /* XEN_ELFNOTE_GUEST_OS */
    .asciz "Xen"
5:  .asciz "xg"
6:  .balign 4
    .long 4, 8f - 7f, 5             /* XEN_ELFNOTE_XEN_VERSION */
    .asciz "Xen"
7:  .asciz "xen-3.0"
8:  .balign 4

    .section .text.entry, "ax"
    .code32
    .globl xg_entry32
xg_entry32:
    cld
    movl $xg_stack_top, %esp
    lgdt xg_gdt_desc
    ljmp $SEL_CODE32, $1f
1:  movw $SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
#ifdef __x86_64__
    /* Identity map of the first 1 GiB with 2 MiB pages. */
    movl $xg_pd, %edi
    xorl %eax, %eax
    movl $0x87, %ecx                /* P, RW, US (ring-3 test), PS */
2:  movl %ecx, (%edi, %eax, 8)
    movl $0, 4(%edi, %eax, 8)
    addl $0x200000, %ecx
    incl %eax
    cmpl $512, %eax
    jne 2b
    movl $xg_pdpt, %edi
    movl $xg_pd + 7, (%edi)
    movl $xg_pml4, %edi
    movl $xg_pdpt + 7, (%edi)
    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl $xg_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx          /* EFER.LME */
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000000, %eax           /* PG: long mode is active */
    movl %eax, %cr0
    ljmp $SEL_CODE64, $3f
    .code64
3:  movq $xg_stack_top, %rsp
    movl %ebx, %edi                 /* start_info */
    call xg_main
4:  hlt
    jmp 4b
#else
    pushl %ebx                      /* start_info */
    call xg_main
4:  hlt
    jmp 4b
#endif

/* Interrupt stubs: push a zero error code where the CPU pushes none, then
   the vector, save the caller-saved registers and call xg_trap(frame). */
.macro STUB vec, err=0
    .balign 16
stub_\vec:
    .if \err == 0
    push $0
    .endif
    push $\vec
    jmp trap_common
.endm

    .text
    STUB 0
    STUB 1
    STUB 2
    STUB 3
    STUB 4
    STUB 5
    STUB 6
    STUB 7
    STUB 8, 1
    STUB 9
    STUB 10, 1
    STUB 11, 1
    STUB 12, 1
    STUB 13, 1
    STUB 14, 1
    STUB 15
    STUB 16
    STUB 17, 1
    STUB 18
    STUB 19
    STUB 0x80
    STUB 0xe0
    STUB 0xf3

trap_common:
#ifdef __x86_64__
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    movq %rsp, %rdi                 /* 16-byte aligned: 5 + 2 + 9 quadwords pushed */
    call xg_trap
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    addq $16, %rsp
    iretq
#else
    pushl %eax
    pushl %ecx
    pushl %edx
    pushl %esp
    call xg_trap
    addl $4, %esp
    popl %edx
    popl %ecx
    popl %eax
    addl $8, %esp
    iretl
#endif

    .section .rodata
    .balign 8
    .globl xg_stubs, xg_stub_80, xg_stub_e0, xg_stub_f3
xg_stubs:                           /* vectors 0..19 */
#ifdef __x86_64__
#define PTR .quad
#else
#define PTR .long
#endif
    PTR stub_0, stub_1, stub_2, stub_3, stub_4, stub_5, stub_6, stub_7, stub_8, stub_9
    PTR stub_10, stub_11, stub_12, stub_13, stub_14, stub_15, stub_16, stub_17, stub_18, stub_19
xg_stub_80:
    PTR stub_0x80
xg_stub_e0:
    PTR stub_0xe0
xg_stub_f3:
    PTR stub_0xf3

/*
 * A round trip through ring 3, to check that hypercalls from CPL 3 are
 * refused: xg_enter_user(stub) saves the callee-saved registers, IRETs to
 * user_code at CPL 3 (IF = 0), which calls the hypercall stub and hands
 * RAX back with INT 0x80; the trap handler then calls xg_leave_user(),
 * which returns from xg_enter_user on the saved stack.
 */
    .text
    .globl xg_enter_user, xg_leave_user
#ifdef __x86_64__
xg_enter_user:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, xg_user_saved_sp(%rip)
    movq %rdi, %rbp
    pushq $0x2b                     /* SS: user data */
    pushq $xg_user_stack_top
    pushq $0x2                      /* RFLAGS */
    pushq $0x33                     /* CS: user code64 */
    pushq $user_code
    iretq
user_code:
    xorl %edi, %edi
    xorl %esi, %esi
    call *%rbp
    int $0x80
    ud2
xg_leave_user:
    movq xg_user_saved_sp(%rip), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret
#else
xg_enter_user:
    movl 4(%esp), %eax
    pushl %ebx
    pushl %ebp
    pushl %esi
    pushl %edi
    movl %esp, xg_user_saved_sp
    movl %eax, %ebp
    movw $0x2b, %ax                 /* DPL-0 data selectors would be nulled */
    movw %ax, %ds
    movw %ax, %es
    pushl $0x2b                     /* SS: user data */
    pushl $xg_user_stack_top
    pushl $0x2                      /* EFLAGS */
    pushl $0x23                     /* CS: user code32 */
    pushl $user_code
    iretl
user_code:
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    call *%ebp
    int $0x80
    ud2
xg_leave_user:
    movw $0x10, %cx
    movw %cx, %ds
    movw %cx, %es
    movl xg_user_saved_sp, %esp
    popl %edi
    popl %esi
    popl %ebp
    popl %ebx
    ret
#endif

    .data
    .balign 16
    .globl xg_gdt
xg_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08 code32 */
    .quad 0x00cf93000000ffff        /* 0x10 data */
    .quad 0x00af9b000000ffff        /* 0x18 code64 */
    .quad 0x00cffb000000ffff        /* 0x20 user code32 (DPL 3) */
    .quad 0x00cff3000000ffff        /* 0x28 user data */
    .quad 0x00affb000000ffff        /* 0x30 user code64 */
    .quad 0, 0                      /* 0x38 TSS (xg_lib.c fills it in) */
xg_gdt_end:
    .globl xg_gdt_desc
xg_gdt_desc:
    .word xg_gdt_end - xg_gdt - 1
    .long xg_gdt                    /* loaded in 32-bit mode only */

    .bss
    .balign 4096
#ifdef __x86_64__
xg_pml4:
    .skip 4096
xg_pdpt:
    .skip 4096
xg_pd:
    .skip 4096
#endif
    .skip 16384
xg_stack_top:
    .skip 4096
    .globl xg_tss_stack_top
xg_tss_stack_top:
    .skip 4096
xg_user_stack_top:
    .balign 8
xg_user_saved_sp:
    .skip 8

    .section .note.GNU-stack, "", @progbits
