/* CPUID and MSR policy: what a guest sees when it probes the CPU. */
#ifndef HV_CORE_POLICY_H
#define HV_CORE_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>

struct hv_vcpu;
struct hv_vm;

/* The values CPUID(leaf, subleaf) returns to this vCPU. */
void hv_cpuid_policy(struct hv_vcpu *vcpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* Paging facts of the guest's CPUID view the page-table walker needs:
   MAXPHYADDR (leaf 0x80000008 EAX[7:0]) and 1 GiB pages (0x80000001 EDX[26]). */
void hv_cpuid_guest_paging(struct hv_vm *vm, uint8_t *maxphyaddr, bool *gbpages);

/* RDMSR/WRMSR: HV_OK, or HV_ERR_GUEST_FAULT when the guest gets #GP(0). */
hv_status_t hv_msr_read(struct hv_vcpu *vcpu, uint32_t msr, uint64_t *value);
hv_status_t hv_msr_write(struct hv_vcpu *vcpu, uint32_t msr, uint64_t value);

#endif /* HV_CORE_POLICY_H */
