/**
 * @file assist.h
 * @brief Emulated MMIO regions: the instruction assist.
 *
 * A guest access to guest-physical memory that is not RAM exits to the
 * hypervisor with no data. For ranges registered here libhv fetches and
 * decodes the faulting instruction through the guest's page tables, carries
 * it out against a handler (or against the embedder through
 * ::HV_EXIT_MMIO), writes back registers and flags, advances RIP and
 * resumes the guest. An access to unmapped memory outside every region
 * stays an ::HV_EXIT_SLAT_FAULT, so the embedder can map memory on demand.
 *
 * Decoded: MOV in all its forms, MOVZX/MOVSX/MOVSXD, the ALU group and
 * TEST, XCHG, the BT family, STOS/MOVS/LODS with REP, in 16-, 32- and 64-bit
 * code. Anything else is reported as ::HV_EXIT_SLAT_FAULT with the raw
 * exit information. A fault while translating an operand is injected into
 * the guest exactly as the CPU would raise it.
 */
#ifndef HV_ASSIST_H
#define HV_ASSIST_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hv_vm;

/**
 * @brief An MMIO handler, called from inside hv_vcpu_run().
 *
 * Runs on the exit path of the vCPU's host CPU with interrupts possibly
 * disabled (the backends' exit fast paths call it with host interrupts
 * held: GIF=0 on SVM, which also holds NMIs, RFLAGS.IF=0 on VMX before the
 * host's descriptor-table limits are restored): it must not sleep, wait
 * for another CPU or fault. The guest's x87/SSE registers are loaded
 * while it runs (and on SVM an XCR0 narrowed to x87/SSE): it must not use
 * x87, SSE or AVX registers (build it as the library is built,
 * `-mgeneral-regs-only`).
 * @param opaque The pointer given at registration.
 * @param gpa Guest-physical address of the access (inside the region).
 * @param size 1, 2, 4 or 8 bytes.
 * @param write true for a store.
 * @param[in,out] value Store: the value written. Load: set the value read.
 * @return ::HV_OK; any other status stops the vCPU: hv_vcpu_run() returns
 *         ::HV_EXIT_UNHANDLED with the access in the raw fields.
 */
typedef hv_status_t (*hv_mmio_handler)(void *opaque, uint64_t gpa, unsigned size, bool write,
                                       uint64_t *value);

/** Most regions a VM can hold. */
#define HV_MMIO_REGIONS_MAX 16

/**
 * @brief Register [gpa, gpa+len) as emulated MMIO.
 *
 * The range must not be mapped as RAM (accesses to mapped pages never
 * exit) and must not overlap another region.
 * @param vm The VM.
 * @param gpa Start of the region.
 * @param len Length in bytes (non-zero).
 * @param handler Called for every access, or NULL to report each access
 *        to the embedder as ::HV_EXIT_MMIO.
 * @param opaque Passed to @p handler.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_RANGE (zero or
 *         overflowing length); ::HV_ERR_EXISTS (overlap);
 *         ::HV_ERR_LIMIT (::HV_MMIO_REGIONS_MAX reached);
 *         ::HV_ERR_NO_MEMORY.
 */
hv_status_t hv_vm_mmio_register(struct hv_vm *vm, uint64_t gpa, uint64_t len,
                                hv_mmio_handler handler, void *opaque);

/**
 * @brief Remove the region that starts at @p gpa.
 * @param vm The VM.
 * @param gpa Start of a registered region.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_NOT_FOUND.
 */
hv_status_t hv_vm_mmio_unregister(struct hv_vm *vm, uint64_t gpa);

#ifdef __cplusplus
}
#endif

#endif /* HV_ASSIST_H */
