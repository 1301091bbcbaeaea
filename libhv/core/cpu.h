/* Thin wrappers over x86 instructions the core and both backends use. */
#ifndef HV_CORE_CPU_H
#define HV_CORE_CPU_H

#include <stdint.h>

/* CPUID into four variables (which may live in registers). */
static inline void hv_cpuid_regs(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b,
                                 uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}

static inline void hv_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    hv_cpuid_regs(leaf, subleaf, &out[0], &out[1], &out[2], &out[3]);
}

/* CR4 (ring 0 only): the x87/SSE switch, SVM's XCR0/PKRU switches and
   VMX's enable and host state read it. */
static inline uint64_t hv_read_cr4(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

static inline void hv_write_cr4(uint64_t v)
{
    __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory");
}

/* XCR0 (XGETBV/XSETBV with ECX = 0; both #UD without CR4.OSXSAVE, SDM Vol. 2B). */
static inline uint64_t hv_xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0u));
    return ((uint64_t)hi << 32) | lo;
}

static inline void hv_xsetbv0(uint64_t v)
{
    __asm__ volatile("xsetbv" ::"c"(0u), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* DR0-DR3 and DR6 (ring 0 only; SDM Vol. 3B 18.2): the lazy switch of
   the guest's debug registers (core/debugreg.h) and VMX's DR6 switch. */
static inline void hv_read_dr0_3(uint64_t d[4])
{
    __asm__ volatile("mov %%db0, %0\n\tmov %%db1, %1\n\tmov %%db2, %2\n\tmov %%db3, %3"
                     : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3]));
}

static inline void hv_write_dr0_3(const uint64_t d[4])
{
    __asm__ volatile("mov %0, %%db0\n\tmov %1, %%db1\n\tmov %2, %%db2\n\tmov %3, %%db3" ::"r"(d[0]),
                     "r"(d[1]), "r"(d[2]), "r"(d[3])
                     : "memory");
}

static inline uint64_t hv_read_dr6(void)
{
    uint64_t v;
    __asm__ volatile("mov %%db6, %0" : "=r"(v));
    return v;
}

static inline void hv_write_dr6(uint64_t v)
{
    __asm__ volatile("mov %0, %%db6" ::"r"(v) : "memory");
}

static inline uint64_t hv_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Privileged: only in the freestanding (kernel) build. */
static inline uint64_t hv_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void hv_wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}

#endif /* HV_CORE_CPU_H */
