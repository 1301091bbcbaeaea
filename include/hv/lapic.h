/**
 * @file lapic.h
 * @brief An in-library local APIC for each vCPU (xAPIC and x2APIC).
 *
 * Opt-in per VM with hv_lapic_enable() before its first vCPU is created.
 * Each vCPU then has a local APIC as the Intel SDM Vol. 3A ch. 11
 * describes it: IA32_APIC_BASE (enable, BSP, xAPIC and x2APIC modes; the
 * base stays at 0xfee00000: a write that moves it raises \#GP), the
 * registers in the xAPIC page at 0xfee00000 (through the library's MMIO
 * assist: the embedder must not map RAM there nor register a region over
 * it; it does not count against ::HV_MMIO_REGIONS_MAX) and as x2APIC MSRs 0x800-0x8ff,
 * IA32_TSC_DEADLINE; IRR/ISR with priority classes, TPR (shared with CR8),
 * PPR, EOI, ESR, the LVT and the timer (one-shot, periodic, TSC-deadline).
 * CPUID leaf 1 then reports x2APIC and the TSC-deadline mode.
 *
 * The timer counts at the guest's TSC rate divided by the divide
 * configuration register: a guest calibrates it against the TSC or another
 * clock as it would on hardware. Timers are checked at every exit, so an
 * expiry is noticed at the next host interrupt at the latest; an expired
 * timer wakes a HLT inside hv_vcpu_run(). A HLT with nothing to deliver
 * returns ::HV_EXIT_HLT whose hlt.deadline_ns is the host time
 * (hv_host_ops::time_ns) of the timer's expiry (0: no timer armed): the
 * embedder runs the vCPU again then, or earlier when
 * hv_lapic_config::wake is called for it.
 *
 * Inter-processor interrupts of the guest (ICR, x2APIC SELF IPI) are
 * delivered inside the library: fixed, lowest priority (to the first
 * vCPU that matches), NMI, INIT and SIPI; physical and logical (flat,
 * cluster, x2APIC cluster) destinations and the shorthands. INIT puts a
 * vCPU in wait-for-SIPI: hv_vcpu_run() then returns ::HV_EXIT_HLT with
 * hlt.source ::HV_HLT_WAIT_SIPI without running guest code, until a SIPI
 * (which calls hv_lapic_config::wake) starts it in real mode at
 * CS:IP = vector << 8 : 0. In a VM with Xen enabled (hv/xen.h) INIT and
 * SIPI also take a vCPU down and up at Xen's level: a vCPU that is down
 * returns ::HV_HLT_DOWN until a SIPI brings it up, and
 * hv_xen_config::wake is called for that SIPI.
 *
 * Interrupts and IPIs reach other vCPUs through the VM's vCPU table: destroy
 * a vCPU only while no other vCPU of the VM runs and no hv_lapic_raise()
 * or hv_lapic_send() is in progress.
 *
 * Not modelled: level-triggered interrupts (TMR stays 0; no EOI broadcast
 * to an I/O APIC), SMI and ExtINT delivery, LINT0/LINT1 as inputs, CMCI,
 * thermal and performance-counter interrupts (their LVT entries are
 * storage), APIC base relocation.
 */
#ifndef HV_LAPIC_H
#define HV_LAPIC_H

#include <stdint.h>
#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hv_vm;
struct hv_vcpu;

/** Options of hv_lapic_enable(). */
struct hv_lapic_config {
    /** sizeof(struct hv_lapic_config); 0 is accepted as "current size". */
    uint32_t size;
    /**
     * The TSC frequency in kHz (non-zero): converts the APIC timer's
     * expiry, counted in TSC ticks, into hlt.deadline_ns.
     */
    uint32_t tsc_khz;
    /** HV_LAPIC_* options (0: none; unknown bits are rejected). */
    uint32_t flags;
    /**
     * Called when an interrupt, NMI or SIPI arrives for a vCPU that
     * hv_vcpu_run() left in ::HV_EXIT_HLT (or wait-for-SIPI): run it
     * again. Called from whatever raised it (another vCPU's run, with
     * interrupts possibly disabled, or hv_lapic_raise()): it must not
     * sleep or wait for another CPU. NULL: the embedder polls.
     */
    void (*wake)(void *opaque, struct hv_vcpu *vcpu);
    /** Passed to @c wake. */
    void *opaque;
};

