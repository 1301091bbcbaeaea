/*
 * XCR0 around the guest's run (APM Vol. 2 15.5.1: XCR0 is not in the VMCB,
 * VMRUN and #VMEXIT leave it as it is; the hypervisor switches it itself).
 *
 * The guest's CR4 writes are not intercepted, so a guest can set
 * CR4.OSXSAVE; its XSETBV is intercepted, checked and stored by the core
 * (vcpu->xcr0, core/xsave.h), and XGETBV does not exit: so while GIF=0
 * around VMRUN the CPU holds the guest's XCR0 and the host's is put back
 * after the exit (core/xsave.h hv_xcr0_enter/leave). Doing it under GIF=0
 * (not around hv_vcpu_run) means no host code, interrupt handler or
 * scheduler, ever runs with the guest's XCR0 (which may lack components
 * the host uses, or enable ones the host never switches) or on another
 * CPU than the one it was set on. The components' registers themselves
 * are switched by the core at hv_vcpu_run's start and end (core/xsave.h):
 * a component the guest's XCR0 lacks keeps the host's value and is out of
 * the guest's reach (SDM Vol. 1 13.3).
 *
 * svm_entry.S's svm_run does the same in assembly for a host with
 * CR4.OSXSAVE (XCR0_ENTER/XCR0_LEAVE, calling hv_xcr0_untrapped itself);
 * these are the C entry's (svm_run_c).
 *
 * Needed when the host runs with CR4.OSXSAVE (its XCR0 may be anything)
 * or the guest's XCR0 is not x87 (a host without CR4.OSXSAVE runs with
 * XCR0 = x87, its RESET value: clearing CR4.OSXSAVE does not reset XCR0,
 * so a host that turns it off after enabling AVX must first put XCR0 back
 * to x87).
 */
#ifndef HV_SVM_XCR0_H
#define HV_SVM_XCR0_H

#include <stdint.h>
#include "core/cpu.h"
#include "core/util.h"
#include "core/xsave.h"
#include "svm/svm.h"

#define SVM_CR4_OSXSAVE HV_CR4_OSXSAVE

/* IRET bookkeeping pending or XCR0 to switch: one 16-bit load
   (svm_vcpu keeps the two flags adjacent, as svm_entry.S tests them). */
static inline bool svm_iret_or_xcr0(const struct svm_vcpu *s)
{
    return hv_flag_pair(&s->iret_pending) != 0;
}

/* hv_backend_ops::xcr0_changed */
static inline void svm_xcr0_changed(struct hv_vcpu *vcpu)
{
    svm_vcpu_of(vcpu)->xcr0_switch = vcpu->xcr0 != HV_XCR0_X87;
}

/* With GIF=0, before the world switch: the guest's XCR0 in. Returns what
   svm_xcr0_leave needs (0: nothing changed). host_cr4: the host's CR4,
   read once for this and the PKRU switch (svm_pkru.h). */
static inline uint64_t svm_xcr0_enter(uint64_t host_cr4, const struct hv_vcpu *vcpu)
{
    return hv_xcr0_enter(host_cr4, vcpu->xcr0);
}

/*
 * With GIF=0, after the world switch: the host's XCR0 back. XCR0 as the
 * guest left it is read first: the XSETBV intercept makes it vcpu->xcr0,
 * but an emulator without the intercept (QEMU 7.2's TCG: its XSETBV
 * helper checks none) lets the guest's XSETBV reach the CPU. Such a value
 * goes to *native for the core to check and adopt (hv_xcr0_untrapped):
 * the guest then keeps what it set, as on a CPU without a hypervisor.
 * Only where XCR0 is switched at all: on a host without CR4.OSXSAVE and
 * a guest whose XCR0 is x87 such an XSETBV goes unseen (no read there).
 */
static inline void svm_xcr0_leave(uint64_t host_cr4, uint64_t host_xcr0, const struct hv_vcpu *vcpu,
                                  uint64_t *native)
{
    bool osx = (host_cr4 & SVM_CR4_OSXSAVE) != 0;
    if (!osx && !host_xcr0)
        return;
    if (!osx)
        hv_write_cr4(host_cr4 | SVM_CR4_OSXSAVE);
    uint64_t g = hv_xgetbv0();
    uint64_t h = host_xcr0 ? host_xcr0 : vcpu->xcr0; /* 0: the host's was the guest's */
    if (g != vcpu->xcr0)
        *native = g;
    if (g != h)
        hv_xsetbv0(h);
    if (!osx)
        hv_write_cr4(host_cr4);
}

#endif /* HV_SVM_XCR0_H */
