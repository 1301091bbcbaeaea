/*
 * Hooks through which a paravirtual interface (the Xen layer in libhv/xen)
 * extends the generic exit dispatcher without the core depending on it.
 * A VM with PV enabled has vm->pv set; every hook is optional.
 */
#ifndef HV_CORE_PV_H
#define HV_CORE_PV_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>
#include <hv/vcpu.h>

struct hv_fetch_regs;
struct hv_vcpu;
struct hv_vm;

/* What a hypercall hook did. */
enum hv_pv_result {
    HV_PV_DONE,      /* handled: registers updated; the core advances RIP and resumes */
    HV_PV_EXIT,      /* handled, but the embedder must see `exit` (filled by the hook);
                        RIP is advanced first */
    HV_PV_UNHANDLED, /* not a call of this interface: reported as HV_EXIT_HYPERCALL */
    HV_PV_FAULT,     /* inject the exception the hook queued; RIP not advanced */
};

struct hv_pv_ops {
    /* CPUID leaves 0x40000000..0x4fffffff. Return true if the leaf is the
       interface's (out filled). */
    bool (*cpuid)(struct hv_vcpu *vcpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
    /* MSRs: HV_OK if handled, HV_ERR_NOT_FOUND if not the interface's,
       HV_ERR_GUEST_FAULT to give the guest #GP(0). */
    hv_status_t (*msr_read)(struct hv_vcpu *vcpu, uint32_t msr, uint64_t *value);
    hv_status_t (*msr_write)(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value);
    /* VMCALL / VMMCALL. Registers are in vcpu->gpr. */
    enum hv_pv_result (*hypercall)(struct hv_vcpu *vcpu, struct hv_exit *exit);
    /* At the start of hv_vcpu_run, before anything else: return true (and
       fill `exit`) if the vCPU must not run now (a Xen vCPU that is down). */
    bool (*run_gate)(struct hv_vcpu *vcpu, struct hv_exit *exit);
    /* True when pre_entry has nothing to do and nothing of the interface
       can fall due without an exit or a kick (no timer armed, no upcall
       asserted or waiting): judged without a lock, cheaply, before every
       entry. The core then skips pre_entry, and the backend may re-enter
       after an exit it finishes itself (vcpu->quiet). */
    bool (*idle)(struct hv_vcpu *vcpu);
    /* Before an entry the interface is not idle: raise pending upcalls
       (hv_vcpu_inject-style). */
    void (*pre_entry)(struct hv_vcpu *vcpu);
    /* VMCALL / VMMCALL from the backend's exit fast path, with interrupts
       off (GIF=0 on SVM, RFLAGS.IF=0 after the VM exit on VMX), as inside
       the library's own locks: nothing that waits for another CPU or
       returns to the embedder; a lock may be taken without irq_save.
       HV_PV_UNHANDLED: not such a call, nothing done, the full path
       (hypercall) runs it. HV_PV_DONE (RIP to be advanced) or
       HV_PV_FAULT (an exception queued): done; *events set when an event
       may be due before the next entry. @p fr: the caller's registers as
       backend.h get_fetch_regs reads them, read by the fast path. */
    enum hv_pv_result (*hypercall_fast)(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr,
                                        bool *events);
    /* The guest executed HLT: return true if an event is already pending
       (the vCPU resumes instead of returning HV_EXIT_HLT). */
    bool (*halt_wakeup)(struct hv_vcpu *vcpu);
    /* The VM's local APIC (hv/lapic.h) recorded a SIPI for `vcpu`, in the
       sender's hv_vcpu_run (an ICR write), after setting it and before
       waking the target: an interface that keeps the vCPU from running
       (Xen's down) lets it reach the APIC's wait-for-SIPI gate. */
    void (*apic_sipi)(struct hv_vcpu *vcpu);
    /* Likewise for an INIT (level assert): the interface may stop the
       vCPU (Xen resets it to down); the APIC takes the INIT when the vCPU
       next reaches its gate. */
    void (*apic_init)(struct hv_vcpu *vcpu);
    /* hv_vm_destroy: free the interface's state of a VM with no vCPU left. */
    void (*vm_destroy)(struct hv_vm *vm);
    /* hv_vcpu_destroy, after the vCPU left vm->vcpus[] and before its
       free: return once no path of the interface that found it there
       before can still be using it. */
    void (*vcpu_gone)(struct hv_vcpu *vcpu);
};

#endif /* HV_CORE_PV_H */