/**
 * hv_lapic_config::flags: every vCPU but vCPU 0 starts in wait-for-SIPI, as
 * the application processors of a multiprocessor do after power-up (SDM
 * Vol. 3A 9.4): hv_vcpu_run() returns ::HV_HLT_WAIT_SIPI until the guest's
 * INIT-SIPI-SIPI sequence (or a SIPI alone) starts it.
 */
#define HV_LAPIC_APS_WAIT_SIPI 0x1u

/** @name Delivery modes of hv_lapic_raise() and hv_lapic_send()
 * @{ */
#define HV_LAPIC_FIXED 0u /**< Fixed: @p vector (16-255) into IRR. */
#define HV_LAPIC_NMI   4u /**< NMI (@p vector ignored). */
/** @} */

/** hv_lapic_send() @p flags: @p dest is a logical destination. */
#define HV_LAPIC_DEST_LOGICAL 0x1u

/**
 * @brief Give every vCPU of @p vm a local APIC.
 * @param vm The VM, with no vCPU yet.
 * @param config Options (tsc_khz required).
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL, tsc_khz 0, unknown flags); ::HV_ERR_EXISTS
 *         (already enabled); ::HV_ERR_STATE (vCPUs exist);
 *         ::HV_ERR_UNSUPPORTED (the host has no time_ns); the statuses of
 *         hv_vm_mmio_register() for the xAPIC page (::HV_ERR_EXISTS when a
 *         region covers it, ::HV_ERR_LIMIT, ::HV_ERR_NO_MEMORY).
 */
hv_status_t hv_lapic_enable(struct hv_vm *vm, const struct hv_lapic_config *config);

/**
 * @brief Raise an interrupt at one vCPU's local APIC, as a device would.
 *
 * Safe from any context and any host CPU, concurrently with hv_vcpu_run()
 * of that vCPU: the IRR bit is set atomically, then a vCPU running on
 * another CPU is interrupted (hv_host_ops::kick_cpu) and a halted one woken
 * (hv_lapic_config::wake). An APIC that is disabled drops a fixed
 * interrupt (as hardware does); a vector below 16 is refused by the APIC
 * (ESR "receive illegal vector").
 * @param vcpu The target vCPU.
 * @param mode ::HV_LAPIC_FIXED or ::HV_LAPIC_NMI.
 * @param vector The vector for ::HV_LAPIC_FIXED.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG (NULL, unknown mode);
 *         ::HV_ERR_STATE (the VM has no local APIC).
 */
hv_status_t hv_lapic_raise(struct hv_vcpu *vcpu, uint32_t mode, uint8_t vector);

/**
 * @brief Raise an interrupt at the vCPUs a destination names (an I/O APIC
 *        redirection entry or an MSI address of the embedder's).
 *
 * Matched against each APIC in its current mode (SDM Vol. 3A 11.6.2):
 * physical (xAPIC: 8-bit ID, 0xff broadcast; x2APIC: 32-bit ID,
 * 0xffffffff broadcast) or logical (flat or cluster per DFR; x2APIC
 * cluster). Same context rules as hv_lapic_raise().
 * @param vm The VM.
 * @param dest The destination field.
 * @param flags 0 or ::HV_LAPIC_DEST_LOGICAL.
 * @param mode ::HV_LAPIC_FIXED or ::HV_LAPIC_NMI.
 * @param vector The vector for ::HV_LAPIC_FIXED.
 * @return ::HV_OK (also when nothing matched); ::HV_ERR_INVALID_ARG;
 *         ::HV_ERR_STATE (no local APIC).
 */
hv_status_t hv_lapic_send(struct hv_vm *vm, uint32_t dest, uint32_t flags, uint32_t mode,
                          uint8_t vector);

#ifdef __cplusplus
}
#endif

#endif /* HV_LAPIC_H */
