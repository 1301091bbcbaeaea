/*
 * The exit fast path: exits the library finishes without the embedder
 * (CPUID, the PV layer's hot hypercalls, MMIO and port I/O through a
 * handler) are
 * completed here, and an MMIO or port I/O exit for the embedder is filled
 * here (then vmx_run returns at once), called by vmx_entry.S right after
 * the VM exit with interrupts still off, and the guest re-enters with
 * VMRESUME without the backend's and the core's run loops. Those loops would add nothing when the
 * vCPU is quiet (core/run.c deliver_events: no event queued, no window open, nothing due in the PV
 * layer): anything that changes that kicks the vCPU, and the kick's interrupt, held pending while
 * RFLAGS.IF is 0, makes the next VMRESUME exit at once (external-interrupt and NMI exiting, SDM
 * Vol. 3C 26.2), which takes the full path; where an emulator does not do that, the time bound in
 * exit_is_plain() does. (SDM sections: Vol. 3C as numbered since 2023, VM exits in chapter 28.)
 *
 * What vmx_run does around an exit, and why it holds here:
 *   - the VMCS stays current and the CPU the same (interrupts off), so the
 *     per-CPU host-state fields and VPID need nothing; an EPT generation
 *     bumped by another CPU (vmx_vm::ept_gen) takes the full path, which
 *     flushes;
 *   - IDT-vectoring information (SDM 28.2.4) is never valid for a CPUID,
 *     VMCALL or I/O exit: those are instruction exits, and an exit during
 *     event delivery reports the cause of that exit instead; "NMI
 *     unblocking due to IRET" is reported for EPT violations, exception
 *     exits and a few others, never for these (SDM 28.2.3): neither is
 *     read for them. An EPT violation can have either (a fault on the IDT
 *     or the stack while delivering an event, an IRET's stack pop): both
 *     take the full path, whose vmx_events_after_exit re-injects or
 *     re-blocks;
 *   - RIP advances by the VM-exit instruction length (SDM 28.2.5) and the
 *     STI / MOV SS blocking ends (vmx_skip_insn does the same; for MMIO
 *     the core moves RIP through the backend's set_rip, which does too;
 *     for I/O it does so at the next run, as on the full path);
 *   - RFLAGS does not change, so the preemption timer's arming (vmx_run's
 *     arm_timer) stays right; its VMCS value is reloaded by every entry;
 *   - the guest's RSP stays in the VMCS: vcpu->gpr[HV_GPR_RSP] is synced
 *     by vmx_run, and for the MMIO case, whose MOV may use RSP as its base
 *     or its register, around the assist here; an I/O exit for the
 *     embedder copies it from the VMCS (vmx_run's next entry writes it
 *     back, and the embedder may read it before);
 *   - an event made due by a hypercall is delivered by the core's event
 *     delivery and written to the VMCS as vmx_run would before the entry.
 * Runs with the host's MSRs (VM exit loaded them) but interrupts off and
 * the host's GDTR/IDTR/TR limits not restored: only library code that
 * neither waits for another CPU nor returns to the embedder, and an MMIO
 * region's or a port range's handler, whose contract (include/hv/assist.h) allows this:
 * interrupts possibly off, no sleeping, no waiting for another CPU.
 *
 * VMCS accesses go through VMX_FAST_READ / VMX_FAST_WRITE so that the unit
 * test (tests/unit/test_vmx_fast.c) can run this file on a fake VMCS.
 */
#include "vmx/vmx.h"
#include "vmx/vmx_decode.h"
#include "vmx/vmx_fetch_regs.h"
#include "core/assist.h"
#include "core/cpu.h"
#include "core/fast.h"
#include "core/policy.h"
#include "core/pv.h"
#include "lapic/hooks.h"

#ifndef VMX_FAST_READ
#define VMX_FAST_READ(field)         vmx_read(field)
#define VMX_FAST_WRITE(field, value) vmx_write_nocheck(field, value)
#endif

/* VMX_FAST_READ as a function, for vmx_read_fetch_regs (inlined). */
static inline uint64_t fast_read(uint32_t field)
{
    return VMX_FAST_READ(field);
}

/* The exit left nothing behind and the full path would add nothing before
   the next entry: the vCPU is quiet, no kick is pending, no SLAT change
   awaits its flush on this CPU, and vmx_run entered less than
   VMX_PREEMPT_TSC ago. The last bounds how long the host's interrupts stay
   off: on hardware a pending one makes the next VMRESUME exit at once,
   but Bochs does not deliver it to a guest running with IF=0 (vmx_run.c,
   arm_timer), whose preemption timer each fast re-entry reloads; a guest
   looping on CPUID with IF=0 would keep the host out for good. */
