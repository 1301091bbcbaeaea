/*
 * The VMX exit fast path (backends/vmx/vmx_fast.c) on a fake VMCS: the
 * file is compiled here with its VMREAD/VMWRITE redirected to an array,
 * and the core's event delivery and the backend's injection wrapped
 * (-Wl,--wrap) so that their calls are counted. Checked: the gating (only
 * CPUID, VMCALL, EPT violations and port I/O, only for a quiet vCPU with
 * no kick, no pending EPT flush and time left before interrupts must open;
 * an entry failure never), that a refused exit changes nothing, and what
 * a finished one does (the policy's registers, RIP + the exit's
 * instruction length, the STI/MOV SS shadow cleared, the PV hook's
 * results, event delivery when the hook says an event may be due). For
 * EPT violations the core's MMIO fast path (hv_fast_npf) and the region
 * lookup are wrapped too: checked are what reaches them (the vexit as
 * vmx_decode.c fills it, the guest's RSP from the VMCS), the cases left
 * to the full path (present entry, fetch, paging-structure access, event
 * delivery, NMI unblocking by IRET, an unclaimed address) and how each
 * result is carried back (RSP written back, exit_ready left for vmx_run).
 * For port I/O: the embedder's record filled whole (over 0xaa bytes) and
 * equal to the full path's (vmx_decode_exit, then the core's fill), the
 * completion deferred, the guest's RSP synced from the VMCS, nothing
 * written to the VMCS; string I/O and a vCPU that is not quiet left to
 * the full path.
 */
#include <CUnit/Basic.h>
#include <stddef.h>
#include <string.h>

#include "core/pv.h"
#include "io_exit_check.h"
#include "lapic/lapic.h"
#include "vmx/vmx.h"
#include "vmx/vmx_decode.h"

/* The fake VMCS: one slot per field encoding (all are below 0x8000). */
static uint64_t vmcs[0x8000];
static unsigned vmcs_writes;

static uint64_t fake_read(uint32_t field)
{
    return vmcs[field & 0x7fff];
}
static int fake_write(uint32_t field, uint64_t value)
{
    vmcs[field & 0x7fff] = value;
    vmcs_writes++;
    return 0;
}

#define VMX_FAST_READ(f)     fake_read(f)
#define VMX_FAST_WRITE(f, v) fake_write(f, v)
#define vmx_fast_exit        unit_vmx_fast_exit /* the library's copy stays apart */
#include "vmx/vmx_fast.c"
#undef vmx_fast_exit

/* Wrapped: calls counted (the real ones need the core's backend table and
   a real VMCS). The delivery injects an interrupt as inject_irq would
   (vmx_vcpu.inject) unless deliver_nothing; the commit clears it. */
static unsigned delivered, injected;
static bool deliver_nothing;
void __wrap_hv_deliver_events(struct hv_vcpu *vcpu);
void __wrap_hv_deliver_events(struct hv_vcpu *vcpu)
{
    if (!deliver_nothing)
        vmx_vcpu_of(vcpu)->inject.info = VMX_INTR_INFO(VMX_INTR_TYPE_EXTINT, 0x30);
    delivered++;
}
void __wrap_vmx_events_before_entry(struct hv_vcpu *vcpu);
void __wrap_vmx_events_before_entry(struct hv_vcpu *vcpu)
{
    CU_ASSERT(vmx_vcpu_of(vcpu)->inject.info & VMX_INTR_VALID);
    vmx_vcpu_of(vcpu)->inject.info = 0;
    injected++;
}

/* The MMIO region is [MMIO_BASE, MMIO_BASE + 4 KiB): the VM's region
   table is empty, so hv_fast_mmio_region always asks
   hv_assist_region_scan, which returns the_region for it; hv_fast_npf answers npf_result after
   recording its arguments. HV_FAST_DONE emulates a handler's
   `mov rsp, [mem]` when npf_load_rsp and asks to resume 4 bytes on (the
   backend moves RIP); HV_FAST_EXIT fills the embedder's record as the
   core does. */
#define MMIO_BASE 0xfee00000ull
static const char region_tag; /* stands for the region: never dereferenced */
static const struct mmio_region *const the_region =
    (const struct mmio_region *)(const void *)&region_tag;
static unsigned claims_calls, npf_calls;
static int npf_result;
static bool npf_load_rsp;
static struct hv_vexit npf_vx;
static struct hv_fetch_regs npf_fr;
static const struct mmio_region *npf_rg;
static uint64_t npf_rsp;
const struct mmio_region *__wrap_hv_assist_region_scan(struct hv_vcpu *vcpu, uint64_t gpa);
const struct mmio_region *__wrap_hv_assist_region_scan(struct hv_vcpu *vcpu, uint64_t gpa)
{
    (void)vcpu;
    claims_calls++;
    return gpa - MMIO_BASE < 0x1000 ? the_region : NULL;
}
int __wrap_hv_fast_npf(struct hv_vcpu *vcpu, const struct hv_vexit *vx,
                       const struct mmio_region *rg, const struct hv_fetch_regs *fr,
                       uint64_t *resume);
