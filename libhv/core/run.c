/*
 * The run loop and the generic exit dispatcher, written once for both
 * backends. The backend enters the guest and normalizes the exit; this
 * file finishes what the library can finish (CPUID, MSRs, PV hypercalls,
 * host interrupts, event windows) and returns to the embedder otherwise.
 */
#include "backend.h"
#include "core/assist.h"
#include "core/debugreg.h"
#include "core/fast.h"
#include "core/fpu.h"
#include "core/objects.h"
#include "core/pio.h"
#include "core/policy.h"
#include "core/pv.h"
#include "core/util.h"
#include "core/xsave.h"
#include "lapic/hooks.h"

HV_STATIC_ASSERT(HV_ACCESS_READ == HV_MEM_READ && HV_ACCESS_WRITE == HV_MEM_WRITE &&
                     HV_ACCESS_EXEC == HV_MEM_EXEC,
                 "NPF access bits double as SLAT permission bits");

/* Exception vectors the dispatcher raises (SDM Vol. 3A table 6-1). */
#define VEC_GP 13
#define VEC_UD 6

/*
 * Length of an instruction the backend could not measure (SVM without NRIP
 * save, which is always the case under QEMU). These exits come from fixed
 * encodings: CPUID 0F A2, RDMSR 0F 32, WRMSR 0F 30, HLT F4, VMCALL 0F 01 C1,
 * VMMCALL 0F 01 D9.
 */
static uint32_t known_length(uint32_t kind)
{
    switch (kind) {
    case HV_VX_CPUID:
    case HV_VX_RDMSR:
    case HV_VX_WRMSR:
        return 2;
    case HV_VX_HLT:
        return 1;
    case HV_VX_HYPERCALL:
    case HV_VX_XSETBV: /* 0F 01 D1 */
        return 3;
    default:
        return 0;
    }
}

static uint64_t next_rip(const struct hv_vexit *vx)
{
    if (vx->next_rip)
        return vx->next_rip;
    uint32_t len = vx->insn_len ? vx->insn_len : known_length(vx->kind);
    return vx->rip + len;
}

/* Finish the instruction now: the guest resumes after it, and a guest
   single-stepping it gets its #DB (hv_step_trap; the instructions the
   dispatcher finishes leave RFLAGS.TF as it was when they started). */
static void advance(struct hv_vcpu *vcpu, const struct hv_vexit *vx)
{
    vcpu->vm->ctx->be->set_rip(vcpu, next_rip(vx));
    hv_step_trap(vcpu, vx->rflags);
}

/* An instruction the next hv_vcpu_run() finishes: its single-step trap
   depends on TF now, when it started (the embedder may change RFLAGS in
   between). The exit fast paths leave exits with TF set to this path, so
   they never set the flag; complete_pending() clears it. */
static void note_step(struct hv_vcpu *vcpu, const struct hv_vexit *vx)
{
    if (vx->rflags & HV_RFLAGS_TF)
        vcpu->completion_step = true;
}

/* Finish the instruction at the next hv_vcpu_run (after the embedder). */
static void defer(struct hv_vcpu *vcpu, const struct hv_vexit *vx, uint32_t kind)
{
    vcpu->completion = kind;
    vcpu->completion_rip = next_rip(vx);
    note_step(vcpu, vx);
}

static void queue_gp(struct hv_vcpu *vcpu)
{
    struct hv_event ev = {.type = HV_EVENT_EXCEPTION, .vector = VEC_GP, .has_error_code = 1};
    if (vcpu->queued_exc.type == HV_EVENT_NONE)
        hv_memcpy(&vcpu->queued_exc, &ev, sizeof(ev));
}

/*
 * Complete the instruction the embedder handled (IN value, RIP advance, or
 * a retry of an emulated instruction). Returns true when that retry needs
 * the embedder again (exit filled). The kinds in the order of their
 * frequency: an OUT or an MMIO store to advance over first.
 */
