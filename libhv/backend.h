/*
 * The backend ops table: the single seam between generic code and VMX/SVM.
 *
 * A backend implements these operations over its own per-context, per-VM
 * and per-vCPU data (hung off the `arch` pointers of the core objects). It
 * may include "core/objects.h", "core/host.h", "core/util.h", "core/cpu.h",
 * "core/guest_mem.h", "core/assist.h" (instruction fetch) and "slat/slat.h"
 * and nothing else from the core. The core never includes a backend header.
 *
 * Exits the backend can finish alone (CR accesses it must track, EFER
 * writes, exits caused by re-injected events, ...) are handled inside run();
 * everything else is returned as a normalized struct hv_vexit that the
 * generic exit dispatcher (core/run.c) finishes.
 */
#ifndef HV_BACKEND_H
#define HV_BACKEND_H

#include <hv/ctx.h>
#include <hv/vcpu.h>
#include <hv/vm.h>
#include "core/objects.h"

struct hv_slat_format;
struct hv_fetch_regs;

/* Normalized exit kinds the backend reports to the core. */
enum hv_vexit_kind {
    HV_VX_NONE = 0,
    HV_VX_CPUID,        /* leaf/subleaf in gpr RAX/RCX; core writes RAX..RDX and advances RIP */
    HV_VX_RDMSR,        /* MSR index in RCX */
    HV_VX_WRMSR,        /* MSR index in RCX, value in EDX:EAX */
    HV_VX_IO,           /* io.* valid */
    HV_VX_NPF,          /* npf.* valid: EPT violation / nested page fault */
    HV_VX_HLT,
    HV_VX_HYPERCALL,    /* VMCALL / VMMCALL */
    HV_VX_SHUTDOWN,     /* triple fault */
    HV_VX_ENTRY_FAILED, /* entry_failed.* valid */
    HV_VX_EXTINT,       /* a host interrupt arrived; the host has handled it by now */
    HV_VX_IRQ_WINDOW,   /* the guest can take an external interrupt now */
    HV_VX_NMI_WINDOW,   /* the guest can take an NMI now */
    HV_VX_PREEMPT,      /* preemption timer / host-requested stop */
    HV_VX_UNHANDLED,    /* anything else: raw fields say what; reported to the embedder */
    HV_VX_XSETBV,       /* XSETBV: ECX, EDX:EAX in gpr; the core checks it (core/xsave.h) */
};

struct hv_vexit {
    uint32_t kind;        /* enum hv_vexit_kind */
    uint32_t insn_len;    /* length of the exiting instruction, 0 if unknown */
    uint64_t next_rip;    /* RIP after the instruction if the CPU reported it, else 0 */
    uint64_t rip;         /* RIP of the exiting instruction */
    uint64_t rflags;      /* RFLAGS at the exit (TF: the single-step trap, core/run.c) */
    uint64_t raw_code;    /* VMX basic exit reason / SVM EXITCODE */
    uint64_t raw_info1;   /* exit qualification / EXITINFO1 */
    uint64_t raw_info2;   /* guest-physical address / EXITINFO2 */
    union {
        struct {
            uint16_t port;
            uint8_t size;      /* 1, 2, 4 */
            uint8_t write;     /* OUT / OUTS */
            uint8_t string;    /* INS / OUTS */
            uint8_t rep;       /* REP prefix */
            uint8_t addr_size; /* string: 2, 4, 8 */
            uint8_t seg;       /* string OUTS source segment (enum hv_seg), if known */
        } io;
        struct {
            uint64_t gpa;
            uint64_t gva;
            uint32_t access;     /* HV_ACCESS_* */
            uint8_t gva_valid;
            uint8_t during_walk; /* fault on a guest page-table access */
            uint8_t present;     /* translation existed, permission missing */
            uint8_t insn_count;  /* instruction bytes provided by the CPU (decode assists) */
            uint8_t insn[15];
        } npf;
        struct {
            uint64_t code;
            char reason[64];
        } entry_failed;
    };
};

/* The run loop's turn (HV_VX_PREEMPT, core/run.c): a kick is pending, or
   the backend gives the CPU back; nothing for the core to decode. */
static inline void hv_vexit_preempt(struct hv_vexit *ex, uint64_t rip)
{
    hv_memset(ex, 0, sizeof(*ex));
    ex->kind = HV_VX_PREEMPT;
    ex->rip = rip;
}

struct hv_backend_ops {
    const char *name;
    hv_backend_id_t id;

    /* Probe the CPU (CPUID, MSRs). Fill caps. No lasting side effects
       except what the architecture requires (e.g. locking
       IA32_FEATURE_CONTROL). HV_ERR_NO_BACKEND if the CPU lacks the
       extension, HV_ERR_UNSUPPORTED if it lacks something required. */
    hv_status_t (*probe)(const struct hv_host *host, struct hv_caps *caps);
    /* Allocate per-CPU state and enable virtualization on every CPU. */
    hv_status_t (*ctx_init)(struct hv_ctx *ctx);
    void (*ctx_fini)(struct hv_ctx *ctx);
    /* The SLAT entry format for this CPU (page sizes, A/D, exec-only). */
    const struct hv_slat_format *(*slat_format)(const struct hv_ctx *ctx);

