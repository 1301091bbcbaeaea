/*
 * The exit fast path: exits the library finishes without the embedder
 * (CPUID, the PV layer's hot hypercalls, MMIO and port I/O through a
 * handler) are
 * completed here, and an MMIO or port I/O exit for the embedder is filled
 * here, by svm_fast_exit(), which the world switch (svm_entry.S) calls
 * right after the #VMEXIT with GIF still 0; the guest then re-enters
 * without the host's segment state being saved and restored again and
 * without the core's run loop.
 * That loop would add nothing when the vCPU is quiet (core/run.c
 * deliver_events: no event queued, no window open, nothing due in the PV
 * layer): anything that changes that kicks the vCPU, and the kick's
 * interrupt, held pending by GIF=0, makes the next VMRUN exit at once with
 * an INTR exit, which takes the full path.
 *
 * Runs with the host's FS/GS/TR/LDTR and syscall MSRs loaded (VMLOAD of
 * the host area) but with GIF=0 and the guest's CR2: only code of the
 * library that neither waits for another CPU nor calls the embedder.
 */
#include "svm/svm.h"
#include "svm/svm_decode_io.h"
#include "svm/svm_decode_npf.h"
#include "svm/svm_insn_fast.h"
#include "core/assist.h"
#include "core/fast.h"
#include "core/policy.h"
#include "core/pv.h"
#include "lapic/hooks.h"

/* The exit left nothing behind: no event whose delivery it interrupted
   (EXITINTINFO, 15.7.2), no kick to report. (svm_run clears quiet for an
   entry with IRET bookkeeping pending.) */
static bool exit_is_plain(struct hv_vcpu *vcpu, const struct vmcb *v)
{
    return hv_quiet_now(vcpu) && !(v->ctl.exitintinfo & SVM_EVT_V) &&
           !__atomic_load_n(&vcpu->kick_pending, __ATOMIC_RELAXED);
}

/* As exit_is_plain, and the guest is not single-stepping (RFLAGS.TF): the
   full path raises the #DB after an instruction it finishes (core/objects.h
   hv_step_trap) or notes it for the completion at the next run. */
static inline bool exit_completes_here(struct hv_vcpu *vcpu, const struct vmcb *v)
{
    return exit_is_plain(vcpu, v) && !(v->save.rflags & RFLAGS_TF);
}

/* Past the instruction: RIP, and the STI/MOV SS shadow ends. */
static inline void advance_to(struct vmcb *v, uint64_t next)
{
    v->save.rip = next;
    v->ctl.int_state &= ~SVM_INT_SHADOW;
}

/* Resume after the instruction (advance_to), nothing injected, and the TLB
   control of the first entry not repeated (svm_run sets it). */
static void resume_at(struct vmcb *v, uint64_t next)
{
    advance_to(v, next);
    v->ctl.eventinj = 0;
    v->ctl.tlb_control = SVM_TLB_NONE;
}

/* RIP after the exiting instruction: the inline cases (NRIP save, the
   code memo), else the full measurement (a page walk, library code only);
   false if unknown. */
static inline __attribute__((always_inline)) bool next_rip(struct hv_vcpu *vcpu,
                                                           const struct vmcb *v, uint32_t opcode,
                                                           uint64_t *next)
{
    if (svm_insn_len_fast(vcpu, v, opcode & 0xffffff, opcode >> 24, next))
        return true;
    unsigned len = svm_guest_insn_len(vcpu, opcode);
    if (!len)
        return false;
    *next = svm_next_rip(vcpu, len);
    return true;
}

/* CPUID through the library's policy (core/cpuid.c), resuming at next. */
static __attribute__((noinline)) bool cpuid_by_policy(struct hv_vcpu *vcpu, struct vmcb *v,
                                                      uint64_t next)
{
    hv_cpuid_exit_policy(vcpu, &v->save.rax);
    resume_at(v, next);
    return true;
}

/* The same: a pass-through leaf answered here by the CPU, in a path with
   no call and so without a frame; any other leaf out of line. */
static inline __attribute__((always_inline)) bool finish_cpuid(struct hv_vcpu *vcpu, struct vmcb *v,
                                                               uint64_t next)
{
    if (!hv_cpuid_passthrough(vcpu->vm, (uint32_t)v->save.rax))
        return cpuid_by_policy(vcpu, v, next);
    hv_cpuid_exit_passthrough(vcpu, &v->save.rax);
    resume_at(v, next);
    return true;
}

/* With NRIP save: the end of the instruction from the VMCB. */
static __attribute__((noinline)) bool cpuid_at_nrip(struct hv_vcpu *vcpu, struct vmcb *v)
{
    return finish_cpuid(vcpu, v, v->ctl.nrip);
}

