/* x87/SSE state switching (fpu.h). */
#include "core/fpu.h"
#include "core/util.h"
#include <hv/fpu.h>

void hv_fpu_init_state(uint8_t *area)
{
    hv_memset(area, 0, HV_FPU_AREA);
    area[0] = 0x7f; /* FCW = 037FH */
    area[1] = 0x03;
    area[HV_FPU_MXCSR] = 0x80; /* MXCSR = 1F80H */
    area[HV_FPU_MXCSR + 1] = 0x1f;
}

/*
 * Without CR4.OSFXSR, whether FXSAVE/FXRSTOR include the XMM registers is
 * implementation dependent (SDM Vol. 2A FXSAVE), so a host without it gets
 * it set around them with interrupts off (the common case, with it, is
 * inline in fpu.h).
 */
void hv_fpu_swap_slow(uint8_t *save, const uint8_t *load)
{
    uint64_t flags, cr4;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
    cr4 = hv_read_cr4(); /* as of now, interrupts off */
    if (!(cr4 & HV_FPU_CR4_OSFXSR))
        hv_write_cr4(cr4 | HV_FPU_CR4_OSFXSR);
    hv_fx_save(save);
    if (load)
        hv_fx_restore(load);
    if (!(cr4 & HV_FPU_CR4_OSFXSR))
        hv_write_cr4(cr4);
    if (flags & (1ull << 9))
        __asm__ volatile("sti" ::: "memory");
}

void hv_fpu_enter_slow(uint8_t *host_area, struct hv_vcpu *vcpu)
{
    hv_fpu_swap_slow(host_area, vcpu->fpu);
}

void hv_fpu_leave_slow(struct hv_vcpu *vcpu, const uint8_t *host_area)
{
    hv_fpu_swap_slow(vcpu->fpu, host_area);
}

uint32_t hv_fpu_host_mxcsr_mask(void)
{
    uint8_t area[HV_FPU_AREA] __attribute__((aligned(16)));
#if !HV_HOSTED
    /* Without OSFXSR, FXSAVE need not store MXCSR_MASK (SDM Vol. 2A
       FXSAVE): the slow switch sets it around the save. */
    if (!(hv_read_cr4() & HV_FPU_CR4_OSFXSR))
        hv_fpu_swap_slow(area, NULL);
    else
#endif
        hv_fx_save(area);
    uint32_t mask;
    hv_memcpy(&mask, area + HV_FPU_MXCSR_MASK, sizeof(mask));
    return mask ? mask : HV_FPU_MXCSR_MASK_DEFAULT;
}
