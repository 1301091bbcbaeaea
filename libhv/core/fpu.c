/* x87/SSE state switching (fpu.h). */
#include "core/fpu.h"
#include "core/util.h"

#define CR4_OSFXSR (1ull << 9)

void hv_fpu_init_state(uint8_t *area)
{
    hv_memset(area, 0, HV_FPU_AREA);
    area[0] = 0x7f; /* FCW = 037FH */
    area[1] = 0x03;
    area[24] = 0x80; /* MXCSR = 1F80H */
    area[25] = 0x1f;
}

static inline void fx_save(uint8_t *area)
{
    __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[HV_FPU_AREA])area));
}

static inline void fx_restore(const uint8_t *area)
{
    __asm__ volatile("fxrstor64 %0" ::"m"(*(const uint8_t(*)[HV_FPU_AREA])area));
}

/*
 * Without CR4.OSFXSR, whether FXSAVE/FXRSTOR include the XMM registers is
 * implementation dependent (SDM Vol. 2A FXSAVE), so a host without it gets
 * it set around them with interrupts off. A host with it (the usual case,
 * on every run) pays one CR4 read. A hosted process (unit tests) runs with
 * OSFXSR set by its OS and cannot touch CR4.
 */
static void swap(uint8_t *save, const uint8_t *load)
{
#if HV_HOSTED
    fx_save(save);
    fx_restore(load);
#else
    uint64_t flags, cr4;
    __asm__ volatile("movq %%cr4, %0" : "=r"(cr4));
    if (cr4 & CR4_OSFXSR) {
        fx_save(save);
        fx_restore(load);
        return;
    }
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
    __asm__ volatile("movq %%cr4, %0" : "=r"(cr4)); /* as of now, interrupts off */
    __asm__ volatile("movq %0, %%cr4" ::"r"(cr4 | CR4_OSFXSR));
    fx_save(save);
    fx_restore(load);
    if (!(cr4 & CR4_OSFXSR))
        __asm__ volatile("movq %0, %%cr4" ::"r"(cr4));
    if (flags & (1ull << 9))
        __asm__ volatile("sti" ::: "memory");
#endif
}

void hv_fpu_enter_guest(uint8_t *host_area, const uint8_t *guest_area)
{
    swap(host_area, guest_area);
}

void hv_fpu_leave_guest(uint8_t *guest_area, const uint8_t *host_area)
{
    swap(guest_area, host_area);
}
