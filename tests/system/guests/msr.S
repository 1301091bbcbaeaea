/*
 * MSR policy seen from a real-mode guest. Its #GP handler (IVT vector 13)
 * reports MARK 0x0d and skips the 2-byte RDMSR/WRMSR that faulted.
 *   unknown MSR read  -> #GP, MARK 1
 *   unknown MSR write -> #GP, MARK 2
 *   EFER read -> VAL (SVME must not show), EFER := SCE -> VAL (read back)
 *   EFER write with SVME -> #GP (the guest has no SVM), MARK 3
 *   STAR (kept in the VMCB) write + read back -> VAL high half
 *   PAT read (library policy) -> VAL low half (power-on value 0x00070406)
 */
#include "guest.inc"

    GUEST_START
    movw $gp_handler, 13 * 4
    movw $0, 13 * 4 + 2

    movl $0xdead0001, %ecx
    rdmsr
    MARK(1)
    xorl %eax, %eax
    xorl %edx, %edx
    wrmsr
    MARK(2)

    movl $0xc0000080, %ecx
    rdmsr
    outl %eax, $PORT_VAL
    movl $1, %eax
    xorl %edx, %edx
    wrmsr
    xorl %eax, %eax
    rdmsr
    outl %eax, $PORT_VAL
    movl $0x1001, %eax
    wrmsr
    MARK(3)

    movl $0xc0000081, %ecx
    movl $0x11223344, %eax
    movl $0x00230010, %edx
    wrmsr
    xorl %eax, %eax
    xorl %edx, %edx
    rdmsr
    movl %edx, %eax
    outl %eax, $PORT_VAL

    movl $0x277, %ecx
    rdmsr
    outl %eax, $PORT_VAL
    hlt
1:  jmp 1b

gp_handler:
    pushw %bp
    movw %sp, %bp
    addw $2, 2(%bp)                 /* return past the 2-byte instruction */
    popw %bp
    pushw %ax
    MARK(0x0d)
    popw %ax
    iret