int __wrap_hv_fast_npf(struct hv_vcpu *vcpu, const struct hv_vexit *vx,
                       const struct mmio_region *rg, const struct hv_fetch_regs *fr,
                       uint64_t *resume)
{
    npf_calls++;
    npf_vx = *vx;
    npf_fr = *fr;
    npf_rg = rg;
    npf_rsp = vcpu->gpr[HV_GPR_RSP];
    if (npf_result == HV_FAST_DONE || npf_result == HV_FAST_DONE_EVENTS) {
        if (npf_load_rsp)
            vcpu->gpr[HV_GPR_RSP] = 0x9000;
        *resume = vx->rip + 4;
    } else if (npf_result == HV_FAST_EXIT) {
        vcpu->run_exit->reason = HV_EXIT_MMIO;
        vcpu->run_exit->rip = vx->rip;
        vcpu->run_exit->mmio.gpa = vx->npf.gpa;
        vcpu->exit_ready = true;
    }
    return npf_result;
}

/* A PV layer whose fast hook answers RAX=0x1234 calls and refuses the
   rest; RDI selects its result, whether an event may be due and whether
   it injected an interrupt itself (as core/fast.h hv_fast_inject_irq). */
static unsigned pv_calls;
static enum hv_pv_result pv_fast(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, bool *events)
{
    CU_ASSERT_EQUAL(fr->rip, vmcs[VMCS_GUEST_RIP]); /* the exit's registers */
    CU_ASSERT_EQUAL(fr->cr3, vmcs[VMCS_GUEST_CR3]);
    pv_calls++;
    uint64_t *g = vcpu->gpr;
    if (g[HV_GPR_RAX] != 0x1234)
        return HV_PV_UNHANDLED;
    *events = g[HV_GPR_RDI] & 1;
    if (g[HV_GPR_RDI] & 4)
        vmx_vcpu_of(vcpu)->inject.info = VMX_INTR_INFO(VMX_INTR_TYPE_EXTINT, 0xe0);
    g[HV_GPR_RAX] = 0x5678;
    return (g[HV_GPR_RDI] & 2) ? HV_PV_FAULT : HV_PV_DONE;
}
static const struct hv_pv_ops pv_ops = {.hypercall_fast = pv_fast};

struct fake {
    struct hv_ctx ctx;
    struct vmx_ctx vc;
    struct hv_assist_vm regions; /* none: every lookup a scan */
    struct hv_vm vm;
    struct vmx_vm xvm;
    struct hv_vcpu vcpu;
    struct vmx_vcpu vv;
};

/* An exit as the CPU leaves it: reason, RIP 0x1000, length 3 (e.g. a
   prefixed CPUID), STI blocking; the vCPU quiet, no kick, EPT in sync. */
static void arm(struct fake *f, uint32_t reason)
{
    memset(vmcs, 0, sizeof(vmcs));
    vmcs[VMCS_EXIT_REASON] = reason;
    vmcs[VMCS_GUEST_RIP] = 0x1000;
    vmcs[VMCS_GUEST_CR3] = 0x7000;
    vmcs[VMCS_EXIT_INSN_LEN] = 3;
    vmcs[VMCS_GUEST_INTERRUPTIBILITY] = VMX_INTERRUPT_STI | VMX_INTERRUPT_NMI;
    vmcs_writes = 0;
    delivered = injected = pv_calls = 0;
    claims_calls = npf_calls = 0;
    npf_result = HV_FAST_NONE;
    npf_load_rsp = false;
    memset(&npf_vx, 0, sizeof(npf_vx));
    f->vcpu.quiet = true;
    f->vcpu.kick_pending = 0;
    f->xvm.ept_gen = 5;
    f->vv.ept_gen = 5;
    f->vv.fast_until = UINT64_MAX;
    memset(f->vcpu.gpr, 0, sizeof(f->vcpu.gpr));
    f->vcpu.gpr[HV_GPR_RAX] = 0x40000000u;
    f->vcpu.gpr[HV_GPR_RBX] = 0x77;
}

/* Refused: no VMCS write, registers and RIP as they were. */
static void check_untouched(const struct fake *f)
{
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1000);
    CU_ASSERT_EQUAL(f->vcpu.gpr[HV_GPR_RAX], 0x40000000u);
    CU_ASSERT_EQUAL(f->vcpu.gpr[HV_GPR_RBX], 0x77);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_INTERRUPTIBILITY], VMX_INTERRUPT_STI | VMX_INTERRUPT_NMI);
    CU_ASSERT_EQUAL(delivered, 0);
}

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->ctx.arch = &f->vc;
    f->vm.ctx = &f->ctx;
    f->vm.arch = &f->xvm;
    f->vm.assist = &f->regions;
    f->vcpu.vm = &f->vm;
    f->vcpu.arch = &f->vv;
}

