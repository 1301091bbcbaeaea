/*
 * run(): enter the guest and bring back an exit the core must see.
 *
 * Each iteration, with interrupts off: make the VMCS current here (VMCLEAR
 * on the old CPU first if the vCPU moved), flush EPT/VPID translations that
 * may be stale on this CPU, refresh the per-CPU host-state fields, put a
 * pending event in the injection field, switch (vmx_entry.S), restore what
 * VM exit leaves changed (GDTR/IDTR limits, TR), then read the exit. Exits
 * the backend finishes (CR accesses, VMX instructions -> #UD, MONITOR/MWAIT)
 * loop; the rest are decoded (vmx_decode.c) and returned. Interrupts are
 * restored before returning: with "acknowledge interrupt on exit" off, a
 * host interrupt that caused the exit is still pending and the host takes
 * it through its own IDT right there.
 */
#include "vmx/vmx.h"
#include "vmx/vmx_check.h"
#include "vmx/vmx_decode.h"
#include "core/cpu.h"
#include "core/debugreg.h"
#include "core/util.h"
#include "core/xsave.h"

#define VEC_UD 6

/*
 * VMWRITE of a field written before every entry, without the status
 * vmx_write() derives from RFLAGS (which these callers never looked at):
 * the guest's RSP exists on every VMX CPU (SDM Vol. 3C 25.4.1), the
 * preemption timer's value wherever arm_timer() writes it (the control is
 * supported, 25.5.1). A failure would show at the entry as an invalid
 * field value anyway.
 */
static inline void vmwrite_entry(uint32_t field, uint64_t value)
{
    __asm__ volatile("vmwrite %1, %0" ::"r"((uint64_t)field), "rm"(value) : "cc", "memory");
}

static void entry_failed(struct hv_vexit *ex, uint64_t code, uint64_t rip, const char *reason)
{
    hv_memset(ex, 0, sizeof(*ex));
    ex->kind = HV_VX_ENTRY_FAILED;
    ex->raw_code = code;
    ex->rip = rip;
    ex->entry_failed.code = code;
    hv_strlcpy(ex->entry_failed.reason, reason, sizeof(ex->entry_failed.reason));
}

/* VM entry failed after loading guest state began: exit reason bit 31
   (SDM 26.7). The CPU does not say which guest-state check failed: find
   it by running the checks of SDM 26.3.1 on the VMCS. */
static void diagnose_entry_failure(struct hv_vcpu *vcpu, uint32_t reason, uint64_t qual,
                                   struct hv_vexit *ex)
{
    struct vmx_guest_state g;
    char why[96];
    uint32_t basic = VMX_EXIT_REASON_BASIC(reason);

    vmx_read_guest(vcpu, &g);
    if (basic == VMX_EXIT_BAD_GUEST_STATE) {
        if (vmx_check_guest(&g, &vmx_ctx_of_vcpu(vcpu)->cfg, why, sizeof(why)))
            hv_strlcpy(why, "invalid guest state (no failing check identified)", sizeof(why));
    } else if (basic == VMX_EXIT_MSR_LOADING) {
        hv_snprintf(why, sizeof(why), "VM-entry MSR loading failed at entry %u", (unsigned)qual);
    } else {
        hv_snprintf(why, sizeof(why), "VM entry failed: %s", vmx_exit_reason_name(basic));
    }
    entry_failed(ex, reason, g.rip, why);
    ex->raw_info1 = qual;
    hv_log(&vcpu->vm->ctx->host, HV_LOG_ERROR, "vmx: vCPU %u entry failed (exit reason 0x%x): %s",
           vcpu->id, reason, why);
}

/*
 * A SLAT flush request taken at an entry (vmx_entry.S, core/vm.c
 * wait_for_guests): the VM's EPT-derived translations dropped on this CPU
 * now (INVEPT, SDM Vol. 3C 29.4.3.1), the generation recorded as the full
 * path's flush_before_entry records it. Interrupts are off.
 */
