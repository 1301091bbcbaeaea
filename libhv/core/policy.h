/* CPUID and MSR policy: what a guest sees when it probes the CPU. */
#ifndef HV_CORE_POLICY_H
#define HV_CORE_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>
#include "core/cpu.h"
#include "core/objects.h"

struct hv_vcpu;
struct hv_vm;

/* The values CPUID(leaf, subleaf) returns to this vCPU. */
void hv_cpuid_policy(struct hv_vcpu *vcpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/*
 * Basic leaves (0-31) the policy passes through from the host unchanged:
 * every one but those hv_cpuid_policy() edits (1, 4, 5, 7, 0xb, 0xd, 0x1f;
 * cpuid.c). unit.core checks each against the policy.
 */
#define HV_CPUID_PASS_BASIC                                                                        \
    (0xffffffffu & ~((1u << 0x1) | (1u << 0x4) | (1u << 0x5) | (1u << 0x7) | (1u << 0xb) |         \
                     (1u << 0xd) | (1u << 0x1f)))

/* Does the policy answer CPUID(leaf) with the host's values (no override
   in the VM, a pass-through leaf)? */
static inline bool hv_cpuid_passthrough(const struct hv_vm *vm, uint32_t leaf)
{
    return leaf < 32 && ((HV_CPUID_PASS_BASIC >> leaf) & 1) && vm->cpuid_count == 0;
}

/* The CPUID exit's answer into the registers: RAX apart (SVM's fast path
   has it in the VMCB), RBX, RCX and RDX in vcpu->gpr. */
static inline __attribute__((always_inline)) void
hv_cpuid_answer(struct hv_vcpu *vcpu, uint64_t *rax, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    uint64_t *g = vcpu->gpr;
    *rax = a;
    g[HV_GPR_RBX] = b;
    g[HV_GPR_RCX] = c;
    g[HV_GPR_RDX] = d;
}

/*
 * The CPUID exit for a leaf hv_cpuid_passthrough() accepted: the CPU's
 * answer straight into the registers, a path without a call (an exit fast
 * path then keeps no frame for it beyond RBX, which CPUID writes). The
 * policy's call, its override scan and its leaf switch would be most of a
 * CPUID round trip.
 */
static inline __attribute__((always_inline)) void hv_cpuid_exit_passthrough(struct hv_vcpu *vcpu,
                                                                            uint64_t *rax)
{
    uint32_t a, b, c, d;
    hv_cpuid_regs((uint32_t)*rax, (uint32_t)vcpu->gpr[HV_GPR_RCX], &a, &b, &c, &d);
    hv_cpuid_answer(vcpu, rax, a, b, c, d);
}

/* The CPUID exit for any other leaf: through the policy (core/cpuid.c). */
static inline __attribute__((always_inline)) void hv_cpuid_exit_policy(struct hv_vcpu *vcpu,
                                                                       uint64_t *rax)
{
    uint32_t r[4];
    hv_cpuid_policy(vcpu, (uint32_t)*rax, (uint32_t)vcpu->gpr[HV_GPR_RCX], r);
    hv_cpuid_answer(vcpu, rax, r[0], r[1], r[2], r[3]);
}

/*
 * The CPUID exit: EAX/ECX in, EAX..EDX out (hv_cpuid_answer). One helper
 * for the core's dispatcher; the backends' exit fast paths call its two
 * halves themselves, the pass-through one inline.
 */
static inline __attribute__((always_inline)) void hv_cpuid_exit(struct hv_vcpu *vcpu, uint64_t *rax)
{
    if (hv_cpuid_passthrough(vcpu->vm, (uint32_t)*rax))
        hv_cpuid_exit_passthrough(vcpu, rax);
    else
        hv_cpuid_exit_policy(vcpu, rax);
}

/* The host's XSAVE layout (core/xsave.h), read at the context's creation. */
const struct hv_xs_layout *hv_cpuid_host_xs(struct hv_ctx *ctx);

/* The XSAVE components this vCPU's CPUID view offers (leaf 0DH.0 as the
   policy composes it; overrides of leaves 1 and 7 taken into account). */
uint64_t hv_cpuid_xs_offered(struct hv_vcpu *vcpu);

/* CR4 bits (SDM Vol. 3A 2.5) a guest may not set whatever the CPU has:
   PKE, since PKRU is switched by neither backend (the policy hides PKU, and
   without CR4.PKE RDPKRU/WRPKRU #UD, SDM Vol. 3A 4.6.2), and OSXSAVE while
   its CPUID view offers no XSAVE. Returns those of cr4 that are set (0:
   none), for MOV to CR4 (#GP) and hv_vcpu_set_state (refused). */
uint64_t hv_cr4_refused(struct hv_vcpu *vcpu, uint64_t cr4);

/* Recompute the VM's paging view (struct hv_vm guest_maxphyaddr,
   guest_gbpages) from its CPUID view: MAXPHYADDR (leaf 0x80000008
   EAX[7:0]) and 1 GiB pages (0x80000001 EDX[26]). At creation, and by
   hv_vm_set_cpuid under the VM's lock, which then advances the SLAT
   generation. */
void hv_cpuid_paging_view_update(struct hv_vm *vm);

/*
 * The paging view every guest page walk of the library uses (the
 * instruction fetch, the assist, the Xen layer's copies): the guest's, as
 * its CPUID view reports it. The walk memos (core/walk_memo.h) rely on
 * there being one: a memo filled under another view is older than the
 * SLAT generation it would be checked against. Read after the SLAT
 * generation a memo records, so that a racing change leaves it stale.
 */
static inline void hv_vm_paging_view(const struct hv_vm *vm, uint8_t *maxphyaddr, bool *gbpages)
{
    *maxphyaddr = __atomic_load_n(&vm->guest_maxphyaddr, __ATOMIC_RELAXED);
    *gbpages = __atomic_load_n(&vm->guest_gbpages, __ATOMIC_RELAXED);
}

/* RDMSR/WRMSR: HV_OK, or HV_ERR_GUEST_FAULT when the guest gets #GP(0). */
hv_status_t hv_msr_read(struct hv_vcpu *vcpu, uint32_t msr, uint64_t *value);
hv_status_t hv_msr_write(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value);

#endif /* HV_CORE_POLICY_H */
