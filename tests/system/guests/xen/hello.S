/*
 * The demo PVH guest: the smallest guest built the way Xen guests are
 * built. An ELF32 image whose XEN_ELFNOTE_PHYS32_ENTRY note names the
 * entry; it finds Xen's CPUID leaves, installs the hypercall page through
 * the MSR they name, prints through console_io and powers off through
 * SCHEDOP_shutdown. No libhv-specific interface anywhere.
 */
#define HC_console_io 18
#define HC_sched_op   29

    .section .note.Xen, "a", @note
    .balign 4
    .long 4, 4, 18                  /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long hello_entry

    .text
    .code32
    .globl hello_entry
hello_entry:
    movl $stack_top, %esp
    /* Find "XenVMMXenVMM" in the hypervisor CPUID range. */
    movl $0x40000000, %esi
1:  movl %esi, %eax
    cpuid
    cmpl $0x566e6558, %ebx          /* "XenV" */
    jne 2f
    cmpl $0x65584d4d, %ecx          /* "MMXe" */
    jne 2f
    cmpl $0x4d4d566e, %edx          /* "nVMM" */
    je 3f
2:  addl $0x100, %esi
    cmpl $0x40010000, %esi
    jb 1b
    ud2                             /* not running on Xen */
3:  /* Leaf base+2: EBX is the MSR that installs the hypercall page. */
    leal 2(%esi), %eax
    cpuid
    movl %ebx, %ecx
    movl $hypercall_page, %eax
    xorl %edx, %edx
    wrmsr
    /* console_io(CONSOLEIO_write, len, msg) */
    movl $0, %ebx
    movl $msg_end - msg, %ecx
    movl $msg, %edx
    call hypercall_page + 32 * HC_console_io
    /* sched_op(SCHEDOP_shutdown, &{SHUTDOWN_poweroff}) */
4:  movl $2, %ebx
    movl $reason, %ecx
    call hypercall_page + 32 * HC_sched_op
    jmp 4b

    .section .rodata
msg:
    .ascii "Hello from a PVH guest: Xen CPUID leaves, hypercall page, console_io; "
    .ascii "now SCHEDOP_shutdown(poweroff).\n"
msg_end:
reason:
    .long 0                         /* SHUTDOWN_poweroff */

    .bss
    .balign 4096
hypercall_page:
    .skip 4096
    .skip 4096
stack_top:

    .section .note.GNU-stack, "", @progbits