static inline __attribute__((always_inline)) bool
complete_pending(const struct hv_backend_ops *be, struct hv_vcpu *vcpu, struct hv_exit *exit)
{
    uint32_t kind = vcpu->completion;
    if (kind != HV_COMPLETE_ADVANCE) {
        if (kind == HV_COMPLETE_NONE)
            return false;
        vcpu->completion = HV_COMPLETE_NONE;
        if (kind == HV_COMPLETE_MMIO_LOAD) {
            /* The assist's fast path: a 32-bit load zero-extends. */
            uint64_t v = exit->mmio.data;
            vcpu->gpr[vcpu->completion_reg & 15] =
                vcpu->completion_size == 8 ? v : v & 0xffffffffull;
        } else if (kind == HV_COMPLETE_IO_IN) {
            uint64_t *rax = &vcpu->gpr[HV_GPR_RAX];
            *rax = hv_pio_in_merge(*rax, vcpu->completion_size, exit->io.data);
        } else if (kind == HV_COMPLETE_EMULATION) {
            hv_assist_complete(vcpu, exit);
            return hv_assist_emulate(vcpu, NULL, exit);
        } else {
            return false; /* no other kind is ever set */
        }
    } else {
        vcpu->completion = HV_COMPLETE_NONE;
    }
    /* Finished: the single-step trap if TF was set when the instruction
       started (note_step at the exit: no RFLAGS read on this path). */
    be->set_rip(vcpu, vcpu->completion_rip);
    if (__builtin_expect(vcpu->completion_step, 0)) {
        vcpu->completion_step = false;
        vcpu->step_db = true;
    }
    return false;
}

static inline bool events_queued(const struct hv_vcpu *vcpu)
{
    return vcpu->queued_nmi || vcpu->step_db || vcpu->queued_exc.type != HV_EVENT_NONE ||
           vcpu->queued_irq.type != HV_EVENT_NONE;
}

static bool inject_queued_lapic(struct hv_vcpu *vcpu);

/* inject_queued() for a #DB trap, an exception or an NMI, which come
   before an interrupt, or for nothing queued (a vCPU with a local APIC). */
static bool inject_queued_rare(struct hv_vcpu *vcpu)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    if (vcpu->step_db) {
        /* The single-step trap of the instruction just finished comes
           before NMIs and external interrupts (SDM Vol. 3A 6.9, priority
           4 against 5 and 6) and before an exception queued for later. It
           takes this entry alone; what waits behind it gets a window, so
           that the guest exits once the #DB is delivered. */
        if (be->can_inject(vcpu, HV_EVENT_EXCEPTION)) {
            be->inject_step(vcpu);
            vcpu->step_db = false;
            if (vcpu->queued_nmi)
                be->set_window(vcpu, HV_EVENT_NMI, true);
            if (vcpu->queued_irq.type != HV_EVENT_NONE)
                be->set_window(vcpu, HV_EVENT_EXTINT, true);
        }
        return hv_events_or_lapic(vcpu);
    }
    if (vcpu->queued_exc.type != HV_EVENT_NONE) {
        if (be->can_inject(vcpu, HV_EVENT_EXCEPTION)) {
            be->inject(vcpu, &vcpu->queued_exc);
            vcpu->queued_exc.type = HV_EVENT_NONE;
        }
        return hv_events_or_lapic(vcpu); /* one event per entry */
    }
    if (vcpu->queued_nmi) {
        if (be->can_inject(vcpu, HV_EVENT_NMI)) {
            struct hv_event nmi = {.type = HV_EVENT_NMI, .vector = 2};
            be->inject(vcpu, &nmi);
            vcpu->queued_nmi = false;
            be->set_window(vcpu, HV_EVENT_NMI, false);
        } else {
            be->set_window(vcpu, HV_EVENT_NMI, true);
        }
        return hv_events_or_lapic(vcpu);
    }
    /* Nothing queued (an interrupt alone goes through inject_queued):
       only a vCPU with a local APIC gets here. */
    return inject_queued_lapic(vcpu);
}

