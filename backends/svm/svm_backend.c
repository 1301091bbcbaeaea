/*
 * The SVM backend's ops table (libhv/backend.h) and its small accessors.
 */
#include "svm/svm.h"
#include "svm/npt_format.h"
#include "svm/svm_xcr0.h"

static const struct hv_slat_format *svm_slat_format(const struct hv_ctx *ctx)
{
    return &svm_ctx_of(ctx)->npt;
}

static uint64_t svm_get_rip(struct hv_vcpu *vcpu)
{
    return svm_vmcb(vcpu)->save.rip;
}

/* The core moves RIP past an instruction it finished: that instruction
   also ends an STI / MOV SS interrupt shadow. */
static void svm_set_rip(struct hv_vcpu *vcpu, uint64_t rip)
{
    struct vmcb *v = svm_vmcb(vcpu);
    v->save.rip = rip;
    v->ctl.int_state &= ~SVM_INT_SHADOW;
}

static uint64_t svm_get_rflags(struct hv_vcpu *vcpu)
{
    return svm_vmcb(vcpu)->save.rflags;
}

static unsigned svm_get_cpl(struct hv_vcpu *vcpu)
{
    return svm_vmcb(vcpu)->save.cpl & 3;
}

static bool svm_long_mode(struct hv_vcpu *vcpu)
{
    return svm_code_bits(svm_vmcb(vcpu)) == 64;
}

const struct hv_backend_ops hv_svm_backend = {
    .name = "svm",
    .id = HV_BACKEND_SVM,
    .probe = svm_probe,
    .ctx_init = svm_ctx_init,
    .ctx_fini = svm_ctx_fini,
    .slat_format = svm_slat_format,
    .vm_init = svm_vm_init,
    .vm_fini = svm_vm_fini,
    .slat_flush = svm_slat_flush,
    .vcpu_init = svm_vcpu_init,
    .vcpu_fini = svm_vcpu_fini,
    .get_state = svm_get_state,
    .set_state = svm_set_state,
    .run = svm_run,
    .load = svm_load,
    .get_rip = svm_get_rip,
    .set_rip = svm_set_rip,
    .get_rflags = svm_get_rflags,
    .get_cpl = svm_get_cpl,
    .long_mode = svm_long_mode,
    .get_fetch_regs = svm_fetch_regs,
    .arch_pages = svm_arch_pages,
    .can_inject = svm_can_inject,
    .inject = svm_inject,
    .set_window = svm_set_window,
    .inject_irq = svm_inject_irq,
    .inject_step = svm_inject_step,
    .debug_intercept = svm_debug_intercept,
    .xcr0_changed = svm_xcr0_changed,
};
