/*
 * The legacy 8259A interrupt controller pair. The BIOS leaves it mapped on
 * vectors 8..15, which collide with CPU exceptions, so pic_init() moves
 * IRQs 0..15 to vectors 32..47 and masks them all; drivers unmask what they
 * use. (Intel 8259A datasheet: ICW1..ICW4, OCW2 for EOI, OCW3 to read ISR.)
 */
#include "cpu.h"
#include "kernel.h"

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1
#define PIC_EOI   0x20
#define ICW1_INIT 0x11 /* edge triggered, cascade, ICW4 follows */
#define ICW4_8086 0x01
#define OCW3_ISR  0x0b /* next read of the command port returns ISR */

void pic_init(void)
{
    outb(PIC1_CMD, ICW1_INIT);
    outb(PIC2_CMD, ICW1_INIT);
    outb(PIC1_DATA, PIC_VECTOR_BASE);     /* ICW2: master vector base */
    outb(PIC2_DATA, PIC_VECTOR_BASE + 8); /* ICW2: slave vector base */
    outb(PIC1_DATA, 1 << 2);              /* ICW3: slave on IRQ 2 */
    outb(PIC2_DATA, 2);                   /* ICW3: slave's cascade identity */
    outb(PIC1_DATA, ICW4_8086);
    outb(PIC2_DATA, ICW4_8086);
    outb(PIC1_DATA, 0xff & ~(1 << 2)); /* all masked but the cascade */
    outb(PIC2_DATA, 0xff);
}

void pic_unmask(unsigned irq)
{
    uint16_t port = irq < 8 ? PIC1_DATA : PIC2_DATA;
    outb(port, inb(port) & ~(1 << (irq & 7)));
}

/* IRQ 7 or 15 with its in-service bit clear was a glitch: it must not be EOI'd
 * (but a spurious IRQ 15 still took the master's cascade line). */
bool pic_is_spurious(unsigned irq)
{
    if (irq != 7 && irq != 15)
        return false;
    uint16_t cmd = irq == 7 ? PIC1_CMD : PIC2_CMD;
    outb(cmd, OCW3_ISR);
    if (inb(cmd) & 0x80)
        return false;
    if (irq == 15)
        outb(PIC1_CMD, PIC_EOI);
    return true;
}

void pic_eoi(unsigned irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}
