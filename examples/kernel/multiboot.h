/*
 * The parts of the Multiboot v1 boot information the kernel reads
 * (Multiboot Specification 0.6.96, section 3.3 "Boot information format").
 * All addresses are physical; with the identity map they are also pointers.
 */
#ifndef KERNEL_MULTIBOOT_H
#define KERNEL_MULTIBOOT_H

#include <stdint.h>

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u /* in EAX at entry */

#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_INFO_MODS    (1u << 3)
#define MULTIBOOT_INFO_MMAP    (1u << 6)

#define MULTIBOOT_MEMORY_AVAILABLE 1u

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;   /* flags bit 0 */
    uint32_t boot_device;            /* flags bit 1 */
    uint32_t cmdline;                /* flags bit 2: NUL-terminated string */
    uint32_t mods_count, mods_addr;  /* flags bit 3: array of multiboot_module */
    uint32_t syms[4];                /* flags bits 4/5 */
    uint32_t mmap_length, mmap_addr; /* flags bit 6: multiboot_mmap_entry list */
};

struct multiboot_module {
    uint32_t mod_start, mod_end; /* [start, end) */
    uint32_t string;
    uint32_t reserved;
};

/* Entries are variable-sized: the next one starts at &size + 4 + size. */
struct multiboot_mmap_entry {
    uint32_t size;
    uint64_t addr;
    uint64_t len;
    uint32_t type;
} __attribute__((packed));

#endif /* KERNEL_MULTIBOOT_H */