static void test_gating(void)
{
    static struct fake f;
    fake_init(&f);

    /* Not quiet, a kick, an EPT generation this CPU has not flushed, an
       exit the path does not take, an entry failure with the CPUID
       number in its low bits, a VMCALL without a PV layer. */
    arm(&f, VMX_EXIT_CPUID);
    f.vcpu.quiet = false;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
    arm(&f, VMX_EXIT_CPUID);
    f.vcpu.kick_pending = 1;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
    arm(&f, VMX_EXIT_CPUID);
    f.xvm.ept_gen = 6;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
    arm(&f, VMX_EXIT_CPUID);
    f.vv.fast_until = hv_rdtsc(); /* vmx_run entered VMX_PREEMPT_TSC ago */
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
    arm(&f, VMX_EXIT_HLT);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
    arm(&f, VMX_EXIT_RDMSR);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
    arm(&f, VMX_EXIT_REASON_ENTRY_FAIL | VMX_EXIT_CPUID);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
    arm(&f, VMX_EXIT_VMCALL);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
}

static void test_cpuid(void)
{
    static struct fake f;
    fake_init(&f);

    /* The library's leaf 0x40000000 ("libhv"), RIP past the 3 bytes, the
       STI shadow over, NMI blocking kept. */
    arm(&f, VMX_EXIT_CPUID);
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RAX], 0x40000000u);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RBX], 0x6862696cu);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RCX], 0x76u);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RDX], 0);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1003);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_INTERRUPTIBILITY], VMX_INTERRUPT_NMI);
    CU_ASSERT_EQUAL(delivered, 0);

    /* MOV SS blocking ends the same way; without any shadow the
       interruptibility state is not written (one VMWRITE: RIP). */
    arm(&f, VMX_EXIT_CPUID);
    vmcs[VMCS_GUEST_INTERRUPTIBILITY] = VMX_INTERRUPT_MOVSS;
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_INTERRUPTIBILITY], 0);
    arm(&f, VMX_EXIT_CPUID);
    vmcs[VMCS_GUEST_INTERRUPTIBILITY] = 0;
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(vmcs_writes, 1);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1003);
}

/* A VMCALL the hook handles, its behaviour selected by rdi (pv_fast):
   RIP afterwards, and how many deliveries and VMCS injections ran. */
static void handled_call(struct fake *f, uint64_t rdi, uint64_t rip, unsigned n_delivered,
                         unsigned n_injected)
{
    arm(f, VMX_EXIT_VMCALL);
    f->vcpu.gpr[HV_GPR_RAX] = 0x1234;
    f->vcpu.gpr[HV_GPR_RDI] = rdi;
    CU_ASSERT(unit_vmx_fast_exit(&f->vcpu));
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], rip);
    CU_ASSERT_EQUAL(delivered, n_delivered);
    CU_ASSERT_EQUAL(injected, n_injected);
}

static void test_hypercall(void)
{
    static struct fake f;
    fake_init(&f);
    f.vm.pv = &pv_ops;

    /* A call the hook refuses: the full path runs it. */
    arm(&f, VMX_EXIT_VMCALL);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(pv_calls, 1);
    check_untouched(&f);

    /* Not quiet: the hook is not even asked. */
    arm(&f, VMX_EXIT_VMCALL);
    f.vcpu.gpr[HV_GPR_RAX] = 0x1234;
    f.vcpu.quiet = false;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(pv_calls, 0);

    /* Done, nothing due: the result, RIP advanced (the STI shadow over),
       no delivery. */
    handled_call(&f, 0, 0x1003, 0, 0);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RAX], 0x5678);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_INTERRUPTIBILITY], VMX_INTERRUPT_NMI);
    /* Done, an event may be due (a send to the caller's own port): the
       core's delivery, then the injection into the VMCS. */
    handled_call(&f, 1, 0x1003, 1, 1);
    /* A fault (exception queued by the hook): RIP stays, delivered. */
    handled_call(&f, 2, 0x1000, 1, 1);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_INTERRUPTIBILITY], VMX_INTERRUPT_STI | VMX_INTERRUPT_NMI);
    /* The call injected the interrupt itself (a send to the caller's own
       port): no delivery, the injection still goes into the VMCS. */
    handled_call(&f, 4, 0x1003, 0, 1);
    /* A delivery that injects nothing (interrupts off: a window): nothing
       to write into the VMCS. */
    deliver_nothing = true;
    handled_call(&f, 1, 0x1003, 1, 0);
    deliver_nothing = false;
}

/* A WRMSR exit: ECX the MSR, EDX:EAX the value (SDM Vol. 3C 26.1.3). */
static void arm_wrmsr(struct fake *f, uint32_t msr, uint64_t value)
{
    arm(f, VMX_EXIT_WRMSR);
    vmcs[VMCS_EXIT_INSN_LEN] = 2;
    f->vcpu.gpr[HV_GPR_RCX] = msr;
    f->vcpu.gpr[HV_GPR_RAX] = (uint32_t)value;
    f->vcpu.gpr[HV_GPR_RDX] = value >> 32;
}

/* WRMSR to the local APIC's hot MSRs (lapic/hooks.h
   hv_lapic_msr_write_fast, the real one): done here, RIP past the
   instruction, then the core's delivery and its injection into the VMCS;
   everything else, and a vCPU not quiet now, left to the full path. */
