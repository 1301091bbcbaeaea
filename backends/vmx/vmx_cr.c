/*
 * Control-register exits (SDM Vol. 3C 25.1.3, exit qualification in 27.2.1
 * table 27-3), finished inside the backend. libhv owns CR0.PE/PG/NE/CD/NW
 * and CR4.VMXE (vmx_vmcs.c masks), so mode switches come here: turning
 * paging on with EFER.LME=1 activates IA-32e mode, which VMX does not do
 * by itself for an emulated MOV: EFER.LMA and the "IA-32e mode guest"
 * entry control are set together (SDM 26.3.1.1 requires them equal), and
 * cleared together when paging goes off. CR8 is the virtual TPR.
 */
#include "vmx/vmx.h"
#include "core/policy.h"
#include "core/util.h"

#define VEC_GP 13

void vmx_finish_insn_at(uint64_t next)
{
    vmx_write_nocheck(VMCS_GUEST_RIP, next);
    /* The instruction completed: its STI / MOV SS shadow is over. */
    uint64_t intr = vmx_read(VMCS_GUEST_INTERRUPTIBILITY);
    if (intr & (VMX_INTERRUPT_STI | VMX_INTERRUPT_MOVSS))
        vmx_write_nocheck(VMCS_GUEST_INTERRUPTIBILITY,
                          intr & ~(uint64_t)(VMX_INTERRUPT_STI | VMX_INTERRUPT_MOVSS));
    /* Finished here, so its single-step trap is ours to raise: BS in the
       pending debug exceptions, as vmx_inject_step (SDM Vol. 3B 18.3.1.4). */
    if (vmx_read(VMCS_GUEST_RFLAGS) & X86_RFLAGS_TF)
        vmx_write_nocheck(VMCS_GUEST_PENDING_DBG,
                          vmx_read(VMCS_GUEST_PENDING_DBG) | VMX_PENDING_DBG_BS);
}

void vmx_rip_due_write(struct vmx_vcpu *vv)
{
    vv->rip_due_set = false;
    vmx_finish_insn_at(vv->rip_due);
}

void vmx_skip_insn(uint32_t insn_len)
{
    vmx_finish_insn_at(vmx_read(VMCS_GUEST_RIP) + insn_len);
}

static bool in_64bit_code(struct hv_vcpu *vcpu)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    return (vv->entry_ctls & VMX_ENTRY_IA32E) &&
           (vmx_read(VMCS_GUEST_ES_AR + 2 * HV_SEG_CS) & VMX_AR_L);
}

static void flush_vpid(struct hv_vcpu *vcpu)
{
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    /* An emulated MOV CR0 that changes paging must drop the guest's
       cached linear translations, as the real one would (SDM Vol. 3A
       4.10.4.1); entries tagged with its VPID survive VM entry. */
    if (vc->cfg.vpid)
        vmx_invvpid(vc->cfg.invvpid_type, vv->vpid, 0);
}

/* Guest MOV to CR0 (or LMSW / CLTS resolved to a new value). */
static enum vmx_cr_result write_cr0(struct hv_vcpu *vcpu, uint64_t v)
{
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    const struct vmx_config *cfg = &vc->cfg;
    uint64_t old = vmx_visible_cr0(vv);
    uint64_t efer = vmx_read(VMCS_GUEST_EFER);

    /* #GP conditions of MOV to CR0 (SDM Vol. 2B MOV-Move to/from CR). */
    if ((v >> 32) || ((v & X86_CR0_PG) && !(v & X86_CR0_PE)) ||
        ((v & X86_CR0_NW) && !(v & X86_CR0_CD)))
        return VMX_CR_FAULT;
    if (!cfg->ug && (!(v & X86_CR0_PE) || !(v & X86_CR0_PG))) {
        hv_log(&vcpu->vm->ctx->host, HV_LOG_WARN,
               "vmx: guest leaves paged protected mode; needs unrestricted guest");
        return VMX_CR_UNHANDLED;
    }
    if (!(old & X86_CR0_PG) && (v & X86_CR0_PG) && (efer & X86_EFER_LME)) {
        /* Entering IA-32e mode: needs CR4.PAE and not 64-bit CS (SDM Vol. 3A 9.8.5). */
        if (!(vmx_visible_cr4(vv) & X86_CR4_PAE) ||
            (vmx_read(VMCS_GUEST_ES_AR + 2 * HV_SEG_CS) & VMX_AR_L))
            return VMX_CR_FAULT;
        efer |= X86_EFER_LMA;
        vv->entry_ctls |= VMX_ENTRY_IA32E;
    } else if ((old & X86_CR0_PG) && !(v & X86_CR0_PG) && (efer & X86_EFER_LMA)) {
        /* Leaving IA-32e mode is only legal from compatibility mode. */
        if (in_64bit_code(vcpu))
            return VMX_CR_FAULT;
        efer &= ~X86_EFER_LMA;
        vv->entry_ctls &= ~VMX_ENTRY_IA32E;
    }
    vmx_write(VMCS_GUEST_EFER, efer);
    vmx_write(VMCS_ENTRY_CTLS, vv->entry_ctls);
    vv->cr0 = v;
    vmx_write(VMCS_CR0_SHADOW, v);
    vmx_write(VMCS_GUEST_CR0, vmx_real_cr0(cfg, v));
    if ((old ^ v) & (X86_CR0_PG | X86_CR0_PE | X86_CR0_WP))
        flush_vpid(vcpu);
    vmx_load_pdptes(vcpu);
    return VMX_CR_DONE;
}

