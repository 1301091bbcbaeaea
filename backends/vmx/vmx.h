/*
 * Private data of the VMX backend, hung off the core objects' `arch`
 * pointers, and the functions its files share.
 *
 * VMCS discipline (SDM Vol. 3C 24.1, 24.11.3): a VMCS is "current" on at
 * most one CPU. Each vCPU records the CPU its VMCS is active on; before it
 * runs elsewhere, the old CPU executes VMCLEAR (through run_on_each_cpu),
 * which also resets the launch state, so the next entry uses VMLAUNCH.
 * VPIDs are per vCPU (see vmx_cpu.c), so TLB entries of one vCPU never
 * serve another.
 */
#ifndef HV_VMX_VMX_H
#define HV_VMX_VMX_H

#include "backend.h"
#include "core/host.h"
#include "core/objects.h"
#include "slat/slat.h"
#include "vmx/vmx_arch.h"
#include "vmx/vmx_controls.h"
#include "vmx/vmx_insn.h"

#define VMX_NO_CPU UINT32_MAX
/* VPIDs handed out: 1 .. VMX_VPID_COUNT (VPID 0 is the host's). */
#define VMX_VPID_COUNT 1023u

/* Per host CPU (index = hv_host_ops::cpu_current). */
struct vmx_cpu {
    void *vmxon; /* VMXON region */
    uint64_t vmxon_hpa;
    bool on;                 /* in VMX root operation */
    bool set_vmxe;           /* we set CR4.VMXE (clear it on disable) */
    uint64_t saved_cr0;      /* CR0 before VMXON, restored after VMXOFF */
    hv_status_t status;      /* result of the enable on this CPU */
    struct hv_vcpu *current; /* vCPU whose VMCS is current here */
};

struct vmx_ctx {
    struct vmx_config cfg;
    struct hv_slat_format ept; /* the EPT format for this CPU */
    uint32_t ncpus;
    struct vmx_cpu *cpus;
    struct hv_lock vpid_lock;
    uint64_t vpid_map[(VMX_VPID_COUNT + 1 + 63) / 64];
};

struct vmx_vm {
    uint64_t eptp;
    /* The MSR bitmap (SDM Vol. 3C 24.6.9): the same for every vCPU (no
       per-vCPU pass-through), so one page per VM. */
    void *msr_bitmap;
    uint64_t msr_bitmap_hpa;
    /* Bumped by slat_flush; a vCPU whose ept_gen differs invalidates the
       EPT-derived translations on its CPU before the next entry. */
    volatile uint64_t ept_gen;
};

/* One entry of a VM-entry/VM-exit MSR list (SDM 24.7.2, 24.8.2). */
struct vmx_msr_entry {
    uint32_t index;
    uint32_t reserved;
    uint64_t value;
};

/* MSRs VM entry/exit do not switch but that a guest may use (SDM 27.5.1
   lists what VM exit restores): switched through the MSR lists. */
enum {
    VMX_SW_KERNEL_GS_BASE,
    VMX_SW_STAR,
    VMX_SW_LSTAR,
    VMX_SW_CSTAR,
    VMX_SW_SFMASK,
    VMX_SW_COUNT
};

/* A pending event (injection or re-injection) in VMCS encoding. */
struct vmx_event {
    uint32_t info;  /* VM-entry interruption information; 0 = none */
    uint32_t error; /* error code */
    uint32_t len;   /* instruction length for software events */
    uint64_t cr2;   /* #PF: CR2 to load */
    bool set_cr2;
};

/* The host values behind the VMCS host-state fields (SDM Vol. 3C 24.5)
   as last written (vmx_host.h); selectors as read, before RPL/TI are
   cleared for the VMCS. HOST_RSP/RIP are not here: vmx_entry.S and
   vmx_vmcs_setup write them. */
struct vmx_host_fields {
    uint64_t cr0, cr3, cr4;
    uint64_t gdtr_base, idtr_base;
    /* TR base: the base bits of the TSS descriptor (vmx_host_tss). */
    uint64_t tss_desc_lo;
    uint32_t tss_desc_hi;
    /* MSRs as RDMSR returns them: EAX, EDX. */
    uint32_t fs_base[2], gs_base[2];
    uint32_t sysenter_cs[2], sysenter_esp[2], sysenter_eip[2], efer[2], pat[2];
    uint16_t cs, ss, ds, es, fs, gs, tr;
};