static void test_wrmsr(void)
{
    static struct fake f;
    static struct hv_lapic apic;
    fake_init(&f);
    lapic_reset(&apic, 0, true);
    apic.x2apic_ok = apic.tscdl_ok = 1;
    CU_ASSERT(lapic_set_base(&apic, LAPIC_BASE_ADDR | LAPIC_BASE_EN | LAPIC_BASE_EXTD, 36));
    apic.svr = 0x1ff;

    /* Without a local APIC: the embedder's MSR, not the path's. */
    arm_wrmsr(&f, 0x80b, 0);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    CU_ASSERT_EQUAL(delivered, 0);
    f.vcpu.lapic = &apic;
    f.vcpu.lapic_on = true;

    apic.isr[2] = 1u << 5;
    arm_wrmsr(&f, 0x80b, 0); /* EOI */
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(apic.isr[2], 0);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1002);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_INTERRUPTIBILITY], VMX_INTERRUPT_NMI);
    CU_ASSERT_EQUAL(delivered, 1);
    CU_ASSERT_EQUAL(injected, 1);
    arm_wrmsr(&f, 0x83f, 0x45); /* SELF IPI */
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(apic.irr[2], 1u << 5);
    CU_ASSERT_EQUAL(delivered, 1);
    apic.irr[2] = 0;
    apic.lvt[LAPIC_LVT_T] = (LAPIC_TIMER_TSCDL << LAPIC_TIMER_MODE_SHIFT) | 0x41;
    arm_wrmsr(&f, 0x6e0, 0x123456789ull); /* TSC deadline */
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(apic.tscdl, 0x123456789ull);
    CU_ASSERT_EQUAL(apic.t_next, 0x123456789ull);
    CU_ASSERT_EQUAL(delivered, 1);

    /* Refused, nothing changed: a non-zero EOI, ICR (it may wake another
       vCPU), the xAPIC mode, a vCPU whose timer expiry has passed. */
    apic.isr[2] = 1u << 5;
    arm_wrmsr(&f, 0x80b, 1);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    arm_wrmsr(&f, 0x830, 0x4045);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    CU_ASSERT_EQUAL(apic.irr[2], 0);
    apic.base &= ~LAPIC_BASE_EXTD;
    arm_wrmsr(&f, 0x80b, 0);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    apic.base |= LAPIC_BASE_EXTD;
    arm_wrmsr(&f, 0x80b, 0);
    f.vcpu.quiet = HV_QUIET_UNTIL;
    f.vcpu.quiet_until = hv_rdtsc() - 1;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    CU_ASSERT_EQUAL(apic.isr[2], 1u << 5);
    /* Before the expiry it is quiet. */
    arm_wrmsr(&f, 0x80b, 0);
    f.vcpu.quiet = HV_QUIET_UNTIL;
    f.vcpu.quiet_until = hv_rdtsc() + (1ull << 40);
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(apic.isr[2], 0);
}

/* EPT-violation qualification bits (SDM 28.2.1, table 28-7). */
#define Q_READ   0x1u
#define Q_WRITE  0x2u
#define Q_FETCH  0x4u
#define Q_RPERM  0x8u
#define Q_GLA    0x80u
#define Q_FINAL  0x100u
#define Q_NMI_UB 0x1000u

/* A store to the region at 0xfee00030 through linear 0xffff800000001030,
   the final translation, not during event delivery; guest RSP 0x7000. */
static void arm_ept(struct fake *f, uint64_t qual)
{
    arm(f, VMX_EXIT_EPT_VIOLATION);
    vmcs[VMCS_EXIT_QUAL] = qual;
    vmcs[VMCS_GUEST_PHYS_ADDR] = MMIO_BASE + 0x30;
    vmcs[VMCS_GUEST_LINEAR_ADDR] = 0xffff800000001030ull;
    vmcs[VMCS_GUEST_RSP] = 0x7000;
}

static void test_ept_gating(void)
{
    static struct fake f;
    static struct hv_exit ex;
    fake_init(&f);
    f.vcpu.run_exit = &ex;
    const uint64_t q = Q_WRITE | Q_GLA | Q_FINAL;

    /* The vCPU's state: not quiet, a kick, an unflushed EPT generation,
       no time left. Not even the region table is asked. */
    arm_ept(&f, q);
    f.vcpu.quiet = false;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    arm_ept(&f, q);
    f.vcpu.kick_pending = 1;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    arm_ept(&f, q);
    f.xvm.ept_gen = 6;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    arm_ept(&f, q);
    f.vv.fast_until = hv_rdtsc();
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(claims_calls, 0);
    CU_ASSERT_EQUAL(npf_calls, 0);
    check_untouched(&f);

    /* The exit: a present entry (a permission violation), an instruction
       fetch, an access to a guest paging-structure entry (bit 8 clear),
       no linear address (bit 7 clear), NMI unblocking due to IRET. */
    static const uint64_t quals[] = {q | Q_RPERM, q | Q_READ | Q_FETCH, Q_WRITE | Q_GLA,
                                     Q_WRITE,     q | Q_NMI_UB,         q | (Q_RPERM << 2)};
    for (unsigned i = 0; i < sizeof(quals) / sizeof(quals[0]); i++) {
        arm_ept(&f, quals[i]);
        npf_result = HV_FAST_DONE; /* would be taken if asked */
        CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
        CU_ASSERT_EQUAL(claims_calls, 0);
        CU_ASSERT_EQUAL(npf_calls, 0);
        check_untouched(&f);
    }

    /* During event delivery (the IDT-vectoring information valid: a
       fault on the stack while pushing an interrupt frame). */
    arm_ept(&f, q);
    vmcs[VMCS_IDT_VEC_INFO] = VMX_INTR_VALID | (VMX_INTR_TYPE_EXTINT << 8) | 0x30;
    npf_result = HV_FAST_DONE;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(npf_calls, 0);
    check_untouched(&f);

    /* An address in no region: asked, refused, the core not called. */
    arm_ept(&f, q);
    vmcs[VMCS_GUEST_PHYS_ADDR] = MMIO_BASE + 0x1000;
    npf_result = HV_FAST_DONE;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(claims_calls, 1);
    CU_ASSERT_EQUAL(npf_calls, 0);
    check_untouched(&f);

    /* The core's fast path declines (not a plain MOV...): nothing done,
       no exit record, the full path next. */
    arm_ept(&f, q);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(npf_calls, 1);
    CU_ASSERT(!f.vcpu.exit_ready);
    check_untouched(&f);
}