void vmx_flush_for_entry(struct hv_vcpu *vcpu)
{
    struct vmx_vm *vm = vmx_vm_of(vcpu->vm);
    __atomic_store_n(&vcpu->flush_req, 0, __ATOMIC_RELAXED);
    uint64_t gen = __atomic_load_n(&vm->ept_gen, __ATOMIC_ACQUIRE);
#if !HV_HOSTED
    vmx_invept(vmx_ctx_of_vcpu(vcpu)->cfg.invept_type, vm->eptp);
#endif
    vmx_vcpu_of(vcpu)->ept_gen = gen;
}

/* Per-CPU invalidation before entering (see vmx_cpu.c on VPIDs). Inline
   in both instances of run_inner. */
static inline __attribute__((always_inline)) void flush_before_entry(struct hv_vcpu *vcpu,
                                                                     uint32_t cpu)
{
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vm *vm = vmx_vm_of(vcpu->vm);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    uint64_t gen = __atomic_load_n(&vm->ept_gen, __ATOMIC_ACQUIRE);

    if (gen != vv->ept_gen || vv->last_cpu != cpu) {
        vmx_invept(vc->cfg.invept_type, vm->eptp);
        vv->ept_gen = gen;
    }
    if (vc->cfg.vpid && vv->last_cpu != cpu)
        vmx_invvpid(vc->cfg.invvpid_type, vv->vpid, 0);
    vv->last_cpu = cpu;
}

/*
 * A guest that runs with RFLAGS.IF=0 must still give the CPU back at the
 * host's next interrupt. External-interrupt exiting does that on hardware
 * (SDM 25.2); Bochs 2.7 re-evaluates interrupt masking only when IF changes
 * inside the guest, so a guest entered with IF=0 that never toggles it
 * would never exit. Arming the VMX-preemption timer (SDM 25.5.1) while the
 * guest has IF=0 bounds that: the exit is reported as HV_VX_PREEMPT and the
 * host's pending interrupt is taken right after it. On hardware it costs
 * one extra exit per VMX_PREEMPT_TSC TSC cycles of IF=0 guest time.
 */
static inline __attribute__((always_inline)) void arm_timer(struct hv_vcpu *vcpu)
{
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    if (!vc->cfg.preempt_timer)
        return;
    bool arm = !(vmx_read(VMCS_GUEST_RFLAGS) & X86_RFLAGS_IF);
    if (arm != vv->timer_armed) {
        vmx_write(VMCS_PIN_CTLS, vc->cfg.ctl[VMX_CTL_PIN] | (arm ? VMX_PIN_PREEMPT : 0));
        vv->timer_armed = arm;
    }
    if (arm)
        vmwrite_entry(VMCS_PREEMPT_TIMER, VMX_PREEMPT_TSC >> vc->cfg.timer_shift);
}

/* Exits finished here. Returns true to enter again. */
static bool handle_internal(struct hv_vcpu *vcpu, uint32_t basic, uint64_t qual, uint32_t insn_len,
                            struct hv_vexit *ex)
{
    switch (basic) {
    case VMX_EXIT_CR_ACCESS:
        return vmx_handle_cr(vcpu, qual, insn_len) != VMX_CR_UNHANDLED;
    case VMX_EXIT_VMCALL + 1 ... VMX_EXIT_VMXON: /* VMCLEAR .. VMXON */
    case VMX_EXIT_INVEPT:
    case VMX_EXIT_INVVPID:
    case VMX_EXIT_VMFUNC:
        /* The guest sees no VMX (CPUID policy): these are #UD. */
        vmx_raise(vcpu, VEC_UD, false, 0);
        return true;
    case VMX_EXIT_MONITOR:
    case VMX_EXIT_MWAIT:
        /* MWAIT may return at any time; treating both as NOPs is correct
           and keeps the host CPU from idling in a guest. */
        vmx_skip_insn(insn_len);
        return true;
    case VMX_EXIT_INVD:
    case VMX_EXIT_WBINVD:
        vmx_skip_insn(insn_len);
        return true;
    case VMX_EXIT_DR_ACCESS:
        /* The guest's DR0-3 into the CPU; the MOV runs again there
           (DR6 is already the guest's, DR7 the VMCS's). */
        hv_debug_regs_load(vcpu);
        vmx_debug_intercept(vcpu, false);
        return true;
    case VMX_EXIT_EPT_MISCONFIG:
        /* libhv built an entry the CPU rejects: a bug in our tables. */
        hv_log(&vcpu->vm->ctx->host, HV_LOG_ERROR,
               "vmx: BUG: EPT misconfiguration at gpa 0x%llx (vCPU %u, rip 0x%llx)",
               (unsigned long long)vmx_read(VMCS_GUEST_PHYS_ADDR), vcpu->id,
               (unsigned long long)vmx_read(VMCS_GUEST_RIP));
        (void)ex;
        return false;
    default:
        return false;
    }
}

