/*
 * The run loop of the SVM backend: enter the guest, finish the exits that
 * concern only SVM (EFER accesses, SVM instructions, reflected exceptions,
 * NMI bookkeeping) and normalize the rest into struct hv_vexit for the
 * core's dispatcher (APM Vol. 2 15.6-15.13, 15.25.6, Appendix C).
 */
#include <stddef.h>
#include "svm/svm.h"
#include "svm/svm_asm.h"
#include "svm/svm_decode_io.h"
#include "svm/svm_decode_npf.h"
#include "svm/svm_xcr0.h"
#include "core/debugreg.h"
#include "core/util.h"

static inline void svm_clgi(void)
{
    __asm__ volatile("clgi" ::: "memory");
}

static inline void svm_stgi(void)
{
    __asm__ volatile("stgi" ::: "memory");
}

/* VMSAVE takes the area's physical address in RAX (APM Vol. 3 VMSAVE). */
static inline void svm_vmsave(uint64_t pa)
{
    __asm__ volatile("vmsave %%rax" ::"a"(pa) : "memory");
}

/* Fill insn_len/next_rip of an instruction exit (0 when unknown). */
static void set_length(struct hv_vcpu *vcpu, struct hv_vexit *ex, uint32_t opcode)
{
    unsigned len = svm_guest_insn_len(vcpu, opcode);
    ex->insn_len = len;
    ex->next_rip = len ? svm_next_rip(vcpu, len) : 0;
}

/* Skip an instruction handled here; false if its length is unknown. */
static bool skip_insn(struct hv_vcpu *vcpu, uint32_t opcode)
{
    struct vmcb *v = svm_vmcb(vcpu);
    unsigned len = svm_guest_insn_len(vcpu, opcode);
    if (!len)
        return false;
    v->save.rip = svm_next_rip(vcpu, len);
    v->ctl.int_state &= ~SVM_INT_SHADOW;
    /* Finished here, so its single-step trap is ours to raise (APM Vol. 2
       13.1.3.4; backend.h inject_step). */
    if ((v->save.rflags & RFLAGS_TF) && !(v->ctl.eventinj & SVM_EVT_V))
        svm_inject_step(vcpu);
    return true;
}

/*
 * RDMSR/WRMSR of EFER: the guest's view never shows SVME, which must stay
 * set in the VMCB (15.5.1). Writes follow the architectural rules: reserved
 * bits and SVME (the guest has no SVM) -> #GP, LME may not change while
 * paging is on (APM Vol. 2 14.6.1), LMA is read-only.
 */
static bool handle_efer(struct hv_vcpu *vcpu, bool write)
{
    struct svm_ctx *sc = svm_ctx_of(vcpu->vm->ctx);
    struct vmcb *v = svm_vmcb(vcpu);
    uint64_t old = v->save.efer;

    if (!write) {
        uint64_t val = old & ~EFER_SVME;
        if (!skip_insn(vcpu, SVM_OP_RDMSR))
            return false;
        vcpu->gpr[HV_GPR_RAX] = (uint32_t)val;
        vcpu->gpr[HV_GPR_RDX] = val >> 32;
        return true;
    }
    uint64_t val =
        ((vcpu->gpr[HV_GPR_RDX] & 0xffffffffull) << 32) | (vcpu->gpr[HV_GPR_RAX] & 0xffffffffull);
    uint64_t reserved = ~(sc->limits.efer_allowed & ~EFER_SVME);
    if ((val & reserved) || ((v->save.cr0 & CR0_PG) && ((val ^ old) & EFER_LME))) {
        svm_inject_exception(vcpu, SVM_VEC_GP, true, 0);
        return true;
    }
    if (!skip_insn(vcpu, SVM_OP_WRMSR))
        return false;
    v->save.efer = (val & ~EFER_LMA) | (old & EFER_LMA) | EFER_SVME;
    return true;
}

/* NMI bookkeeping at an IRET exit: the handler is returning. */
static void handle_iret(struct hv_vcpu *vcpu)
{
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;
    s->nmi_blocked = false;
    s->iret_pending = true;
    s->iret_rip = v->save.rip;
    v->ctl.intercept_misc1 &= ~SVM_I1_IRET;
    svm_set_window(vcpu, HV_EVENT_NMI, s->nmi_window);
}

