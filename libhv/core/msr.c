/*
 * MSR policy for the MSRs a backend intercepts. MSRs whose state lives in
 * the VMCS/VMCB go through the backend's state accessors (which validate
 * like the CPU would); a few identification and cache-control MSRs get
 * fixed, plausible values; PV-interface MSRs go to its hook; everything
 * else raises #GP(0), as an absent MSR does on real hardware
 * (SDM Vol. 2B RDMSR: "#GP(0) if ECX specifies a reserved or unimplemented MSR").
 */
#include "backend.h"
#include "core/cpu.h"
#include "core/objects.h"
#include "core/policy.h"
#include "core/pv.h"
#include "core/util.h"
#include "lapic/hooks.h"

/* Architectural MSR numbers (SDM Vol. 4, table 2-2). */
#define MSR_TSC             0x10u
#define MSR_PLATFORM_ID     0x17u
#define MSR_APIC_BASE       0x1bu
#define MSR_FEATURE_CONTROL 0x3au
#define MSR_BIOS_SIGN_ID    0x8bu
#define MSR_MTRRCAP         0xfeu
#define MSR_SYSENTER_CS     0x174u
#define MSR_SYSENTER_ESP    0x175u
#define MSR_SYSENTER_EIP    0x176u
#define MSR_MCG_CAP         0x179u
#define MSR_MCG_STATUS      0x17au
#define MSR_MISC_ENABLE     0x1a0u
#define MSR_PAT             0x277u
#define MSR_MTRR_DEF_TYPE   0x2ffu
#define MSR_EFER            0xc0000080u
#define MSR_STAR            0xc0000081u
#define MSR_LSTAR           0xc0000082u
#define MSR_CSTAR           0xc0000083u
#define MSR_FMASK           0xc0000084u
#define MSR_FS_BASE         0xc0000100u
#define MSR_GS_BASE         0xc0000101u
#define MSR_KERNEL_GS_BASE  0xc0000102u

#define APIC_BASE_DEFAULT 0xfee00000u
#define APIC_BASE_BSP     HV_BIT(8)
#define APIC_BASE_ENABLE  HV_BIT(11)

/* Where an MSR kept in vCPU state lives in struct hv_vcpu_state. */
struct state_msr {
    uint32_t msr;
    uint32_t group;
    size_t offset;
};

#define STATE_MSR(m, g, field) {m, g, offsetof(struct hv_vcpu_state, field)}
static const struct state_msr state_msrs[] = {
    STATE_MSR(MSR_SYSENTER_CS, HV_STATE_MSR, sysenter_cs),
    STATE_MSR(MSR_SYSENTER_ESP, HV_STATE_MSR, sysenter_esp),
    STATE_MSR(MSR_SYSENTER_EIP, HV_STATE_MSR, sysenter_eip),
    STATE_MSR(MSR_PAT, HV_STATE_MSR, pat),
    STATE_MSR(MSR_EFER, HV_STATE_CR, efer),
    STATE_MSR(MSR_STAR, HV_STATE_MSR, star),
    STATE_MSR(MSR_LSTAR, HV_STATE_MSR, lstar),
    STATE_MSR(MSR_CSTAR, HV_STATE_MSR, cstar),
    STATE_MSR(MSR_FMASK, HV_STATE_MSR, sfmask),
    STATE_MSR(MSR_FS_BASE, HV_STATE_SEG, seg[HV_SEG_FS].base),
    STATE_MSR(MSR_GS_BASE, HV_STATE_SEG, seg[HV_SEG_GS].base),
    STATE_MSR(MSR_KERNEL_GS_BASE, HV_STATE_MSR, kernel_gs_base),
};

static const struct state_msr *find_state_msr(uint32_t msr)
{
    for (size_t i = 0; i < HV_ARRAY_SIZE(state_msrs); i++) {
        if (state_msrs[i].msr == msr)
            return &state_msrs[i];
    }
    return NULL;
}

/* Canonical 48-bit linear address (SDM Vol. 1 3.3.7.1). */
static bool canonical(uint64_t a)
{
    return hv_canonical(a, 48);
}

