/*
 * CPUID policy. The guest sees the host CPU's leaves, filtered so that it
 * only discovers what a vCPU actually provides:
 * - virtualization extensions (VMX, SVM, SMX) hidden: no nesting;
 * - the hypervisor-present bit (leaf 1 ECX[31]) set;
 * - XSAVE/AVX family hidden: libhv does not switch extended FPU state and
 *   XSETBV would exit unconditionally on VMX;
 * - MONITOR/MWAIT, x2APIC, TSC-deadline, INVPCID, RDTSCP/RDPID, PCID
 *   hidden: instructions and devices the backends do not virtualize;
 * - APIC IDs replaced by the vCPU id; one logical CPU per package;
 * - leaves 0x40000000+ belong to the PV interface (or say "libhv").
 * Embedder overrides (hv_vm_set_cpuid) win over all of this.
 */
#include "backend.h"
#include "core/cpu.h"
#include "core/objects.h"
#include "core/policy.h"
#include "core/pv.h"
#include "core/util.h"

/* Leaf 1 ECX bits (SDM Vol. 2A CPUID, table 3-10). */
#define L1_ECX_MONITOR   HV_BIT(3)
#define L1_ECX_VMX       HV_BIT(5)
#define L1_ECX_SMX       HV_BIT(6)
#define L1_ECX_PCID      HV_BIT(17)
#define L1_ECX_X2APIC    HV_BIT(21)
#define L1_ECX_TSC_DL    HV_BIT(24)
#define L1_ECX_XSAVE     HV_BIT(26)
#define L1_ECX_OSXSAVE   HV_BIT(27)
#define L1_ECX_AVX       HV_BIT(28)
#define L1_ECX_F16C      HV_BIT(29)
#define L1_ECX_FMA       HV_BIT(12)
#define L1_ECX_HYPERVISOR HV_BIT(31)
#define L1_EDX_HTT       HV_BIT(28)
/* Leaf 7.0 EBX: AVX2(5) INVPCID(10) AVX-512 family(16,17,21,26,27,28,30,31). */
#define L7_EBX_HIDE (HV_BIT(5) | HV_BIT(10) | HV_BIT(16) | HV_BIT(17) | HV_BIT(21) | \
                     HV_BIT(26) | HV_BIT(27) | HV_BIT(28) | HV_BIT(30) | HV_BIT(31))
/* Leaf 7.0 ECX: AVX-512 VBMI(1), PKU(3), OSPKE(4), WAITPKG(5), AVX-512 VBMI2..BITALG(6,11,12,14),
   RDPID(22). Protection keys are hidden because the instruction assist does not
   carry the guest's PKRU. */
#define L7_ECX_HIDE (HV_BIT(1) | HV_BIT(3) | HV_BIT(4) | HV_BIT(5) | HV_BIT(6) | HV_BIT(11) | \
                     HV_BIT(12) | HV_BIT(14) | HV_BIT(22))
/* Leaf 0x80000001 ECX: SVM(2), MWAITX(29); EDX: RDTSCP(27). */
#define LX1_ECX_HIDE (HV_BIT(2) | HV_BIT(29))
#define LX1_EDX_RDTSCP HV_BIT(27)

static bool find_override(const struct hv_vm *vm, uint32_t leaf, uint32_t subleaf,
                          uint32_t out[4])
{
    for (uint32_t i = 0; i < vm->cpuid_count; i++) {
        const struct hv_cpuid_override *o = &vm->cpuid[i];
        if (o->leaf == leaf && (o->subleaf == subleaf || o->subleaf == UINT32_MAX)) {
            hv_memcpy(out, o->regs, sizeof(o->regs));
            return true;
        }
    }
    return false;
}

void hv_cpuid_guest_paging(struct hv_vm *vm, uint8_t *maxphyaddr, bool *gbpages)
{
    uint32_t r[4];
    if (!find_override(vm, 0x80000000u, 0, r))
        hv_cpuid(0x80000000u, 0, r);
    uint32_t max_ext = r[0];
    *maxphyaddr = 36; /* SDM Vol. 3A 4.1.4: the width when leaf 0x80000008 is absent */
    *gbpages = false;
    if (max_ext >= 0x80000008u) {
        if (!find_override(vm, 0x80000008u, 0, r))
            hv_cpuid(0x80000008u, 0, r);
        if ((r[0] & 0xff) >= 32 && (r[0] & 0xff) <= 52)
            *maxphyaddr = (uint8_t)(r[0] & 0xff);
    }
    if (max_ext >= 0x80000001u) {
        if (!find_override(vm, 0x80000001u, 0, r))
            hv_cpuid(0x80000001u, 0, r);
        *gbpages = (r[3] >> 26) & 1;
    }
}

void hv_cpuid_policy(struct hv_vcpu *vcpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    struct hv_vm *vm = vcpu->vm;
    if (find_override(vm, leaf, subleaf, out))
        return;
    if (leaf >= 0x40000000u && leaf <= 0x4fffffffu) {
        if (vm->pv && vm->pv->cpuid && vm->pv->cpuid(vcpu, leaf, subleaf, out))
            return;
        out[0] = out[1] = out[2] = out[3] = 0;
        if (leaf == 0x40000000u) {
            out[0] = 0x40000000u;
            out[1] = 0x6862696c; /* "libh" */
            out[2] = 0x00000076; /* "v\0\0\0" */
        }
        return;
    }
    hv_cpuid(leaf, subleaf, out);
    switch (leaf) {
    case 1:
        out[1] = (out[1] & 0x0000ffffu) | (1u << 16) | (vcpu->id << 24);
        out[2] &= ~(uint32_t)(L1_ECX_MONITOR | L1_ECX_VMX | L1_ECX_SMX | L1_ECX_PCID |
                              L1_ECX_X2APIC | L1_ECX_TSC_DL | L1_ECX_XSAVE | L1_ECX_OSXSAVE |
                              L1_ECX_AVX | L1_ECX_F16C | L1_ECX_FMA);
        out[2] |= (uint32_t)L1_ECX_HYPERVISOR;
        out[3] &= ~(uint32_t)L1_EDX_HTT;
        break;
    case 4:
        /* Cores per package - 1 in EAX[31:26]: one. */
        out[0] &= 0x03ffffffu;
        break;
    case 5:  /* MONITOR/MWAIT */
    case 0xd: /* XSAVE state */
        out[0] = out[1] = out[2] = out[3] = 0;
        break;
    case 7:
        if (subleaf == 0) {
            out[1] &= ~(uint32_t)L7_EBX_HIDE;
            out[2] &= ~(uint32_t)L7_ECX_HIDE;
            out[3] = 0;
        } else {
            out[0] = out[1] = out[2] = out[3] = 0;
        }
        break;
    case 0xb:
    case 0x1f:
        out[3] = vcpu->id; /* x2APIC id of this logical processor */
        break;
    case 0x80000001u:
        out[2] &= ~(uint32_t)LX1_ECX_HIDE;
        out[3] &= ~(uint32_t)LX1_EDX_RDTSCP;
        break;
    case 0x8000000au: /* SVM features */
        out[0] = out[1] = out[2] = out[3] = 0;
        break;
    default:
        break;
    }
}