/* Without, when the code memo does not hold: the instruction's end
   measured through a walk (next_rip's inline cases, tried again, cost
   little beside it), then the answer. */
static __attribute__((noinline)) bool cpuid_after_walk(struct hv_vcpu *vcpu, struct vmcb *v)
{
    uint64_t next;
    return next_rip(vcpu, v, SVM_OP_CPUID, &next) && finish_cpuid(vcpu, v, next);
}

/* Without: the instruction's end from the code memo, then the answer;
   the rest out of line, so that this path makes no call. */
static __attribute__((noinline)) bool fast_cpuid(struct hv_vcpu *vcpu, struct vmcb *v)
{
    uint64_t next;
    if (!svm_insn_len_memo(vcpu, v, SVM_OP_CPUID & 0xffffff, SVM_OP_CPUID >> 24, &next))
        return cpuid_after_walk(vcpu, v);
    return finish_cpuid(vcpu, v, next);
}

/*
 * VMMCALL the PV layer can finish here (hv_pv_ops::hypercall_fast). The
 * guest's RAX lives in the VMCB while the world switch runs. EVENTINJ is
 * cleared before the call, which may inject an interrupt itself (core/fast.h
 * hv_fast_inject_irq). If the call may have made an event due, the run
 * loop's delivery runs before the re-entry, as it would in the core.
 */
static __attribute__((noinline)) bool fast_hypercall(struct hv_vcpu *vcpu, struct vmcb *v)
{
    const struct hv_pv_ops *pv = vcpu->vm->pv;
    uint64_t next;
    if (!pv || !pv->hypercall_fast || !next_rip(vcpu, v, SVM_OP_VMMCALL, &next))
        return false;
    bool events = false;
    struct hv_fetch_regs fr;
    svm_vmcb_fetch_regs(v, &fr);
    vcpu->gpr[HV_GPR_RAX] = v->save.rax;
    v->ctl.eventinj = 0;
    v->ctl.tlb_control = SVM_TLB_NONE;
    enum hv_pv_result r = pv->hypercall_fast(vcpu, &fr, &events);
    if (r == HV_PV_UNHANDLED)
        return false;
    v->save.rax = vcpu->gpr[HV_GPR_RAX];
    if (r == HV_PV_DONE)
        advance_to(v, next);
    if (events)
        hv_deliver_events(vcpu);
    return true;
}

/*
 * A nested page fault in a registered MMIO region (core/fast.h
 * hv_fast_npf): a handler's access finished here, or the exit record for
 * the embedder filled (svm_run then returns at once). The region is
 * looked up first, from EXITINFO2 (the faulting guest-physical address,
 * APM Vol. 2 15.25.6): any other fault (the embedder's, a permission
 * fault) leaves before the decoding. Decoded as svm_run decodes it
 * (svm_decode_npf); the guest's RAX and RSP, which live in the VMCB, may
 * be the MOV's register or base.
 */
static __attribute__((noinline)) bool fast_npf(struct hv_vcpu *vcpu, struct vmcb *v)
{
    if (v->ctl.exitinfo1 & (SVM_NPF_P | SVM_NPF_RSV))
        return false;
    const struct mmio_region *rg = hv_fast_mmio_region(vcpu, v->ctl.exitinfo2);
    if (!rg)
        return false;
    struct hv_vexit vx;
    vx.rip = v->save.rip;
    vx.raw_code = v->ctl.exitcode;
    svm_decode_npf(vcpu, &vx);
    struct hv_fetch_regs fr;
    svm_vmcb_fetch_regs(v, &fr);
    uint64_t *g = vcpu->gpr;
    g[HV_GPR_RAX] = v->save.rax;
    g[HV_GPR_RSP] = v->save.rsp;
    uint64_t next;
    int r = hv_fast_npf(vcpu, &vx, rg, &fr, &next);
    if (r == HV_FAST_NONE)
        return false;
    v->save.rax = g[HV_GPR_RAX];
    v->save.rsp = g[HV_GPR_RSP];
    v->ctl.eventinj = 0;
    v->ctl.tlb_control = SVM_TLB_NONE;
    if (r == HV_FAST_EXIT)
        return false; /* vcpu->exit_ready: svm_run returns */
    advance_to(v, next);
    if (r == HV_FAST_DONE_EVENTS) /* the local APIC's page: as fast_wrmsr */
        hv_deliver_events(vcpu);
    return true;
}

/* The embedder's exit of an IN or OUT: the record filled here (core/fast.h
   hv_io_exit); svm_run then returns at once, without its exit decoding or
   the core's dispatcher. Returns false: the world switch leaves. */
