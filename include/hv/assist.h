/**
 * @file assist.h
 * @brief Emulated MMIO regions and I/O ports: the instruction assist.
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
 *
 * Port I/O is the same for ranges of ports registered with a handler
 * (hv_vm_pio_register()): IN, OUT, and INS/OUTS with REP complete inside
 * hv_vcpu_run() without an ::HV_EXIT_IO, which stays the exit of every
 * other port.
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
 * `-mgeneral-regs-only`). Calls for different vCPUs of the VM may run at
 * the same time on their CPUs.
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
 * exit) and must not overlap another region. Running vCPUs read the
 * regions without a lock, so they change only while none of the VM's
 * vCPUs is inside hv_vcpu_run().
 * @param vm The VM.
 * @param gpa Start of the region.
 * @param len Length in bytes (non-zero).
 * @param handler Called for every access, or NULL to report each access
 *        to the embedder as ::HV_EXIT_MMIO.
 * @param opaque Passed to @p handler.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_RANGE (zero or
 *         overflowing length); ::HV_ERR_EXISTS (overlap);
 *         ::HV_ERR_LIMIT (::HV_MMIO_REGIONS_MAX reached); ::HV_ERR_BUSY (a
 *         vCPU of the VM is running); ::HV_ERR_NO_MEMORY.
 */
hv_status_t hv_vm_mmio_register(struct hv_vm *vm, uint64_t gpa, uint64_t len,
                                hv_mmio_handler handler, void *opaque);

/**
 * @brief Remove the region that starts at @p gpa.
 * @param vm The VM.
 * @param gpa Start of a registered region.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_NOT_FOUND;
 *         ::HV_ERR_BUSY (a vCPU of the VM is running).
 */
hv_status_t hv_vm_mmio_unregister(struct hv_vm *vm, uint64_t gpa);

/**
 * @brief A port I/O handler, called from inside hv_vcpu_run().
 *
 * Runs where an MMIO handler runs, under the same rules (see
 * ::hv_mmio_handler): with host interrupts possibly held, it must not
 * sleep, wait for another CPU, fault, or use x87/SSE/AVX registers. One
 * call per access: an IN or OUT, or one element of INS/OUTS. Calls for
 * different vCPUs of the VM may run at the same time on their CPUs: a
 * device shared by several vCPUs takes its own lock.
 * @param opaque The pointer given at registration.
 * @param port The port accessed; [port, port + size) lies inside the range.
 * @param size 1, 2 or 4 bytes.
 * @param write true for OUT/OUTS.
 * @param[in,out] value OUT: the value written (masked to @p size). IN:
 *        set the value read; bits beyond @p size are ignored (an 8- or
 *        16-bit IN replaces AL or AX only, a 32-bit one zero-extends into
 *        RAX, as the CPU does).
 * @return ::HV_OK; any other status stops the vCPU: hv_vcpu_run() returns
 *         ::HV_EXIT_UNHANDLED with @c raw_info1 the status and
 *         @c raw_info2 the port, RIP still at the instruction.
 */
typedef hv_status_t (*hv_pio_handler)(void *opaque, uint16_t port, unsigned size, bool write,
                                      uint32_t *value);

/** Most port ranges a VM can hold. */
#define HV_PIO_RANGES_MAX 16

/**
 * @brief Handle ports [port, port+count) in the library, with @p handler.
 *
 * An access is the handler's when all its bytes lie inside one range; one
 * that only overlaps a range (a 16-bit IN at its last port) remains an
 * ::HV_EXIT_IO. The exit fast paths finish a handled IN or OUT without
 * leaving the world switch; INS/OUTS go through the instruction assist.
 * The ranges are read without a lock by running vCPUs, so they change
 * only while none of the VM's vCPUs is inside hv_vcpu_run().
 * @param vm The VM.
 * @param port First port.
 * @param count Number of ports, 1 to 65536 - @p port.
 * @param handler Called for every access (not NULL).
 * @param opaque Passed to @p handler.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL @p vm or @p handler);
 *         ::HV_ERR_RANGE (zero @p count or one past port 0xffff);
 *         ::HV_ERR_EXISTS (overlap with a range); ::HV_ERR_LIMIT
 *         (::HV_PIO_RANGES_MAX reached); ::HV_ERR_BUSY (a vCPU of the VM
 *         is running); ::HV_ERR_NO_MEMORY.
 */
hv_status_t hv_vm_pio_register(struct hv_vm *vm, uint16_t port, uint32_t count,
                               hv_pio_handler handler, void *opaque);

/**
 * @brief Remove the port range that starts at @p port: its ports exit to
 *        the embedder again.
 * @param vm The VM.
 * @param port First port of a registered range.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_NOT_FOUND;
 *         ::HV_ERR_BUSY (a vCPU of the VM is running).
 */
hv_status_t hv_vm_pio_unregister(struct hv_vm *vm, uint16_t port);

#ifdef __cplusplus
}
#endif

#endif /* HV_ASSIST_H */