static void test_ept_done(void)
{
    static struct fake f;
    static struct hv_exit ex;
    fake_init(&f);
    f.vcpu.run_exit = &ex;

    /* A store a handler finished: the vexit as vmx_decode.c makes it,
       the region found and the exit's registers handed over, the guest's
       RSP in vcpu->gpr for the decoder; RIP moved here to where the core
       said, which ends the STI shadow; RSP unchanged and so not written
       back (two VMCS writes: RIP, the interruptibility state). */
    arm_ept(&f, Q_WRITE | Q_GLA | Q_FINAL);
    npf_result = HV_FAST_DONE;
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(npf_calls, 1);
    CU_ASSERT_EQUAL(npf_vx.kind, HV_VX_NPF);
    CU_ASSERT_EQUAL(npf_vx.rip, 0x1000);
    CU_ASSERT_EQUAL(npf_vx.raw_code, VMX_EXIT_EPT_VIOLATION);
    CU_ASSERT_EQUAL(npf_vx.raw_info1, Q_WRITE | Q_GLA | Q_FINAL);
    CU_ASSERT_EQUAL(npf_vx.raw_info2, MMIO_BASE + 0x30);
    CU_ASSERT_EQUAL(npf_vx.npf.gpa, MMIO_BASE + 0x30);
    CU_ASSERT_EQUAL(npf_vx.npf.present, 0);
    CU_ASSERT_EQUAL(npf_vx.npf.access, HV_ACCESS_WRITE);
    CU_ASSERT_EQUAL(npf_vx.npf.gva_valid, 1);
    CU_ASSERT_EQUAL(npf_vx.npf.gva, 0xffff800000001030ull);
    CU_ASSERT_EQUAL(npf_vx.npf.during_walk, 0);
    CU_ASSERT_EQUAL(npf_vx.npf.insn_count, 0);
    CU_ASSERT_EQUAL(npf_rsp, 0x7000);
    CU_ASSERT_PTR_EQUAL(npf_rg, the_region);
    CU_ASSERT_EQUAL(npf_fr.rip, 0x1000);
    CU_ASSERT_EQUAL(npf_fr.cr3, 0x7000);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1004);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_INTERRUPTIBILITY], VMX_INTERRUPT_NMI);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RSP], 0x7000);
    CU_ASSERT_EQUAL(vmcs_writes, 2);
    CU_ASSERT(!f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(delivered, 0);
    CU_ASSERT_EQUAL(injected, 0);

    /* A load into RSP (`mov rsp, [mem]`): the new RSP goes to the VMCS,
       where the CPU takes it from at the next entry; a read access. */
    arm_ept(&f, Q_READ | Q_GLA | Q_FINAL);
    npf_result = HV_FAST_DONE;
    npf_load_rsp = true;
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(npf_vx.npf.access, HV_ACCESS_READ);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RSP], 0x9000);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1004);
    CU_ASSERT_EQUAL(delivered, 0);

    /* The per-vCPU region's access (the xAPIC page's EOI): the same, then
       the core's delivery before the re-entry, as after fast_wrmsr. */
    arm_ept(&f, Q_WRITE | Q_GLA | Q_FINAL);
    npf_result = HV_FAST_DONE_EVENTS;
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1004);
    CU_ASSERT_EQUAL(delivered, 1);
}

static void test_ept_exit(void)
{
    static struct fake f;
    static struct hv_exit ex;
    fake_init(&f);
    f.vcpu.run_exit = &ex;

    /* The embedder's exit filled: no re-entry (vmx_enter returns and
       vmx_run sees exit_ready), RIP and RSP left for the completion. */
    memset(&ex, 0, sizeof(ex));
    arm_ept(&f, Q_READ | Q_GLA | Q_FINAL);
    npf_result = HV_FAST_EXIT;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(npf_calls, 1);
    CU_ASSERT(f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(ex.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(ex.rip, 0x1000);
    CU_ASSERT_EQUAL(ex.mmio.gpa, MMIO_BASE + 0x30);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RSP], 0x7000);
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1000);
}

