/*
 * x87/SSE state switching around guest execution, for both backends:
 * neither the VMCS nor the VMCB holds it, so without switching one guest
 * would read another's (or the host's) registers. libhv itself uses no
 * FPU/SSE code (-mgeneral-regs-only), so the guest's image can stay loaded
 * for a whole hv_vcpu_run() call and is swapped only at its start and end.
 * FXSAVE/FXRSTOR cover x87 and SSE (SDM Vol. 1 10.5, Vol. 2A FXSAVE);
 * the components beyond them a guest enables (AVX, AVX-512) are switched
 * with XSAVE/XRSTOR right after and before (core/xsave.h).
 */
#ifndef HV_CORE_FPU_H
#define HV_CORE_FPU_H

#include <stdint.h>
#include "core/cpu.h"
#include "core/objects.h"

#define HV_FPU_AREA 512
/* Offsets in the FXSAVE image (SDM Vol. 1 10.5.1, table 10-2). */
#define HV_FPU_MXCSR      24
#define HV_FPU_MXCSR_MASK 28
#define HV_FPU_RESERVED   416 /* 416-511: reserved and software bytes */

/* The FXSAVE image of the INIT state (SDM Vol. 3A 9.1.1, table 9-1):
   FCW 037FH, MXCSR 1F80H, everything else 0. */
void hv_fpu_init_state(uint8_t *area);

#define HV_FPU_CR4_OSFXSR (1ull << 9)

static inline void hv_fx_save(uint8_t *area)
{
    __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[HV_FPU_AREA])area));
}

static inline void hv_fx_restore(const uint8_t *area)
{
    __asm__ volatile("fxrstor64 %0" ::"m"(*(const uint8_t(*)[HV_FPU_AREA])area));
}

/* The MXCSR bits this CPU supports: MXCSR_MASK of an FXSAVE here, or
   HV_FPU_MXCSR_MASK_DEFAULT when the CPU stores 0 (SDM Vol. 1 11.6.6). */
uint32_t hv_fpu_host_mxcsr_mask(void);

/* The host's MXCSR mask, read once per context (fpu_state.c). */
uint32_t hv_fpu_ctx_mxcsr_mask(struct hv_ctx *ctx);

/* The switch on a host without CR4.OSFXSR (fpu.c); a NULL load only saves. */
void hv_fpu_swap_slow(uint8_t *save, const uint8_t *load);

/*
 * Save the current state into save, load load: both in one statement, so
 * that both images are addressed directly (as two, GCC kept load's
 * address in a stack slot across the first). Needs CR4.OSFXSR (a 64-bit
 * kernel using SSE has it; a hosted process, the unit tests, has it set
 * by its OS and cannot read CR4); the callers below check it, with one
 * CR4 read per switch.
 */
static inline void hv_fx_swap(uint8_t *save, const uint8_t *load)
{
    __asm__ volatile("fxsave64 %0\n\tfxrstor64 %1"
                     : "=m"(*(uint8_t(*)[HV_FPU_AREA])save)
                     : "m"(*(const uint8_t(*)[HV_FPU_AREA])load));
}

/* The switches of a run on a host without CR4.OSFXSR (fpu.c): they take
   the vCPU, so that the inline callers compute its area's address on
   their slow branch only. */
void hv_fpu_enter_slow(uint8_t *host_area, struct hv_vcpu *vcpu);
void hv_fpu_leave_slow(struct hv_vcpu *vcpu, const uint8_t *host_area);

/* Save the current (host) state into host_area, load the vCPU's. */
static inline void hv_fpu_enter_guest(uint8_t *host_area, struct hv_vcpu *vcpu)
{
#if !HV_HOSTED
    if (__builtin_expect(!(hv_read_cr4() & HV_FPU_CR4_OSFXSR), 0)) {
        hv_fpu_enter_slow(host_area, vcpu);
        return;
    }
#endif
    hv_fx_swap(host_area, vcpu->fpu);
}

/* Save the current (guest) state into the vCPU's area, load host_area. */
static inline void hv_fpu_leave_guest(struct hv_vcpu *vcpu, const uint8_t *host_area)
{
#if !HV_HOSTED
    if (__builtin_expect(!(hv_read_cr4() & HV_FPU_CR4_OSFXSR), 0)) {
        hv_fpu_leave_slow(vcpu, host_area);
        return;
    }
#endif
    hv_fx_swap(vcpu->fpu, host_area);
}

#endif /* HV_CORE_FPU_H */