/* Host state VM exit does not restore by itself (SDM 27.5.2). */
struct vmx_host_save {
    struct x86_dtr gdtr, idtr;
    uint16_t tr;
    uint32_t tr_limit;
};

struct vmx_vcpu {
    /* World-switch scratch, addressed by vmx_entry.S: keep first. */
    uint64_t host_rsp;  /* offset 0 */
    uint64_t guest_cr2; /* offset 8: CR2 is not part of the VMCS */
    uint64_t launched;  /* offset 16: VMRESUME (1) or VMLAUNCH (0) */

    void *vmcs;
    uint64_t vmcs_hpa;
    /* RIP set_rip left for the VMCS's next bracket (vmx_vmcs_begin):
       the core's completion of an instruction, written by the entry that
       follows or by any earlier access to the guest's state. */
    bool rip_due_set;
    uint64_t rip_due;
    struct vmx_msr_entry *msrs; /* page: guest list at 0, host list at 2048 */
    uint64_t msrs_hpa;
    uint32_t cpu;      /* CPU the VMCS is active on, VMX_NO_CPU if clear */
    uint32_t last_cpu; /* CPU it last ran on (VPID flush on move) */
    uint16_t vpid;     /* 0 when VPIDs are off */
    uint64_t ept_gen;  /* vmx_vm::ept_gen seen at the last flush */
    /* What the VMCS's host-state area holds (vmx_host.h); meaningless
       unless host_valid, which VMCLEAR (vmcs_clear_here), a new VMCS
       (vmx_vcpu_init) and a failed VMWRITE reset. */
    struct vmx_host_fields host;
    bool host_valid;

    /* Guest-visible state the VMCS does not hold as the guest sees it. */
    uint64_t cr0;      /* guest's CR0 (read shadow) */
    uint64_t cr4;      /* guest's CR4 (read shadow) */
    uint64_t cr0_mask; /* guest/host masks: the bits libhv owns (vmx_vmcs.c) */
    uint64_t cr4_mask;
    uint64_t cr8;              /* TPR, MOV CR8 is intercepted */
    uint32_t entry_ctls;       /* VM-entry controls incl. IA-32e mode guest */
    uint32_t proc_ctls;        /* primary controls incl. the window bits */
    uint64_t dr6;              /* the guest's DR6 while the host runs (vmx_run.c) */
    bool timer_armed;          /* preemption timer on (the guest runs with IF=0) */
    /* XCR0 needs switching around the entry (core/xsave.h): the host runs
       with CR4.OSXSAVE (its CR4 as host.cr4 last read it), the guest's
       XCR0 is not x87. Adjacent: the entry tests both with one load. */
    bool xcr0_host;
    bool xcr0_guest;
    uint64_t fast_until;       /* TSC until which vmx_fast_exit may re-enter */
    struct vmx_event inject;   /* event for the next entry */
    struct vmx_event reinject; /* IDT-vectoring event to deliver again */
    /* What the runs of a loaded vCPU leave to the put (vmx_load). */
    struct vmx_host_save load_save;
};

static inline struct vmx_ctx *vmx_ctx_of(const struct hv_ctx *ctx)
{
    return (struct vmx_ctx *)ctx->arch;
}
static inline struct vmx_vm *vmx_vm_of(const struct hv_vm *vm)
{
    return (struct vmx_vm *)vm->arch;
}
static inline struct vmx_vcpu *vmx_vcpu_of(const struct hv_vcpu *vcpu)
{
    return (struct vmx_vcpu *)vcpu->arch;
}
static inline struct vmx_ctx *vmx_ctx_of_vcpu(const struct hv_vcpu *vcpu)
{
    return vmx_ctx_of(vcpu->vm->ctx);
}

/* vmx_probe.c */
hv_status_t vmx_probe(const struct hv_host *host, struct hv_caps *caps);
hv_status_t vmx_read_config(const struct hv_host *host, struct vmx_config *cfg);

/* vmx_cpu.c: per-CPU enable, VPIDs, VMCS residency. */
hv_status_t vmx_ctx_init(struct hv_ctx *ctx);
void vmx_ctx_fini(struct hv_ctx *ctx);
uint16_t vmx_vpid_alloc(struct vmx_ctx *vc, const struct hv_host *host); /* 0: none left */
void vmx_vpid_free(struct vmx_ctx *vc, const struct hv_host *host, uint16_t vpid);
/* Make the vCPU's VMCS current on this CPU (interrupts off). HV_ERR_AGAIN
   when it is active on another CPU: call vmx_vmcs_evict() with interrupts
   on, then retry. */
