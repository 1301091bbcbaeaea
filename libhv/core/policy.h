/* CPUID and MSR policy: what a guest sees when it probes the CPU. */
#ifndef HV_CORE_POLICY_H
#define HV_CORE_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>
#include "core/objects.h"

struct hv_vcpu;
struct hv_vm;

/* The values CPUID(leaf, subleaf) returns to this vCPU. */
void hv_cpuid_policy(struct hv_vcpu *vcpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/*
 * The CPUID exit: EAX/ECX in, EAX..EDX out through the policy. The guest's
 * RAX is passed apart (SVM's fast path has it in the VMCB); RBX, RCX and
 * RDX are vcpu->gpr's. One helper for the core's dispatcher and the
 * backends' exit fast paths (inline: it is on the CPUID round trip).
 */
static inline __attribute__((always_inline)) void hv_cpuid_exit(struct hv_vcpu *vcpu, uint64_t *rax)
{
    uint32_t r[4];
    uint64_t *g = vcpu->gpr;
    hv_cpuid_policy(vcpu, (uint32_t)*rax, (uint32_t)g[HV_GPR_RCX], r);
    *rax = r[0];
    g[HV_GPR_RBX] = r[1];
    g[HV_GPR_RCX] = r[2];
    g[HV_GPR_RDX] = r[3];
}

/* Paging facts of the guest's CPUID view the page-table walker needs:
   MAXPHYADDR (leaf 0x80000008 EAX[7:0]) and 1 GiB pages (0x80000001 EDX[26]). */
void hv_cpuid_guest_paging(struct hv_vm *vm, uint8_t *maxphyaddr, bool *gbpages);

/* RDMSR/WRMSR: HV_OK, or HV_ERR_GUEST_FAULT when the guest gets #GP(0). */
hv_status_t hv_msr_read(struct hv_vcpu *vcpu, uint32_t msr, uint64_t *value);
hv_status_t hv_msr_write(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value);

#endif /* HV_CORE_POLICY_H */