hv_status_t hv_msr_read(struct hv_vcpu *vcpu, uint32_t msr, uint64_t *value)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    struct hv_vcpu_state st;

    /* The APIC's MSRs before the table scan: they are the hot ones. */
    if (vcpu->lapic && hv_lapic_msr(msr))
        return hv_lapic_msr_read(vcpu, msr, value);
    const struct state_msr *sm = find_state_msr(msr);
    if (sm) {
        be->get_state(vcpu, sm->group, &st);
        hv_memcpy(value, (const uint8_t *)&st + sm->offset, sizeof(*value));
        return HV_OK;
    }
    switch (msr) {
    case MSR_TSC:
        be->get_state(vcpu, HV_STATE_TSC, &st);
        *value = hv_rdtsc() + st.tsc_offset;
        return HV_OK;
    case MSR_APIC_BASE:
        *value = APIC_BASE_DEFAULT | APIC_BASE_ENABLE | (vcpu->id == 0 ? APIC_BASE_BSP : 0);
        return HV_OK;
    case MSR_FEATURE_CONTROL:
        *value = 1; /* locked, VMX off: no nested virtualization */
        return HV_OK;
    case MSR_PLATFORM_ID:
    case MSR_BIOS_SIGN_ID:
    case MSR_MTRRCAP: /* no fixed or variable MTRRs: memory types come from the SLAT */
    case MSR_MCG_CAP:
    case MSR_MCG_STATUS:
        *value = 0;
        return HV_OK;
    case MSR_MISC_ENABLE:
        *value = 1; /* fast strings */
        return HV_OK;
    case MSR_MTRR_DEF_TYPE:
        *value = vcpu->mtrr_def_type;
        return HV_OK;
    default:
        break;
    }
    if (vcpu->vm->pv && vcpu->vm->pv->msr_read) {
        hv_status_t s = vcpu->vm->pv->msr_read(vcpu, msr, value);
        if (s != HV_ERR_NOT_FOUND)
            return s == HV_OK ? HV_OK : HV_ERR_GUEST_FAULT;
    }
    return HV_ERR_GUEST_FAULT;
}

hv_status_t hv_msr_write(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    struct hv_vcpu_state st;

    if (vcpu->lapic && hv_lapic_msr(msr))
        return hv_lapic_msr_write(vcpu, msr, value);
    const struct state_msr *sm = find_state_msr(msr);
    if (sm) {
        be->get_state(vcpu, sm->group, &st);
        hv_memcpy((uint8_t *)&st + sm->offset, &value, sizeof(value));
        if (sm->group != HV_STATE_CR && msr != MSR_PAT && msr != MSR_SYSENTER_CS &&
            !canonical(value))
            return HV_ERR_GUEST_FAULT;
        return be->set_state(vcpu, sm->group, &st) == HV_OK ? HV_OK : HV_ERR_GUEST_FAULT;
    }
    switch (msr) {
    case MSR_TSC:
        st.tsc_offset = value - hv_rdtsc();
        return be->set_state(vcpu, HV_STATE_TSC, &st) == HV_OK ? HV_OK : HV_ERR_GUEST_FAULT;
    case MSR_APIC_BASE: {
        uint64_t cur = APIC_BASE_DEFAULT | APIC_BASE_ENABLE | (vcpu->id == 0 ? APIC_BASE_BSP : 0);
        return value == cur ? HV_OK : HV_ERR_GUEST_FAULT; /* relocation is not emulated */
    }
    case MSR_BIOS_SIGN_ID: /* microcode update trigger: nothing to update */
    case MSR_MCG_STATUS:
        return HV_OK;
    case MSR_MISC_ENABLE:
        return value == 1 ? HV_OK : HV_ERR_GUEST_FAULT;
    case MSR_MTRR_DEF_TYPE:
        /* Bits 0-7 type, 10 FE, 11 E; the rest reserved (SDM Vol. 3A 12.11.2.1). */
        if (value & ~(uint64_t)0xcffu)
            return HV_ERR_GUEST_FAULT;
        vcpu->mtrr_def_type = value;
        return HV_OK;
    default:
        break;
    }
    if (vcpu->vm->pv && vcpu->vm->pv->msr_write) {
        hv_status_t s = vcpu->vm->pv->msr_write(vcpu, msr, value);
        if (s != HV_ERR_NOT_FOUND)
            return s == HV_OK ? HV_OK : HV_ERR_GUEST_FAULT;
    }
    return HV_ERR_GUEST_FAULT;
}
