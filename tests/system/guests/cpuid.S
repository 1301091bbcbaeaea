/*
 * CPUID as the guest sees it: leaf 1 ECX (hypervisor bit 31, VMX bit 5),
 * leaf 8000_0001 ECX (SVM bit 2), and leaf 8000_0002, which the host
 * overrides, through redundant prefixes (the instruction is then longer
 * than its two opcode bytes).
 */
#include "guest.inc"

    GUEST_START
    movl $1, %eax
    xorl %ecx, %ecx
    cpuid
    movl %ecx, %eax
    outl %eax, $PORT_VAL
    movl $0x80000001, %eax
    xorl %ecx, %ecx
    cpuid
    movl %ecx, %eax
    outl %eax, $PORT_VAL
    movl $0x80000002, %eax
    xorl %ecx, %ecx
    .byte 0x2e, 0x3e, 0x66          /* CS, DS, operand-size: no effect on CPUID */
    cpuid
    outl %eax, $PORT_VAL
    movl %ebx, %eax
    outl %eax, $PORT_VAL
    movl %ecx, %eax
    outl %eax, $PORT_VAL
    movl %edx, %eax
    outl %eax, $PORT_VAL
    MARK(1)
    hlt
1:  jmp 1b
