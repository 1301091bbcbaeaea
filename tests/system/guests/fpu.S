/*
 * x87/SSE state the embedder set through hv_vcpu_set_fpu() (vm.fpu_state):
 * in 64-bit mode (XMM15 needs it), store XMM0, XMM15, MXCSR, FCW, FSW and
 * ST0 at FPU_REPORT, MARK 1, then load the values below and HLT, for the
 * embedder to read back through hv_vcpu_get_fpu().
 */
#include "guest.inc"

#define FPU_REPORT 0x80000 /* in the test VM's RAM, past the image */

    GUEST_START
    ENTER_PM32
    ENTER_LONG
    movq %cr4, %rax
    orq $0x600, %rax                /* OSFXSR | OSXMMEXCPT: SSE allowed (SDM Vol. 3A 13.1.3) */
    movq %rax, %cr4

    movdqu %xmm0, FPU_REPORT
    movdqu %xmm15, FPU_REPORT + 16
    stmxcsr FPU_REPORT + 32
    fnstcw FPU_REPORT + 36
    fnstsw FPU_REPORT + 38
    fstpt FPU_REPORT + 48           /* ST0, popped: TOP + 1 */
    MARK(1)

    movdqu new_xmm0, %xmm0
    movdqu new_xmm15, %xmm15
    ldmxcsr new_mxcsr
    fldcw new_fcw
    fldt new_st0                    /* pushed: TOP back where it was */
    hlt
1:  jmp 1b

/* Keep in step with examples/kernel/cases/vm_fpu_state.c. */
    .balign 16
new_xmm0:
    .quad 0x1122334455667788, 0x99aabbccddeeff00
new_xmm15:
    .quad 0x0f1e2d3c4b5a6978, 0x8796a5b4c3d2e1f0
new_st0:
    .quad 0xc000000000000000        /* -1.5: mantissa, then sign and exponent */
    .word 0xbfff
new_fcw:
    .word 0x0c7f                    /* RC = 11 (toward zero), PC = 00, all masked */
new_mxcsr:
    .long 0xffa0                    /* FZ, RC = 11, all masked, PE flag set */

    GUEST_TABLES
