/*
 * What the core calls of the local APIC (libhv/lapic/vcpu.c). Every hook
 * is called only when vcpu->lapic (or vm->lapic) is set: a VM without
 * hv_lapic_enable() pays one pointer test per entry.
 */
#ifndef HV_LAPIC_HOOKS_H
#define HV_LAPIC_HOOKS_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>

struct hv_vcpu;
struct hv_vm;
struct hv_exit;

/* Per-VM state: the embedder's configuration. */
struct hv_lapic_vm {
    uint32_t tsc_khz;
    uint32_t flags; /* HV_LAPIC_* */
    void (*wake)(void *opaque, struct hv_vcpu *vcpu);
    void *opaque;
};

/* hv_vcpu_create / hv_vcpu_destroy / hv_vm_destroy. */
hv_status_t hv_lapic_vcpu_init(struct hv_vcpu *vcpu);
void hv_lapic_vcpu_fini(struct hv_vcpu *vcpu);
void hv_lapic_vm_fini(struct hv_vm *vm);

/* CPUID leaf 1's APIC bit: the APIC is on (IA32_APIC_BASE.EN), or not
   set up yet (hv_vcpu_create reads the view before it exists). */
bool hv_lapic_hw_on(const struct hv_vcpu *vcpu);

/* Would a SIPI start the vCPU (an INIT is pending, or it waits for a
   SIPI since power-up or an INIT)? Read from another CPU while the vCPU
   does not run its gate (a Xen vCPU that is down). False without an APIC. */
bool hv_lapic_awaits_sipi(const struct hv_vcpu *vcpu);

/* On the vCPU's own thread (its hv_vcpu_run), before its gate: leave
   wait-for-SIPI and drop a pending INIT or SIPI, the vCPU's state as it
   is (a Xen vCPU that VCPUOP_up started from a context of its own). */
void hv_lapic_leave_sipi_wait(struct hv_vcpu *vcpu);

/* Is msr one of the APIC's (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC)? */
static inline bool hv_lapic_msr(uint32_t msr)
{
    return msr == 0x1bu || msr == 0x6e0u || (msr >= 0x800u && msr <= 0x8ffu);
}
/* HV_OK or HV_ERR_GUEST_FAULT (#GP). */
hv_status_t hv_lapic_msr_read(struct hv_vcpu *vcpu, uint32_t msr, uint64_t *value);
hv_status_t hv_lapic_msr_write(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value);

/* The MSR writes a guest makes on its interrupt and timer paths, for the
   exit fast paths: the x2APIC EOI and SELF IPI and IA32_TSC_DEADLINE,
   carried out as hv_lapic_msr_write() would. Needs neither the embedder
   nor another CPU. True: done; the caller runs the event delivery
   (core/fast.h hv_deliver_events) before the entry, since what is due
   has changed. False: nothing changed (another MSR, the xAPIC mode, or a
   write that raises #GP): the full path takes the write. */
bool hv_lapic_msr_write_fast(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value);

/* Before an entry (core/run.c deliver_events): the timer run, the highest
   deliverable interrupt accepted and queued when the guest can take it
   (else an interrupt window), a pending NMI queued. Returns whether the
   APIC is idle: nothing can fall due without an exit or a kick but its
   armed timer, once the interrupt it queued (if any) is injected. Sets
   vcpu->quiet_as: HV_QUIET_UNTIL with the timer armed, its expiry then in
   vcpu->quiet_until (the host's TSC), else HV_QUIET. */
bool hv_lapic_pre_entry(struct hv_vcpu *vcpu);

/* At the top of a pass of the run loop when HV_KICK_LAPIC was set (an
   INIT or SIPI arrived, or the vCPU waits for a SIPI): INIT / SIPI taken.
   Returns true when hv_vcpu_run() must return `exit` (filled). */
bool hv_lapic_gate(struct hv_vcpu *vcpu, struct hv_exit *exit);

/* The guest executed HLT (RIP already past it) with RFLAGS rflags: true
   to resume (an interrupt or NMI is due); else *deadline_ns is the host
   time of the APIC timer's expiry (0: none). */
bool hv_lapic_halt(struct hv_vcpu *vcpu, uint64_t rflags, uint64_t *deadline_ns);

#endif /* HV_LAPIC_HOOKS_H */