hv_status_t vmx_vmcs_load(struct hv_vcpu *vcpu, uint32_t cpu);
void vmx_vmcs_evict(struct hv_vcpu *vcpu);
/* The slow half of vmx_vmcs_begin(): make the VMCS current here. */
uint64_t vmx_vmcs_begin_load(struct hv_vcpu *vcpu, hv_status_t *st);
/* vmx_cr.c: the RIP vmx_set_rip left (rip_due) into the current VMCS, as
   vmx_finish_insn_at, and rip_due_set cleared. */
void vmx_rip_due_write(struct vmx_vcpu *vv);

/* The first half of vmx_vmcs_begin(): true with interrupts off (*flags
   for vmx_vmcs_end) when the vCPU's VMCS is current on this CPU already;
   false, with the interrupt flag as it was, when vmx_vmcs_begin_load must
   load it (always in the hosted build). A VMCS already current here (the
   run loop, its exit fast path, the core's dispatch right after an exit)
   is recognized by VMPTRST without asking the host which CPU this is:
   only vmx_vmcs_load makes a VMCS current and VMCLEAR on that CPU
   (vmcs_clear_here) ends it, and with interrupts off the vCPU cannot
   move. Every CPU is in VMX operation while the context exists
   (vmx_ctx_init), so VMPTRST is valid here. */
static inline bool vmx_vmcs_here(struct hv_vcpu *vcpu, uint64_t *flags)
{
#if !HV_HOSTED
    uint64_t f = x86_irq_save();
    if (vmx_vmptrst() == vmx_vcpu_of(vcpu)->vmcs_hpa) {
        *flags = f;
        return true;
    }
    x86_irq_restore(f);
#endif
    (void)vcpu;
    (void)flags;
    return false;
}

/* Bracket for VMCS access outside run(): interrupts off, VMCS current.
   Returns the flags for vmx_vmcs_end(); on a hardware failure *st is set. */
static inline uint64_t vmx_vmcs_begin(struct hv_vcpu *vcpu, hv_status_t *st)
{
    uint64_t f;
    if (vmx_vmcs_here(vcpu, &f)) {
        *st = HV_OK;
        struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
        if (__builtin_expect(vv->rip_due_set, 0))
            vmx_rip_due_write(vv);
        return f;
    }
    return vmx_vmcs_begin_load(vcpu, st);
}
static inline void vmx_vmcs_end(uint64_t flags)
{
    x86_irq_restore(flags);
}

/* vmx_vmcs.c: VMCS contents. */
hv_status_t vmx_vmcs_setup(struct hv_vcpu *vcpu);
void vmx_vmcs_host_state(struct hv_vcpu *vcpu, struct vmx_host_save *save);
void vmx_host_restore(const struct vmx_host_save *save);
void vmx_msr_lists_init(struct vmx_vcpu *vv);
/* Fill a 4 KiB MSR bitmap (SDM 24.6.9): every MSR exits except the ones
   whose guest value lives in the VMCS or the MSR lists. */
void vmx_msr_bitmap_init(uint8_t *bitmap);

/* The guest's view of CR0/CR4: owned bits from the shadow, the rest from
   the real register, which the guest changes without exits (SDM 24.6.6).
   The VMCS must be current. */
static inline uint64_t vmx_visible_cr(uint64_t real, uint64_t shadow, uint64_t mask)
{
    return (real & ~mask) | (shadow & mask);
}
static inline uint64_t vmx_visible_cr0(const struct vmx_vcpu *vv)
{
    return vmx_visible_cr(vmx_read(VMCS_GUEST_CR0), vv->cr0, vv->cr0_mask);
}
static inline uint64_t vmx_visible_cr4(const struct vmx_vcpu *vv)
{
    return vmx_visible_cr(vmx_read(VMCS_GUEST_CR4), vv->cr4, vv->cr4_mask);
}

/* The real CR0/CR4 for a guest-visible value (SDM 24.6.6, A.7, A.8). */
static inline uint64_t vmx_real_cr0(const struct vmx_config *cfg, uint64_t v)
{
    return (v & ~(X86_CR0_CD | X86_CR0_NW)) | cfg->guest_cr0_fixed0;
}
static inline uint64_t vmx_real_cr4(const struct vmx_config *cfg, uint64_t v)
{
    return v | cfg->cr4_fixed0;
}