/* The NMI the core waits for can go in now. */
static bool nmi_window_open(struct hv_vcpu *vcpu)
{
    return svm_vcpu_of(vcpu)->nmi_window && svm_can_inject(vcpu, HV_EVENT_NMI);
}

/*
 * Decode the exit in the VMCB. Returns true when ex must go to the core,
 * false when the exit was finished here and the guest can re-enter.
 */
static bool handle_exit(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    struct svm_ctx *sc = svm_ctx_of(vcpu->vm->ctx);
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;
    uint32_t code = (uint32_t)v->ctl.exitcode;

    /* The header only: the decoders below fill the union member their
       kind uses (a byte-wise hv_memset of the whole record cost ~480
       instructions per exit). */
    ex->kind = HV_VX_UNHANDLED;
    ex->insn_len = 0;
    ex->next_rip = 0;
    ex->rip = v->save.rip;
    ex->rflags = v->save.rflags;
    ex->raw_code = v->ctl.exitcode;
    ex->raw_info1 = v->ctl.exitinfo1;
    ex->raw_info2 = v->ctl.exitinfo2;

    if (code == SVM_EXIT_INVALID) {
        hv_memset(&ex->entry_failed, 0, sizeof(ex->entry_failed));
        ex->kind = HV_VX_ENTRY_FAILED;
        ex->entry_failed.code = v->ctl.exitcode;
        hv_strlcpy(ex->entry_failed.reason, svm_diagnose_vmcb(v, &sc->limits),
                   sizeof(ex->entry_failed.reason));
        return true;
    }
    /* The common exit left no event behind and no IRET to track. */
    if ((v->ctl.exitintinfo & SVM_EVT_V) || s->iret_pending)
        svm_after_exit_events(vcpu);
    else
        v->ctl.eventinj = 0;

    switch (code) {
    case SVM_EXIT_INTR:
    case SVM_EXIT_NMI:
        /* The host took it right after STGI, in svm_run. */
        ex->kind = HV_VX_EXTINT;
        return true;
    case SVM_EXIT_VINTR:
        if (s->irq_window) {
            ex->kind = HV_VX_IRQ_WINDOW;
            return true;
        }
        svm_set_window(vcpu, HV_EVENT_EXTINT, false);
        if (nmi_window_open(vcpu)) {
            ex->kind = HV_VX_NMI_WINDOW;
            return true;
        }
        return false;
    case SVM_EXIT_IRET:
        handle_iret(vcpu);
        return false;
    case SVM_EXIT_CPUID:
        ex->kind = HV_VX_CPUID;
        set_length(vcpu, ex, SVM_OP_CPUID);
        return true;
    case SVM_EXIT_HLT:
        ex->kind = HV_VX_HLT;
        set_length(vcpu, ex, SVM_OP_HLT);
        return true;
    case SVM_EXIT_VMMCALL:
        ex->kind = HV_VX_HYPERCALL;
        set_length(vcpu, ex, SVM_OP_VMMCALL);
        return true;
    case SVM_EXIT_MSR: {
        bool write = v->ctl.exitinfo1 & 1; /* 0 RDMSR, 1 WRMSR (15.11) */
        if ((uint32_t)vcpu->gpr[HV_GPR_RCX] == MSR_EFER && handle_efer(vcpu, write))
            return false;
        ex->kind = write ? HV_VX_WRMSR : HV_VX_RDMSR;
        set_length(vcpu, ex, write ? SVM_OP_WRMSR : SVM_OP_RDMSR);
        return true;
    }
    case SVM_EXIT_IOIO:
        svm_decode_io(s, v, ex);
        return true;
    case SVM_EXIT_NPF:
        svm_decode_npf(vcpu, ex);
        return true;
    case SVM_EXIT_SHUTDOWN:
        ex->kind = HV_VX_SHUTDOWN;
        return true;
    case SVM_EXIT_VMRUN:
    case SVM_EXIT_VMLOAD:
    case SVM_EXIT_VMSAVE:
    case SVM_EXIT_STGI:
    case SVM_EXIT_CLGI:
    case SVM_EXIT_SKINIT:
    case SVM_EXIT_INVLPGA:
        /* The guest's EFER.SVME reads 0: these raise #UD (APM Vol. 3). */
        svm_inject_exception(vcpu, SVM_VEC_UD, false, 0);
        return false;
    case SVM_EXIT_XSETBV:
        /* Checked and stored by the core (core/xsave.h); the CPU gets the
           guest's XCR0 around VMRUN (svm_xcr0.h). */
        ex->kind = HV_VX_XSETBV;
        set_length(vcpu, ex, SVM_OP_XSETBV);
        return true;
    case SVM_EXIT_CR4_WRITE:
        /* Checked and carried out here (svm_cr4.c). */
        if (svm_cr4_write(vcpu))
            return false;
        break;
    case SVM_EXIT_INVD:
        /* INVD would discard host cache lines; as a guest it is a no-op. */
        if (skip_insn(vcpu, SVM_OP_INVD))
            return false;
        break;
    case SVM_EXIT_DR0_READ ... SVM_EXIT_DR0_READ + 3:
    case SVM_EXIT_DR0_WRITE ... SVM_EXIT_DR0_WRITE + 3:
        /* The guest's DR0-3 into the CPU; the MOV runs again there. */
        hv_debug_regs_load(vcpu);
        svm_debug_intercept(vcpu, false);
        return false;
    case SVM_EXIT_EXCP_BASE + SVM_VEC_DB:
        svm_inject_exception(vcpu, SVM_VEC_DB, false, 0);
        return false;
    case SVM_EXIT_EXCP_BASE + SVM_VEC_AC:
        svm_inject_exception(vcpu, SVM_VEC_AC, true, (uint32_t)v->ctl.exitinfo1);
        return false;
    default:
        break;
    }
    ex->kind = HV_VX_UNHANDLED;
    return true;
}