/* Put queued events into the injection field, or ask for a window.
   Returns whether any is still queued (events_queued after it). The
   common case inline: an interrupt (a PV upcall, the local APIC's, the
   embedder's) with no #DB trap, exception or NMI before it
   (hv_irq_may_go_first), injected or its window requested; nothing is
   left once it is in. */
static inline __attribute__((always_inline)) bool inject_queued(struct hv_vcpu *vcpu)
{
    if (!hv_irq_may_go_first(vcpu) || vcpu->queued_irq.type == HV_EVENT_NONE)
        return inject_queued_rare(vcpu);
    if (!vcpu->vm->ctx->be->inject_irq(vcpu, vcpu->queued_irq.vector))
        return true; /* its window requested */
    vcpu->queued_irq.type = HV_EVENT_NONE;
    return vcpu->lapic_on; /* the APIC's turn at the next entry */
}

/*
 * The event delivery before each entry: the PV layer's upcalls raised
 * unless it is idle, queued events injected. The vCPU is quiet when nothing
 * is left queued (so no window is open) and the PV layer is idle: until the
 * next exit the core has nothing to add to an entry, and a producer of new
 * events kicks the vCPU (an IPI, which exits), so the backend's exit fast
 * path may re-enter on its own.
 */
/* inject_queued with nothing queued, for a vCPU with a local APIC: its
   timer run, its interrupt or NMI queued and injected; "still queued"
   while something is left or the APIC may have more to say. An event
   injected here leaves the APIC nothing beyond its own verdict: it has
   had its pass (inject_queued's "the APIC's turn" is for an interrupt
   queued before it). (With an event queued already, the APIC waits for
   the next entry: the vCPU is not quiet meanwhile.) */
static __attribute__((noinline)) bool inject_queued_lapic(struct hv_vcpu *vcpu)
{
    bool apic_idle = hv_lapic_pre_entry(vcpu);
    if (events_queued(vcpu))
        inject_queued(vcpu);
    return events_queued(vcpu) || !apic_idle;
}

static inline __attribute__((always_inline)) void deliver_events(struct hv_vcpu *vcpu)
{
    const struct hv_pv_ops *pv = vcpu->vm->pv;
    bool pv_idle = !pv || (pv->idle ? pv->idle(vcpu) : !pv->pre_entry);
    if (!pv_idle && pv->pre_entry)
        pv->pre_entry(vcpu);
    bool queued = hv_events_or_lapic(vcpu);
    if (__builtin_expect(queued, 0))
        queued = inject_queued(vcpu);
    /* After pre_entry raised an upcall, idle() tells whether more is due. */
    bool quiet = !queued && (pv_idle || (pv->idle && pv->idle(vcpu)));
    /* Quiet with a local APIC means its pre-entry pass just ran and said
       whether its timer is armed (quiet_as; always HV_QUIET without one). */
    __atomic_store_n(&vcpu->quiet, quiet ? vcpu->quiet_as : HV_QUIET_NOT, __ATOMIC_RELAXED);
}

void hv_deliver_events(struct hv_vcpu *vcpu)
{
    deliver_events(vcpu);
}

/*
 * Clear the exit record with straight-line word stores: it is cleared for
 * every exit the dispatcher sees, where a byte loop cost ~550 instructions
 * and a word loop ~70 (17 stores now). may_alias: the record is written
 * through its members right after.
 */
typedef uint64_t __attribute__((may_alias)) exit_word_t;
_Static_assert(sizeof(struct hv_exit) % sizeof(uint64_t) == 0, "whole words");
_Static_assert(_Alignof(struct hv_exit) >= _Alignof(uint64_t), "word aligned");

static void clear_exit(struct hv_exit *exit)
{
    exit_word_t *w = (exit_word_t *)exit;
#pragma GCC unroll 32
    for (size_t i = 0; i < sizeof(*exit) / sizeof(*w); i++)
        w[i] = 0;
}

