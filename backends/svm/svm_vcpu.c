/*
 * vCPU setup: the VMCB, its intercepts and the architectural INIT state.
 */
#include "svm/svm.h"
#include "core/util.h"

/* The state after INIT (APM Vol. 2 14.1.3, Table 14-1; SDM Vol. 3A 9.1.1):
   real mode, CS:IP = f000:fff0 with CS.base ffff0000. */
static void seg_set(struct vmcb_seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint16_t attr)
{
    s->selector = sel;
    s->base = base;
    s->limit = limit;
    s->attrib = attr;
}

void svm_vmcb_reset(struct vmcb *vmcb)
{
    struct vmcb_save *s = &vmcb->save;

    seg_set(&s->cs, 0xf000, 0xffff0000ull, 0xffff, 0x009b); /* P, S, code read accessed */
    seg_set(&s->ds, 0, 0, 0xffff, 0x0093);                  /* P, S, data write accessed */
    seg_set(&s->es, 0, 0, 0xffff, 0x0093);
    seg_set(&s->ss, 0, 0, 0xffff, 0x0093);
    seg_set(&s->fs, 0, 0, 0xffff, 0x0093);
    seg_set(&s->gs, 0, 0, 0xffff, 0x0093);
    seg_set(&s->gdtr, 0, 0, 0xffff, 0);
    seg_set(&s->idtr, 0, 0, 0xffff, 0);
    seg_set(&s->ldtr, 0, 0, 0xffff, 0x0082); /* P, LDT */
    seg_set(&s->tr, 0, 0, 0xffff, 0x008b);   /* P, busy 32-bit TSS */
    s->cpl = 0;
    s->cr0 = 0x60000010ull; /* CD, NW, ET */
    s->cr2 = 0;
    s->cr3 = 0;
    s->cr4 = 0;
    s->dr6 = 0xffff0ff0ull;
    s->dr7 = 0x400;
    s->rflags = 2;
    s->rip = 0xfff0;
    s->rsp = 0;
    s->rax = 0;
    /* SVME must be set in the guest's EFER for VMRUN (15.5.1); the guest
       never sees it (MSR intercept, svm_run.c). */
    s->efer = EFER_SVME;
    s->g_pat = 0x0007040600070406ull; /* power-on PAT (APM 7.8.2) */
    s->star = s->lstar = s->cstar = s->sfmask = s->kernel_gs_base = 0;
    s->sysenter_cs = s->sysenter_esp = s->sysenter_eip = 0;
    vmcb->ctl.int_state = 0;
    vmcb->ctl.eventinj = 0;
    vmcb->ctl.vintr = SVM_VINTR_MASKING;
}

hv_status_t svm_vcpu_init(struct hv_vcpu *vcpu)
{
    const struct hv_host *h = &vcpu->vm->ctx->host;
    struct svm_ctx *sc = svm_ctx_of(vcpu->vm->ctx);
    struct svm_vm *sv = svm_vm_of(vcpu->vm);
    struct svm_vcpu *s;
    struct vmcb_control *c;
    uint32_t r[4];

    s = hv_host_obj_alloc(h, sizeof(*s));
    if (!s)
        return HV_ERR_NO_MEMORY;
    s->vmcb = hv_host_page_alloc(h, 1, &s->vmcb_pa);
    if (!s->vmcb) {
        hv_host_obj_free(h, s, sizeof(*s));
        return HV_ERR_NO_MEMORY;
    }
    s->serial = __atomic_fetch_add(&sc->next_serial, 1, __ATOMIC_RELAXED);
    s->nrip_save = (vcpu->vm->ctx->caps.features & HV_FEAT_NRIP_SAVE) != 0;
    s->decode_assists = (vcpu->vm->ctx->caps.features & HV_FEAT_DECODE_ASSISTS) != 0;

    c = &s->vmcb->ctl;
    /* Intercepts (APM 15.9-15.14, Table B-1). Host interrupts and NMIs
       exit (INTR/NMI); SVM instructions exit so that the guest sees #UD
       (its EFER.SVME reads 0); XSETBV exits so that the core checks and
       stores the value (core/xsave.h), which the CPU gets only around
       VMRUN (svm_xcr0.h); MOV to CR4 exits so that the guest gets only the
       bits its CPUID offers (no PKE: svm_cr4.c); INVD would drop host cache
       lines; SHUTDOWN keeps a triple fault from resetting the host. DR0-3
       are the host's until the guest first touches them. #DB
       and #AC are intercepted and reflected: a guest could otherwise make
       the CPU loop delivering them forever, out of reach of host
       interrupts.
       Emulator limits (tests/system/CMakeLists.txt has the evidence): Bochs
       2.7 masks INTR for the whole guest run when VMRUN loads RFLAGS.IF=0,
       and panics on a triple fault before it checks the SHUTDOWN intercept. */
    c->intercept_exc = (1u << SVM_VEC_DB) | (1u << SVM_VEC_AC);
    c->intercept_cr = SVM_CR4_WRITE_INTERCEPT; /* checked against the guest's CPUID (svm_cr4.c) */
    c->intercept_dr = SVM_DR0_3_INTERCEPTS; /* until the first access (core/debugreg.h) */
    c->intercept_misc1 = SVM_I1_INTR | SVM_I1_NMI | SVM_I1_CPUID | SVM_I1_HLT | SVM_I1_INVD |
                         SVM_I1_IOIO_PROT | SVM_I1_MSR_PROT | SVM_I1_SHUTDOWN | SVM_I1_INVLPGA;
    c->intercept_misc2 = SVM_I2_VMRUN | SVM_I2_VMMCALL | SVM_I2_VMLOAD | SVM_I2_VMSAVE |
                         SVM_I2_STGI | SVM_I2_CLGI | SVM_I2_SKINIT | SVM_I2_XSETBV;
    c->iopm_base_pa = sv->iopm_pa;
    c->msrpm_base_pa = sv->msrpm_pa;
    c->asid = sv->asid;
    c->tlb_control = SVM_TLB_NONE;
    c->np_control = SVM_NP_ENABLE;
    /* The SLAT root is fixed for the VM's life (slat/slat.h): set once. */
    c->n_cr3 = hv_slat_root_hpa(&vcpu->vm->slat);
    c->clean = 0; /* no VMCB clean bits: the CPU reloads every field */
    svm_vmcb_reset(s->vmcb);

    vcpu->arch = s;
    hv_memset(vcpu->gpr, 0, sizeof(vcpu->gpr));
    /* EDX holds the processor signature after INIT (APM 14.1.3). */
    svm_cpuid(1, 0, r);
    vcpu->gpr[HV_GPR_RDX] = r[0];
    return HV_OK;
}

void svm_vcpu_fini(struct hv_vcpu *vcpu)
{
    const struct hv_host *h = &vcpu->vm->ctx->host;
    struct svm_vcpu *s = svm_vcpu_of(vcpu);
    if (!s)
        return;
    hv_host_page_free(h, s->vmcb, 1);
    hv_host_obj_free(h, s, sizeof(*s));
    vcpu->arch = NULL;
}