/* I/O-instruction qualification (SDM 28.2.1, table 28-5): size code
   (0, 1, 3: 1, 2, 4 bytes), IN, string, REP, port. */
#define IOQ(port, code) (((uint64_t)(port) << 16) | (code))
#define IOQ_IN          0x8u
#define IOQ_STR         0x10u
#define IOQ_REP         0x20u

/* An I/O exit of a 2-byte instruction at 0x1000, guest RSP 0x7000 in the
   VMCS (vcpu->gpr's is stale after fast re-entries), a stale address in
   the guest-physical address field (undefined for this exit), RAX. */
static void arm_io(struct fake *f, uint64_t qual)
{
    arm(f, VMX_EXIT_IO);
    vmcs[VMCS_EXIT_QUAL] = qual;
    vmcs[VMCS_EXIT_INSN_LEN] = 2;
    vmcs[VMCS_GUEST_RSP] = 0x7000;
    vmcs[VMCS_GUEST_PHYS_ADDR] = 0xdead000;
    f->vcpu.gpr[HV_GPR_RAX] = 0x12345678deadbeefull;
    f->vcpu.gpr[HV_GPR_RSP] = 0x5000;
    f->vcpu.completion = HV_COMPLETE_NONE;
    f->vcpu.completion_rip = 0;
    f->vcpu.completion_size = 0;
    f->vcpu.exit_ready = false;
}

/* The full path's record for the armed exit: run_inner's reads (the
   guest-physical address included), vmx_decode_exit, then the core's
   fill as handle_io calls it (core/run.c, next_rip()), into a cleared
   record as hv_vcpu_run's; its completion goes to *fv. */
static void full_path_io(const struct fake *f, struct hv_vcpu *fv, struct hv_exit *rec)
{
    struct vmx_exit_raw raw = {
        .reason = (uint32_t)vmcs[VMCS_EXIT_REASON],
        .qual = vmcs[VMCS_EXIT_QUAL],
        .gpa = vmcs[VMCS_GUEST_PHYS_ADDR],
        .insn_len = (uint32_t)vmcs[VMCS_EXIT_INSN_LEN],
        .rip = vmcs[VMCS_GUEST_RIP],
        .cpu_mode_addr_size = 8,
    };
    struct hv_vexit vx;
    vmx_decode_exit(&raw, &vx);
    CU_ASSERT_EQUAL(vx.kind, HV_VX_IO);
    CU_ASSERT_EQUAL(vx.io.string, 0);
    memset(rec, 0, sizeof(*rec));
    memset(fv, 0, sizeof(*fv));
    uint64_t next = vx.next_rip ? vx.next_rip : vx.rip + vx.insn_len;
    hv_io_exit(fv, rec, vx.io.port, vx.io.size, vx.io.write, vx.rip, next, f->vcpu.gpr[HV_GPR_RAX],
               vx.raw_code, vx.raw_info1, vx.raw_info2);
}

/* The fast fill equals the full path's: the header and hv_exit::io (the
   union's bytes beyond it are unspecified), and the completion. */
static void check_same_as_full(const struct fake *f, const struct hv_exit *rec,
                               const struct hv_exit *full, const struct hv_vcpu *fv)
{
    size_t n = offsetof(struct hv_exit, io) + sizeof(rec->io);
    CU_ASSERT_EQUAL(memcmp(rec, full, n), 0);
    CU_ASSERT_EQUAL(f->vcpu.completion, fv->completion);
    CU_ASSERT_EQUAL(f->vcpu.completion_rip, fv->completion_rip);
    CU_ASSERT_EQUAL(f->vcpu.completion_size, fv->completion_size);
}

/* A guest single-stepping (RFLAGS.TF) is left to the full path for every
   exit the fast path takes (CPUID, VMCALL, an MMIO access, port I/O for
   the embedder), which raises the #DB after the instruction or notes it
   for the completion at the next run (core/objects.h hv_step_trap). */
static void test_step_gating(void)
{
    static struct fake f;
    static struct hv_exit ex;
    fake_init(&f);
    f.vcpu.run_exit = &ex;
    f.vm.pv = &pv_ops;
    const uint64_t tf = X86_RFLAGS_TF | X86_RFLAGS_FIXED;

    arm(&f, VMX_EXIT_CPUID);
    vmcs[VMCS_GUEST_RFLAGS] = tf;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
    arm(&f, VMX_EXIT_VMCALL);
    vmcs[VMCS_GUEST_RFLAGS] = tf;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_untouched(&f);
    CU_ASSERT_EQUAL(pv_calls, 0);
    arm_ept(&f, Q_WRITE | Q_GLA | Q_FINAL);
    vmcs[VMCS_GUEST_RFLAGS] = tf;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(claims_calls + npf_calls, 0);
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    /* Without TF the same CPUID is finished here. */
    arm(&f, VMX_EXIT_CPUID);
    vmcs[VMCS_GUEST_RFLAGS] = X86_RFLAGS_FIXED;
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1003);
    /* OUT: not filled here. */
    arm_io(&f, IOQ(0x1234, 1));
    vmcs[VMCS_GUEST_RFLAGS] = tf;
    f.vcpu.exit_ready = false;
    f.vcpu.completion = HV_COMPLETE_NONE;
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT(!f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(f.vcpu.completion, HV_COMPLETE_NONE);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1000);
}

