/* Thin wrappers around the x86 instructions the kernel needs. */
#ifndef KERNEL_CPU_H
#define KERNEL_CPU_H

#include <stdint.h>

#define RFLAGS_IF (1ull << 9)

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(subleaf));
}

static inline uint64_t read_cr0(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

/* CR4 bits the test cases switch (SDM Vol. 3A 2.5). */
#define CR4_OSFXSR  (1ull << 9)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_PKE     (1ull << 22)

static inline uint64_t read_cr2(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

/* Disable interrupts; the returned RFLAGS goes to irq_restore(). */
static inline uint64_t irq_save(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    return flags;
}

static inline void irq_restore(uint64_t flags)
{
    __asm__ volatile("pushq %0; popfq" : : "r"(flags) : "memory", "cc");
}

static inline void irq_enable(void)
{
    __asm__ volatile("sti" : : : "memory");
}

/* Sleep until the next interrupt (atomically enables interrupts first). */
static inline void wait_for_irq(void)
{
    __asm__ volatile("sti; hlt" : : : "memory");
}

static inline void cpu_relax(void)
{
    __asm__ volatile("pause" : : : "memory");
}

/* PKRU (RDPKRU/WRPKRU, ECX and EDX 0; #UD without CR4.PKE, SDM Vol. 2B),
   by their encodings for assemblers that lack them. */
static inline uint32_t rdpkru(void)
{
    uint32_t eax, edx;
    __asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0u));
    return eax;
}

static inline void wrpkru(uint32_t v)
{
    __asm__ volatile(".byte 0x0f, 0x01, 0xef" ::"a"(v), "c"(0u), "d"(0u) : "memory");
}

#endif /* KERNEL_CPU_H */