/* Inlined twice (vmx_run): for a vCPU hv_vcpu_load bound to its CPU
   (loaded) and for the others, so that neither tests the other's case. */
static inline __attribute__((always_inline)) hv_status_t
run_inner(struct hv_vcpu *vcpu, struct hv_vexit *ex, const bool loaded)
{
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    const struct hv_host *host = &vcpu->vm->ctx->host;
    struct vmx_host_save save;
    struct vmx_exit_raw raw;

    for (;;) {
        hv_status_t st;
        uint64_t flags = vmx_vmcs_begin(vcpu, &st);
        if (st != HV_OK) {
            vmx_vmcs_end(flags);
            hv_log(host, HV_LOG_ERROR, "vmx: cannot make the VMCS current (%s)", hv_status_str(st));
            /* HV_ERR_HOST: a CPU number that names no enabled CPU. */
            return st == HV_ERR_HOST ? HV_ERR_HOST : HV_ERR_HW;
        }
        if (!vc->cfg.ug && (!(vv->cr0 & X86_CR0_PE) || !(vv->cr0 & X86_CR0_PG))) {
            entry_failed(ex, 0, vmx_read(VMCS_GUEST_RIP),
                         (vv->cr0 & X86_CR0_PE) ? "paging off needs unrestricted guest"
                                                : "real mode needs unrestricted guest");
            vmx_vmcs_end(flags);
            return HV_OK;
        }
        uint32_t cpu = hv_host_cpu_current(host);
        /* The VMCS is current on vv->cpu, and with interrupts off this
           thread is there: another number is the embedder's callback
           naming no CPU libhv enabled (kicks would go astray), as SVM's
           entry refuses it. */
        if (__builtin_expect(cpu != vv->cpu, 0)) {
            vmx_vmcs_end(flags);
            hv_log(host, HV_LOG_ERROR, "vmx: vCPU %u: host CPU number %u, but running on %u",
                   vcpu->id, cpu, vv->cpu);
            return HV_ERR_HOST;
        }
        /* hv_vcpu_load bound it to another CPU: its VMCS holds that CPU's
           host state (vmx_load). */
        if (loaded && __builtin_expect(cpu != vcpu->loaded_cpu, 0)) {
            vmx_vmcs_end(flags);
            return HV_ERR_STATE;
        }
        /* Where kicks and the SLAT grace period find it (interrupts are
           off until the exit: no migration); then a kick set before that
           (its interrupt taken before the CLI, or sent to the CPU this vCPU
           ran on last) keeps it out, and the run loop takes its turn
           (core/objects.h HV_KICK_EVENT). */
        if (__builtin_expect(hv_entry_publish_cpu(vcpu, cpu), 0)) {
            hv_vexit_preempt(ex, vmx_read(VMCS_GUEST_RIP));
            vmx_vmcs_end(flags);
            return HV_OK;
        }
        flush_before_entry(vcpu, cpu);
        if (!loaded)
            vmx_vmcs_host_state(vcpu, &save);
        vmwrite_entry(VMCS_GUEST_RSP, vcpu->gpr[HV_GPR_RSP]);
        vmx_events_before_entry(vcpu);
        arm_timer(vcpu);

        /* The exit fast path (vmx_fast.c) re-enters with interrupts off
           and reloads the timer each time: it stops after this long. */
        vv->fast_until = hv_rdtsc() + VMX_PREEMPT_TSC;
        /* DR6 is not guest state in the VMCS (SDM Vol. 3C 25.4.1 has DR7
           only): the guest's in the CPU while it runs. */
#if !HV_HOSTED
        uint64_t host_dr6 = hv_read_dr6();
        hv_write_dr6(vv->dr6);
        /* XCR0 is not in the VMCS either and XGETBV does not exit: the
           guest's while it runs (core/xsave.h), needed when the host has
           CR4.OSXSAVE (host_fields read CR4 just now) or the guest's XCR0
           is not x87: both flags with one 16-bit load. */
        uint64_t host_xcr0 = 0;
        if (__builtin_expect(hv_flag_pair(&vv->xcr0_host) != 0, 0))
            host_xcr0 = hv_xcr0_enter(vv->host.cr4, vcpu->xcr0);
#endif
        int rc = vmx_enter(vcpu, vv);
#if !HV_HOSTED
        if (__builtin_expect(host_xcr0 != 0, 0))
            hv_xcr0_leave(vv->host.cr4, host_xcr0);
        vv->dr6 = hv_read_dr6();
        hv_write_dr6(host_dr6);
#endif
        if (!loaded)
            vmx_host_restore(&save);

        if (rc != 0) {
            /* VMfailInvalid / VMfailValid (SDM 30.2, 30.4). */
            uint32_t err = rc == 2 ? (uint32_t)vmx_read(VMCS_INSN_ERROR) : 0;
            char why[64];
            hv_snprintf(why, sizeof(why), "%s: %s", vv->launched ? "VMRESUME" : "VMLAUNCH",
                        rc == 2 ? vmx_insn_error_name(err) : "no current VMCS");
            entry_failed(ex, err, vmx_read(VMCS_GUEST_RIP), why);
            vmx_vmcs_end(flags);
            hv_log(host, HV_LOG_ERROR, "vmx: vCPU %u: %s (error %u)", vcpu->id, why, err);
            return HV_OK;
        }
        /* vmx_fast_exit filled the embedder's exit (MMIO, port I/O): the
           exit needs nothing else (no event in flight, RSP synced). */
        if (vcpu->exit_ready) {
            vmx_vmcs_end(flags);
            return HV_OK;
        }

        raw.reason = (uint32_t)vmx_read(VMCS_EXIT_REASON);
        raw.qual = vmx_read(VMCS_EXIT_QUAL);
        uint32_t basic = VMX_EXIT_REASON_BASIC(raw.reason);
        if (raw.reason & VMX_EXIT_REASON_ENTRY_FAIL) {
            diagnose_entry_failure(vcpu, raw.reason, raw.qual, ex);
            vmx_vmcs_end(flags);
            return HV_OK;
        }
        vcpu->gpr[HV_GPR_RSP] = vmx_read(VMCS_GUEST_RSP);
        raw.insn_len = (uint32_t)vmx_read(VMCS_EXIT_INSN_LEN);
        vmx_events_after_exit(vcpu, basic, raw.qual, raw.insn_len);

        bool host_nmi = false;
        if (basic == VMX_EXIT_EXC_NMI) {
            uint32_t info = (uint32_t)vmx_read(VMCS_EXIT_INTR_INFO);
            host_nmi = (info & VMX_INTR_VALID) && VMX_INTR_TYPE(info) == VMX_INTR_TYPE_NMI;
        }
        if (handle_internal(vcpu, basic, raw.qual, raw.insn_len, ex)) {
            vmx_vmcs_end(flags);
            if (__atomic_load_n(&vcpu->kick_pending, __ATOMIC_ACQUIRE)) {
                hv_vexit_preempt(ex, 0);
                return HV_OK;
            }
            continue;
        }

        raw.gpa = vmx_exit_has_gpa(basic) ? vmx_read(VMCS_GUEST_PHYS_ADDR) : 0;
        raw.gla = basic == VMX_EXIT_EPT_VIOLATION ? vmx_read(VMCS_GUEST_LINEAR_ADDR) : 0;
        raw.insn_info_valid = vc->cfg.ins_outs_info;
        raw.insn_info = raw.insn_info_valid ? (uint32_t)vmx_read(VMCS_EXIT_INSN_INFO) : 0;
        raw.rip = vmx_read(VMCS_GUEST_RIP);
        raw.rflags = vmx_read(VMCS_GUEST_RFLAGS);
        if (vv->entry_ctls & VMX_ENTRY_IA32E &&
            (vmx_read(VMCS_GUEST_ES_AR + 2 * HV_SEG_CS) & VMX_AR_L))
            raw.cpu_mode_addr_size = 8;
        else
            raw.cpu_mode_addr_size =
                (vmx_read(VMCS_GUEST_ES_AR + 2 * HV_SEG_CS) & VMX_AR_DB) ? 4 : 2;
        vmx_decode_exit(&raw, ex);
        if (ex->kind == HV_VX_UNHANDLED)
            hv_log(host, HV_LOG_DEBUG, "vmx: vCPU %u: unhandled exit %u (%s) qual 0x%llx", vcpu->id,
                   basic, vmx_exit_reason_name(basic), (unsigned long long)raw.qual);
        vmx_vmcs_end(flags);
        /* NMI exiting took the host's NMI: hand it to the host's handler. */
        if (host_nmi)
            __asm__ volatile("int $2");
        return HV_OK;
    }
}

