/*
 * CPUID policy. The guest sees the host CPU's leaves, filtered so that it
 * only discovers what a vCPU actually provides:
 * - virtualization extensions (VMX, SVM, SMX) hidden: no nesting;
 * - the hypervisor-present bit (leaf 1 ECX[31]) set;
 * - XSAVE, AVX, F16C, FMA, AVX2 and the AVX-512 family shown where the host
 *   has them and libhv switches their state (core/xsave.h): leaf 0DH lists
 *   only those components, OSXSAVE follows the guest's CR4 as on the CPU;
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
#include "lapic/hooks.h"
#include "core/xsave.h"
#include "core/assist.h"

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
#define L1_EDX_APIC       HV_BIT(9)
#define L1_EDX_HTT       HV_BIT(28)
#define L1_ECX_AVX_FAMILY (L1_ECX_AVX | L1_ECX_F16C | L1_ECX_FMA)
/* Leaf 7.0 EBX: INVPCID(10); AVX2(5) without AVX state; the AVX-512
   family(16,17,21,26,27,28,30,31) without AVX-512 state. */
#define L7_EBX_HIDE HV_BIT(10)
#define L7_EBX_AVX2 HV_BIT(5)
#define L7_EBX_AVX512                                                                              \
    (HV_BIT(16) | HV_BIT(17) | HV_BIT(21) | HV_BIT(26) | HV_BIT(27) | HV_BIT(28) | HV_BIT(30) |    \
     HV_BIT(31))
/* Leaf 7.0 ECX: PKU(3), OSPKE(4), WAITPKG(5), RDPID(22) hidden; AVX-512
   VBMI(1), VBMI2..BITALG(6,11,12,14) without AVX-512 state. Protection
   keys are hidden because the instruction assist does not carry the
   guest's PKRU. */
#define L7_ECX_HIDE   (HV_BIT(3) | HV_BIT(4) | HV_BIT(5) | HV_BIT(22))
#define L7_ECX_AVX512 (HV_BIT(1) | HV_BIT(6) | HV_BIT(11) | HV_BIT(12) | HV_BIT(14))
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

void hv_cpuid_paging_view_update(struct hv_vm *vm)
{
    uint32_t r[4];
    if (!find_override(vm, 0x80000000u, 0, r))
        hv_cpuid(0x80000000u, 0, r);
    uint32_t max_ext = r[0];
    uint8_t maxphyaddr = 36; /* SDM Vol. 3A 4.1.4: the width when leaf 0x80000008 is absent */
    bool gbpages = false;
    if (max_ext >= 0x80000008u) {
        if (!find_override(vm, 0x80000008u, 0, r))
            hv_cpuid(0x80000008u, 0, r);
        if ((r[0] & 0xff) >= 32 && (r[0] & 0xff) <= 52)
            maxphyaddr = (uint8_t)(r[0] & 0xff);
    }
    if (max_ext >= 0x80000001u) {
        if (!find_override(vm, 0x80000001u, 0, r))
            hv_cpuid(0x80000001u, 0, r);
        gbpages = (r[3] >> 26) & 1;
    }
    __atomic_store_n(&vm->guest_maxphyaddr, maxphyaddr, __ATOMIC_RELAXED);
    __atomic_store_n(&vm->guest_gbpages, gbpages, __ATOMIC_RELAXED);
}

/* The host's XSAVE layout, read when the context was created (the same
   on every CPU). */
const struct hv_xs_layout *hv_cpuid_host_xs(struct hv_ctx *ctx)
{
    return &ctx->xs;
}

/* The components this vCPU's CPUID view offers (leaf 0DH.0): the host's
   managed ones, less what leaves 1 and 7 (overrides included) hide. */
static uint64_t xs_offered(struct hv_vcpu *vcpu, const struct hv_xs_layout *l)
{
    uint32_t r[4];
    uint64_t a = l->supported;
    hv_cpuid_policy(vcpu, 1, 0, r);
    if (!(r[2] & L1_ECX_XSAVE))
        return 0;
    if (!(r[2] & L1_ECX_AVX))
        a &= ~(HV_XCR0_AVX | HV_XCR0_AVX512);
    hv_cpuid_policy(vcpu, 7, 0, r);
    if (!(r[1] & HV_BIT(16))) /* AVX512F */
        a &= ~HV_XCR0_AVX512;
    return a;
}

uint64_t hv_cpuid_xs_offered(struct hv_vcpu *vcpu)
{
    return xs_offered(vcpu, hv_cpuid_host_xs(vcpu->vm->ctx));
}

#define CR4_OSXSAVE (1ull << 18)
#define CR4_PKE     (1ull << 22)

uint64_t hv_cr4_refused(struct hv_vcpu *vcpu, uint64_t cr4)
{
    uint64_t bad = cr4 & CR4_PKE;
    if ((cr4 & CR4_OSXSAVE) && !hv_cpuid_xs_offered(vcpu))
        bad |= CR4_OSXSAVE;
    return bad;
}

