/*
 * VMCS contents (SDM Vol. 3C chapter 24): the control fields written once
 * per vCPU, the host-state fields refreshed before entries (they differ
 * per CPU), and the MSR bitmap and MSR lists.
 */
#include "vmx/vmx.h"
#include "vmx/vmx_arch.h"
#include "vmx/vmx_host.h"
#include "vmx/vmx_insn.h"
#include "core/cpu.h"
#include "core/util.h"

/* MSRs the guest reads and writes without an exit. Their guest values live
   in the VMCS guest-state area (FS/GS base, SYSENTER, EFER, PAT: loaded at
   entry, saved at exit, SDM 26.3.2.1 / 27.3.1) or in the MSR lists below. */
static const uint32_t passthrough_msrs[] = {
    VMX_MSR_FS_BASE,      VMX_MSR_GS_BASE,      VMX_MSR_KERNEL_GS_BASE, VMX_MSR_STAR,
    VMX_MSR_LSTAR,        VMX_MSR_CSTAR,        VMX_MSR_SFMASK,         VMX_MSR_SYSENTER_CS,
    VMX_MSR_SYSENTER_ESP, VMX_MSR_SYSENTER_EIP, VMX_MSR_EFER,           VMX_MSR_PAT,
};

/* The switched MSRs, in enum VMX_SW_* order. */
static const uint32_t switched_msrs[VMX_SW_COUNT] = {
    VMX_MSR_KERNEL_GS_BASE, VMX_MSR_STAR, VMX_MSR_LSTAR, VMX_MSR_CSTAR, VMX_MSR_SFMASK,
};

/* MSR bitmap layout (SDM 24.6.9): read low, read high, write low, write
   high, 1 KiB each; low = 0..1FFFH, high = C0000000H..C0001FFFH. */
static void msr_passthrough(uint8_t *bitmap, uint32_t msr)
{
    uint32_t base = 0, idx = msr;
    if (msr >= 0xc0000000u) {
        base = 1024;
        idx = msr - 0xc0000000u;
    }
    if (idx >= 0x2000u)
        return;
    bitmap[base + idx / 8] &= (uint8_t) ~(1u << (idx % 8));
    bitmap[2048 + base + idx / 8] &= (uint8_t) ~(1u << (idx % 8));
}

void vmx_msr_bitmap_init(uint8_t *bitmap)
{
    hv_memset(bitmap, 0xff, HV_PAGE_SIZE);
    for (uint32_t i = 0; i < HV_ARRAY_SIZE(passthrough_msrs); i++)
        msr_passthrough(bitmap, passthrough_msrs[i]);
}

void vmx_msr_lists_init(struct vmx_vcpu *vv)
{
    struct vmx_msr_entry *guest = vv->msrs;
    struct vmx_msr_entry *host = (struct vmx_msr_entry *)((uint8_t *)vv->msrs + 2048);
    for (int i = 0; i < VMX_SW_COUNT; i++) {
        guest[i].index = switched_msrs[i];
        host[i].index = switched_msrs[i];
    }
}

#if !HV_HOSTED
/* Host values can differ per CPU (KERNEL_GS_BASE in SMP kernels). The list
   is libhv's own memory, which the CPU only reads (at exits, SDM 27.6): a
   store is cheaper than a compare to skip it, so each value is stored,
   EDX:EAX as RDMSR returns them (the list is little-endian, SDM 24.8.2). */
static void msr_lists_host(struct vmx_vcpu *vv)
{
    struct vmx_msr_entry *host = (struct vmx_msr_entry *)((uint8_t *)vv->msrs + 2048);
#pragma GCC unroll 8
    for (int i = 0; i < VMX_SW_COUNT; i++)
        __asm__ volatile("rdmsr; mov %%eax, %0; mov %%edx, 4+%0"
                         : "=m"(host[i].value)
                         : "c"(switched_msrs[i])
                         : "rax", "rdx");
}
#endif