/*
 * hv_backend_ops::load: the VMCS made current here and its host-state
 * area and MSR lists written once (vmx_vmcs_host_state), which the runs
 * here then skip with the restore of what a VM exit leaves shortened
 * (GDTR/IDTR limits 0xffff, TR limit 67H, SDM Vol. 3C 28.5.2): the put
 * restores those. The embedder keeps the host state until then (hv/vcpu.h).
 */
hv_status_t vmx_load(struct hv_vcpu *vcpu, uint32_t cpu)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    hv_status_t st;
    uint64_t flags = vmx_vmcs_begin(vcpu, &st);
    if (st == HV_OK && vv->cpu != cpu)
        st = HV_ERR_HOST; /* the callback names another CPU than the VMCS's */
    if (st == HV_OK)
        vmx_vmcs_host_state(vcpu, &vv->load_save);
    vmx_vmcs_end(flags);
    return st == HV_OK || st == HV_ERR_HOST ? st : HV_ERR_HW;
}

/* hv_backend_ops::put, on the CPU of the load. */
void vmx_put(struct hv_vcpu *vcpu)
{
    uint64_t flags = x86_irq_save();
    vmx_host_restore(&vmx_vcpu_of(vcpu)->load_save);
    x86_irq_restore(flags);
}

_Static_assert(offsetof(struct vmx_vcpu, xcr0_guest) == offsetof(struct vmx_vcpu, xcr0_host) + 1,
               "one 16-bit load tests both");

/* hv_backend_ops::xcr0_changed */
void vmx_xcr0_changed(struct hv_vcpu *vcpu)
{
    vmx_vcpu_of(vcpu)->xcr0_guest = vcpu->xcr0 != HV_XCR0_X87;
}

static __attribute__((noinline)) hv_status_t run_loaded(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    return run_inner(vcpu, ex, true);
}

static __attribute__((noinline)) hv_status_t run_plain(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    return run_inner(vcpu, ex, false);
}

/* x87/SSE state is switched by the core around the whole run loop (core/fpu.h). */
hv_status_t vmx_run(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    return vcpu->loaded ? run_loaded(vcpu, ex) : run_plain(vcpu, ex);
}
