/*
 * The VMX backend's ops table and the small operations that need no file
 * of their own: VM and vCPU objects, the SLAT format and flush, and the hot
 * register accessors of the exit dispatcher.
 */
#include "vmx/vmx.h"
#include "vmx/ept_format.h"
#include "vmx/vmx_decode.h"
#include "vmx/vmx_fetch_regs.h"
#include "core/assist.h"
#include "core/util.h"

static const struct hv_slat_format *vmx_slat_format(const struct hv_ctx *ctx)
{
    return &vmx_ctx_of(ctx)->ept;
}

static hv_status_t vmx_vm_init(struct hv_vm *vm)
{
    struct vmx_ctx *vc = vmx_ctx_of(vm->ctx);
    struct vmx_vm *v = hv_host_obj_alloc(&vm->ctx->host, sizeof(*v));
    if (!v)
        return HV_ERR_NO_MEMORY;
    v->msr_bitmap = hv_host_page_alloc(&vm->ctx->host, 1, &v->msr_bitmap_hpa);
    if (!v->msr_bitmap) {
        hv_host_obj_free(&vm->ctx->host, v, sizeof(*v));
        return HV_ERR_NO_MEMORY;
    }
    vmx_msr_bitmap_init(v->msr_bitmap);
    /* EPTP: write-back tables, 4-level walk, A/D when the CPU has them
       (SDM Vol. 3C 24.6.11). */
    v->eptp = hv_ept_eptp(hv_slat_root_hpa(&vm->slat), vc->cfg.ept_ad);
    vm->arch = v;
    return HV_OK;
}

static void vmx_vm_fini(struct hv_vm *vm)
{
    struct vmx_vm *v = vm->arch;
    if (v)
        hv_host_page_free(&vm->ctx->host, v->msr_bitmap, 1);
    hv_host_obj_free(&vm->ctx->host, vm->arch, sizeof(struct vmx_vm));
    vm->arch = NULL;
}

static void vmx_slat_flush(struct hv_vm *vm)
{
    struct vmx_ctx *vc = vmx_ctx_of(vm->ctx);
    struct vmx_vm *v = vmx_vm_of(vm);
    /* One INVEPT here for this CPU; every vCPU of the VM sees the new
       generation and invalidates on its own CPU before its next entry. */
    __atomic_add_fetch(&v->ept_gen, 1, __ATOMIC_RELEASE);
#if !HV_HOSTED
    vmx_invept(vc->cfg.invept_type, v->eptp);
#else
    (void)vc;
#endif
}

static void free_vcpu_pages(const struct hv_host *host, struct vmx_vcpu *vv)
{
    hv_host_page_free(host, vv->vmcs, 1);
    hv_host_page_free(host, vv->msrs, 1);
}

static hv_status_t vmx_vcpu_init(struct hv_vcpu *vcpu)
{
    const struct hv_host *host = &vcpu->vm->ctx->host;
    struct vmx_ctx *vc = vmx_ctx_of(vcpu->vm->ctx);
    struct vmx_vcpu *vv = hv_host_obj_alloc(host, sizeof(*vv));
    hv_status_t st = HV_ERR_NO_MEMORY;

    if (!vv)
        return HV_ERR_NO_MEMORY;
    vv->cpu = VMX_NO_CPU;
    vv->last_cpu = VMX_NO_CPU;
    vv->host_valid = false; /* a new VMCS holds no host state (vmx_host.h) */
    vv->vmcs = hv_host_page_alloc(host, 1, &vv->vmcs_hpa);
    vv->msrs = hv_host_page_alloc(host, 1, &vv->msrs_hpa);
    if (!vv->vmcs || !vv->msrs)
        goto fail;
    if (vc->cfg.vpid) {
        vv->vpid = vmx_vpid_alloc(vc, host);
        if (!vv->vpid) {
            st = HV_ERR_LIMIT;
            goto fail;
        }
    }
    vcpu->arch = vv;
    st = vmx_vmcs_setup(vcpu);
    if (st != HV_OK)
        goto fail_vmcs;
    /* The INIT state is real mode. Without unrestricted guest the vCPU is
       still created; run() refuses it until set_state gives a paged
       protected-mode state. */
    vmx_reset_state(vcpu);
    return HV_OK;

fail_vmcs:
    vmx_vmcs_evict(vcpu);
    vcpu->arch = NULL;
    vmx_vpid_free(vc, host, vv->vpid);
fail:
    free_vcpu_pages(host, vv);
    hv_host_obj_free(host, vv, sizeof(*vv));
    return st;
}

static void vmx_vcpu_fini(struct hv_vcpu *vcpu)
{
    const struct hv_host *host = &vcpu->vm->ctx->host;
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    if (!vv)
        return;
    /* VMCLEAR writes the CPU's cached VMCS data back: only then may the
       page be reused (SDM 24.11.1). */
    vmx_vmcs_evict(vcpu);
    vmx_vpid_free(vmx_ctx_of(vcpu->vm->ctx), host, vv->vpid);
    free_vcpu_pages(host, vv);
    hv_host_obj_free(host, vv, sizeof(*vv));
    vcpu->arch = NULL;
}

