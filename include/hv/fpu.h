/**
 * @file fpu.h
 * @brief A vCPU's x87/SSE state: read and write it in the FXSAVE layout.
 *
 * Neither the VMCS nor the VMCB holds the x87 and SSE registers; the
 * library keeps each vCPU's in a 512-byte FXSAVE image that hv_vcpu_run()
 * loads at its start and saves at its end. hv_vcpu_get_fpu() and
 * hv_vcpu_set_fpu() read and write that image between runs: for
 * snapshots and migration, a debugger reading XMM registers, or a vCPU's
 * initial state. They are separate from hv_vcpu_get_state() so that the
 * register groups most run loops copy stay small. The AVX and AVX-512
 * registers and XCR0 are hv/xsave.h's, whose image starts with these 512
 * bytes.
 *
 * A new vCPU holds the INIT state (SDM Vol. 3A 9.1.1, table 9-1): FCW
 * ::HV_FPU_FCW_INIT, MXCSR ::HV_FPU_MXCSR_INIT, every other field 0.
 * hv_vcpu_set_state() never changes it.
 *
 * Like hv_vcpu_run(), both calls execute FXSAVE on the calling CPU the
 * first time a context needs the host's MXCSR mask, so they need what the
 * run does: CR0.EM and CR0.TS clear.
 */
#ifndef HV_FPU_H
#define HV_FPU_H

#include <stdint.h>
#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hv_vcpu;

/** @name x87/SSE constants
 * @{ */
#define HV_FPU_FCW_INIT   0x037fu /**< FCW after INIT/FNINIT: every x87 exception masked. */
#define HV_FPU_MXCSR_INIT 0x1f80u /**< MXCSR after INIT: every SSE exception masked. */
#define HV_FPU_MXCSR_MASK_DEFAULT                                                                  \
    0xffbfu /**< The mask a CPU means when its FXSAVE stores 0 (SDM Vol. 1 11.6.6). */
/** @} */

/**
 * The x87/SSE state in the 64-bit FXSAVE layout (FXSAVE64, SDM Vol. 1
 * 10.5.1 table 10-2 and Vol. 2A FXSAVE): 512 bytes, every field at its
 * FXSAVE offset, so an image from FXSAVE64 can be copied in whole.
 */
struct hv_fpu_state {
    uint16_t fcw; /**< Bytes 0-1: x87 control word. */
    uint16_t fsw; /**< Bytes 2-3: x87 status word (TOP in bits 13:11). */
    /** Byte 4: abridged tag word, one bit per physical register R0-R7
        (not per stack slot): 1 valid, 0 empty. */
    uint8_t ftw;
    uint8_t reserved0; /**< Byte 5: reserved; stored as given. */
    uint16_t fop;      /**< Bytes 6-7: last x87 opcode (bits 10:0). */
    uint64_t fip;      /**< Bytes 8-15: last x87 instruction pointer. */
    uint64_t fdp;      /**< Bytes 16-23: last x87 data pointer. */
    /** Bytes 24-27: SSE control and status. hv_vcpu_set_fpu() refuses a
        value with a bit outside the host CPU's mask (@c mxcsr_mask as
        hv_vcpu_get_fpu() reports it): FXRSTOR would raise \#GP in the host. */
    uint32_t mxcsr;
    /** Bytes 28-31: the MXCSR bits the host CPU supports. hv_vcpu_get_fpu()
        reports the host's mask (never 0: ::HV_FPU_MXCSR_MASK_DEFAULT for a
        CPU that stores 0); hv_vcpu_set_fpu() ignores the field, as FXRSTOR
        does, so an image saved on another CPU loads where its MXCSR fits. */
    uint32_t mxcsr_mask;
    /** Bytes 32-159: ST0-ST7 (MM0-MM7) in stack order, ST0 first: bytes
        0-9 of each hold the 80-bit register, bytes 10-15 are reserved
        (stored as given). */
    uint8_t st[8][16];
    uint8_t xmm[16][16]; /**< Bytes 160-415: XMM0-XMM15, each little-endian. */
    /** Bytes 416-511: reserved (416-463) and available to software
        (464-511, which FXSAVE never writes):
        hv_vcpu_set_fpu() ignores them, hv_vcpu_get_fpu() returns zeros. */
    uint8_t reserved[96];
};

/**
 * @brief Read the vCPU's x87/SSE state.
 *
 * Between runs the vCPU's image is the guest's state as its last run
 * left it (or as hv_vcpu_set_fpu() wrote it).
 * @param vcpu The vCPU.
 * @param[out] fpu Receives all 512 bytes.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL); ::HV_ERR_BUSY while the
 *         vCPU runs (its state is in the CPU then, e.g. inside an MMIO
 *         handler that hv_vcpu_run() calls) or is loaded with
 *         ::HV_LOAD_GUEST_FPU (hv_vcpu_load()).
 */
hv_status_t hv_vcpu_get_fpu(struct hv_vcpu *vcpu, struct hv_fpu_state *fpu);

/**
 * @brief Write the vCPU's x87/SSE state, loaded at its next hv_vcpu_run().
 *
 * Every field through XMM15 is stored as given except @c mxcsr_mask
 * (ignored); bytes 416-511 are ignored. The x87 fields take any value,
 * as FXRSTOR does: an unmasked exception they leave pending (FSW.ES)
 * is the guest's, raised at its next waiting x87 instruction.
 * @param vcpu The vCPU.
 * @param fpu The new state.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL, or @c mxcsr with a bit the
 *         host's mask lacks: nothing is written); ::HV_ERR_BUSY while the
 *         vCPU runs or is loaded with ::HV_LOAD_GUEST_FPU.
 */
hv_status_t hv_vcpu_set_fpu(struct hv_vcpu *vcpu, const struct hv_fpu_state *fpu);

#ifdef __cplusplus
}
#endif

#endif /* HV_FPU_H */
