/*
 * The final GDT: 64-bit kernel code and data segments and a TSS.
 *
 * Long mode ignores most segment fields, but two things need real
 * descriptors: a loaded task register (VMX refuses VM entry with host TR
 * selector 0, SDM Vol. 3C 26.2.3 "Checks on Host Segment and
 * Descriptor-Table Registers"), and the interrupt stack table in the TSS,
 * which gives the double-fault, NMI and machine-check handlers a known-good
 * stack (SDM Vol. 3A 6.14.5 "Interrupt Stack Table").
 */
#include "kernel.h"

/* 64-bit TSS (SDM Vol. 3A 7.7 "Task Management in 64-bit Mode", Figure 7-11). */
struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3]; /* stacks for privilege changes: unused, everything runs in ring 0 */
    uint64_t reserved1;
    uint64_t ist[7]; /* IST1..IST7 */
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base; /* >= limit: no I/O permission bitmap */
} __attribute__((packed));

_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

static struct tss64 tss;
static uint8_t ist1_stack[8192] __attribute__((aligned(16)));

/* null, code 0x08, data 0x10, TSS 0x18 (a 16-byte descriptor: two slots). */
static uint64_t gdt[5];

void gdt_init(void)
{
    /* Code: P, DPL 0, execute/read, L=1 (64-bit). Data: P, DPL 0, read/write. */
    gdt[1] = 0x00af9a000000ffffull;
    gdt[2] = 0x00cf92000000ffffull;

    tss.ist[0] = (uint64_t)(ist1_stack + sizeof(ist1_stack));
    tss.iomap_base = sizeof(tss);

    /* TSS descriptor (SDM Vol. 3A 7.2.3 "TSS Descriptor in 64-bit mode"):
     * limit, base 31:0, type 9 (available 64-bit TSS), P; base 63:32 next. */
    uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
    gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[4] = base >> 32;

    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr = {sizeof(gdt) - 1, (uint64_t)gdt};

    /* Load the GDT, reload CS with a far return and the data segments, then TR. */
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movl %2, %%eax\n\t"
                     "movl %%eax, %%ds\n\t"
                     "movl %%eax, %%es\n\t"
                     "movl %%eax, %%ss\n\t"
                     "movl %%eax, %%fs\n\t"
                     "movl %%eax, %%gs\n\t"
                     "ltr %w3"
                     :
                     : "m"(gdtr), "i"(KERNEL_CS), "i"(KERNEL_DS), "r"((uint16_t)KERNEL_TSS)
                     : "rax", "memory");
}