/*
 * The entry for the rare cases, out of line so that svm_run's common one
 * (none of them) costs it a few tests: the ASID may hold stale entries on
 * this CPU (svm_asid.c), IRET bookkeeping is pending, or XCR0 must be
 * switched around the world switch (svm_xcr0.h).
 * GIF=0, vcpu->host_cpu set.
 */
static __attribute__((noinline)) void enter_slow(struct hv_vcpu *vcpu, uint32_t cpu,
                                                 uint64_t host_cr4)
{
    struct hv_vm *vm = vcpu->vm;
    const struct svm_ctx *sc = svm_ctx_of(vm->ctx);
    struct svm_vm *sv = svm_vm_of(vm);
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;
    uint64_t host_area_pa = sc->cpu[cpu].host_area_pa;

    if (__atomic_load_n(&sv->last_on[cpu], __ATOMIC_ACQUIRE) != s->serial)
        v->ctl.tlb_control = svm_asid_tlb_control(
            &sv->last_on[cpu], s->serial, (vm->ctx->caps.features & HV_FEAT_FLUSH_BY_ASID) != 0);
    /* The fast path leaves IRET bookkeeping to svm_after_exit_events. */
    if (s->iret_pending)
        __atomic_store_n(&vcpu->quiet, false, __ATOMIC_RELAXED);
    if (!(host_cr4 & SVM_CR4_OSXSAVE) && vcpu->xcr0 == HV_XCR0_X87) {
        svm_world_switch(vcpu, s->vmcb_pa, host_area_pa, v);
        return;
    }
    uint64_t host_xcr0 = svm_xcr0_enter(host_cr4, vcpu);
    svm_world_switch(vcpu, s->vmcb_pa, host_area_pa, v);
    svm_xcr0_leave(host_cr4, host_xcr0, vcpu, &s->xcr0_native);
    if (__builtin_expect(s->xcr0_native != 0, 0)) {
        hv_xcr0_untrapped(vcpu, s->xcr0_native);
        s->xcr0_native = 0;
    }
}

/*
 * The rest of an exit no fast path finished (the full path): the
 * bookkeeping after the world switch, then the decoding. Returns true
 * when ex goes to the core, false to re-enter.
 */
