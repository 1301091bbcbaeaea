/*
 * The IDT: vectors 0..31 are exceptions, 32..47 the 8259 IRQs (pic.c).
 *
 * An exception in this kernel is a bug in it, in libhv or in a test case,
 * so the handler does not try to recover: it reports vector, error code,
 * RIP and CR2 as the FAIL reason of the running case and ends the run
 * (kpanic), which is more useful than the triple fault and reset that an
 * unhandled exception would cause.
 */
#include "cpu.h"
#include "kernel.h"

#define IDT_VECTORS 48

/* What isr.S leaves on the stack, lowest address first. */
struct isr_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* 64-bit interrupt gate (SDM Vol. 3A 6.14.1 "64-Bit Mode IDT", Figure 6-8). */
struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;  /* bits 2:0: IST index, 0 = stay on the current stack */
    uint8_t type; /* P | DPL 0 | type 0xe (interrupt gate: IF cleared on entry) */
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
};

_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gates are 16 bytes");

extern const uint64_t isr_stubs[IDT_VECTORS]; /* isr.S */

static struct idt_gate idt[IDT_VECTORS];
static irq_handler_fn irq_handlers[16];

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "?22", "?23", "?24", "?25", "?26", "?27", "#HV", "#VC", "#SX", "?31",
};

void idt_init(void)
{
    for (unsigned v = 0; v < IDT_VECTORS; v++) {
        uint64_t addr = isr_stubs[v];
        idt[v].offset_lo = addr & 0xffff;
        idt[v].selector = KERNEL_CS;
        /* NMI, #DF and #MC can arrive on a broken stack: use IST1 (gdt.c). */
        idt[v].ist = (v == 2 || v == 8 || v == 18) ? 1 : 0;
        idt[v].type = 0x8e;
        idt[v].offset_mid = (addr >> 16) & 0xffff;
        idt[v].offset_hi = addr >> 32;
    }
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

void irq_set_handler(unsigned irq, irq_handler_fn fn)
{
    if (irq < 16)
        irq_handlers[irq] = fn;
}

static void handle_irq(unsigned irq)
{
    if (pic_is_spurious(irq))
        return;
    if (irq_handlers[irq])
        irq_handlers[irq]();
    pic_eoi(irq);
}

void isr_dispatch(struct isr_frame *f); /* called from isr.S only */

void isr_dispatch(struct isr_frame *f)
{
    if (f->vector >= PIC_VECTOR_BASE) {
        handle_irq((unsigned)f->vector - PIC_VECTOR_BASE);
        return;
    }
    kpanic("exception %s (vector %u) err=0x%llx rip=0x%llx cr2=0x%llx rsp=0x%llx",
           exception_names[f->vector], (unsigned)f->vector, (unsigned long long)f->error,
           (unsigned long long)f->rip, (unsigned long long)read_cr2(), (unsigned long long)f->rsp);
}
