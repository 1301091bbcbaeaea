/*
 * The core objects: context, VM, vCPU. Shared by the core, the PV layer and
 * (through backend.h) the backends. Fields are tagged with who sets them.
 */
#ifndef HV_CORE_OBJECTS_H
#define HV_CORE_OBJECTS_H

#include <hv/ctx.h>
#include <hv/vcpu.h>
#include <hv/vm.h>
#include "core/host.h"
#include "slat/slat.h"

struct hv_backend_ops;
struct hv_pv_ops;
struct hv_xen_vm;
struct hv_xen_vcpu;
struct hv_lapic;
struct hv_lapic_vm;

/* CPUID overrides a VM may hold (hv_vm_set_cpuid). */
#define HV_CPUID_OVERRIDES 32

/* The host CPU's standard-format XSAVE layout (core/xsave.h). */
struct hv_xs_layout {
    uint64_t supported; /* CPUID 0DH.0 EDX:EAX & HV_XCR0_MANAGED, 0 without XSAVE */
    uint32_t off[8], size[8];
};

struct hv_cpuid_override {
    uint32_t leaf, subleaf; /* subleaf UINT32_MAX: any */
    uint32_t regs[4];
};

struct hv_ctx {
    struct hv_host host;                /* copied host services (create) */
    const struct hv_backend_ops *be;    /* selected backend (create) */
    struct hv_caps caps;                /* probe results (create) */
    void *arch;                         /* backend per-context data (backend) */
    struct hv_lock lock;                /* protects vm_count */
    uint32_t vm_count;
    /* The host CPU's MXCSR mask, 0 until hv_vcpu_get_fpu/set_fpu first
       need it (core/fpu_state.c); written atomically, always the same. */
    uint32_t mxcsr_mask;
    /* The host's XSAVE layout (core/xsave.h), read at creation. */
    struct hv_xs_layout xs;
};

struct hv_vm {
    struct hv_ctx *ctx;
    struct hv_slat slat;                /* guest-physical map (slat/) */
    struct hv_lock lock;                /* protects vcpus[], cpuid[], MMIO regions */
    volatile uint32_t slat_busy;        /* a map/unmap/protect/harvest call is running */
    uint32_t gpa_bits;
    uint32_t max_vcpus;
    uint32_t vcpu_count;
    uint32_t flags;                     /* HV_VM_* options (create) */
    struct hv_vcpu **vcpus;             /* max_vcpus slots */
    uint32_t cpuid_count;
    struct hv_cpuid_override cpuid[HV_CPUID_OVERRIDES];
    /* The guest's paging view (core/policy.h hv_vm_paging_view), which
       every guest page walk uses: kept by hv_vm_set_cpuid under the lock,
       read without it; each change advances the SLAT generation after. */
    uint8_t guest_maxphyaddr;
    bool guest_gbpages;
    void *arch;                         /* backend per-VM data (backend) */
    const struct hv_pv_ops *pv;         /* PV interface hooks, NULL if off (core/pv.h) */
    struct hv_xen_vm *xen;              /* PV interface state, NULL if off (xen/) */
    void *assist;                       /* MMIO regions / emulation state (core/assist) */
    struct hv_lapic_vm *lapic;          /* local APIC options, NULL if off (lapic/) */
    struct hv_pio_vm *pio;              /* port ranges with handlers, NULL if none (core/pio.h) */
    /* SLAT tables retired while a vCPU was in host code, which may still
       be walking them: freed once each such vCPU has passed a point where
       it walks nothing (core/vm.c retire_after_readers). retire_snap has a
       word per vCPU slot (allocated with vcpus[]): its guest_epoch when
       the last of them were retired, or HV_RETIRE_QUIET. */
    struct hv_slat_retired retire_wait;
    uint64_t *retire_snap;
    uint64_t *wait_snap; /* wait_for_guests' epochs, a word per slot too */
    /* SLAT walks in progress that run on no vCPU of this VM (an embedder
       thread's query, another domain's grant): retire_wait also waits for
       this to be 0 (hv_slat_read_begin/end below). */
    uint32_t slat_readers;
    uint32_t slat_waiters; /* library calls waiting for slat_busy (hv_vm_map_waiting) */
    uint32_t runs_held;    /* a change that needs no vCPU running (hv_vm_hold_runs) */
};

/*
 * Teardown of a VM created with HV_VM_SCRUB: between begin and end every
 * page and object the library frees is zeroed (core/host.h). begin returns
 * whether it started a window, to pass to end (the VM may be gone by then).
 */
static inline bool hv_vm_scrub_begin(struct hv_vm *vm)
{
    if (!(vm->flags & HV_VM_SCRUB))
        return false;
    hv_host_scrub_begin(&vm->ctx->host);
    return true;
}