/* vmx_state.c (VMCS-touching functions expect the VMCS current). */
struct vmx_guest_state;
void vmx_get_state(struct hv_vcpu *vcpu, uint32_t mask, struct hv_vcpu_state *st);
/* What an instruction fetch, the assist's MOV fast path and the fast
   hypercall hook need, read from the VMCS in one go (core/assist.h). */
void vmx_fetch_regs(struct hv_vcpu *vcpu, struct hv_fetch_regs *fr);
hv_status_t vmx_set_state(struct hv_vcpu *vcpu, uint32_t mask, const struct hv_vcpu_state *st);
hv_status_t vmx_apply_state(struct hv_vcpu *vcpu, uint32_t mask, const struct hv_vcpu_state *st,
                            bool force);
void vmx_reset_state(struct hv_vcpu *vcpu);
void vmx_read_guest(struct hv_vcpu *vcpu, struct vmx_guest_state *g);
bool vmx_event_encode(const struct vmx_config *cfg, const struct hv_event *ev, bool real_mode,
                      struct vmx_event *out);
/* Load the PAE PDPTEs from guest memory into the VMCS when the guest uses
   PAE paging outside IA-32e mode (SDM 26.3.2.4). */
void vmx_load_pdptes(struct hv_vcpu *vcpu);

/* vmx_cr.c: control-register exits handled inside the backend. */
enum vmx_cr_result { VMX_CR_DONE, VMX_CR_FAULT, VMX_CR_UNHANDLED };
enum vmx_cr_result vmx_handle_cr(struct hv_vcpu *vcpu, uint64_t qual, uint32_t insn_len);
/* Resume at next after an instruction the library finished (the VMCS
   current): RIP, the end of an STI / MOV SS shadow, and the single-step
   trap RFLAGS.TF asks for. */
void vmx_finish_insn_at(uint64_t next);
/* The same past the instruction at RIP, insn_len bytes long. */
void vmx_skip_insn(uint32_t insn_len);

/* vmx_event.c */
bool vmx_can_inject(struct hv_vcpu *vcpu, hv_event_type_t type);
void vmx_inject(struct hv_vcpu *vcpu, const struct hv_event *ev);
void vmx_set_window(struct hv_vcpu *vcpu, hv_event_type_t type, bool on);
bool vmx_inject_irq(struct hv_vcpu *vcpu, uint8_t vector);
void vmx_inject_step(struct hv_vcpu *vcpu);
void vmx_debug_intercept(struct hv_vcpu *vcpu, bool on);
/* Queue an exception raised by the backend itself (#GP, #UD). */
void vmx_raise(struct hv_vcpu *vcpu, uint8_t vector, bool has_error, uint32_t error);
void vmx_events_before_entry(struct hv_vcpu *vcpu);
void vmx_events_after_exit(struct hv_vcpu *vcpu, uint32_t basic_reason, uint64_t qual,
                           uint32_t insn_len);

/* vmx_run.c */
hv_status_t vmx_run(struct hv_vcpu *vcpu, struct hv_vexit *ex);
hv_status_t vmx_load(struct hv_vcpu *vcpu, uint32_t cpu); /* hv_backend_ops::load */
void vmx_put(struct hv_vcpu *vcpu);                       /* hv_backend_ops::put */
void vmx_xcr0_changed(struct hv_vcpu *vcpu); /* vmx_run.c */

/* TSC cycles of guest time an IF=0 guest runs before the preemption timer
   gives the host its pending interrupts (vmx_run.c), and of exits the fast
   path may keep finishing before vmx_run opens interrupts (vmx_fast.c). */
#define VMX_PREEMPT_TSC (1u << 18)

/* vmx_fast.c: called by vmx_entry.S after each VM exit (interrupts off,
   the guest's GPRs in vcpu->gpr): true when it finished the exit and the
   guest may re-enter at once. */
bool vmx_fast_exit(struct hv_vcpu *vcpu);
/* vmx_run.c: the SLAT flush request an entry takes (vmx_entry.S). */
void vmx_flush_for_entry(struct hv_vcpu *vcpu);

/* vmx_entry.S: enter the guest; returns 0 after a VM exit, 1 if VMLAUNCH /
   VMRESUME failed with VMfailInvalid, 2 with VMfailValid. */
int vmx_enter(struct hv_vcpu *vcpu, struct vmx_vcpu *vv);
/* Host RIP of every VM exit (inside vmx_enter). */
void vmx_exit_trampoline(void);

#endif /* HV_VMX_VMX_H */
