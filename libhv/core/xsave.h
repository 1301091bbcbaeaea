/*
 * A guest's XCR0 and its extended (XSAVE-managed) state beyond x87/SSE:
 * AVX and, where the host has them, the AVX-512 components (SDM Vol. 1
 * ch. 13). x87/SSE stay with the FXSAVE switch (core/fpu.h).
 *
 * - vcpu->xcr0: the guest's XCR0 (RESET 1, SDM Vol. 1 13.3). Its XSETBV
 *   exits on both backends (HV_VX_XSETBV) and is checked here; the CPU
 *   holds it only around the world switch, with interrupts off
 *   (hv_xcr0_enter/leave), because XGETBV does not exit.
 * - vcpu->xs_used: the components beyond x87/SSE the guest has enabled
 *   since its areas were allocated (never shrinks: a component whose XCR0
 *   bit the guest clears keeps its value, SDM Vol. 1 13.3). Only those are
 *   switched, with XSAVE/XRSTOR at hv_vcpu_run's start and end (libhv is
 *   -mgeneral-regs-only, so they can stay loaded across the run as the
 *   FXSAVE image does); a guest that never enables more than x87|SSE pays
 *   one test at each end.
 * - vcpu->xs_guest / xs_host: standard-format XSAVE areas (64-byte
 *   aligned) of HV_XS_AREA bytes at most, allocated with the vCPU when the
 *   host has components beyond x87/SSE: the guest's state while the host
 *   runs, the host's while the guest's is loaded.
 */
#ifndef HV_CORE_XSAVE_H
#define HV_CORE_XSAVE_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>
#include <hv/xsave.h>
#include "core/cpu.h"
#include "core/objects.h"

/* XCR0 bits: hv/xsave.h (SDM Vol. 1 13.1, 13.3). */
#define HV_XCR0_AVX512 (HV_XCR0_OPMASK | HV_XCR0_ZMM_HI256 | HV_XCR0_HI16_ZMM)
/* What a guest may ever enable: the host's supported bits among these.
   MPX, PT, PKRU, CET, AMX are never offered. */
#define HV_XCR0_MANAGED (HV_XCR0_X87 | HV_XCR0_SSE | HV_XCR0_AVX | HV_XCR0_AVX512)
#define HV_XCR0_LEGACY  (HV_XCR0_X87 | HV_XCR0_SSE)
#define HV_XCR0_EXT     (HV_XCR0_AVX | HV_XCR0_AVX512)

#define HV_CR4_OSXSAVE (1ull << 18)

/* The XSAVE header: XSTATE_BV at 512, XCOMP_BV at 520, 64 bytes (13.4.2). */
#define HV_XS_HDR        512
#define HV_XS_HDR_SIZE   64
#define HV_XS_LEGACY_END (HV_XS_HDR + HV_XS_HDR_SIZE) /* 576 */
/* The largest standard-format area for HV_XCR0_MANAGED: Hi16_ZMM ends at
   1664 + 1024 on every CPU that has it (CPUID 0DH.7). Larger host
   offsets are refused (hv_xs_host_layout). */
#define HV_XS_AREA HV_XSAVE_MAX_SIZE

/* The host CPU's standard-format layout of the managed components
   (CPUID 0DH.i EAX size, EBX offset, struct hv_xs_layout in objects.h),
   and what it supports of them. */
void hv_xs_host_layout(struct hv_xs_layout *l);

/* Bytes of a standard-format area holding the components of xcr0 (what
   CPUID 0DH.0 EBX reports for it): at least 576. */
uint32_t hv_xs_size(const struct hv_xs_layout *l, uint64_t xcr0);

/* The XCR0 values this vCPU may set, as its CPUID view says (overrides
   included): 0 without XSAVE there, else the managed host bits less AVX
   (and AVX-512) when leaf 1 lacks AVX, less AVX-512 when leaf 7 lacks
   AVX512F. */
uint64_t hv_xcr0_allowed(struct hv_vcpu *vcpu);

/* XSETBV's checks of the value (SDM Vol. 2B XSETBV): bit 0 set, nothing
   outside allowed, AVX needs SSE, the AVX-512 bits all or none and with
   AVX. */