static void fill_raw(struct hv_exit *exit, const struct hv_vexit *vx, uint32_t reason)
{
    exit->reason = reason;
    exit->reserved = 0;
    exit->raw_code = vx->raw_code;
    exit->raw_info1 = vx->raw_info1;
    exit->raw_info2 = vx->raw_info2;
    exit->rip = vx->rip;
}

static bool handle_io(struct hv_vcpu *vcpu, const struct hv_vexit *vx, struct hv_exit *exit)
{
    if (vx->io.string)
        return hv_assist_emulate(vcpu, vx, exit);
    const struct hv_pio_range *r = hv_pio_find(vcpu, vx->io.port, vx->io.size);
    if (r) { /* the embedder's handler, inside the library */
        hv_status_t st =
            hv_pio_call(r, vx->io.port, vx->io.size, vx->io.write, &vcpu->gpr[HV_GPR_RAX]);
        if (st != HV_OK) {
            hv_pio_failed(exit, st, vx->io.port, vx->rip, vx->raw_code);
            return true;
        }
        advance(vcpu, vx);
        return false;
    }
    hv_io_exit(vcpu, exit, vx->io.port, vx->io.size, vx->io.write, vx->rip, next_rip(vx),
               vcpu->gpr[HV_GPR_RAX], vx->raw_code, vx->raw_info1, vx->raw_info2);
    note_step(vcpu, vx);
    return true;
}

static bool handle_hypercall(struct hv_vcpu *vcpu, const struct hv_vexit *vx, struct hv_exit *exit)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    if (vcpu->vm->pv && vcpu->vm->pv->hypercall) {
        switch (vcpu->vm->pv->hypercall(vcpu, exit)) {
        case HV_PV_DONE:
            advance(vcpu, vx);
            return false;
        case HV_PV_EXIT:
            advance(vcpu, vx);
            exit->rip = vx->rip;
            return true;
        case HV_PV_FAULT:
            return false;
        case HV_PV_UNHANDLED:
            break;
        }
    }
    fill_raw(exit, vx, HV_EXIT_HYPERCALL);
    bool lm = be->long_mode(vcpu);
    const uint64_t *g = vcpu->gpr;
    exit->hypercall.long_mode = lm;
    exit->hypercall.cpl = (uint8_t)be->get_cpl(vcpu);
    exit->hypercall.nr = lm ? g[HV_GPR_RAX] : (uint32_t)g[HV_GPR_RAX];
    /* Xen's order: 64-bit RDI RSI RDX R10 R8 R9; 32-bit EBX ECX EDX ESI EDI EBP. */
    static const uint8_t order64[6] = {HV_GPR_RDI, HV_GPR_RSI, HV_GPR_RDX,
                                       HV_GPR_R10, HV_GPR_R8,  HV_GPR_R9};
    static const uint8_t order32[6] = {HV_GPR_RBX, HV_GPR_RCX, HV_GPR_RDX,
                                       HV_GPR_RSI, HV_GPR_RDI, HV_GPR_RBP};
    for (int i = 0; i < 6; i++)
        exit->hypercall.args[i] = lm ? g[order64[i]] : (uint32_t)g[order32[i]];
    defer(vcpu, vx, HV_COMPLETE_ADVANCE);
    return true;
}

/* The guest's XSETBV (core/xsave.h): stored and finished, or a fault. */
static __attribute__((noinline, cold)) void handle_xsetbv(struct hv_vcpu *vcpu,
                                                          const struct hv_vexit *vx)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    struct hv_fetch_regs fr;
    uint64_t *g = vcpu->gpr;
    uint64_t v = ((g[HV_GPR_RDX] & 0xffffffffull) << 32) | (g[HV_GPR_RAX] & 0xffffffffull);
    fr.cr4 = 0;
    if (be->get_fetch_regs)
        be->get_fetch_regs(vcpu, &fr);
    int vec = hv_xsetbv(vcpu, (uint32_t)g[HV_GPR_RCX], v, (fr.cr4 & HV_CR4_OSXSAVE) != 0,
                        be->get_cpl(vcpu));
    if (vec == VEC_UD) {
        struct hv_event ev = {.type = HV_EVENT_EXCEPTION, .vector = VEC_UD};
        if (vcpu->queued_exc.type == HV_EVENT_NONE)
            hv_memcpy(&vcpu->queued_exc, &ev, sizeof(ev));
    } else if (vec) {
        queue_gp(vcpu);
    } else {
        advance(vcpu, vx);
    }
}

