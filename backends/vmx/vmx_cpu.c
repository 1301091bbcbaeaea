/*
 * Per-host-CPU VMX operation (SDM Vol. 3C 23.7-23.8): VMXON regions,
 * enable/disable through run_on_each_cpu with undo on partial failure; VPID
 * allocation; which VMCS is current on which CPU.
 *
 * VPIDs are per vCPU: two vCPUs of a VM may run different page tables on
 * one CPU, and a per-VM tag would let one use the other's cached linear
 * translations (SDM 28.1). A vCPU that moves to another CPU flushes its
 * VPID there (vmx_run.c), since that CPU may hold translations from before.
 */
#include "vmx/vmx.h"
#include "vmx/vmx_arch.h"
#include "vmx/vmx_insn.h"
#include "vmx/ept_format.h"
#include "core/cpu.h"
#include "core/util.h"

static void cpu_enable(void *arg, uint32_t cpu)
{
    struct hv_ctx *ctx = arg;
    struct vmx_ctx *vc = vmx_ctx_of(ctx);
    const struct vmx_config *cfg = &vc->cfg;

    if (cpu >= vc->ncpus)
        return; /* status stays HV_ERR_HOST: reported by vmx_ctx_init */
    struct vmx_cpu *p = &vc->cpus[cpu];
#if HV_HOSTED
    (void)cfg;
    p->status = HV_ERR_HW;
#else
    uint64_t fc = hv_rdmsr(VMX_MSR_FEATURE_CONTROL);
    if (!(fc & VMX_FC_LOCK)) {
        fc |= VMX_FC_LOCK | VMX_FC_VMXON_OUTSIDE;
        hv_wrmsr(VMX_MSR_FEATURE_CONTROL, fc);
    }
    if (!(fc & VMX_FC_VMXON_OUTSIDE)) {
        p->status = HV_ERR_UNSUPPORTED;
        return;
    }
    uint64_t cr4 = hv_read_cr4();
    if (cr4 & X86_CR4_VMXE) {
        /* Someone else (another context, another hypervisor) is in VMX
           operation here: VMXON would fail or steal it. */
        p->status = HV_ERR_BUSY;
        return;
    }
    /* SDM 23.8: CR0 and CR4 must satisfy the fixed bits in VMX operation
       (CR0.NE, PE, PG; CR4.VMXE). */
    p->saved_cr0 = x86_read_cr0();
    uint64_t cr0 = (p->saved_cr0 | cfg->cr0_fixed0) & (cfg->cr0_fixed1 | 0xffffffff00000000ull);
    if (cr0 != p->saved_cr0)
        x86_write_cr0(cr0);
    hv_write_cr4((cr4 | X86_CR4_VMXE | cfg->cr4_fixed0) & cfg->cr4_fixed1);
    p->set_vmxe = true;
    *(uint32_t *)p->vmxon = cfg->revision; /* SDM 24.11.5 */
    if (vmx_vmxon(p->vmxon_hpa) != 0) {
        hv_write_cr4(cr4);
        x86_write_cr0(p->saved_cr0);
        p->set_vmxe = false;
        p->status = HV_ERR_HW;
        return;
    }
    p->on = true;
    p->current = NULL;
    p->status = HV_OK;
#endif
}

static void cpu_disable(void *arg, uint32_t cpu)
{
    struct vmx_ctx *vc = vmx_ctx_of((struct hv_ctx *)arg);
    if (cpu >= vc->ncpus)
        return;
    struct vmx_cpu *p = &vc->cpus[cpu];
#if !HV_HOSTED
    if (p->on) {
        vmx_vmxoff();
        p->on = false;
    }
    if (p->set_vmxe) {
        hv_write_cr4(hv_read_cr4() & ~X86_CR4_VMXE);
        if (x86_read_cr0() != p->saved_cr0)
            x86_write_cr0(p->saved_cr0);
        p->set_vmxe = false;
    }
#endif
    p->current = NULL;
}

static void free_cpus(struct hv_ctx *ctx, struct vmx_ctx *vc)
{
    if (!vc->cpus)
        return;
    for (uint32_t i = 0; i < vc->ncpus; i++)
        hv_host_page_free(&ctx->host, vc->cpus[i].vmxon, 1);
    hv_host_obj_free(&ctx->host, vc->cpus, vc->ncpus * sizeof(vc->cpus[0]));
    vc->cpus = NULL;
}