static inline bool exit_is_plain(const struct hv_vcpu *vcpu, const struct vmx_vcpu *vv)
{
    const struct vmx_vm *vm = vmx_vm_of(vcpu->vm);
    return hv_quiet_now(vcpu) && !__atomic_load_n(&vcpu->kick_pending, __ATOMIC_RELAXED) &&
           __atomic_load_n(&vm->ept_gen, __ATOMIC_RELAXED) == vv->ept_gen &&
           hv_rdtsc() < vv->fast_until;
}

/* As exit_is_plain, and the guest is not single-stepping (RFLAGS.TF): the
   full path raises the #DB after an instruction it finishes (core/objects.h
   hv_step_trap) or notes it for the completion at the next run. */
static inline bool exit_completes_here(const struct hv_vcpu *vcpu, const struct vmx_vcpu *vv)
{
    return exit_is_plain(vcpu, vv) && !(VMX_FAST_READ(VMCS_GUEST_RFLAGS) & X86_RFLAGS_TF);
}

/* Resume at next, after the exiting instruction: the STI / MOV SS
   shadow over (SDM 25.4.2). */
static void resume_at(uint64_t next)
{
    VMX_FAST_WRITE(VMCS_GUEST_RIP, next);
    uint64_t intr = VMX_FAST_READ(VMCS_GUEST_INTERRUPTIBILITY);
    if (intr & (VMX_INTERRUPT_STI | VMX_INTERRUPT_MOVSS))
        VMX_FAST_WRITE(VMCS_GUEST_INTERRUPTIBILITY,
                       intr & ~(uint64_t)(VMX_INTERRUPT_STI | VMX_INTERRUPT_MOVSS));
}

/* Resume after the exiting instruction: RIP + the VM-exit instruction
   length (SDM 28.2.5). */
static void resume_after(void)
{
    resume_at(VMX_FAST_READ(VMCS_GUEST_RIP) + VMX_FAST_READ(VMCS_EXIT_INSN_LEN));
}

/* The core's event delivery before a fast re-entry, its injection into
   the VMCS as vmx_run does before an entry (vmx_events_before_entry; the
   CR2 of an injected #PF is loaded by vmx_entry.S on the re-entry). */
static void deliver_now(struct hv_vcpu *vcpu)
{
    hv_deliver_events(vcpu);
    if (vmx_vcpu_of(vcpu)->inject.info & VMX_INTR_VALID)
        vmx_events_before_entry(vcpu);
}

/* CPUID through the library's policy (core/cpuid.c). */
static __attribute__((noinline)) bool cpuid_by_policy(struct hv_vcpu *vcpu)
{
    hv_cpuid_exit_policy(vcpu, &vcpu->gpr[HV_GPR_RAX]);
    resume_after();
    return true;
}

/* The same: a pass-through leaf answered here by the CPU, in a path with
   no call and so without a frame; any other leaf out of line. */
static __attribute__((noinline)) bool fast_cpuid(struct hv_vcpu *vcpu)
{
    if (!hv_cpuid_passthrough(vcpu->vm, (uint32_t)vcpu->gpr[HV_GPR_RAX]))
        return cpuid_by_policy(vcpu);
    hv_cpuid_exit_passthrough(vcpu, &vcpu->gpr[HV_GPR_RAX]);
    resume_after();
    return true;
}

/*
 * VMCALL the PV layer can finish here (hv_pv_ops::hypercall_fast). If the
 * call may have made an event due (or queued an exception), the core's
 * event delivery runs; its injection, or one the call made itself
 * (core/fast.h hv_fast_inject_irq), goes into the VMCS, as vmx_run does
 * before an entry (vmx_events_before_entry; the CR2 of an injected #PF is
 * loaded by vmx_entry.S on the re-entry).
 */
static __attribute__((noinline)) bool fast_hypercall(struct hv_vcpu *vcpu)
{
    const struct hv_pv_ops *pv = vcpu->vm->pv;
    if (!pv || !pv->hypercall_fast)
        return false;
    bool events = false;
    struct hv_fetch_regs fr;
    vmx_read_fetch_regs(vmx_vcpu_of(vcpu), &fr, fast_read); /* the VMCS is current */
    enum hv_pv_result r = pv->hypercall_fast(vcpu, &fr, &events);
    if (r == HV_PV_UNHANDLED)
        return false;
    if (r == HV_PV_DONE)
        resume_after();
    if (events || r == HV_PV_FAULT)
        hv_deliver_events(vcpu);
    /* The delivery's injection, or the call's own (hv_fast_inject_irq). */
    if (vmx_vcpu_of(vcpu)->inject.info & VMX_INTR_VALID)
        vmx_events_before_entry(vcpu);
    return true;
}

