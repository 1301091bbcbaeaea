/*
 * XSETBV, XCR0 and the YMM registers of a guest (vm.xsave,
 * examples/kernel/cases/vm_xsave.c). In 64-bit mode with #UD and #GP
 * handlers that record the vector (at xs_fault) and resume at xs_resume:
 *   1. XSETBV without CR4.OSXSAVE; CPUID.1 ECX; OUT both (vector, ECX);
 *      CR4.OSXSAVE set, CPUID.1 ECX again; OUT it;
 *   2. IN PORT_ARG: the host's flags (bit 0: go on with AVX, bit 1: the
 *      CPUID offers AVX-512); 0 -> MARK(0xee), HLT;
 *   3. XSETBV of bad values, OUT the vector of each: XCR0 = 0 (no x87),
 *      5 (AVX without SSE), ECX = 1, 0x207 (PKRU, never offered), with
 *      AVX-512 0x27 (opmask alone); XGETBV: OUT EAX (still 1). (CPL > 0
 *      is the CPU's check before the exit, SDM Vol. 3C 25.1.1: the unit
 *      tests cover the library's);
 *   4. XSETBV(7): OUT the vector (0), XGETBV EAX, CPUID 0DH.0 EBX;
 *   5. YMM0-15 from ymm_tab; IN PORT_ARG (the host clobbers its own YMM
 *      and reads these through the API); YMM0-15 to REPORT; MARK(2);
 *   6. IN PORT_ARG (the host writes new YMM values through the API);
 *      YMM0-15 to REPORT + 512; MARK(3);
 *   7. XSETBV(3): VXORPS must #UD: OUT the vector; XSETBV(7) again and
 *      YMM0-15 loaded from ymm_tab + 32 (shifted by one);
 *   8. with AVX-512 offered (flags bit 1): XSETBV(0xe7), OUT the vector;
 *      ZMM16 and ZMM31 from zmm_tab, the upper half of ZMM15 from its
 *      third row, K1 = 0x1234, K7 = 0xfedc; IN PORT_ARG (the host reads
 *      them through the API and writes ZMM16 and K1); ZMM16 to
 *      REPORT + 1024, K1 to REPORT + 1088; MARK(4);
 *   HLT.
 */
#include "guest.inc"

#define REPORT 0x80000 /* in the test VM's RAM, past the image */

    GUEST_START
    ENTER_PM32
    ENTER_LONG
    movq %cr4, %rax
    orq $0x600, %rax                /* OSFXSR | OSXMMEXCPT */
    movq %rax, %cr4
    /* IDT: #UD (6) and #GP (13), 64-bit interrupt gates. */
    leaq ud_handler, %rax
    movw %ax, idt + 6 * 16
    movw $SEL_CODE64, idt + 6 * 16 + 2
    movw $0x8e00, idt + 6 * 16 + 4
    shrq $16, %rax
    movw %ax, idt + 6 * 16 + 6
    leaq gp_handler, %rax
    movw %ax, idt + 13 * 16
    movw $SEL_CODE64, idt + 13 * 16 + 2
    movw $0x8e00, idt + 13 * 16 + 4
    shrq $16, %rax
    movw %ax, idt + 13 * 16 + 6
    lidt idt_desc

    /* 1 */
    movl $3, %eax
    xorl %ecx, %ecx
    call try_xsetbv
    movl xs_fault, %eax
    outl %eax, $PORT_VAL
    movl $1, %eax
    xorl %ecx, %ecx
    cpuid
    movl %ecx, %eax
    outl %eax, $PORT_VAL
    movq %cr4, %rax
    orq $0x40000, %rax              /* OSXSAVE */
    movq %rax, %cr4
    movl $1, %eax
    xorl %ecx, %ecx
    cpuid
    movl %ecx, %eax
    outl %eax, $PORT_VAL

    /* 2 */
    inl $PORT_ARG, %eax
    movl %eax, flags
    testl $1, %eax
    jnz 1f
    MARK(0xee)
    jmp done