hv_status_t vmx_ctx_init(struct hv_ctx *ctx)
{
    const struct hv_host *host = &ctx->host;
    struct vmx_ctx *vc = hv_host_obj_alloc(host, sizeof(*vc));
    hv_status_t st;

    if (!vc)
        return HV_ERR_NO_MEMORY;
    ctx->arch = vc;
    st = vmx_read_config(host, &vc->cfg);
    if (st != HV_OK)
        goto fail;
    hv_ept_format_init(&vc->ept, vc->cfg.slat_page_sizes, vc->cfg.ept_ad, vc->cfg.ept_exec_only);

    vc->ncpus = hv_host_cpu_count(host);
    st = HV_ERR_HOST;
    if (vc->ncpus == 0 || vc->ncpus > 4096)
        goto fail;
    st = HV_ERR_NO_MEMORY;
    vc->cpus = hv_host_obj_alloc(host, vc->ncpus * sizeof(vc->cpus[0]));
    if (!vc->cpus)
        goto fail;
    for (uint32_t i = 0; i < vc->ncpus; i++) {
        vc->cpus[i].status = HV_ERR_HOST; /* until the enable ran there */
        vc->cpus[i].vmxon = hv_host_page_alloc(host, 1, &vc->cpus[i].vmxon_hpa);
        if (!vc->cpus[i].vmxon)
            goto fail;
    }

    int rc = host->ops.run_on_each_cpu(host->ops.opaque, cpu_enable, ctx);
    st = HV_OK;
    for (uint32_t i = 0; i < vc->ncpus && st == HV_OK; i++)
        st = vc->cpus[i].status;
    if (rc != 0 || st != HV_OK) {
        hv_log(host, HV_LOG_ERROR, "vmx: enabling VMX failed on some CPU (%s); undone",
               hv_status_str(st != HV_OK ? st : HV_ERR_HOST));
        host->ops.run_on_each_cpu(host->ops.opaque, cpu_disable, ctx);
        st = HV_ERR_HOST;
        goto fail;
    }
    return HV_OK;

fail:
    free_cpus(ctx, vc);
    hv_host_obj_free(host, vc, sizeof(*vc));
    ctx->arch = NULL;
    return st;
}

void vmx_ctx_fini(struct hv_ctx *ctx)
{
    struct vmx_ctx *vc = vmx_ctx_of(ctx);
    if (!vc)
        return;
    ctx->host.ops.run_on_each_cpu(ctx->host.ops.opaque, cpu_disable, ctx);
    free_cpus(ctx, vc);
    hv_host_obj_free(&ctx->host, vc, sizeof(*vc));
    ctx->arch = NULL;
}

uint16_t vmx_vpid_alloc(struct vmx_ctx *vc, const struct hv_host *host)
{
    uint16_t vpid = 0;
    uint64_t t = hv_lock_acquire(host, &vc->vpid_lock);
    for (uint32_t v = 1; v <= VMX_VPID_COUNT; v++) {
        if (!(vc->vpid_map[v / 64] & HV_BIT(v % 64))) {
            vc->vpid_map[v / 64] |= HV_BIT(v % 64);
            vpid = (uint16_t)v;
            break;
        }
    }
    hv_lock_release(host, &vc->vpid_lock, t);
    return vpid;
}

void vmx_vpid_free(struct vmx_ctx *vc, const struct hv_host *host, uint16_t vpid)
{
    if (vpid == 0 || vpid > VMX_VPID_COUNT)
        return;
    uint64_t t = hv_lock_acquire(host, &vc->vpid_lock);
    vc->vpid_map[vpid / 64] &= ~HV_BIT(vpid % 64);
    hv_lock_release(host, &vc->vpid_lock, t);
}

hv_status_t vmx_vmcs_load(struct hv_vcpu *vcpu, uint32_t cpu)
{
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);

    if (cpu >= vc->ncpus || !vc->cpus[cpu].on)
        return HV_ERR_HOST;
    if (vv->cpu != VMX_NO_CPU && vv->cpu != cpu)
        return HV_ERR_AGAIN;
    struct vmx_cpu *p = &vc->cpus[cpu];
    if (p->current != vcpu || vv->cpu != cpu) {
        if (vmx_vmptrld(vv->vmcs_hpa) != 0)
            return HV_ERR_HW;
        p->current = vcpu;
        vv->cpu = cpu;
    }
    return HV_OK;
}

/* VMCLEAR must run on the CPU the VMCS is active on (SDM 24.11.3). */
static void vmcs_clear_here(void *arg, uint32_t cpu)
{
    struct hv_vcpu *vcpu = arg;
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);

    if (cpu != vv->cpu || cpu >= vc->ncpus)
        return;
    vmx_vmclear(vv->vmcs_hpa);
    if (vc->cpus[cpu].current == vcpu)
        vc->cpus[cpu].current = NULL;
    vv->launched = 0;
    /* The next CPU must not trust what this one wrote (vmx_host.h). */
    vv->host_valid = false;
    __atomic_store_n(&vv->cpu, VMX_NO_CPU, __ATOMIC_RELEASE);
}

void vmx_vmcs_evict(struct hv_vcpu *vcpu)
{
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    const struct hv_host *host = &vcpu->vm->ctx->host;
    if (__atomic_load_n(&vv->cpu, __ATOMIC_ACQUIRE) == VMX_NO_CPU)
        return;
    host->ops.run_on_each_cpu(host->ops.opaque, vmcs_clear_here, vcpu);
}

/* vmx_vmcs_begin() when the VMCS is not current here yet. */
uint64_t vmx_vmcs_begin_load(struct hv_vcpu *vcpu, hv_status_t *st)
{
    const struct hv_host *host = &vcpu->vm->ctx->host;
    for (int tries = 0;; tries++) {
        uint64_t f = x86_irq_save();
        *st = vmx_vmcs_load(vcpu, hv_host_cpu_current(host));
        if (*st == HV_OK && vmx_vcpu_of(vcpu)->rip_due_set)
            vmx_rip_due_write(vmx_vcpu_of(vcpu));
        if (*st != HV_ERR_AGAIN || tries > 4)
            return f;
        x86_irq_restore(f);
        vmx_vmcs_evict(vcpu);
    }
}