static inline __attribute__((always_inline)) bool full_exit(struct hv_vcpu *vcpu,
                                                            struct hv_vexit *ex)
{
    struct vmcb *v = svm_vmcb(vcpu);
    if ((uint32_t)v->ctl.exitcode == SVM_EXIT_INVALID) /* no flush happened */
        __atomic_store_n(&svm_vm_of(vcpu->vm)->last_on[vcpu->host_cpu], 0, __ATOMIC_RELEASE);
    /* The fast paths reset it themselves when they finish or fill an exit. */
    v->ctl.tlb_control = SVM_TLB_NONE;

    if (handle_exit(vcpu, ex))
        return true;
    if (nmi_window_open(vcpu)) {
        hv_memset(ex, 0, sizeof(*ex));
        ex->kind = HV_VX_NMI_WINDOW;
        ex->rip = v->save.rip;
        return true;
    }
    /* Internal exits never starve the host: a kick ends the loop. */
    if (__atomic_load_n(&vcpu->kick_pending, __ATOMIC_ACQUIRE)) {
        hv_vexit_preempt(ex, v->save.rip);
        return true;
    }
    return false;
}

/*
 * One entry and its exit, up to where a fast path may have filled the
 * embedder's exit (vcpu->exit_ready). Only vcpu stays live across the
 * calls (the host's CPU number is asked first, everything after the world
 * switch is reloaded), so that svm_run's frame stays small.
 */
static inline __attribute__((always_inline)) hv_status_t enter(struct hv_vcpu *vcpu)
{
    /* GIF=0 from here to the exit: no migration, and an interrupt that
       arrives now (e.g. a kick after a SLAT flush) stays pending and makes
       the guest exit at once instead of slipping in before VMRUN. */
    svm_clgi();
    uint32_t cpu = hv_host_cpu_current(&vcpu->vm->ctx->host);
    struct hv_vm *vm = vcpu->vm;
    struct svm_ctx *sc = svm_ctx_of(vm->ctx);
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    struct vmcb *v = s->vmcb;
    if (cpu >= sc->ncpus || !sc->cpu[cpu].enabled) {
        svm_stgi();
        return HV_ERR_HOST;
    }
    if (__builtin_expect(vcpu->loaded && cpu != vcpu->loaded_cpu, 0)) {
        svm_stgi(); /* hv_vcpu_load bound it to another CPU */
        return HV_ERR_STATE;
    }
    /* Where kicks and the SLAT grace period find it (before the guest-mode
       epoch turns odd, in svm_world_switch); then a kick set before that
       (its interrupt taken before the CLGI, or sent to the CPU this vCPU
       ran on last) keeps it out: HV_ERR_AGAIN (core/objects.h
       HV_KICK_EVENT). */
    if (__builtin_expect(hv_entry_publish_cpu(vcpu, cpu), 0)) {
        svm_stgi();
        return HV_ERR_AGAIN;
    }
    v->save.rax = vcpu->gpr[HV_GPR_RAX];
    v->save.rsp = vcpu->gpr[HV_GPR_RSP];
    /* XCR0 is the CPU's, not the VMCB's: switched with GIF=0 when the
       host's CR4.OSXSAVE or the guest's XCR0 makes it needed. PKRU needs no
       switch: the guest cannot set CR4.PKE (svm_cr4.c). */
    uint64_t host_cr4 = hv_read_cr4();
    if (__builtin_expect(__atomic_load_n(&svm_vm_of(vm)->last_on[cpu], __ATOMIC_ACQUIRE) ==
                                 s->serial &&
                             !svm_iret_or_xcr0(s) && !(host_cr4 & SVM_CR4_OSXSAVE),
                         1))
        svm_world_switch(vcpu, s->vmcb_pa, sc->cpu[cpu].host_area_pa, v);
    else
        enter_slow(vcpu, cpu, host_cr4);
    /* A host interrupt that caused the exit is taken here, with the host's
       XCR0 back. */
    svm_stgi();

    v = svm_vmcb(vcpu);
    vcpu->gpr[HV_GPR_RAX] = v->save.rax;
    vcpu->gpr[HV_GPR_RSP] = v->save.rsp;
    return HV_OK;
}