hv_status_t vmx_vmcs_setup(struct hv_vcpu *vcpu)
{
    struct vmx_ctx *vc = vmx_ctx_of_vcpu(vcpu);
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    const struct vmx_config *cfg = &vc->cfg;
    int bad = 0;

    /* SDM 24.2 / 24.11.3: revision in the first word, then VMCLEAR to
       initialize the launch state before the first VMPTRLD. */
    *(uint32_t *)vv->vmcs = cfg->revision;
    vmx_msr_lists_init(vv);
    if (vmx_vmclear(vv->vmcs_hpa) != 0)
        return HV_ERR_HW;
    vv->cpu = VMX_NO_CPU;
    vv->launched = 0;

    hv_status_t st;
    uint64_t f = vmx_vmcs_begin(vcpu, &st);
    if (st != HV_OK) {
        vmx_vmcs_end(f);
        return st;
    }
    vv->proc_ctls = cfg->ctl[VMX_CTL_PROC];
    vv->dr6 = VMX_DR6_INIT;
    vv->entry_ctls = cfg->ctl[VMX_CTL_ENTRY];
    bad |= vmx_write(VMCS_PIN_CTLS, cfg->ctl[VMX_CTL_PIN]);
    bad |= vmx_write(VMCS_PROC_CTLS, vv->proc_ctls);
    bad |= vmx_write(VMCS_PROC2_CTLS, cfg->ctl[VMX_CTL_PROC2]);
    bad |= vmx_write(VMCS_EXIT_CTLS, cfg->ctl[VMX_CTL_EXIT]);
    bad |= vmx_write(VMCS_ENTRY_CTLS, vv->entry_ctls);
    if (cfg->vpid)
        bad |= vmx_write(VMCS_VPID, vv->vpid);
    bad |= vmx_write(VMCS_EXCEPTION_BITMAP, 0);
    bad |= vmx_write(VMCS_PF_ERR_MASK, 0);
    bad |= vmx_write(VMCS_PF_ERR_MATCH, 0);
    bad |= vmx_write(VMCS_CR3_TARGET_COUNT, 0);
    bad |= vmx_write(VMCS_MSR_BITMAP, vmx_vm_of(vcpu->vm)->msr_bitmap_hpa);
    /* One area serves as exit-store and entry-load list: the guest values
       saved at an exit are loaded again at the next entry (SDM 24.7.2). */
    bad |= vmx_write(VMCS_EXIT_MSR_STORE_ADDR, vv->msrs_hpa);
    bad |= vmx_write(VMCS_ENTRY_MSR_LOAD_ADDR, vv->msrs_hpa);
    bad |= vmx_write(VMCS_EXIT_MSR_LOAD_ADDR, vv->msrs_hpa + 2048);
    bad |= vmx_write(VMCS_EXIT_MSR_STORE_COUNT, VMX_SW_COUNT);
    bad |= vmx_write(VMCS_ENTRY_MSR_LOAD_COUNT, VMX_SW_COUNT);
    bad |= vmx_write(VMCS_EXIT_MSR_LOAD_COUNT, VMX_SW_COUNT);
    bad |= vmx_write(VMCS_EPTP, vmx_vm_of(vcpu->vm)->eptp);
    bad |= vmx_write(VMCS_TSC_OFFSET, 0);
    bad |= vmx_write(VMCS_LINK_POINTER, ~0ull);
    bad |= vmx_write(VMCS_ENTRY_INTR_INFO, 0);
    /* Guest/host masks (SDM 24.6.6): the bits libhv owns. CR0: PE/PG (mode
       switches need the IA-32e control updated), NE (forced 1), CD/NW (kept
       0 in the real CR0: memory types come from EPT and the guest PAT), and
       whatever else the fixed bits force. CR4: VMXE and the fixed bits. */
    uint64_t cr0_mask = X86_CR0_PE | X86_CR0_NE | X86_CR0_NW | X86_CR0_CD | X86_CR0_PG |
                        cfg->cr0_fixed0 | (~cfg->cr0_fixed1 & 0xffffffffull);
    uint64_t cr4_mask = X86_CR4_VMXE | cfg->cr4_fixed0 | ~cfg->cr4_fixed1;
    /* OSXSAVE too: the guest may set it only while its CPUID has XSAVE,
       which an override can change at any time (vmx_cr.c write_cr4). And
       PKE: the policy hides PKU and PKRU is not switched (it is in neither
       the VMCS nor the entry/exit MSR lists): with CR4.PKE clear the guest's
       RDPKRU/WRPKRU raise #UD (SDM Vol. 3A 4.6.2, Vol. 2 WRPKRU), so it can
       neither change the host's PKRU nor read another context's. */
    cr4_mask |= X86_CR4_OSXSAVE | X86_CR4_PKE;
    vv->cr0_mask = cr0_mask;
    vv->cr4_mask = cr4_mask;
    bad |= vmx_write(VMCS_CR0_MASK, cr0_mask);
    bad |= vmx_write(VMCS_CR4_MASK, cr4_mask);
    bad |= vmx_write(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_trampoline);
    vmx_vmcs_end(f);
    if (bad) {
        hv_log(&vcpu->vm->ctx->host, HV_LOG_ERROR, "vmx: VMWRITE failed while setting up the VMCS");
        return HV_ERR_HW;
    }
    return HV_OK;
}

#if !HV_HOSTED
/* Every host field read again, written when it changed (vmx_host.h);
   @p all (an invalid copy) writes them all. Inlined twice, once for each
   value of @p all, so that the common path carries no test of it. */
