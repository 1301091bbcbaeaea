/**
 * @file xsave.h
 * @brief A vCPU's XCR0 and its XSAVE-managed state (x87, SSE, AVX,
 *        AVX-512) in the standard XSAVE format.
 *
 * Where the host CPU has them, a guest sees XSAVE, AVX (and F16C, FMA,
 * AVX2) and the AVX-512 family in its CPUID, sets CR4.OSXSAVE and XCR0
 * with XSETBV (checked by the library as the CPU would, SDM Vol. 2B
 * XSETBV), and its registers are switched by hv_vcpu_run() like the
 * x87/SSE ones (hv/fpu.h). These calls read and write that state between
 * runs, for snapshots and migration: an image in the standard
 * (non-compacted) XSAVE format (SDM Vol. 1 13.4), as XSAVE stores it with
 * the vCPU's XCR0. Its first 512 bytes are the FXSAVE image of
 * hv_vcpu_get_fpu() and hv_vcpu_set_fpu(): both pairs work on the same
 * state.
 *
 * Components offered: the host's among x87, SSE, AVX and the AVX-512
 * trio (opmask, ZMM_Hi256, Hi16_ZMM), less what the guest's CPUID view
 * (hv_vm_set_cpuid() overrides included) hides. MPX, PT, PKRU, CET, AMX,
 * XSAVEC/XSAVES and IA32_XSS are not offered.
 */
#ifndef HV_XSAVE_H
#define HV_XSAVE_H

#include <stddef.h>
#include <stdint.h>
#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hv_vcpu;

/** @name XCR0 bits (SDM Vol. 1 13.1, 13.3)
 * @{ */
#define HV_XCR0_X87       0x01ull /**< x87 state: always set. */
#define HV_XCR0_SSE       0x02ull /**< SSE state (XMM registers, MXCSR). */
#define HV_XCR0_AVX       0x04ull /**< AVX state (upper halves of YMM0-15); needs SSE. */
#define HV_XCR0_OPMASK    0x20ull /**< AVX-512 opmask registers k0-k7. */
#define HV_XCR0_ZMM_HI256 0x40ull /**< AVX-512 upper halves of ZMM0-15. */
#define HV_XCR0_HI16_ZMM  0x80ull /**< AVX-512 ZMM16-31. */
/** @} */

/** Bytes of the largest image the library reads or writes (all components
    above, at the offsets every CPU with them uses): a buffer this large
    always suffices for hv_vcpu_get_xsave(). */
#define HV_XSAVE_MAX_SIZE 2688u

/** Offset of the XSAVE header (XSTATE_BV at +0, XCOMP_BV at +8). */
#define HV_XSAVE_HEADER 512u

/**
 * @brief The XCR0 values a vCPU may take, and the image size for them.
 *
 * @param vcpu The vCPU.
 * @param[out] allowed Receives the components its XSETBV may enable (0
 *        when its CPUID has no XSAVE, which then makes XSETBV \#UD). May
 *        be NULL.
 * @param[out] size Receives the bytes of an image holding all of them
 *        (CPUID 0DH.0 ECX as the guest sees it; 576 without XSAVE). May be
 *        NULL.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL vCPU).
 */
hv_status_t hv_vcpu_xsave_info(struct hv_vcpu *vcpu, uint64_t *allowed, size_t *size);

/**
 * @brief Read the vCPU's XCR0 and its XSAVE-managed state.
 *
 * Writes the standard-format image XSAVE would store with the vCPU's
 * XCR0: the legacy region (what hv_vcpu_get_fpu() returns), the header
 * (XSTATE_BV: x87, SSE, and each other component of XCR0 not in its
 * initial state; every other header byte 0) and each component of XCR0
 * beyond SSE at its CPUID 0DH offset (zeros for one in its initial
 * state). Bytes between components are 0. XSTATE_BV has x87 and SSE
 * whatever XCR0 says: the legacy region is always complete, since a
 * guest uses its XMM registers and MXCSR without XCR0.SSE (XCR0 governs
 * only XSAVE's management of them and AVX, SDM Vol. 1 13.3), so an
 * image of a vCPU that never set XCR0 (1) keeps them through
 * hv_vcpu_set_xsave().
 * @param vcpu The vCPU.
 * @param[out] xcr0 Receives the guest's XCR0 (1 after creation).
 * @param[out] image Receives the image.
 * @param size Bytes at @p image.
 * @param[out] used Receives the bytes the image takes (CPUID 0DH.0 EBX
 *        for that XCR0: 576 for x87|SSE); may be NULL.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL @p vcpu, @p xcr0 or
 *         @p image); ::HV_ERR_RANGE (@p size below the bytes needed:
 *         nothing is written but @p used); ::HV_ERR_BUSY while the vCPU
 *         runs or is loaded with ::HV_LOAD_GUEST_FPU.
 */
hv_status_t hv_vcpu_get_xsave(struct hv_vcpu *vcpu, uint64_t *xcr0, void *image, size_t size,
                              size_t *used);

/**
 * @brief Write the vCPU's XCR0 and its XSAVE-managed state, loaded at
 *        its next hv_vcpu_run().
 *
 * Takes the image as XRSTOR would with RFBM = @p xcr0: a component whose
 * XSTATE_BV bit is clear gets its initial state (x87: FCW 037FH and
 * zeros; SSE: XMM registers 0; MXCSR is always taken from the image); a
 * set one its bytes. The legacy region is taken as hv_vcpu_set_fpu()
 * takes it. Components the new XCR0 lacks are reset to their initial
 * state. The guest's CR4 is not touched (hv_vcpu_set_state()).
 * @param vcpu The vCPU.
 * @param xcr0 The new XCR0: as the guest's XSETBV would have to be valid
 *        (bit 0 set, within hv_vcpu_xsave_info()'s allowed set, AVX with
 *        SSE, the AVX-512 bits all or none and with AVX).
 * @param image The image (standard format).
 * @param size Bytes at @p image: at least the size for @p xcr0 (CPUID
 *        0DH.0 EBX for it).
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL; an invalid @p xcr0;
 *         XSTATE_BV with a bit outside @p xcr0 other than x87 and SSE,
 *         which the legacy region always has; XCOMP_BV or any reserved
 *         header byte (8-63) not 0; MXCSR with a bit the host's mask
 *         lacks: XRSTOR would raise \#GP in the host, SDM Vol. 1 13.8) and
 *         nothing is written; ::HV_ERR_RANGE (@p size too small);
 *         ::HV_ERR_BUSY while the vCPU runs or is loaded with
 *         ::HV_LOAD_GUEST_FPU.
 */
hv_status_t hv_vcpu_set_xsave(struct hv_vcpu *vcpu, uint64_t xcr0, const void *image, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* HV_XSAVE_H */