static void test_io(void)
{
    static struct fake f;
    static struct hv_exit rec, full;
    static struct hv_vcpu fv;
    fake_init(&f);
    f.vcpu.run_exit = &rec;

    /* OUT DX, AX to 0x1234: the record filled whole over 0xaa bytes, the
       world switch leaves (false) with exit_ready for run_inner, RIP moves
       at the next run (completion), the guest's RSP in vcpu->gpr, the STI
       shadow left for the completion's set_rip, no VMCS write. */
    memset(&rec, 0xaa, sizeof(rec));
    arm_io(&f, IOQ(0x1234, 1));
    full_path_io(&f, &fv, &full);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    check_out_exit(&f.vcpu, &rec, VMX_EXIT_IO, IOQ(0x1234, 1), 0, 0x1000, 0x1002, 0x1234, 2,
                   0xbeef);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RSP], 0x7000);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RAX], 0x12345678deadbeefull);
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1000);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_INTERRUPTIBILITY], VMX_INTERRUPT_STI | VMX_INTERRUPT_NMI);
    CU_ASSERT_EQUAL(delivered, 0);
    check_same_as_full(&f, &rec, &full, &fv);

    /* OUT DX, EAX and OUT imm8, AL: the data masked to the size. */
    memset(&rec, 0xaa, sizeof(rec));
    arm_io(&f, IOQ(0xcf8, 3));
    full_path_io(&f, &fv, &full);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(rec.io.port, 0xcf8);
    CU_ASSERT_EQUAL(rec.io.size, 4);
    CU_ASSERT_EQUAL(rec.io.data, 0xdeadbeef);
    check_same_as_full(&f, &rec, &full, &fv);
    memset(&rec, 0xaa, sizeof(rec));
    arm_io(&f, IOQ(0x80, 0));
    full_path_io(&f, &fv, &full);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(rec.io.size, 1);
    CU_ASSERT_EQUAL(rec.io.data, 0xef);
    check_same_as_full(&f, &rec, &full, &fv);

    /* IN EAX, DX: the value comes back from the embedder (data 0 until
       then), RAX untouched until the completion. */
    memset(&rec, 0xaa, sizeof(rec));
    arm_io(&f, IOQ(0xcfc, 3) | IOQ_IN);
    full_path_io(&f, &fv, &full);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT(f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(rec.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(rec.io.port, 0xcfc);
    CU_ASSERT_EQUAL(rec.io.size, 4);
    CU_ASSERT_EQUAL(rec.io.write, 0);
    CU_ASSERT_EQUAL(rec.io.data, 0);
    CU_ASSERT_EQUAL(f.vcpu.completion, HV_COMPLETE_IO_IN);
    CU_ASSERT_EQUAL(f.vcpu.completion_size, 4);
    CU_ASSERT_EQUAL(f.vcpu.completion_rip, 0x1002);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RAX], 0x12345678deadbeefull);
    CU_ASSERT_EQUAL(vmcs_writes, 0);
    check_same_as_full(&f, &rec, &full, &fv);

    /* A length outside 1-15 (never reported by a CPU): no next RIP on
       either path, the instruction would run again. */
    memset(&rec, 0xaa, sizeof(rec));
    arm_io(&f, IOQ(0x60, 0) | IOQ_IN);
    vmcs[VMCS_EXIT_INSN_LEN] = 16;
    full_path_io(&f, &fv, &full);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(f.vcpu.completion_rip, 0x1000);
    check_same_as_full(&f, &rec, &full, &fv);
}

/* Port ranges with a handler (core/pio.h): [0x60, 0x64) answered by
   pio_dev, which records each call and fails on port 0x63. */
static unsigned pio_calls;
static uint16_t pio_port;
static unsigned pio_size;
static bool pio_write;
static uint32_t pio_value;
static hv_status_t pio_dev(void *opaque, uint16_t port, unsigned size, bool write, uint32_t *value)
{
    CU_ASSERT_PTR_EQUAL(opaque, &pio_calls);
    pio_calls++;
    pio_port = port;
    pio_size = size;
    pio_write = write;
    pio_value = *value;
    if (port == 0x63)
        return HV_ERR_HW;
    if (!write)
        *value = 0xcafef00du;
    return HV_OK;
}