/* Leaf 0DH for the components offered (SDM Vol. 2A CPUID, table 3-8). */
static void leaf_d(struct hv_vcpu *vcpu, uint32_t subleaf, uint32_t out[4])
{
    const struct hv_xs_layout *l = hv_cpuid_host_xs(vcpu->vm->ctx);
    uint64_t offered = xs_offered(vcpu, l);
    if (subleaf == 0 && offered) {
        out[0] = (uint32_t)offered;
        out[1] = hv_xs_size(l, vcpu->xcr0);
        out[2] = hv_xs_size(l, offered);
        out[3] = (uint32_t)(offered >> 32);
    } else if (subleaf == 1 && offered) {
        /* XSAVEOPT only: XSAVEC, XGETBV1, XSAVES and IA32_XSS are not
           handled. */
        out[0] &= 1;
        out[1] = out[2] = out[3] = 0;
    } else if (subleaf >= 2 && subleaf < 64 && ((offered >> subleaf) & 1)) {
        out[2] &= 2; /* a user component; 64-byte alignment in compacted form */
        out[3] = 0;
    } else {
        out[0] = out[1] = out[2] = out[3] = 0;
    }
}

/* CPUID.01H:ECX.OSXSAVE reflects the guest's CR4.OSXSAVE (SDM Vol. 2A
   CPUID), which only the backend knows. */
static bool guest_osxsave(struct hv_vcpu *vcpu)
{
    const struct hv_backend_ops *be = vcpu->vm->ctx->be;
    struct hv_fetch_regs fr;
    if (!be->get_fetch_regs)
        return false;
    be->get_fetch_regs(vcpu, &fr);
    return (fr.cr4 & HV_CR4_OSXSAVE) != 0;
}

void hv_cpuid_policy(struct hv_vcpu *vcpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    struct hv_vm *vm = vcpu->vm;
    if (find_override(vm, leaf, subleaf, out)) {
        if (leaf == 1 && (out[2] & L1_ECX_XSAVE)) {
            out[2] &= ~(uint32_t)L1_ECX_OSXSAVE;
            if (guest_osxsave(vcpu))
                out[2] |= (uint32_t)L1_ECX_OSXSAVE;
        }
        return;
    }
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
    case 1: {
        uint64_t sup = hv_cpuid_host_xs(vm->ctx)->supported;
        out[1] = (out[1] & 0x0000ffffu) | (1u << 16) | (vcpu->id << 24);
        out[2] &= ~(uint32_t)(L1_ECX_MONITOR | L1_ECX_VMX | L1_ECX_SMX | L1_ECX_PCID |
                              L1_ECX_X2APIC | L1_ECX_TSC_DL | L1_ECX_OSXSAVE);
        if (!sup)
            out[2] &= ~(uint32_t)(L1_ECX_XSAVE | L1_ECX_AVX_FAMILY);
        else if (!(sup & HV_XCR0_AVX))
            out[2] &= ~(uint32_t)L1_ECX_AVX_FAMILY;
        if ((out[2] & L1_ECX_XSAVE) && guest_osxsave(vcpu))
            out[2] |= (uint32_t)L1_ECX_OSXSAVE;
        out[2] |= (uint32_t)L1_ECX_HYPERVISOR;
        /* The library's local APIC has both modes and the TSC deadline
           (hv/lapic.h); without it, the APIC is the embedder's. */
        if (vm->lapic) {
            out[2] |= (uint32_t)(L1_ECX_X2APIC | L1_ECX_TSC_DL);
            /* Clear while IA32_APIC_BASE.EN is (SDM Vol. 3A 11.4.3). */
            if (hv_lapic_hw_on(vcpu))
                out[3] |= (uint32_t)L1_EDX_APIC;
            else
                out[3] &= ~(uint32_t)L1_EDX_APIC;
        }
        out[3] &= ~(uint32_t)L1_EDX_HTT;
        break;
    }
    case 4:
        /* Cores per package - 1 in EAX[31:26]: one. */
        out[0] &= 0x03ffffffu;
        break;
    case 5: /* MONITOR/MWAIT */
        out[0] = out[1] = out[2] = out[3] = 0;
        break;
    case 0xd: /* XSAVE state */
        leaf_d(vcpu, subleaf, out);
        break;
    case 7:
        if (subleaf == 0) {
            uint64_t sup = hv_cpuid_host_xs(vm->ctx)->supported;
            out[1] &= ~(uint32_t)L7_EBX_HIDE;
            out[2] &= ~(uint32_t)L7_ECX_HIDE;
            if (!(sup & HV_XCR0_AVX))
                out[1] &= ~(uint32_t)L7_EBX_AVX2;
            if ((sup & HV_XCR0_AVX512) != HV_XCR0_AVX512) {
                out[1] &= ~(uint32_t)L7_EBX_AVX512;
                out[2] &= ~(uint32_t)L7_ECX_AVX512;
            }
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