static inline void hv_vm_scrub_end(struct hv_ctx *ctx, bool on)
{
    if (on)
        hv_host_scrub_end(&ctx->host);
}

/* What the next hv_vcpu_run() must complete before entering the guest. */
enum hv_completion {
    HV_COMPLETE_NONE = 0,
    HV_COMPLETE_IO_IN,     /* write exit->io.data to AL/AX/EAX, advance RIP */
    HV_COMPLETE_EMULATION, /* retry the emulated instruction with the embedder's result */
    HV_COMPLETE_ADVANCE,   /* just advance RIP (OUT, MMIO write) */
    HV_COMPLETE_MMIO_LOAD, /* write exit->mmio.data to GPR completion_reg, advance RIP */
};

/* One MMIO or port access of an instruction the embedder completes (assist). */
struct hv_assist_access {
    uint64_t gpa;   /* or port */
    uint64_t value; /* write: value stored; read: value the embedder returned */
    uint8_t size;
    uint8_t write;
    uint8_t pio;
    uint8_t done; /* the embedder has completed it */
};

#define HV_ASSIST_LOG 4

/*
 * A memoized guest page walk (core/insn_fetch.c): the translation of one
 * linear page, valid while the paging registers and access kind (key),
 * CR3, the SLAT generation and every guest paging-structure entry of the
 * walk are what they were.
 */
struct hv_walk_memo {
    uint64_t key;             /* paging-mode bits, CPL, access kind; 0: empty */
    uint64_t la_page;         /* linear address >> 12 */
    uint64_t cr3;
    uint64_t slat_gen;
    uint64_t gpa_page;        /* guest-physical address of the 4 KiB page */
    uint64_t page_size;       /* of the guest's mapping (hv_walk_result) */
    uint8_t *host;            /* the page (readable; a write's data memo: writable);
                                 NULL: none */
    uint32_t n;               /* entries of the walk */
    const uint64_t *pte[5];   /* the aligned 8-byte words holding the entries */
    uint64_t val[5];          /* each word's value after the walk */
    uint64_t walks;           /* full walks done (tests, profiling) */
};

