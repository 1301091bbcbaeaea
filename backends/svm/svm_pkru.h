/*
 * PKRU around the guest's run (SDM Vol. 3A 4.6.2; APM Vol. 2 5.6.6, 15.5.1:
 * PKRU is not in the VMCB, VMRUN and #VMEXIT leave it as it is).
 *
 * The guest's CR4 writes are not intercepted, so on a CPU with PKU a guest
 * can set CR4.PKE (its CPUID hides PKU, but VMRUN and MOV CR4 check only
 * what the CPU implements) and WRPKRU: without a switch the host would go
 * on with the guest's PKRU (its accesses to user-mode pages) and the next
 * guest would read it. The guest can set CR4.PKE, write PKRU and clear
 * CR4.PKE again within one run, so neither the VMCB's CR4 before the entry
 * nor after the exit says whether PKRU changed: on a CPU with PKU the
 * switch happens at every world switch, on one without it costs one test.
 *
 * The switch runs under GIF=0, next to the XCR0 switch (svm_xcr0.h) and
 * sharing its CR4 read: the host's PKRU is saved and the vCPU's own
 * (svm_vcpu.pkru, RESET value 0, SDM Vol. 3A 9.1.1) loaded; after the exit
 * the guest's is saved and the host's put back. RDPKRU and WRPKRU #UD
 * without CR4.PKE: a host without it gets CR4.PKE set around them only
 * (GIF=0: no host code sees that); the register keeps its value with
 * CR4.PKE clear, and the guest's CR4 is the VMCB's.
 *
 * The exit fast path (svm_fast.c) runs between the two with the guest's
 * PKRU loaded. PKRU governs host accesses only with the host's CR4.PKE
 * set (to user-mode pages, SDM Vol. 3A 4.6.2): a host without it is not
 * affected, and for a host with it svm_run keeps the fast path off
 * (vcpu->quiet), so that no library or embedder code (MMIO handlers) runs
 * under the guest's keys.
 */
#ifndef HV_SVM_PKRU_H
#define HV_SVM_PKRU_H

#include <stdbool.h>
#include <stdint.h>
#include "core/cpu.h"

#define SVM_CR4_PKE (1ull << 22)

/* Whether the switch is needed: the CPU implements CR4.PKE (CPUID
   Fn0000_0007 ECX[3], svm_probe.c). */
static inline bool svm_pkru_needed(uint64_t cr4_allowed)
{
    return (cr4_allowed & SVM_CR4_PKE) != 0;
}

/* With GIF=0, before the world switch: the vCPU's PKRU in, the host's
   returned for svm_pkru_leave. host_cr4: the CR4 the host runs with. */
static inline uint32_t svm_pkru_enter(uint64_t host_cr4, uint32_t guest_pkru)
{
    if (!(host_cr4 & SVM_CR4_PKE))
        hv_write_cr4(host_cr4 | SVM_CR4_PKE);
    uint32_t host_pkru = hv_rdpkru();
    if (host_pkru != guest_pkru)
        hv_wrpkru(guest_pkru);
    if (!(host_cr4 & SVM_CR4_PKE))
        hv_write_cr4(host_cr4);
    return host_pkru;
}

/* With GIF=0, after the world switch: returns the guest's PKRU, the host's
   back in the CPU and CR4 the host's again. */
static inline uint32_t svm_pkru_leave(uint64_t host_cr4, uint32_t host_pkru)
{
    if (!(host_cr4 & SVM_CR4_PKE))
        hv_write_cr4(host_cr4 | SVM_CR4_PKE);
    uint32_t guest_pkru = hv_rdpkru();
    if (guest_pkru != host_pkru)
        hv_wrpkru(host_pkru);
    if (!(host_cr4 & SVM_CR4_PKE))
        hv_write_cr4(host_cr4);
    return guest_pkru;
}

#endif /* HV_SVM_PKRU_H */