/*
 * WRMSR (SDM Vol. 3C 26.1.3: ECX names the MSR, EDX:EAX the value) to the
 * local APIC's hot MSRs: the EOI, the SELF IPI, the TSC deadline
 * (lapic/hooks.h). The APIC's state changed, so the core's delivery runs
 * before the re-entry, its injection into the VMCS as in fast_hypercall.
 */
static __attribute__((noinline)) bool fast_wrmsr(struct hv_vcpu *vcpu)
{
    const uint64_t *g = vcpu->gpr;
    uint64_t value = (g[HV_GPR_RDX] << 32) | (uint32_t)g[HV_GPR_RAX];
    if (!vcpu->lapic || !hv_lapic_msr_write_fast(vcpu, (uint32_t)g[HV_GPR_RCX], value))
        return false;
    resume_after();
    deliver_now(vcpu);
    return true;
}

/* EPT-violation exit qualification (SDM 28.2.1, table 28-7). */
#define EPTV_READ      (1u << 0)
#define EPTV_WRITE     (1u << 1)
#define EPTV_FETCH     (1u << 2)
#define EPTV_ALLOWED   (7u << 3) /* the entry allowed read/write/execute */
#define EPTV_GLA_VALID (1u << 7)
#define EPTV_GLA_FINAL (1u << 8) /* with bit 7: the access to the final translation */

/*
 * An EPT violation in a registered MMIO region (core/fast.h hv_fast_npf):
 * a handler's access finished here, or the exit record for the embedder
 * filled (vmx_run then returns at once). The vexit is what vmx_decode.c
 * makes of the exit. Left to the full path: a violation on a present
 * entry (a permission fault), an instruction fetch, an access that is not
 * the final translation of a linear address (a guest paging-structure
 * entry, a PDPTE load: bits 7 and 8), one during event delivery (IDT-vectoring
 * information valid, SDM 28.2.4) and one that unblocked NMIs in an IRET
 * (bit 12, SDM 28.2.3: blocking must be set again before the retry).
 */
static __attribute__((noinline)) bool fast_ept_violation(struct hv_vcpu *vcpu)
{
    uint64_t q = VMX_FAST_READ(VMCS_EXIT_QUAL);
    const uint64_t gla_final = EPTV_GLA_VALID | EPTV_GLA_FINAL;
    if ((q & (EPTV_FETCH | EPTV_ALLOWED | VMX_INTR_NMI_UNBLOCK)) || (q & gla_final) != gla_final ||
        (VMX_FAST_READ(VMCS_IDT_VEC_INFO) & VMX_INTR_VALID))
        return false;
    uint64_t gpa = VMX_FAST_READ(VMCS_GUEST_PHYS_ADDR);
    const struct mmio_region *rg = hv_fast_mmio_region(vcpu, gpa);
    if (!rg)
        return false;
    struct hv_fetch_regs fr;
    vmx_read_fetch_regs(vmx_vcpu_of(vcpu), &fr, fast_read); /* the VMCS is current */
    struct hv_vexit vx;
    vx.kind = HV_VX_NPF;
    vx.insn_len = 0;
    vx.next_rip = 0;
    vx.rip = fr.rip;
    vx.raw_code = VMX_EXIT_EPT_VIOLATION;
    vx.raw_info1 = q;
    vx.raw_info2 = gpa;
    vx.npf.gpa = gpa;
    vx.npf.present = 0;
    vx.npf.access =
        ((q & EPTV_READ) ? HV_ACCESS_READ : 0) | ((q & EPTV_WRITE) ? HV_ACCESS_WRITE : 0);
    vx.npf.gva_valid = 1;
    vx.npf.gva = VMX_FAST_READ(VMCS_GUEST_LINEAR_ADDR);
    vx.npf.during_walk = 0;
    vx.npf.insn_count = 0; /* VMX provides no instruction bytes */
    uint64_t *g = vcpu->gpr;
    uint64_t rsp = VMX_FAST_READ(VMCS_GUEST_RSP);
    g[HV_GPR_RSP] = rsp;
    uint64_t next;
    int r = hv_fast_npf(vcpu, &vx, rg, &fr, &next);
    if (r == HV_FAST_NONE)
        return false;
    if (g[HV_GPR_RSP] != rsp) /* a load into RSP */
        VMX_FAST_WRITE(VMCS_GUEST_RSP, g[HV_GPR_RSP]);
    if (r == HV_FAST_EXIT)
        return false; /* vcpu->exit_ready: vmx_run returns */
    resume_at(next);
    if (r == HV_FAST_DONE_EVENTS) /* the local APIC's page: as fast_wrmsr */
        deliver_now(vcpu);
    return true;
}