static inline bool io_exit(struct hv_vcpu *vcpu, struct vmcb *v, uint64_t i1, uint64_t i2)
{
    hv_io_exit(vcpu, vcpu->run_exit, svm_io_port(i1), svm_io_size(i1), svm_io_write(i1),
               v->save.rip, i2, v->save.rax, SVM_EXIT_IOIO, i1, i2);
    vcpu->exit_ready = true;
    v->ctl.eventinj = 0;
    v->ctl.tlb_control = SVM_TLB_NONE;
    return false;
}

/*
 * An IN or OUT in a VM with port ranges (core/pio.h): a range's handler
 * carries it out and the guest resumes after it (true); its failure
 * stops the vCPU with HV_EXIT_UNHANDLED, and a port no range holds is the
 * embedder's exit (false). Out of line: fast_io keeps no frame for VMs
 * without ranges.
 */
static __attribute__((noinline)) bool fast_pio(struct hv_vcpu *vcpu, struct vmcb *v, uint64_t i1,
                                               uint64_t i2)
{
    uint16_t port = svm_io_port(i1);
    uint8_t size = svm_io_size(i1);
    const struct hv_pio_range *r = hv_pio_find(vcpu, port, size);
    if (!r)
        return io_exit(vcpu, v, i1, i2);
    hv_status_t st = hv_pio_call(r, port, size, svm_io_write(i1), &v->save.rax);
    if (st == HV_OK) {
        resume_at(v, i2);
        return true;
    }
    hv_pio_failed(vcpu->run_exit, st, port, v->save.rip, SVM_EXIT_IOIO);
    vcpu->exit_ready = true;
    v->ctl.eventinj = 0;
    v->ctl.tlb_control = SVM_TLB_NONE;
    return false;
}

/*
 * Port I/O (IN, OUT): a port range's handler's, else the embedder's
 * (above). String I/O takes the full path (the assist emulates it).
 * EXITINFO1 is read with the accessors svm_decode_io uses; EXITINFO2
 * holds the next RIP for IOIO even without NRIP save.
 */
static __attribute__((noinline)) bool fast_io(struct hv_vcpu *vcpu, struct vmcb *v)
{
    uint64_t i1 = v->ctl.exitinfo1;
    if (i1 & SVM_IO_STR)
        return false;
    if (__builtin_expect(vcpu->vm->pio != NULL, 0))
        return fast_pio(vcpu, v, i1, v->ctl.exitinfo2);
    return io_exit(vcpu, v, i1, v->ctl.exitinfo2);
}

/*
 * WRMSR (EXITINFO1 1, APM Vol. 2 15.11) to the local APIC's hot MSRs:
 * the EOI, the SELF IPI, the TSC deadline (lapic/hooks.h). The APIC's
 * state changed, so the run loop's delivery runs before the re-entry, as
 * it would in the core (it may inject the interrupt now due). The guest's
 * RAX is in the VMCB; RCX and RDX in the vCPU.
 */
static __attribute__((noinline)) bool fast_wrmsr(struct hv_vcpu *vcpu, struct vmcb *v)
{
    uint64_t next;
    if (v->ctl.exitinfo1 != 1 || !vcpu->lapic)
        return false;
    const uint64_t *g = vcpu->gpr;
    uint64_t value = (g[HV_GPR_RDX] << 32) | (uint32_t)v->save.rax;
    if (!next_rip(vcpu, v, SVM_OP_WRMSR, &next) ||
        !hv_lapic_msr_write_fast(vcpu, (uint32_t)g[HV_GPR_RCX], value))
        return false;
    resume_at(v, next);
    hv_deliver_events(vcpu);
    return true;
}

bool svm_fast_exit(struct hv_vcpu *vcpu, struct vmcb *v)
{
    /* Tested in this order on purpose: CPUID is the cheapest exit, so it
       gets the first compare. */
    uint32_t code = (uint32_t)v->ctl.exitcode;
    if (code == SVM_EXIT_CPUID) {
        if (!exit_completes_here(vcpu, v))
            return false;
        if (svm_vcpu_of(vcpu)->nrip_save && v->ctl.nrip - v->save.rip - 1 < 15)
            return cpuid_at_nrip(vcpu, v);
        return fast_cpuid(vcpu, v);
    }
    if (code == SVM_EXIT_VMMCALL)
        return exit_completes_here(vcpu, v) && fast_hypercall(vcpu, v);
    if (code == SVM_EXIT_NPF)
        return exit_completes_here(vcpu, v) && fast_npf(vcpu, v);
    if (code == SVM_EXIT_IOIO)
        return exit_completes_here(vcpu, v) && fast_io(vcpu, v);
    if (code == SVM_EXIT_MSR)
        return exit_completes_here(vcpu, v) && fast_wrmsr(vcpu, v);
    return false;
}