/* The loop after an exit that needs the full path: its own (larger)
   frame, which an exit the fast path filled never pays. svm_entry.S's
   svm_run tail-calls it, with the guest's RAX/RSP in vcpu->gpr and GIF=1. */
/* One entry and its exit through enter(): true when the run returns *st
   now (a failure; a kick found at the entry, the run loop's turn; an
   exit svm_fast_exit filled for the embedder), false to go on with the
   exit's full path. */
static inline __attribute__((always_inline)) bool
enter_ends_run(struct hv_vcpu *vcpu, struct hv_vexit *ex, hv_status_t *st)
{
    *st = enter(vcpu);
    if (*st == HV_ERR_AGAIN) { /* kicked before the entry */
        hv_vexit_preempt(ex, svm_vmcb(vcpu)->save.rip);
        *st = HV_OK;
        return true;
    }
    return *st != HV_OK || vcpu->exit_ready;
}

hv_status_t svm_run_full(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    hv_status_t st;
    while (!full_exit(vcpu, ex))
        if (enter_ends_run(vcpu, ex, &st))
            return st;
    return HV_OK;
}

/* The whole run in C: svm_entry.S's svm_run hands over to it, before the
   entry, whenever the entry is not the common one. */
hv_status_t svm_run_c(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    hv_status_t st;
    if (enter_ends_run(vcpu, ex, &st))
        return st;
    return svm_run_full(vcpu, ex);
}

/*
 * hv_backend_ops::load: the host's hidden segment and system-call MSR
 * state saved into this CPU's host area now (VMSAVE, APM Vol. 2 15.5.4),
 * so that svm_run's entries here skip it: the embedder keeps that state
 * until the put (hv/vcpu.h). Other vCPUs' runs save the same values.
 * With GIF=0 and the CPU number asked again: a caller that moved since
 * the core asked would otherwise put this CPU's state in the other's area,
 * which that CPU's loaded runs would VMLOAD.
 */
hv_status_t svm_load(struct hv_vcpu *vcpu, uint32_t cpu)
{
    const struct svm_ctx *sc = svm_ctx_of(vcpu->vm->ctx);
    if (cpu >= sc->ncpus || !sc->cpu[cpu].enabled)
        return HV_ERR_HOST;
    svm_clgi();
    bool here = hv_host_cpu_current(&vcpu->vm->ctx->host) == cpu;
    if (here)
        svm_vmsave(sc->cpu[cpu].host_area_pa);
    svm_stgi();
    return here ? HV_OK : HV_ERR_HOST;
}

/* The layout svm_entry.S's svm_run reads (svm_asm.h). */
_Static_assert(offsetof(struct hv_vcpu, gpr[HV_GPR_RAX]) == HV_VCPU_RAX, "svm_asm.h");
_Static_assert(offsetof(struct hv_vcpu, gpr[HV_GPR_RSP]) == HV_VCPU_RSP, "svm_asm.h");
_Static_assert(offsetof(struct hv_vcpu, vm) == HV_VCPU_VM, "svm_asm.h");
_Static_assert(offsetof(struct hv_vcpu, host_cpu) == HV_VCPU_HOST_CPU, "svm_asm.h");
_Static_assert(offsetof(struct hv_vcpu, kick_pending) == HV_VCPU_KICK_PENDING, "svm_asm.h");
_Static_assert(sizeof(((struct hv_vcpu *)0)->kick_pending) == 4, "svm_asm.h: cmpl");
_Static_assert(offsetof(struct hv_vcpu, exit_ready) == HV_VCPU_EXIT_READY, "svm_asm.h");
_Static_assert(offsetof(struct hv_vcpu, loaded) == HV_VCPU_LOADED, "svm_asm.h");
_Static_assert(offsetof(struct hv_vcpu, xcr0) == HV_VCPU_XCR0, "svm_asm.h");
_Static_assert(sizeof(((struct hv_vcpu *)0)->xcr0) == 8, "svm_asm.h: 64-bit compare");
_Static_assert(offsetof(struct svm_vcpu, host_xcr0) == SVM_VCPU_HOST_XCR0, "svm_asm.h");
_Static_assert(offsetof(struct hv_vcpu, loaded_cpu) == HV_VCPU_LOADED_CPU, "svm_asm.h");
_Static_assert(sizeof(((struct hv_vcpu *)0)->loaded) == 1, "svm_asm.h: cmpb");
_Static_assert(sizeof(((struct hv_vcpu *)0)->loaded_cpu) == 4, "svm_asm.h: 32-bit compare");
_Static_assert(offsetof(struct hv_vcpu, arch) == HV_VCPU_ARCH, "svm_asm.h");
_Static_assert(offsetof(struct svm_vcpu, xcr0_switch) == SVM_VCPU_IRET_PENDING + 1,
               "svm_asm.h: cmpw covers iret_pending and xcr0_switch");