static void test_io_handler(void)
{
    static struct fake f;
    static struct hv_exit rec;
    static struct hv_pio_vm pv;
    fake_init(&f);
    f.vcpu.run_exit = &rec;
    memset(&pv, 0, sizeof(pv));
    pv.ranges[0] =
        (struct hv_pio_range){.port = 0x60, .count = 4, .handler = pio_dev, .opaque = &pio_calls};
    pv.count = 1;
    f.vm.pio = &pv;

    /* OUT DX, AX to 0x60: the handler gets AX, the guest resumes after the
       OUT (true) with the STI shadow over; no exit, no completion. */
    memset(&rec, 0xaa, sizeof(rec));
    arm_io(&f, IOQ(0x60, 1));
    pio_calls = 0;
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(pio_calls, 1);
    CU_ASSERT_EQUAL(pio_port, 0x60);
    CU_ASSERT_EQUAL(pio_size, 2);
    CU_ASSERT(pio_write);
    CU_ASSERT_EQUAL(pio_value, 0xbeef);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1002);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_INTERRUPTIBILITY], VMX_INTERRUPT_NMI);
    CU_ASSERT(!f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(f.vcpu.completion, HV_COMPLETE_NONE);
    CU_ASSERT_EQUAL(rec.reason, 0xaaaaaaaau);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RAX], 0x12345678deadbeefull);

    /* IN AL, then IN EAX from 0x61 (the hint now): AL replaced, then EAX
       zero-extended into RAX. */
    arm_io(&f, IOQ(0x61, 0) | IOQ_IN);
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT(!pio_write);
    CU_ASSERT_EQUAL(pio_size, 1);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RAX], 0x12345678deadbe0dull);
    arm_io(&f, IOQ(0x60, 3) | IOQ_IN);
    CU_ASSERT(unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RAX], 0xcafef00dull);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1002);

    /* Past the range's end (a 4-byte access at 0x62) or outside it: the
       embedder's exit, the handler not called. */
    pio_calls = 0;
    arm_io(&f, IOQ(0x62, 3));
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT(f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(rec.reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(rec.io.port, 0x62);
    f.vcpu.exit_ready = false;
    arm_io(&f, IOQ(0x5f, 0));
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(rec.io.port, 0x5f);
    CU_ASSERT_EQUAL(pio_calls, 0);
    f.vcpu.exit_ready = false;
    f.vcpu.completion = HV_COMPLETE_NONE;

    /* The handler fails: HV_EXIT_UNHANDLED with the status and the port,
       RIP and RAX as they were, nothing to complete. */
    memset(&rec, 0xaa, sizeof(rec));
    arm_io(&f, IOQ(0x63, 0) | IOQ_IN);
    CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
    CU_ASSERT_EQUAL(pio_calls, 1);
    CU_ASSERT(f.vcpu.exit_ready);
    CU_ASSERT_EQUAL(rec.reason, HV_EXIT_UNHANDLED);
    CU_ASSERT_EQUAL(rec.reserved, 0);
    CU_ASSERT_EQUAL(rec.raw_code, VMX_EXIT_IO);
    CU_ASSERT_EQUAL(rec.raw_info1, HV_ERR_HW);
    CU_ASSERT_EQUAL(rec.raw_info2, 0x63);
    CU_ASSERT_EQUAL(rec.rip, 0x1000);
    CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1000);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RAX], 0x12345678deadbeefull);
    CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RSP], 0x7000);
    CU_ASSERT_EQUAL(f.vcpu.completion, HV_COMPLETE_NONE);
    f.vcpu.exit_ready = false;
    f.vm.pio = NULL;
}

static void test_io_refused(void)
{
    static struct fake f;
    static struct hv_exit rec;
    fake_init(&f);
    f.vcpu.run_exit = &rec;

    /* String I/O (OUTSB, REP INSW) is the assist's, on the full path; so
       is any I/O while the vCPU is not quiet, a kick is pending, or the
       time is up: the record, the completion and RSP untouched. */
    static const uint64_t quals[] = {IOQ(0x3f8, 0) | IOQ_STR,
                                     IOQ(0x1f0, 1) | IOQ_IN | IOQ_STR | IOQ_REP};
    for (unsigned i = 0; i < 6; i++) {
        memset(&rec, 0xaa, sizeof(rec));
        arm_io(&f, i < 2 ? quals[i] : IOQ(0x60, 0));
        if (i == 2)
            f.vcpu.quiet = false;
        if (i == 3)
            f.vcpu.kick_pending = 1;
        if (i == 4)
            f.xvm.ept_gen = 6;
        if (i == 5)
            f.vv.fast_until = hv_rdtsc();
        CU_ASSERT(!unit_vmx_fast_exit(&f.vcpu));
        CU_ASSERT(!f.vcpu.exit_ready);
        CU_ASSERT_EQUAL(rec.reason, 0xaaaaaaaau);
        CU_ASSERT_EQUAL(f.vcpu.completion, HV_COMPLETE_NONE);
        CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RSP], 0x5000);
        CU_ASSERT_EQUAL(f.vcpu.gpr[HV_GPR_RAX], 0x12345678deadbeefull);
        CU_ASSERT_EQUAL(vmcs_writes, 0);
        CU_ASSERT_EQUAL(vmcs[VMCS_GUEST_RIP], 0x1000);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("vmx_fast", NULL, NULL);
    CU_add_test(s, "gating", test_gating);
    CU_add_test(s, "cpuid", test_cpuid);
    CU_add_test(s, "hypercall", test_hypercall);
    CU_add_test(s, "wrmsr", test_wrmsr);
    CU_add_test(s, "ept_gating", test_ept_gating);
    CU_add_test(s, "ept_done", test_ept_done);
    CU_add_test(s, "ept_exit", test_ept_exit);
    CU_add_test(s, "io", test_io);
    CU_add_test(s, "io_refused", test_io_refused);
    CU_add_test(s, "io_handler", test_io_handler);
    CU_add_test(s, "step_gating", test_step_gating);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