struct hv_vcpu {
    /* Guest GPRs in hv_gpr order. First member: the world-switch assembly
       addresses it at offset 0. Valid between exits (backend run()). */
    uint64_t gpr[HV_GPR_COUNT];
    /* The SLAT grace period (core/vm.c wait_for_guests), at fixed offsets
       for the world-switch assembly (core/vcpu_asm.h): guest_epoch is odd
       from just before a guest entry to just after the exit (the assembly
       increments it twice), and flush_req asks the next entry to drop the
       guest's cached translations first. */
    volatile uint64_t guest_epoch;
    volatile uint8_t flush_req;
    struct hv_vm *vm;
    uint32_t id;
    uint32_t host_cpu;                 /* CPU it last ran on (run) */
    volatile uint32_t kick_pending;    /* HV_KICK_* bits, set by hv_vcpu_kick and the local APIC,
                                          cleared by run */
    volatile uint32_t running;         /* inside hv_vcpu_run */
    uint32_t shutdown;                 /* triple-faulted: state must be set again */
    uint32_t completion;               /* enum hv_completion */
    /* Nothing was left to deliver at the last entry (run.c, HV_QUIET_*):
       the backend may finish an exit and re-enter without the core (exit
       fast path, core/fast.h hv_quiet_now). The backend clears it too
       while it has bookkeeping of its own. */
    volatile uint8_t quiet; /* also cleared by other CPUs (SLAT flush) */
    /* The exit record of the hv_vcpu_run() in progress, and whether the
       backend's fast path has filled it (the run then returns). */
    bool exit_ready;
    /* hv_vcpu_load (core/vcpu_load.c), in the hole before run_exit for
       the backends' assembly: bound to loaded_cpu until the put. */
    bool loaded;
    uint32_t loaded_cpu;
    struct hv_exit *run_exit;
    uint64_t completion_rip;           /* RIP to resume at after completion */
    uint8_t completion_size;           /* IN / MMIO load size */
    uint8_t completion_reg;            /* MMIO load destination (enum hv_gpr) */
    /* RFLAGS.TF was set when the instruction to complete started: its
       completion raises the single-step trap (hv_step_trap). */
    bool completion_step;
    /* Queued events (hv_vcpu_inject) waiting for their window. */
    struct hv_event queued_exc;        /* exception (or soft int), type NONE if none */
    struct hv_event queued_irq;        /* external interrupt */
    bool queued_nmi;
    /* A single-step #DB is due for an instruction the library finished
       (hv_step_trap); delivered before the queued events. */
    bool step_db;
    /* The vCPU has a local APIC (lapic != NULL): tested with the queued
       events before each entry (core/fast.h hv_events_or_lapic), in one test
       with queued_nmi and step_db, which it follows. */
    bool lapic_on;
    uint64_t mtrr_def_type;            /* IA32_MTRR_DEF_TYPE as the guest wrote it */
    /* Accesses of the instruction being emulated that went to the embedder,
       replayed in order when the emulation is retried (core/assist.c). */
    struct hv_assist_access alog[HV_ASSIST_LOG];
    uint8_t alog_len;
    struct hv_walk_memo fetch;         /* code page of the last fetch (core/insn_fetch.c) */
    struct hv_walk_memo data;          /* page of the assist's last data access */
    /* The last MMIO page a fault was checked on and found unmapped, and
       the SLAT generation then (core/run.c hv_fast_npf): while the
       generation holds, a fault there is not spurious without a walk. */
    uint64_t hole_page;
    uint64_t hole_gen;
    uint32_t mmio_hint; /* index of the MMIO region it last faulted in (assist.c) */
    uint32_t pio_hint;  /* index of the port range it last accessed (core/pio.h) */
    void *arch;                        /* backend per-vCPU data (backend) */
    struct hv_lapic *lapic;            /* local APIC, NULL if off (lapic/; in a hole before fpu) */
    /* The guest's x87/SSE state while the host runs (FXSAVE image, core/fpu.h). */
    uint8_t fpu[512] __attribute__((aligned(16)));
    struct hv_xen_vcpu *xen;           /* PV per-vCPU state (xen/) */
    /* DR0-DR3 (core/debugreg.h): the guest's while the host runs, the
       host's while dr_loaded (inside hv_vcpu_run, once the guest has its
       own: dr_used). */
    uint64_t dr[4];
    uint64_t host_dr[4];
    /* dr_used, xs_on, dr_loaded, fpu_kept in this order: hv_vcpu_run
       tests them with one 32-bit load at each end (core/run.c). fpu_kept:
       hv_vcpu_load with HV_LOAD_GUEST_FPU keeps the guest's x87/SSE and
       extended state in the CPU between runs (the host's in host_fpu and
       xs_host), so the runs switch none of it. */
    bool dr_used;
    bool xs_on; /* xs_used != 0: extended state switched at each run */
    bool dr_loaded;
    bool fpu_kept;
    /* The guest's XCR0 and extended state (core/xsave.h): XCR0 (RESET 1),
       the components beyond x87/SSE switched at each run, the areas
       (64-byte aligned, NULL when the host has no such component). */
    uint64_t xcr0;
    uint64_t xs_used;
    uint8_t *xs_guest;
    uint8_t *xs_host;
    void *xs_raw;
    uint32_t xs_alloc; /* bytes at xs_raw */
    bool xs_warned;    /* hv_xcr0_untrapped logged a refused value */
    /* The host's x87/SSE state while hv_vcpu_load keeps the guest's
       loaded (fpu_kept): allocated at the first such load. */
    uint8_t *host_fpu;
    /* What quiet becomes when nothing is left to deliver (core/run.c):
       HV_QUIET, or HV_QUIET_UNTIL while the local APIC's timer is armed,
       quiet_until then the host TSC at which it falls due (both set by
       hv_lapic_pre_entry). At the end: the backends' assembly offsets
       come before them. */
    uint64_t quiet_until;
    uint8_t quiet_as;
};

/* vcpu->quiet: something may be due before the next exit (the full path
   runs); nothing is; nothing is before the host TSC reaches quiet_until. */
#define HV_QUIET_NOT   0u
#define HV_QUIET       1u
#define HV_QUIET_UNTIL 2u

/* The vCPU's x87/SSE and XSAVE images are not in memory now: it runs, or
   its state stays loaded between runs (hv_vcpu_load). */
static inline bool hv_vcpu_fpu_busy(const struct hv_vcpu *vcpu)
{
    return vcpu->running || vcpu->fpu_kept;
}

/* vcpu->kick_pending bits: hv_vcpu_kick() (the run returns HV_EXIT_KICK);
   the local APIC has an INIT or SIPI to take, or waits for a SIPI, at the
   top of the run loop (lapic/hooks.h hv_lapic_gate); another CPU raised an
   event for the vCPU and interrupts its CPU (an interrupt from the local
   APIC, a Xen event): the run goes on, through the event delivery. Each
   makes the backends leave their inner loops and fast paths, and an entry
   that finds one set after publishing host_cpu does not enter: the
   kicker sets the bit, then reads host_cpu to interrupt it, so an
   interrupt that arrived before the entry's CLGI/CLI, or went to the CPU
   the vCPU ran on before, is not lost (backends' enter checks). */
#define HV_KICK_USER  1u
#define HV_KICK_LAPIC 2u
#define HV_KICK_EVENT 4u

