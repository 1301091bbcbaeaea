/*
 * XCR0 around the guest's run (APM Vol. 2 15.5.1: XCR0 is not in the VMCB,
 * VMRUN and #VMEXIT leave it as it is; the hypervisor switches it itself).
 *
 * The guest's CR4 writes are not intercepted, so a guest can set
 * CR4.OSXSAVE; its XSETBV is intercepted and refused (svm_run.c), so its
 * XCR0 is whatever the CPU holds while it runs. The library switches only
 * the x87/SSE state (core/fpu.h): with a host XCR0 enabling more (AVX,
 * AVX-512, ...) the guest could read and change the host's or another
 * VM's registers of those components. So while GIF=0 around VMRUN, XCR0
 * is narrowed to its x87/SSE bits: VEX and EVEX instructions then raise
 * #UD in the guest (SDM Vol. 1 13.3, 14.3), and the disabled components
 * keep their values until XCR0 is restored (SDM Vol. 1 13.3: the processor
 * preserves a state component whose XCR0 bit software clears). Doing it
 * under GIF=0 (not around hv_vcpu_run) means no host code, interrupt
 * handler or scheduler, ever runs with the narrowed XCR0 or on another CPU
 * than the one it was set on.
 *
 * XCR0 is readable only with the host's CR4.OSXSAVE set (XGETBV #UDs
 * otherwise): a host without it, or with XCR0 = x87|SSE, pays a CR4 read.
 * Clearing CR4.OSXSAVE does not reset XCR0, so a host that turns it off
 * after enabling AVX must first put XCR0 back to x87 (its RESET value).
 */
#ifndef HV_SVM_XCR0_H
#define HV_SVM_XCR0_H

#include <stdint.h>
#include "core/cpu.h"

#define SVM_CR4_OSXSAVE (1ull << 18)
#define SVM_XCR0_GUEST  3ull /* x87 (bit 0) | SSE (bit 1), SDM Vol. 1 13.3 */

/* With GIF=0, before the world switch: narrow XCR0 for the guest. Returns
   the host's XCR0 to put back after the exit, 0 if XCR0 was left alone
   (bit 0 of a valid XCR0 is always 1, SDM Vol. 1 13.3). cr4: the host's
   CR4, read once for this and the PKRU switch (svm_pkru.h). */
static inline uint64_t svm_xcr0_enter(uint64_t cr4)
{
    uint64_t xcr0;
    if (__builtin_expect(!(cr4 & SVM_CR4_OSXSAVE), 1))
        return 0;
    xcr0 = hv_xgetbv0();
    if (!(xcr0 & ~SVM_XCR0_GUEST))
        return 0;
    /* x87 is always set, and SSE alone needs nothing else: a valid value. */
    hv_xsetbv0(xcr0 & SVM_XCR0_GUEST);
    return xcr0;
}

/* With GIF=0, after the world switch: the host's XCR0 back. */
static inline void svm_xcr0_leave(uint64_t host_xcr0)
{
    if (host_xcr0)
        hv_xsetbv0(host_xcr0);
}

#endif /* HV_SVM_XCR0_H */