_Static_assert(offsetof(struct hv_vm, ctx) == HV_VM_CTX, "svm_asm.h");
_Static_assert(offsetof(struct hv_vm, arch) == HV_VM_ARCH, "svm_asm.h");
_Static_assert(offsetof(struct hv_ctx, host.ops.opaque) == HV_CTX_HOST_OPAQUE, "svm_asm.h");
_Static_assert(offsetof(struct hv_ctx, host.ops.cpu_current) == HV_CTX_HOST_CPU_CURRENT,
               "svm_asm.h");
_Static_assert(offsetof(struct hv_ctx, arch) == HV_CTX_ARCH, "svm_asm.h");
_Static_assert(offsetof(struct svm_ctx, ncpus) == SVM_CTX_NCPUS, "svm_asm.h");
_Static_assert(offsetof(struct svm_ctx, cpu) == SVM_CTX_CPU, "svm_asm.h");
_Static_assert(sizeof(struct svm_cpu) == SVM_CPU_SIZE, "svm_asm.h");
_Static_assert(offsetof(struct svm_cpu, host_area_pa) == SVM_CPU_HOST_AREA_PA, "svm_asm.h");
_Static_assert(offsetof(struct svm_cpu, enabled) == SVM_CPU_ENABLED, "svm_asm.h");
_Static_assert(offsetof(struct svm_vm, last_on) == SVM_VM_LAST_ON, "svm_asm.h");
_Static_assert(offsetof(struct svm_vcpu, vmcb) == SVM_VCPU_VMCB, "svm_asm.h");
_Static_assert(offsetof(struct svm_vcpu, vmcb_pa) == SVM_VCPU_VMCB_PA, "svm_asm.h");
_Static_assert(offsetof(struct svm_vcpu, serial) == SVM_VCPU_SERIAL, "svm_asm.h");
_Static_assert(offsetof(struct svm_vcpu, iret_pending) == SVM_VCPU_IRET_PENDING, "svm_asm.h");
_Static_assert(sizeof(((struct svm_vcpu *)0)->iret_pending) == 1, "svm_asm.h: cmpw");
_Static_assert(sizeof(((struct svm_vcpu *)0)->xcr0_switch) == 1, "svm_asm.h: cmpw");
_Static_assert(sizeof(((struct hv_vcpu *)0)->exit_ready) == 1, "svm_asm.h: cmpb");
_Static_assert(sizeof(((struct svm_cpu *)0)->enabled) == 1, "svm_asm.h: cmpb");
_Static_assert(sizeof(((struct hv_vcpu *)0)->host_cpu) == 4, "svm_asm.h: 32-bit store");
_Static_assert(sizeof(((struct svm_ctx *)0)->ncpus) == 4, "svm_asm.h: 32-bit compare");
_Static_assert(offsetof(struct vmcb, save.rax) == VMCB_RAX, "svm_asm.h");
_Static_assert(offsetof(struct vmcb, save.rsp) == VMCB_RSP, "svm_asm.h");
_Static_assert(offsetof(struct vmcb, save.cr2) == VMCB_CR2, "svm_asm.h");
_Static_assert(SVM_ASM_CR4_OSXSAVE == SVM_CR4_OSXSAVE,
               "svm_asm.h");