/* A vCPU inside hv_vcpu_run has an event to take: the event bit, then an
   interrupt to the CPU it was last entered on, read after the bit (if it
   moved since, its entry sees the bit). core/vcpu.c. */
void hv_kick_event(struct hv_vcpu *vcpu);

/* The entry's side of that protocol, with host interrupts held (CLGI /
   CLI): publish the CPU, a full barrier, then look at the kick bits. True:
   one is set, do not enter (the run loop takes it: HV_VX_PREEMPT).
   svm_entry.S does the same in assembly. */
static inline bool hv_entry_publish_cpu(struct hv_vcpu *vcpu, uint32_t cpu)
{
    __atomic_store_n(&vcpu->host_cpu, cpu, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&vcpu->kick_pending, __ATOMIC_RELAXED) != 0;
}

/* RFLAGS.TF (SDM Vol. 1 3.4.3.3). */
#define HV_RFLAGS_TF (1ull << 8)

/*
 * An instruction the library finished for the guest (it never ran on the
 * CPU: CPUID, MSRs, HLT, hypercalls, I/O, MMIO, the assist's emulation)
 * traps as if it had run: with RFLAGS.TF set, a single-step #DB with
 * DR6.BS is due before the guest's next instruction (SDM Vol. 3B 18.3.1.4,
 * APM Vol. 2 13.1.3). rflags: the guest's RFLAGS when it started. The
 * core's event delivery (core/run.c) hands it to the backend's
 * inject_step. Not called for an instruction that faulted or is retried.
 */
static inline void hv_step_trap(struct hv_vcpu *vcpu, uint64_t rflags)
{
    if (rflags & HV_RFLAGS_TF)
        vcpu->step_db = true;
}

/*
 * A vCPU of the VM is inside hv_vcpu_run (or another call that holds its
 * running flag): its exit paths may be reading the VM's MMIO regions and
 * port ranges, which they do without a lock, so those change only while
 * this is false (HV_ERR_BUSY otherwise). Call with vm->lock held.
 */
static inline bool hv_vm_vcpus_running(const struct hv_vm *vm)
{
    for (uint32_t i = 0; i < vm->max_vcpus; i++) {
        const struct hv_vcpu *v = vm->vcpus[i];
        if (v && __atomic_load_n(&v->running, __ATOMIC_SEQ_CST))
            return true;
    }
    return false;
}

/*
 * Keep every vCPU of the VM out of hv_vcpu_run for a change its runs must
 * not see half done (the MMIO regions, the port ranges, hv_xen_disable):
 * false, and nothing held, if one is running now. A run that starts
 * meanwhile sees the hold and returns HV_ERR_BUSY (core/run.c): the hold
 * is stored before the running flags are read, and a run's flag before
 * the hold is read, each with a full barrier, so one side always sees the
 * other. With vm->lock held, until hv_vm_release_runs().
 */
static inline bool hv_vm_hold_runs(struct hv_vm *vm)
{
    __atomic_store_n(&vm->runs_held, 1, __ATOMIC_SEQ_CST);
    if (!hv_vm_vcpus_running(vm))
        return true;
    __atomic_store_n(&vm->runs_held, 0, __ATOMIC_RELEASE);
    return false;
}

static inline void hv_vm_release_runs(struct hv_vm *vm)
{
    __atomic_store_n(&vm->runs_held, 0, __ATOMIC_RELEASE);
}

/*
 * hv_vm_map() / hv_vm_unmap() for the library's own pages (the Xen layer's
 * shared_info and grant frames): a SLAT call in progress is waited for
 * instead of answered with HV_ERR_BUSY, and the embedder's calls that
 * start meanwhile get HV_ERR_BUSY, so that a stream of them cannot starve
 * the wait. Host code only; the call in progress never waits for the
 * caller's CPU (core/vm.c wait_for_guests waits for guest mode only).
 */
hv_status_t hv_vm_map_waiting(struct hv_vm *vm, uint64_t gpa, uint64_t hpa, uint64_t len,
                              uint32_t flags);
hv_status_t hv_vm_unmap_waiting(struct hv_vm *vm, uint64_t gpa, uint64_t len);

/*
 * A SLAT walk that runs on no vCPU of the VM (an embedder thread's call,
 * another domain's vCPU): the tables a concurrent change retires are not
 * freed while one is between begin and end (core/vm.c). A vCPU's own
 * walks need nothing: its epoch covers them.
 */
static inline void hv_slat_read_begin(struct hv_vm *vm)
{
    __atomic_fetch_add(&vm->slat_readers, 1, __ATOMIC_SEQ_CST);
}

static inline void hv_slat_read_end(struct hv_vm *vm)
{
    __atomic_fetch_sub(&vm->slat_readers, 1, __ATOMIC_RELEASE);
}

#endif /* HV_CORE_OBJECTS_H */
