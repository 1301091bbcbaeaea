/*
 * Multiboot v1 entry: from 32-bit protected mode to 64-bit C.
 *
 * The loader (GRUB or QEMU -kernel) enters _start in 32-bit protected mode
 * with paging off, EAX = multiboot magic and EBX = physical address of the
 * boot information (Multiboot Specification 0.6.96, 3.2 "Machine state").
 * We build identity-mapped page tables for the first 4 GiB, switch to long
 * mode (SDM Vol. 3A 9.8.5 "Initializing IA-32e Mode") and call
 * kmain(magic, mbi).
 */

#define MB_MAGIC 0x1badb002
/* bit 0: page-align modules, bit 1: give us a memory map,
 * bit 16: the header carries load addresses (the "a.out kludge"), which is
 * what lets loaders that only understand ELF32 (QEMU -kernel) load this
 * ELF64 file: they copy the file image and ignore the ELF headers. */
#define MB_FLAGS ((1 << 0) | (1 << 1) | (1 << 16))

#define CR0_PE  (1 << 0)
#define CR0_NE  (1 << 5) /* native x87 error reporting: VMXON requires it */
#define CR0_WP  (1 << 16)
#define CR0_NW  (1 << 29)
#define CR0_CD  (1 << 30)
#define CR0_PG  (1 << 31)
#define CR4_PAE (1 << 5)
/* SSE state enabled as a 64-bit kernel has it: FXSAVE/FXRSTOR then
   cover the XMM registers (SDM Vol. 3A 13.1.3). */
#define CR4_OSFXSR     (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

#define PTE_P  (1 << 0)
#define PTE_W  (1 << 1)
#define PTE_PS (1 << 7) /* in a page-directory entry: 2 MiB page */

#define STACK_SIZE 16384

    .section .multiboot, "a"
    .balign 4
mb_header: /* Multiboot Specification 0.6.96, 3.1 "OS image format" */
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header      /* header_addr */
    .long __kernel_start /* load_addr: the file image starts here */
    .long __load_end     /* load_end_addr: end of .data */
    .long __bss_end      /* bss_end_addr: the loader zeroes up to here */
    .long _start         /* entry_addr */

    .text
    .code32
    .globl _start
_start:
    cli
    cld
    mov $boot_stack + STACK_SIZE, %esp
    mov %eax, %ebp /* keep magic and mbi pointer across CPUID */
    mov %ebx, %esi

    /* Long mode (CPUID 0x80000001 EDX bit 29) or give up with a FAIL line. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    bt $29, %edx
    jnc no_long_mode
    mov %edx, %ebx /* bit 20: NX, used for EFER.NXE below */

    /* PML4[0] -> PDPT, PDPT[0..3] -> four page directories of 2 MiB pages:
     * 4 GiB identity-mapped, enough for RAM and the MMIO below 4 GiB
     * (SDM Vol. 3A 4.5 "4-Level Paging"). Caching is left to the MTRRs. */
    movl $boot_pdpt + PTE_P + PTE_W, boot_pml4
    mov $boot_pd + PTE_P + PTE_W, %eax
    xor %ecx, %ecx
1:  mov %eax, boot_pdpt(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jne 1b
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $PTE_P + PTE_W + PTE_PS, %eax
    mov %eax, boot_pd(, %ecx, 8)
    inc %ecx
    cmp $4 * 512, %ecx
    jne 2b

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    mov %eax, %cr4
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    bt $20, %ebx
    jnc 3f
    or $EFER_NXE, %eax
3:  wrmsr
    mov %cr0, %eax
    and $~(CR0_CD + CR0_NW), %eax /* caches on (Bochs boots with CD and NW set) */
    or $CR0_PE + CR0_NE + CR0_WP + CR0_PG, %eax
    mov %eax, %cr0 /* paging on: long mode is now active (compatibility mode) */

    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode

no_long_mode:
    mov $no_lm_msg, %esi
    mov $0x3f8, %dx
4:  lodsb
    test %al, %al
    jz 5f
    out %al, %dx
    jmp 4b
5:  mov $0xf4, %dx /* QEMU isa-debug-exit: status 3 = failure */
    mov $1, %al
    out %al, %dx
6:  hlt
    jmp 6b

    .code64
long_mode:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov %ebp, %edi /* kmain(magic, mbi); the 32-bit moves clear bits 63:32 */
    mov %esi, %esi
    call kmain
7:  cli
    hlt
    jmp 7b

    .section .rodata
no_lm_msg:
    .asciz "FAIL kernel.boot: this CPU has no long mode\r\n0 passed, 1 failed\r\n"

    /* Temporary GDT: null, 64-bit code (0x08), data (0x10). gdt.c replaces
     * it with the final one that also holds the TSS. */
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff /* P, DPL 0, code, L=1 */
    .quad 0x00cf92000000ffff /* P, DPL 0, data, writable */
boot_gdt_ptr:
    .word boot_gdt_ptr - boot_gdt - 1
    .long boot_gdt

    .bss
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
    .balign 16
boot_stack:
    .skip STACK_SIZE

    .section .note.GNU-stack, "", @progbits /* no executable stack */
