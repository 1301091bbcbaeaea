/*
 * kmain: bring up the kernel, then run the test cases selected on the
 * command line ("cases=...", see kcase.c) and exit the emulator.
 */
#include "cpu.h"
#include "kernel.h"
#include "multiboot.h"

/* Selection used when the command line has none (CMake: HV_KERNEL_DEFAULT_CASES). */
#ifndef KERNEL_DEFAULT_CASES
#define KERNEL_DEFAULT_CASES NULL /* every case not marked KCASE_EXPLICIT */
#endif

void kmain(uint32_t magic, uint32_t mbi_phys); /* called from boot.S */

void kmain(uint32_t magic, uint32_t mbi_phys)
{
    const struct multiboot_info *mbi = (const void *)(uintptr_t)mbi_phys;

    serial_init();
    kprintf("libhv example kernel\n");
    gdt_init();
    idt_init();
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
        kpanic("not started by a multiboot loader (magic 0x%x)", magic);
    bootinfo_init(mbi);
    pmm_init(mbi);
    pic_init();
    timer_init();
    kprintf("cmdline: %s\n", boot_cmdline());
    kprintf("memory: %zu KiB free, TSC %llu kHz\n", pmm_pages_total() * (PAGE_SIZE / 1024),
            (unsigned long long)(tsc_hz() / 1000));
    for (size_t i = 0; i < boot_module_count(); i++)
        kprintf("module %zu: 0x%llx-0x%llx %s\n", i, (unsigned long long)boot_module(i)->start,
                (unsigned long long)boot_module(i)->end, boot_module(i)->name);

    static char selection[512]; /* as long as the command line can be (bootinfo.c) */
    kcase_run(boot_arg("cases", selection, sizeof(selection)) ? selection : KERNEL_DEFAULT_CASES);
}

void kernel_exit(bool success)
{
    serial_flush(); /* an emulator exits at once: let the last line out first */
    /* QEMU, -device isa-debug-exit,iobase=0xf4: exit status (value << 1) | 1. */
    outb(0xf4, success ? 0 : 1);
    /* Bochs: the string "Shutdown" on port 0x8900 ends the simulation. */
    for (const char *s = "Shutdown"; *s; s++)
        outb(0x8900, (uint8_t)*s);
    for (;;)
        __asm__ volatile("cli; hlt");
}