/* Returns true when the embedder must see the exit. */
static bool dispatch(struct hv_vcpu *vcpu, const struct hv_vexit *vx, struct hv_exit *exit)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    uint64_t *g = vcpu->gpr;

    switch (vx->kind) {
    case HV_VX_CPUID:
        hv_cpuid_exit(vcpu, &g[HV_GPR_RAX]);
        advance(vcpu, vx);
        return false;
    case HV_VX_RDMSR: {
        uint64_t v;
        if (hv_msr_read(vcpu, (uint32_t)g[HV_GPR_RCX], &v) != HV_OK) {
            queue_gp(vcpu);
            return false;
        }
        g[HV_GPR_RAX] = (uint32_t)v;
        g[HV_GPR_RDX] = v >> 32;
        advance(vcpu, vx);
        return false;
    }
    case HV_VX_WRMSR: {
        uint64_t v = ((g[HV_GPR_RDX] & 0xffffffffull) << 32) | (g[HV_GPR_RAX] & 0xffffffffull);
        if (hv_msr_write(vcpu, (uint32_t)g[HV_GPR_RCX], v) != HV_OK) {
            queue_gp(vcpu);
            return false;
        }
        advance(vcpu, vx);
        return false;
    }
    case HV_VX_IO:
        return handle_io(vcpu, vx, exit);
    case HV_VX_NPF: {
        if (hv_npf_spurious(vcpu, vx))
            return false;
        const struct mmio_region *rg;
        if (!vx->npf.present && (rg = hv_assist_region(vcpu, vx->npf.gpa)))
            return hv_assist_mmio(vcpu, vx, rg, exit);
        fill_raw(exit, vx, HV_EXIT_SLAT_FAULT);
        exit->slat.gpa = vx->npf.gpa;
        exit->slat.gva = vx->npf.gva;
        exit->slat.access = vx->npf.access;
        exit->slat.gva_valid = vx->npf.gva_valid;
        exit->slat.during_walk = vx->npf.during_walk;
        exit->slat.present = vx->npf.present;
        return true;
    }
    case HV_VX_XSETBV:
        handle_xsetbv(vcpu, vx);
        return false;
    case HV_VX_HLT: {
        advance(vcpu, vx);
        if (vcpu->vm->pv && vcpu->vm->pv->halt_wakeup && vcpu->vm->pv->halt_wakeup(vcpu))
            return false;
        uint64_t deadline = 0;
        if (vcpu->lapic && hv_lapic_halt(vcpu, vx->rflags, &deadline))
            return false;
        fill_raw(exit, vx, HV_EXIT_HLT);
        exit->hlt.deadline_ns = deadline;
        return true;
    }
    case HV_VX_HYPERCALL:
        return handle_hypercall(vcpu, vx, exit);
    case HV_VX_SHUTDOWN:
        vcpu->shutdown = 1;
        fill_raw(exit, vx, HV_EXIT_SHUTDOWN);
        return true;
    case HV_VX_ENTRY_FAILED:
        fill_raw(exit, vx, HV_EXIT_ENTRY_FAILED);
        exit->entry_failed.code = vx->entry_failed.code;
        hv_memcpy(exit->entry_failed.reason, vx->entry_failed.reason,
                  sizeof(exit->entry_failed.reason));
        exit->entry_failed.reason[sizeof(exit->entry_failed.reason) - 1] = 0;
        return true;
    case HV_VX_EXTINT:  /* the host took its interrupt after the exit */
    case HV_VX_PREEMPT: /* the loop top checks for kicks */
        return false;
    case HV_VX_IRQ_WINDOW:
        be->set_window(vcpu, HV_EVENT_EXTINT, false);
        return false;
    case HV_VX_NMI_WINDOW:
        be->set_window(vcpu, HV_EVENT_NMI, false);
        return false;
    default:
        fill_raw(exit, vx, HV_EXIT_UNHANDLED);
        return true;
    }
}