/* Guest MOV to CR4: it only exits when a masked bit (VMXE, OSXSAVE, PKE,
   or a bit the CPU does not support in VMX operation) changes. Setting
   VMXE or PKE #GPs: the guest's CPUID has no VMX or PKU, which makes them
   reserved bits for it (SDM Vol. 3A 2.5, Vol. 2 MOV CR). OSXSAVE is the
   guest's when its CPUID has XSAVE (overrides included, so asked here
   rather than fixed in the CR4 mask at creation); #GP otherwise. */
static enum vmx_cr_result write_cr4(struct hv_vcpu *vcpu, uint64_t v)
{
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    const struct vmx_config *cfg = &vc->cfg;
    uint64_t real = vmx_real_cr4(cfg, v);

    if ((v & X86_CR4_VMXE) || hv_cr4_refused(vcpu, v) ||
        !vmx_fixed_ok(real, cfg->cr4_fixed0, cfg->cr4_fixed1))
        return VMX_CR_FAULT;
    if ((vv->entry_ctls & VMX_ENTRY_IA32E) && !(v & X86_CR4_PAE))
        return VMX_CR_FAULT;
    vv->cr4 = v;
    vmx_write(VMCS_CR4_SHADOW, v);
    vmx_write(VMCS_GUEST_CR4, real);
    flush_vpid(vcpu);
    vmx_load_pdptes(vcpu);
    return VMX_CR_DONE;
}

enum vmx_cr_result vmx_handle_cr(struct hv_vcpu *vcpu, uint64_t qual, uint32_t insn_len)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    uint32_t cr = qual & 0xfu;
    uint32_t type = (qual >> 4) & 3u;
    uint32_t reg = (qual >> 8) & 0xfu;
    uint64_t *gpr = &vcpu->gpr[reg];
    bool wide = in_64bit_code(vcpu);
    enum vmx_cr_result r = VMX_CR_UNHANDLED;
    uint64_t val = wide ? *gpr : (uint32_t)*gpr;

    switch (type) {
    case 0: /* MOV to CR */
        if (cr == 0)
            r = write_cr0(vcpu, val);
        else if (cr == 4)
            r = write_cr4(vcpu, val);
        else if (cr == 3) {
            /* Only with CR3-load exiting forced on (no TRUE controls). */
            vmx_write(VMCS_GUEST_CR3, val);
            if (vmx_ctx_of_vcpu(vcpu)->cfg.vpid)
                vmx_invvpid(vmx_ctx_of_vcpu(vcpu)->cfg.invvpid_type, vv->vpid, 0);
            vmx_load_pdptes(vcpu);
            r = VMX_CR_DONE;
        } else if (cr == 8) {
            if (val > 15)
                r = VMX_CR_FAULT;
            else {
                vv->cr8 = val;
                r = VMX_CR_DONE;
            }
        }
        break;
    case 1: /* MOV from CR: only CR3 (if forced) and CR8 exit */
        if (cr == 3) {
            *gpr = vmx_read(VMCS_GUEST_CR3);
            r = VMX_CR_DONE;
        } else if (cr == 8) {
            *gpr = vv->cr8;
            r = VMX_CR_DONE;
        }
        break;
    case 2: /* CLTS */
        r = write_cr0(vcpu, vmx_visible_cr0(vv) & ~(1ull << 3));
        break;
    case 3: { /* LMSW: loads PE, MP, EM, TS; cannot clear PE (SDM Vol. 2A LMSW) */
        uint64_t src = (qual >> 16) & 0xfu;
        uint64_t cur = vmx_visible_cr0(vv);
        uint64_t v = (cur & ~0xeull) | (src & 0xfu) | (cur & X86_CR0_PE);
        r = write_cr0(vcpu, v);
        break;
    }
    }
    if (r == VMX_CR_DONE)
        vmx_skip_insn(insn_len);
    else if (r == VMX_CR_FAULT)
        vmx_raise(vcpu, VEC_GP, true, 0);
    return r;
}