bool hv_xcr0_valid(uint64_t xcr0, uint64_t allowed);

/*
 * The guest's XSETBV (exits on both backends). osxsave: the guest's
 * CR4.OSXSAVE; cpl: its CPL. Returns the vector to raise (6 #UD, 13 #GP),
 * or 0 when XCR0 took the value (RIP is the caller's to advance).
 */
int hv_xsetbv(struct hv_vcpu *vcpu, uint32_t ecx, uint64_t value, bool osxsave, unsigned cpl);

/* XCR0 the guest set with an XSETBV the CPU did not intercept (an
   emulator without the intercept, backends/svm/svm_xcr0.h), seen after
   the exit: adopted when valid as hv_xsetbv would have it (the components
   it adds are switched from now on), else logged and undone at the next
   entry. Interrupts may be off. */
void hv_xcr0_untrapped(struct hv_vcpu *vcpu, uint64_t value);

/* At the vCPU's creation, when the host has components beyond x87/SSE:
   its areas (zeroed), sized for all of them (at most 2 x HV_XS_AREA).
   Allocated then because obj_alloc is not for exit handling (hv/host.h),
   where the guest's XSETBV arrives. HV_OK or HV_ERR_NO_MEMORY. */
hv_status_t hv_xs_alloc(struct hv_vcpu *vcpu, const struct hv_xs_layout *l);
void hv_xs_free(struct hv_vcpu *vcpu);

/* vcpu->xcr0 = value, the backend told (hv_backend_ops::xcr0_changed). */
void hv_xcr0_store(struct hv_vcpu *vcpu, uint64_t value);

/* Components the runs switch from now on (xs_used, xs_on). */
static inline void hv_xs_note(struct hv_vcpu *vcpu, uint64_t add)
{
    vcpu->xs_used |= add;
    /* Not while hv_vcpu_load keeps the state loaded across runs. */
    vcpu->xs_on = vcpu->xs_used != 0 && !vcpu->fpu_kept;
}

/* Components newly enabled while the guest's state is loaded (inside
   hv_vcpu_run): the host's values saved, the guest's initialized. */
void hv_xs_grow(struct hv_vcpu *vcpu, uint64_t add);

/* hv_vcpu_run's start and end when xs_used is not 0 (after the FXSAVE
   switch into the guest, before the one out of it). */
void hv_xs_enter(struct hv_vcpu *vcpu);
void hv_xs_leave(struct hv_vcpu *vcpu);

/*
 * XCR0 around the world switch, with interrupts (SVM: GIF) off: the
 * guest's value in, the host's back. A host without CR4.OSXSAVE must run
 * with XCR0 = x87 (its RESET value; it cannot change XCR0 without the bit,
 * and must put it back before clearing it), so a guest whose XCR0 is x87
 * needs nothing there. Returns what hv_xcr0_leave needs: 0 when nothing
 * was changed, else the host's XCR0.
 */
static inline uint64_t hv_xcr0_enter(uint64_t host_cr4, uint64_t guest_xcr0)
{
    uint64_t h;
    if (!(host_cr4 & HV_CR4_OSXSAVE)) {
        if (guest_xcr0 == HV_XCR0_X87)
            return 0;
        hv_write_cr4(host_cr4 | HV_CR4_OSXSAVE);
        h = hv_xgetbv0();
        hv_xsetbv0(guest_xcr0);
        hv_write_cr4(host_cr4); /* XCR0 keeps the value (SDM Vol. 2B XSETBV) */
        return h;
    }
    h = hv_xgetbv0();
    if (h == guest_xcr0)
        return 0;
    hv_xsetbv0(guest_xcr0);
    return h;
}

static inline void hv_xcr0_leave(uint64_t host_cr4, uint64_t host_xcr0)
{
    if (!host_xcr0)
        return;
    if (!(host_cr4 & HV_CR4_OSXSAVE)) {
        hv_write_cr4(host_cr4 | HV_CR4_OSXSAVE);
        hv_xsetbv0(host_xcr0);
        hv_write_cr4(host_cr4);
        return;
    }
    hv_xsetbv0(host_xcr0);
}

#endif /* HV_CORE_XSAVE_H */
