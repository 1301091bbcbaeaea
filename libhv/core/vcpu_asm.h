/*
 * Offsets in struct hv_vcpu (core/objects.h) that the world-switch
 * assembly of both backends uses; core/vm.c checks them at compile time.
 */
#ifndef HV_CORE_VCPU_ASM_H
#define HV_CORE_VCPU_ASM_H

#define HV_VCPU_GUEST_EPOCH 128 /* after gpr[16] */
#define HV_VCPU_FLUSH_REQ   136

#ifdef __ASSEMBLER__
/* The host's callee-saved registers (SysV ABI) around a world switch. */
.macro HV_PUSH_CALLEE_SAVED
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
.endm

.macro HV_POP_CALLEE_SAVED
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
.endm

/* After an exit, before returning to C: no guest value left in a
   caller-saved register (RAX aside: the return value) for the C code to
   use, even speculatively. */
.macro HV_CLEAR_GUEST_SCRATCH
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
.endm
#endif

#endif /* HV_CORE_VCPU_ASM_H */