1:
    /* 3 */
    xorl %eax, %eax
    xorl %ecx, %ecx
    call try_xsetbv
    call report_fault
    movl $5, %eax
    xorl %ecx, %ecx
    call try_xsetbv
    call report_fault
    movl $3, %eax
    movl $1, %ecx
    call try_xsetbv
    call report_fault
    movl $0x207, %eax
    xorl %ecx, %ecx
    call try_xsetbv
    call report_fault
    testl $2, flags
    jz 2f
    movl $0x27, %eax
    xorl %ecx, %ecx
    call try_xsetbv
    call report_fault
2:
    xorl %ecx, %ecx
    xgetbv
    outl %eax, $PORT_VAL

    /* 4 */
    movl $7, %eax
    xorl %ecx, %ecx
    call try_xsetbv
    call report_fault
    xorl %ecx, %ecx
    xgetbv
    outl %eax, $PORT_VAL
    movl $0xd, %eax
    xorl %ecx, %ecx
    cpuid
    movl %ebx, %eax
    outl %eax, $PORT_VAL

    /* 5 */
    movq $ymm_tab, %rsi
    call load_ymm
    inl $PORT_ARG, %eax
    movq $REPORT, %rdi
    call store_ymm
    MARK(2)

    /* 6 */
    inl $PORT_ARG, %eax
    movq $REPORT + 512, %rdi
    call store_ymm
    MARK(3)

    /* 7 */
    movl $3, %eax
    xorl %ecx, %ecx
    call try_xsetbv
    movl $0, xs_fault
    movq $3f, xs_resume
    vxorps %ymm0, %ymm0, %ymm0
3:  call report_fault
    movl $7, %eax
    xorl %ecx, %ecx
    call try_xsetbv
    movq $ymm_tab + 32, %rsi
    call load_ymm

    /* 8 */
    testl $2, flags
    jz done
    movl $0xe7, %eax
    xorl %ecx, %ecx
    call try_xsetbv
    call report_fault
    vmovdqu64 zmm_tab, %zmm16
    vmovdqu64 zmm_tab + 64, %zmm31
    vinserti64x4 $1, zmm_tab + 128, %zmm15, %zmm15
    movl $0x1234, %eax
    kmovw %eax, %k1
    movl $0xfedc, %eax
    kmovw %eax, %k7
    inl $PORT_ARG, %eax
    vmovdqu64 %zmm16, REPORT + 1024
    kmovw %k1, %eax
    movl %eax, REPORT + 1088
    MARK(4)
done:
    hlt
    jmp done

/* XSETBV with EAX, ECX (EDX 0); the vector in xs_fault (0: none). */
try_xsetbv:
    movl $0, xs_fault
    movq $1f, xs_resume
    xorl %edx, %edx
    xsetbv
1:  ret

report_fault:
    movl xs_fault, %eax
    outl %eax, $PORT_VAL
    ret

load_ymm:
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    vmovdqu 32 * \r(%rsi), %ymm\r
    .endr
    ret

store_ymm:
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    vmovdqu %ymm\r, 32 * \r(%rdi)
    .endr
    ret

ud_handler:
    movl $6, xs_fault
    jmp 1f
gp_handler:
    movl $13, xs_fault
    addq $8, %rsp                   /* the error code */
1:  pushq %rax
    movq xs_resume, %rax
    movq %rax, 8(%rsp)              /* RIP: resume there */
    popq %rax
    iretq

    .balign 8
xs_fault:  .quad 0
xs_resume: .quad 0
flags:     .quad 0

/* YMM i, dword k: 0x5a000000 + (i << 8) + k; one more row for step 7. */
    .balign 32
ymm_tab:
    .set i, 0
    .rept 17
    .set k, 0
    .rept 8
    .long 0x5a000000 + (i << 8) + k
    .set k, k + 1
    .endr
    .set i, i + 1
    .endr

/* ZMM16, ZMM31, ZMM15's upper half: dword k of row r = 0x7b000000 + (r << 8) + k. */
    .balign 64
zmm_tab:
    .set r, 0
    .rept 3
    .set k, 0
    .rept 16
    .long 0x7b000000 + (r << 8) + k
    .set k, k + 1
    .endr
    .set r, r + 1
    .endr

    .balign 16
idt:
    .fill 14 * 2, 8, 0
idt_end:
idt_desc:
    .word idt_end - idt - 1
    .quad idt

    GUEST_TABLES
