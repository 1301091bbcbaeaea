/*
 * The few privileged instructions the SVM backend issues from C. In the
 * hosted build (Linux user space, unit tests) MSR access would fault, so it
 * reports failure instead and the probe finds no usable SVM.
 */
#include "svm/svm.h"

void svm_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(sub));
    out[0] = a;
    out[1] = b;
    out[2] = c;
    out[3] = d;
}

#if defined(HV_HOSTED) && HV_HOSTED

bool svm_rdmsr(uint32_t msr, uint64_t *val)
{
    (void)msr;
    *val = 0;
    return false;
}

bool svm_wrmsr(uint32_t msr, uint64_t val)
{
    (void)msr;
    (void)val;
    return false;
}

#else

bool svm_rdmsr(uint32_t msr, uint64_t *val)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    *val = ((uint64_t)hi << 32) | lo;
    return true;
}

bool svm_wrmsr(uint32_t msr, uint64_t val)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)) : "memory");
    return true;
}

#endif
