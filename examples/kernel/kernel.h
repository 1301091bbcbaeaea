/*
 * The example kernel's internal API, one block per source file. Everything
 * runs on one CPU; physical addresses below 4 GiB are identity-mapped, so a
 * physical address is also a pointer (hpa == hva).
 */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct multiboot_info;
struct hv_host_ops;

#define PAGE_SIZE 4096u

/* string.c: what the compiler may call on its own (also used by libhv). */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* serial.c: COM1 console, 115200 8N1, polled. */
void serial_init(void);
void serial_write(const char *s, size_t len); /* "\n" becomes "\r\n" */
void serial_flush(void);                      /* wait until every byte has left the UART */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* gdt.c: final GDT (code 0x08, data 0x10) with a 64-bit TSS (0x18). */
#define KERNEL_CS  0x08
#define KERNEL_DS  0x10
#define KERNEL_TSS 0x18
void gdt_init(void);

/* idt.c: exception handlers (report and stop the run) and IRQ dispatch. */
typedef void (*irq_handler_fn)(void);
void idt_init(void);
void irq_set_handler(unsigned irq, irq_handler_fn fn); /* irq 0..15 */

/* pic.c: the legacy 8259 pair, remapped to vectors 32..47. */
#define PIC_VECTOR_BASE 32
void pic_init(void); /* all lines masked */
void pic_unmask(unsigned irq);
bool pic_is_spurious(unsigned irq); /* IRQ 7/15 raised without a request */
void pic_eoi(unsigned irq);

/* timer.c: PIT channel 0 at TIMER_HZ on IRQ 0, TSC-based clock. */
#define TIMER_HZ 100
typedef void (*tick_fn)(void *arg, uint64_t ticks);
void timer_init(void);                         /* enables interrupts */
uint64_t timer_ticks(void);                    /* ticks since timer_init */
uint64_t ktime_ns(void);                       /* monotonic ns since timer_init */
uint64_t tsc_hz(void);                         /* calibrated TSC frequency */
bool timer_add_tick_fn(tick_fn fn, void *arg); /* runs in IRQ context; false if full */
void timer_remove_tick_fn(tick_fn fn, void *arg);

/* bootinfo.c: the multiboot command line and modules. */
struct boot_module {
    uint64_t start, end; /* physical [start, end), reserved for good */
    char name[256];      /* the module's command line (a path and a name: room for both) */
};
void bootinfo_init(const struct multiboot_info *mbi);
size_t boot_module_count(void);
const struct boot_module *boot_module(size_t i); /* NULL if i is out of range */
const char *boot_cmdline(void);
/* Copies the value of "key=value" from the command line; false if absent. */
bool boot_arg(const char *key, char *out, size_t outlen);

/* pmm.c: physical pages from the multiboot memory map. */
void pmm_init(const struct multiboot_info *mbi);
void *pmm_alloc(size_t count);                             /* contiguous, zeroed, NULL if none */
void *pmm_alloc_aligned(size_t count, size_t align_pages); /* align_pages: power of 2 */
void pmm_free(void *p, size_t count);
size_t pmm_pages_total(void);
size_t pmm_pages_used(void);

/* heap.c: zeroed, 16-byte aligned objects; free takes the allocation size. */
void *heap_alloc(size_t size);
void heap_free(void *p, size_t size);
size_t heap_objects(void);     /* allocated and not yet freed */
size_t heap_cache_pages(void); /* pages the heap keeps for small objects */

/* host_ops.c: libhv's host services for this kernel. */
void kernel_host_ops(struct hv_host_ops *ops);

/* kcase.c: test runner; kpanic() reports a FAIL line and ends the run. */
void kcase_run(const char *selection);
__attribute__((noreturn, format(printf, 1, 2))) void kpanic(const char *fmt, ...);
__attribute__((noreturn)) void kernel_exit(bool success);

#endif /* KERNEL_KERNEL_H */