static inline __attribute__((always_inline)) void host_fields(struct vmx_vcpu *vv,
                                                              const struct x86_dtr *gdtr,
                                                              const struct x86_dtr *idtr,
                                                              uint16_t tr, bool all)
{
    struct vmx_host_fields *h = &vv->host;
    bool *ok = &vv->host_valid;
    uint32_t lo, hi;
#define HOST_MSR(member, field, msr)                                                               \
    do {                                                                                           \
        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));                                 \
        vmx_host_msr(h->member, field, lo, hi, all, ok);                                           \
    } while (0)

    vmx_host_field(&h->cr0, VMCS_HOST_CR0, x86_read_cr0(), all, ok);
    vmx_host_field(&h->cr3, VMCS_HOST_CR3, x86_read_cr3(), all, ok);
    uint64_t cr4 = hv_read_cr4();
    /* Whether XCR0 needs switching follows the host's CR4.OSXSAVE
       (vmx_run.c): noted only when CR4 changed. */
    if (all || __builtin_expect(cr4 != h->cr4, 0))
        vv->xcr0_host = (cr4 & X86_CR4_OSXSAVE) != 0;
    vmx_host_field(&h->cr4, VMCS_HOST_CR4, cr4, all, ok);
    /* SDM 26.2.3 host checks: selectors with RPL=TI=0; CS and TR not 0. */
    vmx_host_sel(&h->cs, VMCS_HOST_CS_SEL, x86_read_cs(), all, ok);
    vmx_host_sel(&h->ss, VMCS_HOST_SS_SEL, x86_read_ss(), all, ok);
    vmx_host_sel(&h->ds, VMCS_HOST_DS_SEL, x86_read_ds(), all, ok);
    vmx_host_sel(&h->es, VMCS_HOST_ES_SEL, x86_read_es(), all, ok);
    vmx_host_sel(&h->fs, VMCS_HOST_FS_SEL, x86_read_fs(), all, ok);
    vmx_host_sel(&h->gs, VMCS_HOST_GS_SEL, x86_read_gs(), all, ok);
    vmx_host_sel(&h->tr, VMCS_HOST_TR_SEL, tr, all, ok);
    HOST_MSR(fs_base, VMCS_HOST_FS_BASE, VMX_MSR_FS_BASE);
    HOST_MSR(gs_base, VMCS_HOST_GS_BASE, VMX_MSR_GS_BASE);
    /* The TSS descriptor in the host's GDT (16 bytes, SDM Vol. 3A 7.2.3). */
    uint64_t desc_lo;
    uint32_t desc_hi;
    const uint8_t *desc = (const uint8_t *)(uintptr_t)(gdtr->base + (tr & ~7u));
    __builtin_memcpy(&desc_lo, desc, sizeof(desc_lo));
    __builtin_memcpy(&desc_hi, desc + 8, sizeof(desc_hi));
    vmx_host_tss(h, desc_lo, desc_hi, all, ok);
    vmx_host_field(&h->gdtr_base, VMCS_HOST_GDTR_BASE, gdtr->base, all, ok);
    vmx_host_field(&h->idtr_base, VMCS_HOST_IDTR_BASE, idtr->base, all, ok);
    HOST_MSR(sysenter_cs, VMCS_HOST_SYSENTER_CS, VMX_MSR_SYSENTER_CS);
    HOST_MSR(sysenter_esp, VMCS_HOST_SYSENTER_ESP, VMX_MSR_SYSENTER_ESP);
    HOST_MSR(sysenter_eip, VMCS_HOST_SYSENTER_EIP, VMX_MSR_SYSENTER_EIP);
    HOST_MSR(efer, VMCS_HOST_EFER, VMX_MSR_EFER);
    HOST_MSR(pat, VMCS_HOST_PAT, VMX_MSR_PAT);
#undef HOST_MSR
}
#endif

void vmx_vmcs_host_state(struct hv_vcpu *vcpu, struct vmx_host_save *save)
{
#if !HV_HOSTED
    struct vmx_vcpu *vv = vmx_vcpu_of(vcpu);
    struct x86_dtr gdtr, idtr;
    x86_sgdt(&gdtr);
    x86_sidt(&idtr);
    uint16_t tr = x86_str();

    if (__builtin_expect(vv->host_valid, 1)) {
        host_fields(vv, &gdtr, &idtr, tr, false);
    } else {
        vv->host_valid = true; /* until a VMWRITE fails */
        host_fields(vv, &gdtr, &idtr, tr, true);
    }
    msr_lists_host(vv);

    /* What VM exit does not restore (SDM 27.5.2): the GDTR/IDTR limits
       become 0xffff and the TR limit 0x67. */
    save->gdtr = gdtr;
    save->idtr = idtr;
    save->tr = tr;
    uint32_t limit = 0;
    __asm__ volatile("lsl %1, %0" : "=r"(limit) : "r"((uint32_t)tr) : "cc");
    save->tr_limit = limit;
#else
    (void)vcpu;
    (void)save;
#endif
}

void vmx_host_restore(const struct vmx_host_save *save)
{
#if !HV_HOSTED
    if (save->gdtr.limit != 0xffff)
        x86_lgdt(&save->gdtr);
    if (save->idtr.limit != 0xffff)
        x86_lidt(&save->idtr);
    if (save->tr_limit != 0x67) {
        /* LTR faults on a busy TSS: mark the descriptor available first. */
        uint8_t *d = (uint8_t *)(uintptr_t)(save->gdtr.base + (save->tr & ~7u));
        d[5] &= (uint8_t)~0x02u;
        x86_ltr(save->tr);
    }
#else
    (void)save;
#endif
}