/*
 * What only some runs switch, out of line so that the common run pays one
 * 32-bit test at each end (objects.h keeps the flags adjacent): the
 * guest's DR0-3 (core/debugreg.h) and its extended state beyond x87/SSE
 * (core/xsave.h; after the FXSAVE switch in, before the one out: MXCSR is
 * that switch's); and no x87/SSE switch at all while hv_vcpu_load keeps
 * the guest's state loaded (fpu_kept, which keeps xs_on clear).
 */
#define RUN_FLAG_DR_USED   0x000000ffu
#define RUN_FLAG_XS_ON     0x0000ff00u
#define RUN_FLAG_DR_LOADED 0x00ff0000u
#define RUN_FLAG_FPU_KEPT  0xff000000u
#define RUN_ONLY_FPU_KEPT  0x01000000u /* the word with fpu_kept alone true */
#define RUN_ENTER_OTHER    (RUN_FLAG_DR_USED | RUN_FLAG_XS_ON | RUN_FLAG_FPU_KEPT)
#define RUN_LEAVE_OTHER    (RUN_FLAG_XS_ON | RUN_FLAG_DR_LOADED | RUN_FLAG_FPU_KEPT)

_Static_assert(offsetof(struct hv_vcpu, xs_on) == offsetof(struct hv_vcpu, dr_used) + 1 &&
                   offsetof(struct hv_vcpu, dr_loaded) == offsetof(struct hv_vcpu, xs_on) + 1 &&
                   offsetof(struct hv_vcpu, fpu_kept) == offsetof(struct hv_vcpu, dr_loaded) + 1,
               "the run's flags in one word, dr_used first (little-endian)");

static inline uint32_t run_flags(const struct hv_vcpu *vcpu)
{
    uint32_t w;
    __builtin_memcpy(&w, &vcpu->dr_used, sizeof(w));
    return w;
}

static inline __attribute__((always_inline)) void run_enter_other(struct hv_vcpu *vcpu,
                                                                  uint8_t *host_fpu)
{
    if (!vcpu->fpu_kept)
        hv_fpu_enter_guest(host_fpu, vcpu);
    if (__builtin_expect(hv_flag_pair(&vcpu->dr_used) != 0, 0)) { /* dr_used, xs_on */
        if (vcpu->xs_on)
            hv_xs_enter(vcpu);
        if (vcpu->dr_used)
            hv_debug_regs_load(vcpu);
    }
}

static inline __attribute__((always_inline)) void run_leave_other(struct hv_vcpu *vcpu,
                                                                  const uint8_t *host_fpu)
{
    if (__builtin_expect(hv_flag_pair(&vcpu->xs_on) != 0, 0)) { /* xs_on, dr_loaded */
        if (vcpu->dr_loaded)
            hv_debug_regs_put(vcpu);
        if (vcpu->xs_on)
            hv_xs_leave(vcpu);
    }
    if (!vcpu->fpu_kept)
        hv_fpu_leave_guest(vcpu, host_fpu);
}

/* A kick ends the run before the entry (hv_vcpu_kick); the local APIC's
   INIT/SIPI bit (HV_KICK_LAPIC) passes its gate first. Returns true when
   the run returns. */