/*
 * The embedder's exit of an IN or OUT: the record filled here (core/fast.h
 * hv_io_exit), vmx_enter returns, and run_inner (vmx_run.c) returns at
 * once on exit_ready, without its exit decoding or the core's dispatcher.
 * The record is the full path's (vmx_decode.c, then core/run.c handle_io):
 * the qualification read through the same accessors (vmx_decode.h), the
 * next RIP from the same instruction length, raw_info2 0 as
 * vmx_decode_exit reports it for an exit without a guest-physical address.
 * Of what run_inner does after an exit, only the RSP sync matters here
 * (vmx_events_after_exit has nothing to do: see the top of this file).
 * Returns false: the world switch leaves.
 */
static inline bool io_exit(struct hv_vcpu *vcpu, uint64_t q, uint64_t rip, uint32_t len)
{
    uint64_t *g = vcpu->gpr;
    g[HV_GPR_RSP] = VMX_FAST_READ(VMCS_GUEST_RSP);
    hv_io_exit(vcpu, vcpu->run_exit, vmx_io_port(q), vmx_io_size(q), vmx_io_write(q), rip,
               rip + len, g[HV_GPR_RAX], VMX_EXIT_IO, q, 0);
    vcpu->exit_ready = true;
    return false;
}

/*
 * An IN or OUT in a VM with port ranges (core/pio.h): a range's handler
 * carries it out and the guest resumes after it (true); its failure
 * stops the vCPU with HV_EXIT_UNHANDLED, and a port no range holds is the
 * embedder's exit (false). Out of line: fast_io keeps no frame for VMs
 * without ranges.
 */
static __attribute__((noinline)) bool fast_pio(struct hv_vcpu *vcpu, uint64_t q, uint64_t rip,
                                               uint32_t len)
{
    uint16_t port = vmx_io_port(q);
    uint8_t size = vmx_io_size(q);
    const struct hv_pio_range *r = hv_pio_find(vcpu, port, size);
    if (!r)
        return io_exit(vcpu, q, rip, len);
    uint64_t *g = vcpu->gpr;
    hv_status_t st = hv_pio_call(r, port, size, vmx_io_write(q), &g[HV_GPR_RAX]);
    if (st == HV_OK) {
        resume_at(rip + len);
        return true;
    }
    g[HV_GPR_RSP] = VMX_FAST_READ(VMCS_GUEST_RSP);
    hv_pio_failed(vcpu->run_exit, st, port, rip, VMX_EXIT_IO);
    vcpu->exit_ready = true;
    return false;
}

/* Port I/O (IN, OUT): a port range's handler's, else the embedder's
   (above). String I/O (INS/OUTS) takes the full path: the assist
   emulates it. */
static __attribute__((noinline)) bool fast_io(struct hv_vcpu *vcpu)
{
    uint64_t q = VMX_FAST_READ(VMCS_EXIT_QUAL);
    if (vmx_io_string(q))
        return false;
    uint64_t rip = VMX_FAST_READ(VMCS_GUEST_RIP);
    uint32_t len = vmx_insn_len((uint32_t)VMX_FAST_READ(VMCS_EXIT_INSN_LEN));
    if (__builtin_expect(vcpu->vm->pio != NULL, 0))
        return fast_pio(vcpu, q, rip, len);
    return io_exit(vcpu, q, rip, len);
}

bool vmx_fast_exit(struct hv_vcpu *vcpu)
{
    /* The full 32 bits: an entry failure (bit 31) never matches. Tested
       one by one, CPUID first: it is the cheapest exit, so a test in
       front of it costs it the most. */
    uint32_t reason = (uint32_t)VMX_FAST_READ(VMCS_EXIT_REASON);
    const struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    if (reason == VMX_EXIT_CPUID)
        return exit_completes_here(vcpu, vv) && fast_cpuid(vcpu);
    if (reason == VMX_EXIT_VMCALL)
        return exit_completes_here(vcpu, vv) && fast_hypercall(vcpu);
    if (reason == VMX_EXIT_EPT_VIOLATION)
        return exit_completes_here(vcpu, vv) && fast_ept_violation(vcpu);
    if (reason == VMX_EXIT_IO)
        return exit_completes_here(vcpu, vv) && fast_io(vcpu);
    if (reason == VMX_EXIT_WRMSR)
        return exit_completes_here(vcpu, vv) && fast_wrmsr(vcpu);
    return false;
}