    hv_status_t (*vm_init)(struct hv_vm *vm);
    void (*vm_fini)(struct hv_vm *vm);
    /* Invalidate SLAT-derived translations of this VM on every CPU (one
       INVEPT single-context / ASID flush). Called once per API call. */
    void (*slat_flush)(struct hv_vm *vm);

    hv_status_t (*vcpu_init)(struct hv_vcpu *vcpu); /* reset state (SDM 9.1.4) */
    void (*vcpu_fini)(struct hv_vcpu *vcpu);
    /* State groups HV_STATE_*. GPRs live in vcpu->gpr; the backend keeps
       whatever of them its hardware holds (RAX/RSP on SVM) in sync. */
    void (*get_state)(struct hv_vcpu *vcpu, uint32_t mask, struct hv_vcpu_state *st);
    hv_status_t (*set_state)(struct hv_vcpu *vcpu, uint32_t mask, const struct hv_vcpu_state *st);

    /* Enter the guest until an exit the core must see. On return
       vcpu->gpr holds the guest's GPRs and *ex describes the exit. Queued
       injection (see inject) is consumed. Returns HV_OK, or an error when
       the backend could not even attempt entry. */
    hv_status_t (*run)(struct hv_vcpu *vcpu, struct hv_vexit *ex);
    /* Optional (hv_vcpu_load/put): bind the vCPU to host CPU cpu (the
       caller's, from cpu_current) and capture what its runs there need not
       redo; undo it on that CPU. vcpu->loaded is set after load, clear
       before put. load returns HV_OK or HV_ERR_HOST (cpu not enabled);
       run() of a loaded vCPU elsewhere returns HV_ERR_STATE. */
    hv_status_t (*load)(struct hv_vcpu *vcpu, uint32_t cpu);
    void (*put)(struct hv_vcpu *vcpu);

    /* Hot register accessors for the exit dispatcher. */
    uint64_t (*get_rip)(struct hv_vcpu *vcpu);
    void (*set_rip)(struct hv_vcpu *vcpu, uint64_t rip);
    uint64_t (*get_rflags)(struct hv_vcpu *vcpu);
    unsigned (*get_cpl)(struct hv_vcpu *vcpu);
    bool (*long_mode)(struct hv_vcpu *vcpu); /* EFER.LMA and CS.L: 64-bit code */
    /* Optional: the registers an instruction fetch and a data access
       depend on (core/assist.h), straight from the control block. NULL:
       the core reads them through get_state. */
    void (*get_fetch_regs)(struct hv_vcpu *vcpu, struct hv_fetch_regs *fr);
    /* Optional: pages of architectural structures the VM and its vCPUs
       hold (hv_vm_stats().arch_pages). */
    uint64_t (*arch_pages)(struct hv_vm *vm);

    /* Event delivery. can_inject: no event already in the injection field
       and, for EXTINT, RFLAGS.IF=1 and no interrupt shadow; for NMI, not
       blocked. inject: write the event into the injection field for the
       next entry. set_window: request (or cancel) an exit as soon as the
       guest can take that class of event (HV_EVENT_EXTINT / HV_EVENT_NMI). */
    bool (*can_inject)(struct hv_vcpu *vcpu, hv_event_type_t type);
    void (*inject)(struct hv_vcpu *vcpu, const struct hv_event *ev);
    void (*set_window)(struct hv_vcpu *vcpu, hv_event_type_t type, bool on);
    /* An external interrupt at `vector` (>= 32, no error code), the three
       above in one call: injected if can_inject(EXTINT) holds, with the
       interrupt window cancelled, else the window requested. Returns
       whether it was injected. */
    bool (*inject_irq)(struct hv_vcpu *vcpu, uint8_t vector);
    /* Make the next entry deliver a single-step #DB before any guest
       instruction, as the trap of an instruction the core finished: DR6.BS
       (bit 14) set, RIP already past the instruction, the STI / MOV SS
       shadow over (set_rip ended it). Called when can_inject(EXCEPTION)
       holds; nothing else is injected at that entry. */
    void (*inject_step)(struct hv_vcpu *vcpu);
    /* Intercept (on) or not the guest's accesses to DR0-DR3: on from
       vcpu_init; off once the backend has loaded them for an intercepted
       access (core/debugreg.h), or the embedder set them (the core calls
       it then), for the vCPU's life. */
    void (*debug_intercept)(struct hv_vcpu *vcpu, bool on);

    /* Optional: vcpu->xcr0 changed (core/xsave.h), so that the backend's
       entry can tell with its own flags whether XCR0 needs switching. */
    void (*xcr0_changed)(struct hv_vcpu *vcpu);
};

#if HV_CONFIG_VMX
extern const struct hv_backend_ops hv_vmx_backend;
#endif
#if HV_CONFIG_SVM
extern const struct hv_backend_ops hv_svm_backend;
#endif

#endif /* HV_BACKEND_H */