static __attribute__((noinline)) bool kick_exit(struct hv_vcpu *vcpu, struct hv_exit *exit,
                                                uint32_t kick)
{
    if ((kick & HV_KICK_LAPIC) && vcpu->lapic && hv_lapic_gate(vcpu, exit))
        return true;
    if (!(kick & HV_KICK_USER))
        return false;
    clear_exit(exit);
    exit->reason = HV_EXIT_KICK;
    exit->rip = vcpu->vm->ctx->be->get_rip(vcpu);
    return true;
}

/* Enter the guest until an exit for the embedder, with the guest's x87/SSE
   state loaded. */
static inline __attribute__((always_inline)) hv_status_t
run_loop(const struct hv_backend_ops *be, struct hv_vcpu *vcpu, struct hv_exit *exit)
{
    struct hv_vexit vx;
    for (;;) {
        /* A plain load first: the exchange only when a kick is there. */
        uint32_t kick;
        if (__builtin_expect(__atomic_load_n(&vcpu->kick_pending, __ATOMIC_RELAXED), 0) &&
            (kick = __atomic_exchange_n(&vcpu->kick_pending, 0, __ATOMIC_ACQUIRE)) &&
            kick_exit(vcpu, exit, kick))
            return HV_OK;
        deliver_events(vcpu);
        hv_status_t st = be->run(vcpu, &vx); /* sets vcpu->host_cpu before the entry */
        if (st != HV_OK)
            return st;
        if (vcpu->exit_ready) { /* the backend's fast path filled exit */
            vcpu->exit_ready = false;
            return HV_OK;
        }
        /* The fast path's fills write the header and their member whole;
           the dispatcher's handlers may write a few fields only. */
        clear_exit(exit);
        if (dispatch(vcpu, &vx, exit))
            return HV_OK;
    }
}

/* The end of a run that returns before entering the guest. */
static inline hv_status_t run_end(struct hv_vcpu *vcpu, hv_status_t st)
{
    __atomic_store_n(&vcpu->running, 0, __ATOMIC_RELEASE);
    return st;
}

hv_status_t hv_vcpu_run(struct hv_vcpu *vcpu, struct hv_exit *exit)
{
    if (__builtin_expect(!vcpu || !exit, 0))
        return HV_ERR_INVALID_ARG;
    if (__builtin_expect(__atomic_exchange_n(&vcpu->running, 1, __ATOMIC_SEQ_CST), 0))
        return HV_ERR_BUSY;
    /* A change that needs no run in progress holds them (objects.h
       hv_vm_hold_runs): the exchange above is the full barrier. */
    if (__builtin_expect(__atomic_load_n(&vcpu->vm->runs_held, __ATOMIC_SEQ_CST), 0))
        return run_end(vcpu, HV_ERR_BUSY);
    if (__builtin_expect(vcpu->shutdown, 0))
        return run_end(vcpu, HV_ERR_STATE);
    const struct hv_pv_ops *pv = vcpu->vm->pv;
    if (pv && pv->run_gate && pv->run_gate(vcpu, exit))
        return run_end(vcpu, HV_OK);
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    if (complete_pending(be, vcpu, exit))
        return run_end(vcpu, HV_OK);
    vcpu->run_exit = exit;
    /* The common cases first: nothing but the x87/SSE switch, or (a vCPU
       hv_vcpu_load keeps loaded) nothing at all. */
    uint8_t host_fpu[HV_FPU_AREA] __attribute__((aligned(16)));
    uint32_t flags = run_flags(vcpu);
    if (__builtin_expect(!(flags & RUN_ENTER_OTHER), 1))
        hv_fpu_enter_guest(host_fpu, vcpu);
    else if (flags != RUN_ONLY_FPU_KEPT)
        run_enter_other(vcpu, host_fpu);
    hv_status_t st = run_loop(be, vcpu, exit);
    flags = run_flags(vcpu);
    if (__builtin_expect(!(flags & RUN_LEAVE_OTHER), 1))
        hv_fpu_leave_guest(vcpu, host_fpu);
    else if (flags != RUN_ONLY_FPU_KEPT)
        run_leave_other(vcpu, host_fpu);
    return run_end(vcpu, st);
}