static uint64_t read_field(struct hv_vcpu *vcpu, uint32_t field)
{
    hv_status_t st;
    uint64_t f = vmx_vmcs_begin(vcpu, &st);
    uint64_t v = st == HV_OK ? vmx_read(field) : 0;
    vmx_vmcs_end(f);
    return v;
}

static uint64_t vmx_get_rip(struct hv_vcpu *vcpu)
{
    return read_field(vcpu, VMCS_GUEST_RIP);
}

/* The core moves RIP past an instruction it finished, which ends an STI /
   MOV SS shadow as executing it would (vmx_finish_insn_at). Left for the
   VMCS's next bracket (vmx_vmcs_begin): the entry that follows, which
   opens one anyway, or any access to the guest's state before it, which
   then sees the new RIP. The core completes an embedder's exit this way
   at every run that follows one: no bracket of its own. (The one access
   without a bracket, vmx_inject_irq's from the event delivery just before
   that entry, may find the shadow not ended yet: it then asks for the
   interrupt window, which opens at once.) */
static void vmx_set_rip(struct hv_vcpu *vcpu, uint64_t rip)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    vv->rip_due = rip;
    vv->rip_due_set = true;
}

static uint64_t vmx_get_rflags(struct hv_vcpu *vcpu)
{
    return read_field(vcpu, VMCS_GUEST_RFLAGS);
}

static unsigned vmx_get_cpl(struct hv_vcpu *vcpu)
{
    /* CPL is SS.DPL (SDM Vol. 3C 24.4.1); 0 in real mode. */
    if (!(vmx_vcpu_of(vcpu)->cr0 & X86_CR0_PE))
        return 0;
    return VMX_AR_DPL((uint32_t)read_field(vcpu, VMCS_GUEST_ES_AR + 2 * HV_SEG_SS));
}

static bool vmx_long_mode(struct hv_vcpu *vcpu)
{
    return (vmx_vcpu_of(vcpu)->entry_ctls & VMX_ENTRY_IA32E) &&
           (read_field(vcpu, VMCS_GUEST_ES_AR + 2 * HV_SEG_CS) & VMX_AR_L);
}

void vmx_fetch_regs(struct hv_vcpu *vcpu, struct hv_fetch_regs *fr)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    hv_status_t st;
    uint64_t f = vmx_vmcs_begin(vcpu, &st);
    if (st != HV_OK) {
        /* Unreachable VMCS: a fetch that stops at once (RIP beyond a
           zero CS limit outside 64-bit mode). */
        hv_memset(fr, 0, sizeof(*fr));
        fr->rip = 1;
        vmx_vmcs_end(f);
        return;
    }
    vmx_read_fetch_regs(vv, fr, vmx_read);
    vmx_vmcs_end(f);
}

/* The MSR bitmap per VM; VMCS and MSR load/store area per vCPU (SDM Vol.
   3C 24.2, 24.6.9, 24.7.2). The EPT counts as SLAT. */
static uint64_t vmx_arch_pages(struct hv_vm *vm)
{
    const struct vmx_vm *v = vmx_vm_of(vm);
    return (v && v->msr_bitmap ? 1 : 0) + 2ull * vm->vcpu_count;
}

const struct hv_backend_ops hv_vmx_backend = {
    .name = "vmx",
    .id = HV_BACKEND_VMX,
    .probe = vmx_probe,
    .ctx_init = vmx_ctx_init,
    .ctx_fini = vmx_ctx_fini,
    .slat_format = vmx_slat_format,
    .vm_init = vmx_vm_init,
    .vm_fini = vmx_vm_fini,
    .slat_flush = vmx_slat_flush,
    .vcpu_init = vmx_vcpu_init,
    .vcpu_fini = vmx_vcpu_fini,
    .get_state = vmx_get_state,
    .set_state = vmx_set_state,
    .run = vmx_run,
    .load = vmx_load,
    .put = vmx_put,
    .get_rip = vmx_get_rip,
    .set_rip = vmx_set_rip,
    .get_rflags = vmx_get_rflags,
    .get_cpl = vmx_get_cpl,
    .long_mode = vmx_long_mode,
    .get_fetch_regs = vmx_fetch_regs,
    .arch_pages = vmx_arch_pages,
    .can_inject = vmx_can_inject,
    .inject = vmx_inject,
    .set_window = vmx_set_window,
    .inject_irq = vmx_inject_irq,
    .inject_step = vmx_inject_step,
    .debug_intercept = vmx_debug_intercept,
    .xcr0_changed = vmx_xcr0_changed,
};
